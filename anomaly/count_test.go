package anomaly_test

import (
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func countRule(t *testing.T, lc anomaly.Lifecycle) anomaly.Rule {
	t.Helper()
	det, err := anomaly.NewCount(anomaly.CountConfig{Window: time.Minute, Threshold: 5})
	require.NoError(t, err)
	r := rule("burst", det, nil)
	r.Filter = anomaly.Filter{Types: []string{"login_failed"}}
	if lc != (anomaly.Lifecycle{}) {
		r.Lifecycle = lc
	}
	return r
}

func TestCountBoundaries(t *testing.T) {
	failed := at(0, "login_failed", "alice")
	tests := []struct {
		name string
		n    int
		want []brief
	}{
		{"N-1 events raise nothing", 4, []brief{}},
		{"N events fire one alert", 5, []brief{
			{Rule: "burst", Key: "alice", Status: firing, Count: 1, Value: 5, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 4 * time.Second},
			// All five sit in the first 5s slot, which leaves the window at
			// 1m; resolve 1m after that.
			{Rule: "burst", Key: "alice", Status: resolved, Count: 1, Value: 5, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 4 * time.Second, ResolvedAt: 2 * time.Minute},
		}},
		{"N+10 events still one alert, count updated", 15, []brief{
			{Rule: "burst", Key: "alice", Status: firing, Count: 1, Value: 5, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 4 * time.Second},
			// The newest five (10s–14s) keep the count at 5 until 1m10s.
			{Rule: "burst", Key: "alice", Status: resolved, Count: 11, Value: 15, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 14 * time.Second, ResolvedAt: 2*time.Minute + 10*time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, eng := run(t, []anomaly.Rule{countRule(t, anomaly.Lifecycle{})}, repeat(failed, tt.n, time.Second), 10*time.Minute)
			assert.Equal(t, tt.want, briefs(got))
			st := eng.Stats()
			assert.Equal(t, uint64(tt.n), st.Rules[0].Matched)
			assert.Equal(t, uint64(max(tt.n-4, 0)), st.Rules[0].Detections)
			assert.Zero(t, st.Firing)
			if len(got) == 2 {
				assert.Equal(t, got[0].ID, got[1].ID, "firing and resolved share the ID")
			}
		})
	}
}

func TestCountQuietPeriodResolvesThenFiresAnew(t *testing.T) {
	evs := concat(
		repeat(at(0, "login_failed", "alice"), 5, time.Second),
		repeat(at(10*time.Minute, "login_failed", "alice"), 5, time.Second))
	got, _ := run(t, []anomaly.Rule{countRule(t, anomaly.Lifecycle{})}, evs, 10*time.Minute)
	want := []brief{
		{Rule: "burst", Key: "alice", Status: firing, Count: 1, Value: 5, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 4 * time.Second},
		{Rule: "burst", Key: "alice", Status: resolved, Count: 1, Value: 5, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 4 * time.Second, ResolvedAt: 2 * time.Minute},
		{Rule: "burst", Key: "alice", Status: firing, Count: 1, Value: 5, Threshold: 5, FirstSeen: 10*time.Minute + 4*time.Second, LastSeen: 10*time.Minute + 4*time.Second},
		{Rule: "burst", Key: "alice", Status: resolved, Count: 1, Value: 5, Threshold: 5, FirstSeen: 10*time.Minute + 4*time.Second, LastSeen: 10*time.Minute + 4*time.Second, ResolvedAt: 12 * time.Minute},
	}
	assert.Equal(t, want, briefs(got))
	assert.NotEqual(t, got[0].ID, got[2].ID, "a new incident gets a new ID")
}

func TestCountWindowSlidesInTwelfths(t *testing.T) {
	// The window moves in 5s steps: events 56s apart are in one window,
	// 60s apart are not.
	for _, tt := range []struct {
		every time.Duration
		want  int
	}{{14 * time.Second, 2}, {15 * time.Second, 0}} {
		got, _ := run(t, []anomaly.Rule{countRule(t, anomaly.Lifecycle{})}, repeat(at(0, "login_failed", "alice"), 5, tt.every), 10*time.Minute)
		assert.Len(t, got, tt.want, "5 events %v apart", tt.every)
	}
}

func TestCountLateEvents(t *testing.T) {
	// Four events at 1m40s–1m43s; then one from 0s, 103s late (its slot has
	// left the window): ignored; then one from 1m20s, 23s late: counted, and
	// it is the fifth.
	var in []rdr.Event
	for _, d := range []time.Duration{100, 101, 102, 103, 0, 80} {
		in = append(in, at(d*time.Second, "login_failed", "alice"))
	}
	got, eng := run(t, []anomaly.Rule{countRule(t, anomaly.Lifecycle{})}, in, 0)
	assert.Equal(t, []brief{{Rule: "burst", Key: "alice", Status: firing, Count: 1, Value: 5, Threshold: 5, FirstSeen: 80 * time.Second, LastSeen: 80 * time.Second}}, briefs(got))
	assert.Equal(t, uint64(6), eng.Stats().Rules[0].Matched)
}

func TestCountUpdateEvery(t *testing.T) {
	got, eng := run(t, []anomaly.Rule{countRule(t, anomaly.Lifecycle{ResolveAfter: time.Minute, UpdateEvery: 5 * time.Second})},
		repeat(at(0, "login_failed", "alice"), 15, time.Second), 10*time.Minute)
	want := []brief{
		{Rule: "burst", Key: "alice", Status: firing, Count: 1, Value: 5, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 4 * time.Second},
		{Rule: "burst", Key: "alice", Status: firing, Count: 6, Value: 10, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 9 * time.Second},
		{Rule: "burst", Key: "alice", Status: firing, Count: 11, Value: 15, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 14 * time.Second},
		{Rule: "burst", Key: "alice", Status: resolved, Count: 11, Value: 15, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 14 * time.Second, ResolvedAt: 2*time.Minute + 10*time.Second},
	}
	assert.Equal(t, want, briefs(got))
	st := eng.Stats()
	assert.Equal(t, uint64(1), st.Fired)
	assert.Equal(t, uint64(2), st.Updated)
	assert.Equal(t, uint64(1), st.Resolved)
	for _, a := range got[1:] {
		assert.Equal(t, got[0].ID, a.ID)
	}
}

func TestCountCooldownSuppresses(t *testing.T) {
	r := countRule(t, anomaly.Lifecycle{ResolveAfter: time.Minute, Cooldown: 10 * time.Minute})
	evs := concat(
		repeat(at(0, "login_failed", "alice"), 5, time.Second),              // fires; resolves at 2m
		repeat(at(5*time.Minute, "login_failed", "alice"), 5, time.Second),  // in the cooldown (until 12m)
		repeat(at(13*time.Minute, "login_failed", "alice"), 5, time.Second)) // after it: fires anew
	got, eng := run(t, []anomaly.Rule{r}, evs, 10*time.Minute)
	want := []brief{
		{Rule: "burst", Key: "alice", Status: firing, Count: 1, Value: 5, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 4 * time.Second},
		{Rule: "burst", Key: "alice", Status: resolved, Count: 1, Value: 5, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 4 * time.Second, ResolvedAt: 2 * time.Minute},
		{Rule: "burst", Key: "alice", Status: firing, Count: 1, Value: 5, Threshold: 5, FirstSeen: 13*time.Minute + 4*time.Second, LastSeen: 13*time.Minute + 4*time.Second},
		{Rule: "burst", Key: "alice", Status: resolved, Count: 1, Value: 5, Threshold: 5, FirstSeen: 13*time.Minute + 4*time.Second, LastSeen: 13*time.Minute + 4*time.Second, ResolvedAt: 15 * time.Minute},
	}
	assert.Equal(t, want, briefs(got))
	assert.Equal(t, uint64(1), eng.Stats().Suppressed)
}

func TestNewCountErrors(t *testing.T) {
	_, err := anomaly.NewCount(anomaly.CountConfig{Window: time.Minute})
	assert.EqualError(t, err, "invalid config: Threshold must be at least 1, got 0")
	_, err = anomaly.NewCount(anomaly.CountConfig{Threshold: 3})
	assert.EqualError(t, err, "invalid config: Window must be at least 12ns, got 0s")
}

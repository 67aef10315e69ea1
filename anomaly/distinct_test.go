package anomaly_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func distinctRule(t *testing.T, cfg anomaly.DistinctConfig) anomaly.Rule {
	t.Helper()
	det, err := anomaly.NewDistinct(cfg)
	require.NoError(t, err)
	r := rule("spray", det, nil)
	r.GroupBy = anomaly.FieldIP
	return r
}

// sprayed returns one login_failed per user u1…un from one IP, 1s apart.
func sprayed(n int, start time.Duration) []rdr.Event {
	var evs []rdr.Event
	for i := range n {
		evs = append(evs, withIP(at(start+time.Duration(i)*time.Second, "login_failed", fmt.Sprintf("u%d", i+1)), "198.51.100.7"))
	}
	return evs
}

func TestDistinctBoundaries(t *testing.T) {
	cfg := anomaly.DistinctConfig{Field: anomaly.FieldUserID, Window: 5 * time.Minute, Threshold: 5}
	tests := []struct {
		name string
		n    int
		want []brief
	}{
		{"N-1 users raise nothing", 4, []brief{}},
		{"N users fire one alert", 5, []brief{
			{Rule: "spray", Key: "198.51.100.7", Status: firing, Count: 1, Value: 5, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 4 * time.Second},
			// The first user (at 0s) leaves the window at 5m: resolve 1m later.
			{Rule: "spray", Key: "198.51.100.7", Status: resolved, Count: 1, Value: 5, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 4 * time.Second, ResolvedAt: 6 * time.Minute},
		}},
		{"N+10 users still one alert, count updated", 15, []brief{
			{Rule: "spray", Key: "198.51.100.7", Status: firing, Count: 1, Value: 5, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 4 * time.Second},
			// Five distinct users remain until the one seen at 10s leaves.
			{Rule: "spray", Key: "198.51.100.7", Status: resolved, Count: 11, Value: 15, Threshold: 5, FirstSeen: 4 * time.Second, LastSeen: 14 * time.Second, ResolvedAt: 6*time.Minute + 10*time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := run(t, []anomaly.Rule{distinctRule(t, cfg)}, sprayed(tt.n, 0), 10*time.Minute)
			assert.Equal(t, tt.want, briefs(got))
		})
	}
}

func TestDistinctCountsValuesNotEvents(t *testing.T) {
	cfg := anomaly.DistinctConfig{Field: anomaly.FieldUserID, Window: 5 * time.Minute, Threshold: 5}
	// Four users, each 10 times: four distinct values.
	var evs []rdr.Event
	for range 10 {
		evs = append(evs, sprayed(4, 0)...)
	}
	got, _ := run(t, []anomaly.Rule{distinctRule(t, cfg)}, evs, 10*time.Minute)
	assert.Empty(t, got)
}

func TestDistinctWindowIsExact(t *testing.T) {
	cfg := anomaly.DistinctConfig{Field: anomaly.FieldUserID, Window: 5 * time.Minute, Threshold: 5}
	// u1 at 0s, u2–u4 at 1s–3s, u5 at T: u1 counts while T < 5m.
	for _, tt := range []struct {
		t    time.Duration
		want int
	}{{5*time.Minute - time.Nanosecond, 2}, {5 * time.Minute, 0}} {
		evs := append(sprayed(4, 0), withIP(at(tt.t, "login_failed", "u5"), "198.51.100.7"))
		got, _ := run(t, []anomaly.Rule{distinctRule(t, cfg)}, evs, 10*time.Minute)
		assert.Len(t, got, tt.want, "fifth user at %v", tt.t)
	}
}

func TestDistinctMaxValuesCapsValue(t *testing.T) {
	cfg := anomaly.DistinctConfig{Field: anomaly.FieldUserID, Window: 5 * time.Minute, Threshold: 5, MaxValues: 8}
	got, _ := run(t, []anomaly.Rule{distinctRule(t, cfg)}, sprayed(30, 0), 10*time.Minute)
	require.Len(t, got, 2)
	assert.Equal(t, float64(8), got[1].Value)
	assert.Equal(t, int64(26), got[1].Count)
}

func TestDistinctSkipsEventsWithoutTheFields(t *testing.T) {
	cfg := anomaly.DistinctConfig{Field: anomaly.MetadataField("account"), Window: 5 * time.Minute, Threshold: 2}
	evs := []rdr.Event{
		at(0, "login_failed", "u1"),                                   // no IP: the group-by field is missing
		withIP(at(time.Second, "login_failed", "u1"), "198.51.100.7"), // no metadata.account
	}
	ev := withIP(at(2*time.Second, "login_failed", "u1"), "198.51.100.7")
	ev.Metadata = rdr.MakeMetadata("account", "a1")
	evs = append(evs, ev)
	ev.Metadata = rdr.MakeMetadata("account", "a2")
	evs = append(evs, ev)
	got, eng := run(t, []anomaly.Rule{distinctRule(t, cfg)}, evs, 0)
	assert.Equal(t, []brief{{Rule: "spray", Key: "198.51.100.7", Status: firing, Count: 1, Value: 2, Threshold: 2, FirstSeen: 2 * time.Second, LastSeen: 2 * time.Second}}, briefs(got))
	st := eng.Stats().Rules[0]
	assert.Equal(t, uint64(2), st.Skipped)
	assert.Equal(t, uint64(2), st.Matched)
}

func TestNewDistinctErrors(t *testing.T) {
	_, err := anomaly.NewDistinct(anomaly.DistinctConfig{Window: time.Minute, Threshold: 10, MaxValues: 5})
	assert.EqualError(t, err, "invalid config: MaxValues (5) must be at least Threshold (10)")
	_, err = anomaly.NewDistinct(anomaly.DistinctConfig{Threshold: 10})
	assert.EqualError(t, err, "invalid config: Window must be positive, got 0s")
}

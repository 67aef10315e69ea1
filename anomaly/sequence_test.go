package anomaly_test

import (
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	failedF  = anomaly.Filter{Types: []string{"login_failed"}}
	successF = anomaly.Filter{Types: []string{"login_success"}}
)

func sequenceRule(t *testing.T) anomaly.Rule {
	t.Helper()
	det, err := anomaly.NewSequence(anomaly.SequenceConfig{First: failedF, Count: 5, Then: successF, Window: 5 * time.Minute})
	require.NoError(t, err)
	return rule("bf-success", det, nil)
}

func TestSequenceBoundaries(t *testing.T) {
	success := func(d time.Duration) rdr.Event { return at(d, "login_success", "bob") }
	tests := []struct {
		name string
		in   []rdr.Event
		want []brief
	}{
		{"N-1 failures then a success raise nothing",
			append(repeat(at(0, "login_failed", "bob"), 4, time.Second), success(10*time.Second)), []brief{}},
		{"N failures then a success fire",
			append(repeat(at(0, "login_failed", "bob"), 5, time.Second), success(10*time.Second)), []brief{
				{Rule: "bf-success", Key: "bob", Status: firing, Count: 1, Value: 5, Threshold: 5, FirstSeen: 10 * time.Second, LastSeen: 10 * time.Second},
				{Rule: "bf-success", Key: "bob", Status: resolved, Count: 1, Value: 5, Threshold: 5, FirstSeen: 10 * time.Second, LastSeen: 10 * time.Second, ResolvedAt: 70 * time.Second},
			}},
		{"N+10 failures then a success: one detection, value capped at N",
			append(repeat(at(0, "login_failed", "bob"), 15, time.Second), success(20*time.Second)), []brief{
				{Rule: "bf-success", Key: "bob", Status: firing, Count: 1, Value: 5, Threshold: 5, FirstSeen: 20 * time.Second, LastSeen: 20 * time.Second},
				{Rule: "bf-success", Key: "bob", Status: resolved, Count: 1, Value: 5, Threshold: 5, FirstSeen: 20 * time.Second, LastSeen: 20 * time.Second, ResolvedAt: 80 * time.Second},
			}},
		{"a completed sequence is consumed: a second success needs new failures",
			concat(repeat(at(0, "login_failed", "bob"), 5, time.Second), []rdr.Event{success(10 * time.Second), success(11 * time.Second)},
				repeat(at(12*time.Second, "login_failed", "bob"), 5, time.Second), []rdr.Event{success(20 * time.Second)}), []brief{
				{Rule: "bf-success", Key: "bob", Status: firing, Count: 1, Value: 5, Threshold: 5, FirstSeen: 10 * time.Second, LastSeen: 10 * time.Second},
				{Rule: "bf-success", Key: "bob", Status: resolved, Count: 2, Value: 5, Threshold: 5, FirstSeen: 10 * time.Second, LastSeen: 20 * time.Second, ResolvedAt: 80 * time.Second},
			}},
		{"failures older than the window do not count",
			// Failures at 0s, 1m, 2m, 3m, 4m; the success at 5m sees 1m–4m.
			append(repeat(at(0, "login_failed", "bob"), 5, time.Minute), success(5*time.Minute)), []brief{}},
		{"a success before the failures does not complete them",
			append([]rdr.Event{success(0)}, repeat(at(time.Second, "login_failed", "bob"), 5, time.Second)...), []brief{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := run(t, []anomaly.Rule{sequenceRule(t)}, tt.in, 10*time.Minute)
			assert.Equal(t, tt.want, briefs(got))
		})
	}
}

func absenceRule(t *testing.T) anomaly.Rule {
	t.Helper()
	det, err := anomaly.NewAbsence(anomaly.AbsenceConfig{
		First: anomaly.Filter{Types: []string{"mfa_challenge"}}, Then: anomaly.Filter{Types: []string{"mfa_success"}}, Window: 2 * time.Minute})
	require.NoError(t, err)
	return rule("mfa", det, nil)
}

func TestAbsence(t *testing.T) {
	challenge := func(d time.Duration, u string) rdr.Event { return at(d, "mfa_challenge", u) }
	success := func(d time.Duration, u string) rdr.Event { return at(d, "mfa_success", u) }
	tests := []struct {
		name  string
		in    []rdr.Event
		after time.Duration
		want  []brief
	}{
		{"answered in time: nothing", []rdr.Event{challenge(0, "carol"), success(time.Minute, "carol")}, 10 * time.Minute, []brief{}},
		{"answered at the deadline: still in time", []rdr.Event{challenge(0, "carol"), success(2*time.Minute, "carol")}, 10 * time.Minute, []brief{}},
		{"unanswered: fires at the deadline when Advance passes it",
			[]rdr.Event{challenge(0, "carol")}, 10 * time.Minute, []brief{
				{Rule: "mfa", Key: "carol", Status: firing, Count: 1, Value: 0, Threshold: 1, FirstSeen: 2 * time.Minute, LastSeen: 2 * time.Minute},
				{Rule: "mfa", Key: "carol", Status: resolved, Count: 1, Value: 0, Threshold: 1, FirstSeen: 2 * time.Minute, LastSeen: 2 * time.Minute, ResolvedAt: 3 * time.Minute},
			}},
		{"not yet due: nothing", []rdr.Event{challenge(0, "carol")}, 2 * time.Minute, []brief{}},
		{"answered too late: fires first, the late answer changes nothing",
			[]rdr.Event{challenge(0, "carol"), success(2*time.Minute+time.Second, "carol")}, 0, []brief{
				{Rule: "mfa", Key: "carol", Status: firing, Count: 1, Value: 0, Threshold: 1, FirstSeen: 2 * time.Minute, LastSeen: 2 * time.Minute},
			}},
		{"a second challenge while waiting does not move the deadline",
			[]rdr.Event{challenge(0, "carol"), challenge(90*time.Second, "carol")}, 10 * time.Minute, []brief{
				{Rule: "mfa", Key: "carol", Status: firing, Count: 1, Value: 0, Threshold: 1, FirstSeen: 2 * time.Minute, LastSeen: 2 * time.Minute},
				{Rule: "mfa", Key: "carol", Status: resolved, Count: 1, Value: 0, Threshold: 1, FirstSeen: 2 * time.Minute, LastSeen: 2 * time.Minute, ResolvedAt: 3 * time.Minute},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, eng := run(t, []anomaly.Rule{absenceRule(t)}, tt.in, tt.after)
			assert.Equal(t, tt.want, briefs(got))
			if tt.after >= 10*time.Minute {
				assert.Zero(t, eng.Stats().Rules[0].Keys, "no waits left")
			}
		})
	}
	t.Run("deadline order", func(t *testing.T) {
		in := []rdr.Event{challenge(time.Second, "dave"), challenge(0, "carol"), challenge(2*time.Second, "erin"), success(3*time.Second, "erin")}
		got, _ := run(t, []anomaly.Rule{absenceRule(t)}, in, 10*time.Minute)
		var keys []string
		for _, a := range got {
			if a.Status == firing {
				keys = append(keys, a.Key)
			}
		}
		assert.Equal(t, []string{"carol", "dave"}, keys)
		require.Len(t, got, 4)
		assert.Equal(t, "mfa_challenge", got[0].Events[0].Type, "the evidence is the unanswered challenge")
		assert.Equal(t, "mfa: no mfa_success within 2m of mfa_challenge for userId carol", got[0].Message)
	})
}

func TestNewSequenceErrors(t *testing.T) {
	_, err := anomaly.NewSequence(anomaly.SequenceConfig{Count: 20000, Window: time.Minute})
	assert.EqualError(t, err, "invalid config: Count must be between 1 and 10000, got 20000")
	_, err = anomaly.NewAbsence(anomaly.AbsenceConfig{})
	assert.EqualError(t, err, "invalid config: Window must be positive, got 0s")
}

package anomaly_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
)

var learnT0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func loginFrom(at time.Duration, user, ip string) rdr.Event {
	return rdr.Event{Time: learnT0.Add(at), Type: "login_success", UserID: user, IP: netip.MustParseAddr(ip), Severity: rdr.SeverityLow}
}

// A first-seen rule with a learning period reports a new value only for a
// key known for LearnFor and seen in LearnEvents events: a user's second
// usual address, seen in their first hour, is learned, not reported.
func TestFirstSeenLearningPeriod(t *testing.T) {
	fs, err := anomaly.NewFirstSeen(anomaly.FirstSeenConfig{Field: anomaly.FieldIP, LearnFor: time.Hour, LearnEvents: 3})
	require.NoError(t, err)
	eng, err := anomaly.NewEngine([]anomaly.Rule{{Name: "new-ip", Severity: rdr.SeverityLow, Detector: fs}}, anomaly.Config{MaxFuture: -1})
	require.NoError(t, err)
	var got []string
	emit := func(a anomaly.Alert) {
		if a.Status == anomaly.StatusFiring {
			got = append(got, a.Key+" "+a.FirstSeen.Sub(learnT0).String())
		}
	}
	for _, ev := range []rdr.Event{
		loginFrom(0, "alice", "10.0.0.1"),               // her first address: learned
		loginFrom(10*time.Minute, "alice", "10.0.0.2"),  // her second, in her first hour: learned
		loginFrom(20*time.Minute, "alice", "10.0.0.1"),  // known
		loginFrom(0, "bob", "10.0.1.1"),                 // bob's first
		loginFrom(70*time.Minute, "alice", "10.0.0.9"),  // new, known 70m and 3 events: reported
		loginFrom(130*time.Minute, "bob", "10.0.1.9"),   // known 130m but 1 event: learned
		loginFrom(131*time.Minute, "bob", "10.0.1.10"),  // 2 events
		loginFrom(132*time.Minute, "bob", "10.0.1.11"),  // 3 events before this one: reported
		loginFrom(133*time.Minute, "carol", "10.0.2.1"), // a new key: learned
	} {
		eng.Process(ev, emit)
	}
	assert.Equal(t, []string{"alice 1h10m0s", "bob 2h12m0s"}, got)

	// The learning state is saved and restored with the detector.
	state, err := eng.AppendState(nil)
	require.NoError(t, err)
	fs2, _ := anomaly.NewFirstSeen(anomaly.FirstSeenConfig{Field: anomaly.FieldIP, LearnFor: time.Hour, LearnEvents: 3})
	eng2, _ := anomaly.NewEngine([]anomaly.Rule{{Name: "new-ip", Severity: rdr.SeverityLow, Detector: fs2}}, anomaly.Config{MaxFuture: -1})
	require.NoError(t, eng2.RestoreState(state))
	got = nil
	eng2.Process(loginFrom(134*time.Minute, "carol", "10.0.2.2"), emit) // carol still learning
	eng2.Process(loginFrom(135*time.Minute, "alice", "10.0.0.10"), emit)
	assert.Equal(t, []string{"alice 2h15m0s"}, got)
}

// A risk-only rule raises no alert of its own: its detections add risk,
// and the risk rule alerts when it adds up.
func TestRiskOnlyRule(t *testing.T) {
	fs, err := anomaly.NewFirstSeen(anomaly.FirstSeenConfig{Field: anomaly.FieldIP})
	require.NoError(t, err)
	risk, err := anomaly.NewRisk(anomaly.RiskConfig{Threshold: 100, HalfLife: time.Hour})
	require.NoError(t, err)
	rules := []anomaly.Rule{
		{Name: "new-ip", Severity: rdr.SeverityLow, Detector: fs, Risk: 60, RiskOnly: true, Lifecycle: anomaly.Lifecycle{ResolveAfter: time.Nanosecond}},
		{Name: "user-risk", Severity: rdr.SeverityHigh, Detector: risk},
	}
	eng, err := anomaly.NewEngine(rules, anomaly.Config{MaxFuture: -1})
	require.NoError(t, err)
	var got []string
	emit := func(a anomaly.Alert) { got = append(got, a.Rule+" "+a.Key+" "+a.Status.String()) }
	for _, ev := range []rdr.Event{
		loginFrom(0, "alice", "10.0.0.1"),
		loginFrom(time.Minute, "alice", "10.0.0.2"),   // risk 60
		loginFrom(2*time.Minute, "alice", "10.0.0.3"), // risk about 118: the risk rule fires
		loginFrom(0, "bob", "10.0.1.1"),
		loginFrom(time.Minute, "bob", "10.0.1.2"), // risk 60: nothing
	} {
		eng.Process(ev, emit)
	}
	assert.Equal(t, []string{"user-risk alice firing"}, got)
	st := eng.Stats()
	assert.Equal(t, uint64(3), st.Rules[0].Fired, "the risk-only rule's detections are counted")
}

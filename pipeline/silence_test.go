package pipeline_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/pipeline"
)

// silenceRules are two rules whose alerts resolve as soon as their
// condition ends: "burst", three failed logins of a user within a minute
// (tagged attack.t1110), and "critical", any critical event.
func silenceRules() ([]anomaly.Rule, error) {
	count, err := anomaly.NewCount(anomaly.CountConfig{Window: time.Minute, Threshold: 3})
	if err != nil {
		return nil, err
	}
	floor, err := anomaly.NewSeverityFloor(anomaly.SeverityConfig{Min: rdr.SeverityCritical})
	if err != nil {
		return nil, err
	}
	now := anomaly.Lifecycle{ResolveAfter: time.Nanosecond}
	return []anomaly.Rule{
		{Name: "burst", Severity: rdr.SeverityHigh, Filter: anomaly.Filter{Types: []string{"login_failed"}}, Detector: count,
			Lifecycle: now, Tags: []string{"attack.credential-access", "attack.t1110"}},
		{Name: "critical", Severity: rdr.SeverityCritical, Detector: floor, Lifecycle: now},
	}, nil
}

// A silence of one rule marks that rule's alerts — every emission: firing
// and resolved — for the sinks and the alerts topic, keeps them from the
// hub, and counts them; the other rule's alerts are untouched, as is a
// pending silence's.
func TestProcessorSilencedAlertsAreStoredNotAnnounced(t *testing.T) {
	clock := rdr.NewFakeClock(t0.Add(5 * time.Minute))
	var silences anomaly.Silences
	burst, err := silences.Add(anomaly.Silence{
		Matchers: []anomaly.SilenceMatcher{{Name: "rule", Op: "=", Value: "burst"}, {Name: "tag", Op: "=~", Value: `attack\.t11.*`}},
		StartsAt: t0, EndsAt: t0.Add(time.Hour), CreatedBy: "alice", Comment: "pen test",
	}, clock.Now())
	require.NoError(t, err)
	_, err = silences.Add(anomaly.Silence{ // pending: starts when the test is over
		Matchers: []anomaly.SilenceMatcher{{Name: "rule", Op: "=", Value: "critical"}},
		StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(2 * time.Hour), CreatedBy: "alice", Comment: "later",
	}, clock.Now())
	require.NoError(t, err)

	hub := &hubRecorder{msgs: map[string][]any{}}
	reg := prometheus.NewRegistry()
	h := newHarness(t, pipeline.Config{Hub: hub, Clock: clock, Rules: silenceRules, Silences: &silences, Registerer: reg})
	var in []string
	for _, user := range []string{"mallory", "trudy"} {
		for i := range 3 {
			in = append(in, event(time.Duration(i+1)*time.Second, "login_failed", user))
		}
	}
	in = append(in, string(rdr.AppendJSON(nil, rdr.Event{Time: t0.Add(4 * time.Second), Type: "privilege_change", UserID: "carol", Severity: rdr.SeverityCritical})))
	in = append(in, event(10*time.Minute, "login", "dave")) // event time moves on: all three resolve
	h.send(in...)
	h.waitMessages(uint64(len(in)))
	waitStats(t, h.proc, func(s pipeline.Stats) bool { return s.AlertsResolved == 3 })
	h.close()

	type emission struct{ Rule, Key, Status, SilencedBy string }
	var stored []emission
	for _, a := range h.rec.alerts {
		stored = append(stored, emission{a.Rule, a.Key, a.Status.String(), a.SilencedBy})
	}
	assert.ElementsMatch(t, []emission{
		{"burst", "mallory", "firing", burst.ID}, {"burst", "trudy", "firing", burst.ID}, {"critical", "carol", "firing", ""},
		{"burst", "mallory", "resolved", burst.ID}, {"burst", "trudy", "resolved", burst.ID}, {"critical", "carol", "resolved", ""},
	}, stored, "every alert reaches the sink, the silenced ones marked")

	var published []emission
	for range 6 {
		var a anomaly.Alert
		require.NoError(t, json.Unmarshal(receive(t, h.alerts).Payload, &a))
		published = append(published, emission{a.Rule, a.Key, a.Status.String(), a.SilencedBy})
	}
	assert.ElementsMatch(t, stored, published, "and the alerts topic, marked")

	var live []emission
	for _, d := range hub.get(pipeline.TopicAlerts) {
		a := d.(anomaly.Alert)
		live = append(live, emission{a.Rule, a.Key, a.Status.String(), a.SilencedBy})
	}
	assert.Equal(t, []emission{{"critical", "carol", "firing", ""}, {"critical", "carol", "resolved", ""}}, live,
		"the hub gets only the alerts no silence matched")

	st := h.proc.Stats()
	assert.Equal(t, uint64(3), st.AlertsFired)
	assert.Equal(t, uint64(4), st.AlertsSilenced, "two alerts, fired and resolved")
	families, err := reg.Gather()
	require.NoError(t, err)
	var counted float64 = -1
	for _, f := range families {
		if f.GetName() == "rdr_alerts_silenced_total" {
			counted = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	assert.Equal(t, 4.0, counted, "rdr_alerts_silenced_total")
}

// Without Silences nothing is marked, and the counter stays 0.
func TestProcessorWithoutSilences(t *testing.T) {
	hub := &hubRecorder{msgs: map[string][]any{}}
	h := newHarness(t, pipeline.Config{Hub: hub, Rules: silenceRules})
	var in []string
	for i := range 3 {
		in = append(in, event(time.Duration(i+1)*time.Second, "login_failed", "mallory"))
	}
	h.send(in...)
	waitStats(t, h.proc, func(s pipeline.Stats) bool { return s.AlertsFired == 1 })
	h.close()
	require.Len(t, h.rec.alerts, 1)
	assert.Equal(t, "", h.rec.alerts[0].SilencedBy)
	assert.Equal(t, []string{"attack.credential-access", "attack.t1110"}, h.rec.alerts[0].Tags)
	assert.Len(t, hub.get(pipeline.TopicAlerts), 1)
	assert.Zero(t, h.proc.Stats().AlertsSilenced)
}

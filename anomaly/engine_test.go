package anomaly_test

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func countBy(t *testing.T, name string, by anomaly.Field, n int) anomaly.Rule {
	t.Helper()
	det, err := anomaly.NewCount(anomaly.CountConfig{Window: time.Minute, Threshold: n})
	require.NoError(t, err)
	r := rule(name, det, nil)
	r.GroupBy = by
	return r
}

func TestEngineSkipsRulesWhoseFieldIsMissing(t *testing.T) {
	rules := []anomaly.Rule{
		countBy(t, "by-ip", anomaly.FieldIP, 2),
		countBy(t, "by-user", anomaly.FieldUserID, 2),
		countBy(t, "by-app", anomaly.MetadataField("app"), 2),
	}
	noIP := at(0, "login_failed", "alice") // no IP, no metadata
	withApp := withIP(at(time.Second, "login_failed", "alice"), "203.0.113.7")
	withApp.Metadata = rdr.MakeMetadata("app", "vpn")
	got, eng := run(t, rules, []rdr.Event{noIP, withApp, noIP}, 0)
	// The user rule sees all three and fires at the second; the others see
	// only one event each.
	assert.Equal(t, []brief{{Rule: "by-user", Key: "alice", Status: firing, Count: 1, Value: 2, Threshold: 2, FirstSeen: time.Second, LastSeen: time.Second}}, briefs(got)[:1])
	st := eng.Stats()
	assert.Equal(t, uint64(3), st.Events)
	assert.Equal(t, []uint64{1, 3, 1}, []uint64{st.Rules[0].Matched, st.Rules[1].Matched, st.Rules[2].Matched})
	assert.Equal(t, []uint64{2, 0, 2}, []uint64{st.Rules[0].Skipped, st.Rules[1].Skipped, st.Rules[2].Skipped})
}

func TestEngineRejectsImpossibleTimes(t *testing.T) {
	clock := rdr.NewFakeClock(t0)
	eng, err := anomaly.NewEngine([]anomaly.Rule{countBy(t, "c", anomaly.FieldUserID, 1)}, anomaly.Config{Clock: clock, MaxFuture: time.Hour})
	require.NoError(t, err)
	var got []anomaly.Alert
	emit := func(a anomaly.Alert) { got = append(got, a) }
	for _, ev := range []rdr.Event{
		{Type: "x", UserID: "zero-time", Severity: rdr.SeverityLow},
		at(-60*365*24*time.Hour, "x", "before-1970"),
		at(2*time.Hour, "x", "too-far-ahead"),
		withSeverity(at(0, "x", "no-severity"), 0),
		at(59*time.Minute, "x", "ok"),
	} {
		eng.Process(ev, emit)
	}
	st := eng.Stats()
	assert.Equal(t, uint64(5), st.Events)
	assert.Equal(t, uint64(4), st.Rejected)
	require.Len(t, got, 1)
	assert.Equal(t, "ok", got[0].Key)
	// The clock moves on: the event that was too far ahead is fine now.
	clock.Set(t0.Add(2 * time.Hour))
	eng.Process(at(2*time.Hour, "x", "now-ok"), emit)
	assert.Equal(t, uint64(4), eng.Stats().Rejected)
	assert.Equal(t, "now-ok", got[len(got)-1].Key)
}

func TestEngineStats(t *testing.T) {
	r := countRule(t, anomaly.Lifecycle{ResolveAfter: time.Minute, UpdateEvery: time.Second})
	in := concat(repeat(at(0, "login_failed", "alice"), 6, time.Second), repeat(at(0, "login_failed", "bob"), 5, time.Second),
		[]rdr.Event{at(10*time.Second, "login_success", "carol")})
	_, eng := run(t, []anomaly.Rule{r}, in, 0)
	eng.Advance(t0.Add(30*time.Second), nil)
	assert.Equal(t, anomaly.Stats{
		Events: 12, Fired: 2, Updated: 1, Firing: 2, TrackedKeys: 2,
		Rules: []anomaly.RuleStats{{Rule: "burst", Matched: 11, Detections: 3, Fired: 2, Updated: 1, Firing: 2, Keys: 2}},
	}, eng.Stats())
	eng.Advance(t0.Add(10*time.Minute), nil)
	st := eng.Stats()
	assert.Equal(t, uint64(2), st.Resolved)
	assert.Zero(t, st.Firing)
	assert.Zero(t, st.TrackedKeys, "keys quiet for 2 windows are gone")
}

func TestEngineStatsFromAnotherGoroutine(t *testing.T) {
	eng, err := anomaly.NewEngine(anomaly.DefaultRules(), anomaly.Config{MaxFuture: -1})
	require.NoError(t, err)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				_ = eng.Stats()
			}
		}
	})
	for i := range 2000 {
		eng.Process(withIP(at(time.Duration(i)*time.Millisecond, "login_failed", "alice"), "203.0.113.7"), nil)
	}
	close(done)
	wg.Wait()
	assert.Equal(t, uint64(2000), eng.Stats().Events)
}

func TestEngineResolvesInOrder(t *testing.T) {
	// Alerts due together resolve by due time, then rule order, then key.
	rules := []anomaly.Rule{countBy(t, "b-rule", anomaly.FieldUserID, 1), countBy(t, "a-rule", anomaly.FieldUserID, 1)}
	in := []rdr.Event{at(0, "x", "zed"), at(0, "x", "amy"), at(-5*time.Second, "x", "late")}
	got, _ := run(t, rules, in, time.Hour)
	var order []string
	for _, a := range got {
		if a.Status == resolved {
			order = append(order, a.Rule+"/"+a.Key)
		}
	}
	// "late" was detected 5s earlier, so its window (and alert) ends first.
	assert.Equal(t, []string{"b-rule/late", "a-rule/late", "b-rule/amy", "b-rule/zed", "a-rule/amy", "a-rule/zed"}, order)
}

func TestEngineMaxEvents(t *testing.T) {
	for _, tt := range []struct {
		max, want int
	}{{0, anomaly.DefaultMaxEvents}, {2, 2}, {-1, 0}} {
		r := countRule(t, anomaly.Lifecycle{MaxEvents: tt.max})
		got, _ := run(t, []anomaly.Rule{r}, repeat(at(0, "login_failed", "alice"), 20, time.Second), time.Hour)
		require.Len(t, got, 2)
		assert.Len(t, got[1].Events, tt.want, "MaxEvents %d", tt.max)
		if tt.want > 0 {
			assert.Equal(t, t0.Add(4*time.Second), got[1].Events[0].Time, "the first detection's event comes first")
		}
	}
}

func TestEngineEmitsCopies(t *testing.T) {
	r := countRule(t, anomaly.Lifecycle{UpdateEvery: time.Second})
	var got []anomaly.Alert
	eng, err := anomaly.NewEngine([]anomaly.Rule{r}, anomaly.Config{MaxFuture: -1})
	require.NoError(t, err)
	for _, ev := range repeat(at(0, "login_failed", "alice"), 7, time.Second) {
		eng.Process(ev, func(a anomaly.Alert) {
			if len(a.Events) > 0 {
				a.Events[0].UserID = "changed by the consumer"
			}
			got = append(got, a)
		})
	}
	require.Len(t, got, 3)
	assert.Equal(t, "alice", got[2].Events[1].UserID)
	assert.Len(t, got[2].Events, 3)
}

func TestEngineAdvanceNeverGoesBack(t *testing.T) {
	got, eng := run(t, []anomaly.Rule{countBy(t, "c", anomaly.FieldUserID, 1)}, []rdr.Event{at(time.Hour, "x", "u")}, 0)
	require.Len(t, got, 1)
	eng.Advance(t0, func(a anomaly.Alert) { got = append(got, a) })
	eng.Advance(time.Time{}, func(a anomaly.Alert) { got = append(got, a) })
	assert.Len(t, got, 1)
	assert.Equal(t, 1, eng.Stats().Firing)
}

func TestNewEngineErrors(t *testing.T) {
	det, err := anomaly.NewCount(anomaly.CountConfig{Window: time.Minute, Threshold: 1})
	require.NoError(t, err)
	_, err = anomaly.NewEngine([]anomaly.Rule{
		{Name: "ok", Severity: rdr.SeverityLow, Detector: det},
		{Name: "ok", Severity: rdr.SeverityLow, Detector: det},
		{Name: "bad name!", Severity: rdr.SeverityLow, Detector: det},
		{Name: "x", Detector: det, Risk: -1, Lifecycle: anomaly.Lifecycle{Cooldown: -time.Second}},
		{Name: "y", Severity: rdr.SeverityLow, GroupBy: anomaly.MetadataField(""), Filter: anomaly.Filter{Severities: []rdr.Severity{9}}},
	}, anomaly.Config{})
	require.Error(t, err)
	assert.True(t, errors.Is(err, anomaly.ErrInvalidRule))
	var re *anomaly.RuleError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "ok", re.Rule)
	assert.Equal(t, `rule "ok": Name: is used by more than one rule
rule #3: Name: "bad name!": use letters, digits, '_', '-' and '.' only
rule "x": Severity: is required (low, medium, high or critical)
rule "x": Risk: must be a finite number ≥ 0, got -1
rule "x": Lifecycle.Cooldown: must not be negative, got -1s
rule "y": GroupBy: invalid field
rule "y": Filter: severities: invalid severity 9
rule "y": Detector: is required`, err.Error())

	_, err = anomaly.NewEngine(nil, anomaly.Config{Tick: -time.Second})
	assert.EqualError(t, err, "invalid config: Tick must not be negative, got -1s")
}

func TestAlertJSON(t *testing.T) {
	ev := withIP(withSeverity(at(4*time.Second, "login_failed", "alice"), rdr.SeverityMedium), "203.0.113.7")
	ev.Metadata = rdr.MakeMetadata("app", "vpn")
	a := anomaly.Alert{
		ID: "0123456789abcdef", Rule: "failed-login-burst", GroupBy: "userId", Key: "alice", Severity: rdr.SeverityMedium,
		RiskScore: 15, Status: anomaly.StatusFiring, FirstSeen: t0.Add(4 * time.Second), LastSeen: t0.Add(14 * time.Second),
		Count: 11, Value: 15, Threshold: 5, Message: "failed-login-burst: 15 events in 1m (threshold 5) for userId alice",
		Events: []rdr.Event{ev},
	}
	b, err := json.Marshal(a)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"0123456789abcdef","rule":"failed-login-burst","groupBy":"userId","key":"alice","severity":"medium",
		"riskScore":15,"status":"firing","firstSeen":"2026-01-01T00:00:04Z","lastSeen":"2026-01-01T00:00:14Z","count":11,"value":15,
		"threshold":5,"message":"failed-login-burst: 15 events in 1m (threshold 5) for userId alice",
		"events":[{"timestamp":"2026-01-01T00:00:04Z","eventType":"login_failed","userId":"alice","ipAddress":"203.0.113.7",
		"severity":"medium","metadata":{"app":"vpn"}}]}`, string(b))

	a.Status, a.ResolvedAt, a.Events = anomaly.StatusResolved, t0.Add(6*time.Minute), nil
	b, err = json.Marshal(a)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"status":"resolved","firstSeen":"2026-01-01T00:00:04Z","lastSeen":"2026-01-01T00:00:14Z","resolvedAt":"2026-01-01T00:06:00Z"`)
	assert.Contains(t, string(b), `"events":[]`)

	var back anomaly.Alert
	require.NoError(t, json.Unmarshal(b, &back))
	a.Events = []rdr.Event{}
	assert.Equal(t, a, back)
	assert.Error(t, json.Unmarshal([]byte(`{"status":"open"}`), &back))
}

func TestAlertIDIsStable(t *testing.T) {
	// The ID is part of the contract with consumers (it closes incidents
	// across restarts and replays): it must not change between versions.
	got, _ := run(t, []anomaly.Rule{countRule(t, anomaly.Lifecycle{})}, repeat(at(0, "login_failed", "alice"), 5, time.Second), time.Hour)
	require.Len(t, got, 2)
	// FNV-1a of "burst\x00alice\x00" and the first-seen Unix nanoseconds, little-endian.
	assert.Equal(t, "11297dd4fa632914", got[0].ID)
	assert.Equal(t, got[0].ID, got[1].ID)
}

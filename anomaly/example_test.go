package anomaly_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
)

// start is when the examples' events begin.
var start = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func ev(offset time.Duration, typ, user string) rdr.Event {
	return rdr.Event{Time: start.Add(offset), Type: typ, UserID: user, Severity: rdr.SeverityLow}
}

func printAlert(a anomaly.Alert) {
	fmt.Printf("%s %s key=%s count=%d value=%g threshold=%g at=%s\n", a.Status, a.Rule, a.Key, a.Count, a.Value, a.Threshold,
		a.LastSeen.Sub(start))
}

// runExample runs one detector in a rule on events, then lets an hour
// pass.
func runExample(det anomaly.Detector, err error, groupBy anomaly.Field, events []rdr.Event) {
	if err != nil {
		fmt.Println(err)
		return
	}
	eng, err := anomaly.NewEngine([]anomaly.Rule{{Name: "example", Severity: rdr.SeverityHigh, GroupBy: groupBy, Detector: det}},
		anomaly.Config{MaxFuture: -1})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range events {
		eng.Process(e, printAlert)
	}
	eng.Advance(events[len(events)-1].Time.Add(time.Hour), printAlert)
}

func ExampleNewEngine() {
	eng, err := anomaly.NewEngine(anomaly.DefaultRules(), anomaly.Config{})
	if err != nil {
		panic(err)
	}
	emit := func(a anomaly.Alert) { fmt.Println(a.Status, a.Rule, a.Key, a.Message) }
	ip := netip.MustParseAddr("203.0.113.7")
	now := start
	for i := range 6 {
		eng.Process(rdr.Event{Time: now.Add(time.Duration(i) * time.Second), Type: "login_failed", UserID: "alice", IP: ip, Severity: rdr.SeverityMedium}, emit)
	}
	eng.Process(rdr.Event{Time: now.Add(10 * time.Second), Type: "login_success", UserID: "alice", IP: ip, Severity: rdr.SeverityLow}, emit)
	eng.Advance(now.Add(time.Hour), emit) // the watermark, or the wall clock
	st := eng.Stats()
	fmt.Println(st.Events, "events,", st.Fired, "fired,", st.Resolved, "resolved")
	// Output:
	// firing failed-login-burst alice failed-login-burst: 5 events in 1m (threshold 5) for userId alice
	// firing brute-force-success alice brute-force-success: 5 × login_failed then login_success within 5m for userId alice
	// resolved brute-force-success alice brute-force-success: 5 × login_failed then login_success within 5m for userId alice
	// resolved failed-login-burst alice failed-login-burst: 6 events in 1m (threshold 5) for userId alice
	// 7 events, 2 fired, 2 resolved
}

func ExampleParseRules() {
	rules, err := anomaly.ParseRules("rules.yaml", []byte(`
rules:
  - name: vpn-brute-force
    type: count
    filter:
      eventType: login_failed
      metadata: {app: vpn}
    group-by: userId
    timespan: 1m
    condition: {gte: 10}
    severity: high
`))
	fmt.Println(len(rules), rules[0].Name, rules[0].Severity, err)

	_, err = anomaly.ParseRules("rules.yaml", []byte(`
rules:
  - name: vpn-brute-force
    type: count
    timespan: one minute
    condition: {gte: 10}
    severity: high
`))
	fmt.Println(err)
	// Output:
	// 1 vpn-brute-force high <nil>
	// rules.yaml:5: rule "vpn-brute-force": timespan: invalid duration "one minute" (use 30s, 5m, 1h, 7d…)
}

func ExampleDefaultRules() {
	for _, r := range anomaly.DefaultRules() {
		fmt.Printf("%-22s %-8s by %s\n", r.Name, r.Severity, r.GroupBy)
	}
	// Output:
	// failed-login-burst     medium   by userId
	// password-spraying      high     by ipAddress
	// brute-force-success    critical by userId
	// mfa-not-completed      low      by userId
	// new-login-ip           low      by userId
	// first-privilege-change medium   by userId
	// file-access-spike      high     by userId
	// critical-event         critical by userId
	// user-risk              high     by userId
}

func ExampleParseRuleTests() {
	tests, err := anomaly.ParseRuleTests("tests.yaml", []byte(`
tests:
  - name: five failures fire
    input:
      - {at: 0s, eventType: login_failed, userId: alice, repeat: 5}
      - advance: 10m
    alerts:
      - {rule: failed-login-burst, key: alice, status: firing, firstSeen: 4s}
      - {rule: failed-login-burst, key: alice, status: resolved, resolvedAt: 6m}
`))
	if err != nil {
		panic(err)
	}
	results, err := tests.Run(func() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil })
	fmt.Println(results[0].Name, results[0].Passed, err)
	// Output:
	// five failures fire true <nil>
}

func ExampleNewCount() {
	det, err := anomaly.NewCount(anomaly.CountConfig{Window: time.Minute, Threshold: 3})
	runExample(det, err, anomaly.FieldUserID, []rdr.Event{
		ev(0, "login_failed", "alice"), ev(time.Second, "login_failed", "alice"),
		ev(2*time.Second, "login_failed", "alice"), ev(3*time.Second, "login_failed", "alice"),
	})
	// Output:
	// firing example key=alice count=1 value=3 threshold=3 at=2s
	// resolved example key=alice count=2 value=4 threshold=3 at=3s
}

func ExampleNewDistinct() {
	det, err := anomaly.NewDistinct(anomaly.DistinctConfig{Field: anomaly.FieldUserID, Window: 5 * time.Minute, Threshold: 3})
	var evs []rdr.Event
	for i, u := range []string{"u1", "u2", "u2", "u3"} {
		e := ev(time.Duration(i)*time.Second, "login_failed", u)
		e.IP = netip.MustParseAddr("198.51.100.7")
		evs = append(evs, e)
	}
	runExample(det, err, anomaly.FieldIP, evs)
	// Output:
	// firing example key=198.51.100.7 count=1 value=3 threshold=3 at=3s
	// resolved example key=198.51.100.7 count=1 value=3 threshold=3 at=3s
}

func ExampleNewSequence() {
	det, err := anomaly.NewSequence(anomaly.SequenceConfig{
		First: anomaly.Filter{Types: []string{"login_failed"}}, Count: 2,
		Then:   anomaly.Filter{Types: []string{"login_success"}},
		Window: 5 * time.Minute,
	})
	runExample(det, err, anomaly.FieldUserID, []rdr.Event{
		ev(0, "login_failed", "bob"), ev(time.Second, "login_failed", "bob"), ev(time.Minute, "login_success", "bob"),
	})
	// Output:
	// firing example key=bob count=1 value=2 threshold=2 at=1m0s
	// resolved example key=bob count=1 value=2 threshold=2 at=1m0s
}

func ExampleNewAbsence() {
	det, err := anomaly.NewAbsence(anomaly.AbsenceConfig{
		First:  anomaly.Filter{Types: []string{"mfa_challenge"}},
		Then:   anomaly.Filter{Types: []string{"mfa_success"}},
		Window: 2 * time.Minute,
	})
	runExample(det, err, anomaly.FieldUserID, []rdr.Event{
		ev(0, "mfa_challenge", "carol"), ev(0, "mfa_challenge", "dave"), ev(time.Minute, "mfa_success", "dave"),
	})
	// Output:
	// firing example key=carol count=1 value=0 threshold=1 at=2m0s
	// resolved example key=carol count=1 value=0 threshold=1 at=2m0s
}

func ExampleNewFirstSeen() {
	det, err := anomaly.NewFirstSeen(anomaly.FirstSeenConfig{Field: anomaly.FieldIP})
	login := func(d time.Duration, ip string) rdr.Event {
		e := ev(d, "login_success", "frank")
		e.IP = netip.MustParseAddr(ip)
		return e
	}
	runExample(det, err, anomaly.FieldUserID, []rdr.Event{
		login(0, "192.0.2.1"),           // the first address: learned
		login(time.Hour, "192.0.2.1"),   // known
		login(2*time.Hour, "192.0.2.2"), // new
	})
	// Output:
	// firing example key=frank count=1 value=0 threshold=1 at=2h0m0s
	// resolved example key=frank count=1 value=0 threshold=1 at=2h0m0s
}

func ExampleNewSpike() {
	det, err := anomaly.NewSpike(anomaly.SpikeConfig{Interval: time.Minute, Warmup: 5, Deviations: 3, MinCount: 10})
	var evs []rdr.Event
	for i := range 20 { // 10 minutes of 2 a minute: σ floors at √2
		evs = append(evs, ev(time.Duration(i)*30*time.Second, "file_access", "hank"))
	}
	for i := range 12 { // then 12 in 12 seconds
		evs = append(evs, ev(10*time.Minute+time.Duration(i)*time.Second, "file_access", "hank"))
	}
	runExample(det, err, anomaly.FieldUserID, evs)
	// Output:
	// firing example key=hank count=1 value=10 threshold=6.242640687119286 at=10m9s
	// resolved example key=hank count=3 value=12 threshold=6.242640687119286 at=10m11s
}

func ExampleNewSeverityFloor() {
	det, err := anomaly.NewSeverityFloor(anomaly.SeverityConfig{Min: rdr.SeverityCritical})
	e := ev(0, "privilege_change", "jane")
	e.Severity = rdr.SeverityCritical
	runExample(det, err, anomaly.FieldUserID, []rdr.Event{ev(0, "file_access", "jane"), e})
	// Output:
	// firing example key=jane count=1 value=4 threshold=4 at=0s
	// resolved example key=jane count=1 value=4 threshold=4 at=0s
}

func ExampleNewRisk() {
	// Risk from events directly (Points); in a rule set, other rules'
	// alerts add their Rule.Risk too.
	det, err := anomaly.NewRisk(anomaly.RiskConfig{Threshold: 50, HalfLife: time.Hour, Points: 20})
	runExample(det, err, anomaly.FieldUserID, []rdr.Event{
		ev(0, "privilege_change", "kim"), ev(0, "privilege_change", "kim"), ev(0, "privilege_change", "kim"),
	})
	// Output:
	// firing example key=kim count=1 value=60 threshold=50 at=0s
	// resolved example key=kim count=1 value=60 threshold=50 at=0s
}

func ExampleNewTable() {
	// A Table keeps per-key state for a detector and forgets quiet keys.
	type seen struct{ n int }
	tab := anomaly.NewTable[seen](time.Minute)
	tab.Advance(start)
	tab.Put("alice").n = 1
	tab.Get("alice").n++
	fmt.Println(tab.Get("alice").n, tab.Len())
	tab.Advance(start.Add(3 * time.Minute)) // two generations later
	fmt.Println(tab.Get("alice") == nil, tab.Len())
	// Output:
	// 2 1
	// true 0
}

func ExampleAlert_MarshalJSON() {
	a := anomaly.Alert{
		ID: "11297dd4fa632914", Rule: "failed-login-burst", GroupBy: "userId", Key: "alice", Severity: rdr.SeverityMedium,
		RiskScore: 15, Status: anomaly.StatusFiring, FirstSeen: start.Add(4 * time.Second), LastSeen: start.Add(4 * time.Second),
		Count: 1, Value: 5, Threshold: 5, Message: "failed-login-burst: 5 events in 1m (threshold 5) for userId alice",
		Events: []rdr.Event{ev(4*time.Second, "login_failed", "alice")},
	}
	b, _ := json.MarshalIndent(a, "", "  ")
	fmt.Println(string(b))
	// Output:
	// {
	//   "id": "11297dd4fa632914",
	//   "rule": "failed-login-burst",
	//   "groupBy": "userId",
	//   "key": "alice",
	//   "severity": "medium",
	//   "riskScore": 15,
	//   "status": "firing",
	//   "firstSeen": "2026-11-26T10:00:04Z",
	//   "lastSeen": "2026-11-26T10:00:04Z",
	//   "count": 1,
	//   "value": 5,
	//   "threshold": 5,
	//   "message": "failed-login-burst: 5 events in 1m (threshold 5) for userId alice",
	//   "events": [
	//     {
	//       "timestamp": "2026-11-26T10:00:04Z",
	//       "eventType": "login_failed",
	//       "userId": "alice",
	//       "severity": "low"
	//     }
	//   ]
	// }
}

// An engine saved between two failed logins, restored into a new one after
// a restart: the new engine counts on from the saved failures, and its
// alert resolves with the same ID it fired with.
func ExampleEngine_RestoreState() {
	newEngine := func() *anomaly.Engine {
		eng, err := anomaly.NewEngine(anomaly.DefaultRules(), anomaly.Config{MaxFuture: -1})
		if err != nil {
			panic(err)
		}
		return eng
	}
	emit := func(a anomaly.Alert) { fmt.Println(a.Status, a.Rule, a.Key, a.ID, "count", a.Count) }
	eng := newEngine()
	for i := range 5 {
		eng.Process(ev(time.Duration(i)*time.Second, "login_failed", "alice"), emit)
	}
	state, err := eng.AppendState(nil) // kept with the input's offset
	if err != nil {
		panic(err)
	}

	// After a restart: a new engine, the saved state, the input after it.
	eng = newEngine()
	if err := eng.RestoreState(state); err != nil {
		panic(err)
	}
	fmt.Println(eng.Stats().Firing, "alert firing")
	eng.Process(ev(5*time.Second, "login_failed", "alice"), emit)
	eng.Advance(start.Add(time.Hour), emit)
	// Output:
	// firing failed-login-burst alice d025bb888093a52c count 1
	// 1 alert firing
	// resolved failed-login-burst alice d025bb888093a52c count 2
}

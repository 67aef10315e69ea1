package anomaly_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/require"
)

// t0 is when test inputs start.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// at returns an event at t0+d.
func at(d time.Duration, typ, user string) rdr.Event {
	return rdr.Event{Time: t0.Add(d), Type: typ, UserID: user, Severity: rdr.SeverityLow}
}

func withIP(ev rdr.Event, ip string) rdr.Event {
	ev.IP = netip.MustParseAddr(ip)
	return ev
}

func withSeverity(ev rdr.Event, s rdr.Severity) rdr.Event {
	ev.Severity = s
	return ev
}

// repeat returns n copies of ev, every apart.
func repeat(ev rdr.Event, n int, every time.Duration) []rdr.Event {
	out := make([]rdr.Event, n)
	for i := range out {
		out[i] = ev
		out[i].Time = ev.Time.Add(time.Duration(i) * every)
	}
	return out
}

func concat(parts ...[]rdr.Event) []rdr.Event {
	var out []rdr.Event
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// run feeds evs to a new engine with rules, then advances to the last
// event plus after, and returns every alert emitted.
func run(t *testing.T, rules []anomaly.Rule, evs []rdr.Event, after time.Duration) ([]anomaly.Alert, *anomaly.Engine) {
	t.Helper()
	eng, err := anomaly.NewEngine(rules, anomaly.Config{MaxFuture: -1})
	require.NoError(t, err)
	var got []anomaly.Alert
	emit := func(a anomaly.Alert) { got = append(got, a) }
	last := t0
	for _, ev := range evs {
		eng.Process(ev, emit)
		if ev.Time.After(last) {
			last = ev.Time
		}
	}
	if after > 0 {
		eng.Advance(last.Add(after), emit)
	}
	return got, eng
}

// rule wraps a detector in a rule named name, grouped by user, resolving
// after 1m.
func rule(name string, det anomaly.Detector, err error) anomaly.Rule {
	if err != nil {
		panic(err)
	}
	return anomaly.Rule{Name: name, Severity: rdr.SeverityHigh, Detector: det, Risk: 10,
		Lifecycle: anomaly.Lifecycle{ResolveAfter: time.Minute}}
}

// brief is the part of an alert most tests compare.
type brief struct {
	Rule, Key  string
	Status     anomaly.Status
	Count      int64
	Value      float64
	Threshold  float64
	FirstSeen  time.Duration // since t0
	LastSeen   time.Duration
	ResolvedAt time.Duration // since t0; 0 while firing
}

func briefs(alerts []anomaly.Alert) []brief {
	out := make([]brief, len(alerts))
	for i, a := range alerts {
		out[i] = brief{Rule: a.Rule, Key: a.Key, Status: a.Status, Count: a.Count, Value: a.Value, Threshold: a.Threshold,
			FirstSeen: a.FirstSeen.Sub(t0), LastSeen: a.LastSeen.Sub(t0)}
		if !a.ResolvedAt.IsZero() {
			out[i].ResolvedAt = a.ResolvedAt.Sub(t0)
		}
	}
	return out
}

const (
	firing   = anomaly.StatusFiring
	resolved = anomaly.StatusResolved
)

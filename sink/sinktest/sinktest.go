// Package sinktest is the conformance suite every [sink.Sink] runs: the
// built-in ones (memory, InfluxDB, publisher, webhook) and any a contributor
// adds. A new sink is done when
//
//	func TestConformance(t *testing.T) {
//		sinktest.Run(t, sinktest.Features{}, func(t *testing.T) sinktest.Instance {
//			s, err := mysink.New(…) // fresh and empty for each case
//			require.NoError(t, err)
//			return sinktest.Instance{Sink: s}
//		})
//	}
//
// passes under go test -race.
//
// The suite checks what the [sink.Sink] documentation promises: windows and
// alerts written are read back exactly (through [sink.HistoryReader], or for
// an alert output through Instance.Received), also when the caller reuses
// their maps and events right after the write, large batches and concurrent
// writes lose and double nothing, a window or alert written again replaces
// the earlier one, writes after Close return [sink.ErrClosed], Close is
// safe twice and flushes, a cancelled context writes nothing, bad input gets
// the documented errors, hostile filter values are matched literally, and no
// goroutine is left behind.
package sinktest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sink"
)

// Features describes the sink under test.
type Features struct {
	// AlertsOnly is set for an alert output: a sink that documents that it
	// ignores windows. Window cases then only check that WriteWindow
	// returns nil (and ErrClosed after Close).
	AlertsOnly bool
	// Timeout bounds each wait of the suite (a flush, alerts arriving).
	// Optional; default 30 s.
	Timeout time.Duration
}

// Instance is one fresh, empty sink for one case, with the means to see what
// it stored. Register its cleanup (destinations, readers) with t.Cleanup;
// the suite closes Sink itself.
type Instance struct {
	// Sink is the sink under test. Required.
	Sink sink.Sink
	// Reader reads what Sink stored, and keeps working after Sink is
	// closed (to check that Close flushes). Optional: by default Sink
	// itself, when it is a sink.HistoryReader that answers after Close.
	Reader sink.HistoryReader
	// Received returns the alerts that reached the destination so far, in
	// the order they arrived (alerts written one after another must arrive
	// in that order). It is required when Sink is not a HistoryReader (an
	// alert output).
	Received func(ctx context.Context) ([]anomaly.Alert, error)
}

// Base is the start of the data the suite writes: 2026-11-26T10:00:00Z.
var Base = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// Hostile are filter values that must be matched as plain literals: each is
// written as an event type and an alert rule, and must read back exactly.
var Hostile = []string{
	`") |> drop(columns: ["_value"]) //`,
	`"`,
	`\`,
	`a\`,
	`\"`,
	"line\nbreak",
	"tab\there",
	`|> yield()`,
	`${r._value}`,
	`x" or r._measurement != "`,
	`back\\slash, comma=equals space`,
	"~b64:bG9naW4",
	"ünïcödé ✓",
}

// Run runs every case as a subtest of t, each on a new instance from
// newSink.
func Run(t *testing.T, f Features, newSink func(t *testing.T) Instance) {
	t.Helper()
	if f.Timeout == 0 {
		f.Timeout = 30 * time.Second
	}
	s := &suite{f: f, newSink: newSink}
	t.Run("WriteThenRead", s.writeThenRead)
	t.Run("Batches", s.batches)
	t.Run("RewriteReplaces", s.rewriteReplaces)
	if !f.AlertsOnly {
		t.Run("PartitionsAddUp", s.partitionsAddUp)
	}
	t.Run("ConcurrentWrites", s.concurrentWrites)
	t.Run("WriteAfterClose", s.writeAfterClose)
	t.Run("CloseFlushes", s.closeFlushes)
	t.Run("ContextCancelled", s.contextCancelled)
	t.Run("InvalidInput", s.invalidInput)
	if !f.AlertsOnly {
		t.Run("HostileFilterValues", s.hostileValues)
		t.Run("InvalidQuery", s.invalidQuery)
	}
	t.Run("NoGoroutinesLeft", s.noGoroutinesLeft)
}

type suite struct {
	f       Features
	newSink func(t *testing.T) Instance
}

// instance returns a checked instance whose sink is closed at cleanup.
func (s *suite) instance(t *testing.T) Instance {
	t.Helper()
	in := s.newSink(t)
	require.NotNil(t, in.Sink, "newSink returned no Sink")
	t.Cleanup(func() { assert.NoError(t, in.Sink.Close(), "Close at cleanup") })
	if in.Reader == nil {
		if r, ok := in.Sink.(sink.HistoryReader); ok {
			in.Reader = r
		}
	}
	if s.f.AlertsOnly {
		require.NotNil(t, in.Received, "an alert output needs Instance.Received")
	} else {
		require.NotNil(t, in.Reader, "a sink that stores windows needs a Reader (or to be a sink.HistoryReader)")
	}
	return in
}

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), s.f.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// flush flushes a Flusher.
func (s *suite) flush(t *testing.T, sk sink.Sink) {
	t.Helper()
	if fl, ok := sk.(sink.Flusher); ok {
		require.NoError(t, fl.Flush(s.ctx(t)), "Flush")
	}
}

// Window returns a 1-second window starting at Base+sec with the given
// counts by event type; total and severities follow from them (each event
// type's events are all low, except "login_failed", which are high), and
// active users is the number of event types.
func Window(sec int, byType map[string]uint64) sink.WindowResult {
	start := Base.Add(time.Duration(sec) * time.Second)
	m := aggregate.Metrics{From: start, To: start.Add(time.Second), ByType: make(map[string]uint64, len(byType))}
	for typ, n := range byType {
		m.ByType[typ] = n
		m.TotalEvents += n
		if typ == "login_failed" {
			m.BySeverity[rdr.SeverityHigh] += n
		} else {
			m.BySeverity[rdr.SeverityLow] += n
		}
		m.TopEventTypes = append(m.TopEventTypes, aggregate.KeyCount{Key: typ, Count: n})
	}
	m.ActiveUsers = uint64(len(byType))
	m.EventsPerSecond = float64(m.TotalEvents)
	return sink.WindowResult{Start: start, End: start.Add(time.Second), Metrics: m}
}

// Alert returns a firing alert of rule for key, first seen at Base+sec.
func Alert(rule, key string, sec int) anomaly.Alert {
	first := Base.Add(time.Duration(sec) * time.Second)
	return anomaly.Alert{
		ID: fmt.Sprintf("%s/%s/%d", rule, key, sec), Rule: rule, GroupBy: "userId", Key: key,
		Severity: rdr.SeverityHigh, RiskScore: 15, Status: anomaly.StatusFiring,
		FirstSeen: first, LastSeen: first, Count: 1, Value: 5, Threshold: 5,
		Message: "5 failed logins for " + key,
	}
}

// series is the expected series of a history: key → values per interval.
type series map[string][]float64

// checkHistory queries r and asserts the exact series.
func (s *suite) checkHistory(t *testing.T, r sink.HistoryReader, q sink.Query, want series) {
	t.Helper()
	h, err := r.History(s.ctx(t), q)
	require.NoError(t, err, "History(%+v)", q)
	got := series{}
	var keys []string
	for _, sr := range h.Series {
		keys = append(keys, sr.Key)
		vals := make([]float64, len(sr.Points))
		for i, p := range sr.Points {
			vals[i] = p.V
			assert.True(t, p.T.Equal(q.Start.Add(time.Duration(i)*q.Interval)), "series %q point %d at %s", sr.Key, i, p.T)
		}
		got[sr.Key] = vals
	}
	assert.True(t, sort.StringsAreSorted(keys), "series not sorted by key: %q", keys)
	if len(want) == 0 {
		assert.Empty(t, h.Series, "History(%s by %q)", q.Metric, q.GroupBy)
		return
	}
	assert.Equal(t, want, got, "History(%s by %q, filter %q)", q.Metric, q.GroupBy, q.Filter)
}

func query(metric, groupBy string, from, to time.Duration, every time.Duration) sink.Query {
	return sink.Query{Metric: metric, GroupBy: groupBy, Start: Base.Add(from), Stop: Base.Add(to), Interval: every}
}

// received polls in.Received until it holds want alerts (or the timeout),
// then checks that no more arrive for a moment.
func (s *suite) received(t *testing.T, in Instance, want int) []anomaly.Alert {
	t.Helper()
	ctx := s.ctx(t)
	var got []anomaly.Alert
	for {
		var err error
		got, err = in.Received(ctx)
		require.NoError(t, err, "Received")
		if len(got) >= want {
			break
		}
		select {
		case <-ctx.Done():
			require.Failf(t, "alerts missing", "got %d alerts, want %d", len(got), want)
		case <-time.After(10 * time.Millisecond):
		}
	}
	time.Sleep(50 * time.Millisecond)
	got, err := in.Received(ctx)
	require.NoError(t, err, "Received")
	require.Len(t, got, want, "alerts received")
	return got
}

// alertKeys are "<id> <status> <count>" of each alert, sorted.
func alertKeys(as []anomaly.Alert) []string {
	keys := make([]string, len(as))
	for i, a := range as {
		keys[i] = fmt.Sprintf("%s %s %d", a.ID, a.Status, a.Count)
	}
	slices.Sort(keys)
	return keys
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func (s *suite) writeThenRead(t *testing.T) {
	in := s.instance(t)
	ctx := s.ctx(t)
	windows := []sink.WindowResult{
		Window(0, map[string]uint64{"login": 5, "login_failed": 2}),
		Window(1, map[string]uint64{"login": 1}),
		Window(3, map[string]uint64{"login_failed": 7, "logout": 3}),
	}
	for _, w := range windows {
		require.NoError(t, in.Sink.WriteWindow(ctx, w), "WriteWindow")
	}
	alerts := []anomaly.Alert{Alert("brute-force", "alice", 0), Alert("brute-force", "bob", 2), Alert("stuffing", "203.0.113.7", 65)}
	alerts[2].Severity = rdr.SeverityCritical
	alerts[0].Events = []rdr.Event{{Time: Base, Type: "login_failed", UserID: "alice", Severity: rdr.SeverityLow}}
	want := make([]string, len(alerts))
	for i, a := range alerts {
		want[i] = mustJSON(t, a)
		require.NoError(t, in.Sink.WriteAlert(ctx, a), "WriteAlert")
	}
	// The caller may reuse what it passed once the call returns.
	for _, w := range windows {
		for k := range w.Metrics.ByType {
			w.Metrics.ByType[k] = 999
		}
	}
	alerts[0].Events[0].UserID = "mallory"
	s.flush(t, in.Sink)

	if s.f.AlertsOnly {
		got := s.received(t, in, len(alerts))
		for i := range alerts {
			assert.JSONEq(t, want[i], mustJSON(t, got[i]), "alert %d as received (the caller reused its memory after the write)", i)
		}
		return
	}
	r := in.Reader
	s.checkHistory(t, r, query(sink.MetricEvents, sink.ByEventType, 0, 5*time.Second, time.Second), series{
		"login":        {5, 1, 0, 0, 0},
		"login_failed": {2, 0, 0, 7, 0},
		"logout":       {0, 0, 0, 3, 0},
	})
	s.checkHistory(t, r, query(sink.MetricEvents, "", 0, 5*time.Second, time.Second), series{"events": {7, 1, 0, 10, 0}})
	s.checkHistory(t, r, query(sink.MetricEvents, sink.BySeverity, 0, 4*time.Second, 2*time.Second), series{
		"low": {6, 3}, "medium": {0, 0}, "high": {2, 7}, "critical": {0, 0},
	})
	s.checkHistory(t, r, query(sink.MetricActiveUsers, "", 0, 4*time.Second, 2*time.Second), series{"activeUsers": {2, 2}})
	// A window belongs to the interval of its last instant: the window
	// [3s, 4s) is in [3s, 5s), not in [4s, 6s), and the query start need
	// not be aligned to anything.
	s.checkHistory(t, r, query(sink.MetricEvents, "", time.Second, 7*time.Second, 2*time.Second), series{"events": {1, 10, 0}})
	s.checkHistory(t, r, query(sink.MetricEvents, "", 4*time.Second, 10*time.Second, time.Second), nil)
	s.checkHistory(t, r, query(sink.MetricAlerts, sink.ByRule, 0, 2*time.Minute, time.Minute), series{
		"brute-force": {2, 0}, "stuffing": {0, 1},
	})
	s.checkHistory(t, r, query(sink.MetricAlerts, sink.BySeverity, 0, 2*time.Minute, time.Minute), series{
		"high": {2, 0}, "critical": {0, 1},
	})
	q := query(sink.MetricAlerts, "", 0, 2*time.Minute, time.Minute)
	q.Filter = map[string]string{sink.ByRule: "brute-force"}
	s.checkHistory(t, r, q, series{"alerts": {2, 0}})
	q = query(sink.MetricEvents, "", 0, 4*time.Second, 4*time.Second)
	q.Filter = map[string]string{sink.ByEventType: "login_failed"}
	s.checkHistory(t, r, q, series{"events": {9}})
}

// batchWindow is window i of the Batches case.
func batchWindow(i int) sink.WindowResult {
	return Window(i, map[string]uint64{
		"login":                     uint64(i%7 + 1),
		"login_failed":              uint64(i % 3),
		fmt.Sprintf("type-%d", i%4): 1,
	})
}

func (s *suite) batches(t *testing.T) {
	in := s.instance(t)
	ctx := s.ctx(t)
	if s.f.AlertsOnly {
		var want []anomaly.Alert
		for i := range 300 {
			a := Alert("burst", fmt.Sprintf("u-%d", i), i)
			want = append(want, a)
			require.NoError(t, in.Sink.WriteAlert(ctx, a))
		}
		s.flush(t, in.Sink)
		assert.Equal(t, alertKeys(want), alertKeys(s.received(t, in, len(want))))
		return
	}
	const n = 600 // ten minutes of 1-second windows
	want := series{}
	for i := range n {
		w := batchWindow(i)
		for typ, c := range w.Metrics.ByType {
			if want[typ] == nil {
				want[typ] = make([]float64, n/60)
			}
			want[typ][i/60] += float64(c)
		}
		require.NoError(t, in.Sink.WriteWindow(ctx, w))
	}
	s.flush(t, in.Sink)
	s.checkHistory(t, in.Reader, query(sink.MetricEvents, sink.ByEventType, 0, n*time.Second, time.Minute), want)
	var total float64
	for _, vals := range want {
		for _, v := range vals {
			total += v
		}
	}
	s.checkHistory(t, in.Reader, query(sink.MetricEvents, "", 0, n*time.Second, n*time.Second), series{"events": {total}})
}

func (s *suite) rewriteReplaces(t *testing.T) {
	in := s.instance(t)
	ctx := s.ctx(t)
	w := Window(0, map[string]uint64{"login": 5})
	require.NoError(t, in.Sink.WriteWindow(ctx, w))
	require.NoError(t, in.Sink.WriteWindow(ctx, w), "the same window again (a replay)")
	late := Window(0, map[string]uint64{"login": 6, "login_failed": 1})
	late.Update = true
	require.NoError(t, in.Sink.WriteWindow(ctx, late), "a late update")

	a := Alert("brute-force", "alice", 0)
	require.NoError(t, in.Sink.WriteAlert(ctx, a))
	a.Count, a.LastSeen, a.Value = 3, a.FirstSeen.Add(20*time.Second), 7
	require.NoError(t, in.Sink.WriteAlert(ctx, a), "an update")
	a.Status, a.ResolvedAt = anomaly.StatusResolved, a.LastSeen.Add(5*time.Minute)
	require.NoError(t, in.Sink.WriteAlert(ctx, a), "the resolution")
	s.flush(t, in.Sink)

	if s.f.AlertsOnly {
		got := s.received(t, in, 3)
		var seq []string
		for _, g := range got {
			seq = append(seq, fmt.Sprintf("%s %d", g.Status, g.Count))
		}
		assert.Equal(t, []string{"firing 1", "firing 3", "resolved 3"}, seq, "every emission is delivered, in order")
		return
	}
	s.checkHistory(t, in.Reader, query(sink.MetricEvents, sink.ByEventType, 0, time.Second, time.Second), series{
		"login": {6}, "login_failed": {1},
	})
	s.checkHistory(t, in.Reader, query(sink.MetricEvents, "", 0, time.Second, time.Second), series{"events": {7}})
	s.checkHistory(t, in.Reader, query(sink.MetricAlerts, sink.ByRule, 0, time.Hour, time.Hour), series{"brute-force": {1}})
}

// partitionsAddUp: windows of different partitions with the same End add
// up; a partition's window written again (a replay, another processor
// taking the partition over) replaces only that partition's.
func (s *suite) partitionsAddUp(t *testing.T) {
	in := s.instance(t)
	ctx := s.ctx(t)
	write := func(partition string, sec int, byType map[string]uint64) {
		w := Window(sec, byType)
		w.Partition = partition
		require.NoError(t, in.Sink.WriteWindow(ctx, w))
	}
	write("in/0", 0, map[string]uint64{"login": 5})
	write("in/1", 0, map[string]uint64{"login": 2, "logout": 1})
	write("in/2", 1, map[string]uint64{"logout": 4})
	write("in/0", 0, map[string]uint64{"login": 3}) // partition 0's window again
	s.flush(t, in.Sink)
	s.checkHistory(t, in.Reader, query(sink.MetricEvents, sink.ByEventType, 0, 2*time.Second, time.Second), series{
		"login": {5, 0}, "logout": {1, 4},
	})
	s.checkHistory(t, in.Reader, query(sink.MetricEvents, "", 0, 2*time.Second, time.Second), series{"events": {6, 4}})
	// Active users add up over the partitions of a window (users live on
	// one partition): 1 + 2 in the first second.
	s.checkHistory(t, in.Reader, query(sink.MetricActiveUsers, "", 0, 2*time.Second, time.Second), series{"activeUsers": {3, 1}})
}

func (s *suite) concurrentWrites(t *testing.T) {
	in := s.instance(t)
	ctx := s.ctx(t)
	const writers, per = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers*per*2+5)
	for g := range writers {
		wg.Go(func() {
			for i := range per {
				sec := g*per + i
				if !s.f.AlertsOnly {
					errs <- in.Sink.WriteWindow(ctx, Window(sec, map[string]uint64{"login": 2, fmt.Sprintf("w%d", g): 1}))
				}
				errs <- in.Sink.WriteAlert(ctx, Alert(fmt.Sprintf("rule-%d", g), fmt.Sprintf("u-%d", i), sec))
			}
		})
	}
	if r := in.Reader; r != nil {
		// Readers run alongside writers.
		wg.Go(func() {
			for range 5 {
				_, err := r.History(ctx, query(sink.MetricEvents, sink.ByEventType, 0, writers*per*time.Second, time.Minute))
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	s.flush(t, in.Sink)
	if s.f.AlertsOnly {
		got := s.received(t, in, writers*per)
		for g := range writers {
			n := 0
			for _, a := range got {
				if a.Rule == fmt.Sprintf("rule-%d", g) {
					n++
				}
			}
			assert.Equal(t, per, n, "alerts of writer %d", g)
		}
		return
	}
	span := writers * per * time.Second
	want := series{"login": {2 * writers * per}}
	for g := range writers {
		want[fmt.Sprintf("w%d", g)] = []float64{per}
	}
	s.checkHistory(t, in.Reader, query(sink.MetricEvents, sink.ByEventType, 0, span, span), want)
	byRule := series{}
	for g := range writers {
		byRule[fmt.Sprintf("rule-%d", g)] = []float64{per}
	}
	s.checkHistory(t, in.Reader, query(sink.MetricAlerts, sink.ByRule, 0, span, span), byRule)
}

func (s *suite) writeAfterClose(t *testing.T) {
	in := s.instance(t)
	ctx := s.ctx(t)
	require.NoError(t, in.Sink.Close(), "Close")
	assert.NoError(t, in.Sink.Close(), "Close again")
	assert.ErrorIs(t, in.Sink.WriteWindow(ctx, Window(0, map[string]uint64{"login": 1})), sink.ErrClosed, "WriteWindow after Close")
	assert.ErrorIs(t, in.Sink.WriteAlert(ctx, Alert("r", "k", 0)), sink.ErrClosed, "WriteAlert after Close")
	if fl, ok := in.Sink.(sink.Flusher); ok {
		assert.ErrorIs(t, fl.Flush(ctx), sink.ErrClosed, "Flush after Close")
	}
}

func (s *suite) closeFlushes(t *testing.T) {
	in := s.instance(t)
	ctx := s.ctx(t)
	if !s.f.AlertsOnly {
		for i := range 10 {
			require.NoError(t, in.Sink.WriteWindow(ctx, Window(i, map[string]uint64{"login": 3})))
		}
	}
	for i := range 5 {
		require.NoError(t, in.Sink.WriteAlert(ctx, Alert("r", fmt.Sprintf("k%d", i), i)))
	}
	require.NoError(t, in.Sink.Close(), "Close")
	if s.f.AlertsOnly {
		s.received(t, in, 5)
		return
	}
	s.checkHistory(t, in.Reader, query(sink.MetricEvents, "", 0, 10*time.Second, 10*time.Second), series{"events": {30}})
	s.checkHistory(t, in.Reader, query(sink.MetricAlerts, "", 0, 10*time.Second, 10*time.Second), series{"alerts": {5}})
}

func (s *suite) contextCancelled(t *testing.T) {
	in := s.instance(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, in.Sink.WriteWindow(cancelled, Window(0, map[string]uint64{"login": 100})), context.Canceled, "WriteWindow")
	assert.ErrorIs(t, in.Sink.WriteAlert(cancelled, Alert("cancelled", "k", 0)), context.Canceled, "WriteAlert")
	ctx := s.ctx(t)
	require.NoError(t, in.Sink.WriteWindow(ctx, Window(1, map[string]uint64{"login": 1})))
	require.NoError(t, in.Sink.WriteAlert(ctx, Alert("kept", "k", 1)))
	s.flush(t, in.Sink)
	if s.f.AlertsOnly {
		got := s.received(t, in, 1)
		assert.Equal(t, "kept", got[0].Rule)
		return
	}
	s.checkHistory(t, in.Reader, query(sink.MetricEvents, "", 0, 2*time.Second, time.Second), series{"events": {0, 1}})
	s.checkHistory(t, in.Reader, query(sink.MetricAlerts, sink.ByRule, 0, 2*time.Second, 2*time.Second), series{"kept": {1}})
	_, err := in.Reader.History(cancelled, query(sink.MetricEvents, "", 0, 2*time.Second, time.Second))
	assert.ErrorIs(t, err, context.Canceled, "History with a cancelled context")
}

func (s *suite) invalidInput(t *testing.T) {
	in := s.instance(t)
	ctx := s.ctx(t)
	if !s.f.AlertsOnly {
		w := Window(0, map[string]uint64{"login": 1})
		w.End = w.Start
		assert.ErrorIs(t, in.Sink.WriteWindow(ctx, w), sink.ErrInvalidWindow, "End not after Start")
		assert.ErrorIs(t, in.Sink.WriteWindow(ctx, sink.WindowResult{}), sink.ErrInvalidWindow, "zero window")
	}
	for name, mutate := range map[string]func(*anomaly.Alert){
		"no ID":          func(a *anomaly.Alert) { a.ID = "" },
		"no rule":        func(a *anomaly.Alert) { a.Rule = "" },
		"bad status":     func(a *anomaly.Alert) { a.Status = 0 },
		"zero FirstSeen": func(a *anomaly.Alert) { a.FirstSeen = time.Time{} },
	} {
		a := Alert("bad", "k", 0)
		mutate(&a)
		assert.ErrorIs(t, in.Sink.WriteAlert(ctx, a), sink.ErrInvalidAlert, name)
	}
	require.NoError(t, in.Sink.WriteAlert(ctx, Alert("good", "k", 0)))
	s.flush(t, in.Sink)
	if s.f.AlertsOnly {
		got := s.received(t, in, 1)
		assert.Equal(t, "good", got[0].Rule, "only the valid alert is sent")
		return
	}
	s.checkHistory(t, in.Reader, query(sink.MetricEvents, "", 0, time.Second, time.Second), nil)
	s.checkHistory(t, in.Reader, query(sink.MetricAlerts, sink.ByRule, 0, time.Second, time.Second), series{"good": {1}})
}

func (s *suite) hostileValues(t *testing.T) {
	in := s.instance(t)
	ctx := s.ctx(t)
	all := series{}
	for i, h := range Hostile {
		n := uint64(i + 1)
		require.NoError(t, in.Sink.WriteWindow(ctx, Window(i, map[string]uint64{h: n, "login": 1})), "event type %q", h)
		a := Alert(h, "k", i)
		require.NoError(t, in.Sink.WriteAlert(ctx, a), "rule %q", h)
		all[h] = []float64{float64(n)}
	}
	all["login"] = []float64{float64(len(Hostile))}
	s.flush(t, in.Sink)
	span := time.Duration(len(Hostile)) * time.Second
	s.checkHistory(t, in.Reader, query(sink.MetricEvents, sink.ByEventType, 0, span, span), all)
	for i, h := range Hostile {
		q := query(sink.MetricEvents, sink.ByEventType, 0, span, span)
		q.Filter = map[string]string{sink.ByEventType: h}
		s.checkHistory(t, in.Reader, q, series{h: {float64(i + 1)}})
		q = query(sink.MetricAlerts, sink.ByRule, 0, span, span)
		q.Filter = map[string]string{sink.ByRule: h}
		s.checkHistory(t, in.Reader, q, series{h: {1}})
	}
	// Values that were never written match nothing, however they look.
	for _, v := range []string{`login" or "1" == "1`, `.*`, `login\`, "login\x00", `") |> yield(name: "x") //`, strings.Repeat(`\"`, 100)} {
		q := query(sink.MetricEvents, sink.ByEventType, 0, span, span)
		q.Filter = map[string]string{sink.ByEventType: v}
		s.checkHistory(t, in.Reader, q, nil)
	}
}

func (s *suite) invalidQuery(t *testing.T) {
	in := s.instance(t)
	ctx := s.ctx(t)
	ok := query(sink.MetricEvents, "", 0, time.Hour, time.Minute)
	for _, tc := range []struct {
		name   string
		mutate func(*sink.Query)
		param  string
	}{
		{"unknown metric", func(q *sink.Query) { q.Metric = `events") |> drop(` }, "Metric"},
		{"bad group", func(q *sink.Query) { q.GroupBy = "userId" }, "GroupBy"},
		{"no start", func(q *sink.Query) { q.Start = time.Time{} }, "Start"},
		{"stop before start", func(q *sink.Query) { q.Stop = q.Start.Add(-time.Second) }, "Stop"},
		{"short interval", func(q *sink.Query) { q.Interval = time.Millisecond }, "Interval"},
		{"too many points", func(q *sink.Query) { q.Stop = q.Start.Add(24 * time.Hour); q.Interval = time.Second }, "Interval"},
		{"bad filter key", func(q *sink.Query) { q.Filter = map[string]string{`_measurement`: "x"} }, "Filter[_measurement]"},
		{"invalid UTF-8", func(q *sink.Query) { q.Filter = map[string]string{sink.ByEventType: "\xff"} }, "Filter[eventType]"},
	} {
		q := ok
		tc.mutate(&q)
		_, err := in.Reader.History(ctx, q)
		var qe *sink.QueryError
		if assert.ErrorAs(t, err, &qe, tc.name) {
			assert.Equal(t, tc.param, qe.Param, tc.name)
			assert.ErrorIs(t, err, sink.ErrInvalidQuery, tc.name)
		}
	}
}

func (s *suite) noGoroutinesLeft(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Run("use", func(t *testing.T) {
		in := s.instance(t)
		ctx := s.ctx(t)
		if !s.f.AlertsOnly {
			require.NoError(t, in.Sink.WriteWindow(ctx, Window(0, map[string]uint64{"login": 1})))
		}
		require.NoError(t, in.Sink.WriteAlert(ctx, Alert("r", "k", 0)))
		s.flush(t, in.Sink)
		require.NoError(t, in.Sink.Close())
	})
	// The subtest's cleanups (the instance's destination, reader) have run.
	if err := goleak.Find(before); err != nil {
		t.Errorf("goroutines left after Close: %v", err)
	}
}

package aggregate_test

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
)

func newGlobal(t testing.TB, cfg aggregate.GlobalConfig) *aggregate.Global {
	t.Helper()
	g, err := aggregate.NewGlobal(cfg)
	require.NoError(t, err)
	return g
}

func globalMetrics(t *testing.T, g *aggregate.Global, from, to time.Time) aggregate.Metrics {
	t.Helper()
	m, err := g.Metrics(from, to)
	require.NoError(t, err)
	return m
}

// processorOf is the processor that sees user's events when k processors
// share the partitions of a topic keyed by user ID.
func processorOf(user string, k int) string {
	h := fnv.New32a()
	h.Write([]byte(user))
	return fmt.Sprintf("p%d", h.Sum32()%uint32(k))
}

// partial is one processor's result of one window, as it goes on the wire.
type partial struct {
	source string
	start  time.Time
	data   []byte
}

// processors splits events by user among k processors, aggregates each
// processor's events into one Set per one-second window, and encodes them,
// in order of window, then processor.
func processors(t testing.TB, events []rdr.Event, k int, cfg aggregate.SetConfig) []partial {
	t.Helper()
	type key struct {
		source string
		start  time.Time
	}
	sets := map[key]*aggregate.Set{}
	for _, e := range events {
		k := key{processorOf(e.UserID, k), e.Time.Truncate(time.Second)}
		s := sets[k]
		if s == nil {
			s = newSet(t, cfg)
			require.NoError(t, s.SetSpan(k.start, k.start.Add(time.Second)))
			sets[k] = s
		}
		s.Add(e)
	}
	var out []partial
	for k, s := range sets {
		out = append(out, partial{k.source, k.start, marshal(t, s)})
	}
	slices.SortFunc(out, func(a, b partial) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return compareStrings(a.source, b.source)
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// putAll decodes each partial and puts it into g, as the global view's
// consumer does.
func putAll(t testing.TB, g *aggregate.Global, parts []partial) {
	t.Helper()
	var s aggregate.Set // reused, as a consumer would
	for _, p := range parts {
		require.NoError(t, s.UnmarshalBinary(p.data))
		require.NoError(t, g.Put(p.source, p.start, &s))
	}
}

// truthCounts returns the exact events per user and per IP in the
// one-second windows that overlap [from, to).
func truthCounts(events []rdr.Event, from, to time.Time) (users, ips map[string]uint64) {
	users, ips = map[string]uint64{}, map[string]uint64{}
	for _, e := range events {
		if w := e.Time.Truncate(time.Second); !w.Before(from.Truncate(time.Second)) && w.Before(to) {
			users[e.UserID]++
			ips[e.IP.String()]++
		}
	}
	return users, ips
}

// TestGlobalEqualsOneSeries splits a stream by user among 2 and 3
// processors, ships their per-window partials through the wire format into
// a Global, and checks Global.Metrics against one Series fed every event.
func TestGlobalEqualsOneSeries(t *testing.T) {
	ranges := []struct{ from, to time.Duration }{
		{0, 8 * time.Second},
		{2 * time.Second, 5 * time.Second},
		{1500 * time.Millisecond, 7200 * time.Millisecond}, // partly covered windows count whole
		{-time.Hour, time.Hour},
	}
	for _, tc := range []struct {
		name       string
		users, ips int
		cfg        aggregate.SetConfig
		full       bool // summaries fill up: top lists within the bound
	}{
		{"summaries not full: everything equal", 300, 100, aggregate.SetConfig{TopKCapacity: 1000}, false},
		{"past the distinct threshold: same registers", 3000, 300, aggregate.SetConfig{TopKCapacity: 1000, DistinctThreshold: 200}, false},
		{"summaries full: top lists within the bound", 3000, 1000, aggregate.SetConfig{}, true},
	} {
		events := newWorkload(tc.users, tc.ips).events(8_000, 21) // 8 windows of 1000 events
		one := newSeries(t, aggregate.SeriesConfig{Set: tc.cfg})
		for _, e := range events {
			require.NoError(t, one.Add(e))
		}
		for _, k := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s/%d processors", tc.name, k), func(t *testing.T) {
				g := newGlobal(t, aggregate.GlobalConfig{Set: tc.cfg})
				parts := processors(t, events, k, tc.cfg)
				putAll(t, g, parts)
				require.Len(t, g.Sources(), k)
				for _, r := range ranges {
					from, to := t0.Add(r.from), t0.Add(r.to)
					want := metricsOf(t, one, from, to)
					got := globalMetrics(t, g, from, to)
					if !tc.full {
						assert.Equal(t, want, got, "range %s to %s", r.from, r.to)
						continue
					}
					wantTops, gotTops := want.TopUsers, got.TopUsers
					wantIPs, gotIPs := want.TopIPs, got.TopIPs
					want.TopUsers, got.TopUsers, want.TopIPs, got.TopIPs = nil, nil, nil, nil
					assert.Equal(t, want, got, "range %s to %s, top lists aside", r.from, r.to)
					// Every summary merged overestimates by at most its
					// N/TopKCapacity: the merge by at most N/TopKCapacity.
					users, ips := truthCounts(events, from, to)
					bound := got.TotalEvents / 100
					for _, kc := range gotTops {
						assert.GreaterOrEqual(t, kc.Count, users[kc.Key], kc.Key)
						assert.LessOrEqual(t, kc.Count, users[kc.Key]+bound, kc.Key)
					}
					for _, kc := range gotIPs {
						assert.GreaterOrEqual(t, kc.Count, ips[kc.Key], kc.Key)
						assert.LessOrEqual(t, kc.Count, ips[kc.Key]+bound, kc.Key)
					}
					// A summary cannot know that users are disjoint across
					// processors: a user it does not monitor gets its Min, so
					// even the heaviest user's count is an estimate here.
					assert.Equal(t, wantTops[0].Key, gotTops[0].Key, "the heaviest user is far above the bound")
					assert.Equal(t, wantIPs[0].Key, gotIPs[0].Key, "the heaviest IP is far above the bound")
				}
				if tc.cfg.DistinctThreshold != 0 {
					users, _ := truthCounts(events, t0, t0.Add(8*time.Second))
					require.Greater(t, len(users), tc.cfg.DistinctThreshold, "the case must pass the threshold")
				}
			})
		}
	}
}

// TestGlobalPutReplacesWindow: a processor re-emitting a window (late
// events arrived) replaces its earlier partial; the same partial put twice
// counts once; other processors' partials are untouched.
func TestGlobalPutReplacesWindow(t *testing.T) {
	g := newGlobal(t, aggregate.GlobalConfig{Window: time.Minute})
	window := func(events []rdr.Event) *aggregate.Set {
		s := newSet(t, aggregate.SetConfig{})
		for _, e := range events {
			s.Add(e)
		}
		return unmarshal(t, marshal(t, s))
	}
	ten := tenEvents() // users u-1..u-4, all within the minute from t0
	other := window([]rdr.Event{ev(0, "logout", "u-9", "10.0.0.9", rdr.SeverityLow), ev(time.Second, "logout", "u-9", "10.0.0.9", rdr.SeverityLow)})
	require.NoError(t, g.Put("p1", t0, window(ten[:5])))
	require.NoError(t, g.Put("p2", t0, other))
	m := globalMetrics(t, g, t0, t0.Add(time.Minute))
	assert.Equal(t, uint64(7), m.TotalEvents)
	assert.Equal(t, uint64(4), m.ActiveUsers, "u-1, u-2, u-3 from p1; u-9 from p2")

	late := window(ten) // the re-emitted window: the first five and five late events
	require.NoError(t, g.Put("p1", t0, late))
	require.NoError(t, g.Put("p1", t0, late), "the same partial again")
	m = globalMetrics(t, g, t0, t0.Add(time.Minute))
	assert.Equal(t, aggregate.Metrics{
		From: t0, To: t0.Add(time.Minute), TotalEvents: 12, EventsPerSecond: 0.2, ActiveUsers: 5,
		TopEventTypes: []aggregate.KeyCount{{Key: "login", Count: 4}, {Key: "login_failed", Count: 4}, {Key: "logout", Count: 3}, {Key: "api_call", Count: 1}},
		BySeverity:    aggregate.BySeverity{0, 6, 2, 3, 1},
		TopUsers:      []aggregate.KeyCount{{Key: "u-2", Count: 4}, {Key: "u-1", Count: 3}, {Key: "u-3", Count: 2}, {Key: "u-9", Count: 2}, {Key: "u-4", Count: 1}},
		TopIPs:        []aggregate.KeyCount{{Key: "10.0.0.1", Count: 4}, {Key: "10.0.0.2", Count: 3}, {Key: "10.0.0.9", Count: 2}, {Key: "10.0.0.3", Count: 1}, {Key: "2001:db8::1", Count: 1}},
		ByType:        map[string]uint64{"login": 4, "login_failed": 4, "logout": 3, "api_call": 1},
	}, m)
	assert.Equal(t, uint64(10), late.Total(), "the Set put is not changed")
	assert.Equal(t, []aggregate.SourceInfo{{Name: "p1", LastWindow: t0, Windows: 1}, {Name: "p2", LastWindow: t0, Windows: 1}}, g.Sources())

	// An uncompacted Set may be put too: the Global keeps a compact copy.
	full := newSet(t, aggregate.SetConfig{})
	for _, e := range ten {
		full.Add(e)
	}
	require.NoError(t, g.Put("p1", t0, full))
	assert.Equal(t, m, globalMetrics(t, g, t0, t0.Add(time.Minute)))
	require.NoError(t, g.Put("p2", t0, nil), "a nil Set is an empty window")
	assert.Equal(t, uint64(10), globalMetrics(t, g, t0, t0.Add(time.Minute)).TotalEvents)
}

func TestGlobalPutErrors(t *testing.T) {
	g := newGlobal(t, aggregate.GlobalConfig{Size: 3, MaxSources: 2})
	one := unmarshal(t, marshal(t, tinySet(t)))
	require.NoError(t, g.Put("p1", t0.Add(10*time.Second), one))
	require.NoError(t, g.Put("p2", t0.Add(8*time.Second), one), "the oldest window in range")

	err := g.Put("p1", t0.Add(1500*time.Millisecond), one)
	require.ErrorIs(t, err, aggregate.ErrInvalidRange)
	assert.Equal(t, `aggregate: source "p1": aggregate: invalid time range: 2026-11-26T10:00:01.5Z is not a window start `+
		`(windows are 1s long, aligned to the Unix epoch)`, err.Error())

	err = g.Put("p2", t0.Add(7*time.Second), one)
	require.ErrorIs(t, err, aggregate.ErrOutOfRange)
	assert.Equal(t, `aggregate: source "p2": aggregate: older than the series keeps: window 2026-11-26T10:00:07Z `+
		`starts before the oldest window kept, 2026-11-26T10:00:08Z`, err.Error())

	err = g.Put("p3", t0.Add(10*time.Second), one)
	require.ErrorIs(t, err, aggregate.ErrTooManySources)
	assert.Equal(t, `aggregate: source "p3": aggregate: too many sources: 2 are held (MaxSources)`, err.Error())

	_, err = g.Metrics(t0, t0)
	require.ErrorIs(t, err, aggregate.ErrInvalidRange)

	// Nothing was recorded by the refused puts.
	assert.Equal(t, uint64(6), globalMetrics(t, g, t0, t0.Add(time.Hour)).TotalEvents)
	assert.Equal(t, []aggregate.SourceInfo{
		{Name: "p1", LastWindow: t0.Add(10 * time.Second), Windows: 1},
		{Name: "p2", LastWindow: t0.Add(8 * time.Second), Windows: 1},
	}, g.Sources())
}

// oneEvent is a decoded partial holding one event.
func oneEvent(t *testing.T, user string) *aggregate.Set {
	s := newSet(t, aggregate.SetConfig{})
	s.Add(ev(0, "login", user, "10.0.0.1", rdr.SeverityLow))
	return unmarshal(t, marshal(t, s))
}

// TestGlobalSourceTTL: a source silent for more than SourceTTL of event
// time — the newest window put by anyone is that far past its own newest —
// is dropped with its windows.
func TestGlobalSourceTTL(t *testing.T) {
	g := newGlobal(t, aggregate.GlobalConfig{Size: 10, SourceTTL: 3 * time.Second})
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for s := range 2 {
		require.NoError(t, g.Put("p2", at(s), oneEvent(t, "u-2")))
	}
	for s := range 5 { // p1 reaches window 4: p2 (newest 1) has been silent 3s
		require.NoError(t, g.Put("p1", at(s), oneEvent(t, "u-1")))
	}
	assert.Equal(t, []aggregate.SourceInfo{{Name: "p1", LastWindow: at(4), Windows: 5}, {Name: "p2", LastWindow: at(1), Windows: 2}}, g.Sources())
	assert.Equal(t, uint64(7), globalMetrics(t, g, t0, at(10)).TotalEvents)

	require.NoError(t, g.Put("p1", at(5), oneEvent(t, "u-1"))) // 4s: p2 is dropped
	assert.Equal(t, []aggregate.SourceInfo{{Name: "p1", LastWindow: at(5), Windows: 6}}, g.Sources())
	m := globalMetrics(t, g, t0, at(10))
	assert.Equal(t, uint64(6), m.TotalEvents)
	assert.Equal(t, uint64(1), m.ActiveUsers)

	require.NoError(t, g.Put("p2", at(5), oneEvent(t, "u-2")), "a dropped source may come back")
	assert.Equal(t, []aggregate.SourceInfo{{Name: "p1", LastWindow: at(5), Windows: 6}, {Name: "p2", LastWindow: at(5), Windows: 1}}, g.Sources())
}

// TestGlobalRange: the view covers the last Size windows; by default a
// source is dropped once none of its windows is in range.
func TestGlobalRange(t *testing.T) {
	g := newGlobal(t, aggregate.GlobalConfig{Size: 3})
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	require.NoError(t, g.Put("p1", at(0), oneEvent(t, "u-1")))
	for s := range 4 {
		require.NoError(t, g.Put("p2", at(s), oneEvent(t, "u-2")))
	}
	assert.Equal(t, []aggregate.SourceInfo{{Name: "p1", LastWindow: at(0), Windows: 0}, {Name: "p2", LastWindow: at(3), Windows: 3}}, g.Sources())
	m := globalMetrics(t, g, t0, at(60))
	assert.Equal(t, uint64(3), m.TotalEvents, "windows 1 to 3")
	assert.Equal(t, at(1), m.From, "the range starts at the oldest window in the view")
	assert.Equal(t, 3.0/59, m.EventsPerSecond)

	require.NoError(t, g.Put("p2", at(4), oneEvent(t, "u-2")))
	assert.Equal(t, []aggregate.SourceInfo{{Name: "p2", LastWindow: at(4), Windows: 3}}, g.Sources())

	empty := newGlobal(t, aggregate.GlobalConfig{})
	m = globalMetrics(t, empty, t0, at(60))
	assert.Equal(t, aggregate.Metrics{From: t0, To: at(60), TopEventTypes: []aggregate.KeyCount{}, TopUsers: []aggregate.KeyCount{},
		TopIPs: []aggregate.KeyCount{}, ByType: map[string]uint64{}}, m)
	assert.Empty(t, empty.Sources())
}

// TestGlobalConcurrentUse puts from several goroutines (one per processor)
// while others read; run with -race.
func TestGlobalConcurrentUse(t *testing.T) {
	events := newWorkload(1000, 100).events(6000, 8)
	parts := processors(t, events, 3, aggregate.SetConfig{})
	g := newGlobal(t, aggregate.GlobalConfig{})
	var wg sync.WaitGroup
	for p := range 3 {
		wg.Go(func() {
			var s aggregate.Set
			for _, part := range parts {
				if part.source != fmt.Sprintf("p%d", p) {
					continue
				}
				if assert.NoError(t, s.UnmarshalBinary(part.data)) {
					assert.NoError(t, g.Put(part.source, part.start, &s))
					assert.NoError(t, g.Put(part.source, part.start, &s), "re-emitted")
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 50 {
				_, err := g.Metrics(t0, t0.Add(time.Minute))
				assert.NoError(t, err)
				assert.LessOrEqual(t, len(g.Sources()), 3)
			}
		})
	}
	wg.Wait()
	m := globalMetrics(t, g, t0, t0.Add(time.Minute))
	assert.Equal(t, uint64(6000), m.TotalEvents)
	users, _ := truthCounts(events, t0, t0.Add(time.Minute))
	assert.Equal(t, uint64(len(users)), m.ActiveUsers)
}

func TestNewGlobalInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  aggregate.GlobalConfig
		want string
	}{
		{aggregate.GlobalConfig{Window: time.Microsecond}, "Window must be between 1ms and 24h, got 1µs"},
		{aggregate.GlobalConfig{Size: -1}, "Size must be between 0 (default) and 1048576, got -1"},
		{aggregate.GlobalConfig{Size: 1 << 20, Window: 24 * time.Hour}, "Size × Window must be at most 146 years, got 1048576 × 24h0m0s"},
		{aggregate.GlobalConfig{SourceTTL: 500 * time.Millisecond}, "SourceTTL must be 0 (default) or at least Window (1s), got 500ms"},
		{aggregate.GlobalConfig{SourceTTL: -time.Second}, "SourceTTL must be 0 (default) or at least Window (1s), got -1s"},
		{aggregate.GlobalConfig{MaxSources: -1}, "MaxSources must be between 0 (default) and 4096, got -1"},
		{aggregate.GlobalConfig{MaxSources: 5000}, "MaxSources must be between 0 (default) and 4096, got 5000"},
		{aggregate.GlobalConfig{Set: aggregate.SetConfig{TopN: -1}}, "Set: TopN must be between 0 (default) and 1000, got -1"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := aggregate.NewGlobal(tc.cfg)
			require.Error(t, err)
			assert.True(t, errors.Is(err, aggregate.ErrInvalidConfig))
			assert.Equal(t, "aggregate: invalid config: "+tc.want, err.Error())
		})
	}
	assert.Equal(t, aggregate.GlobalConfig{
		Window: time.Second, Size: 300, SourceTTL: 5 * time.Minute, MaxSources: 64,
		Set: aggregate.SetConfig{TopN: 10, TopKCapacity: 100, DistinctThreshold: 4096},
	}, newGlobal(t, aggregate.GlobalConfig{}).Config())
	assert.Equal(t, 30*time.Second, newGlobal(t, aggregate.GlobalConfig{Window: 100 * time.Millisecond, Size: 300}).Config().SourceTTL)
}

func ExampleGlobal() {
	global, err := aggregate.NewGlobal(aggregate.GlobalConfig{Window: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	// Two processors, each seeing its own users, fire their partial result
	// of the window [start, start+1s) and send it on, encoded.
	var wire [][]byte
	for p := range 2 {
		window, _ := aggregate.NewSet(aggregate.SetConfig{})
		_ = window.SetSpan(start, start.Add(time.Second))
		for i := range 10 * (p + 1) {
			window.Add(rdr.Event{Time: start, Type: "login_failed", UserID: fmt.Sprintf("u-%d-%d", p, i%3), Severity: rdr.SeverityHigh})
		}
		data, _ := window.MarshalBinary()
		wire = append(wire, data)
	}
	// The global view decodes each partial and puts it under its source;
	// a partial sent twice (a re-emitted window) replaces the first.
	for _, i := range []int{0, 1, 1} {
		var partial aggregate.Set
		if err := partial.UnmarshalBinary(wire[i]); err != nil {
			fmt.Println(err)
			return
		}
		if err := global.Put(fmt.Sprintf("processor-%d", i), start, &partial); err != nil {
			fmt.Println(err)
			return
		}
	}
	m, _ := global.Metrics(start, start.Add(time.Second))
	fmt.Println(m.TotalEvents, m.ActiveUsers, m.TopUsers[0])
	for _, s := range global.Sources() {
		fmt.Println(s.Name, s.LastWindow.Format(time.TimeOnly), s.Windows)
	}
	// Output:
	// 30 6 {u-1-0 7}
	// processor-0 10:00:00 1
	// processor-1 10:00:00 1
}

// BenchmarkGlobalPut puts a decoded busy window (10,000 users) from one of
// three processors.
func BenchmarkGlobalPut(b *testing.B) {
	partial := unmarshal(b, marshal(b, busyWindow(b, 10_000)))
	g := newGlobal(b, aggregate.GlobalConfig{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := g.Put(fmt.Sprintf("p%d", i%3), t0.Add(time.Duration(i/3)*time.Second), partial); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGlobalMetrics5m merges five minutes of one-second windows from
// three processors (1000 events per window in all).
func BenchmarkGlobalMetrics5m(b *testing.B) {
	events := newWorkload(100_000, 10_000).events(300_000, 1)
	g := newGlobal(b, aggregate.GlobalConfig{})
	putAll(b, g, processors(b, events, 3, aggregate.SetConfig{}))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := g.Metrics(t0, t0.Add(5*time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
}

// A Global with KeepUsers answers User over its sources' windows, as a
// Series does over its own; a compacting Global keeps no activity.
func TestGlobalKeepUsersAnswersUser(t *testing.T) {
	for _, keep := range []bool{true, false} {
		g := newGlobal(t, aggregate.GlobalConfig{KeepUsers: keep})
		for i, source := range []string{"in/0", "in/1"} {
			set := newSet(t, aggregate.SetConfig{})
			require.NoError(t, set.SetSpan(t0, t0.Add(time.Second)))
			set.Add(ev(time.Duration(100*(i+1))*time.Millisecond, "login", "alice", "", rdr.SeverityLow))
			set.Add(ev(900*time.Millisecond, "login", "bob", "", rdr.SeverityLow))
			require.NoError(t, g.Put(source, t0, set))
		}
		alice, err := g.User("alice", t0, t0.Add(time.Second))
		require.NoError(t, err)
		if !keep {
			assert.Zero(t, alice.Count, "compacted windows hold no activity")
			continue
		}
		assert.Equal(t, uint64(2), alice.Count, "alice's events in both sources")
		assert.Equal(t, t0.Add(100*time.Millisecond), alice.FirstSeen)
		assert.Equal(t, t0.Add(200*time.Millisecond), alice.LastSeen)
		m := globalMetrics(t, g, t0, t0.Add(time.Second))
		require.NotEmpty(t, m.TopUsers)
		assert.Equal(t, aggregate.KeyCount{Key: "alice", Count: 2}, m.TopUsers[0])
		_, err = g.User("alice", t0, t0)
		assert.ErrorIs(t, err, aggregate.ErrInvalidRange)
	}
}

// BenchmarkGlobalPutKeepUsers puts busy windows (10,000 users, 1,000
// addresses) into a Global that keeps users, as the processor's live view
// does: every Put of a new window copies the window's per-user and per-IP
// tables into a Set of its own. A fresh Global every 30 windows, so most
// Puts copy into an empty Set, as while the live view's ring fills.
func BenchmarkGlobalPutKeepUsers(b *testing.B) {
	window := busyWindow(b, 10_000)
	var g *aggregate.Global
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%30 == 0 {
			g = newGlobal(b, aggregate.GlobalConfig{KeepUsers: true})
		}
		if err := g.Put("p", t0.Add(time.Duration(i%30)*time.Second), window); err != nil {
			b.Fatal(err)
		}
	}
}

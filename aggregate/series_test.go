package aggregate_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
)

func newSeries(t testing.TB, cfg aggregate.SeriesConfig) *aggregate.Series {
	t.Helper()
	s, err := aggregate.NewSeries(cfg)
	require.NoError(t, err)
	return s
}

func metricsOf(t *testing.T, s *aggregate.Series, from, to time.Time) aggregate.Metrics {
	t.Helper()
	m, err := s.Metrics(from, to)
	require.NoError(t, err)
	return m
}

func TestSeriesMetricsRanges(t *testing.T) {
	s := newSeries(t, aggregate.SeriesConfig{Size: 10})
	add := func(offset time.Duration, user string) {
		require.NoError(t, s.Add(ev(offset, "login", user, "10.0.0.1", rdr.SeverityLow)))
	}
	// Window 0: 3 events; 1: 2; 2: 4; 5 (the open one): 1.
	for _, o := range []time.Duration{0, 100, 900} {
		add(o*time.Millisecond, "u-1")
	}
	add(1100*time.Millisecond, "u-2")
	add(1999*time.Millisecond, "u-1")
	for range 4 {
		add(2*time.Second, "u-3")
	}
	add(5500*time.Millisecond, "u-4")

	for _, tc := range []struct {
		name     string
		from, to time.Duration
		total    uint64
		users    uint64
		spanFrom time.Duration
		rate     float64
	}{
		{"all closed windows and the open one", 0, 6 * time.Second, 10, 4, 0, 10.0 / 6},
		{"two closed windows", time.Second, 3 * time.Second, 6, 3, time.Second, 3},
		{"partly covered windows count whole", 500 * time.Millisecond, 1500 * time.Millisecond, 5, 2, 0, 5 / 1.5},
		{"open window up to now", 5 * time.Second, 5600 * time.Millisecond, 1, 1, 5 * time.Second, 1 / 0.6},
		{"empty windows between", 3 * time.Second, 5 * time.Second, 0, 0, 3 * time.Second, 0},
		{"before the first window", -time.Hour, 3 * time.Second, 9, 3, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := metricsOf(t, s, t0.Add(tc.from), t0.Add(tc.to))
			assert.Equal(t, tc.total, m.TotalEvents)
			assert.Equal(t, tc.users, m.ActiveUsers)
			assert.Equal(t, t0.Add(tc.spanFrom), m.From)
			assert.Equal(t, t0.Add(tc.to), m.To)
			assert.InDelta(t, tc.rate, m.EventsPerSecond, 1e-9)
		})
	}

	m := metricsOf(t, s, t0, t0.Add(6*time.Second))
	assert.Equal(t, []aggregate.KeyCount{{Key: "u-1", Count: 4}, {Key: "u-3", Count: 4}, {Key: "u-2", Count: 1}, {Key: "u-4", Count: 1}}, m.TopUsers)
	assert.Equal(t, aggregate.BySeverity{0, 10, 0, 0, 0}, m.BySeverity)

	_, err := s.Metrics(t0, t0)
	require.Error(t, err)
	assert.True(t, errors.Is(err, aggregate.ErrInvalidRange))
	assert.Equal(t, "aggregate: invalid time range: to 2026-11-26T10:00:00Z is not after from 2026-11-26T10:00:00Z", err.Error())
}

func TestSeriesEmpty(t *testing.T) {
	s := newSeries(t, aggregate.SeriesConfig{})
	m := metricsOf(t, s, t0, t0.Add(time.Minute))
	assert.Equal(t, uint64(0), m.TotalEvents)
	assert.Equal(t, t0, m.From)
	assert.Equal(t, t0.Add(time.Minute), m.To)
	assert.NotNil(t, m.TopUsers)
}

// TestSeriesMetricsEqualsSet checks a range merged from one-second windows
// against one Set fed the same events, with and without compaction.
func TestSeriesMetricsEqualsSet(t *testing.T) {
	events := newWorkload(3_000, 300).events(8_000, 4) // 8 s of events
	whole := newSet(t, aggregate.SetConfig{})
	require.NoError(t, whole.SetSpan(t0, t0.Add(8*time.Second)))
	truthUsers := map[string]uint64{}
	for _, e := range events {
		whole.Add(e)
		truthUsers[e.UserID]++
	}
	want := whole.Metrics()

	t.Run("full windows: equal", func(t *testing.T) {
		s := newSeries(t, aggregate.SeriesConfig{})
		for _, e := range events {
			require.NoError(t, s.Add(e))
		}
		assert.Equal(t, want, metricsOf(t, s, t0, t0.Add(8*time.Second)))
	})
	t.Run("compacted windows: exact counts, top lists within the bound", func(t *testing.T) {
		s := newSeries(t, aggregate.SeriesConfig{CompactClosed: true, Set: aggregate.SetConfig{TopKCapacity: 50}})
		for _, e := range events {
			require.NoError(t, s.Add(e))
		}
		got := metricsOf(t, s, t0, t0.Add(8*time.Second))
		assert.Equal(t, want.TotalEvents, got.TotalEvents)
		assert.Equal(t, want.ActiveUsers, got.ActiveUsers)
		assert.Equal(t, want.BySeverity, got.BySeverity)
		assert.Equal(t, want.ByType, got.ByType)
		assert.Equal(t, want.TopEventTypes, got.TopEventTypes)
		// Eight merged summaries of capacity 50: each overestimates by at
		// most its window's N/50, so the merged count by at most N/50.
		bound := got.TotalEvents / 50
		for _, kc := range got.TopUsers {
			assert.GreaterOrEqual(t, kc.Count, truthUsers[kc.Key])
			assert.LessOrEqual(t, kc.Count-truthUsers[kc.Key], bound)
		}
		assert.Equal(t, want.TopUsers[0], got.TopUsers[0], "the heaviest user is far above the bound")
	})
}

func TestSeriesRingEvictsOldWindows(t *testing.T) {
	s := newSeries(t, aggregate.SeriesConfig{Size: 3})
	for i := range 4 { // windows 0..3: window 0 falls out
		require.NoError(t, s.Add(ev(time.Duration(i)*time.Second, "login", fmt.Sprint("u-", i), "", rdr.SeverityLow)))
	}
	m := metricsOf(t, s, t0, t0.Add(4*time.Second))
	assert.Equal(t, uint64(3), m.TotalEvents)
	assert.Equal(t, t0.Add(time.Second), m.From, "the range starts at the oldest window kept")
	assert.Equal(t, 1.0, m.EventsPerSecond)

	err := s.Add(ev(999*time.Millisecond, "login", "u-late", "", rdr.SeverityLow))
	require.Error(t, err)
	assert.True(t, errors.Is(err, aggregate.ErrOutOfRange))
	assert.Equal(t, "aggregate: event at 2026-11-26T10:00:00.999Z: aggregate: older than the series keeps: "+
		"window 2026-11-26T10:00:00Z starts before the oldest window kept, 2026-11-26T10:00:01Z", err.Error())

	// A late event for a window still kept is counted there.
	require.NoError(t, s.Add(ev(1500*time.Millisecond, "login", "u-late", "", rdr.SeverityLow)))
	m = metricsOf(t, s, t0.Add(time.Second), t0.Add(2*time.Second))
	assert.Equal(t, uint64(2), m.TotalEvents)

	// A jump far ahead recycles every window.
	require.NoError(t, s.Add(ev(time.Hour, "login", "u-9", "", rdr.SeverityLow)))
	m = metricsOf(t, s, t0, t0.Add(2*time.Hour))
	assert.Equal(t, uint64(1), m.TotalEvents)
}

func TestSeriesPut(t *testing.T) {
	s := newSeries(t, aggregate.SeriesConfig{Window: time.Minute, Size: 5})
	window := newSet(t, aggregate.SetConfig{})
	for _, e := range tenEvents() {
		window.Add(e)
	}
	require.NoError(t, s.Put(t0, window))
	require.NoError(t, s.Put(t0, window), "a re-emitted window replaces the first")
	m := metricsOf(t, s, t0, t0.Add(time.Minute))
	assert.Equal(t, uint64(10), m.TotalEvents)
	assert.Equal(t, uint64(4), m.ActiveUsers)
	assert.Equal(t, aggregate.KeyCount{Key: "u-2", Count: 4}, m.TopUsers[0])
	assert.Equal(t, uint64(10), window.Total(), "the Set put is not changed")

	u, err := s.User("u-1", t0, t0.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, aggregate.UserActivity{Count: 3, FirstSeen: t0, LastSeen: t0.Add(8 * time.Second)}, u)

	err = s.Put(t0.Add(time.Second), window)
	require.Error(t, err)
	assert.True(t, errors.Is(err, aggregate.ErrInvalidRange))
	assert.Equal(t, "aggregate: invalid time range: 2026-11-26T10:00:01Z is not a window start (windows are 1m0s long, aligned to the Unix epoch)", err.Error())

	require.NoError(t, s.Put(t0.Add(10*time.Minute), window))
	err = s.Put(t0, window)
	require.Error(t, err)
	assert.True(t, errors.Is(err, aggregate.ErrOutOfRange))
}

func TestSeriesUser(t *testing.T) {
	s := newSeries(t, aggregate.SeriesConfig{})
	for _, e := range tenEvents() { // one event per second
		require.NoError(t, s.Add(e))
	}
	u, err := s.User("u-2", t0.Add(2*time.Second), t0.Add(10*time.Second))
	require.NoError(t, err)
	assert.Equal(t, aggregate.UserActivity{Count: 3, FirstSeen: t0.Add(2 * time.Second), LastSeen: t0.Add(9 * time.Second)}, u)
	u, err = s.User("nobody", t0, t0.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, aggregate.UserActivity{}, u)
	_, err = s.User("u-2", t0, t0.Add(-time.Second))
	assert.True(t, errors.Is(err, aggregate.ErrInvalidRange))
}

func TestSeriesCompactClosedKeepsOpenWindowActivity(t *testing.T) {
	s := newSeries(t, aggregate.SeriesConfig{CompactClosed: true})
	require.NoError(t, s.Add(ev(0, "login", "u-1", "10.0.0.1", rdr.SeverityLow)))
	u, err := s.User("u-1", t0, t0.Add(time.Second))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), u.Count, "the open window keeps activity")

	require.NoError(t, s.Add(ev(time.Second, "login", "u-1", "10.0.0.1", rdr.SeverityLow)))
	u, err = s.User("u-1", t0, t0.Add(2*time.Second))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), u.Count, "the closed window dropped its activity")

	// A late event into the compacted window still counts.
	require.NoError(t, s.Add(ev(500*time.Millisecond, "login", "u-2", "10.0.0.1", rdr.SeverityLow)))
	m := metricsOf(t, s, t0, t0.Add(2*time.Second))
	assert.Equal(t, uint64(3), m.TotalEvents)
	assert.Equal(t, uint64(2), m.ActiveUsers)
	assert.Equal(t, []aggregate.KeyCount{{Key: "u-1", Count: 2}, {Key: "u-2", Count: 1}}, m.TopUsers)
	assert.Equal(t, []aggregate.KeyCount{{Key: "10.0.0.1", Count: 3}}, m.TopIPs)
}

// TestSeriesConcurrentUse adds from several goroutines while others read;
// run with -race.
func TestSeriesConcurrentUse(t *testing.T) {
	s := newSeries(t, aggregate.SeriesConfig{})
	events := newWorkload(1000, 100).events(4000, 8)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(events); i += 4 {
				assert.NoError(t, s.Add(events[i]))
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 50 {
				_, err := s.Metrics(t0, t0.Add(time.Minute))
				assert.NoError(t, err)
				_, err = s.User(events[0].UserID, t0, t0.Add(time.Minute))
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, uint64(4000), metricsOf(t, s, t0, t0.Add(time.Minute)).TotalEvents)
}

func TestNewSeriesInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  aggregate.SeriesConfig
		want string
	}{
		{aggregate.SeriesConfig{Window: time.Microsecond}, "Window must be between 1ms and 24h, got 1µs"},
		{aggregate.SeriesConfig{Window: -time.Second}, "Window must be between 1ms and 24h, got -1s"},
		{aggregate.SeriesConfig{Size: -1}, "Size must be between 0 (default) and 1048576, got -1"},
		{aggregate.SeriesConfig{Set: aggregate.SetConfig{TopN: -1}}, "Set: TopN must be between 0 (default) and 1000, got -1"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := aggregate.NewSeries(tc.cfg)
			require.Error(t, err)
			assert.True(t, errors.Is(err, aggregate.ErrInvalidConfig))
			assert.Equal(t, "aggregate: invalid config: "+tc.want, err.Error())
		})
	}
	s := newSeries(t, aggregate.SeriesConfig{})
	assert.Equal(t, time.Second, s.Config().Window)
	assert.Equal(t, 300, s.Config().Size)
}

func ExampleNewSeries() {
	s, err := aggregate.NewSeries(aggregate.SeriesConfig{Window: time.Second, Size: 300})
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i := range 30 { // 30 events over 3 seconds
		_ = s.Add(rdr.Event{
			Time:     start.Add(time.Duration(i) * 100 * time.Millisecond),
			Type:     "login_failed",
			UserID:   fmt.Sprintf("u-%d", i%4),
			Severity: rdr.SeverityHigh,
		})
	}
	m, _ := s.Metrics(start, start.Add(3*time.Second))
	fmt.Println(m.TotalEvents, m.EventsPerSecond, m.ActiveUsers, m.TopUsers[0])
	m, _ = s.Metrics(start.Add(2*time.Second), start.Add(3*time.Second)) // the open window
	fmt.Println(m.TotalEvents)
	// Output:
	// 30 10 4 {u-0 8}
	// 10
}

func BenchmarkSeriesAdd(b *testing.B) {
	const n = 1 << 18
	events := newWorkload(100_000, 10_000).events(n, 1) // 1 ms apart: ~262 windows
	s := newSeries(b, aggregate.SeriesConfig{})
	for _, e := range events {
		_ = s.Add(e)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		_ = s.Add(events[i&(n-1)])
	}
}

// BenchmarkSeriesMetrics5m merges five minutes of one-second windows with
// 1000 events each.
func BenchmarkSeriesMetrics5m(b *testing.B) {
	for _, compact := range []bool{false, true} {
		b.Run(fmt.Sprintf("compact=%v", compact), func(b *testing.B) {
			events := newWorkload(100_000, 10_000).events(300_000, 1)
			s := newSeries(b, aggregate.SeriesConfig{CompactClosed: compact})
			for _, e := range events {
				_ = s.Add(e)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := s.Metrics(t0, t0.Add(5*time.Minute)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

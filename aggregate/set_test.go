package aggregate_test

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
)

func newSet(t testing.TB, cfg aggregate.SetConfig) *aggregate.Set {
	t.Helper()
	s, err := aggregate.NewSet(cfg)
	require.NoError(t, err)
	return s
}

// tenEvents is a small window whose every number is worked out by hand in
// TestSetMetrics.
func tenEvents() []rdr.Event {
	return []rdr.Event{
		ev(0, "login", "u-1", "10.0.0.1", rdr.SeverityLow),
		ev(1*time.Second, "login_failed", "u-2", "10.0.0.2", rdr.SeverityHigh),
		ev(2*time.Second, "login_failed", "u-2", "10.0.0.2", rdr.SeverityHigh),
		ev(3*time.Second, "login", "u-3", "10.0.0.1", rdr.SeverityMedium),
		ev(4*time.Second, "login_failed", "u-2", "10.0.0.3", rdr.SeverityCritical),
		ev(5*time.Second, "logout", "u-1", "", rdr.SeverityLow),
		ev(6*time.Second, "login", "u-4", "2001:db8::1", rdr.SeverityLow),
		ev(7*time.Second, "api_call", "u-3", "10.0.0.1", rdr.SeverityMedium),
		ev(8*time.Second, "login_failed", "u-1", "10.0.0.2", rdr.SeverityHigh),
		ev(9*time.Second, "login", "u-2", "10.0.0.1", rdr.SeverityLow),
	}
}

func TestSetMetrics(t *testing.T) {
	s := newSet(t, aggregate.SetConfig{TopN: 3})
	require.NoError(t, s.SetSpan(t0, t0.Add(10*time.Second)))
	for _, e := range tenEvents() {
		s.Add(e)
	}
	assert.Equal(t, aggregate.Metrics{
		From:            t0,
		To:              t0.Add(10 * time.Second),
		TotalEvents:     10,
		EventsPerSecond: 1,
		ActiveUsers:     4,
		// login and login_failed tie at 4: key ascending.
		TopEventTypes: []aggregate.KeyCount{{Key: "login", Count: 4}, {Key: "login_failed", Count: 4}, {Key: "api_call", Count: 1}},
		BySeverity:    aggregate.BySeverity{0, 4, 2, 3, 1},
		TopUsers:      []aggregate.KeyCount{{Key: "u-2", Count: 4}, {Key: "u-1", Count: 3}, {Key: "u-3", Count: 2}},
		TopIPs:        []aggregate.KeyCount{{Key: "10.0.0.1", Count: 4}, {Key: "10.0.0.2", Count: 3}, {Key: "10.0.0.3", Count: 1}},
		ByType:        map[string]uint64{"login": 4, "login_failed": 4, "logout": 1, "api_call": 1},
	}, s.Metrics())

	assert.Equal(t, uint64(10), s.Total())
	u1, ok := s.User("u-1")
	assert.True(t, ok)
	assert.Equal(t, aggregate.UserActivity{Count: 3, FirstSeen: t0, LastSeen: t0.Add(8 * time.Second)}, u1)
	_, ok = s.User("u-9")
	assert.False(t, ok)
}

// TestSetTopListsTieBreak: equal counts are ordered by key, IPv4 before
// IPv6, whatever the arrival order.
func TestSetTopListsTieBreak(t *testing.T) {
	s := newSet(t, aggregate.SetConfig{})
	s.Add(ev(0, "b", "u-b", "2001:db8::1", rdr.SeverityLow))
	s.Add(ev(0, "a", "u-a", "10.0.0.9", rdr.SeverityLow))
	s.Add(ev(0, "c", "u-c", "10.0.0.1", rdr.SeverityLow))
	m := s.Metrics()
	assert.Equal(t, []aggregate.KeyCount{{Key: "a", Count: 1}, {Key: "b", Count: 1}, {Key: "c", Count: 1}}, m.TopEventTypes)
	assert.Equal(t, []aggregate.KeyCount{{Key: "u-a", Count: 1}, {Key: "u-b", Count: 1}, {Key: "u-c", Count: 1}}, m.TopUsers)
	assert.Equal(t, []aggregate.KeyCount{{Key: "10.0.0.1", Count: 1}, {Key: "10.0.0.9", Count: 1}, {Key: "2001:db8::1", Count: 1}}, m.TopIPs)
	assert.True(t, m.From.IsZero(), "no span set")
	assert.Equal(t, 0.0, m.EventsPerSecond)
}

// TestSetTopUsersExact: with far more users than TopKCapacity, a Set
// reports the exact top users.
func TestSetTopUsersExact(t *testing.T) {
	events := newWorkload(20_000, 2_000).events(100_000, 11)
	s := newSet(t, aggregate.SetConfig{TopN: 20, TopKCapacity: 40})
	var users aggregate.Activity
	var ips aggregate.CountsBy[string]
	for _, e := range events {
		s.Add(e)
		users.Add(e.UserID, e.Time)
		ips.Add(e.IP.String())
	}
	m := s.Metrics()
	var want []aggregate.KeyCount
	for _, it := range users.Top(20) {
		want = append(want, aggregate.KeyCount{Key: it.Key, Count: it.Count})
	}
	assert.Equal(t, want, m.TopUsers)
	// IPs: the exact top by count (string order is not address order, so
	// compare counts and membership).
	wantIPs := map[string]uint64{}
	for _, it := range ips.Top(20, nil) {
		wantIPs[it.Key] = it.Count
	}
	for _, kc := range m.TopIPs {
		assert.Equal(t, wantIPs[kc.Key], kc.Count, "IP %s", kc.Key)
	}
}

// TestSetMergeEqualsUnion aggregates a stream in partial Sets, partitioned
// by user as Kafka does and round-robin as arbitrary processors would, and
// checks the merged snapshot against one Set fed everything.
func TestSetMergeEqualsUnion(t *testing.T) {
	events := newWorkload(5_000, 500).events(50_000, 9)
	whole := newSet(t, aggregate.SetConfig{})
	require.NoError(t, whole.SetSpan(t0, t0.Add(time.Minute)))
	for _, e := range events {
		whole.Add(e)
	}
	for _, tc := range []struct {
		name string
		part func(i int, e rdr.Event) int
	}{
		{"partitioned by user", func(_ int, e rdr.Event) int { return int(aggregate.HashString(e.UserID) % 3) }},
		{"round robin", func(i int, _ rdr.Event) int { return i % 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts := make([]*aggregate.Set, 3)
			for i := range parts {
				parts[i] = newSet(t, aggregate.SetConfig{})
				require.NoError(t, parts[i].SetSpan(t0, t0.Add(time.Minute)))
			}
			for i, e := range events {
				parts[tc.part(i, e)].Add(e)
			}
			merged := newSet(t, aggregate.SetConfig{})
			for _, p := range parts {
				merged.Merge(p)
			}
			assert.Equal(t, whole.Metrics(), merged.Metrics())
			for _, u := range []string{events[0].UserID, events[1].UserID, events[len(events)-1].UserID} {
				want, _ := whole.User(u)
				got, ok := merged.User(u)
				assert.True(t, ok)
				assert.Equal(t, want, got)
			}
		})
	}
}

func TestSetMergeSelfAndClone(t *testing.T) {
	s := newSet(t, aggregate.SetConfig{})
	for _, e := range tenEvents() {
		s.Add(e)
	}
	c := s.Clone()
	assert.Equal(t, s.Metrics(), c.Metrics())
	c.Add(ev(0, "login", "u-1", "10.0.0.1", rdr.SeverityLow))
	assert.Equal(t, uint64(10), s.Total(), "a clone is independent")

	s.Merge(s)
	s.Merge(nil)
	m := s.Metrics()
	assert.Equal(t, uint64(20), m.TotalEvents)
	assert.Equal(t, uint64(4), m.ActiveUsers)
	assert.Equal(t, aggregate.KeyCount{Key: "u-2", Count: 8}, m.TopUsers[0])
	assert.Equal(t, aggregate.KeyCount{Key: "10.0.0.1", Count: 8}, m.TopIPs[0])
}

func TestSetReset(t *testing.T) {
	s := newSet(t, aggregate.SetConfig{TopN: 3})
	fresh := newSet(t, aggregate.SetConfig{TopN: 3})
	for _, e := range newWorkload(1000, 100).events(5000, 1) {
		s.Add(e)
	}
	assert.Zero(t, testing.AllocsPerRun(5, s.Reset), "Reset allocates nothing")
	empty := s.Metrics()
	assert.Equal(t, fresh.Metrics(), empty)
	assert.Equal(t, uint64(0), empty.TotalEvents)
	assert.NotNil(t, empty.TopUsers, "empty lists, not null")

	for _, e := range tenEvents() {
		s.Add(e)
		fresh.Add(e)
	}
	assert.Equal(t, fresh.Metrics(), s.Metrics(), "a reused Set aggregates like a new one")
}

func TestSetAddSteadyStateDoesNotAllocate(t *testing.T) {
	events := newWorkload(10_000, 1_000).events(1<<14, 2)
	s := newSet(t, aggregate.SetConfig{})
	for _, e := range events {
		s.Add(e)
	}
	i := 0
	allocs := testing.AllocsPerRun(len(events), func() {
		s.Add(events[i%len(events)])
		i++
	})
	assert.Zero(t, allocs)
}

// TestSetInvalidEvent: an event the decoder would refuse is counted, not a
// panic.
func TestSetInvalidEvent(t *testing.T) {
	s := newSet(t, aggregate.SetConfig{})
	s.Add(rdr.Event{})
	s.Add(rdr.Event{Severity: 9})
	m := s.Metrics()
	assert.Equal(t, uint64(2), m.TotalEvents)
	assert.Equal(t, aggregate.BySeverity{2, 0, 0, 0, 0}, m.BySeverity)
	assert.Equal(t, uint64(1), m.ActiveUsers, "the empty user ID")
	assert.Empty(t, m.TopIPs)
}

func TestNewSetInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  aggregate.SetConfig
		want string
	}{
		{aggregate.SetConfig{TopN: -1}, "TopN must be between 0 (default) and 1000, got -1"},
		{aggregate.SetConfig{TopN: 1001}, "TopN must be between 0 (default) and 1000, got 1001"},
		{aggregate.SetConfig{TopN: 20, TopKCapacity: 10}, "TopKCapacity (10) must be at least TopN (20)"},
		{aggregate.SetConfig{TopKCapacity: -5}, "TopKCapacity must be between 0 (default) and 65536, got -5"},
		{aggregate.SetConfig{DistinctThreshold: -1}, "DistinctThreshold must be between 0 (default) and 16777216, got -1"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := aggregate.NewSet(tc.cfg)
			require.Error(t, err)
			assert.True(t, errors.Is(err, aggregate.ErrInvalidConfig))
			assert.Equal(t, "aggregate: invalid config: "+tc.want, err.Error())
		})
	}
	s := newSet(t, aggregate.SetConfig{TopN: 500})
	assert.Equal(t, aggregate.SetConfig{TopN: 500, TopKCapacity: 500, DistinctThreshold: 4096}, s.Config())
}

// TestSetMemoryMillionUsers checks that one million distinct users in one
// Set stay within 256 MiB of live heap.
func TestSetMemoryMillionUsers(t *testing.T) {
	const users = 1_000_000
	const limit = 256 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	s := newSet(t, aggregate.SetConfig{})
	buf := make([]byte, 0, 32)
	e := rdr.Event{Time: t0, Type: "login", Severity: rdr.SeverityLow}
	for i := range users {
		buf = strconv.AppendInt(append(buf[:0], "user-"...), int64(i), 10)
		e.UserID = string(buf) // garbage once added: the Set keeps a clone
		e.IP = ipOf(i % 50_000)
		e.Time = t0.Add(time.Duration(i) * time.Microsecond)
		s.Add(e)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := after.HeapAlloc - before.HeapAlloc
	t.Logf("1M users, 50k IPs: %.1f MiB live heap, %.0f bytes/user", float64(heap)/(1<<20), float64(heap)/users)
	assert.LessOrEqual(t, heap, uint64(limit))

	m := s.Metrics()
	assert.Equal(t, uint64(users), m.TotalEvents)
	assert.InDelta(t, users, float64(m.ActiveUsers), users*3*aggregate.DistinctStdError)
	runtime.KeepAlive(s)
}

func ExampleNewSet() {
	s, err := aggregate.NewSet(aggregate.SetConfig{TopN: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	_ = s.SetSpan(start, start.Add(time.Second))
	s.Add(rdr.Event{Time: start, Type: "login_failed", UserID: "u-1842", Severity: rdr.SeverityHigh})
	s.Add(rdr.Event{Time: start, Type: "login_failed", UserID: "u-1842", Severity: rdr.SeverityHigh})
	s.Add(rdr.Event{Time: start, Type: "login", UserID: "u-7", Severity: rdr.SeverityLow})

	m := s.Metrics()
	fmt.Println(m.TotalEvents, m.EventsPerSecond, m.ActiveUsers)
	fmt.Println(m.TopUsers[0].Key, m.TopUsers[0].Count)
	fmt.Println(m.BySeverity.Get(rdr.SeverityHigh))
	// Output:
	// 3 3 2
	// u-1842 2
	// 2
}

func TestSetZeroValue(t *testing.T) {
	var s aggregate.Set
	for _, e := range tenEvents() {
		s.Add(e)
	}
	want := newSet(t, aggregate.SetConfig{})
	for _, e := range tenEvents() {
		want.Add(e)
	}
	assert.Equal(t, want.Metrics(), s.Metrics())
	assert.Equal(t, want.Config(), s.Config())

	var empty aggregate.Set
	assert.Equal(t, uint64(0), empty.Metrics().TotalEvents)
	empty.Merge(&s)
	assert.Equal(t, want.Metrics(), empty.Metrics())
}

// BenchmarkDefaultAggregation measures Set.Add of the full default set on
// decoded events: 100k users, 10k IPs, 12 types, Zipf keys, in steady state
// (every key of the stream already seen).
func BenchmarkDefaultAggregation(b *testing.B) {
	const n = 1 << 18
	events := newWorkload(100_000, 10_000).events(n, 1)
	s, err := aggregate.NewSet(aggregate.SetConfig{})
	require.NoError(b, err)
	for _, e := range events {
		s.Add(e)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.Add(events[i&(n-1)])
	}
}

// BenchmarkSetMerge merges four processors' partial Sets of one window
// (16k events each, 100k users) into a reused Set.
func BenchmarkSetMerge(b *testing.B) {
	events := newWorkload(100_000, 10_000).events(1<<16, 1)
	parts := make([]*aggregate.Set, 4)
	for i := range parts {
		parts[i] = newSet(b, aggregate.SetConfig{})
	}
	for i, e := range events {
		parts[i%4].Add(e)
	}
	dst := newSet(b, aggregate.SetConfig{})
	b.ReportAllocs()
	for b.Loop() {
		dst.Reset()
		for _, p := range parts {
			dst.Merge(p)
		}
	}
}

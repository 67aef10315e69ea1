package aggregate_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
	"github.com/rdr-go/rdr/window"
)

func appendState(t testing.TB, s *aggregate.Set) []byte {
	t.Helper()
	data, err := s.AppendState(nil)
	require.NoError(t, err)
	return data
}

func restoreState(t testing.TB, data []byte) *aggregate.Set {
	t.Helper()
	var s aggregate.Set
	require.NoError(t, s.RestoreState(data))
	return &s
}

// stateSections are tinySet's state, section by section, as the format
// documented on Set.AppendState describes them.
type stateSections struct {
	head, config, span, total, severity, types, users, ips, topUsers, topIPs wire
}

func (s stateSections) bytes() []byte {
	return slices.Concat(s.head, s.config, s.span, s.total, s.severity, s.types, s.users, s.ips, s.topUsers, s.topIPs)
}

func tinyState() stateSections {
	ms := int64(time.Millisecond)
	return stateSections{
		head:     wire{1, 0b001}, // version 1, a span follows, not compact, exact
		config:   wire{}.u(10, 100, 4096),
		span:     wire{}.i(t0.Unix()).u(0).i(t0.Unix() + 1).u(0),
		total:    wire{}.u(3),
		severity: wire{}.u(0, 1, 0, 1, 1),
		types:    wire{}.u(2).str("login").u(2).str("login_failed").u(1),
		// first seen as a difference from the previous user's, then last - first
		users: wire{}.u(2).str("u-1").u(2).i(t0.UnixNano()).u(uint64(100 * ms)).str("u-2").u(1).i(200 * ms).u(0),
		ips:   wire{}.u(2).addr("10.0.0.1").u(2).addr("2001:db8::1").u(1),
		// no distinct section: the users' hashes; then slots, then the heap
		topUsers: wire{}.u(3, 2).str("u-1").u(2, 0).str("u-2").u(1, 0).u(1, 0),
		topIPs:   wire{}.u(3, 2).addr("10.0.0.1").u(2, 0).addr("2001:db8::1").u(1, 0).u(1, 0),
	}
}

// TestSetStateFormat pins the version 1 state, byte for byte.
func TestSetStateFormat(t *testing.T) {
	s := tinySet(t)
	want := tinyState().bytes()
	assert.Equal(t, want, appendState(t, s))
	assert.Len(t, want, 147)
	buf, err := s.AppendState([]byte("prefix"))
	require.NoError(t, err)
	assert.Equal(t, append([]byte("prefix"), want...), buf)

	got := restoreState(t, want)
	assert.Equal(t, s.Metrics(), got.Metrics())
	u, ok := got.User("u-1")
	require.True(t, ok, "a restored Set keeps its per-user table")
	assert.Equal(t, aggregate.UserActivity{Count: 2, FirstSeen: t0, LastSeen: t0.Add(100 * time.Millisecond)}, u)
	assert.Equal(t, marshal(t, s), marshal(t, got))
}

// stateOp is one step of a Set's life: an event, a merge, or Compact.
type stateOp struct {
	event   rdr.Event
	merge   *aggregate.Set // not changed by the ops
	compact bool
}

func (op stateOp) apply(s *aggregate.Set) {
	switch {
	case op.merge != nil:
		s.Merge(op.merge)
	case op.compact:
		s.Compact()
	default:
		s.Add(op.event)
	}
}

// stateOps returns a random life of n steps: Zipf events from 300 users
// and 60 IPs at random times (a tenth without an IP), now and then a merge
// with a Set of a few events, and, with compactAt >= 0, a Compact there.
func stateOps(t testing.TB, cfg aggregate.SetConfig, n int, seed uint64, compactAt int) []stateOp {
	events := newWorkload(300, 60).events(n, seed)
	r := rand.New(rand.NewPCG(seed, 7))
	ops := make([]stateOp, 0, n)
	for i, e := range events {
		e.Time = t0.Add(time.Duration(r.IntN(2000)) * time.Millisecond)
		if r.IntN(10) == 0 {
			e.IP = netip.Addr{}
		}
		switch {
		case i == compactAt:
			ops = append(ops, stateOp{compact: true})
		case r.IntN(100) == 0:
			other := newSet(t, cfg)
			for _, e := range events[r.IntN(len(events)/2):][:r.IntN(50)] {
				other.Add(e)
			}
			ops = append(ops, stateOp{merge: other})
		default:
			ops = append(ops, stateOp{event: e})
		}
	}
	return ops
}

// TestSetStateResumes: a Set restored from the state of a prefix of a
// stream, then fed the rest, is indistinguishable from a Set fed the whole
// stream: same Metrics, same activity of every user, same partial
// encoding and same state.
func TestSetStateResumes(t *testing.T) {
	users := slices.Clone(newWorkload(300, 60).users)
	users = append(users, "nobody")
	for _, tc := range []struct {
		name      string
		cfg       aggregate.SetConfig
		compactAt int
	}{
		{"exact", aggregate.SetConfig{}, -1},
		{"full summaries", aggregate.SetConfig{TopN: 5, TopKCapacity: 20}, -1},
		{"past the distinct threshold", aggregate.SetConfig{TopN: 5, TopKCapacity: 20, DistinctThreshold: 40}, -1},
		{"compacted", aggregate.SetConfig{TopN: 5, TopKCapacity: 20}, 500},
		{"compacted past the threshold", aggregate.SetConfig{TopN: 5, TopKCapacity: 20, DistinctThreshold: 40}, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(4) {
				ops := stateOps(t, tc.cfg, 1500, seed, tc.compactAt)
				whole := newSet(t, tc.cfg)
				require.NoError(t, whole.SetSpan(t0, t0.Add(2*time.Second)))
				for _, op := range ops {
					op.apply(whole)
				}
				for _, cut := range []int{0, 1, 30, 499, 501, 777, 1499, 1500} {
					before := newSet(t, tc.cfg)
					require.NoError(t, before.SetSpan(t0, t0.Add(2*time.Second)))
					for _, op := range ops[:cut] {
						op.apply(before)
					}
					data := appendState(t, before)
					got := restoreState(t, data)
					require.Equal(t, data, appendState(t, got), "seed %d cut %d: the restored Set's state", seed, cut)
					for _, op := range ops[cut:] {
						op.apply(got)
					}
					require.Equal(t, whole.Metrics(), got.Metrics(), "seed %d cut %d", seed, cut)
					for _, id := range users {
						wu, wok := whole.User(id)
						gu, gok := got.User(id)
						require.Equal(t, wok, gok, "seed %d cut %d user %s", seed, cut, id)
						require.Equal(t, wu, gu, "seed %d cut %d user %s", seed, cut, id)
					}
					require.Equal(t, marshal(t, whole), marshal(t, got), "seed %d cut %d", seed, cut)
					require.Equal(t, appendState(t, whole), appendState(t, got), "seed %d cut %d", seed, cut)

					// Merged into another Set, both give the same.
					a, b := newSet(t, aggregate.SetConfig{TopKCapacity: 20}), newSet(t, aggregate.SetConfig{TopKCapacity: 20})
					a.Merge(whole)
					b.Merge(got)
					require.Equal(t, appendState(t, a), appendState(t, b), "seed %d cut %d: merged", seed, cut)
				}
			}
		})
	}
}

// TestSetStateKinds round-trips Sets of every shape, config included, and
// into a Set already in use.
func TestSetStateKinds(t *testing.T) {
	zipf := newWorkload(3_000, 300).events(6_000, 3)
	fed := func(cfg aggregate.SetConfig, events []rdr.Event) *aggregate.Set {
		s := newSet(t, cfg)
		for _, e := range events {
			s.Add(e)
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		set   *aggregate.Set
		flags byte
	}{
		{"zero Set", new(aggregate.Set), 0},
		{"no span", fed(aggregate.SetConfig{TopN: 3}, tenEvents()), 0},
		{"past the distinct threshold", fed(aggregate.SetConfig{DistinctThreshold: 100}, zipf), 0b010},
		{"compacted", compacted(fed(aggregate.SetConfig{}, zipf)), 0b100},
		{"compacted past the threshold", compacted(fed(aggregate.SetConfig{DistinctThreshold: 100}, zipf)), 0b110},
		{"decoded partial", unmarshal(t, marshal(t, fed(aggregate.SetConfig{}, zipf))), 0b100},
		{"invalid severity, no IP, no user", fed(aggregate.SetConfig{}, []rdr.Event{ev(0, "", "", "", 0)}), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := appendState(t, tc.set)
			assert.Equal(t, tc.flags, data[1])
			got := restoreState(t, data)
			assert.Equal(t, tc.set.Config(), got.Config())
			assert.Equal(t, tc.set.Metrics(), got.Metrics())
			assert.Equal(t, marshal(t, tc.set), marshal(t, got))
			assert.Equal(t, data, appendState(t, got))

			reused := tinySet(t)
			require.NoError(t, reused.RestoreState(data))
			assert.Equal(t, data, appendState(t, reused), "restoring into a used Set replaces everything")
		})
	}
}

func TestSetStateErrors(t *testing.T) {
	s := newSet(t, aggregate.SetConfig{})
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, s.SetSpan(far, far.Add(time.Second)))
	buf, err := s.AppendState([]byte("x"))
	require.ErrorIs(t, err, aggregate.ErrInvalidRange)
	assert.Equal(t, []byte("x"), buf, "unchanged on error")

	s = newSet(t, aggregate.SetConfig{})
	for i := range aggregate.MaxEncodedEventTypes + 1 {
		s.Add(rdr.Event{Type: fmt.Sprint(i), UserID: "u", Severity: rdr.SeverityLow})
	}
	_, err = s.AppendState(nil)
	require.ErrorIs(t, err, aggregate.ErrTooLarge)
}

func TestSetRestoreStateCorrupt(t *testing.T) {
	ms := int64(time.Millisecond)
	for _, tc := range []struct {
		name string
		edit func(*stateSections)
		data []byte // instead of edit
		want string
	}{
		{name: "empty", data: []byte{}, want: "empty input (at byte 0)"},
		{name: "unknown version", data: []byte{2, 0}, want: "unsupported version 2 (this build reads version 1) (at byte 0)"},
		{name: "unknown flags", edit: func(s *stateSections) { s.head[1] = 0x09 }, want: "unknown flags 0x09 (at byte 1)"},
		{name: "duplicate type", edit: func(s *stateSections) { s.types = wire{}.u(2).str("login").u(2).str("login").u(1) },
			want: `event type "login" appears twice (at byte 32)`},
		{name: "duplicate user", edit: func(s *stateSections) {
			s.users = wire{}.u(2).str("u-1").u(2).i(t0.UnixNano()).u(0).str("u-1").u(1).i(0).u(0)
		}, want: `user "u-1" appears twice (at byte 62)`},
		{name: "user count 0", edit: func(s *stateSections) {
			s.users = wire{}.u(2).str("u-1").u(3).i(t0.UnixNano()).u(0).str("u-2").u(0).i(0).u(0)
		}, want: `user "u-2" has count 0 (at byte 62)`},
		{name: "users do not add up", edit: func(s *stateSections) { s.users = wire{}.u(1).str("u-1").u(2).i(0).u(0) },
			want: "user counts do not sum to the total, 3 (at byte 46)"},
		{name: "last seen overflows", edit: func(s *stateSections) {
			s.users = wire{}.u(2).str("u-1").u(2).i(t0.UnixNano()).u(1 << 63).str("u-2").u(1).i(200 * ms).u(0)
		}, want: `user "u-1": last seen overflows (at byte 47)`},
		{name: "more users than bytes", edit: func(s *stateSections) { s.users = wire{}.u(1000) },
			want: "users: truncated (1000 entries cannot fit in 71 bytes) (at byte 46)"},
		{name: "duplicate IP", edit: func(s *stateSections) { s.ips = wire{}.u(2).addr("10.0.0.1").u(2).addr("10.0.0.1").u(1) },
			want: "IP 10.0.0.1 appears twice (at byte 83)"},
		{name: "IP count 0", edit: func(s *stateSections) { s.ips = wire{}.u(2).addr("10.0.0.1").u(2).addr("2001:db8::1").u(0) },
			want: "IP 2001:db8::1 has count 0 (at byte 83)"},
		{name: "IPs above the total", edit: func(s *stateSections) { s.ips = wire{}.u(2).addr("10.0.0.1").u(3).addr("2001:db8::1").u(1) },
			want: "IP counts sum to more than the total, 3 (at byte 76)"},
		{name: "more distinct users than the threshold", edit: func(s *stateSections) {
			s.config = wire{}.u(10, 100, 1)
		}, want: "2 distinct users, more than DistinctThreshold (1), without a sketch (at byte 100)"},
		{name: "top user not in the table", edit: func(s *stateSections) {
			s.topUsers = wire{}.u(3, 2).str("u-1").u(2, 0).str("u-3").u(1, 0).u(1, 0)
		}, want: "top users: key u-3 is not in the table (at byte 109)"},
		{name: "top user twice", edit: func(s *stateSections) {
			s.topUsers = wire{}.u(3, 2).str("u-1").u(2, 0).str("u-1").u(1, 0).u(1, 0)
		}, want: "top users: key u-1 appears twice (at byte 109)"},
		{name: "top user error above count", edit: func(s *stateSections) {
			s.topUsers = wire{}.u(3, 2).str("u-1").u(2, 3).str("u-2").u(1, 0).u(1, 0)
		}, want: "top users: error 3 exceeds count 2 (at byte 103)"},
		{name: "top user count above the summary's total", edit: func(s *stateSections) {
			s.topUsers = wire{}.u(3, 2).str("u-1").u(4, 0).str("u-2").u(1, 0).u(1, 0)
		}, want: "top users: count 4 outside 1 to the summary's total, 3 (at byte 103)"},
		{name: "heap slot out of range", edit: func(s *stateSections) {
			s.topUsers = wire{}.u(3, 2).str("u-1").u(2, 0).str("u-2").u(1, 0).u(2, 0)
		}, want: "top users: slot 2 of 2 (at byte 115)"},
		{name: "heap slot twice", edit: func(s *stateSections) {
			s.topUsers = wire{}.u(3, 2).str("u-1").u(2, 0).str("u-2").u(1, 0).u(1, 1)
		}, want: "top users: slot 1 appears twice (at byte 116)"},
		{name: "not a min-heap", edit: func(s *stateSections) {
			s.topUsers = wire{}.u(3, 2).str("u-1").u(2, 0).str("u-2").u(1, 0).u(0, 1)
		}, want: "top users: not a min-heap at position 1 (at byte 116)"},
		{name: "top IP not in the table", edit: func(s *stateSections) {
			s.topIPs = wire{}.u(3, 1).addr("10.0.0.2").u(1, 0).u(0)
		}, want: "top IPs: key 10.0.0.2 is not in the table (at byte 119)"},
		{name: "trailing bytes", edit: func(s *stateSections) { s.topIPs = append(s.topIPs, 0) }, want: "1 bytes after the end (at byte 147)"},
		{name: "truncated", edit: func(s *stateSections) { s.topIPs = s.topIPs[:len(s.topIPs)-1] }, want: "top IPs heap: truncated (at byte 146)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data
			if tc.edit != nil {
				s := tinyState()
				tc.edit(&s)
				data = s.bytes()
			}
			got := tinySet(t)
			err := got.RestoreState(data)
			require.Error(t, err)
			assert.ErrorIs(t, err, aggregate.ErrInvalidState)
			assert.NotErrorIs(t, err, aggregate.ErrCorrupt)
			assert.Equal(t, "aggregate: invalid Set state: "+tc.want, err.Error())
			assert.Equal(t, uint64(0), got.Total(), "left empty")
			_, ok := got.User("u-1")
			assert.False(t, ok, "left empty")
		})
	}
}

// TestSetRestoreStateTruncationsAndFlips: every prefix of a state is
// refused, and every single-byte change is either refused or yields a Set
// whose state is the changed bytes.
func TestSetRestoreStateTruncationsAndFlips(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  aggregate.SetConfig
		set  func(*aggregate.Set)
		// try says which bytes to change: all but a sample of the sketch's
		// registers, which end a few hundred bytes before the end.
		try func(i, n int) bool
	}{
		{"exact", aggregate.SetConfig{TopKCapacity: 20}, func(*aggregate.Set) {}, nil},
		{"sketch", aggregate.SetConfig{TopKCapacity: 20, DistinctThreshold: 30}, func(*aggregate.Set) {},
			func(i, n int) bool { return i < n-8600 || i > n-600 || i%31 == 0 }},
		{"compact", aggregate.SetConfig{TopKCapacity: 20}, (*aggregate.Set).Compact, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSet(t, tc.cfg)
			require.NoError(t, s.SetSpan(t0, t0.Add(time.Second)))
			for _, op := range stateOps(t, tc.cfg, 300, 5, -1) {
				op.apply(s)
			}
			tc.set(s)
			data := appendState(t, s)
			var got aggregate.Set
			for i := range data {
				err := got.RestoreState(data[:i])
				require.ErrorIs(t, err, aggregate.ErrInvalidState, "prefix of %d bytes", i)
			}
			decoded, tried := 0, 0
			for i := range data {
				if tc.try != nil && !tc.try(i, len(data)) {
					continue
				}
				for _, delta := range []byte{1, 0x80} {
					tried++
					changed := bytes.Clone(data)
					changed[i] += delta
					if err := got.RestoreState(changed); err != nil {
						require.ErrorIs(t, err, aggregate.ErrInvalidState)
						continue
					}
					decoded++
					require.Equal(t, changed, appendState(t, &got), "byte %d + %d", i, delta)
				}
			}
			t.Logf("%d bytes; %d of %d changes decode", len(data), decoded, tried)
		})
	}
}

// FuzzSetState: no input panics; every error wraps ErrInvalidState; every
// input that restores is the restored Set's state, and the Set works.
func FuzzSetState(f *testing.F) {
	f.Add(tinyState().bytes())
	f.Add([]byte{})
	f.Add([]byte{1, 0, 10, 100, 1})
	for _, cfg := range []aggregate.SetConfig{{TopKCapacity: 10}, {TopKCapacity: 10, DistinctThreshold: 5}} {
		s := newSet(f, cfg)
		for _, op := range stateOps(f, cfg, 200, 1, -1) {
			op.apply(s)
		}
		f.Add(appendState(f, s))
		s.Compact()
		f.Add(appendState(f, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s aggregate.Set
		if err := s.RestoreState(data); err != nil {
			if !errors.Is(err, aggregate.ErrInvalidState) {
				t.Fatalf("error %v does not wrap ErrInvalidState", err)
			}
			return
		}
		again, err := s.AppendState(nil)
		if err != nil {
			t.Fatalf("appending a restored Set's state: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("the restored Set's state differs:\n in %x\nout %x", data, again)
		}
		if _, err := s.MarshalBinary(); err != nil {
			t.Fatalf("encoding a restored Set: %v", err)
		}
		total := s.Total()
		if m := s.Metrics(); m.TotalEvents != total {
			t.Fatalf("Metrics total %d, Set total %d", m.TotalEvents, total)
		}
		for i := range 50 {
			s.Add(ev(time.Duration(i), "login", fmt.Sprint("u-", i%7), fmt.Sprint("10.0.0.", i%5), rdr.SeverityLow))
		}
		s.Merge(s.Clone())
		if s.Total() != 2*(total+50) {
			t.Fatalf("total %d after 50 events and a merge with itself, want %d", s.Total(), 2*(total+50))
		}
	})
}

func ExampleSet_AppendState() {
	window, _ := aggregate.NewSet(aggregate.SetConfig{})
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	_ = window.SetSpan(start, start.Add(time.Second))
	window.Add(rdr.Event{Time: start, Type: "login_failed", UserID: "u-1", Severity: rdr.SeverityHigh})

	// A checkpoint...
	state, err := window.AppendState(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// ...restored after a restart, and the window goes on.
	var restored aggregate.Set
	if err := restored.RestoreState(state); err != nil {
		fmt.Println(err)
		return
	}
	restored.Add(rdr.Event{Time: start.Add(time.Millisecond), Type: "login_failed", UserID: "u-1", Severity: rdr.SeverityHigh})
	u, _ := restored.User("u-1")
	fmt.Println(len(state), "bytes:", u.Count, u.LastSeen.Format(time.StampMilli))

	err = restored.RestoreState(state[:20])
	fmt.Println(errors.Is(err, aggregate.ErrInvalidState), err)
	// Output:
	// 67 bytes: 2 Nov 26 10:00:00.001
	// true aggregate: invalid Set state: bySeverity: truncated (at byte 20)
}

// BenchmarkSetState appends and restores the state of a busy one-second
// window (50,000 events, 10,000 users, 1,000 IPs, 12 event types).
func BenchmarkSetState(b *testing.B) {
	s := busyWindow(b, 10_000)
	data := appendState(b, s)
	b.Run("append", func(b *testing.B) {
		buf := make([]byte, 0, len(data))
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = s.AppendState(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "state-bytes")
	})
	b.Run("restore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var s aggregate.Set
			if err := s.RestoreState(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "state-bytes")
	})
}

// TestSetStateInWindows checkpoints and restores the pipeline's window
// state — tumbling one-second windows of Sets, with allowed lateness — at
// random points of a stream of out-of-order events: the results (window,
// Update flag, Set) and the Stats are those of an uninterrupted run.
func TestSetStateInWindows(t *testing.T) {
	cfg := aggregate.SetConfig{TopN: 5, TopKCapacity: 20, DistinctThreshold: 50}
	wcfg := window.Config[rdr.Event, *aggregate.Set]{
		Assigner:        window.Tumbling(time.Second),
		AllowedLateness: 2 * time.Second,
		Init:            func() *aggregate.Set { return newSet(t, cfg) },
		Add:             func(s **aggregate.Set, e rdr.Event) { (*s).Add(e) },
	}
	newWindows := func() *window.Windows[struct{}, rdr.Event, *aggregate.Set] {
		w, err := window.New[struct{}](wcfg)
		require.NoError(t, err)
		return w
	}
	appendSet := func(b []byte, _ struct{}, s *aggregate.Set) ([]byte, error) { return s.AppendState(b) }
	restoreSet := func(data []byte) (struct{}, *aggregate.Set, error) {
		s := new(aggregate.Set)
		return struct{}{}, s, s.RestoreState(data)
	}
	// A result as a sink would keep it; the Set is shared with the open
	// window, so it is encoded at once.
	record := func(to *[]string) func(window.Result[struct{}, *aggregate.Set]) {
		return func(r window.Result[struct{}, *aggregate.Set]) {
			*to = append(*to, fmt.Sprintf("%v %v %x %x", r.Window, r.Update, marshal(t, r.State), appendState(t, r.State)))
		}
	}

	events := newWorkload(500, 80).events(20_000, 9)
	r := rand.New(rand.NewPCG(9, 9))
	for i := range events { // out of order by up to 3 s: some late, some updates
		events[i].Time = events[i].Time.Add(-time.Duration(r.IntN(3000)) * time.Millisecond)
	}
	w, ref := newWindows(), newWindows()
	var got, want []string
	var maxSeen time.Time
	restarts := 0
	for i, e := range events {
		if r.IntN(500) == 0 {
			data, err := w.AppendState(nil, appendSet)
			require.NoError(t, err)
			w = newWindows()
			require.NoError(t, w.RestoreState(data, restoreSet))
			restarts++
		}
		st, err := w.Add(struct{}{}, e.Time, e)
		require.NoError(t, err)
		rst, err := ref.Add(struct{}{}, e.Time, e)
		require.NoError(t, err)
		require.Equal(t, rst, st, "event %d", i)
		if e.Time.After(maxSeen) {
			maxSeen = e.Time
		}
		if i%100 == 99 {
			w.Advance(maxSeen.Add(-500*time.Millisecond), record(&got))
			ref.Advance(maxSeen.Add(-500*time.Millisecond), record(&want))
			require.Equal(t, want, got, "event %d", i)
			require.Equal(t, ref.Stats(), w.Stats(), "event %d", i)
		}
	}
	w.Flush(record(&got))
	ref.Flush(record(&want))
	require.Equal(t, want, got)
	require.Equal(t, ref.Stats(), w.Stats())
	st := w.Stats()
	t.Logf("%d restarts; %+v", restarts, st)
	assert.NotZero(t, st.Updates)
	assert.NotZero(t, st.Late)
}

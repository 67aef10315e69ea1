package aggregate_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
)

func marshal(t testing.TB, s *aggregate.Set) []byte {
	t.Helper()
	data, err := s.MarshalBinary()
	require.NoError(t, err)
	return data
}

func unmarshal(t testing.TB, data []byte) *aggregate.Set {
	t.Helper()
	var s aggregate.Set
	require.NoError(t, s.UnmarshalBinary(data))
	return &s
}

// compacted returns a compacted copy of s: what an encoding carries.
func compacted(s *aggregate.Set) *aggregate.Set {
	c := s.Clone()
	c.Compact()
	return c
}

// wire builds encodings by hand, section by section, as the format
// documented on Set.MarshalBinary describes them.
type wire []byte

func (w wire) u(vs ...uint64) wire {
	for _, v := range vs {
		w = binary.AppendUvarint(w, v)
	}
	return w
}

func (w wire) i(v int64) wire { return binary.AppendVarint(w, v) }

func (w wire) str(s string) wire { return append(w.u(uint64(len(s))), s...) }

func (w wire) addr(s string) wire {
	b, _ := netip.MustParseAddr(s).MarshalBinary()
	return append(w.u(uint64(len(b))), b...)
}

func (w wire) hashes(keys ...string) wire {
	hs := make([]uint64, len(keys))
	for i, k := range keys {
		hs[i] = aggregate.HashString(k)
	}
	slices.Sort(hs)
	w = w.u(uint64(len(hs)))
	for _, h := range hs {
		w = binary.LittleEndian.AppendUint64(w, h)
	}
	return w
}

// tinyEvents are three events of one window, encoded by hand in
// tinySections.
func tinySet(t testing.TB) *aggregate.Set {
	s := newSet(t, aggregate.SetConfig{})
	require.NoError(t, s.SetSpan(t0, t0.Add(time.Second)))
	s.Add(ev(0, "login", "u-1", "10.0.0.1", rdr.SeverityHigh))
	s.Add(ev(100*time.Millisecond, "login_failed", "u-1", "10.0.0.1", rdr.SeverityCritical))
	s.Add(ev(200*time.Millisecond, "login", "u-2", "2001:db8::1", rdr.SeverityLow))
	return s
}

type sections struct {
	head, config, span, total, severity, types, distinct, users, ips wire
}

func (s sections) bytes() []byte {
	return slices.Concat(s.head, s.config, s.span, s.total, s.severity, s.types, s.distinct, s.users, s.ips)
}

func tinySections() sections {
	return sections{
		head:     wire{1, 0b01}, // version 1, a span follows
		config:   wire{}.u(10, 100, 4096),
		span:     wire{}.i(t0.Unix()).u(0).i(t0.Unix() + 1).u(0),
		total:    wire{}.u(3),
		severity: wire{}.u(0, 1, 0, 1, 1),
		types:    wire{}.u(2).str("login").u(2).str("login_failed").u(1),
		distinct: wire{}.hashes("u-1", "u-2"),
		users:    wire{}.u(3, 2).str("u-1").u(2, 0).str("u-2").u(1, 0),
		ips:      wire{}.u(3, 2).addr("10.0.0.1").u(2, 0).addr("2001:db8::1").u(1, 0),
	}
}

// TestSetMarshalFormat pins the version 1 encoding, byte for byte.
func TestSetMarshalFormat(t *testing.T) {
	s := tinySet(t)
	want := tinySections().bytes()
	assert.Equal(t, want, marshal(t, s))
	assert.Len(t, want, 105)
	buf, err := s.AppendBinary([]byte("prefix"))
	require.NoError(t, err)
	assert.Equal(t, append([]byte("prefix"), want...), buf)

	got := unmarshal(t, want)
	assert.Equal(t, compacted(s).Metrics(), got.Metrics())
	assert.Equal(t, aggregate.Metrics{
		From: t0, To: t0.Add(time.Second), TotalEvents: 3, EventsPerSecond: 3, ActiveUsers: 2,
		TopEventTypes: []aggregate.KeyCount{{Key: "login", Count: 2}, {Key: "login_failed", Count: 1}},
		BySeverity:    aggregate.BySeverity{0, 1, 0, 1, 1},
		TopUsers:      []aggregate.KeyCount{{Key: "u-1", Count: 2}, {Key: "u-2", Count: 1}},
		TopIPs:        []aggregate.KeyCount{{Key: "10.0.0.1", Count: 2}, {Key: "2001:db8::1", Count: 1}},
		ByType:        map[string]uint64{"login": 2, "login_failed": 1},
	}, got.Metrics())
	_, ok := got.User("u-1")
	assert.False(t, ok, "a decoded Set is compact: no per-user table")
	assert.Equal(t, aggregate.SetConfig{TopN: 10, TopKCapacity: 100, DistinctThreshold: 4096}, got.Config())
}

// TestSetMarshalRoundTrip: decoding gives a Set whose Metrics, merges and
// encoding equal those of the compacted original.
func TestSetMarshalRoundTrip(t *testing.T) {
	zipf := newWorkload(3_000, 300).events(6_000, 3)
	merged := func() *aggregate.Set { // summaries with errors: full, then merged
		a, b := newSet(t, aggregate.SetConfig{TopKCapacity: 20}), newSet(t, aggregate.SetConfig{TopKCapacity: 20})
		for i, e := range zipf {
			if i%2 == 0 {
				a.Add(e)
			} else {
				b.Add(e)
			}
		}
		a.Merge(b)
		return a
	}
	fed := func(cfg aggregate.SetConfig, events []rdr.Event) func() *aggregate.Set {
		return func() *aggregate.Set {
			s := newSet(t, cfg)
			require.NoError(t, s.SetSpan(t0, t0.Add(10*time.Second)))
			for _, e := range events {
				s.Add(e)
			}
			return s
		}
	}
	for _, tc := range []struct {
		name   string
		set    func() *aggregate.Set
		sketch bool
	}{
		{"zero Set", func() *aggregate.Set { return new(aggregate.Set) }, false},
		{"ten events", fed(aggregate.SetConfig{TopN: 3}, tenEvents()), false},
		{"below the distinct threshold", fed(aggregate.SetConfig{}, zipf), false},
		{"past the distinct threshold", fed(aggregate.SetConfig{DistinctThreshold: 100, TopN: 50, TopKCapacity: 500}, zipf), true},
		{"merged summaries with errors", merged, false},
		{"compacted, then more events", func() *aggregate.Set {
			s := fed(aggregate.SetConfig{}, zipf[:3000])()
			s.Compact()
			for _, e := range zipf[3000:] {
				s.Add(e)
			}
			return s
		}, false},
		{"invalid severity and no IP", fed(aggregate.SetConfig{}, []rdr.Event{ev(0, "", "", "", 0)}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := tc.set()
			data := marshal(t, orig)
			comp := compacted(orig)
			assert.Equal(t, data, marshal(t, comp), "the per-user and per-IP tables are not encoded")
			assert.Equal(t, tc.sketch, data[1]&2 != 0, "flags: distinct users are a sketch")

			got := unmarshal(t, data)
			want := comp.Metrics()
			assert.Equal(t, want, got.Metrics())
			assert.Equal(t, orig.Total(), got.Total())
			assert.Equal(t, data, marshal(t, got), "a decoded Set encodes back to its input")

			// Merging the decoded Set is merging the compacted original.
			a, b := newSet(t, aggregate.SetConfig{}), newSet(t, aggregate.SetConfig{})
			a.Add(ev(0, "login", "u-x", "10.9.9.9", rdr.SeverityLow))
			b.Add(ev(0, "login", "u-x", "10.9.9.9", rdr.SeverityLow))
			a.Merge(got)
			b.Merge(comp)
			assert.Equal(t, b.Metrics(), a.Metrics())

			// Decoding into a used Set replaces everything, config included.
			reused := tinySet(t)
			require.NoError(t, reused.UnmarshalBinary(data))
			assert.Equal(t, want, reused.Metrics())
			assert.Equal(t, got.Config(), reused.Config())
		})
	}
}

// TestSetMarshalSketch: past the threshold, the sketch's 2^14 registers
// take half a byte each, as offsets from the smallest, plus a byte for
// each register 15 or more above it.
func TestSetMarshalSketch(t *testing.T) {
	for _, tc := range []struct {
		users         int
		base, escaped int
	}{
		{1_000, 0, 0},
		{10_000, 0, 1},
		{300_000, 2, 4},
	} {
		t.Run(fmt.Sprint(tc.users, " users"), func(t *testing.T) {
			s := newSet(t, aggregate.SetConfig{DistinctThreshold: 10, TopN: 1, TopKCapacity: 1})
			for i := range tc.users {
				s.Add(ev(0, "login", fmt.Sprint("u-", i), "", rdr.SeverityLow))
			}
			data := marshal(t, s)
			prefix := []byte(slices.Concat(wire{1, 0b10}.u(1, 1, 10).u(uint64(tc.users)).u(0, uint64(tc.users), 0, 0, 0).u(1).str("login").u(uint64(tc.users))))
			require.Equal(t, prefix, data[:len(prefix)])
			sketch := data[len(prefix):]
			assert.Equal(t, tc.base, int(sketch[0]), "base")
			escaped := 0
			for _, p := range sketch[1 : 1+8192] {
				escaped += btoi(p>>4 == 15) + btoi(p&15 == 15)
			}
			assert.Equal(t, tc.escaped, escaped)
			users := wire{}.u(uint64(tc.users), 1)
			assert.Equal(t, []byte(users), sketch[1+8192+escaped:][:len(users)], "the top users follow")

			got := unmarshal(t, data)
			assert.Equal(t, s.Metrics().ActiveUsers, got.Metrics().ActiveUsers, "same registers, same estimate")
			assert.InEpsilon(t, tc.users, got.Metrics().ActiveUsers, 3*aggregate.DistinctStdError)
			assert.Equal(t, data, marshal(t, got))
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestSetUnmarshalCorrupt(t *testing.T) {
	// sketch is a sketch section: base, then the 4-bit registers, all
	// nibble, then the escaped values.
	sketch := func(base, nibble byte, escaped ...byte) wire {
		w := append(wire{base}, bytes.Repeat([]byte{nibble<<4 | nibble}, 8192)...)
		w[1] &= 0x0f // one register at the base
		return append(w, escaped...)
	}
	for _, tc := range []struct {
		name string
		edit func(*sections)
		data []byte // instead of edit
		want string
	}{
		{name: "empty", data: []byte{}, want: "empty input (at byte 0)"},
		{name: "unknown version", data: []byte{2, 0}, want: "unsupported version 2 (this build reads version 1) (at byte 0)"},
		{name: "unknown flags", edit: func(s *sections) { s.head[1] = 0x81 }, want: "unknown flags 0x81 (at byte 1)"},
		{name: "TopN 0", edit: func(s *sections) { s.config = wire{}.u(0, 100, 4096) }, want: "TopN 0 outside 1 to 1000 (at byte 2)"},
		{name: "capacity below TopN", edit: func(s *sections) { s.config = wire{}.u(10, 9, 4096) }, want: "TopKCapacity 9 outside 10 to 65536 (at byte 3)"},
		{name: "non-minimal varint", edit: func(s *sections) { s.config = wire{0x8a, 0x00}.u(100, 4096) }, want: "TopN: varint not minimally encoded (at byte 2)"},
		{name: "varint overflow", edit: func(s *sections) { s.total = bytes.Repeat([]byte{0xff}, 11) }, want: "total events: varint overflows 64 bits (at byte 18)"},
		{name: "span end before start", edit: func(s *sections) { s.span = wire{}.i(t0.Unix()).u(0).i(t0.Unix()).u(0) },
			want: "span end 2026-11-26T10:00:00Z is not after start 2026-11-26T10:00:00Z (at byte 6)"},
		{name: "span nanoseconds", edit: func(s *sections) { s.span = wire{}.i(t0.Unix()).u(1e9).i(t0.Unix() + 1).u(0) },
			want: "span start: 1000000000 nanoseconds, at most 999999999 (at byte 6)"},
		{name: "span past year 9999", edit: func(s *sections) { s.span = wire{}.i(1 << 40).u(0).i(1<<40 + 1).u(0) },
			want: "span start: 1099511627776 seconds lies outside the years 1 to 9999 (at byte 6)"},
		{name: "severities do not add up", edit: func(s *sections) { s.severity = wire{}.u(0, 1, 0, 1, 2) },
			want: "bySeverity does not sum to the total, 3 (at byte 18)"},
		{name: "severities overflow to the total", edit: func(s *sections) { s.severity = wire{}.u(0, 1<<63, 1<<63, 1, 2) },
			want: "bySeverity does not sum to the total, 3 (at byte 18)"},
		{name: "types out of order", edit: func(s *sections) { s.types = wire{}.u(2).str("login_failed").u(1).str("login").u(2) },
			want: `event types not in strictly ascending order: "login" after "login_failed" (at byte 39)`},
		{name: "duplicate type", edit: func(s *sections) { s.types = wire{}.u(2).str("login").u(2).str("login").u(1) },
			want: `event types not in strictly ascending order: "login" after "login" (at byte 32)`},
		{name: "type count 0", edit: func(s *sections) { s.types = wire{}.u(2).str("login").u(3).str("login_failed").u(0) },
			want: `event type "login_failed" has count 0 (at byte 32)`},
		{name: "types do not add up", edit: func(s *sections) { s.types = wire{}.u(1).str("login").u(2) },
			want: "event type counts do not sum to the total, 3 (at byte 24)"},
		{name: "a billion types claimed", edit: func(s *sections) { s.types = wire{}.u(1e9) },
			want: "event types: 1000000000 entries, at most 65536 allowed (at byte 24)"},
		{name: "more types than bytes", edit: func(s *sections) { s.types = wire{}.u(60000) },
			want: "event types: truncated (60000 entries cannot fit in 59 bytes) (at byte 24)"},
		{name: "type name longer than the input", edit: func(s *sections) { s.types = wire{}.u(1).u(1 << 40) },
			want: "event type: truncated (1099511627776 bytes needed, 59 left) (at byte 25)"},
		{name: "more distinct users than the threshold", edit: func(s *sections) {
			s.config = wire{}.u(10, 100, 1)
			s.span = wire{}.i(t0.Unix()).u(0).i(t0.Unix() + 1).u(0)
		}, want: "distinct users: 2 entries, at most 1 allowed (at byte 45)"},
		{name: "more distinct users than events", edit: func(s *sections) { s.distinct = wire{}.hashes("a", "b", "c", "d") },
			want: "4 distinct users, more than the 3 events (at byte 46)"},
		{name: "hashes out of order", edit: func(s *sections) {
			s.distinct = wire{}.u(2)
			s.distinct = binary.LittleEndian.AppendUint64(s.distinct, 2)
			s.distinct = binary.LittleEndian.AppendUint64(s.distinct, 2)
		}, want: "distinct user hashes not in strictly ascending order (hash 1) (at byte 46)"},
		{name: "sketch truncated", edit: func(s *sections) {
			s.head[1] |= 2
			s.distinct = wire{0}.u(1, 2, 3)
		}, want: "distinct users sketch registers: truncated (8192 bytes needed, 45 left) (at byte 47)"},
		{name: "sketch base above 51", edit: func(s *sections) {
			s.head[1] |= 2
			s.distinct = sketch(52, 1)
		}, want: "distinct users sketch: base 52 above 51 (at byte 46)"},
		{name: "sketch base not the smallest register", edit: func(s *sections) {
			s.head[1] |= 2
			s.distinct = sketch(0, 1)
			s.distinct[1] = 0x11
		}, want: "distinct users sketch: base 0 is not the smallest register (at byte 46)"},
		{name: "escaped register that fits in 4 bits", edit: func(s *sections) {
			s.head[1] |= 2
			s.distinct = sketch(3, 15, bytes.Repeat([]byte{18}, 16382)...)
			s.distinct = append(s.distinct, 17)
		}, want: "distinct users sketch: register 16383 escaped with 17, want 18 to 51 (at byte 24621)"},
		{name: "escaped register above 51", edit: func(s *sections) {
			s.head[1] |= 2
			s.distinct = sketch(0, 1)
			s.distinct[2] = 0x1f
			s.distinct = append(s.distinct, 52)
		}, want: "distinct users sketch: register 3 escaped with 52, want 15 to 51 (at byte 8239)"},
		{name: "escaped registers truncated", edit: func(s *sections) {
			s.head[1] |= 2
			s.distinct = sketch(0, 15)
			s.users, s.ips = nil, nil
		}, want: "distinct users sketch register: truncated (at byte 8239)"},
		{name: "top users not in order", edit: func(s *sections) { s.users = wire{}.u(3, 2).str("u-2").u(1, 0).str("u-1").u(2, 0) },
			want: "top users: entries not ordered by count descending, then key ascending (at byte 71)"},
		{name: "top users tie out of key order", edit: func(s *sections) { s.users = wire{}.u(3, 2).str("u-2").u(1, 0).str("u-1").u(1, 0) },
			want: "top users: entries not ordered by count descending, then key ascending (at byte 71)"},
		{name: "top user error above count", edit: func(s *sections) { s.users = wire{}.u(3, 2).str("u-1").u(2, 3).str("u-2").u(1, 0) },
			want: "top users: error 3 exceeds count 2 (at byte 65)"},
		{name: "top user count above the summary's total", edit: func(s *sections) { s.users = wire{}.u(3, 2).str("u-1").u(4, 0).str("u-2").u(1, 0) },
			want: "top users: count 4 outside 1 to the summary's total, 3 (at byte 65)"},
		{name: "summary total above the events", edit: func(s *sections) { s.users = wire{}.u(4, 0) },
			want: "top users: total 4 exceeds the 3 events (at byte 63)"},
		{name: "more top users than the capacity", edit: func(s *sections) { s.users = wire{}.u(3, 101) },
			want: "top users: 101 entries, at most 100 allowed (at byte 64)"},
		{name: "a 5-byte address", edit: func(s *sections) { s.ips = wire{}.u(3, 1, 5, 10, 0, 0, 1, 1).u(3, 0) },
			want: "top IPs key: a 5-byte address (want 4, or 16 and a zone) (at byte 79)"},
		{name: "an invalid address", edit: func(s *sections) { s.ips = wire{}.u(3, 1, 0).u(3, 0) },
			want: "top IPs key: a 0-byte address (want 4, or 16 and a zone) (at byte 79)"},
		{name: "trailing bytes", edit: func(s *sections) { s.ips = append(s.ips, 0, 0) }, want: "2 bytes after the end (at byte 105)"},
		{name: "truncated", edit: func(s *sections) { s.ips = s.ips[:len(s.ips)-1] }, want: "top IPs error: truncated (at byte 104)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data
			if tc.edit != nil {
				s := tinySections()
				tc.edit(&s)
				data = s.bytes()
			}
			got := tinySet(t)
			err := got.UnmarshalBinary(data)
			require.Error(t, err)
			assert.True(t, errors.Is(err, aggregate.ErrCorrupt))
			assert.Equal(t, "aggregate: corrupt encoded Set: "+tc.want, err.Error())
			assert.Equal(t, uint64(0), got.Total(), "left empty")
			assert.Equal(t, uint64(0), got.Metrics().ActiveUsers)
			assert.Empty(t, got.Metrics().TopUsers)
		})
	}
}

// TestSetUnmarshalTruncationsAndFlips: every prefix of an encoding is
// refused, and every single-byte change is either refused or yields a Set
// that encodes back to the changed bytes (the format has one encoding per
// Set, so a change that decodes is a different, consistent Set).
func TestSetUnmarshalTruncationsAndFlips(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  aggregate.SetConfig
	}{
		{"exact", aggregate.SetConfig{TopKCapacity: 20}},
		{"sketch", aggregate.SetConfig{TopKCapacity: 20, DistinctThreshold: 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSet(t, tc.cfg)
			require.NoError(t, s.SetSpan(t0, t0.Add(time.Second)))
			for _, e := range newWorkload(200, 50).events(500, 5) {
				s.Add(e)
			}
			data := marshal(t, s)
			var got aggregate.Set
			for i := range data {
				err := got.UnmarshalBinary(data[:i])
				require.ErrorIs(t, err, aggregate.ErrCorrupt, "prefix of %d bytes", i)
			}
			decoded, tried := 0, 0
			for i := range data {
				if i > 200 && i < len(data)-400 && i%31 != 0 {
					continue // the middle of the sketch's registers: a sample will do
				}
				for _, delta := range []byte{1, 0x80} {
					tried++
					changed := bytes.Clone(data)
					changed[i] += delta
					if err := got.UnmarshalBinary(changed); err != nil {
						require.ErrorIs(t, err, aggregate.ErrCorrupt)
						continue
					}
					decoded++
					require.Equal(t, changed, marshal(t, &got), "byte %d + %d", i, delta)
				}
			}
			t.Logf("%d of %d changes decode", decoded, tried)
		})
	}
}

// TestSetUnmarshalWorstCaseMemory decodes the largest Set the format
// allows outside the exact user hashes: 65,536 event types and two
// summaries of 65,536 entries, 1 MiB of input.
func TestSetUnmarshalWorstCaseMemory(t *testing.T) {
	const n = aggregate.MaxTopKCapacity
	total := uint64(3 * n)
	w := wire{1, 0}.u(aggregate.MaxTopN, n, 1).u(total).u(0, total, 0, 0, 0).u(n)
	for i := range n {
		w = w.str(string([]byte{byte(i >> 8), byte(i)})).u(3)
	}
	w = w.u(0).u(total, n) // no distinct users; top users
	for i := range n {
		w = w.str(string([]byte{byte(i >> 8), byte(i)})).u(1, 0)
	}
	w = w.u(total, n) // top IPs
	for i := range n {
		w = binary.BigEndian.AppendUint32(w.u(4), uint32(i))
		w = w.u(1, 0)
	}
	require.Equal(t, 1<<20+34, len(w), "1 MiB of input")

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var s aggregate.Set
	require.NoError(t, s.UnmarshalBinary(w))
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("decoding %d KiB allocated %d KiB", len(w)>>10, allocated>>10)
	// About 26 MiB (42 MiB under the race detector), whatever the counts
	// claimed: the types and summaries are capped, not sized by the input.
	assert.Less(t, allocated, uint64(64<<20))
	assert.Equal(t, n, len(s.Metrics().ByType))
	assert.Equal(t, aggregate.MaxTopN, len(s.Metrics().TopUsers))
}

func TestSetMarshalErrors(t *testing.T) {
	s := newSet(t, aggregate.SetConfig{})
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, s.SetSpan(far, far.Add(time.Second)))
	_, err := s.MarshalBinary()
	require.ErrorIs(t, err, aggregate.ErrInvalidRange)
	assert.Equal(t, "aggregate: invalid time range: span 10000-01-01T00:00:00Z to 10000-01-01T00:00:01Z lies outside the years 1 to 9999", err.Error())
	buf, err := s.AppendBinary([]byte("x"))
	require.Error(t, err)
	assert.Equal(t, []byte("x"), buf, "unchanged on error")

	s = newSet(t, aggregate.SetConfig{})
	for i := range aggregate.MaxEncodedEventTypes + 1 {
		s.Add(rdr.Event{Type: fmt.Sprint(i), UserID: "u", Severity: rdr.SeverityLow})
	}
	_, err = s.MarshalBinary()
	require.ErrorIs(t, err, aggregate.ErrTooLarge)
	assert.Equal(t, "aggregate: Set too large to encode: 65537 event types, at most 65536 can be encoded", err.Error())
}

// FuzzSetUnmarshal: no input panics; every error wraps ErrCorrupt; every
// input that decodes encodes back to itself.
func FuzzSetUnmarshal(f *testing.F) {
	f.Add(tinySections().bytes())
	f.Add([]byte{})
	f.Add([]byte{1, 0, 10, 100, 1})
	for _, cfg := range []aggregate.SetConfig{{TopKCapacity: 10}, {TopKCapacity: 10, DistinctThreshold: 5}} {
		s := newSet(f, cfg)
		for _, e := range newWorkload(100, 20).events(200, 1) {
			s.Add(e)
		}
		f.Add(marshal(f, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s aggregate.Set
		if err := s.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, aggregate.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		again, err := s.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encoding a decoded Set: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", data, again)
		}
		m := s.Metrics()
		if m.TotalEvents != s.Total() {
			t.Fatalf("Metrics total %d, Set total %d", m.TotalEvents, s.Total())
		}
		var into aggregate.Set
		into.Merge(&s)
		if into.Total() != s.Total() {
			t.Fatalf("merged total %d, want %d", into.Total(), s.Total())
		}
	})
}

func ExampleSet_MarshalBinary() {
	// A processor encodes its partial result of a window...
	window, _ := aggregate.NewSet(aggregate.SetConfig{})
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	_ = window.SetSpan(start, start.Add(time.Second))
	for i := range 100 {
		window.Add(rdr.Event{Time: start, Type: "login_failed", UserID: fmt.Sprintf("u-%d", i%7), Severity: rdr.SeverityHigh})
	}
	data, err := window.MarshalBinary()
	if err != nil {
		fmt.Println(err)
		return
	}
	// ...and another process decodes it.
	var partial aggregate.Set
	if err := partial.UnmarshalBinary(data); err != nil {
		fmt.Println(err)
		return
	}
	m := partial.Metrics()
	fmt.Println(len(data), "bytes:", m.TotalEvents, m.ActiveUsers, m.TopUsers[0])

	err = partial.UnmarshalBinary(data[:20])
	fmt.Println(errors.Is(err, aggregate.ErrCorrupt), err)
	// Output:
	// 142 bytes: 100 7 {u-0 15}
	// true aggregate: corrupt encoded Set: bySeverity: truncated (at byte 20)
}

// busyWindow is a one-second window of 50,000 events from 10,000 users
// (each at least once), 1,000 IPs and 12 event types.
func busyWindow(b *testing.B, users int) *aggregate.Set {
	w := newWorkload(users, 1_000)
	events := w.events(40_000, 7)
	for i, u := range w.users {
		events = append(events, rdr.Event{Time: t0, Type: eventTypes[i%len(eventTypes)], UserID: u, IP: ipOf(i % 1000), Severity: rdr.SeverityLow})
	}
	s := newSet(b, aggregate.SetConfig{})
	require.NoError(b, s.SetSpan(t0, t0.Add(time.Second)))
	for _, e := range events {
		s.Add(e)
	}
	return s
}

func BenchmarkSetMarshal(b *testing.B) {
	for _, users := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			s := busyWindow(b, users)
			data := marshal(b, s)
			buf := make([]byte, 0, len(data))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				var err error
				if buf, err = s.AppendBinary(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "encoded-bytes")
		})
	}
}

func BenchmarkSetUnmarshal(b *testing.B) {
	for _, users := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			data := marshal(b, busyWindow(b, users))
			var s aggregate.Set
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := s.UnmarshalBinary(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "encoded-bytes")
		})
	}
}

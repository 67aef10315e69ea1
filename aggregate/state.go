package aggregate

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"slices"
)

// stateVersion is the first byte of a Set's state.
const stateVersion = 1

// flagCompact, in the state's flags byte next to flagSpan and flagSketch:
// the Set is compact, so no per-user and per-IP tables follow.
const flagCompact = 1 << 2

// maxStateEntries bounds the per-user and per-IP tables of a state: their
// indexes are int32.
const maxStateEntries = math.MaxInt32 - 1

// AppendState appends the full state of s to b and returns the extended
// buffer, for a checkpoint: [Set.RestoreState] rebuilds from it a Set that
// behaves exactly like s. Fed the same events and merges afterwards, both
// give the same Metrics, User results, MarshalBinary bytes and states.
// On error it returns b unchanged. It does not change s.
//
// The state is a superset of the partial encoding of [Set.MarshalBinary]:
// that one leaves out what grows with the traffic, because it crosses the
// network once a window; a state is what one process keeps to resume its
// own work, so it holds the per-user and per-IP tables, and the top-K
// summaries as they are laid out in memory (which key a summary evicts on
// a tie depends on that layout). The two formats are not interchangeable.
//
// It returns the errors of AppendBinary: ErrInvalidRange for a span
// outside the years 1 to 9999, ErrTooLarge for more than
// MaxEncodedEventTypes event types.
//
// # Format
//
// Version 1, with the conventions of the partial format (unsigned varints,
// minimally encoded; strings and addresses as there):
//
//	version      1 byte: 1
//	flags        1 byte: bit 0 a span follows, bit 1 distinct users are a
//	             sketch, bit 2 the Set is compact; the other bits are 0
//	config, span, total, bySeverity
//	             as in the partial format
//	types        a count n (at most MaxEncodedEventTypes), then n times an
//	             event type and its count (>= 1), in the table's order
//	             (first seen first), no type twice; the counts sum to total
//	users        unless compact: a count n, then n times: user ID, count
//	             (>= 1), first seen (Unix nanoseconds, as a signed varint
//	             difference from the previous user's, the first user's
//	             from 0, wrapping), last seen minus first seen; in the
//	             table's order, no ID twice; the counts sum to total
//	IPs          unless compact: a count n, then n times an address and
//	             its count (>= 1), in the table's order, no address twice;
//	             the counts sum to at most total
//	distinct     a sketch: as in the partial format. Exact and compact:
//	             the hashes, as in the partial format. Exact and not
//	             compact: nothing, the hashes are those of the user IDs
//	             (at most DistinctThreshold of them)
//	top users    the summary's total N (<= total), a count n (at most
//	             TopKCapacity), n times user ID, count (1..N) and error
//	             (<= count) in slot order, then the n slot numbers in heap
//	             order (a min-heap by count); unless compact, every key is
//	             in the users table
//	top IPs      the same, with addresses, in the IPs table unless compact
//
// Each state has one encoding, so a restored Set's state is the bytes it
// was restored from. A busy one-second window (10,000 users with IDs of 3
// to 7 bytes, 1,000 IPs, 12 event types, default config) takes about
// 133 KiB: some 12 bytes a user, 7 an IP, 8 KiB of sketch.
func (s *Set) AppendState(b []byte) ([]byte, error) {
	s.ready()
	if err := s.checkEncodable(); err != nil {
		return b, err
	}
	b0 := b
	b = slices.Grow(b, s.encodedSizeHint()+24*len(s.users.users)+12*len(s.ips.entries))
	flags := s.headFlags()
	if s.compact {
		flags |= flagCompact
	}
	b = s.appendHead(b, stateVersion, flags)

	b = binary.AppendUvarint(b, uint64(len(s.types.users)))
	for i := range s.types.users {
		b = appendString(b, s.types.users[i].key)
		b = binary.AppendUvarint(b, s.types.users[i].count)
	}
	if !s.compact {
		b = binary.AppendUvarint(b, uint64(len(s.users.users)))
		var prev int64
		for i := range s.users.users {
			u := &s.users.users[i]
			b = appendString(b, u.key)
			b = binary.AppendUvarint(b, u.count)
			b = binary.AppendVarint(b, u.first-prev)
			b = binary.AppendUvarint(b, uint64(u.last-u.first))
			prev = u.first
		}
		b = binary.AppendUvarint(b, uint64(len(s.ips.entries)))
		for i := range s.ips.entries {
			b = appendAddr(b, s.ips.entries[i].key)
			b = binary.AppendUvarint(b, s.ips.entries[i].count)
		}
	}

	switch {
	case s.activeUsers.approx:
		var ok bool
		if b, ok = appendSketch(b, s.activeUsers.sketch); !ok {
			return b0, errSketchNotDense
		}
	case s.compact:
		b = appendHashes(b, s.activeUsers.exact)
	}

	b = appendTopKState(b, &s.topUsers, appendString)
	b = appendTopKState(b, &s.topIPs, appendAddr)
	return b, nil
}

// appendTopKState appends a summary's total, its size, its counters in
// slot order and its heap.
func appendTopKState[K comparable](b []byte, t *TopK[K], appendKey func([]byte, K) []byte) []byte {
	b = binary.AppendUvarint(b, t.total)
	b = binary.AppendUvarint(b, uint64(len(t.slots)))
	for i := range t.slots {
		c := &t.slots[i]
		b = appendKey(b, c.key)
		b = binary.AppendUvarint(b, c.count)
		b = binary.AppendUvarint(b, c.err)
	}
	for _, id := range t.heap {
		b = binary.AppendUvarint(b, uint64(id))
	}
	return b
}

// RestoreState replaces s's contents by the state in data, written by
// [Set.AppendState], config included. The result behaves exactly like the
// Set that was written (the span is in UTC). data is not retained.
//
// Input that is not such a state — truncated, altered, or of an unknown
// version — gets an error wrapping ErrInvalidState that says what is
// wrong and at which byte, and s is left empty. Restoring never panics and
// checks every length against the bytes left before allocating for it:
// on top of what the partial format's decoding may allocate, each entry
// of the per-user table (about 90 bytes of memory with its index) takes
// at least 4 bytes of input, and each of the per-IP table (about 60) at
// least 6.
func (s *Set) RestoreState(data []byte) error {
	d := newDecoder(data, ErrInvalidState)
	s.restore(&d)
	if d.Err != nil {
		s.Reset()
		return d.Err
	}
	return nil
}

func (s *Set) restore(d *decoder) {
	flags, total := s.decodeHead(d, stateVersion, flagSpan|flagSketch|flagCompact)
	if d.Err != nil {
		return
	}
	compact, sketch := flags&flagCompact != 0, flags&flagSketch != 0
	s.decodeTypes(d, total, false)
	if compact {
		s.dropTables()
		s.decodeDistinct(d, sketch, total)
		decodeTopKState(d, &topUsersLabels, &s.topUsers, total, d.String, nil)
		decodeTopKState(d, &topIPsLabels, &s.topIPs, total, d.addr, nil)
	} else {
		s.decodeUsers(d, total)
		s.decodeIPs(d, total)
		if sketch {
			s.decodeSketch(d)
		} else {
			s.userHashes(d)
		}
		decodeTopKState(d, &topUsersLabels, &s.topUsers, total, d.String, s.userKey)
		decodeTopKState(d, &topIPsLabels, &s.topIPs, total, d.addr, s.ipKey)
	}
	if d.Err == nil && d.Rest() != 0 {
		d.Fail(d.Off, "%d bytes after the end", d.Rest())
	}
}

func (s *Set) decodeUsers(d *decoder, total uint64) {
	if d.Err != nil {
		return
	}
	at := d.Off
	n := d.Count("users", maxStateEntries, 4)
	s.users.reserve(n)
	var first int64
	var sum, carry uint64
	for i := 0; i < n && d.Err == nil; i++ {
		at := d.Off
		key := d.String("user ID")
		c := d.Uvarint("user count")
		first += d.Varint("user first seen")
		seen := d.Uvarint("user last seen")
		switch {
		case d.Err != nil:
			return
		case c == 0:
			d.Fail(at, "user %q has count 0", key)
			return
		case seen > uint64(math.MaxInt64)-uint64(first): // last would pass MaxInt64
			d.Fail(at, "user %q: last seen overflows", key)
			return
		case s.users.has(key):
			d.Fail(at, "user %q appears twice", key)
			return
		}
		sum, carry = bits.Add64(sum, c, carry)
		s.users.insert(key, userState{count: c, first: first, last: first + int64(seen)})
	}
	if d.Err == nil && (carry != 0 || sum != total) {
		d.Fail(at, "user counts do not sum to the total, %d", total)
	}
}

func (s *Set) decodeIPs(d *decoder, total uint64) {
	if d.Err != nil {
		return
	}
	at := d.Off
	n := d.Count("IPs", maxStateEntries, 6)
	s.ips.reserve(n)
	var sum, carry uint64
	for i := 0; i < n && d.Err == nil; i++ {
		at := d.Off
		a := d.addr("IP")
		c := d.Uvarint("IP count")
		switch {
		case d.Err != nil:
			return
		case c == 0:
			d.Fail(at, "IP %s has count 0", a)
			return
		}
		if _, dup := s.ips.find(a); dup {
			d.Fail(at, "IP %s appears twice", a)
			return
		}
		sum, carry = bits.Add64(sum, c, carry)
		s.ips.add(a, c)
	}
	if d.Err == nil && (carry != 0 || sum > total) {
		d.Fail(at, "IP counts sum to more than the total, %d", total)
	}
}

// userHashes makes the exact distinct users those of the users table, as
// Add and Merge keep them while the Set is not compact.
func (s *Set) userHashes(d *decoder) {
	if d.Err != nil {
		return
	}
	dist := &s.activeUsers
	if dist.exact == nil {
		dist.exact = make(map[uint64]struct{}, len(s.users.users))
	}
	for i := range s.users.users {
		dist.exact[hashString(s.users.users[i].key)] = struct{}{}
	}
	if len(dist.exact) > dist.limit() {
		d.Fail(d.Off, "%d distinct users, more than DistinctThreshold (%d), without a sketch", len(dist.exact), dist.limit())
	}
}

// userKey returns the users table's copy of a top user, recording where
// the user sits in the summary; false if the table does not have it.
func (s *Set) userKey(id string, slot int32) (string, bool) {
	i, ok := s.users.index(id)
	if !ok {
		return id, false
	}
	u := &s.users.users[i]
	u.slot = slot
	return u.key, true
}

// ipKey is userKey for the IPs table.
func (s *Set) ipKey(a netip.Addr, slot int32) (netip.Addr, bool) {
	i, ok := s.ips.find(a)
	if !ok {
		return a, false
	}
	s.ips.entries[i].slot = slot
	return a, true
}

// decodeTopKState reads a summary written by appendTopKState into t, an
// empty summary whose capacity is the decoded TopKCapacity. table, when
// not nil, gives the per-key table's copy of each key and records the
// key's slot there; a key it does not have is an error.
func decodeTopKState[K comparable](d *decoder, l *topKLabels, t *TopK[K], total uint64, key func(string) K, table func(K, int32) (K, bool)) {
	if d.Err != nil {
		return
	}
	what := l.name
	at := d.Off
	sum := d.Uvarint(l.total)
	if d.Err == nil && sum > total {
		d.Fail(at, "%s: total %d exceeds the %d events", what, sum, total)
	}
	n := d.Count(what, uint64(t.Capacity()), 4)
	if d.Err != nil {
		return
	}
	if len(t.index) == 0 && n > 1024 { // init sized it for 1024 keys
		t.index = make(map[K]int32, n)
	}
	t.slots, t.heap = slices.Grow(t.slots, n), slices.Grow(t.heap, n)
	for i := range n {
		at := d.Off
		k := key(l.key)
		count := d.Uvarint(l.count)
		e := d.Uvarint(l.err)
		if d.Err != nil {
			return
		}
		if _, dup := t.index[k]; dup {
			d.Fail(at, "%s: key %v appears twice", what, k)
			return
		}
		switch {
		case count == 0 || count > sum:
			d.Fail(at, "%s: count %d outside 1 to the summary's total, %d", what, count, sum)
			return
		case e > count:
			d.Fail(at, "%s: error %d exceeds count %d", what, e, count)
			return
		}
		if table != nil {
			var ok bool
			if k, ok = table(k, int32(i)); !ok {
				d.Fail(at, "%s: key %v is not in the table", what, k)
				return
			}
		}
		t.slots = append(t.slots, counter[K]{key: k, count: count, err: e, pos: -1})
		t.index[k] = int32(i)
	}
	for i := range n {
		at := d.Off
		id := d.Uvarint(l.heap)
		switch {
		case d.Err != nil:
			return
		case id >= uint64(n):
			d.Fail(at, "%s: slot %d of %d", what, id, n)
			return
		case t.slots[id].pos >= 0:
			d.Fail(at, "%s: slot %d appears twice", what, id)
			return
		case i > 0 && t.slots[t.heap[(i-1)/2]].count > t.slots[id].count:
			d.Fail(at, "%s: not a min-heap at position %d", what, i)
			return
		}
		t.slots[id].pos = int32(i)
		t.heap = append(t.heap, int32(id))
	}
	t.total = sum
}

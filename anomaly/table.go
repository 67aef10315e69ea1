package anomaly

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/rdr-go/rdr/internal/wire"
)

// Table holds a detector's per-key state, and forgets keys that go quiet: a
// key not looked up for TTL of event time is dropped at the latest after
// 2×TTL.
//
// Time is cut into generations of TTL. Each key remembers the generation it
// was last used in; once per generation the Table sweeps out the keys last
// used two generations ago or earlier (Get no longer returns them from the
// moment they expire).
//
// The Table does not keep the key strings: it keys its map by a 64-bit hash
// of them, seeded with a random 64-bit seed per Table, so inputs cannot be
// crafted to collide. (The hash is wyhash, with secrets derived from the
// seed in place of its constants; unlike hash/maphash its seed is a
// number, saved and restored with the table, and it gives the same hash on
// every platform and with every Go version.) Nothing from
// the event is retained, so the key passed to [Detector.Observe] can be used
// as is, and each key costs 8 bytes rather than its length. Two keys share
// state only if their hashes collide, with probability about n²/2⁶⁵ for n
// live keys (one in 10⁷ for a million keys).
//
// Each key's state S lives on the heap; Get and Put return a pointer to it,
// valid until the key is deleted or expires (at the latest until the next
// Advance). A lookup is one probe of one map.
//
// [Table.AppendState] and [Table.RestoreState] save and restore a Table —
// seed, clock, and every key's hash, age and state — for a detector that
// implements [Snapshotter].
//
// A Table is not safe for concurrent use.
type Table[S any] struct {
	seed    hashSeed
	ttl     int64
	gen     int64
	started bool
	m       map[uint64]*tableEntry[S]
}

type tableEntry[S any] struct {
	gen   int64 // the generation the key was last used in
	state S
}

// NewTable returns an empty Table whose keys expire after ttl. It panics if
// ttl is not positive.
func NewTable[S any](ttl time.Duration) *Table[S] {
	if ttl <= 0 {
		panic("anomaly: NewTable: ttl must be positive")
	}
	return &Table[S]{seed: newHashSeed(), ttl: int64(ttl), m: make(map[uint64]*tableEntry[S])}
}

// Get returns key's state, or nil if it has none (or it expired), and
// marks the key as used now.
func (t *Table[S]) Get(key string) *S { return t.get(t.hash(key)) }

// Put gives key the zero state (replacing any it had), marks it as used
// now, and returns the state.
func (t *Table[S]) Put(key string) *S { return t.put(t.hash(key)) }

// Delete drops key's state.
func (t *Table[S]) Delete(key string) { delete(t.m, t.hash(key)) }

func (t *Table[S]) hash(key string) uint64 { return t.seed.string(key) }

func (t *Table[S]) get(h uint64) *S {
	e := t.m[h]
	if e == nil {
		return nil
	}
	if e.gen < t.gen-1 {
		delete(t.m, h)
		return nil
	}
	e.gen = t.gen
	return &e.state
}

func (t *Table[S]) put(h uint64) *S {
	e := &tableEntry[S]{gen: t.gen}
	t.m[h] = e
	return &e.state
}

// Advance moves the table's clock to now. When now starts a new
// generation, the keys not used in this one or the one before are dropped.
// Time never goes backwards: an earlier now changes nothing.
func (t *Table[S]) Advance(now time.Time) {
	g := floorDiv(now.UnixNano(), t.ttl)
	if !t.started {
		t.gen, t.started = g, true
		return
	}
	if g <= t.gen {
		return
	}
	t.gen = g
	for h, e := range t.m {
		if e.gen < g-1 {
			delete(t.m, h)
		}
	}
}

// Len returns the number of keys held, including those that have expired
// but are not swept yet.
func (t *Table[S]) Len() int { return len(t.m) }

// tableVersion is the first byte of a saved Table.
const tableVersion = 1

// AppendState appends the table to b and returns the extended buffer: its
// seed, TTL and clock, then every key's hash and age, each followed by its
// state as appendState appends it (appendState must not change it). Keys
// come in hash order, so a Table saves to the same bytes whatever its
// map's order. AppendState does not change the table.
//
// The format (version 1; integers are minimal unsigned varints, or zigzag
// varints where they may be negative):
//
//	version   1 byte: 1
//	seed      8 bytes, little-endian
//	ttl       nanoseconds
//	started   1 byte: 1 once Advance has been called, else 0
//	gen       the current generation, now/ttl (zigzag)
//	keys      a count n, then n times: the key's hash (8 bytes,
//	          little-endian, strictly ascending), its age (the current
//	          generation minus the one it was last used in), its state
func (t *Table[S]) AppendState(b []byte, appendState func(b []byte, s *S) []byte) []byte {
	b = append(b, tableVersion)
	b = binary.LittleEndian.AppendUint64(b, t.seed.seed)
	b = binary.AppendUvarint(b, uint64(t.ttl))
	b = appendBool(b, t.started)
	b = binary.AppendVarint(b, t.gen)
	// Sort the hashes with the index of their entry: moving pointer-free
	// pairs around costs the garbage collector nothing.
	entries := make([]*tableEntry[S], 0, len(t.m))
	order := make([]hashIndex, 0, len(t.m))
	for h, e := range t.m {
		order = append(order, hashIndex{h, len(entries)})
		entries = append(entries, e)
	}
	order = sortByHash(order)
	b = binary.AppendUvarint(b, uint64(len(order)))
	for _, k := range order {
		e := entries[k.i]
		b = wire.Grow(b, 64) // see wire.Grow
		b = binary.LittleEndian.AppendUint64(b, k.h)
		b = binary.AppendUvarint(b, uint64(t.gen-e.gen))
		b = appendState(b, &e.state)
	}
	return b
}

// RestoreState replaces the table's contents with a table that
// [Table.AppendState] wrote at the start of data, and returns the rest of
// data. readState reads one key's state from the start of its data (which
// runs to the end of the input, the following keys included) into s, a
// zero S, and returns the number of bytes it used, or an error if they are
// not a state it wrote.
//
// Input that is not such a table — truncated, altered, written by a table
// with another TTL — gets an error wrapping [ErrInvalidState] that says what
// is wrong and at which byte (counted from the start of data), and the
// table is left empty, with a new seed. RestoreState does not panic on any
// input and allocates for no more keys than data can hold; it does not
// retain data.
func (t *Table[S]) RestoreState(data []byte, readState func(data []byte, s *S) (int, error)) (rest []byte, err error) {
	r := newStateReader(data)
	t.restore(&r, func(r *stateReader, s *S) {
		at := r.Off
		n, err := readState(r.Data[r.Off:], s)
		switch {
		case err != nil:
			r.failWith(at, "state", err)
		case n < 0 || n > r.Rest():
			r.Fail(at, "state: readState used %d bytes of %d", n, r.Rest())
		default:
			r.Off += n
		}
	})
	if r.Err != nil {
		return data, r.Err
	}
	return data[r.Off:], nil
}

// restore is RestoreState for the detectors of this package, which read
// each key's state with the same reader.
func (t *Table[S]) restore(r *stateReader, readState func(r *stateReader, s *S)) {
	at := r.Off
	fresh := func() {
		t.seed, t.gen, t.started, t.m = newHashSeed(), 0, false, make(map[uint64]*tableEntry[S])
	}
	if v := r.Byte("table version"); r.Err == nil && v != tableVersion {
		r.Fail(at, "table: unsupported version %d (this build reads version %d)", v, tableVersion)
	}
	seed := r.Uint64("table seed")
	at = r.Off
	if ttl := r.Uvarint("table ttl"); r.Err == nil && ttl != uint64(t.ttl) {
		r.Fail(at, "table: saved with TTL %v, this table's is %v", time.Duration(min(ttl, math.MaxInt64)), time.Duration(t.ttl))
	}
	started := r.Bool("table started")
	at = r.Off
	gen := r.Varint("table generation")
	if r.Err == nil && !started && gen != 0 {
		r.Fail(at, "table: generation %d before the clock started", gen)
	}
	n := r.Count("table keys", math.MaxInt, 9)
	if r.Err != nil {
		fresh()
		return
	}
	// The clock first: readState may read times relative to it (refTime).
	t.seed, t.gen, t.started = makeHashSeed(seed), gen, started
	m := make(map[uint64]*tableEntry[S], n)
	var prev uint64
	for i := range n {
		at := r.Off
		h := r.Uint64("key hash")
		age := r.Uvarint("key age")
		switch {
		case r.Err != nil:
		case i > 0 && h <= prev:
			r.Fail(at, "key %d: hashes not in strictly ascending order", i)
		case age > math.MaxInt64 || gen-int64(age) > gen:
			r.Fail(at, "key %d: age %d reaches before the first generation", i, age)
		}
		if r.Err != nil {
			break
		}
		e := &tableEntry[S]{gen: gen - int64(age)}
		if readState(r, &e.state); r.Err != nil {
			r.Err = withinState(fmt.Sprintf("key %d of %d", i, n), r.Err)
			break
		}
		m[h] = e
		prev = h
	}
	if r.Err != nil {
		fresh()
		return
	}
	t.m = m
}

// refTime is the start of the current generation, modulo 2⁶⁴: a time near
// the times in the table's states, to save them relative to.
func (t *Table[S]) refTime() int64 { return int64(uint64(t.gen) * uint64(t.ttl)) }

// hashIndex is a key's hash and the index of its entry.
type hashIndex struct {
	h uint64
	i int
}

// sortByHash returns a sorted by hash. The hashes of a Table are uniform
// (its seed is secret), so a bucket sort on their top bits, a few keys to a
// bucket, does it in about two passes: much faster than a comparison sort
// for the million keys a Table may hold. It may reuse a's memory.
func sortByHash(a []hashIndex) []hashIndex {
	less := func(x, y hashIndex) int { return cmp.Compare(x.h, y.h) }
	if len(a) < 1<<10 {
		slices.SortFunc(a, less)
		return a
	}
	shift := 64 - (bits.Len(uint(len(a))) - 2) // about 4 keys a bucket
	start := make([]int, 1<<(64-shift)+1)      // start[k]: where bucket k begins
	for _, x := range a {
		start[x.h>>shift+1]++
	}
	for k := 1; k < len(start); k++ {
		start[k] += start[k-1]
	}
	out := make([]hashIndex, len(a))
	next := slices.Clone(start[:len(start)-1])
	for _, x := range a {
		k := x.h >> shift
		out[next[k]] = x
		next[k]++
	}
	for k := range len(start) - 1 {
		bucket := out[start[k]:start[k+1]]
		if len(bucket) > 1 {
			slices.SortFunc(bucket, less)
		}
	}
	return out
}

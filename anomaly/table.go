package anomaly

import (
	"hash/maphash"
	"time"
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
// of them (hash/maphash, with a random seed per Table, so inputs cannot be
// crafted to collide). Nothing from the event is retained, so the key
// passed to [Detector.Observe] can be used as is, and each key costs 8
// bytes rather than its length. Two keys share state only if their hashes
// collide, with probability about n²/2⁶⁵ for n live keys (one in 10⁷ for a
// million keys).
//
// Each key's state S lives on the heap; Get and Put return a pointer to it,
// valid until the key is deleted or expires (at the latest until the next
// Advance). A lookup is one probe of one map.
//
// A Table is not safe for concurrent use.
type Table[S any] struct {
	seed    maphash.Seed
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
	return &Table[S]{seed: maphash.MakeSeed(), ttl: int64(ttl), m: make(map[uint64]*tableEntry[S])}
}

// Get returns key's state, or nil if it has none (or it expired), and
// marks the key as used now.
func (t *Table[S]) Get(key string) *S { return t.get(t.hash(key)) }

// Put gives key the zero state (replacing any it had), marks it as used
// now, and returns the state.
func (t *Table[S]) Put(key string) *S { return t.put(t.hash(key)) }

// Delete drops key's state.
func (t *Table[S]) Delete(key string) { delete(t.m, t.hash(key)) }

func (t *Table[S]) hash(key string) uint64 { return maphash.String(t.seed, key) }

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

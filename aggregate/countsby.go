package aggregate

import (
	"cmp"
	"encoding/json"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"

	"github.com/rdr-go/rdr"
)

// Item is one key of a top list or a key-count table: its count and, for
// the estimates of a [TopK], how much that count may overestimate the true
// one. The true count lies in [Count-Error, Count].
type Item[K comparable] struct {
	Key   K
	Count uint64
	// Error bounds the overestimate: Count-Error <= true count <= Count.
	// It is 0 for exact counts.
	Error uint64
}

// sortItems orders items by count descending, then key ascending by
// compare; with a nil compare, ties keep their order in items.
func sortItems[K comparable](items []Item[K], compare func(a, b K) int) {
	slices.SortStableFunc(items, func(a, b Item[K]) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 || compare == nil {
			return c
		}
		return compare(a.Key, b.Key)
	})
}

// cloneKey returns a copy of k that shares no memory with it when K is
// string, and k itself otherwise. Decoded events share one allocation for
// their strings, so a key kept after the event must be cloned or it would
// keep the whole decoded buffer alive.
func cloneKey[K comparable](k K) K {
	if s, ok := any(k).(string); ok {
		return any(strings.Clone(s)).(K)
	}
	return k
}

// CountsBy counts occurrences per key exactly: events by type, by user, by
// IP (K = netip.Addr). The zero value is empty and ready to use. Memory grows
// with the number of distinct keys; use a [TopK] when that number is
// unbounded and only the heaviest keys matter.
//
// String keys are cloned (strings.Clone) when first inserted, so the counts
// never pin the memory of a decoded event. Keys of other types that contain
// strings must be cloned by the caller.
//
// A CountsBy is not safe for concurrent use; the goroutine that adds to it
// owns it.
type CountsBy[K comparable] struct {
	index   map[K]int32
	entries []countEntry[K] // in first-insertion order
	total   uint64
}

type countEntry[K comparable] struct {
	key   K
	count uint64
}

// NewCountsBy returns an empty CountsBy. It is the same as new(CountsBy[K]).
func NewCountsBy[K comparable]() *CountsBy[K] { return new(CountsBy[K]) }

// Add counts one occurrence of key.
func (c *CountsBy[K]) Add(key K) { c.AddN(key, 1) }

// AddN counts n occurrences of key.
func (c *CountsBy[K]) AddN(key K, n uint64) {
	c.total += n
	if i, ok := c.index[key]; ok {
		c.entries[i].count += n
		return
	}
	c.insert(cloneKey(key), n)
}

// insert adds a key known to be absent. The key must already be owned
// (cloned) by c.
func (c *CountsBy[K]) insert(key K, n uint64) {
	if c.index == nil {
		c.index = make(map[K]int32)
	}
	c.index[key] = int32(len(c.entries))
	c.entries = append(c.entries, countEntry[K]{key: key, count: n})
}

// Get returns key's count (0 for a key never added).
func (c *CountsBy[K]) Get(key K) uint64 {
	if i, ok := c.index[key]; ok {
		return c.entries[i].count
	}
	return 0
}

// Len returns the number of distinct keys.
func (c *CountsBy[K]) Len() int { return len(c.entries) }

// Total returns the sum of all counts.
func (c *CountsBy[K]) Total() uint64 { return c.total }

// All yields every key and its count, in the order the keys were first
// added.
func (c *CountsBy[K]) All() iter.Seq2[K, uint64] {
	return func(yield func(K, uint64) bool) {
		for _, e := range c.entries {
			if !yield(e.key, e.count) {
				return
			}
		}
	}
}

// Top returns the n keys with the highest counts, ordered by count
// descending and then by key ascending according to compare (for example
// strings.Compare, or netip.Addr.Compare). With a nil compare, tied keys keep
// their first-insertion order. It returns every key when n >= Len, and none
// when n <= 0. The cost is O(Len · log Len).
func (c *CountsBy[K]) Top(n int, compare func(a, b K) int) []Item[K] {
	items := make([]Item[K], len(c.entries))
	for i, e := range c.entries {
		items[i] = Item[K]{Key: e.key, Count: e.count}
	}
	sortItems(items, compare)
	return items[:max(0, min(n, len(items)))]
}

// Merge adds every count of other to c, so that merging the counts of two
// partitions gives exactly the counts of their union. Keys new to c share
// other's (already cloned) strings.
func (c *CountsBy[K]) Merge(other *CountsBy[K]) {
	if other == nil {
		return
	}
	if other == c {
		for i := range c.entries {
			c.entries[i].count *= 2
		}
		c.total *= 2
		return
	}
	c.total += other.total
	for _, e := range other.entries {
		if i, ok := c.index[e.key]; ok {
			c.entries[i].count += e.count
		} else {
			c.insert(e.key, e.count)
		}
	}
}

// Reset empties c, keeping its allocated memory for reuse.
func (c *CountsBy[K]) Reset() {
	clear(c.index)
	clear(c.entries) // drop key references so the GC can free them
	c.entries = c.entries[:0]
	c.total = 0
}

// BySeverity counts events per severity, indexed by [rdr.Severity]. Index 0
// counts events whose severity is not valid (the decoder never produces
// them). The zero value is empty and ready to use; it is a plain array, so
// copying one copies the counts.
//
// In JSON it is an object with the wire names in severity order, e.g.
// {"low":3,"medium":1,"high":0,"critical":2}, plus "unknown" when index 0 is
// not zero.
type BySeverity [rdr.NumSeverities]uint64

// Add counts one event of severity s.
func (b *BySeverity) Add(s rdr.Severity) { b.AddN(s, 1) }

// AddN counts n events of severity s; an invalid s counts under index 0.
func (b *BySeverity) AddN(s rdr.Severity, n uint64) {
	if !s.Valid() {
		s = 0
	}
	b[s] += n
}

// Get returns the count for s (for an invalid s, the count of invalid
// severities).
func (b *BySeverity) Get(s rdr.Severity) uint64 {
	if !s.Valid() {
		s = 0
	}
	return b[s]
}

// Total returns the sum over all severities.
func (b *BySeverity) Total() uint64 {
	var t uint64
	for _, n := range b {
		t += n
	}
	return t
}

// Merge adds other's counts to b.
func (b *BySeverity) Merge(other *BySeverity) {
	if other == nil {
		return
	}
	for i, n := range other {
		b[i] += n
	}
}

// Reset sets every count back to zero.
func (b *BySeverity) Reset() { *b = BySeverity{} }

const unknownSeverity = "unknown"

// MarshalJSON writes {"low":n,"medium":n,"high":n,"critical":n}, adding
// "unknown" only when some severity was invalid.
func (b BySeverity) MarshalJSON() ([]byte, error) {
	buf := make([]byte, 0, 80)
	buf = append(buf, '{')
	for s := rdr.SeverityLow; s <= rdr.SeverityCritical; s++ {
		if s > rdr.SeverityLow {
			buf = append(buf, ',')
		}
		buf = fmt.Appendf(buf, "%q:%d", s.String(), b[s])
	}
	if b[0] != 0 {
		buf = fmt.Appendf(buf, ",%q:%d", unknownSeverity, b[0])
	}
	return append(buf, '}'), nil
}

// UnmarshalJSON reads the object MarshalJSON writes. Severity names are
// matched case-insensitively; a name that is neither a severity nor
// "unknown" is an error.
func (b *BySeverity) UnmarshalJSON(data []byte) error {
	var m map[string]uint64
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("aggregate: bySeverity: %w", err)
	}
	var out BySeverity
	for name, n := range m {
		if strings.EqualFold(name, unknownSeverity) {
			out[0] = n
			continue
		}
		s, err := rdr.ParseSeverity(name)
		if err != nil {
			return fmt.Errorf("aggregate: bySeverity: %w", err)
		}
		out[s] = n
	}
	*b = out
	return nil
}

// ipCounts is CountsBy[netip.Addr] with its own index, as the Set's
// per-IP table: a linear-probing hash table whose slots hold the top 32
// bits of an address's hash and its entry index + 1 (0 = empty), so a
// lookup usually touches one slot and one entry. The hash is keyed with
// random keys per table, so crafted addresses cannot flood it.
type ipCounts struct {
	k0, k1  uint64
	slots   []uint64
	mask    uint64
	entries []ipEntry
}

type ipEntry struct {
	key   netip.Addr
	count uint64
	slot  int32 // where key last entered a TopK fed by offerExact; -1 if never
}

func (c *ipCounts) hash(a netip.Addr) uint64 {
	b := a.As16()
	hi := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	lo := uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 |
		uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15])
	return mix(mix(hi^c.k0, lo^c.k1), c.k0^0xe7037ed1a0b428db)
}

func (c *ipCounts) find(a netip.Addr) (int32, bool) {
	if c.slots == nil {
		return 0, false
	}
	h := c.hash(a)
	tag := h >> 32
	for pos := h & c.mask; ; pos = (pos + 1) & c.mask {
		x := c.slots[pos]
		if x == 0 {
			return 0, false
		}
		if x>>32 == tag {
			if i := int32(uint32(x)) - 1; c.entries[i].key == a {
				return i, true
			}
		}
	}
}

// add counts n occurrences of a and returns its entry.
func (c *ipCounts) add(a netip.Addr, n uint64) *ipEntry {
	if i, ok := c.find(a); ok {
		e := &c.entries[i]
		e.count += n
		return e
	}
	if (len(c.entries)+1)*4 > len(c.slots)*3 {
		c.grow()
	}
	i := int32(len(c.entries))
	c.entries = append(c.entries, ipEntry{key: a, count: n, slot: -1})
	c.place(c.hash(a), i)
	return &c.entries[i]
}

// reserve makes room for n more entries without growing.
func (c *ipCounts) reserve(n int) {
	c.entries = slices.Grow(c.entries, n)
	for (len(c.entries)+n)*4 > len(c.slots)*3 {
		c.grow()
	}
}

func (c *ipCounts) place(h uint64, i int32) {
	pos := h & c.mask
	for c.slots[pos] != 0 {
		pos = (pos + 1) & c.mask
	}
	c.slots[pos] = h>>32<<32 | uint64(uint32(i+1))
}

// grow doubles the table (the first time: 64 slots, with fresh random
// hash keys) and re-places every entry.
func (c *ipCounts) grow() {
	if c.slots == nil {
		c.k0, c.k1 = rand.Uint64(), rand.Uint64()
	}
	size := max(64, 2*len(c.slots))
	c.slots = make([]uint64, size)
	c.mask = uint64(size - 1)
	for i := range c.entries {
		c.place(c.hash(c.entries[i].key), int32(i))
	}
}

func (c *ipCounts) get(a netip.Addr) (uint64, bool) {
	i, ok := c.find(a)
	if !ok {
		return 0, false
	}
	return c.entries[i].count, true
}

func (c *ipCounts) merge(other *ipCounts) {
	if other == c {
		for i := range c.entries {
			c.entries[i].count *= 2
		}
		return
	}
	if len(c.entries) == 0 { // a copy (Series.put): sized once, not doubled up to it
		c.reserve(len(other.entries))
	}
	for _, e := range other.entries {
		c.add(e.key, e.count)
	}
}

func (c *ipCounts) reset() {
	clear(c.slots)
	c.entries = c.entries[:0]
}

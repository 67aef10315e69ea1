package aggregate

import (
	"fmt"
	"iter"
	"slices"
)

// DefaultTopKCapacity is the capacity of a zero TopK and of NewTopK(0).
const DefaultTopKCapacity = 100

// MaxTopKCapacity is the largest capacity [NewTopK] accepts.
const MaxTopKCapacity = 1 << 16

// TopK finds the heaviest keys of a stream (top users, top IPs) in bounded
// memory with the Space-Saving algorithm (Metwally, Agrawal, El Abbadi,
// 2005): it monitors capacity keys; a key that is not monitored replaces
// the one with the smallest count and inherits that count as its possible
// error.
//
// # Guarantee
//
// After keys of total weight N = [TopK.Total] have been added to a TopK of
// capacity m, with b = [TopK.Min] (0 until m keys are monitored; b <= N/m
// always):
//
//   - every key whose true count exceeds b, hence every key whose true count
//     exceeds N/m, is monitored, so it is among [TopK.Top](m);
//   - every reported Item satisfies Count-Error <= true count <= Count, with
//     Error <= b <= N/m: a count overestimates by at most N/m.
//
// While fewer than m distinct keys have been seen, every count is exact.
//
// # Merging
//
// [TopK.Merge] combines two summaries as in Agarwal et al., "Mergeable
// Summaries" (2012): a key's merged count is its count in each summary, or
// that summary's Min where it is not monitored, and the m largest are kept.
// The result is a summary of the union of both streams that keeps the same
// guarantee with N = N_A + N_B: no key with a true count above
// Min_A + Min_B <= N_A/m_A + N_B/m_B is missed, and no count overestimates
// by more than that; with equal capacities that is N/m, the bound of a
// single summary fed the whole union. Merged summaries merge again with the
// same guarantee.
//
// String keys are cloned (strings.Clone) when they enter the summary. The
// zero value is an empty TopK of capacity DefaultTopKCapacity. A TopK
// is not safe for concurrent use; the goroutine that adds to it owns it.
type TopK[K comparable] struct {
	capacity int
	index    map[K]int32  // key → slot
	slots    []counter[K] // at most capacity; a slot's key changes on eviction
	heap     []int32      // min-heap of slot ids by count
	total    uint64       // N
	scratch  []Item[K]    // reused by Merge
}

type counter[K comparable] struct {
	key   K
	count uint64
	err   uint64
	pos   int32 // position in heap
}

// NewTopK returns an empty TopK monitoring up to capacity keys (1 to
// MaxTopKCapacity; 0 means DefaultTopKCapacity), or an error wrapping
// ErrInvalidConfig. To report the
// top n reliably, a capacity several times n (10n, say) keeps the bound
// N/capacity well below the counts of interest.
func NewTopK[K comparable](capacity int) (*TopK[K], error) {
	t := new(TopK[K])
	if err := t.init(capacity); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *TopK[K]) init(capacity int) error {
	if capacity == 0 {
		capacity = DefaultTopKCapacity
	}
	if capacity < 1 || capacity > MaxTopKCapacity {
		return fmt.Errorf("%w: top-K capacity must be between 1 and %d, got %d", ErrInvalidConfig, MaxTopKCapacity, capacity)
	}
	t.capacity = capacity
	t.index = make(map[K]int32, min(capacity, 1024))
	return nil
}

// Add counts one occurrence of key.
func (t *TopK[K]) Add(key K) { t.AddN(key, 1) }

// AddN counts n occurrences of key. It costs O(log capacity) and, for a
// string key entering the summary, the allocation of its clone.
func (t *TopK[K]) AddN(key K, n uint64) {
	if n == 0 {
		return
	}
	if t.index == nil {
		_ = t.init(t.capacity) // 0 or a capacity already checked
	}
	t.total += n
	if i, ok := t.index[key]; ok {
		t.slots[i].count += n
		t.down(int(t.slots[i].pos))
		return
	}
	key = cloneKey(key)
	if len(t.slots) < t.capacity {
		t.push(key, n, 0)
		return
	}
	r := t.heap[0]
	low := t.slots[r].count
	t.replaceRoot(key, low+n, low)
}

// offerExact is Add(key) for a caller that knows key's exact count f after
// this occurrence, and that owns key (no clone is made). *slot is the
// caller's memory of where key last entered t (-1 if never); it saves the
// index lookup for monitored keys. offerExact keeps every guarantee of Add
// and makes counts exact where Add would estimate:
//   - f <= Min: key cannot be monitored with a count below f, and leaving it
//     out keeps "unmonitored keys have true counts <= Min"; nothing to do.
//   - key monitored: its count (an upper bound) goes up by one.
//   - otherwise key enters with count f and error 0. Before this occurrence
//     its count f-1 was <= Min, so f <= Min+1 and the sum of counts grows by
//     at most one, like N.
func (t *TopK[K]) offerExact(key K, f uint64, slot *int32) {
	t.total++
	full := len(t.slots) == t.capacity
	if full && f <= t.slots[t.heap[0]].count {
		return
	}
	i := *slot
	if i < 0 || int(i) >= len(t.slots) || t.slots[i].key != key {
		var ok bool
		if i, ok = t.index[key]; !ok {
			if !full {
				*slot = t.push(key, f, 0)
			} else {
				*slot = t.replaceRoot(key, f, 0)
			}
			return
		}
		*slot = i
	}
	t.slots[i].count++
	t.down(int(t.slots[i].pos))
}

func (t *TopK[K]) push(key K, count, err uint64) int32 {
	id := int32(len(t.slots))
	t.slots = append(t.slots, counter[K]{key: key, count: count, err: err, pos: int32(len(t.heap))})
	t.heap = append(t.heap, id)
	t.index[key] = id
	t.up(len(t.heap) - 1)
	return id
}

func (t *TopK[K]) replaceRoot(key K, count, err uint64) int32 {
	r := t.heap[0]
	s := &t.slots[r]
	delete(t.index, s.key)
	s.key, s.count, s.err = key, count, err
	t.index[key] = r
	t.down(0)
	return r
}

func (t *TopK[K]) less(i, j int) bool {
	return t.slots[t.heap[i]].count < t.slots[t.heap[j]].count
}

func (t *TopK[K]) swap(i, j int) {
	h := t.heap
	h[i], h[j] = h[j], h[i]
	t.slots[h[i]].pos = int32(i)
	t.slots[h[j]].pos = int32(j)
}

func (t *TopK[K]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(i, p) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

func (t *TopK[K]) down(i int) {
	n := len(t.heap)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && t.less(c+1, c) {
			c++
		}
		if !t.less(c, i) {
			return
		}
		t.swap(i, c)
		i = c
	}
}

// Min returns the summary's bound b: the smallest monitored count once the
// summary is full, 0 before. No unmonitored key has a true count above b,
// and no Error exceeds it.
func (t *TopK[K]) Min() uint64 {
	if len(t.slots) < t.Capacity() || len(t.heap) == 0 {
		return 0
	}
	return t.slots[t.heap[0]].count
}

// Total returns N, the total weight added (and merged) so far.
func (t *TopK[K]) Total() uint64 { return t.total }

// Len returns the number of keys monitored (at most Capacity).
func (t *TopK[K]) Len() int { return len(t.slots) }

// Capacity returns the number of keys the summary can monitor.
func (t *TopK[K]) Capacity() int {
	if t.capacity == 0 {
		return DefaultTopKCapacity
	}
	return t.capacity
}

// Get returns key's estimated count and error if key is monitored.
func (t *TopK[K]) Get(key K) (Item[K], bool) {
	i, ok := t.index[key]
	if !ok {
		return Item[K]{}, false
	}
	c := t.slots[i]
	return Item[K]{Key: c.key, Count: c.count, Error: c.err}, true
}

// All yields every monitored key with its estimate, in no particular order.
func (t *TopK[K]) All() iter.Seq[Item[K]] {
	return func(yield func(Item[K]) bool) {
		for _, c := range t.slots {
			if !yield(Item[K]{Key: c.key, Count: c.count, Error: c.err}) {
				return
			}
		}
	}
}

// Top returns up to n monitored keys with the highest counts, ordered by
// count descending, then key ascending by compare (strings.Compare,
// netip.Addr.Compare, …); with a nil compare, tied keys come in an
// unspecified but deterministic order.
func (t *TopK[K]) Top(n int, compare func(a, b K) int) []Item[K] {
	items := make([]Item[K], 0, len(t.slots))
	for _, c := range t.slots {
		items = append(items, Item[K]{Key: c.key, Count: c.count, Error: c.err})
	}
	sortItems(items, compare)
	return items[:max(0, min(n, len(items)))]
}

// Merge folds other into t; see the type's documentation for the bound the
// result keeps. t keeps its capacity. A nil other changes nothing; merging
// t into itself doubles every count, as merging two equal streams would.
func (t *TopK[K]) Merge(other *TopK[K]) {
	if other == nil || len(other.slots) == 0 {
		if other != nil {
			t.total += other.total
		}
		return
	}
	if other == t {
		other = t.clone()
	}
	if t.index == nil {
		_ = t.init(t.capacity)
	}
	minT, minO := t.Min(), other.Min()
	c := t.scratch[:0]
	for _, s := range t.slots {
		it := Item[K]{Key: s.key, Count: s.count + minO, Error: s.err + minO}
		if j, ok := other.index[s.key]; ok {
			o := other.slots[j]
			it.Count, it.Error = s.count+o.count, s.err+o.err
		}
		c = append(c, it)
	}
	for _, o := range other.slots {
		if _, ok := t.index[o.key]; !ok {
			c = append(c, Item[K]{Key: o.key, Count: o.count + minT, Error: o.err + minT})
		}
	}
	sortItems(c, nil) // stable: ties keep t's keys first
	t.rebuild(c[:min(len(c), t.Capacity())])
	t.total += other.total
	clear(c) // drop key references held by the scratch space
	t.scratch = c[:0]
}

// mergeAll replaces t's contents by the merge of srcs, in one pass: the
// n-way form of Merge. A key's merged count is the sum over the summaries
// of its count there, or that summary's Min where it is not monitored, and
// the Capacity largest are kept. It keeps the guarantee of pairwise merges
// (no count overestimates by more than the sum of the Mins, which is at most
// N/m with equal capacities) and costs one pass over all counters plus one
// sort, instead of a sort per source. srcs must not include t.
func (t *TopK[K]) mergeAll(srcs []*TopK[K]) {
	t.Reset()
	if t.index == nil {
		_ = t.init(t.capacity)
	}
	// With M the sum of the Mins: count = M + Σ (c_i - min_i) over the
	// summaries that monitor the key, and error = M - Σ (min_i - err_i);
	// both sums are non-negative because min_i <= c_i and err_i <= min_i.
	// The scratch items hold the first sum in Count and the second in Error
	// until the end; t.index maps a key to its scratch item meanwhile.
	var sumMin uint64
	c := t.scratch[:0]
	for _, src := range srcs {
		if src == nil {
			continue
		}
		t.total += src.total
		low := src.Min()
		sumMin += low
		for _, s := range src.slots {
			if p, ok := t.index[s.key]; ok {
				c[p].Count += s.count - low
				c[p].Error += low - s.err
				continue
			}
			t.index[s.key] = int32(len(c))
			c = append(c, Item[K]{Key: s.key, Count: s.count - low, Error: low - s.err})
		}
	}
	for i := range c {
		c[i].Count += sumMin
		c[i].Error = sumMin - c[i].Error
	}
	sortItems(c, nil)
	t.rebuild(c[:min(len(c), t.Capacity())])
	clear(c)
	t.scratch = c[:0]
}

// rebuild makes keep, sorted by count descending, t's counters.
func (t *TopK[K]) rebuild(keep []Item[K]) {
	clear(t.index)
	clear(t.slots)
	t.slots = t.slots[:0]
	t.heap = t.heap[:0]
	// In reverse, a list sorted by count descending is a valid min-heap.
	for i := len(keep) - 1; i >= 0; i-- {
		it := keep[i]
		id := int32(len(t.slots))
		t.slots = append(t.slots, counter[K]{key: it.Key, count: it.Count, err: it.Error, pos: id})
		t.heap = append(t.heap, id)
		t.index[it.Key] = id
	}
}

func (t *TopK[K]) clone() *TopK[K] {
	c := &TopK[K]{
		capacity: t.Capacity(),
		index:    make(map[K]int32, len(t.index)),
		slots:    slices.Clone(t.slots),
		heap:     slices.Clone(t.heap),
		total:    t.total,
	}
	for k, v := range t.index {
		c.index[k] = v
	}
	return c
}

// Reset empties t, keeping its memory for reuse.
func (t *TopK[K]) Reset() {
	clear(t.index)
	clear(t.slots)
	t.slots = t.slots[:0]
	t.heap = t.heap[:0]
	t.total = 0
}

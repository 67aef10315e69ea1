package window

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// DefaultMaxWindows is the default for Config.MaxWindows.
const DefaultMaxWindows = 1 << 20

// Config configures [Windows]. T is the item type and S the per-window state.
type Config[T, S any] struct {
	// Assigner says which windows an item belongs to. Required: one of
	// [Tumbling], [Hopping] or [Session].
	Assigner Assigner

	// AllowedLateness is how long after a window fires it still takes items
	// (each re-fires it as an update). Optional; default 0: a window takes
	// no items once it has fired. Must be >= 0 and a whole number of
	// milliseconds.
	AllowedLateness time.Duration

	// MaxWindows bounds the number of open windows — (key, window) pairs,
	// counting each open session as one. Past it, Add returns [ErrFull] for
	// an item that needs a new window. Optional; default
	// [DefaultMaxWindows]. Must be >= 0 and at most math.MaxInt32.
	MaxWindows int

	// Init returns the state of a new window. Optional; default: the zero S.
	Init func() S

	// Add folds item into a window's state. Required.
	Add func(state *S, item T)

	// Merge folds src into dst when session windows merge. Required for
	// [Session] assigners, unused otherwise. After Merge, src is dropped.
	Merge func(dst *S, src S)

	// Free is given each window's state once the Windows holds it no more:
	// the window was freed (the watermark passed its allowed lateness, or
	// Flush), or, for sessions, merged into another. The Windows does not
	// touch the state after, so Free may keep it for Init to hand out again
	// (a state with tables sized by the traffic refills without
	// allocating). Optional. Not called for the states RestoreState
	// replaces.
	Free func(S)
}

func (c *Config[T, S]) setDefaults() {
	if c.MaxWindows == 0 {
		c.MaxWindows = DefaultMaxWindows
	}
}

// Validate reports whether c is usable, treating zero optional fields as
// their defaults. The error matches [ErrInvalidConfig] and names the field.
func (c Config[T, S]) Validate() error {
	if p := c.Assigner.problem(); p != "" {
		return fmt.Errorf("%w: Assigner: %s", ErrInvalidConfig, p)
	}
	if p := checkNonNegativeMillis(c.AllowedLateness); p != "" {
		return fmt.Errorf("%w: AllowedLateness %s", ErrInvalidConfig, p)
	}
	if c.MaxWindows < 0 || c.MaxWindows > math.MaxInt32 {
		return fmt.Errorf("%w: MaxWindows must be between 0 (default %d) and %d, got %d",
			ErrInvalidConfig, DefaultMaxWindows, math.MaxInt32, c.MaxWindows)
	}
	if c.Add == nil {
		return fmt.Errorf("%w: Add is required", ErrInvalidConfig)
	}
	if c.Assigner.kind == kindSession && c.Merge == nil {
		return fmt.Errorf("%w: Merge is required for session windows", ErrInvalidConfig)
	}
	return nil
}

func checkNonNegativeMillis(d time.Duration) string {
	if d < 0 {
		return fmt.Sprintf("must not be negative, got %v", d)
	}
	if d%time.Millisecond != 0 {
		return fmt.Sprintf("%v is not a whole number of milliseconds", d)
	}
	return ""
}

// Status says what [Windows.Add] did with an item.
type Status uint8

const (
	// StatusRejected: the item was not added; Add's error says why
	// ([ErrFull], [ErrTimeRange]).
	StatusRejected Status = iota
	// StatusAccepted: the item went into windows that have not been emitted
	// yet; they are emitted when they fire.
	StatusAccepted
	// StatusUpdate: the item changed a window that was already emitted
	// (it arrived within the allowed lateness); the window is emitted again,
	// with Result.Update set, by the next Advance (or, for a session that
	// the item extended past the watermark, when it fires again).
	StatusUpdate
	// StatusLate: the item arrived after the allowed lateness of every
	// window it belongs to. It was not added; it is counted in [Stats].Late
	// and the caller should route it to a late-data output.
	StatusLate
)

// String returns "rejected", "accepted", "update" or "late".
func (s Status) String() string {
	switch s {
	case StatusRejected:
		return "rejected"
	case StatusAccepted:
		return "accepted"
	case StatusUpdate:
		return "update"
	case StatusLate:
		return "late"
	default:
		return fmt.Sprintf("Status(%d)", uint8(s))
	}
}

// Result is one emitted window: the state of Key's Window.
type Result[K comparable, S any] struct {
	Key    K
	Window Window
	// State is the window's state at emission. If S holds references
	// (maps, slices, pointers), they are shared with the open window, which
	// later updates change: copy what you keep beyond the emit call.
	State S
	// Update is true when an earlier result for this key covered part of
	// this data: a re-emission after late items (same Window, so a sink can
	// overwrite), or, for sessions, a session that grew after it was
	// emitted (the Window is then wider than before).
	Update bool
}

// Stats is a snapshot of a [Windows]' counters.
type Stats struct {
	// Watermark is the current watermark; the zero time means none yet.
	Watermark time.Time
	// OpenWindows is the number of (key, window) pairs held in memory.
	OpenWindows int
	// Keys is the number of distinct keys with an open window.
	Keys int
	// Added counts items accepted (StatusAccepted or StatusUpdate).
	Added uint64
	// Fired counts results emitted for the first time (Update false).
	Fired uint64
	// Updates counts results emitted again (Update true).
	Updates uint64
	// Late counts items reported StatusLate.
	Late uint64
	// Full counts items rejected with ErrFull.
	Full uint64
}

// Windows holds keyed event-time window state: for every key K and window,
// a state S folded from items T. Add items with [Windows.Add], move event
// time forward with [Windows.Advance], which emits the windows that are
// complete, and emit what is left with [Windows.Flush] at the end.
//
// Results come out in a deterministic order: by window end, then window
// start, then the order in which the (key, window) was opened (for sessions:
// the order the session was started).
//
// Memory is bounded by Config.MaxWindows; a window's state is freed once the
// watermark has passed its allowed lateness. Adding to an open window does
// not allocate.
//
// A Windows is not safe for concurrent use: like a Flink operator it belongs
// to one goroutine. The emit functions must not call the Windows.
type Windows[K comparable, T, S any] struct {
	kind     kind
	size     int64 // window size, or session gap, in ms
	slide    int64
	lateness int64
	max      int
	init     func() S
	add      func(*S, T)
	merge    func(*S, S)
	free     func(S)

	wm int64 // current watermark in ms, noWatermark if none

	entries   []entry[K, S]
	freeEntry int32 // free list through entry.next, -1 if empty
	live      int
	buckets   []bucket
	freeBkt   int32 // free list through bucket.next, -1 if empty

	slots    map[slot[K]]int32 // aligned: (key, start) → entry
	starts   map[int64]int32   // aligned: start → bucket
	keyRefs  map[K]int32       // aligned: key → open windows
	sessions map[K]int32       // session: key → first entry of its chain

	pending []int32 // heap of buckets not fired yet, by (end, start, seq)
	fired   []int32 // heap of fired buckets awaiting cleanup, same order
	dirty   []int32 // fired buckets with entries to emit again
	batch   []int32
	scratch []int32
	seq     uint64

	added, firedN, updates, late, full uint64
}

// entry is one (key, window) state.
type entry[K comparable, S any] struct {
	key     K
	state   S
	bucket  int32
	ord     int32 // position in bucket.entries: arrival order
	next    int32 // session chain of the key, or free list
	dirty   bool  // changed since emitted, listed in bucket.dirty
	emitted bool
}

// bucket is one window with all its entries: for tumbling and hopping
// windows every key's entry for that window; for sessions a single entry.
type bucket struct {
	start, end int64
	seq        uint64
	entries    []int32
	dirty      []int32
	hpos       int32 // position in pending or fired heap
	next       int32 // free list
	fired      bool  // in the fired heap (else in pending)
	inDirty    bool  // listed in Windows.dirty
}

type slot[K comparable] struct {
	key   K
	start int64
}

// New returns an empty Windows for cfg. Give the key type explicitly; the
// others follow from cfg: window.New[string](cfg). The error matches
// [ErrInvalidConfig].
func New[K comparable, T, S any](cfg Config[T, S]) (*Windows[K, T, S], error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Windows[K, T, S]{
		kind:      cfg.Assigner.kind,
		size:      cfg.Assigner.size.Milliseconds(),
		slide:     cfg.Assigner.slide.Milliseconds(),
		lateness:  cfg.AllowedLateness.Milliseconds(),
		max:       cfg.MaxWindows,
		init:      cfg.Init,
		add:       cfg.Add,
		merge:     cfg.Merge,
		free:      cfg.Free,
		wm:        noWatermark,
		freeEntry: -1,
		freeBkt:   -1,
	}
	if w.kind == kindSession {
		w.sessions = make(map[K]int32)
	} else {
		w.slots = make(map[slot[K]]int32)
		w.starts = make(map[int64]int32)
		w.keyRefs = make(map[K]int32)
	}
	return w, nil
}

// Add puts item, which happened at t, into key's windows. t is rounded down to
// the millisecond.
//
// The returned [Status] says what happened: accepted; accepted as an update
// of an already emitted window (re-emitted at the next Advance); or late —
// past the allowed lateness of all its windows — in which case the item is
// not added, is counted, and must be routed elsewhere by the caller. With
// Hopping windows an item that is late for some of its windows only goes
// into the others and is not late (Flink's rule).
//
// Add returns [ErrFull] (StatusRejected) when the item needs a new window and
// MaxWindows are open, and [ErrTimeRange] for an absurd t.
func (w *Windows[K, T, S]) Add(key K, t time.Time, item T) (Status, error) {
	ms, ok := millis(t)
	if !ok {
		return StatusRejected, fmt.Errorf("%w: %v", ErrTimeRange, t)
	}
	switch w.kind {
	case kindTumbling:
		return w.addTumbling(key, ms, item)
	case kindHopping:
		return w.addHopping(key, ms, item)
	default:
		return w.addSession(key, ms, item)
	}
}

func (w *Windows[K, T, S]) isLate(end int64) bool { return end-1+w.lateness <= w.wm }

func (w *Windows[K, T, S]) addTumbling(key K, ms int64, item T) (Status, error) {
	start := Align(ms, w.size)
	if w.isLate(start + w.size) {
		w.late++
		return StatusLate, nil
	}
	idx, ok := w.slots[slot[K]{key, start}]
	if !ok {
		if w.live >= w.max {
			w.full++
			return StatusRejected, ErrFull
		}
		idx = w.openAligned(key, start)
	}
	w.added++
	return w.addTo(idx, item), nil
}

func (w *Windows[K, T, S]) addHopping(key K, ms int64, item T) (Status, error) {
	last := ms - floorMod(ms, w.slide)
	// Windows [start, start+size) with last >= start > ms-size; the ones
	// with the smallest starts become late first.
	n := 0
	for start := last; start > ms-w.size && !w.isLate(start+w.size); start -= w.slide {
		n++
	}
	if n == 0 {
		w.late++
		return StatusLate, nil
	}
	if w.live+n > w.max {
		missing := 0
		for i, start := 0, last; i < n; i, start = i+1, start-w.slide {
			if _, ok := w.slots[slot[K]{key, start}]; !ok {
				missing++
			}
		}
		if w.live+missing > w.max {
			w.full++
			return StatusRejected, ErrFull
		}
	}
	status := StatusAccepted
	for i, start := 0, last; i < n; i, start = i+1, start-w.slide {
		idx, ok := w.slots[slot[K]{key, start}]
		if !ok {
			idx = w.openAligned(key, start)
		}
		if w.addTo(idx, item) == StatusUpdate {
			status = StatusUpdate
		}
	}
	w.added++
	return status, nil
}

func (w *Windows[K, T, S]) addSession(key K, ms int64, item T) (Status, error) {
	ns, ne := ms, ms+w.size
	over := w.scratch[:0]
	head, hasKey := w.sessions[key]
	if hasKey {
		for i := head; i >= 0; i = w.entries[i].next {
			b := &w.buckets[w.entries[i].bucket]
			if b.start <= ne && b.end >= ns { // Flink's TimeWindow.intersects
				over = append(over, i)
			}
		}
	}
	w.scratch = over[:0]

	if len(over) == 0 {
		if w.isLate(ne) {
			w.late++
			return StatusLate, nil
		}
		if w.live >= w.max {
			w.full++
			return StatusRejected, ErrFull
		}
		idx := w.newEntry(key, w.newBucket(ns, ne))
		if hasKey {
			w.entries[idx].next = head
		}
		w.sessions[key] = idx
		w.added++
		return w.addTo(idx, item), nil
	}

	// Merge every overlapping session into the one that starts first.
	surv := over[0]
	for _, i := range over[1:] {
		if w.buckets[w.entries[i].bucket].start < w.buckets[w.entries[surv].bucket].start {
			surv = i
		}
	}
	sb := w.entries[surv].bucket
	start, end := min(ns, w.buckets[sb].start), max(ne, w.buckets[sb].end)
	for _, i := range over {
		if i == surv {
			continue
		}
		ob := w.entries[i].bucket
		start, end = min(start, w.buckets[ob].start), max(end, w.buckets[ob].end)
		w.merge(&w.entries[surv].state, w.entries[i].state)
		w.entries[surv].emitted = w.entries[surv].emitted || w.entries[i].emitted
		w.drop(ob)
	}
	if b := &w.buckets[sb]; start != b.start || end != b.end {
		b.start, b.end = start, end
		switch {
		case !b.fired:
			w.hfix(w.pending, int(b.hpos))
		case end-1 > w.wm:
			// Grown past the watermark: it fires again later, whole.
			w.hremove(&w.fired, int(b.hpos))
			b.fired = false
			w.undirty(sb)
			w.hpush(&w.pending, sb)
		default:
			w.hfix(w.fired, int(b.hpos))
		}
	}
	w.added++
	return w.addTo(surv, item), nil
}

// addTo folds item into entry idx and schedules its re-emission if its
// window has fired.
func (w *Windows[K, T, S]) addTo(idx int32, item T) Status {
	e := &w.entries[idx]
	w.add(&e.state, item)
	status := StatusAccepted
	if e.emitted {
		status = StatusUpdate
	}
	if !e.dirty && w.buckets[e.bucket].fired {
		e.dirty = true
		b := &w.buckets[e.bucket]
		b.dirty = append(b.dirty, idx)
		if !b.inDirty {
			b.inDirty = true
			w.dirty = append(w.dirty, e.bucket)
		}
	}
	return status
}

// openAligned opens key's tumbling or hopping window starting at start.
func (w *Windows[K, T, S]) openAligned(key K, start int64) int32 {
	bid, ok := w.starts[start]
	if !ok {
		bid = w.newBucket(start, start+w.size)
		w.starts[start] = bid
	}
	idx := w.newEntry(key, bid)
	w.slots[slot[K]{key, start}] = idx
	w.keyRefs[key]++
	return idx
}

func (w *Windows[K, T, S]) newBucket(start, end int64) int32 {
	var id int32
	if w.freeBkt >= 0 {
		id = w.freeBkt
		w.freeBkt = w.buckets[id].next
	} else {
		w.buckets = append(w.buckets, bucket{})
		id = int32(len(w.buckets) - 1)
	}
	b := &w.buckets[id]
	b.start, b.end = start, end
	b.seq = w.seq
	w.seq++
	b.next = -1
	w.hpush(&w.pending, id)
	return id
}

func (w *Windows[K, T, S]) newEntry(key K, bid int32) int32 {
	var idx int32
	if w.freeEntry >= 0 {
		idx = w.freeEntry
		w.freeEntry = w.entries[idx].next
	} else {
		w.entries = append(w.entries, entry[K, S]{})
		idx = int32(len(w.entries) - 1)
	}
	b := &w.buckets[bid]
	e := &w.entries[idx]
	e.key = key
	e.bucket = bid
	e.ord = int32(len(b.entries))
	e.next = -1
	if w.init != nil {
		e.state = w.init()
	}
	b.entries = append(b.entries, idx)
	w.live++
	return idx
}

// drop removes bucket id from wherever it is listed and frees it.
func (w *Windows[K, T, S]) drop(id int32) {
	b := &w.buckets[id]
	if b.fired {
		w.hremove(&w.fired, int(b.hpos))
	} else {
		w.hremove(&w.pending, int(b.hpos))
	}
	w.undirty(id)
	w.release(id)
}

// undirty forgets pending re-emissions of bucket id.
func (w *Windows[K, T, S]) undirty(id int32) {
	b := &w.buckets[id]
	for _, idx := range b.dirty {
		w.entries[idx].dirty = false
	}
	b.dirty = b.dirty[:0]
	if b.inDirty {
		b.inDirty = false
		if i := slices.Index(w.dirty, id); i >= 0 {
			w.dirty = slices.Delete(w.dirty, i, i+1)
		}
	}
}

// release frees bucket id and its entries; it must be in no heap or list.
func (w *Windows[K, T, S]) release(id int32) {
	b := &w.buckets[id]
	for _, idx := range b.entries {
		e := &w.entries[idx]
		if w.kind == kindSession {
			w.unlinkSession(idx)
		} else {
			delete(w.slots, slot[K]{e.key, b.start})
			if n := w.keyRefs[e.key] - 1; n == 0 {
				delete(w.keyRefs, e.key)
			} else {
				w.keyRefs[e.key] = n
			}
		}
		if w.free != nil {
			w.free(e.state)
		}
		*e = entry[K, S]{next: w.freeEntry}
		w.freeEntry = idx
		w.live--
	}
	if w.kind != kindSession {
		delete(w.starts, b.start)
	}
	b.entries = b.entries[:0]
	b.dirty = b.dirty[:0]
	b.fired, b.inDirty = false, false
	b.next = w.freeBkt
	w.freeBkt = id
}

func (w *Windows[K, T, S]) unlinkSession(idx int32) {
	e := &w.entries[idx]
	head := w.sessions[e.key]
	if head == idx {
		if e.next < 0 {
			delete(w.sessions, e.key)
		} else {
			w.sessions[e.key] = e.next
		}
		return
	}
	for p := head; p >= 0; p = w.entries[p].next {
		if w.entries[p].next == idx {
			w.entries[p].next = e.next
			return
		}
	}
}

// Advance moves the watermark to watermark — it never goes backwards; a
// lower value leaves it as it is — and calls emit for every window that is
// now complete (its MaxTimestamp is at or before the watermark) and for
// every emitted window that took items since (Result.Update set). Then it
// frees the windows whose allowed lateness the watermark has passed. emit
// must not be nil and must not call w.
func (w *Windows[K, T, S]) Advance(watermark time.Time, emit func(Result[K, S])) {
	if ms := clampMillis(watermark); ms > w.wm {
		w.wm = ms
	}
	w.fire(w.wm, emit)
	for len(w.fired) > 0 && w.buckets[w.fired[0]].end-1+w.lateness <= w.wm {
		w.release(w.hpop(&w.fired))
	}
}

// Flush emits every window still open that has not been emitted or has
// changed since — as if the watermark had reached the end of time — and
// frees them all. Call it at the end of the stream or on graceful shutdown.
// The watermark is left as it is; an item added afterwards opens a new
// window, whose result is not marked as an update. emit must not be nil and
// must not call w.
func (w *Windows[K, T, S]) Flush(emit func(Result[K, S])) {
	w.fire(math.MaxInt64, emit)
	for len(w.fired) > 0 {
		w.release(w.hpop(&w.fired))
	}
}

// fire emits the buckets due at limit and the pending re-emissions.
func (w *Windows[K, T, S]) fire(limit int64, emit func(Result[K, S])) {
	batch := w.batch[:0]
	for len(w.pending) > 0 && w.buckets[w.pending[0]].end-1 <= limit {
		batch = append(batch, w.hpop(&w.pending))
	}
	if len(w.dirty) > 0 {
		batch = append(batch, w.dirty...)
		w.dirty = w.dirty[:0]
		slices.SortFunc(batch, w.compare)
	}
	for _, id := range batch {
		b := &w.buckets[id]
		win := Window{Start: toTime(b.start), End: toTime(b.end)}
		if !b.fired {
			for _, idx := range b.entries {
				w.emit(idx, win, emit)
			}
			b.fired = true
			w.hpush(&w.fired, id)
		} else {
			if len(b.dirty) > 1 {
				slices.SortFunc(b.dirty, w.compareOrd)
			}
			for _, idx := range b.dirty {
				w.emit(idx, win, emit)
			}
		}
		b.dirty = b.dirty[:0]
		b.inDirty = false
	}
	w.batch = batch[:0]
}

func (w *Windows[K, T, S]) emit(idx int32, win Window, emit func(Result[K, S])) {
	e := &w.entries[idx]
	if e.emitted {
		w.updates++
	} else {
		w.firedN++
	}
	emit(Result[K, S]{Key: e.key, Window: win, State: e.state, Update: e.emitted})
	e.emitted = true
	e.dirty = false
}

func (w *Windows[K, T, S]) compare(a, b int32) int {
	if w.less(a, b) {
		return -1
	}
	if w.less(b, a) {
		return 1
	}
	return 0
}

func (w *Windows[K, T, S]) compareOrd(a, b int32) int {
	return int(w.entries[a].ord - w.entries[b].ord)
}

// Watermark returns the current watermark; the zero time means none yet.
func (w *Windows[K, T, S]) Watermark() time.Time { return watermarkTime(w.wm) }

// Stats returns the current counters.
func (w *Windows[K, T, S]) Stats() Stats {
	keys := len(w.keyRefs)
	if w.kind == kindSession {
		keys = len(w.sessions)
	}
	return Stats{
		Watermark:   w.Watermark(),
		OpenWindows: w.live,
		Keys:        keys,
		Added:       w.added,
		Fired:       w.firedN,
		Updates:     w.updates,
		Late:        w.late,
		Full:        w.full,
	}
}

// Heaps of bucket ids ordered by (end, start, seq); each bucket records its
// position in hpos. A bucket is in exactly one of pending and fired.

func (w *Windows[K, T, S]) less(a, b int32) bool {
	x, y := &w.buckets[a], &w.buckets[b]
	if x.end != y.end {
		return x.end < y.end
	}
	if x.start != y.start {
		return x.start < y.start
	}
	return x.seq < y.seq
}

func (w *Windows[K, T, S]) hswap(h []int32, i, j int) {
	h[i], h[j] = h[j], h[i]
	w.buckets[h[i]].hpos = int32(i)
	w.buckets[h[j]].hpos = int32(j)
}

func (w *Windows[K, T, S]) hup(h []int32, j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !w.less(h[j], h[i]) {
			break
		}
		w.hswap(h, i, j)
		j = i
	}
}

func (w *Windows[K, T, S]) hdown(h []int32, i0, n int) bool {
	i := i0
	for {
		j := 2*i + 1
		if j >= n {
			break
		}
		if j2 := j + 1; j2 < n && w.less(h[j2], h[j]) {
			j = j2
		}
		if !w.less(h[j], h[i]) {
			break
		}
		w.hswap(h, i, j)
		i = j
	}
	return i > i0
}

func (w *Windows[K, T, S]) hpush(h *[]int32, id int32) {
	*h = append(*h, id)
	n := len(*h) - 1
	w.buckets[id].hpos = int32(n)
	w.hup(*h, n)
}

func (w *Windows[K, T, S]) hpop(h *[]int32) int32 {
	n := len(*h) - 1
	w.hswap(*h, 0, n)
	w.hdown(*h, 0, n)
	id := (*h)[n]
	*h = (*h)[:n]
	return id
}

func (w *Windows[K, T, S]) hremove(h *[]int32, i int) {
	n := len(*h) - 1
	if i != n {
		w.hswap(*h, i, n)
		if !w.hdown(*h, i, n) {
			w.hup(*h, i)
		}
	}
	*h = (*h)[:n]
}

func (w *Windows[K, T, S]) hfix(h []int32, i int) {
	if !w.hdown(h, i, len(h)) {
		w.hup(h, i)
	}
}

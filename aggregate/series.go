package aggregate

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/window"
)

// DefaultSeriesSize is the default [SeriesConfig.Size]: five minutes of
// one-second windows.
const DefaultSeriesSize = 300

// MaxSeriesSize is the largest [SeriesConfig.Size] accepted.
const MaxSeriesSize = 1 << 20

// SeriesConfig configures a [Series]. The zero value is valid: 300 windows
// of one second.
type SeriesConfig struct {
	// Window is the length of each window. Windows are aligned to the Unix
	// epoch: a window starts at a multiple of Window since 1970-01-01 UTC.
	// Optional; default one second; between 1ms and 24h.
	Window time.Duration
	// Size is the number of windows kept, the open one included: the
	// series covers Size × Window of event time. Optional; default
	// DefaultSeriesSize (300); at most MaxSeriesSize.
	Size int
	// CompactClosed drops the per-user and per-IP tables of a window once
	// it is closed (a newer window has opened), keeping only its bounded
	// summaries. It caps a closed window's memory at a few tens of KiB
	// whatever the traffic, at the price of top lists that are Space-Saving
	// estimates over ranges holding compacted windows, and of User seeing
	// only the open window. Optional; default false (keep everything).
	CompactClosed bool
	// Set configures every window's Set. Optional.
	Set SetConfig
}

func (c *SeriesConfig) setDefaults() {
	if c.Window == 0 {
		c.Window = time.Second
	}
	if c.Size == 0 {
		c.Size = DefaultSeriesSize
	}
	c.Set.setDefaults()
}

// Validate reports whether the (defaulted) settings are usable.
func (c SeriesConfig) Validate() error {
	switch {
	case c.Window != 0 && (c.Window < time.Millisecond || c.Window > 24*time.Hour):
		return fmt.Errorf("Window must be between 1ms and 24h, got %s", c.Window)
	case c.Size < 0 || c.Size > MaxSeriesSize:
		return fmt.Errorf("Size must be between 0 (default) and %d, got %d", MaxSeriesSize, c.Size)
	}
	if err := c.Set.Validate(); err != nil {
		return fmt.Errorf("Set: %w", err)
	}
	return nil
}

// Series is a bounded ring of per-window [Set]s keyed by window start, in
// event time: the newest window is the open one, the Size-1 before it are
// closed, and older ones are recycled (their Sets Reset and reused). It
// answers the seed's getMetrics(timeRange) with [Series.Metrics], which
// merges the windows of a range.
//
// Feed it either event by event with [Series.Add], or window by window with
// [Series.Put] (a window's result from package window, say; a re-emitted
// result replaces the earlier one). An event or a window newer than the
// open window opens a new one; one older than the oldest window kept is
// refused with [ErrOutOfRange]. Event time alone moves the series, so a
// wildly future timestamp would close every window: bound timestamps
// before they get here (the decoder does).
//
// A Series is safe for concurrent use: one mutex guards it. Add costs one
// uncontended lock on top of Set.Add; Metrics holds the lock while it
// merges, O(windows in range × (TopKCapacity + distinct threshold)) at
// worst.
type Series struct {
	mu      sync.Mutex
	cfg     SeriesConfig
	w       int64 // window length in nanoseconds
	sets    []*Set
	starts  []int64 // window start of sets[i], Unix nanoseconds
	started bool
	newest  int64 // start of the open window
	first   int64 // earliest window start seen: the series knows nothing before
	merge   rangeMerge
	inRange []*Set // reused by Metrics
}

// NewSeries returns an empty Series, or an error wrapping ErrInvalidConfig
// that names the bad setting.
func NewSeries(cfg SeriesConfig) (*Series, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return newSeries(cfg), nil
}

// newSeries builds a Series from a defaulted, valid config.
func newSeries(cfg SeriesConfig) *Series {
	return &Series{
		cfg:    cfg,
		w:      int64(cfg.Window),
		sets:   make([]*Set, cfg.Size),
		starts: make([]int64, cfg.Size),
		merge:  newRangeMerge(cfg.Set),
	}
}

// Config returns the Series' settings, defaults filled in.
func (s *Series) Config() SeriesConfig { return s.cfg }

// floor returns the start of the window holding t (Unix nanoseconds).
func (s *Series) floor(t int64) int64 { return window.Align(t, s.w) }

// windowStart returns start in Unix nanoseconds, or an error wrapping
// ErrInvalidRange when it is not a multiple of w since the Unix epoch.
func windowStart(start time.Time, w time.Duration) (int64, error) {
	ns := start.UnixNano()
	if window.Align(ns, int64(w)) != ns {
		return 0, fmt.Errorf("%w: %s is not a window start (windows are %s long, aligned to the Unix epoch)",
			ErrInvalidRange, start.UTC().Format(time.RFC3339Nano), w)
	}
	return ns, nil
}

func (s *Series) index(start int64) int {
	i := (start / s.w) % int64(len(s.sets))
	if i < 0 {
		i += int64(len(s.sets))
	}
	return int(i)
}

// oldest returns the start of the oldest window the series covers.
func (s *Series) oldest() int64 {
	return max(s.newest-int64(len(s.sets)-1)*s.w, s.first)
}

// window returns the Set of the window starting at start, opening it (and
// closing older ones) as needed. The caller holds s.mu.
func (s *Series) window(start int64) (*Set, error) {
	switch {
	case !s.started:
		s.started, s.newest, s.first = true, start, start
	case start > s.newest:
		if s.cfg.CompactClosed {
			if i := s.index(s.newest); s.sets[i] != nil && s.starts[i] == s.newest {
				s.sets[i].dropTables()
			}
		}
		s.newest = start
	case start < s.newest-int64(len(s.sets)-1)*s.w:
		oldest := s.newest - int64(len(s.sets)-1)*s.w
		return nil, fmt.Errorf("%w: window %s starts before the oldest window kept, %s", ErrOutOfRange,
			fmtNanos(start), fmtNanos(oldest))
	}
	s.first = min(s.first, start)
	i := s.index(start)
	set := s.sets[i]
	if set != nil && s.starts[i] == start {
		return set, nil
	}
	if set == nil {
		set = newSet(s.cfg.Set)
		s.sets[i] = set
	} else {
		set.Reset()
	}
	s.starts[i] = start
	_ = set.rate.SetSpan(time.Unix(0, start).UTC(), time.Unix(0, start+s.w).UTC()) // w > 0
	if s.cfg.CompactClosed && start < s.newest {
		set.dropTables()
	}
	return set, nil
}

func fmtNanos(n int64) string { return time.Unix(0, n).UTC().Format(time.RFC3339Nano) }

// Add aggregates e into the window holding e.Time. It returns an error
// wrapping ErrOutOfRange, and records nothing, when that window is older
// than the oldest one kept.
func (s *Series) Add(e rdr.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	set, err := s.window(s.floor(e.Time.UnixNano()))
	if err != nil {
		return fmt.Errorf("aggregate: event at %s: %w", e.Time.UTC().Format(time.RFC3339Nano), err)
	}
	set.Add(e)
	return nil
}

// Put stores a copy of set as the window starting at start, replacing what
// the series had for it, so a window re-emitted with late events is counted
// once. set must hold the events of that one window; it is not changed and
// the series keeps no reference to it. Put returns an error wrapping
// ErrInvalidRange when start is not a window start (a multiple of Window
// since the Unix epoch), and one wrapping ErrOutOfRange when the window is
// older than the oldest one kept.
func (s *Series) Put(start time.Time, set *Set) error {
	ns, err := windowStart(start, s.cfg.Window)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.put(ns, set, false)
}

// put is Put for a window start already checked. The copy stored is
// compact (holds no per-user and per-IP tables) when compact is true or
// the window was compacted already. The caller holds s.mu.
func (s *Series) put(ns int64, set *Set, compact bool) error {
	w, err := s.window(ns)
	if err != nil {
		return fmt.Errorf("aggregate: put: %w", err)
	}
	compact = compact || w.compact
	w.Reset()
	if compact {
		w.dropTables() // before Merge, so that set's tables are not copied
	}
	_ = w.rate.SetSpan(time.Unix(0, ns).UTC(), time.Unix(0, ns+s.w).UTC())
	w.Merge(set)
	if compact { // a stored window merges no more: free the merge scratch
		w.topUsers.scratch, w.topIPs.scratch = nil, nil
	}
	return nil
}

// collect appends the Sets of the windows that overlap [from, to) to
// s.inRange and returns them. The caller holds s.mu.
func (s *Series) collect(from, to int64) []*Set {
	s.inRange = s.appendRange(s.inRange[:0], from, to)
	return s.inRange
}

// appendRange appends to dst the Sets of the windows kept that overlap
// [from, to), in ring order. The caller holds s.mu.
func (s *Series) appendRange(dst []*Set, from, to int64) []*Set {
	if !s.started {
		return dst
	}
	oldest := s.oldest()
	for i, set := range s.sets {
		st := s.starts[i]
		if set != nil && st >= oldest && st <= s.newest && st < to && st+s.w > from {
			dst = append(dst, set)
		}
	}
	return dst
}

// rangeMerge is the scratch space for merging the windows of a range
// ([Series.Metrics], [Global.Metrics]), reused from call to call.
type rangeMerge struct {
	set      *Set // compact: the merge never copies per-user tables
	userSums []*TopK[string]
	ipSums   []*TopK[netip.Addr]
}

func newRangeMerge(cfg SetConfig) rangeMerge {
	set := newSet(cfg)
	set.compact = true
	return rangeMerge{set: set}
}

// merge makes m.set the merge of sets: counts, severities, types and
// distinct users merged pairwise, the top-K summaries in one n-way pass.
// It returns m.set, and whether every Set merged kept its per-user and
// per-IP tables (so exact counts for top-list candidates can be looked up
// in them).
func (m *rangeMerge) merge(sets []*Set) (sc *Set, exact bool) {
	sc = m.set
	sc.Reset()
	sc.compact = true
	exact = true
	m.userSums, m.ipSums = m.userSums[:0], m.ipSums[:0]
	for _, set := range sets {
		sc.mergeCounts(set)
		m.userSums = append(m.userSums, &set.topUsers)
		m.ipSums = append(m.ipSums, &set.topIPs)
		exact = exact && !set.compact
	}
	sc.topUsers.mergeAll(m.userSums)
	sc.topIPs.mergeAll(m.ipSums)
	clear(m.userSums) // keep no references to the windows merged
	clear(m.ipSums)
	return sc, exact
}

func checkRange(from, to time.Time) error {
	if !to.After(from) {
		return fmt.Errorf("%w: to %s is not after from %s", ErrInvalidRange,
			to.UTC().Format(time.RFC3339Nano), from.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// Metrics returns the metrics of the time range [from, to): the windows
// that overlap it, closed ones and the open one, merged. It returns an
// error wrapping ErrInvalidRange when to is not after from.
//
// Windows count whole: a window that starts before from counts all its
// events. The range reported (Metrics.From, Metrics.To) runs from the start
// of the first window in range, or of the oldest window kept if that is
// later, to to; eventsPerSecond divides by its length, so a range that ends
// at "now" inside the open window counts the elapsed part of it only.
//
// Counts are exact. activeUsers is the distinct count of the union (exact
// up to the distinct threshold). Top lists are taken from the merged top-K
// summaries, with exact counts unless a window in range is compacted; no key
// whose count exceeds TotalEvents/TopKCapacity is missed.
func (s *Series) Metrics(from, to time.Time) (Metrics, error) {
	if err := checkRange(from, to); err != nil {
		return Metrics{}, err
	}
	fromN, toN := from.UnixNano(), to.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	sets := s.collect(fromN, toN)
	sc, exact := s.merge.merge(sets)
	start := max(s.floor(fromN), s.oldest())
	if !s.started || start >= toN {
		sc.rate.start, sc.rate.end = from.UTC(), to.UTC()
	} else {
		sc.rate.start, sc.rate.end = time.Unix(0, start).UTC(), to.UTC()
	}
	return mergedMetrics(sc, exact, sets), nil
}

// mergedMetrics is the Metrics of sc, the merge of sets; when exact (no
// set in it is compacted) its top lists take exact counts from the sets'
// tables.
func mergedMetrics(sc *Set, exact bool, sets []*Set) Metrics {
	if !exact {
		return sc.metrics(nil, nil)
	}
	return sc.metrics(
		func(id string) (uint64, bool) {
			var n uint64
			for _, set := range sets {
				if i, ok := set.users.index(id); ok {
					n += set.users.users[i].count
				}
			}
			return n, true
		},
		func(a netip.Addr) (uint64, bool) {
			var n uint64
			for _, set := range sets {
				c, _ := set.ips.get(a)
				n += c
			}
			return n, true
		})
}

// User returns one user's activity over the windows that overlap
// [from, to): event count, first and last seen. The activity is zero
// (Count 0) when the user had no events there. Compacted windows hold no
// per-user activity and add nothing. It returns an error wrapping
// ErrInvalidRange when to is not after from.
func (s *Series) User(id string, from, to time.Time) (UserActivity, error) {
	if err := checkRange(from, to); err != nil {
		return UserActivity{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var a UserActivity
	for _, set := range s.collect(from.UnixNano(), to.UnixNano()) {
		if u, ok := set.users.Get(id); ok {
			a.Merge(u)
		}
	}
	return a, nil
}

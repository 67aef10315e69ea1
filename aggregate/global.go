package aggregate

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rdr-go/rdr/window"
)

// DefaultMaxSources is the default [GlobalConfig.MaxSources].
const DefaultMaxSources = 64

// MaxGlobalSources is the largest [GlobalConfig.MaxSources] accepted.
const MaxGlobalSources = 1 << 12

// GlobalConfig configures a [Global]. The zero value is valid: 300 windows
// of one second per source, up to 64 sources.
type GlobalConfig struct {
	// Window is the length of each window, the processors' window length:
	// windows start at multiples of Window since 1970-01-01 UTC. Optional;
	// default one second; between 1ms and 24h.
	Window time.Duration
	// Size is the number of windows kept, ending with the newest window
	// any source has put: the global view covers Size × Window of event
	// time, and each source holds at most Size windows. Optional; default
	// DefaultSeriesSize (300); at most MaxSeriesSize; Size × Window at most
	// 146 years.
	Size int
	// SourceTTL is how long a source may stay silent: when the newest
	// window put by any source starts more than SourceTTL after the newest
	// window a source has put, that source and its windows are dropped.
	// It is measured in event time, by the windows put; no wall clock is
	// read. Optional; default Size × Window, which drops a source once none
	// of its windows is in range; 0 or at least Window.
	SourceTTL time.Duration
	// MaxSources is the most sources held at once; Put refuses a new source
	// beyond it (ErrTooManySources). Each source costs at most Size compact
	// windows. Optional; default DefaultMaxSources (64); at most
	// MaxGlobalSources.
	MaxSources int
	// Set configures the merge: TopN of the top lists, TopKCapacity of the
	// merged summaries, DistinctThreshold of the merged distinct count. Use
	// the processors' SetConfig: a smaller TopKCapacity truncates their
	// summaries, a smaller DistinctThreshold turns exact counts into
	// estimates sooner. Optional.
	Set SetConfig
	// KeepUsers keeps each window's per-user and per-IP tables, as a
	// [Series] does, so that [Global.User] answers and top lists are exact
	// counts: what a processor's view of its own tasks needs. Windows then
	// cost what they cost in the sources. Optional; default false: windows
	// are compacted (as partials decoded from the wire are anyway).
	KeepUsers bool
}

func (c *GlobalConfig) setDefaults() {
	if c.Window == 0 {
		c.Window = time.Second
	}
	if c.Size == 0 {
		c.Size = DefaultSeriesSize
	}
	if c.SourceTTL == 0 {
		c.SourceTTL = time.Duration(c.Size) * c.Window
	}
	if c.MaxSources == 0 {
		c.MaxSources = DefaultMaxSources
	}
	c.Set.setDefaults()
}

// Validate reports whether the (defaulted) settings are usable and
// consistent with each other.
func (c GlobalConfig) Validate() error {
	if err := (SeriesConfig{Window: c.Window, Size: c.Size, Set: c.Set}).Validate(); err != nil {
		return err
	}
	w, size := c.Window, c.Size
	if w == 0 {
		w = time.Second
	}
	if size == 0 {
		size = DefaultSeriesSize
	}
	switch {
	case int64(w) > math.MaxInt64/2/int64(size):
		return fmt.Errorf("Size × Window must be at most 146 years, got %d × %s", size, w)
	case c.SourceTTL != 0 && c.SourceTTL < w:
		return fmt.Errorf("SourceTTL must be 0 (default) or at least Window (%s), got %s", w, c.SourceTTL)
	case c.MaxSources < 0 || c.MaxSources > MaxGlobalSources:
		return fmt.Errorf("MaxSources must be between 0 (default) and %d, got %d", MaxGlobalSources, c.MaxSources)
	}
	return nil
}

// Global is the global view of a scaled-out deployment: it combines the
// partial window results of several processors (sources) into the numbers
// one processor fed every event would report. Processors in one Kafka
// consumer group each see some partitions; Kafka keys events by user, so
// each user's events reach one processor, and each processor fires its
// own partial [Set] of every window. Ship them with [Set.MarshalBinary],
// decode them with [Set.UnmarshalBinary], and [Global.Put] each one under
// its processor's name.
//
// [Global.Metrics] merges every source's windows in a range into the same
// [Metrics] as [Series.Metrics]: totalEvents, eventsPerSecond, byType,
// bySeverity and topEventTypes exactly; activeUsers exactly while the
// merged count stays within DistinctThreshold (users are disjoint across
// sources, so exact sets union exactly), and past it with the very
// registers one sketch fed every user would hold; top users and top IPs
// within the bound of [TopK] (no count overestimates by more than
// TotalEvents/TopKCapacity), and exactly while no summary merged is full
// (a source's window had at most TopKCapacity users or IPs).
//
// Each source's windows are kept like a [Series] of compacted windows
// (at most Size of them); a window put again — a processor re-emits a
// window after late events — replaces the earlier one, so nothing counts
// twice. Sources that fall silent are dropped after SourceTTL of event
// time. Memory is bounded by MaxSources × Size compact windows. At the
// default config a window past the distinct threshold takes about 40 KiB;
// below it, about 40 bytes more per distinct user (the exact user hashes),
// up to about 170 KiB just below 4096 users.
//
// A Global is safe for concurrent use: one mutex guards it. Metrics holds
// it while it merges, O(sources × windows in range × (TopKCapacity +
// distinct threshold)).
type Global struct {
	mu      sync.Mutex
	cfg     GlobalConfig
	w       int64         // window length in nanoseconds
	sources []*sourceData // sorted by name, so merges are deterministic
	started bool
	newest  int64 // start of the newest window put by any source
	first   int64 // earliest window start put: the view knows nothing before
	merge   rangeMerge
	inRange []*Set // reused by Metrics and Sources
}

// sourceData is one source's windows. Its Series is used only under
// Global.mu; the Series' own lock is taken too, uncontended.
type sourceData struct {
	name   string
	series *Series
}

// last returns the start of the newest window the source has put.
func (s *sourceData) last() int64 {
	s.series.mu.Lock()
	defer s.series.mu.Unlock()
	return s.series.newest
}

// SourceInfo describes one source held by a [Global]. In JSON:
// {"name":"processor-1","lastWindow":"2026-11-26T10:00:59Z","windows":60}.
type SourceInfo struct {
	// Name is the name the source's windows were put under.
	Name string `json:"name"`
	// LastWindow is the start of the newest window the source has put.
	LastWindow time.Time `json:"lastWindow"`
	// Windows is the number of the source's windows within the view's
	// range (the last Size windows).
	Windows int `json:"windows"`
}

// NewGlobal returns an empty Global, or an error wrapping ErrInvalidConfig
// that names the bad setting.
func NewGlobal(cfg GlobalConfig) (*Global, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return &Global{cfg: cfg, w: int64(cfg.Window), merge: newRangeMerge(cfg.Set)}, nil
}

// Config returns the Global's settings, defaults filled in.
func (g *Global) Config() GlobalConfig { return g.cfg }

// oldest returns the start of the oldest window in the view. The caller
// holds g.mu.
func (g *Global) oldest() int64 {
	return max(g.newest-int64(g.cfg.Size-1)*g.w, g.first)
}

// find returns the index of name in g.sources, and whether it is there.
func (g *Global) find(name string) (int, bool) {
	return slices.BinarySearchFunc(g.sources, name, func(s *sourceData, name string) int {
		return strings.Compare(s.name, name)
	})
}

// Put stores a copy of set as source's partial result for the window
// starting at start, replacing what that source had put for that window
// before: a re-emitted window is counted once. The copy is compact (no
// per-user or per-IP tables, see [Set.Compact]); set is not changed and
// the Global keeps no reference to it. A nil set is an empty window.
//
// A window newer than every window put so far moves the view forward:
// windows that fall out of its range are no longer reported, and sources
// silent for more than SourceTTL are dropped. Put returns an error
// wrapping ErrInvalidRange when start is not a window start (a multiple of
// Window since the Unix epoch), one wrapping ErrOutOfRange when the window
// is older than the oldest window in range, and one wrapping
// ErrTooManySources for a new source when MaxSources are held; nothing is
// recorded then.
func (g *Global) Put(source string, start time.Time, set *Set) error {
	ns, err := windowStart(start, g.cfg.Window)
	if err != nil {
		return fmt.Errorf("aggregate: source %q: %w", source, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if oldest := g.newest - int64(g.cfg.Size-1)*g.w; g.started && ns < oldest {
		return fmt.Errorf("aggregate: source %q: %w: window %s starts before the oldest window kept, %s",
			source, ErrOutOfRange, fmtNanos(ns), fmtNanos(oldest))
	}
	i, ok := g.find(source)
	if !ok {
		if len(g.sources) >= g.cfg.MaxSources {
			return fmt.Errorf("aggregate: source %q: %w: %d are held (MaxSources)", source, ErrTooManySources, len(g.sources))
		}
		src := &sourceData{
			name:   strings.Clone(source),
			series: newSeries(SeriesConfig{Window: g.cfg.Window, Size: g.cfg.Size, CompactClosed: !g.cfg.KeepUsers, Set: g.cfg.Set}),
		}
		g.sources = slices.Insert(g.sources, i, src)
	}
	series := g.sources[i].series
	series.mu.Lock()
	// The source's newest window is not newer than g.newest, so its ring
	// holds every window from g's oldest on: put cannot refuse this one.
	err = series.put(ns, set, !g.cfg.KeepUsers)
	series.mu.Unlock()
	if err != nil {
		return fmt.Errorf("aggregate: source %q: %w", source, err)
	}
	switch {
	case !g.started:
		g.started, g.newest, g.first = true, ns, ns
	case ns > g.newest:
		g.newest = ns
		g.dropSilent()
	}
	g.first = min(g.first, ns)
	return nil
}

// dropSilent drops the sources whose newest window is more than SourceTTL
// older than g.newest. The caller holds g.mu.
func (g *Global) dropSilent() {
	keep := g.sources[:0]
	for _, src := range g.sources {
		if g.newest-src.last() <= int64(g.cfg.SourceTTL) {
			keep = append(keep, src)
		}
	}
	clear(g.sources[len(keep):])
	g.sources = keep
}

// collect appends the windows of every source that overlap [from, to)
// and lie in the view's range to g.inRange and returns them, sources in
// name order. The caller holds g.mu.
func (g *Global) collect(from, to int64) []*Set {
	sets := g.inRange[:0]
	if g.started {
		from = max(from, g.oldest())
		for _, src := range g.sources {
			src.series.mu.Lock()
			sets = src.series.appendRange(sets, from, to)
			src.series.mu.Unlock()
		}
	}
	g.inRange = sets
	return sets
}

// Metrics returns the global metrics of the time range [from, to): every
// source's windows that overlap it, merged (see [Global] for what is exact
// and what is bounded). It returns an error wrapping ErrInvalidRange when
// to is not after from.
//
// As in [Series.Metrics], windows count whole, and the range reported runs
// from the start of the first window in range, or of the oldest window in
// the view if that is later, to to; eventsPerSecond divides by its length.
func (g *Global) Metrics(from, to time.Time) (Metrics, error) {
	if err := checkRange(from, to); err != nil {
		return Metrics{}, err
	}
	fromN, toN := from.UnixNano(), to.UnixNano()
	g.mu.Lock()
	defer g.mu.Unlock()
	sets := g.collect(fromN, toN)
	defer clear(g.inRange) // keep no references to windows a source may drop
	sc, exact := g.merge.merge(sets)
	start := max(window.Align(fromN, g.w), g.oldest())
	if !g.started || start >= toN {
		sc.rate.start, sc.rate.end = from.UTC(), to.UTC()
	} else {
		sc.rate.start, sc.rate.end = time.Unix(0, start).UTC(), to.UTC()
	}
	return mergedMetrics(sc, exact, sets), nil
}

// User returns one user's activity over every source's windows that
// overlap [from, to), as [Series.User] does for one. Only a Global with
// KeepUsers holds per-user activity; otherwise the activity is zero.
func (g *Global) User(id string, from, to time.Time) (UserActivity, error) {
	if err := checkRange(from, to); err != nil {
		return UserActivity{}, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	sets := g.collect(from.UnixNano(), to.UnixNano())
	defer clear(g.inRange)
	var a UserActivity
	for _, set := range sets {
		if u, ok := set.users.Get(id); ok {
			a.Merge(u)
		}
	}
	return a, nil
}

// Sources returns the sources held, in name order.
func (g *Global) Sources() []SourceInfo {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]SourceInfo, len(g.sources))
	for i, src := range g.sources {
		src.series.mu.Lock()
		g.inRange = src.series.appendRange(g.inRange[:0], g.oldest(), math.MaxInt64)
		last := src.series.newest
		src.series.mu.Unlock()
		out[i] = SourceInfo{Name: src.name, LastWindow: time.Unix(0, last).UTC(), Windows: len(g.inRange)}
	}
	clear(g.inRange)
	return out
}

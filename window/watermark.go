package window

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/rdr-go/rdr"
)

// WatermarkConfig configures [Watermarks]. The zero value is valid: no
// out-of-orderness allowance and no idle timeout.
type WatermarkConfig struct {
	// OutOfOrderness is how far behind the highest event time seen on a
	// source its events may still arrive: the source's watermark is the
	// highest event time seen − OutOfOrderness − 1ms. Optional; default 0.
	// Must be >= 0 and a whole number of milliseconds.
	OutOfOrderness time.Duration

	// IdleTimeout is how long a source may go without an Observe or Set
	// before it stops holding back the overall watermark. It counts again
	// as soon as it is heard from. Optional; default 0: sources never go
	// idle. Must be >= 0.
	IdleTimeout time.Duration

	// Clock measures idleness. Optional; default rdr.SystemClock. Only
	// consulted when IdleTimeout > 0.
	Clock rdr.Clock
}

// Validate reports whether c is usable. The error matches
// [ErrInvalidConfig] and names the field.
func (c WatermarkConfig) Validate() error {
	if p := checkNonNegativeMillis(c.OutOfOrderness); p != "" {
		return fmt.Errorf("%w: OutOfOrderness %s", ErrInvalidConfig, p)
	}
	if c.IdleTimeout < 0 {
		return fmt.Errorf("%w: IdleTimeout must not be negative, got %v", ErrInvalidConfig, c.IdleTimeout)
	}
	return nil
}

// Watermarks tracks event-time progress over several sources (for example
// the partitions of a Kafka topic, identified by an int) and derives one
// overall watermark from them:
//
//   - each source's watermark is the highest event time it has delivered
//     minus OutOfOrderness minus 1ms (bounded out-of-orderness), or a value
//     given with [Watermarks.Set] if that is higher; it never goes back;
//   - the overall watermark is the minimum over the active sources: a
//     source counts until it has gone IdleTimeout without an Observe or Set;
//   - if every source is idle, it is the maximum over all sources;
//   - it never goes backwards: a source that comes back from idleness
//     behind it does not pull it back (its old events may then be late).
//
// A source exists once it is observed, set or registered, until removed.
// The zero time.Time stands for "no watermark yet". Times are handled at
// millisecond resolution.
//
// A Watermarks is safe for concurrent use. [Watermarks.Current] costs time
// proportional to the number of sources.
type Watermarks struct {
	bound int64
	idle  time.Duration
	clock rdr.Clock

	mu      sync.Mutex
	index   map[int]int // source id → position in sources
	sources []wmSource
	current int64
}

type wmSource struct {
	id   int
	wm   int64
	last time.Time // when last heard from (only kept with an idle timeout)
}

// NewWatermarks returns a tracker with no sources. The error matches
// [ErrInvalidConfig].
func NewWatermarks(cfg WatermarkConfig) (*Watermarks, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = rdr.SystemClock
	}
	return &Watermarks{
		bound:   cfg.OutOfOrderness.Milliseconds(),
		idle:    cfg.IdleTimeout,
		clock:   cfg.Clock,
		index:   make(map[int]int),
		current: noWatermark,
	}, nil
}

// source returns source id, creating it (with no watermark) if needed, and
// marks it as heard from. w.mu must be held.
func (w *Watermarks) source(id int) *wmSource {
	i, ok := w.index[id]
	if !ok {
		i = len(w.sources)
		w.index[id] = i
		w.sources = append(w.sources, wmSource{id: id, wm: noWatermark})
	}
	s := &w.sources[i]
	if w.idle > 0 {
		s.last = w.clock.Now()
	}
	return s
}

// Observe records an event at time t from source. The source's watermark
// becomes t − OutOfOrderness − 1ms if that is higher than before.
func (w *Watermarks) Observe(source int, t time.Time) {
	wm := clampMillis(t) - w.bound - 1
	w.mu.Lock()
	if s := w.source(source); wm > s.wm {
		s.wm = wm
	}
	w.mu.Unlock()
}

// Set raises source's watermark to wm explicitly (for a source that
// signals its own progress); a lower value leaves it as it is. It also marks
// the source as heard from.
func (w *Watermarks) Set(source int, wm time.Time) {
	ms := clampMillis(wm)
	w.mu.Lock()
	if s := w.source(source); ms > s.wm {
		s.wm = ms
	}
	w.mu.Unlock()
}

// Register adds source, if it is not known yet, with no watermark: until it
// delivers events or goes idle, it holds the overall watermark back. Use it
// for partitions assigned to this process that may not have sent anything
// yet.
func (w *Watermarks) Register(source int) {
	w.mu.Lock()
	w.source(source)
	w.mu.Unlock()
}

// Remove forgets source (for example a partition revoked from this
// process), so it no longer holds the watermark back. The overall watermark
// does not go back.
func (w *Watermarks) Remove(source int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, ok := w.index[source]
	if !ok {
		return
	}
	delete(w.index, source)
	last := len(w.sources) - 1
	if i != last {
		w.sources[i] = w.sources[last]
		w.index[w.sources[i].id] = i
	}
	w.sources = w.sources[:last]
}

// Current returns the overall watermark; the zero time.Time means none yet
// (no source has a watermark, or an active one has none).
func (w *Watermarks) Current() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.sources) == 0 {
		return watermarkTime(w.current)
	}
	var cutoff time.Time // a source last heard from at or before it is idle
	if w.idle > 0 {
		cutoff = w.clock.Now().Add(-w.idle)
	}
	minActive, maxAll, active := int64(math.MaxInt64), int64(noWatermark), false
	for i := range w.sources {
		s := &w.sources[i]
		maxAll = max(maxAll, s.wm)
		if w.idle > 0 && !s.last.After(cutoff) {
			continue
		}
		active = true
		minActive = min(minActive, s.wm)
	}
	wm := maxAll
	if active {
		wm = minActive
	}
	if wm > w.current {
		w.current = wm
	}
	return watermarkTime(w.current)
}

package sink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
	"github.com/rdr-go/rdr/anomaly"
)

// Defaults of [MemoryConfig].
const (
	// DefaultMaxWindows keeps one hour of 1-second windows.
	DefaultMaxWindows = 3600
	// DefaultMaxAlerts is the default number of alerts kept.
	DefaultMaxAlerts = 10000
)

// MemoryConfig configures a [Memory] store. The zero value is valid.
type MemoryConfig struct {
	// MaxWindows is how many windows are kept; when it is reached, the
	// window written longest ago is evicted. Each window costs about 100
	// bytes plus 24 per event type (a day of 1-second windows, 86,400, with
	// ten event types takes about 30 MB). Optional; default
	// DefaultMaxWindows (3600: an hour of 1-second windows).
	MaxWindows int
	// MaxAlerts is how many alerts (distinct IDs) are kept, evicting the
	// one first written longest ago. Optional; default DefaultMaxAlerts
	// (10,000).
	MaxAlerts int
}

func (c *MemoryConfig) setDefaults() {
	if c.MaxWindows == 0 {
		c.MaxWindows = DefaultMaxWindows
	}
	if c.MaxAlerts == 0 {
		c.MaxAlerts = DefaultMaxAlerts
	}
}

// Validate reports whether the (defaulted) settings are usable.
func (c MemoryConfig) Validate() error {
	var errs []error
	if c.MaxWindows < 0 {
		errs = append(errs, fmt.Errorf("MaxWindows must not be negative, got %d", c.MaxWindows))
	}
	if c.MaxAlerts < 0 {
		errs = append(errs, fmt.Errorf("MaxAlerts must not be negative, got %d", c.MaxAlerts))
	}
	return errors.Join(errs...)
}

// Memory is a bounded in-memory store of recent window results and alerts
// that answers the same history queries as the [Influx] sink, with the same
// results. It is the store of the embedded mode and of tests. It is safe for
// concurrent use: readers (History, Alerts) run alongside writers.
//
// A window written again with the same Partition and End replaces the
// earlier one; windows of different partitions with the same End add up,
// as in the [Influx] sink. It starts no goroutines; History and Alerts
// keep working after Close (only writes are refused).
type Memory struct {
	cfg MemoryConfig

	mu      sync.RWMutex
	closed  bool
	windows []memWindow // ring, in the order first written
	wnext   int         // slot the next new window takes once full
	byEnd   map[windowKey]int
	alerts  []anomaly.Alert // ring, in the order first written
	anext   int
	byID    map[string]int
	acked   map[string]time.Time // by alert ID, for stored alerts only

	silences map[string]anomaly.Silence // by ID, the latest write (silence.go)
}

// windowKey is a stored window's identity.
type windowKey struct {
	partition string
	end       int64 // Unix ns
}

// memWindow is the part of a window that history queries read.
type memWindow struct {
	key    windowKey
	total  uint64
	active uint64
	sev    aggregate.BySeverity
	types  []typeCount
}

type typeCount struct {
	typ string
	n   uint64
}

// NewMemory returns an empty store, or an error wrapping ErrInvalidConfig.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return &Memory{
		cfg:   cfg,
		byEnd: make(map[windowKey]int),
		byID:  make(map[string]int),
		acked: make(map[string]time.Time),
	}, nil
}

// Config returns the store's settings, defaults filled in.
func (m *Memory) Config() MemoryConfig { return m.cfg }

// WriteWindow stores w, replacing a window with the same Partition and
// End.
func (m *Memory) WriteWindow(ctx context.Context, w WindowResult) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := w.Validate(); err != nil {
		return err
	}
	key := windowKey{w.Partition, w.End.UnixNano()}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	i, ok := m.byEnd[key]
	switch {
	case ok:
	case len(m.windows) < m.cfg.MaxWindows:
		i = len(m.windows)
		m.windows = append(m.windows, memWindow{})
	default:
		i = m.wnext
		m.wnext = (m.wnext + 1) % len(m.windows)
		delete(m.byEnd, m.windows[i].key)
	}
	m.byEnd[key] = i
	mw := &m.windows[i]
	mw.key = key
	mw.total = w.Metrics.TotalEvents
	mw.active = w.Metrics.ActiveUsers
	mw.sev = w.Metrics.BySeverity
	clear(mw.types)
	mw.types = mw.types[:0]
	for typ, n := range w.Metrics.ByType {
		mw.types = append(mw.types, typeCount{typ, n})
	}
	return nil
}

// WriteAlert stores a copy of a, replacing the alert with the same ID.
func (m *Memory) WriteAlert(ctx context.Context, a anomaly.Alert) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateAlert(&a); err != nil {
		return err
	}
	a.Events = slices.Clone(a.Events)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	i, ok := m.byID[a.ID]
	switch {
	case ok:
	case len(m.alerts) < m.cfg.MaxAlerts:
		i = len(m.alerts)
		m.alerts = append(m.alerts, anomaly.Alert{})
	default:
		i = m.anext
		m.anext = (m.anext + 1) % len(m.alerts)
		delete(m.byID, m.alerts[i].ID)
		delete(m.acked, m.alerts[i].ID)
	}
	m.byID[a.ID] = i
	m.alerts[i] = a
	return nil
}

// Alerts returns up to limit stored alerts (all when limit ≤ 0), the latest
// state of each, most recent FirstSeen first (ties by ID). The caller owns
// the result.
func (m *Memory) Alerts(limit int) []anomaly.Alert {
	m.mu.RLock()
	out := make([]anomaly.Alert, len(m.alerts))
	copy(out, m.alerts)
	m.mu.RUnlock()
	slices.SortFunc(out, compareAlerts)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i].Events = slices.Clone(out[i].Events)
	}
	return out
}

// Alert returns the stored alert with this ID, the latest state, with its
// acknowledgement; ok is false when it is not (or no longer) stored. The
// caller owns the result.
func (m *Memory) Alert(id string) (_ StoredAlert, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.byID[id]
	if !ok {
		return StoredAlert{}, false
	}
	a := m.alerts[i]
	a.Events = slices.Clone(a.Events)
	return StoredAlert{Alert: a, AckedAt: m.acked[id]}, true
}

// AckedAt returns when the stored alert id was acknowledged; zero when it
// was not, or is not stored. Unlike Alert it copies nothing: the live view
// asks it for every alert update.
func (m *Memory) AckedAt(id string) time.Time {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.acked[id]
}

// compareAlerts orders alerts most recent FirstSeen first, ties by ID.
func compareAlerts(a, b anomaly.Alert) int {
	if c := b.FirstSeen.Compare(a.FirstSeen); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// RecentAlerts implements [AlertStore].
func (m *Memory) RecentAlerts(_ context.Context, since time.Time, limit int) ([]StoredAlert, error) {
	m.mu.RLock()
	var out []StoredAlert
	for _, a := range m.alerts {
		if !a.FirstSeen.Before(since) {
			out = append(out, StoredAlert{Alert: a, AckedAt: m.acked[a.ID]})
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b StoredAlert) int { return compareAlerts(a.Alert, b.Alert) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i].Events = slices.Clone(out[i].Events)
	}
	return out, nil
}

// AckAlert implements [AlertStore]. The alert must be stored.
func (m *Memory) AckAlert(ctx context.Context, a anomaly.Alert, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if _, ok := m.byID[a.ID]; !ok {
		return fmt.Errorf("sink: memory: no stored alert %q to acknowledge", a.ID)
	}
	m.acked[a.ID] = at
	return nil
}

// History answers q from the stored windows and alerts.
func (m *Memory) History(ctx context.Context, q Query) (History, error) {
	if err := ctx.Err(); err != nil {
		return History{}, err
	}
	if err := q.Validate(); err != nil {
		return History{}, err
	}
	b := newHistBuilder(q)
	m.mu.RLock()
	defer m.mu.RUnlock()
	if q.Metric == MetricAlerts {
		for i := range m.alerts {
			a := &m.alerts[i]
			if !matchAlert(a, q.Filter) {
				continue
			}
			key := q.Metric
			switch q.GroupBy {
			case ByRule:
				key = a.Rule
			case BySeverity:
				key = a.Severity.String()
			}
			b.add(key, b.index(a.FirstSeen), 1)
		}
		return b.history(), nil
	}
	if q.Metric == MetricActiveUsers {
		// Users are summed over the partitions of one window (each user
		// lives on one partition), then the interval takes the largest.
		active := map[int64]uint64{}
		for i := range m.windows {
			active[m.windows[i].key.end] += m.windows[i].active
		}
		for end, n := range active {
			if idx := b.index(time.Unix(0, end-1)); idx >= 0 {
				b.add(q.Metric, idx, float64(n))
			}
		}
		return b.history(), nil
	}
	typ, byType := q.Filter[ByEventType]
	for i := range m.windows {
		w := &m.windows[i]
		// A window belongs to the interval of its last instant.
		idx := b.index(time.Unix(0, w.key.end-1))
		if idx < 0 {
			continue
		}
		switch {
		case q.GroupBy == BySeverity:
			for s := rdr.SeverityLow; s <= rdr.SeverityCritical; s++ {
				b.add(s.String(), idx, float64(w.sev[s]))
			}
			if w.sev[0] != 0 {
				b.add(fieldUnknown, idx, float64(w.sev[0]))
			}
		case q.GroupBy == ByEventType || byType:
			for _, tc := range w.types {
				if byType && tc.typ != typ {
					continue
				}
				key := q.Metric
				if q.GroupBy == ByEventType {
					key = tc.typ
				}
				b.add(key, idx, float64(tc.n))
			}
		default:
			b.add(q.Metric, idx, float64(w.total))
		}
	}
	return b.history(), nil
}

func matchAlert(a *anomaly.Alert, filter map[string]string) bool {
	if v, ok := filter[ByRule]; ok && a.Rule != v {
		return false
	}
	if v, ok := filter[BySeverity]; ok && a.Severity.String() != v {
		return false
	}
	return true
}

// Close makes later writes return ErrClosed. It is safe to call more than
// once and always returns nil.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}

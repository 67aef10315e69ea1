package aggregate

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/rdr-go/rdr"
)

// DefaultTopN is the default [SetConfig.TopN].
const DefaultTopN = 10

// MaxTopN is the largest [SetConfig.TopN] accepted.
const MaxTopN = 1000

// SetConfig configures a [Set]. The zero value is valid: top-10 lists from
// 100-counter summaries, distinct users exact up to 4096.
type SetConfig struct {
	// TopN is how many entries each top list of Metrics holds (top event
	// types, users, IPs). Optional; default DefaultTopN (10); at most
	// MaxTopN.
	TopN int
	// TopKCapacity is the number of keys the top-users and top-IPs
	// summaries monitor (see TopK). A count in them overestimates by at most
	// events/TopKCapacity. Optional; default DefaultTopKCapacity (100); at
	// least TopN, at most MaxTopKCapacity.
	TopKCapacity int
	// DistinctThreshold is how many distinct users are counted exactly
	// before activeUsers turns into a HyperLogLog estimate (see Distinct).
	// Optional; default DefaultDistinctThreshold (4096).
	DistinctThreshold int
}

func (c *SetConfig) setDefaults() {
	if c.TopN == 0 {
		c.TopN = DefaultTopN
	}
	if c.TopKCapacity == 0 {
		c.TopKCapacity = max(DefaultTopKCapacity, c.TopN)
	}
	if c.DistinctThreshold == 0 {
		c.DistinctThreshold = DefaultDistinctThreshold
	}
}

// Validate reports whether the (defaulted) settings are usable and
// consistent with each other.
func (c SetConfig) Validate() error {
	switch {
	case c.TopN < 0 || c.TopN > MaxTopN:
		return fmt.Errorf("TopN must be between 0 (default) and %d, got %d", MaxTopN, c.TopN)
	case c.TopKCapacity < 0 || c.TopKCapacity > MaxTopKCapacity:
		return fmt.Errorf("TopKCapacity must be between 0 (default) and %d, got %d", MaxTopKCapacity, c.TopKCapacity)
	case c.TopKCapacity != 0 && c.TopKCapacity < c.TopN:
		return fmt.Errorf("TopKCapacity (%d) must be at least TopN (%d)", c.TopKCapacity, c.TopN)
	case c.DistinctThreshold < 0 || c.DistinctThreshold > MaxDistinctThreshold:
		return fmt.Errorf("DistinctThreshold must be between 0 (default) and %d, got %d", MaxDistinctThreshold, c.DistinctThreshold)
	}
	return nil
}

// Set is the default aggregation of one window: every aggregator of this
// package fed from the same events.
//
//   - total events and events per second ([Rate] over the span set with
//     SetSpan);
//   - events by type (exact) and by severity ([BySeverity]);
//   - per-user activity ([Activity], exact: count, first and last seen) and
//     events per IP (exact);
//   - active users ([Distinct]: exact up to DistinctThreshold, then a
//     HyperLogLog estimate);
//   - top users and top IPs ([TopK] summaries of TopKCapacity keys).
//
// The top-K summaries are what lets Sets merge cheaply over many windows
// ([Series.Metrics]). Inside one Set they are fed each key's exact count
// from the per-user and per-IP tables, which keeps every count in them
// exact, and Metrics reports the candidates' exact counts. After a Merge
// the summaries keep the bound documented on TopK, and Metrics still
// reports exact counts from the merged tables. A compacted Set (a closed
// window of a Series with CompactClosed) has dropped its per-user and
// per-IP tables: its top lists are Space-Saving estimates.
//
// Use Add for each event, Merge to combine partial Sets (from several
// processors, or sessions), Reset to reuse a Set for another window without
// allocating, and Metrics for the snapshot. Add does not allocate once the
// window's users, IPs and event types have been seen; a new one costs the
// clone of its string and, now and then, the growth of a table. Memory is
// about 100 bytes per distinct user and 70 per distinct IP, plus a fixed
// part of a few tens of KiB. The user, type and IP tables are hash tables
// with per-table random hash keys, so crafted IDs cannot degrade them.
//
// The zero value is an empty Set with the default config; NewSet checks a
// config. A Set must not be copied once used (the copy would share its
// tables). A Set is not safe for concurrent use: the goroutine that adds to
// it owns it (in the pipeline, the window that holds it); [Series] adds the
// locking for Sets shared with readers.
type Set struct {
	cfg         SetConfig
	rate        Rate
	severity    BySeverity
	types       Activity // per event type (only the counts are used)
	users       Activity
	ips         ipCounts
	activeUsers Distinct
	topUsers    TopK[string]
	topIPs      TopK[netip.Addr]
	// compact means the per-user and per-IP tables were dropped (a closed
	// window of a compacting Series, or a Set merged with one): Add then
	// feeds the summaries like plain TopK and Distinct.
	compact bool
}

// NewSet returns an empty Set, or an error wrapping ErrInvalidConfig that
// names the bad setting.
func NewSet(cfg SetConfig) (*Set, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return newSet(cfg), nil
}

// newSet builds a Set from a defaulted, valid config.
func newSet(cfg SetConfig) *Set {
	s := &Set{cfg: cfg}
	s.init()
	return s
}

// init sets up a Set whose cfg is defaulted and valid; a zero Set gets the
// default config first.
func (s *Set) init() {
	if s.cfg.TopN == 0 {
		s.cfg.setDefaults()
	}
	s.activeUsers.threshold = s.cfg.DistinctThreshold
	_ = s.topUsers.init(s.cfg.TopKCapacity)
	_ = s.topIPs.init(s.cfg.TopKCapacity)
}

// ready makes a zero Set usable.
func (s *Set) ready() {
	if s.topUsers.capacity == 0 {
		s.init()
	}
}

// Config returns the Set's settings, defaults filled in.
func (s *Set) Config() SetConfig {
	s.ready()
	return s.cfg
}

// SetSpan sets the window the Set covers, [start, end): eventsPerSecond is
// the event count divided by its length. It returns an error wrapping
// ErrInvalidConfig when end is not after start. Events are not checked
// against the span: the window assigner decides which events belong.
func (s *Set) SetSpan(start, end time.Time) error { return s.rate.SetSpan(start, end) }

// Span returns the span set with SetSpan, widened by merges; zero times
// when none is set.
func (s *Set) Span() (start, end time.Time) { return s.rate.Span() }

// Add aggregates one event. The event is expected to be valid, as the
// decoder makes them: an invalid severity is counted as "unknown", an
// invalid (zero) IP is left out of the IP counts, and nothing panics.
func (s *Set) Add(e rdr.Event) {
	s.ready()
	s.rate.events.n++
	s.severity.Add(e.Severity)
	s.types.add(e.Type, 0, 1)
	if s.compact {
		s.addCompact(e)
		return
	}
	i, isNew := s.users.add(e.UserID, e.Time.UnixNano(), 1)
	u := &s.users.users[i]
	if isNew {
		s.activeUsers.AddHash(hashString(u.key))
	}
	s.topUsers.offerExact(u.key, u.count, &u.slot)
	if e.IP.IsValid() {
		ip := s.ips.add(e.IP, 1)
		s.topIPs.offerExact(ip.key, ip.count, &ip.slot)
	}
}

func (s *Set) addCompact(e rdr.Event) {
	s.activeUsers.Add(e.UserID)
	s.topUsers.Add(e.UserID)
	if e.IP.IsValid() {
		s.topIPs.Add(e.IP)
	}
}

// Merge folds other into s: every count becomes exactly the count of the
// union of both inputs, active users the distinct count of the union
// (exact, or within DistinctStdError past the threshold), the top-K
// summaries keep the bound documented on TopK, and the span widens to
// cover both. The Sets may have different configs; s keeps its own.
// Merging s into itself doubles every count. other is not changed.
func (s *Set) Merge(other *Set) {
	if other == nil {
		return
	}
	s.ready()
	if other == s {
		other = s.Clone()
	}
	s.mergeSummary(other)
	switch {
	case s.compact:
	case other.compact:
		s.dropTables()
	default:
		s.users.Merge(&other.users)
		s.ips.merge(&other.ips)
	}
}

// mergeSummary merges everything but the per-user and per-IP tables.
func (s *Set) mergeSummary(other *Set) {
	s.mergeCounts(other)
	s.topUsers.Merge(&other.topUsers)
	s.topIPs.Merge(&other.topIPs)
}

// mergeCounts merges the counts and the distinct users.
func (s *Set) mergeCounts(other *Set) {
	s.rate.Merge(&other.rate)
	s.severity.Merge(&other.severity)
	s.types.Merge(&other.types)
	s.activeUsers.Merge(&other.activeUsers)
}

// Compact drops the Set's per-user and per-IP tables, whose size grows
// with the traffic, and keeps its bounded part: counts, severities, event
// types, distinct users and the top-K summaries — what [Set.MarshalBinary]
// encodes. A compacted Set is what a closed window of a Series with
// CompactClosed holds, and what UnmarshalBinary returns: its top lists are
// the summaries' Space-Saving estimates (exact for a Set fed events
// directly, see [Set]), User finds nobody, and later Adds feed the
// summaries directly. Reset makes a Set uncompacted again.
func (s *Set) Compact() {
	s.ready()
	s.dropTables()
}

// dropTables frees the per-user and per-IP tables, whose size grows with
// the traffic; the bounded summaries stay.
func (s *Set) dropTables() {
	s.users.release()
	s.ips = ipCounts{}
	s.compact = true
}

// Clone returns a deep copy of s.
func (s *Set) Clone() *Set {
	s.ready()
	c := newSet(s.cfg)
	c.compact = s.compact
	c.Merge(s)
	return c
}

// Reset empties s for reuse with another window, keeping its allocated
// memory (tables, sketch) so that refilling it does not allocate for keys
// it has room for. Reset itself does not allocate. The span is cleared.
func (s *Set) Reset() {
	s.rate.Reset()
	s.severity.Reset()
	s.types.Reset()
	s.users.Reset()
	s.ips.reset()
	s.activeUsers.Reset()
	s.topUsers.Reset()
	s.topIPs.Reset()
	s.compact = false
}

// Total returns the number of events added (and merged).
func (s *Set) Total() uint64 { return s.rate.Count() }

// User returns one user's activity in this Set, and false if the user had
// no events (or the Set is compact).
func (s *Set) User(id string) (UserActivity, bool) { return s.users.Get(id) }

// Metrics returns the snapshot of s; see [Metrics] for the fields and the
// JSON. It allocates the snapshot and leaves s unchanged. The cost is
// O(event types + TopKCapacity).
func (s *Set) Metrics() Metrics {
	s.ready()
	if s.compact {
		return s.metrics(nil, nil)
	}
	return s.metrics(
		func(id string) (uint64, bool) {
			i, ok := s.users.index(id)
			if !ok {
				return 0, false
			}
			return s.users.users[i].count, true
		},
		s.ips.get)
}

// metrics builds the snapshot; userCount and ipCount, when not nil, give
// the exact counts of top-list candidates.
func (s *Set) metrics(userCount func(string) (uint64, bool), ipCount func(netip.Addr) (uint64, bool)) Metrics {
	start, end := s.rate.Span()
	m := Metrics{
		From:            start,
		To:              end,
		TotalEvents:     s.rate.Count(),
		EventsPerSecond: s.rate.PerSecond(),
		ActiveUsers:     s.activeUsers.Count(),
		BySeverity:      s.severity,
		ByType:          make(map[string]uint64, s.types.Len()),
	}
	for i := range s.types.users {
		m.ByType[s.types.users[i].key] = s.types.users[i].count
	}
	m.TopEventTypes = keyCounts(s.types.Top(s.cfg.TopN), identity)
	m.TopUsers = keyCounts(topExact(&s.topUsers, s.cfg.TopN, strings.Compare, userCount), identity)
	m.TopIPs = keyCounts(topExact(&s.topIPs, s.cfg.TopN, netip.Addr.Compare, ipCount), netip.Addr.String)
	return m
}

// topExact returns the n best of t's candidates, with exact counts where
// exact knows them. Every key whose true count exceeds t.Min() is a
// candidate, so when the n-th exact count exceeds t.Min() the list is
// exactly the true top n. Only candidates whose estimate reaches the n-th
// largest lower bound (Count-Error) can be in the top n, so only those are
// looked up.
func topExact[K comparable](t *TopK[K], n int, compare func(a, b K) int, exact func(K) (uint64, bool)) []Item[K] {
	items := make([]Item[K], 0, t.Len())
	for it := range t.All() {
		items = append(items, it)
	}
	if exact != nil && n > 0 && len(items) > 0 {
		lows := make([]uint64, len(items))
		for i, it := range items {
			lows[i] = it.Count - it.Error
		}
		slices.Sort(lows)
		floor := lows[len(lows)-min(n, len(lows))]
		keep := items[:0]
		for _, it := range items {
			if it.Count < floor {
				continue
			}
			if c, ok := exact(it.Key); ok {
				it.Count, it.Error = c, 0
			}
			keep = append(keep, it)
		}
		items = keep
	}
	sortItems(items, compare)
	return items[:min(len(items), max(n, 0))]
}

func identity(s string) string { return s }

func keyCounts[K comparable](items []Item[K], str func(K) string) []KeyCount {
	out := make([]KeyCount, len(items))
	for i, it := range items {
		out[i] = KeyCount{Key: str(it.Key), Count: it.Count}
	}
	return out
}

package sink

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rdr-go/rdr/aggregate"
	"github.com/rdr-go/rdr/anomaly"
)

// Sink receives the pipeline's output: closed windows and alerts.
//
// Implementations must follow these rules, which the conformance suite sinktest.Run
// (package sink/sinktest) checks:
//
//   - Every method is safe for concurrent use.
//   - Ownership: a sink does not keep the WindowResult or Alert it is given,
//     nor anything they point to (the Metrics maps and slices, the alert's
//     events), after the call returns; it copies or encodes what it needs.
//     The caller may reuse them at once.
//   - A write whose context is already done returns an error wrapping the
//     context's error and writes nothing. A write that has to wait (for
//     buffer space, for a slow destination) returns when its context ends.
//   - A write that returns nil has been accepted: it is stored, or buffered
//     and will be stored by the next Flush or Close, unless the sink
//     documents otherwise (a best-effort output says so, and counts what it
//     drops).
//   - Writing the same window again (same End; a replay or a late update)
//     replaces it; writing an alert again (same ID; an update, the
//     resolution) replaces it. Nothing is counted twice.
//   - Close flushes what was accepted, stops every goroutine the sink
//     started, and is safe to call more than once (later calls return nil).
//     After Close, writes return [ErrClosed].
//
// A sink that only handles alerts (an alert output) documents that it
// ignores windows: its WriteWindow returns nil (or ErrClosed after Close).
type Sink interface {
	// WriteWindow stores one closed window's result.
	WriteWindow(ctx context.Context, w WindowResult) error
	// WriteAlert stores or sends one alert (firing, updated or resolved).
	WriteAlert(ctx context.Context, a anomaly.Alert) error
	// Close flushes and releases the sink.
	Close() error
}

// Flusher is implemented by sinks that buffer: Flush returns once everything
// written before the call has reached the destination, or ctx ends.
type Flusher interface {
	Flush(ctx context.Context) error
}

// HistoryReader is implemented by sinks that can answer history queries
// (the [Memory] store and the [Influx] sink). Both give the same answer for
// the same data.
type HistoryReader interface {
	History(ctx context.Context, q Query) (History, error)
}

// AlertStore is implemented by sinks that keep alerts for people to work
// through (the [Memory] store and the [Influx] sink): they list what they
// stored and record acknowledgements, so that a restarted dashboard shows
// the alerts of before the restart as they were.
type AlertStore interface {
	// RecentAlerts returns up to limit alerts (all when limit ≤ 0) that
	// first fired at or after since, the latest state of each, most recent
	// FirstSeen first (ties by ID). Influx does not store contributing
	// events: its alerts have no Events.
	RecentAlerts(ctx context.Context, since time.Time, limit int) ([]StoredAlert, error)
	// AckAlert records that someone acknowledged a at the given time.
	// Later writes of the alert (updates, resolution) keep it.
	AckAlert(ctx context.Context, a anomaly.Alert, at time.Time) error
}

// alertVersion names one emission of an alert, "<id>-<status>-<count>":
// the idempotency key the publisher and the webhook send.
func alertVersion(a *anomaly.Alert) string {
	return a.ID + "-" + a.Status.String() + "-" + strconv.FormatInt(a.Count, 10)
}

// StoredAlert is an alert as an [AlertStore] keeps it.
type StoredAlert struct {
	anomaly.Alert
	// AckedAt is when the alert was acknowledged; zero if it was not.
	AckedAt time.Time
}

// WindowResult is the result of one closed event-time window [Start, End),
// for example one second. The pipeline writes one per window when it fires,
// and again (Update true) when late events change it; every write carries
// the window's complete metrics, so a sink replaces the earlier result.
//
// A window's identity is its Partition and End: a result for the same
// partition and End replaces the earlier one (a late update, a replay
// after a crash, another processor taking the partition over), and results
// of different partitions with the same End add up. A sink uses End as the
// timestamp and stores the counts a history query needs: total events,
// active users, events by severity and by type. A sink expects one window
// length.
type WindowResult struct {
	// Start and End bound the window. Required; End after Start.
	Start, End time.Time
	// Update is true when this result replaces one written before.
	Update bool
	// Partition names the input partition whose events the window counts
	// (the pipeline writes "TOPIC/PARTITION"). Optional; "" is a partition
	// of its own. Printable, no backslash, at most 256 bytes.
	Partition string
	// Metrics is the window's snapshot. Stored: TotalEvents, ActiveUsers,
	// BySeverity and ByType.
	Metrics aggregate.Metrics
}

// Validate returns an error wrapping ErrInvalidWindow when w cannot be
// stored.
func (w WindowResult) Validate() error {
	switch {
	case w.Start.IsZero() || w.End.IsZero():
		return fmt.Errorf("%w: Start and End are required", ErrInvalidWindow)
	case !w.End.After(w.Start):
		return fmt.Errorf("%w: End (%s) must be after Start (%s)", ErrInvalidWindow,
			w.End.UTC().Format(time.RFC3339Nano), w.Start.UTC().Format(time.RFC3339Nano))
	case len(w.Partition) > 256 || w.Partition != "" && !tagPlain(w.Partition):
		return fmt.Errorf("%w: Partition %q: at most 256 printable bytes, no backslash", ErrInvalidWindow, w.Partition)
	}
	return nil
}

// validateAlert returns an error wrapping ErrInvalidAlert when a cannot be
// stored.
func validateAlert(a *anomaly.Alert) error {
	switch {
	case a.ID == "":
		return fmt.Errorf("%w: ID is empty", ErrInvalidAlert)
	case a.Rule == "":
		return fmt.Errorf("%w %s: Rule is empty", ErrInvalidAlert, a.ID)
	case a.Status != anomaly.StatusFiring && a.Status != anomaly.StatusResolved:
		return fmt.Errorf("%w %s: invalid status %d", ErrInvalidAlert, a.ID, a.Status)
	case a.FirstSeen.IsZero():
		return fmt.Errorf("%w %s: FirstSeen is zero", ErrInvalidAlert, a.ID)
	}
	return nil
}

// The metrics a [Query] can ask for.
const (
	// MetricEvents is the number of events per interval. GroupBy "",
	// "eventType" or "severity"; Filter "eventType" (not with GroupBy
	// "severity").
	MetricEvents = "events"
	// MetricActiveUsers is, per interval, the largest number of distinct
	// users in one window of the interval (summed over writers). With an
	// Interval equal to the window length it is each window's distinct
	// users. GroupBy ""; no Filter.
	MetricActiveUsers = "activeUsers"
	// MetricAlerts is the number of alerts raised per interval (an alert
	// counts once, in the interval of its FirstSeen, whatever its later
	// updates and resolution). GroupBy "", "rule" or "severity"; Filter
	// "rule", "severity".
	MetricAlerts = "alerts"
)

// The groupings and filter keys a [Query] can use.
const (
	ByEventType = "eventType"
	BySeverity  = "severity"
	ByRule      = "rule"
)

// Limits on a [Query].
const (
	// MinInterval is the shortest Query.Interval.
	MinInterval = time.Second
	// MaxQueryPoints is the most intervals a Query may span.
	MaxQueryPoints = 10000
	// MaxFilterBytes is the longest Filter value.
	MaxFilterBytes = 4096
)

// allowed lists, per metric, the accepted GroupBy and Filter keys.
var allowed = map[string]struct{ groupBy, filter []string }{
	MetricEvents:      {[]string{"", ByEventType, BySeverity}, []string{ByEventType}},
	MetricActiveUsers: {[]string{""}, nil},
	MetricAlerts:      {[]string{"", ByRule, BySeverity}, []string{ByRule, BySeverity}},
}

// Query asks for a time series of one metric over [Start, Stop), in
// intervals of Interval starting at Start, optionally grouped by a tag and
// filtered on exact tag values. For example, events per minute by event type
// over the last hour:
//
//	sink.Query{Metric: sink.MetricEvents, GroupBy: sink.ByEventType,
//		Start: now.Add(-time.Hour), Stop: now, Interval: time.Minute}
//
// A window belongs to the interval that holds its last instant (End − 1 ns),
// so with windows aligned to the intervals each window counts exactly once.
// An alert belongs to the interval that holds its FirstSeen.
type Query struct {
	// Metric is MetricEvents, MetricActiveUsers or MetricAlerts. Required.
	Metric string `json:"metric"`
	// GroupBy is "" (one series) or the tag to group by; see the Metric
	// constants for which ones each metric accepts.
	GroupBy string `json:"groupBy,omitempty"`
	// Start and Stop bound the query, [Start, Stop). Required; Stop after
	// Start.
	Start time.Time `json:"start"`
	Stop  time.Time `json:"stop"`
	// Interval is the length of each point's interval: at least
	// MinInterval, and (Stop−Start)/Interval at most MaxQueryPoints.
	Interval time.Duration `json:"interval"`
	// Filter keeps only data whose tag (the map key) equals the value,
	// exactly, byte for byte. Values are user input: they are matched as
	// plain literals, never interpreted. Optional.
	Filter map[string]string `json:"filter,omitempty"`
}

// Validate returns a [*QueryError] naming the first parameter that is
// wrong, or nil.
func (q Query) Validate() error {
	spec, ok := allowed[q.Metric]
	if !ok {
		return &QueryError{"Metric", fmt.Sprintf("unknown metric %q (want %s, %s or %s)", q.Metric, MetricEvents, MetricActiveUsers, MetricAlerts)}
	}
	if !slices.Contains(spec.groupBy, q.GroupBy) {
		return &QueryError{"GroupBy", fmt.Sprintf("%s cannot be grouped by %q (want %s)", q.Metric, q.GroupBy, quoteList(spec.groupBy))}
	}
	switch {
	case q.Start.IsZero():
		return &QueryError{"Start", "is required"}
	case q.Stop.IsZero():
		return &QueryError{"Stop", "is required"}
	case !q.Stop.After(q.Start):
		return &QueryError{"Stop", fmt.Sprintf("must be after Start, got Start %s and Stop %s",
			q.Start.UTC().Format(time.RFC3339Nano), q.Stop.UTC().Format(time.RFC3339Nano))}
	case q.Interval < MinInterval:
		return &QueryError{"Interval", fmt.Sprintf("must be at least %s, got %s", MinInterval, q.Interval)}
	}
	if n := q.points(); n > MaxQueryPoints {
		return &QueryError{"Interval", fmt.Sprintf("%s over %s gives %d points, more than the maximum %d",
			q.Interval, q.Stop.Sub(q.Start), n, MaxQueryPoints)}
	}
	for _, k := range sortedKeys(q.Filter) {
		v := q.Filter[k]
		param := "Filter[" + k + "]"
		switch {
		case !slices.Contains(spec.filter, k):
			if len(spec.filter) == 0 {
				return &QueryError{param, fmt.Sprintf("%s takes no filter", q.Metric)}
			}
			return &QueryError{param, fmt.Sprintf("%s cannot be filtered on %q (want %s)", q.Metric, k, quoteList(spec.filter))}
		case k == ByEventType && q.GroupBy == BySeverity:
			return &QueryError{param, "events by severity cannot be filtered on eventType (severities are not stored per event type)"}
		case len(v) > MaxFilterBytes:
			return &QueryError{param, fmt.Sprintf("value is %d bytes, more than the maximum %d", len(v), MaxFilterBytes)}
		case !utf8.ValidString(v):
			return &QueryError{param, "value is not valid UTF-8"}
		}
	}
	return nil
}

// points returns the number of intervals in [Start, Stop): the last one may
// be cut short by Stop. It saturates instead of overflowing.
func (q Query) points() int {
	span := q.Stop.Sub(q.Start)
	if span <= 0 || q.Interval <= 0 {
		return 0
	}
	n := span / q.Interval
	if span%q.Interval != 0 {
		n++
	}
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(n)
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// History is the answer to a [Query]: one series per group, sorted by key
// (byte order). Every series has one point per interval, at the interval's
// start, from Start up to Stop; an interval without data is 0. A group
// appears only if it has data in [Start, Stop); without any data Series is
// empty (not nil).
type History struct {
	Query  Query    `json:"query"`
	Series []Series `json:"series"`
}

// Series is one group's time series. Key is the group's tag value (an event
// type, a rule, a severity name), or the metric name for an ungrouped query.
type Series struct {
	Key    string  `json:"key"`
	Points []Point `json:"points"`
}

// Point is one interval of a [Series]: T is the interval's start (UTC), V
// its value.
type Point struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
}

// histBuilder gathers values into the dense series of a History.
type histBuilder struct {
	q      Query
	start  time.Time
	n      int
	max    bool // combine values with max instead of sum
	series map[string][]float64
}

func newHistBuilder(q Query) *histBuilder {
	return &histBuilder{
		q:      q,
		start:  q.Start.UTC(),
		n:      q.points(),
		max:    q.Metric == MetricActiveUsers,
		series: make(map[string][]float64),
	}
}

// index returns the interval that holds t, or -1 outside [Start, Stop).
func (b *histBuilder) index(t time.Time) int {
	if t.Before(b.q.Start) || !t.Before(b.q.Stop) {
		return -1
	}
	return int(t.Sub(b.q.Start) / b.q.Interval)
}

// add combines v into interval i of the series key, creating the series.
func (b *histBuilder) add(key string, i int, v float64) {
	if i < 0 || i >= b.n {
		return
	}
	s, ok := b.series[key]
	if !ok {
		s = make([]float64, b.n)
		b.series[key] = s
	}
	if b.max {
		s[i] = max(s[i], v)
	} else {
		s[i] += v
	}
}

func (b *histBuilder) history() History {
	h := History{Query: b.q, Series: make([]Series, 0, len(b.series))}
	for key, vals := range b.series {
		pts := make([]Point, len(vals))
		for i, v := range vals {
			pts[i] = Point{T: b.start.Add(time.Duration(i) * b.q.Interval), V: v}
		}
		h.Series = append(h.Series, Series{Key: key, Points: pts})
	}
	slices.SortFunc(h.Series, func(a, b Series) int { return strings.Compare(a.Key, b.Key) })
	return h
}

// Health is how a sink's deliveries stand: what a /metrics page and a
// dashboard's "degraded" badge show.
type Health struct {
	Name          string    `json:"name"`
	Degraded      bool      `json:"degraded"`                 // behind or failing: see the sink's Health
	Pending       int       `json:"pending"`                  // points or alerts accepted, not yet delivered
	Retries       uint64    `json:"retries"`                  // failed attempts that were retried
	Blocked       uint64    `json:"blocked"`                  // writes that had to wait for room
	Failed        uint64    `json:"failed"`                   // points or alerts given up on
	OldestPending time.Time `json:"oldestUnwritten,omitzero"` // when the oldest pending one was accepted; zero: none
	LastError     string    `json:"lastError"`
}

// HealthReporter is implemented by sinks that deliver in the background
// ([Influx], [Webhook]): their writes return before delivery, so a
// delivery that fails or falls behind shows here, not as a write error.
type HealthReporter interface {
	Health() Health
}

package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
)

// Defaults of [InfluxConfig].
const (
	DefaultInfluxWriter     = "default"
	DefaultBatchSize        = 5000
	DefaultFlushInterval    = 200 * time.Millisecond
	DefaultMaxPending       = 100_000
	DefaultRequestTimeout   = 10 * time.Second
	DefaultRetryInterval    = 100 * time.Millisecond
	DefaultMaxRetryInterval = 5 * time.Second
	DefaultCloseTimeout     = 10 * time.Second
)

// InfluxConfig configures an [Influx] sink. URL and Bucket are required; the
// rest has working defaults.
type InfluxConfig struct {
	// URL is the server's base URL, e.g. "http://127.0.0.1:8086". Required.
	URL string
	// Token authenticates: an API token for InfluxDB 2.x, "user:password"
	// for 1.8 (any value when 1.8 runs without auth). Optional.
	Token string
	// Org is the organization (2.x: required by the server; 1.8 ignores
	// it). Optional.
	Org string
	// Bucket is where points go: a bucket name for 2.x, "database/retention
	// policy" for 1.8 (e.g. "rdr/autogen"). Required.
	Bucket string
	// Writer is the writer tag of this sink's window points, with the
	// window's partition tag their identity: a point of the same writer,
	// partition and window replaces the earlier one (a late update, a
	// replay after a crash, another processor taking the partition over),
	// and points of different partitions or writers add up in history
	// queries. Every processor of one deployment uses the same Writer (the
	// default); a second deployment writing the same bucket uses another.
	// Optional; default DefaultInfluxWriter ("default"). Printable, no
	// backslash.
	Writer string
	// BatchSize is about how many points go in one write request (a window's
	// points are never split). Optional; default DefaultBatchSize (5000).
	BatchSize int
	// FlushInterval is the longest a point waits in a partial batch.
	// Optional; default DefaultFlushInterval (200 ms).
	FlushInterval time.Duration
	// MaxPending bounds the points buffered or in flight. When it is
	// reached (InfluxDB is down or slow), writes wait for room: that is the
	// backpressure, nothing is dropped. Optional; default DefaultMaxPending
	// (100,000); at least BatchSize.
	MaxPending int
	// RequestTimeout bounds one write request; a request that times out is
	// retried. Optional; default DefaultRequestTimeout (10 s).
	RequestTimeout time.Duration
	// RetryInterval is the wait after the first failed write; it doubles
	// with each further failure of the same batch, up to MaxRetryInterval
	// (each wait is drawn between half and all of it). Network errors,
	// timeouts, 408, 429 and 5xx answers are retried without limit; other
	// answers are not (see ErrRejected). Optional; defaults
	// DefaultRetryInterval (100 ms) and DefaultMaxRetryInterval (5 s).
	RetryInterval    time.Duration
	MaxRetryInterval time.Duration
	// CloseTimeout bounds how long Close keeps trying to write what is
	// buffered. Optional; default DefaultCloseTimeout (10 s).
	CloseTimeout time.Duration
	// RollUp also writes 1-minute roll-ups of the windows (measurements
	// rdr_window_1m and rdr_events_1m, summed over partitions and writers),
	// and answers history queries whose Start and Interval are whole
	// minutes from them: a 30-day query reads 43,200 points per series
	// instead of one per window. A minute is rolled up about a second after
	// its windows have been sent, by reading them back, so it holds every
	// writer's points stored by then. Optional; default off.
	RollUp bool
	// DisableGzip sends write requests uncompressed. Optional; by default
	// they are gzip-compressed.
	DisableGzip bool
	// HTTPClient makes the requests (for TLS settings, proxies). Optional;
	// default a client with its own transport, whose idle connections Close
	// closes.
	HTTPClient *http.Client
	// Clock tells the time for how long points have waited (Health) and
	// for where RecentAlerts stops reading (48 h past now, as event time
	// may run ahead of the clock). Optional; default rdr.SystemClock.
	Clock rdr.Clock
	// Logger receives failed writes (Warn while retrying, Error when points
	// are rejected or lost). Optional; default no logging.
	Logger *slog.Logger
}

func (c *InfluxConfig) setDefaults() {
	if c.Clock == nil {
		c.Clock = rdr.SystemClock
	}
	if c.Writer == "" {
		c.Writer = DefaultInfluxWriter
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.MaxPending == 0 {
		c.MaxPending = max(DefaultMaxPending, c.BatchSize)
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.MaxRetryInterval == 0 {
		c.MaxRetryInterval = max(DefaultMaxRetryInterval, c.RetryInterval)
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
}

// Validate reports whether the (defaulted) settings are usable.
func (c InfluxConfig) Validate() error {
	var errs []error
	if err := checkHTTPURL("URL", c.URL); err != nil {
		errs = append(errs, err)
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("Bucket is required"))
	}
	if !tagPlain(c.Writer) {
		errs = append(errs, fmt.Errorf("Writer must be printable UTF-8 without backslashes, got %q", c.Writer))
	}
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("BatchSize must not be negative, got %d", c.BatchSize))
	}
	if c.MaxPending < 0 || (c.MaxPending > 0 && c.MaxPending < c.BatchSize) {
		errs = append(errs, fmt.Errorf("MaxPending (%d) must be at least BatchSize (%d)", c.MaxPending, c.BatchSize))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"FlushInterval", c.FlushInterval}, {"RequestTimeout", c.RequestTimeout}, {"RetryInterval", c.RetryInterval},
		{"MaxRetryInterval", c.MaxRetryInterval}, {"CloseTimeout", c.CloseTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %s", d.name, d.v))
		}
	}
	if c.MaxRetryInterval > 0 && c.MaxRetryInterval < c.RetryInterval {
		errs = append(errs, fmt.Errorf("MaxRetryInterval (%s) must be at least RetryInterval (%s)", c.MaxRetryInterval, c.RetryInterval))
	}
	return errors.Join(errs...)
}

// InfluxStats are an [Influx] sink's counters since it was made.
type InfluxStats struct {
	// Written is the number of points the server acknowledged.
	Written uint64
	// Batches is the number of write requests that succeeded.
	Batches uint64
	// Pending is the number of points buffered or in flight.
	Pending int
	// Retries is the number of failed write attempts that were retried.
	Retries uint64
	// Rejected is the number of points in batches the server refused for
	// good (see ErrRejected).
	Rejected uint64
	// Lost is the number of points still unwritten when Close gave up after
	// CloseTimeout.
	Lost uint64
	// Blocked is the number of writes that had to wait for buffer space.
	Blocked uint64
	// LastError is the latest write error, "" if none.
	LastError string
	// OldestPending is when the oldest point not yet written was
	// accepted; zero when none is pending.
	OldestPending time.Time
	// Failing is true from a failed write attempt until the next one
	// that succeeds.
	Failing bool
}

// Influx is the InfluxDB sink: it writes windows and alerts as points (the
// schema is in the package documentation) and answers history queries with
// InfluxQL. It is safe for concurrent use.
//
// Writes encode the points at once into a bounded buffer and return; one
// goroutine sends the buffer in batches, retrying failed requests with
// backoff. When the buffer is full, writes wait (backpressure) until there
// is room or their context ends ([ErrBackpressure]).
type Influx struct {
	cfg       InfluxConfig
	log       *slog.Logger
	client    influxdb2.Client
	writeAPI  api.WriteAPIBlocking
	reader    *influxQLQuerier
	transport *http.Transport // ours to close, nil with a caller's HTTPClient

	runCtx context.Context // cancelled when Close gives up
	abort  context.CancelFunc
	wake   chan struct{} // cap 1: work for the sender
	stop   chan struct{} // closed by Close
	exited chan struct{} // closed when the sender returns

	closeOnce sync.Once

	roll       rollUps
	rollStop   chan struct{} // closed by Close; nil without RollUp
	rollExited chan struct{}

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced when room frees up, or on Close
	closed   bool
	flushReq bool
	cur      *chunk   // batch being filled
	sealed   []*chunk // full batches, oldest first
	sending  *chunk   // the batch being sent, nil if none
	free     []*chunk
	accepted uint64 // points accepted since the start
	done     uint64 // points finished (written, rejected or lost), in order
	stats    InfluxStats

	silenceAt int64 // under mu: the time of the last rdr_silence point written (silence.go)
}

// chunk is one batch of encoded lines.
type chunk struct {
	buf   []byte
	n     int       // points
	since time.Time // when its first point was accepted
}

// NewInflux returns an InfluxDB sink, or an error wrapping ErrInvalidConfig
// naming the bad setting. It does not contact the server (use Ping for
// that): points written while the server is unreachable wait in the buffer.
func NewInflux(cfg InfluxConfig) (*Influx, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	s := &Influx{
		cfg:     cfg,
		log:     cfg.Logger,
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
		changed: make(chan struct{}),
		cur:     &chunk{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("sink", "influx", "bucket", cfg.Bucket)
	hc := cfg.HTTPClient
	if hc == nil {
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			s.transport = t.Clone()
		} else {
			s.transport = &http.Transport{Proxy: http.ProxyFromEnvironment}
		}
		hc = &http.Client{Transport: s.transport}
	}
	opts := influxdb2.DefaultOptions().
		SetHTTPClient(hc).
		SetUseGZip(!cfg.DisableGzip).
		SetPrecision(time.Nanosecond)
	s.client = influxdb2.NewClientWithOptions(strings.TrimRight(cfg.URL, "/"), cfg.Token, opts)
	s.writeAPI = s.client.WriteAPIBlocking(cfg.Org, cfg.Bucket)
	s.reader = newInfluxQLQuerier(cfg, hc)
	s.runCtx, s.abort = context.WithCancel(context.Background())
	go s.run()
	if cfg.RollUp {
		s.rollStop, s.rollExited = make(chan struct{}), make(chan struct{})
		go s.rollLoop(s.rollStop, s.rollExited)
	}
	return s, nil
}

// Config returns the sink's settings, defaults filled in.
func (s *Influx) Config() InfluxConfig { return s.cfg }

// WriteWindow encodes w's points (one rdr_window point and one rdr_events
// point per event type) into the buffer. It waits while the buffer is full;
// see [ErrBackpressure].
func (s *Influx) WriteWindow(ctx context.Context, w WindowResult) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if err := s.reserve(ctx, windowPoints(&w)); err != nil {
		return err
	}
	s.cur.buf = appendWindow(s.cur.buf, s.cfg.Writer, &w)
	seq := s.accepted + uint64(windowPoints(&w))
	s.commit(windowPoints(&w))
	if s.cfg.RollUp {
		s.roll.mark(minuteOf(w.End), seq)
	}
	return nil
}

// WriteAlert encodes a's rdr_alerts point into the buffer. It waits while
// the buffer is full; see [ErrBackpressure].
func (s *Influx) WriteAlert(ctx context.Context, a anomaly.Alert) error {
	if err := validateAlert(&a); err != nil {
		return err
	}
	if err := s.reserve(ctx, 1); err != nil {
		return err
	}
	s.cur.buf = appendAlert(s.cur.buf, &a)
	s.commit(1)
	return nil
}

// reserve waits until n points fit in the buffer and returns with s.mu
// held; on error s.mu is not held. A write larger than MaxPending is let in
// when the buffer is empty.
func (s *Influx) reserve(ctx context.Context, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	blocked := false
	for {
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		pending := int(s.accepted - s.done)
		if pending == 0 || pending+n <= s.cfg.MaxPending {
			return nil
		}
		if !blocked {
			blocked = true
			s.stats.Blocked++
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w (%d points pending, MaxPending %d): %w", ErrBackpressure, pending, s.cfg.MaxPending, ctx.Err())
		}
		s.mu.Lock()
	}
}

// commit records n points appended to s.cur and releases s.mu.
func (s *Influx) commit(n int) {
	if s.cur.n == 0 {
		s.cur.since = s.cfg.Clock.Now()
	}
	s.cur.n += n
	s.accepted += uint64(n)
	if s.cur.n >= s.cfg.BatchSize {
		s.sealLocked()
	}
	s.mu.Unlock()
}

// sealLocked moves the current batch to the send queue and wakes the
// sender.
func (s *Influx) sealLocked() {
	if s.cur.n == 0 {
		return
	}
	s.sealed = append(s.sealed, s.cur)
	if k := len(s.free); k > 0 {
		s.cur, s.free = s.free[k-1], s.free[:k-1]
	} else {
		s.cur = &chunk{buf: make([]byte, 0, 64<<10)}
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// broadcastLocked wakes everyone waiting on s.changed.
func (s *Influx) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Flush returns once every point written before the call has been sent, or
// ctx ends. It returns an error wrapping ErrRejected if the server refused
// points meanwhile, and ErrClosed after Close. It does not wait for
// roll-ups (a checkpoint needs the windows stored, not their roll-ups,
// which are made again from them): see RollUpNow.
func (s *Influx) Flush(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	target, rejected := s.accepted, s.stats.Rejected
	if s.done < target {
		s.flushReq = true
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	for s.done < target {
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sink: influx flush: %w", ctx.Err())
		}
		s.mu.Lock()
	}
	rejected = s.stats.Rejected - rejected
	lastErr := s.stats.LastError
	s.mu.Unlock()
	if rejected > 0 {
		return fmt.Errorf("%w: %d points: %s", ErrRejected, rejected, lastErr)
	}
	return nil
}

// Stats returns the sink's counters.
func (s *Influx) Stats() InfluxStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Pending = int(s.accepted - s.done)
	switch {
	case s.sending != nil:
		st.OldestPending = s.sending.since
	case len(s.sealed) > 0:
		st.OldestPending = s.sealed[0].since
	case s.cur.n > 0:
		st.OldestPending = s.cur.since
	}
	return st
}

// Health implements [HealthReporter]. The sink is degraded while its
// writes fail, or while a point has waited longer than FlushInterval plus
// RequestTimeout.
func (s *Influx) Health() Health {
	st := s.Stats()
	h := Health{
		Name: "influxdb", Pending: st.Pending, Retries: st.Retries, Blocked: st.Blocked,
		Failed: st.Rejected + st.Lost, OldestPending: st.OldestPending, LastError: st.LastError,
	}
	h.Degraded = st.Failing || !st.OldestPending.IsZero() && time.Since(st.OldestPending) > s.cfg.FlushInterval+s.cfg.RequestTimeout
	return h
}

// Ping checks that the server answers (for a readiness probe).
func (s *Influx) Ping(ctx context.Context) error {
	ok, err := s.client.Ping(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("sink: influx ping: %w", err)
	case !ok:
		return errors.New("sink: influx ping: server not ready")
	}
	return nil
}

// History answers q with an InfluxQL query on /query (see influxql.go for
// what InfluxDB 1.8, 2.x and 3.x each need). Filter values reach the query
// only as bound parameters or escaped string literals. It returns ErrClosed
// after Close.
func (s *Influx) History(ctx context.Context, q Query) (History, error) {
	if err := q.Validate(); err != nil {
		return History{}, err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return History{}, ErrClosed
	}
	step := int64(RollUpStep)
	if s.cfg.RollUp && q.Metric != MetricAlerts && int64(q.Interval)%step == 0 && q.Start.UnixNano()%step == 0 {
		return s.historyRolled(ctx, q)
	}
	return s.reader.historyFrom(ctx, q, false)
}

// AckAlert implements [AlertStore]: it writes the field acked_at to a's
// rdr_alerts point (same tags and time), which InfluxDB merges into the
// point; later writes of the alert do not carry the field and keep it.
func (s *Influx) AckAlert(ctx context.Context, a anomaly.Alert, at time.Time) error {
	if err := validateAlert(&a); err != nil {
		return err
	}
	if err := s.reserve(ctx, 1); err != nil {
		return err
	}
	s.cur.buf = appendAck(s.cur.buf, &a, at)
	s.commit(1)
	return nil
}

// RecentAlerts implements [AlertStore] with an InfluxQL query of
// rdr_alerts. Alerts are stored at their FirstSeen, so the query reads from
// since on.
func (s *Influx) RecentAlerts(ctx context.Context, since time.Time, limit int) ([]StoredAlert, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	// Event time may run ahead of the server's clock: read to well past now.
	out, err := s.reader.recentAlerts(ctx, since, s.cfg.Clock.Now().Add(48*time.Hour))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b StoredAlert) int { return compareAlerts(a.Alert, b.Alert) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// alertFromRecord reads back what appendAlert and appendAck wrote, but
// FirstSeen and Events.
func alertFromRecord(v map[string]any) (StoredAlert, error) {
	str := func(k string) string { s, _ := v[k].(string); return s }
	num := func(k string) int64 { n, _ := v[k].(int64); return n }
	flt := func(k string) float64 { f, _ := v[k].(float64); return f }
	at := func(k string) time.Time {
		if n := num(k); n != 0 {
			return time.Unix(0, n).UTC()
		}
		return time.Time{}
	}
	a := anomaly.Alert{
		ID: decodeTag(str(tagID)), Rule: decodeTag(str(tagRule)),
		GroupBy: str("group_by"), Key: str("key"), Message: str("message"),
		Count: num(fieldCount), LastSeen: at("last_seen"), ResolvedAt: at("resolved_at"),
		RiskScore: flt("risk_score"), Threshold: flt("threshold"), Value: flt("value"),
	}
	a.SilencedBy = decodeField(str(fieldAlertSilenced))
	tags, err := decodeAlertTags(str(fieldAlertTags))
	if err != nil {
		return StoredAlert{}, fmt.Errorf("alert %s: tags: %w", a.ID, err)
	}
	a.Tags = tags
	sev, err := rdr.ParseSeverity(decodeTag(str(tagSeverity)))
	if err != nil {
		return StoredAlert{}, fmt.Errorf("alert %s: %w", a.ID, err)
	}
	a.Severity = sev
	if err := a.Status.UnmarshalText([]byte(str("status"))); err != nil {
		return StoredAlert{}, fmt.Errorf("alert %s: %w", a.ID, err)
	}
	return StoredAlert{Alert: a, AckedAt: at(fieldAckedAt)}, nil
}

// Close stops accepting writes, sends what is buffered (for at most
// CloseTimeout), and stops the sender. If the server stayed unreachable, the
// points not written are counted in Stats().Lost, logged, and reported in
// the error. Later calls return nil.
func (s *Influx) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.close() })
	return err
}

func (s *Influx) close() error {
	if s.rollStop != nil {
		close(s.rollStop)
		<-s.rollExited
		// The last minutes, for a bounded part of CloseTimeout.
		ctx, cancel := context.WithTimeout(context.Background(), min(s.cfg.CloseTimeout/2, 5*time.Second))
		if err := s.RollUpNow(ctx); err != nil {
			s.log.Warn("roll-up at close failed", "minutes", s.roll.pending(), "err", err)
		}
		cancel()
	}
	s.mu.Lock()
	s.closed = true
	s.broadcastLocked()
	s.mu.Unlock()
	close(s.stop)
	timer := time.NewTimer(s.cfg.CloseTimeout)
	select {
	case <-s.exited:
	case <-timer.C:
		s.abort()
		<-s.exited
	}
	timer.Stop()
	s.abort()
	s.client.Close()
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
	st := s.Stats()
	if st.Lost > 0 {
		return fmt.Errorf("sink: influx: closed with %d points not written after %s: %s", st.Lost, s.cfg.CloseTimeout, st.LastError)
	}
	return nil
}

// run is the sender: it sends sealed batches in order, and seals the
// current one every FlushInterval, on Flush and on Close.
func (s *Influx) run() {
	defer close(s.exited)
	ticker := time.NewTicker(s.cfg.FlushInterval)
	defer ticker.Stop()
	for {
		tick := false
		select {
		case <-s.wake:
		case <-ticker.C:
			tick = true
		case <-s.stop:
		}
		for {
			c, stopping := s.next(tick)
			if c == nil {
				if stopping {
					return
				}
				break
			}
			s.finish(c, s.send(c))
		}
	}
}

// next returns the oldest batch to send, sealing the current one when it is
// due, or nil; stopping is true once Close has begun.
func (s *Influx) next(tick bool) (c *chunk, stopping bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tick || s.flushReq || s.closed {
		s.sealLocked()
		s.flushReq = false
	}
	if len(s.sealed) == 0 {
		return nil, s.closed
	}
	c = s.sealed[0]
	s.sealed[0] = nil
	s.sealed = s.sealed[1:]
	s.sending = c
	return c, s.closed
}

type sendResult uint8

const (
	sendWritten sendResult = iota
	sendRejected
	sendLost
)

// send writes one batch, retrying with backoff until it succeeds, the
// server refuses it for good, or Close gives up.
func (s *Influx) send(c *chunk) sendResult {
	if s.runCtx.Err() != nil {
		return sendLost
	}
	body := string(c.buf)
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(s.runCtx, s.cfg.RequestTimeout)
		err := s.writeAPI.WriteRecord(ctx, body)
		cancel()
		if err == nil {
			s.mu.Lock()
			s.stats.Failing = false
			s.mu.Unlock()
			return sendWritten
		}
		if s.runCtx.Err() != nil {
			return sendLost // Close gave up; LastError keeps the server's last answer
		}
		if !retryable(err) {
			s.setError(err)
			s.log.Error("InfluxDB refused a batch; not retrying", "points", c.n, "err", err)
			return sendRejected
		}
		delay := s.backoff(attempt)
		s.mu.Lock()
		s.stats.Retries++
		s.stats.LastError = err.Error()
		s.stats.Failing = true
		s.mu.Unlock()
		s.log.Warn("InfluxDB write failed; retrying", "points", c.n, "attempt", attempt+1, "retryIn", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.runCtx.Done():
			t.Stop()
			return sendLost
		}
	}
}

func (s *Influx) setError(err error) {
	s.mu.Lock()
	s.stats.LastError = err.Error()
	s.mu.Unlock()
}

// backoff is the wait after the attempt-th failure (0-based): RetryInterval
// doubled per attempt, capped at MaxRetryInterval, drawn in [d/2, d].
func (s *Influx) backoff(attempt int) time.Duration {
	return backoff(s.cfg.RetryInterval, s.cfg.MaxRetryInterval, attempt)
}

func retryable(err error) bool {
	var he *influxhttp.Error
	if !errors.As(err, &he) {
		return true
	}
	return he.StatusCode == 0 || retryableStatus(he.StatusCode)
}

// finish accounts for a sent batch and recycles it.
func (s *Influx) finish(c *chunk, r sendResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r {
	case sendWritten:
		s.stats.Written += uint64(c.n)
		s.stats.Batches++
	case sendRejected:
		s.stats.Rejected += uint64(c.n)
	case sendLost:
		s.stats.Lost += uint64(c.n)
		s.log.Error("InfluxDB unreachable at Close; points not written", "points", c.n, "err", s.stats.LastError)
	}
	s.done += uint64(c.n)
	s.sending = nil
	c.buf, c.n = c.buf[:0], 0
	if len(s.free) < 4 {
		s.free = append(s.free, c)
	}
	s.broadcastLocked()
}

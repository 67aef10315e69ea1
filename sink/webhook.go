package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/rdr-go/rdr/anomaly"
)

// Defaults of [WebhookConfig].
const (
	DefaultWebhookTimeout       = 5 * time.Second
	DefaultWebhookAttempts      = 4
	DefaultWebhookRetryInterval = 500 * time.Millisecond
	DefaultWebhookMaxRetry      = 10 * time.Second
	DefaultWebhookQueue         = 1000
)

// WebhookConfig configures a [Webhook]. URL is required.
type WebhookConfig struct {
	// URL receives one POST per alert, with the alert's JSON as the body.
	// Required; http or https.
	URL string
	// Header is added to every request (for an Authorization header).
	// Optional.
	Header http.Header
	// Timeout bounds one request. Optional; default DefaultWebhookTimeout
	// (5 s).
	Timeout time.Duration
	// MaxAttempts is how many times one alert is tried. Network errors,
	// timeouts, 408, 429 and 5xx answers are retried; other non-2xx answers
	// are not. Optional; default DefaultWebhookAttempts (4).
	MaxAttempts int
	// RetryInterval is the wait after the first failure, doubled after each
	// further one up to MaxRetryInterval (each wait drawn between half and
	// all of it). Optional; defaults DefaultWebhookRetryInterval (500 ms)
	// and DefaultWebhookMaxRetry (10 s).
	RetryInterval    time.Duration
	MaxRetryInterval time.Duration
	// QueueSize bounds the alerts waiting to be sent. When it is full,
	// WriteAlert drops the alert (ErrDropped) instead of waiting. Optional;
	// default DefaultWebhookQueue (1000).
	QueueSize int
	// CloseTimeout bounds how long Close keeps sending queued alerts.
	// Optional; default DefaultCloseTimeout (10 s).
	CloseTimeout time.Duration
	// Client makes the requests. Optional; default a client with its own
	// transport, whose idle connections Close closes.
	Client *http.Client
	// Logger receives drops and failed deliveries. Optional; default no
	// logging.
	Logger *slog.Logger
}

func (c *WebhookConfig) setDefaults() {
	if c.Timeout == 0 {
		c.Timeout = DefaultWebhookTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultWebhookAttempts
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultWebhookRetryInterval
	}
	if c.MaxRetryInterval == 0 {
		c.MaxRetryInterval = max(DefaultWebhookMaxRetry, c.RetryInterval)
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultWebhookQueue
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
}

// Validate reports whether the (defaulted) settings are usable.
func (c WebhookConfig) Validate() error {
	var errs []error
	if err := checkHTTPURL("URL", c.URL); err != nil {
		errs = append(errs, err)
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("MaxAttempts must not be negative, got %d", c.MaxAttempts))
	}
	if c.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("QueueSize must not be negative, got %d", c.QueueSize))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Timeout", c.Timeout}, {"RetryInterval", c.RetryInterval}, {"MaxRetryInterval", c.MaxRetryInterval}, {"CloseTimeout", c.CloseTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %s", d.name, d.v))
		}
	}
	if c.MaxRetryInterval > 0 && c.MaxRetryInterval < c.RetryInterval {
		errs = append(errs, fmt.Errorf("MaxRetryInterval (%s) must be at least RetryInterval (%s)", c.MaxRetryInterval, c.RetryInterval))
	}
	return errors.Join(errs...)
}

// WebhookStats are a [Webhook]'s counters since it was made.
type WebhookStats struct {
	// Delivered is the number of alerts answered with a 2xx.
	Delivered uint64
	// Failed is the number of alerts given up on: refused (non-retryable
	// answer), out of attempts, or still unsent when Close gave up.
	Failed uint64
	// Dropped is the number of alerts refused because the queue was full.
	Dropped uint64
	// Retries is the number of failed attempts that were retried.
	Retries uint64
	// Queued is the number of alerts waiting or being sent.
	Queued int
}

// Webhook is an alert output that POSTs each alert's JSON to a URL. It never
// blocks detection: WriteAlert puts the alert in a bounded queue and
// returns; one goroutine sends the queue in order, with a timeout, retries
// and backoff. When the queue is full the alert is dropped, counted and
// logged, and WriteAlert returns [ErrDropped]. Each request carries the
// headers Content-Type: application/json and Idempotency-Key: the alert's
// "<id>-<status>-<count>". It ignores windows. It is safe for concurrent
// use.
type Webhook struct {
	cfg       WebhookConfig
	log       *slog.Logger
	client    *http.Client
	transport *http.Transport // ours to close, nil with a caller's Client

	queue  chan webhookItem
	stop   chan struct{}
	exited chan struct{}
	runCtx context.Context
	abort  context.CancelFunc

	closeOnce sync.Once

	mu       sync.Mutex
	closed   bool
	failing  bool          // from a failed attempt until the next delivery
	changed  chan struct{} // closed and replaced when an alert is finished
	enqueued uint64
	finished uint64
	unsent   uint64 // alerts still unsent when Close gave up
	stats    WebhookStats
}

type webhookItem struct {
	id, key string
	body    []byte
}

// NewWebhook returns a Webhook and starts its sender, or returns an error
// wrapping ErrInvalidConfig.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	w := &Webhook{
		cfg:     cfg,
		log:     cfg.Logger,
		client:  cfg.Client,
		queue:   make(chan webhookItem, cfg.QueueSize),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
		changed: make(chan struct{}),
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With("sink", "webhook")
	if w.client == nil {
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			w.transport = t.Clone()
		} else {
			w.transport = &http.Transport{Proxy: http.ProxyFromEnvironment}
		}
		w.client = &http.Client{Transport: w.transport}
	}
	w.runCtx, w.abort = context.WithCancel(context.Background())
	go w.run()
	return w, nil
}

// WriteWindow ignores w: the Webhook sends only alerts. It returns ctx's
// error if ctx is done, ErrClosed after Close, otherwise nil.
func (w *Webhook) WriteWindow(ctx context.Context, _ WindowResult) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	return nil
}

// WriteAlert queues a for sending and returns at once: nil when queued,
// an error wrapping ErrDropped when the queue is full.
func (w *Webhook) WriteAlert(ctx context.Context, a anomaly.Alert) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateAlert(&a); err != nil {
		return err
	}
	body, err := a.AppendJSON(nil)
	if err != nil {
		return fmt.Errorf("sink: webhook alert %s: %w", a.ID, err)
	}
	item := webhookItem{id: a.ID, key: alertVersion(&a), body: body}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	select {
	case w.queue <- item:
		w.enqueued++
		return nil
	default:
		w.stats.Dropped++
		w.log.Warn("webhook queue full; alert dropped", "alert", a.ID, "rule", a.Rule, "queue", w.cfg.QueueSize, "dropped", w.stats.Dropped)
		return fmt.Errorf("%w (%d queued): alert %s", ErrDropped, w.cfg.QueueSize, a.ID)
	}
}

// Flush returns once every alert queued before the call has been delivered
// or given up on, or ctx ends. It returns ErrClosed after Close.
func (w *Webhook) Flush(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	target := w.enqueued
	for w.finished < target {
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sink: webhook flush: %w", ctx.Err())
		}
		w.mu.Lock()
	}
	w.mu.Unlock()
	return nil
}

// Stats returns the webhook's counters.
func (w *Webhook) Stats() WebhookStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.stats
	st.Queued = int(w.enqueued - w.finished)
	return st
}

// Close stops accepting alerts, sends the queued ones (for at most
// CloseTimeout; the rest count as Failed, are logged, and make Close return
// an error) and stops the sender. It is safe to call more than once; later
// calls return nil.
func (w *Webhook) Close() error {
	var err error
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.stop)
		t := time.NewTimer(w.cfg.CloseTimeout)
		select {
		case <-w.exited:
		case <-t.C:
			w.abort()
			<-w.exited
		}
		t.Stop()
		w.abort()
		if w.transport != nil {
			w.transport.CloseIdleConnections()
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.unsent > 0 {
			err = fmt.Errorf("sink: webhook: closed with %d alerts not sent after %s", w.unsent, w.cfg.CloseTimeout)
		}
	})
	return err
}

func (w *Webhook) run() {
	defer close(w.exited)
	for {
		select {
		case it := <-w.queue:
			w.finish(w.deliver(it))
		case <-w.stop:
			for {
				select {
				case it := <-w.queue:
					w.finish(w.deliver(it))
				default:
					return
				}
			}
		}
	}
}

type delivery uint8

const (
	delivered delivery = iota
	failed
	unsent // Close gave up
)

// deliver sends one alert, retrying.
func (w *Webhook) deliver(it webhookItem) delivery {
	for attempt := 1; ; attempt++ {
		if w.runCtx.Err() != nil {
			w.log.Error("webhook closed before the alert was sent", "alert", it.id)
			return unsent
		}
		retry, err := w.post(it)
		if err == nil {
			return delivered
		}
		if w.runCtx.Err() != nil {
			w.log.Error("webhook closed before the alert was sent", "alert", it.id, "err", err)
			return unsent
		}
		if !retry || attempt >= w.cfg.MaxAttempts {
			w.log.Error("webhook delivery failed; alert given up", "alert", it.id, "attempts", attempt, "err", err)
			return failed
		}
		d := backoff(w.cfg.RetryInterval, w.cfg.MaxRetryInterval, attempt-1)
		w.mu.Lock()
		w.stats.Retries++
		w.failing = true
		w.mu.Unlock()
		w.log.Warn("webhook delivery failed; retrying", "alert", it.id, "attempt", attempt, "retryIn", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-w.runCtx.Done():
			t.Stop()
		}
	}
}

// post makes one attempt; retry tells whether a failure may pass later.
func (w *Webhook) post(it webhookItem) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(w.runCtx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(it.body))
	if err != nil {
		return false, err
	}
	for k, vs := range w.cfg.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", it.key)
	resp, err := w.client.Do(req)
	if err != nil {
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	retry = retryableStatus(resp.StatusCode)
	return retry, fmt.Errorf("webhook answered %s", resp.Status)
}

// Health implements [HealthReporter]: the webhook is degraded from a
// failed attempt until the next delivery.
func (w *Webhook) Health() Health {
	st := w.Stats()
	w.mu.Lock()
	failing := w.failing
	w.mu.Unlock()
	return Health{Name: "webhook", Degraded: failing, Pending: st.Queued, Retries: st.Retries, Failed: st.Failed + st.Dropped}
}

func (w *Webhook) finish(d delivery) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch d {
	case delivered:
		w.stats.Delivered++
		w.failing = false
	case unsent:
		w.unsent++
		w.stats.Failed++
	default:
		w.stats.Failed++
	}
	w.finished++
	close(w.changed)
	w.changed = make(chan struct{})
}

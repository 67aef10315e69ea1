package sink_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sink"
	"github.com/rdr-go/rdr/sink/sinktest"
)

// hook is a webhook receiver: it answers with the scripted statuses (then
// 200), optionally waits first, and records what it was sent.
type hook struct {
	*httptest.Server
	mu      sync.Mutex
	script  []int
	hold    chan struct{} // when not nil, each request waits for it to close
	arrived chan struct{} // gets a value per request, if not nil
	reqs    []*http.Request
	alerts  []anomaly.Alert
}

func newHook(t *testing.T, script ...int) *hook {
	h := &hook{script: script}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		n := len(h.reqs)
		h.reqs = append(h.reqs, r)
		status := http.StatusOK
		if n < len(h.script) {
			status = h.script[n]
		}
		hold, arrived := h.hold, h.arrived
		h.mu.Unlock()
		if arrived != nil {
			arrived <- struct{}{}
		}
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		if status == http.StatusOK {
			var a anomaly.Alert
			if err := json.Unmarshal(body, &a); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			h.mu.Lock()
			h.alerts = append(h.alerts, a)
			h.mu.Unlock()
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) Received(context.Context) ([]anomaly.Alert, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]anomaly.Alert(nil), h.alerts...), nil
}

func (h *hook) requests() []*http.Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*http.Request(nil), h.reqs...)
}

func fastWebhook(url string) sink.WebhookConfig {
	return sink.WebhookConfig{URL: url, Timeout: time.Second, RetryInterval: 5 * time.Millisecond, MaxRetryInterval: 20 * time.Millisecond}
}

func newWebhook(t *testing.T, cfg sink.WebhookConfig) *sink.Webhook {
	t.Helper()
	w, err := sink.NewWebhook(cfg)
	require.NoError(t, err)
	return w
}

func TestWebhookConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Features{AlertsOnly: true}, func(t *testing.T) sinktest.Instance {
		h := newHook(t)
		return sinktest.Instance{Sink: newWebhook(t, fastWebhook(h.URL)), Received: h.Received}
	})
}

// 5xx answers and timeouts are retried with backoff; each request carries
// the configured headers and an idempotency key.
func TestWebhookRetries(t *testing.T) {
	h := newHook(t, http.StatusServiceUnavailable, http.StatusInternalServerError)
	cfg := fastWebhook(h.URL)
	cfg.Header = http.Header{"Authorization": {"Bearer secret"}}
	w := newWebhook(t, cfg)
	defer w.Close()
	ctx := context.Background()
	require.NoError(t, w.WriteAlert(ctx, sinktest.Alert("r", "alice", 0)))
	require.NoError(t, w.Flush(ctx))
	reqs := h.requests()
	require.Len(t, reqs, 3)
	for _, r := range reqs {
		assert.Equal(t, "Bearer secret", r.Header.Get("Authorization"))
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		assert.Equal(t, "r/alice/0-firing-1", r.Header.Get("Idempotency-Key"))
	}
	assert.Equal(t, sink.WebhookStats{Delivered: 1, Retries: 2}, w.Stats())
}

func TestWebhookTimeoutRetried(t *testing.T) {
	h := newHook(t)
	h.hold = make(chan struct{}) // the first request hangs past the timeout
	h.arrived = make(chan struct{}, 10)
	cfg := fastWebhook(h.URL)
	cfg.Timeout = 50 * time.Millisecond
	w := newWebhook(t, cfg)
	defer w.Close()
	ctx := context.Background()
	require.NoError(t, w.WriteAlert(ctx, sinktest.Alert("r", "alice", 0)))
	<-h.arrived
	<-h.arrived // the retry
	h.mu.Lock()
	close(h.hold)
	h.hold = nil
	h.mu.Unlock()
	require.NoError(t, w.Flush(ctx))
	got, _ := h.Received(ctx)
	assert.Len(t, got, 1)
	st := w.Stats()
	assert.Equal(t, uint64(1), st.Delivered)
	assert.GreaterOrEqual(t, st.Retries, uint64(1))
}

func TestWebhookGivesUp(t *testing.T) {
	h := newHook(t, http.StatusBadRequest, http.StatusBadGateway, http.StatusBadGateway, http.StatusBadGateway)
	cfg := fastWebhook(h.URL)
	cfg.MaxAttempts = 3
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	w := newWebhook(t, cfg)
	defer w.Close()
	ctx := context.Background()
	require.NoError(t, w.WriteAlert(ctx, sinktest.Alert("r", "refused", 0)))
	require.NoError(t, w.WriteAlert(ctx, sinktest.Alert("r", "down", 0)))
	require.NoError(t, w.Flush(ctx))
	assert.Len(t, h.requests(), 4, "400 is not retried; 502 is, up to MaxAttempts")
	assert.Equal(t, sink.WebhookStats{Failed: 2, Retries: 2}, w.Stats())
	assert.Contains(t, logs.String(), `level=ERROR msg="webhook delivery failed; alert given up" sink=webhook alert=r/refused/0 attempts=1 err="webhook answered 400 Bad Request"`)
	assert.Contains(t, logs.String(), `alert=r/down/0 attempts=3 err="webhook answered 502 Bad Gateway"`)
}

// A stuck receiver never blocks detection: the queue fills, further alerts
// are dropped at once, counted and logged.
func TestWebhookNeverBlocks(t *testing.T) {
	h := newHook(t)
	h.hold = make(chan struct{})
	h.arrived = make(chan struct{}, 10)
	cfg := fastWebhook(h.URL)
	cfg.QueueSize, cfg.Timeout = 2, 10*time.Second
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	w := newWebhook(t, cfg)
	defer w.Close()
	ctx := context.Background()
	require.NoError(t, w.WriteAlert(ctx, sinktest.Alert("r", "k", 0)))
	<-h.arrived // in flight, held by the receiver
	require.NoError(t, w.WriteAlert(ctx, sinktest.Alert("r", "k", 1)))
	require.NoError(t, w.WriteAlert(ctx, sinktest.Alert("r", "k", 2)))
	start := time.Now()
	err := w.WriteAlert(ctx, sinktest.Alert("r", "k", 3))
	assert.Less(t, time.Since(start), time.Second, "WriteAlert does not wait for the receiver (Timeout 10s)")
	assert.ErrorIs(t, err, sink.ErrDropped)
	assert.EqualError(t, err, "sink: alert dropped: webhook queue full (2 queued): alert r/k/3")
	assert.Equal(t, sink.WebhookStats{Dropped: 1, Queued: 3}, w.Stats())
	assert.Contains(t, logs.String(), `level=WARN msg="webhook queue full; alert dropped" sink=webhook alert=r/k/3 rule=r queue=2 dropped=1`)

	h.mu.Lock()
	close(h.hold)
	h.hold = nil
	h.mu.Unlock()
	require.NoError(t, w.Flush(ctx))
	assert.Equal(t, sink.WebhookStats{Delivered: 3, Dropped: 1}, w.Stats())
}

func TestNewWebhookInvalidConfig(t *testing.T) {
	_, err := sink.NewWebhook(sink.WebhookConfig{})
	assert.EqualError(t, err, "sink: invalid config: URL is required")
	_, err = sink.NewWebhook(sink.WebhookConfig{URL: "ftp://x", QueueSize: -1, Timeout: -time.Second})
	assert.EqualError(t, err, "sink: invalid config: URL must be an http or https URL, got \"ftp://x\"\nQueueSize must not be negative, got -1\nTimeout must not be negative, got -1s")
	assert.ErrorIs(t, err, sink.ErrInvalidConfig)
}

// A receiver that never answers cannot hold Close for longer than
// CloseTimeout; what was not sent is counted, logged and reported.
func TestWebhookCloseGivesUp(t *testing.T) {
	h := newHook(t)
	h.hold = make(chan struct{})
	defer close(h.hold)
	cfg := fastWebhook(h.URL)
	cfg.Timeout, cfg.CloseTimeout = 10*time.Second, 100*time.Millisecond
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	w := newWebhook(t, cfg)
	ctx := context.Background()
	for i := range 3 {
		require.NoError(t, w.WriteAlert(ctx, sinktest.Alert("r", "k", i)))
	}
	start := time.Now()
	assert.EqualError(t, w.Close(), "sink: webhook: closed with 3 alerts not sent after 100ms")
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, sink.WebhookStats{Failed: 3}, w.Stats())
	assert.Equal(t, 3, strings.Count(logs.String(), "webhook closed before the alert was sent"), logs.String())
	assert.NoError(t, w.Close(), "Close again")
}

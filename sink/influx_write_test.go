package sink_test

import (
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sink"
	"github.com/rdr-go/rdr/sink/sinktest"
)

// fakeInflux is a write endpoint that answers each request with the next
// scripted status (204 once the script is used up) and records the
// requests.
type fakeInflux struct {
	*httptest.Server
	mu       sync.Mutex
	script   []int
	delay    []time.Duration // per request, before answering
	requests []fakeRequest
	failAll  atomic.Int32 // when not 0, the status of every request
}

type fakeRequest struct {
	Path, Query, Auth, Encoding string
	Lines                       []string
}

func newFakeInflux(t *testing.T, script ...int) *fakeInflux {
	f := &fakeInflux{script: script}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeInflux) serve(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, fakeRequest{
		Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"),
		Encoding: r.Header.Get("Content-Encoding"), Lines: strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"),
	})
	status := http.StatusNoContent
	if n < len(f.script) {
		status = f.script[n]
	}
	var delay time.Duration
	if n < len(f.delay) {
		delay = f.delay[n]
	}
	f.mu.Unlock()
	if s := f.failAll.Load(); s != 0 {
		status = int(s)
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if status != http.StatusNoContent {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"code":"internal error","message":"scripted failure"}`)
		return
	}
	w.WriteHeader(status)
}

func (f *fakeInflux) Requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// fastRetries are settings that keep the tests short.
func fastRetries(url string) sink.InfluxConfig {
	return sink.InfluxConfig{
		URL: url, Token: "my-token", Org: "my-org", Bucket: "my-bucket", Writer: "proc-1",
		FlushInterval: 10 * time.Millisecond, RetryInterval: 5 * time.Millisecond, MaxRetryInterval: 20 * time.Millisecond,
		RequestTimeout: time.Second, CloseTimeout: 5 * time.Second,
	}
}

// The schema, byte for byte: what a window and an alert become.
func TestInfluxLineProtocol(t *testing.T) {
	f := newFakeInflux(t)
	s := newInfluxClosed(t, fastRetries(f.URL))
	ctx := context.Background()
	w := sinktest.Window(0, map[string]uint64{"login": 5, `login failed,x=1`: 2})
	w.Metrics.BySeverity[0] = 1
	w.Update = true
	require.NoError(t, s.WriteWindow(ctx, w))
	a := sinktest.Alert("brute-force", "alice", 0)
	a.Status, a.ResolvedAt, a.Message = anomaly.StatusResolved, a.FirstSeen.Add(time.Minute), `say "hi" \ bye`+"\n"
	a.Severity = rdr.SeverityCritical
	a.Tags, a.SilencedBy = []string{"attack.credential-access", "attack.t1110"}, "3f2a5b7c9d0e1f20"
	require.NoError(t, s.WriteAlert(ctx, a))
	require.NoError(t, s.Flush(ctx))

	reqs := f.Requests()
	require.Len(t, reqs, 1, "one batch")
	r := reqs[0]
	assert.Equal(t, "/api/v2/write", r.Path)
	assert.Equal(t, "bucket=my-bucket&org=my-org&precision=ns", r.Query)
	assert.Equal(t, "Token my-token", r.Auth)
	assert.Equal(t, "gzip", r.Encoding)
	lines := r.Lines // sorted: the alert's message holds a newline, so its line is split in two
	slices.Sort(lines)
	assert.Equal(t, []string{
		`",resolved_at=1795687260000000000i,risk_score=15,silenced_by="3f2a5b7c9d0e1f20",status="resolved",tags="attack.credential-access,attack.t1110",threshold=5,value=5 1795687200000000000`,
		`rdr_alerts,id=brute-force/alice/0,rule=brute-force,severity=critical count=1i,group_by="userId",key="alice",last_seen=1795687200000000000i,message="say \"hi\" \\ bye`,
		`rdr_events,eventType=login,partition=~b64:,writer=proc-1 count=5i 1795687201000000000`,
		`rdr_events,eventType=login\ failed\,x\=1,partition=~b64:,writer=proc-1 count=2i 1795687201000000000`,
		`rdr_window,partition=~b64:,writer=proc-1 active_users=2i,low=7i,medium=0i,high=0i,critical=0i,unknown=1i,total=7i,update=true 1795687201000000000`,
	}, lines)
}

// 5xx answers and timeouts are retried with backoff until the batch is
// written; nothing is written twice from the sink's side.
func TestInfluxRetries(t *testing.T) {
	f := newFakeInflux(t, http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusNoContent, http.StatusNoContent)
	f.delay = []time.Duration{0, 0, 0, 2 * time.Second} // the second batch's first attempt times out
	cfg := fastRetries(f.URL)
	cfg.RequestTimeout = 200 * time.Millisecond
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s := newInfluxClosed(t, cfg)
	ctx := context.Background()
	require.NoError(t, s.WriteWindow(ctx, sinktest.Window(0, map[string]uint64{"login": 1})))
	require.NoError(t, s.Flush(ctx))
	require.NoError(t, s.WriteWindow(ctx, sinktest.Window(1, map[string]uint64{"login": 1})))
	require.NoError(t, s.Flush(ctx))

	reqs := f.Requests()
	require.Len(t, reqs, 5, "3 attempts for the first batch, 2 for the second")
	assert.Equal(t, reqs[0].Lines, reqs[2].Lines, "the same batch is sent again")
	assert.Equal(t, reqs[3].Lines, reqs[4].Lines)
	st := s.Stats()
	assert.Equal(t, sink.InfluxStats{Written: 4, Batches: 2, Retries: 3, LastError: st.LastError}, st)
	assert.Contains(t, st.LastError, "deadline exceeded")
	assert.Equal(t, 3, strings.Count(logs.String(), "InfluxDB write failed; retrying"), logs.String())
}

// A 4xx answer (other than 408 and 429) is not retried: the points are
// counted as rejected, logged, and Flush reports it.
func TestInfluxRejected(t *testing.T) {
	f := newFakeInflux(t, http.StatusBadRequest)
	cfg := fastRetries(f.URL)
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s := newInfluxClosed(t, cfg)
	ctx := context.Background()
	require.NoError(t, s.WriteWindow(ctx, sinktest.Window(0, map[string]uint64{"login": 1, "logout": 1})))
	err := s.Flush(ctx)
	require.ErrorIs(t, err, sink.ErrRejected)
	assert.EqualError(t, err, "sink: points rejected by the server: 3 points: internal error: scripted failure")
	assert.Len(t, f.Requests(), 1)
	st := s.Stats()
	assert.Equal(t, uint64(3), st.Rejected)
	assert.Equal(t, uint64(0), st.Written)
	assert.Contains(t, logs.String(), `level=ERROR msg="InfluxDB refused a batch; not retrying" sink=influx bucket=my-bucket points=3`)
}

// While the server fails, the buffer fills up to MaxPending and writes wait;
// a write whose context ends meanwhile gets ErrBackpressure and is not
// buffered. When the server is back, everything accepted is written.
func TestInfluxBackpressure(t *testing.T) {
	f := newFakeInflux(t)
	f.failAll.Store(http.StatusServiceUnavailable)
	cfg := fastRetries(f.URL)
	cfg.BatchSize, cfg.MaxPending = 10, 20
	s := newInfluxClosed(t, cfg)
	ctx := context.Background()
	for i := range 10 { // 2 points each: 20 points fill the buffer
		require.NoError(t, s.WriteWindow(ctx, sinktest.Window(i, map[string]uint64{"login": 1})))
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := s.WriteWindow(short, sinktest.Window(10, map[string]uint64{"login": 1}))
	require.ErrorIs(t, err, sink.ErrBackpressure)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualError(t, err, "sink: backpressure: buffer full (20 points pending, MaxPending 20): context deadline exceeded")

	done := make(chan error, 1)
	go func() { done <- s.WriteWindow(ctx, sinktest.Window(11, map[string]uint64{"login": 1})) }()
	select {
	case err := <-done:
		t.Fatalf("write returned %v while the buffer is full", err)
	case <-time.After(100 * time.Millisecond):
	}
	st := s.Stats()
	assert.Equal(t, 20, st.Pending)
	assert.Equal(t, uint64(2), st.Blocked)
	assert.Positive(t, st.Retries)

	f.failAll.Store(0)
	require.NoError(t, <-done, "the waiting write goes through once there is room")
	require.NoError(t, s.Flush(ctx))
	st = s.Stats()
	assert.Equal(t, uint64(22), st.Written, "every accepted point, none of the refused write")
	assert.Equal(t, 0, st.Pending)
	assert.Zero(t, st.Rejected+st.Lost)
}

// When the server stays down, Close gives up after CloseTimeout: the points
// not written are counted, logged and reported, never dropped silently.
func TestInfluxCloseGivesUp(t *testing.T) {
	f := newFakeInflux(t)
	f.failAll.Store(http.StatusBadGateway)
	cfg := fastRetries(f.URL)
	cfg.CloseTimeout = 100 * time.Millisecond
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s := newInflux(t, cfg)
	require.NoError(t, s.WriteWindow(context.Background(), sinktest.Window(0, map[string]uint64{"login": 1})))
	start := time.Now()
	err := s.Close()
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.EqualError(t, err, "sink: influx: closed with 2 points not written after 100ms: internal error: scripted failure")
	assert.Equal(t, uint64(2), s.Stats().Lost)
	assert.Contains(t, logs.String(), `msg="InfluxDB unreachable at Close; points not written" sink=influx bucket=my-bucket points=2`)
	assert.NoError(t, s.Close(), "Close again")
}

func TestNewInfluxInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  sink.InfluxConfig
		want string
	}{
		{"empty", sink.InfluxConfig{}, "sink: invalid config: URL is required\nBucket is required"},
		{"bad url", sink.InfluxConfig{URL: "localhost:8086", Bucket: "b"}, `sink: invalid config: URL must be an http or https URL, got "localhost:8086"`},
		{"writer", sink.InfluxConfig{URL: "http://h", Bucket: "b", Writer: `a\b`}, `sink: invalid config: Writer must be printable UTF-8 without backslashes, got "a\\b"`},
		{"pending", sink.InfluxConfig{URL: "http://h", Bucket: "b", BatchSize: 100, MaxPending: 10}, `sink: invalid config: MaxPending (10) must be at least BatchSize (100)`},
		{"negative", sink.InfluxConfig{URL: "http://h", Bucket: "b", FlushInterval: -1}, `sink: invalid config: FlushInterval must not be negative, got -1ns`},
		{"retry", sink.InfluxConfig{URL: "http://h", Bucket: "b", RetryInterval: time.Second, MaxRetryInterval: time.Millisecond},
			`sink: invalid config: MaxRetryInterval (1ms) must be at least RetryInterval (1s)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sink.NewInflux(tc.cfg)
			assert.ErrorIs(t, err, sink.ErrInvalidConfig)
			assert.EqualError(t, err, tc.want)
		})
	}
	s := newInfluxClosed(t, sink.InfluxConfig{URL: "http://127.0.0.1:1", Bucket: "b"})
	assert.Equal(t, sink.InfluxConfig{
		URL: "http://127.0.0.1:1", Bucket: "b", Writer: "default", BatchSize: 5000, FlushInterval: 200 * time.Millisecond,
		MaxPending: 100000, RequestTimeout: 10 * time.Second, RetryInterval: 100 * time.Millisecond,
		MaxRetryInterval: 5 * time.Second, CloseTimeout: 10 * time.Second, Clock: rdr.SystemClock,
	}, s.Config())
}

// Floats line protocol cannot carry (NaN, ±Inf: here risk_score, value and
// threshold) are left out of the line; counts above the largest int64 are
// clamped to it.
func TestInfluxLineProtocolOddNumbers(t *testing.T) {
	f := newFakeInflux(t)
	s := newInfluxClosed(t, fastRetries(f.URL))
	ctx := context.Background()
	w := sinktest.Window(0, map[string]uint64{"login": math.MaxUint64})
	w.Metrics.TotalEvents = math.MaxUint64
	require.NoError(t, s.WriteWindow(ctx, w))
	a := sinktest.Alert("spike", "bob", 0)
	a.RiskScore, a.Value, a.Threshold = math.NaN(), math.Inf(1), math.Inf(-1)
	require.NoError(t, s.WriteAlert(ctx, a))
	require.NoError(t, s.Flush(ctx))
	reqs := f.Requests()
	require.Len(t, reqs, 1)
	lines := reqs[0].Lines
	slices.Sort(lines)
	assert.Equal(t, []string{
		`rdr_alerts,id=spike/bob/0,rule=spike,severity=high count=1i,group_by="userId",key="bob",last_seen=1795687200000000000i,message="5 failed logins for bob",resolved_at=0i,silenced_by="",status="firing",tags="" 1795687200000000000`,
		`rdr_events,eventType=login,partition=~b64:,writer=proc-1 count=9223372036854775807i 1795687201000000000`,
		`rdr_window,partition=~b64:,writer=proc-1 active_users=1i,low=9223372036854775807i,medium=0i,high=0i,critical=0i,total=9223372036854775807i,update=false 1795687201000000000`,
	}, lines)
}

// The HTTP sinks' shared retry rules: which answers are tried again, and
// that the wait doubles, is capped, and is drawn from its upper half.
func TestRetryRules(t *testing.T) {
	for code, want := range map[int]bool{200: false, 400: false, 401: false, 404: false, 408: true, 413: false, 429: true, 500: true, 503: true} {
		assert.Equal(t, want, sink.RetryableStatus(code), "%d", code)
	}
	for attempt, span := range map[int][2]time.Duration{
		0: {50 * time.Millisecond, 100 * time.Millisecond}, 1: {100 * time.Millisecond, 200 * time.Millisecond},
		3: {400 * time.Millisecond, 800 * time.Millisecond}, 10: {2500 * time.Millisecond, 5 * time.Second}, 40: {2500 * time.Millisecond, 5 * time.Second},
	} {
		for range 200 {
			d := sink.Backoff(100*time.Millisecond, 5*time.Second, attempt)
			require.True(t, d >= span[0] && d <= span[1], "attempt %d: %s not in [%s, %s]", attempt, d, span[0], span[1])
		}
	}
}

// Close stays bounded with RollUp when the server hangs (accepts
// connections, never answers): the roll-up pass in progress is cancelled,
// not waited for (3 × RequestTimeout, 30 s).
func TestInfluxRollUpCloseIsBoundedWhenTheServerHangs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	s, err := sink.NewInflux(sink.InfluxConfig{URL: "http://" + ln.Addr().String(), Bucket: "rdr", RollUp: true, CloseTimeout: 2 * time.Second})
	require.NoError(t, err)
	require.NoError(t, s.WriteWindow(context.Background(), sinktest.Window(0, map[string]uint64{"login": 1})))
	time.Sleep(1500 * time.Millisecond) // the roll-up loop has begun its first pass, which hangs
	start := time.Now()
	err = s.Close()
	elapsed := time.Since(start)
	assert.Error(t, err, "the buffered points are lost, and said so")
	assert.Less(t, elapsed, 15*time.Second, "Close waited for the hung roll-up pass")
}

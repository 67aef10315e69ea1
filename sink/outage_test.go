package sink_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/sink"
	"github.com/rdr-go/rdr/sink/sinktest"
)

// tcpProxy forwards 127.0.0.1:port to a target. Cut closes the listener and
// every connection (clients see connection refused and resets, as when the
// server is stopped); Restore listens again on the same port.
type tcpProxy struct {
	target, addr string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]struct{}
	wg           sync.WaitGroup
}

func startProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &tcpProxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(func() { p.Cut(); p.wg.Wait() })
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln { // cut meanwhile
				p.mu.Unlock()
				c.Close()
				up.Close()
				return
			}
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
				p.mu.Lock()
				delete(p.conns, dst)
				delete(p.conns, src)
				p.mu.Unlock()
			}
			p.wg.Go(func() { pipe(up, c) })
			p.wg.Go(func() { pipe(c, up) })
		}
	})
}

// Cut makes the server unreachable.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// Restore makes the server reachable again, on the same address.
func (p *tcpProxy) Restore(t *testing.T) {
	var ln net.Listener
	require.Eventually(t, func() bool {
		var err error
		ln, err = net.Listen("tcp", p.addr)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond, "listen again on %s", p.addr)
	p.serve(ln)
}

// InfluxDB goes away in the middle of a stream and comes back: the sink
// retries, buffers up to MaxPending, then holds writers back, and in the
// end the stored totals are exactly what was sent, window by window.
//
// The outage is a TCP proxy between the sink and the real server that is
// cut and restored (scripts/services.sh restarts InfluxDB on a new port with
// empty data, so it cannot simulate a restart).
func TestInfluxOutage(t *testing.T) {
	env := requireInflux(t)
	bucket := newBucket(t, env)
	u, err := url.Parse(env.URL)
	require.NoError(t, err)
	proxy := startProxy(t, u.Host)

	cfg := influxConfig(env, bucket)
	cfg.URL = "http://" + proxy.addr
	cfg.BatchSize, cfg.MaxPending = 100, 1000
	cfg.FlushInterval, cfg.RequestTimeout = 20*time.Millisecond, 2*time.Second
	cfg.RetryInterval, cfg.MaxRetryInterval = 10*time.Millisecond, 100*time.Millisecond
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s := newInfluxClosed(t, cfg)
	direct := newInfluxClosed(t, influxConfig(env, bucket)) // reads past the proxy

	const windows = 1200 // 20 minutes of 1-second windows, 4 points each
	window := func(i int) sink.WindowResult {
		return sinktest.Window(i, map[string]uint64{"login": uint64(i%5 + 1), "login_failed": uint64(i % 3), fmt.Sprintf("t%d", i%2): 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	progress := make(chan int, windows)
	writeErr := make(chan error, 1)
	go func() {
		for i := range windows {
			if err := s.WriteWindow(ctx, window(i)); err != nil {
				writeErr <- fmt.Errorf("window %d: %w", i, err)
				return
			}
			progress <- i
		}
		writeErr <- nil
	}()

	// Mid-stream: once some batches are in, the server goes away.
	require.Eventually(t, func() bool { return s.Stats().Batches >= 3 }, 10*time.Second, time.Millisecond)
	proxy.Cut()
	// The buffer fills and the writer is held back.
	require.Eventually(t, func() bool { st := s.Stats(); return st.Blocked > 0 && st.Retries >= 3 }, 10*time.Second, time.Millisecond,
		"stats: %+v", s.Stats())
	st := s.Stats()
	// The outage shows as health, not as write errors: writes were accepted.
	health := s.Health()
	assert.True(t, health.Degraded, "degraded during the outage: %+v", health)
	assert.Equal(t, "influxdb", health.Name)
	assert.Greater(t, health.Pending, 0)
	assert.Positive(t, health.Retries)
	assert.Positive(t, health.Blocked)
	assert.False(t, health.OldestPending.IsZero())
	assert.NotEmpty(t, health.LastError)
	assert.LessOrEqual(t, st.Pending, cfg.MaxPending, "bounded buffer")
	assert.Greater(t, st.Pending, cfg.MaxPending-10, "full buffer")
	held := len(progress)
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, held, len(progress), "no write completes while the buffer is full")
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	err = s.WriteWindow(short, sinktest.Window(windows+10, map[string]uint64{"never": 1}))
	cancelShort()
	assert.ErrorIs(t, err, sink.ErrBackpressure)

	proxy.Restore(t)
	require.NoError(t, <-writeErr)
	require.NoError(t, s.Flush(ctx))

	st = s.Stats()
	health = s.Health()
	assert.False(t, health.Degraded, "healthy again: %+v", health)
	assert.Zero(t, health.Pending)
	assert.True(t, health.OldestPending.IsZero())
	assert.Equal(t, uint64(windows*4), st.Written, "every point acknowledged once")
	assert.Zero(t, st.Pending)
	assert.Zero(t, st.Rejected+st.Lost)
	assert.Contains(t, logs.String(), "InfluxDB write failed; retrying")

	// Stored totals, window by window, equal what was sent: a batch that
	// reached the server before the cut and was sent again overwrote itself.
	q := sink.Query{Metric: sink.MetricEvents, GroupBy: sink.ByEventType, Start: sinktest.Base,
		Stop: sinktest.Base.Add(windows * time.Second), Interval: time.Second}
	want := map[string][]float64{}
	for i := range windows {
		for typ, n := range window(i).Metrics.ByType {
			if want[typ] == nil {
				want[typ] = make([]float64, windows)
			}
			want[typ][i] = float64(n)
		}
	}
	h, err := direct.History(ctx, q)
	require.NoError(t, err)
	got := map[string][]float64{}
	for _, sr := range h.Series {
		got[sr.Key] = values(sr)
	}
	assert.Equal(t, want, got)
	q.GroupBy, q.Interval = "", windows*time.Second
	h, err = direct.History(ctx, q)
	require.NoError(t, err)
	var total float64
	for i := range windows {
		total += float64(window(i).Metrics.TotalEvents)
	}
	require.Len(t, h.Series, 1)
	assert.Equal(t, []float64{total}, values(h.Series[0]), "total events")
	assert.NotContains(t, got, "never", "the write refused with ErrBackpressure left nothing behind")
}

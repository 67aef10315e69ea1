package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/examples/internal/servicetest"
	"github.com/rdr-go/rdr/sink"
)

// With InfluxDB as the store, alerts outlive the dashboard: a restarted one
// loads them and lists them as before, acknowledgement included. Needs
// RDR_INFLUX_URL (scripts/services.sh).
func TestAlertsSurviveARestartWithInfluxDB(t *testing.T) {
	influxURL, token := os.Getenv("RDR_INFLUX_URL"), os.Getenv("RDR_INFLUX_TOKEN")
	if influxURL == "" {
		t.Skip(`RDR_INFLUX_URL not set: run scripts/services.sh start influxdb; eval "$(scripts/services.sh env)"`)
	}
	db := servicetest.InfluxDatabase(t, influxURL, token, "rdr_dash")
	withInflux := func(o *options) {
		o.influxURL, o.influxToken, o.influxOrg, o.influxBucket = influxURL, token, os.Getenv("RDR_INFLUX_ORG"), db+"/autogen"
	}
	first, stop := startServer(t, withInflux)

	now := time.Now().UTC()
	var batch []string
	for i := range 8 {
		batch = append(batch, ev("login_failed", "trudy", now.Add(time.Duration(i)*time.Millisecond)))
	}
	status, reply := do(t, http.MethodPost, first+"/api/events", strings.Join(batch, "\n"))
	require.Equal(t, http.StatusOK, status, "%v", reply)
	var before map[string]any
	waitFor(t, func() bool {
		_, list := do(t, http.MethodGet, first+"/api/alerts?status=all&key=trudy", "")
		alerts, _ := list["alerts"].([]any)
		if len(alerts) == 0 {
			return false
		}
		before = alerts[0].(map[string]any)
		return true
	})
	status, acked := do(t, http.MethodPost, first+"/api/alerts/"+before["id"].(string)+"/ack", "")
	require.Equal(t, http.StatusOK, status)
	ackedAt := acked["alert"].(map[string]any)["ackedAt"]
	require.NotEmpty(t, ackedAt)
	stop() // closes the sinks: the alert is in InfluxDB now

	second := server(t, withInflux)
	_, list := do(t, http.MethodGet, second+"/api/alerts?status=all&key=trudy", "")
	alerts, _ := list["alerts"].([]any)
	require.Len(t, alerts, 1, "the alert of before the restart")
	after := alerts[0].(map[string]any)
	for _, k := range []string{"id", "rule", "key", "groupBy", "severity", "status", "count", "firstSeen", "lastSeen", "message", "value", "threshold", "riskScore"} {
		assert.Equal(t, before[k], after[k], k)
	}
	assert.Equal(t, true, after["acked"], "the acknowledgement survives the restart")
	assert.Equal(t, ackedAt, after["ackedAt"])
	assert.Equal(t, []any{}, after["events"], "InfluxDB does not keep contributing events")
}

// A backfill with -replay gives the windows that the same events give
// live: half an hour of events (some invalid, a little out of order),
// once posted back to back to a live dashboard and once replayed from a
// file with -replay -replay-exit, each into a database of its own, hold
// the same count per second and event type, and all the valid events.
func TestReplayMatchesLive(t *testing.T) {
	influxURL, token := os.Getenv("RDR_INFLUX_URL"), os.Getenv("RDR_INFLUX_TOKEN")
	if influxURL == "" {
		t.Skip(`RDR_INFLUX_URL not set: run scripts/services.sh start influxdb; eval "$(scripts/services.sh env)"`)
	}
	withInflux := func(db string) func(o *options) {
		return func(o *options) {
			o.influxURL, o.influxToken, o.influxOrg, o.influxBucket = influxURL, token, os.Getenv("RDR_INFLUX_ORG"), db+"/autogen"
			o.maxBody = 1 << 20
		}
	}
	from := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	const n = 36_000
	var lines []string
	valid := 0
	for i := range n {
		at := from.Add(time.Duration(i) * 50 * time.Millisecond)
		if i%7 == 3 {
			at = at.Add(-300 * time.Millisecond) // within the 1 s out-of-orderness
		}
		if i%1000 == 999 {
			lines = append(lines, `{"timestamp":"`+at.UTC().Format(time.RFC3339Nano)+`","eventType":"login","userId":"","severity":"low"}`)
			continue
		}
		lines = append(lines, ev([]string{"login_success", "file_access", "logout"}[i%3], fmt.Sprintf("u%d", i%61), at))
		valid++
	}

	live := servicetest.InfluxDatabase(t, influxURL, token, "rdr_live")
	base, stop := startServer(t, withInflux(live))
	for i := 0; i < n; i += 4000 {
		_, _, _ = postRetrying(t, base, []byte(strings.Join(lines[i:min(i+4000, n)], "\n")))
	}
	waitUntil(t, time.Minute, func() bool {
		return metricValue(t, base, "rdr_events_in_total") == float64(valid) && historyTotal(t, base, from, from.Add(time.Hour)) == float64(valid)
	}, func() string {
		return fmt.Sprintf("%v applied, history %v, of %d", metricValue(t, base, "rdr_events_in_total"), historyTotal(t, base, from, from.Add(time.Hour)), valid)
	})
	assert.Zero(t, metricValue(t, base, "rdr_events_late_total"))
	stop()

	replayed := servicetest.InfluxDatabase(t, influxURL, token, "rdr_replay")
	file := filepath.Join(t.TempDir(), "events.ndjson")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	o, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-replay", file, "-replay-exit"})
	require.NoError(t, err)
	o.kafkaBrokers, o.token = "", ""
	withInflux(replayed)(&o)
	var progress syncBuffer
	o.progress = &progress
	require.NoError(t, run(context.Background(), o, slog.New(slog.NewTextHandler(io.Discard, nil)), nil))
	assert.Contains(t, progress.String(), fmt.Sprintf("%d events accepted, %d refused, %d applied", valid, n-valid, valid))
	assert.Contains(t, progress.String(), ", done in ")
	t.Logf("replay progress:\n%s", progress.String())

	read := func(db string) map[string][]float64 {
		s, err := sink.NewInflux(sink.InfluxConfig{URL: influxURL, Token: token, Org: os.Getenv("RDR_INFLUX_ORG"), Bucket: db + "/autogen"})
		require.NoError(t, err)
		defer s.Close()
		h, err := s.History(context.Background(), sink.Query{Metric: sink.MetricEvents, GroupBy: sink.ByEventType, Start: from.Add(-time.Minute), Stop: from.Add(time.Hour), Interval: time.Second})
		require.NoError(t, err)
		out := map[string][]float64{}
		for _, sr := range h.Series {
			for _, p := range sr.Points {
				out[sr.Key] = append(out[sr.Key], p.V)
			}
		}
		return out
	}
	want, got := read(live), read(replayed)
	var total float64
	for _, vs := range got {
		for _, v := range vs {
			total += v
		}
	}
	assert.Equal(t, float64(valid), total, "every valid event, replayed")
	assert.Equal(t, want, got, "per second and event type, replayed = live")
}

// syncBuffer is a strings.Builder safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// "Accepted" holds across a graceful stop: 60,000 events posted back to
// back in 12 bodies to the embedded dashboard, which is stopped as soon
// as the last POST answers 200 — while its queue still holds a backlog —
// are all in InfluxDB afterwards, exactly: the stop applies what was
// queued, then fires the open windows and flushes the sink.
func TestGracefulStopAppliesEverythingAccepted(t *testing.T) {
	influxURL, token := os.Getenv("RDR_INFLUX_URL"), os.Getenv("RDR_INFLUX_TOKEN")
	if influxURL == "" {
		t.Skip(`RDR_INFLUX_URL not set: run scripts/services.sh start influxdb; eval "$(scripts/services.sh env)"`)
	}
	db := servicetest.InfluxDatabase(t, influxURL, token, "rdr_stop")
	base, stop := startServer(t, func(o *options) {
		o.influxURL, o.influxToken, o.influxOrg, o.influxBucket = influxURL, token, os.Getenv("RDR_INFLUX_ORG"), db+"/autogen"
		o.maxBody = 2 << 20
	})
	const n, chunk = 60_000, 5_000
	from := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	lines := make([]string, n)
	for i := range lines {
		lines[i] = ev([]string{"login_success", "file_access", "logout"}[i%3], fmt.Sprintf("u%d", i%101), from.Add(time.Duration(i)*10*time.Millisecond))
	}
	accepted := 0
	for i := 0; i < n; i += chunk {
		a, r, _ := postRetrying(t, base, []byte(strings.Join(lines[i:i+chunk], "\n")))
		require.Zero(t, r)
		accepted += a
	}
	applied := metricValue(t, base, "rdr_events_in_total")
	began := time.Now()
	stop()
	t.Logf("stopped in %s with %d accepted and %v applied: a backlog of %v", time.Since(began).Round(time.Millisecond), accepted, applied, float64(accepted)-applied)
	require.Equal(t, n, accepted)

	s, err := sink.NewInflux(sink.InfluxConfig{URL: influxURL, Token: token, Org: os.Getenv("RDR_INFLUX_ORG"), Bucket: db + "/autogen"})
	require.NoError(t, err)
	defer s.Close()
	h, err := s.History(context.Background(), sink.Query{Metric: sink.MetricEvents, Start: from.Add(-time.Minute), Stop: from.Add(time.Hour), Interval: time.Hour})
	require.NoError(t, err)
	var total float64
	for _, sr := range h.Series {
		for _, p := range sr.Points {
			total += p.V
		}
	}
	assert.Equal(t, float64(n), total, "every accepted event is in InfluxDB after the stop")
}

// The dashboard stops in bounded time when its InfluxDB is gone: with the
// server unreachable from the start and events posted, SIGTERM (here: the
// context) returns within the sink's CloseTimeout and the processor's,
// with an error that says how many points were not written. Runs without
// services: the InfluxDB address is one nothing listens on.
func TestStopIsBoundedWhenInfluxDBIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	o, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-generate=false", "-idle-timeout", "300ms"})
	require.NoError(t, err)
	o.kafkaBrokers, o.token = "", ""
	o.influxURL, o.influxToken, o.influxBucket = dead, "", "rdr/autogen"
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- run(ctx, o, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
	base := "http://" + <-ready
	from := time.Now().Add(-time.Hour).Truncate(time.Second)
	var lines []string
	for i := range 5000 {
		lines = append(lines, ev("login_success", fmt.Sprintf("u%d", i%7), from.Add(time.Duration(i)*100*time.Millisecond)))
	}
	_, r, _ := postRetrying(t, base, []byte(strings.Join(lines, "\n")))
	require.Zero(t, r)
	waitFor(t, func() bool { return metricValue(t, base, `rdr_sink_pending{sink="influxdb"}`) > 0 })
	began := time.Now()
	cancel()
	select {
	case err := <-done:
		took := time.Since(began)
		t.Logf("stopped in %s: %v", took.Round(time.Millisecond), err)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "points not written")
	case <-time.After(2 * time.Minute):
		t.Fatal("the dashboard did not stop in 2 minutes with InfluxDB down")
	}
}

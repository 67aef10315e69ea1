package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rdr-go/rdr"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Watermill's GoChannel and the HTTP client keep idle goroutines
		// that belong to their own pools.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		// Sarama's metrics library keeps one package-level ticker.
		goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
	)
}

// server runs the dashboard in embedded mode, without the generator, and
// returns its base URL.
func server(t *testing.T, mutate func(*options)) string {
	t.Helper()
	base, _ := startServer(t, mutate)
	return base
}

// startServer is server, with a function that stops the dashboard and
// waits for it (also called at cleanup).
func startServer(t *testing.T, mutate func(*options)) (string, func()) {
	t.Helper()
	o, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-generate=false", "-idle-timeout", "300ms", "-max-body", "4096"})
	require.NoError(t, err)
	// Embedded mode whatever RDR_* variables the environment sets (CI sets
	// the Kafka and InfluxDB ones for the integration tests).
	o.kafkaBrokers, o.influxURL, o.token = "", "", ""
	if mutate != nil {
		mutate(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- run(ctx, o, logger, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				assert.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Error("server did not stop")
			}
		})
	}
	t.Cleanup(stop)
	base := "http://" + addr
	waitFor(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base, stop
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 15 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func do(t *testing.T, method, url, body string, header ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &out), "body %s", raw)
	return resp.StatusCode, out
}

func ev(typ, user string, at time.Time) string {
	return string(rdr.AppendJSON(nil, rdr.Event{Time: at, Type: typ, UserID: user, Severity: rdr.SeverityMedium, Metadata: rdr.MakeMetadata("app", "vpn")}))
}

func TestPostEvents(t *testing.T) {
	base := server(t, nil)
	now := time.Now().UTC()
	tests := []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{"one event", ev("login_success", "alice", now), 200, `{"accepted":1,"rejected":0,"errors":[]}`},
		{"array with bad items", "[" + ev("login_success", "bob", now) + `,{"timestamp":"x","eventType":"t","userId":"u","severity":"low"},` + ev("logout", "bob", now) + `,7]`, 200,
			`{"accepted":2,"rejected":2,"errors":[{"index":1,"field":"timestamp","reason":"rdr: invalid event: field timestamp: \"x\" is not an RFC 3339 time"},{"index":3,"reason":"rdr: invalid event: not a JSON object"}]}`},
		{"ndjson", ev("file_access", "carol", now) + "\n" + ev("file_access", "carol", now) + "\n", 200, `{"accepted":2,"rejected":0,"errors":[]}`},
		{"invalid JSON", `{"timestamp":`, 400, `{"accepted":0,"rejected":1,"errors":[{"index":0,"reason":"rdr: invalid event: malformed JSON at byte 13: unexpected end of input, want a value"}]}`},
		{"wrong types", `{"timestamp":true,"eventType":1,"userId":"u","severity":"low"}`, 400,
			`{"accepted":0,"rejected":1,"errors":[{"index":0,"field":"timestamp","reason":"rdr: invalid event: field timestamp: must be an RFC 3339 string or integer epoch milliseconds, got a boolean"}]}`},
		{"empty body", ``, 400, `{"accepted":0,"rejected":1,"errors":[{"index":0,"reason":"rdr: invalid event: empty input, want an event, an array of events or NDJSON"}]}`},
		{"oversize body", "[" + strings.Repeat(ev("login_success", "dave", now)+",", 40) + ev("login_success", "dave", now) + "]", 413, `{"error":"body larger than the limit of 4096 bytes"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(base+"/api/events", "application/json", strings.NewReader(tt.body))
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.JSONEq(t, tt.want, string(raw))
		})
	}
	// Exactly the accepted events were applied: 1 + 2 + 2, nothing of the
	// refused or oversize requests.
	waitFor(t, func() bool {
		_, m := do(t, "GET", base+"/api/metrics?range=5m", "")
		return m["totalEvents"] == float64(5)
	})
	_, m := do(t, "GET", base+"/api/metrics?range=5m", "")
	assert.Equal(t, map[string]any{"login_success": 2.0, "logout": 1.0, "file_access": 2.0}, m["byType"])
	assert.Equal(t, 3.0, m["activeUsers"])

	status, user := do(t, "GET", base+"/api/users/carol", "")
	assert.Equal(t, 200, status)
	assert.Equal(t, 2.0, user["count"])
	status, _ = do(t, "GET", base+"/api/users/nobody", "")
	assert.Equal(t, 404, status)
}

func TestAlertsLifecycleOverHTTPAndWebSocket(t *testing.T) {
	base := server(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/events/stream?topics=alerts", nil)
	require.NoError(t, err)
	defer conn.CloseNow()

	now := time.Now().UTC()
	var batch []string
	for i := range 8 {
		batch = append(batch, ev("login_failed", "mallory", now.Add(time.Duration(i)*time.Millisecond)))
	}
	status, reply := do(t, "POST", base+"/api/events", strings.Join(batch, "\n"))
	require.Equal(t, 200, status, "%v", reply)

	// The alert reaches the WebSocket client…
	var alert map[string]any
	for alert == nil {
		_, msg, err := conn.Read(ctx)
		require.NoError(t, err)
		var env struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal(msg, &env))
		if env.Type == "alert" && env.Data["key"] == "mallory" {
			alert = env.Data
		}
	}
	assert.Equal(t, "firing", alert["status"])
	assert.Equal(t, false, alert["acked"])
	id := alert["id"].(string)

	// …and the API, where it can be acknowledged.
	status, list := do(t, "GET", base+"/api/alerts?status=firing", "")
	require.Equal(t, 200, status)
	alerts := list["alerts"].([]any)
	require.NotEmpty(t, alerts)
	assert.Equal(t, id, alerts[0].(map[string]any)["id"])

	status, acked := do(t, "POST", base+"/api/alerts/"+id+"/ack", "")
	require.Equal(t, 200, status)
	assert.Equal(t, true, acked["alert"].(map[string]any)["acked"])
	_, list = do(t, "GET", base+"/api/alerts", "")
	assert.Equal(t, true, list["alerts"].([]any)[0].(map[string]any)["acked"])

	status, missing := do(t, "POST", base+"/api/alerts/nope/ack", "")
	assert.Equal(t, 404, status)
	assert.Equal(t, `no alert with id "nope"`, missing["error"])
	status, bad := do(t, "GET", base+"/api/alerts?status=open", "")
	assert.Equal(t, 400, status)
	assert.Equal(t, `status: "open" is not one of firing, resolved, all`, bad["error"])
}

func TestHistoryAndMetricsQueries(t *testing.T) {
	base := server(t, nil)
	now := time.Now().UTC()
	status, _ := do(t, "POST", base+"/api/events", ev("login_success", "erin", now)+"\n"+ev("logout", "erin", now))
	require.Equal(t, 200, status)
	waitFor(t, func() bool {
		_, m := do(t, "GET", base+"/api/metrics?range=1m", "")
		return m["totalEvents"] == float64(2)
	})
	status, h := do(t, "GET", base+"/api/history?metric=events&groupBy=eventType&range=5m&interval=1m", "")
	require.Equal(t, 200, status, "%v", h)
	assert.Equal(t, "events", h["metric"])
	assert.Equal(t, "1m0s", h["interval"])
	total := 0.0
	for _, s := range h["series"].([]any) {
		for _, p := range s.(map[string]any)["points"].([]any) {
			total += p.(map[string]any)["v"].(float64)
		}
	}
	assert.Equal(t, 2.0, total)

	for _, tt := range []struct{ query, want string }{
		{"/api/history?metric=bogus&range=5m", "metric"},
		{"/api/history?range=forever", `range: "forever" is not a positive duration like 5m, 1h or 24h`},
		{"/api/history?start=yesterday", `start: "yesterday" is not an RFC 3339 time`},
		{"/api/history?metric=events&eventType=" + "%22%29%20%7C%3E%20drop%28%29", ""},
		{"/api/metrics?range=-5m", `range: "-5m" is not a positive duration like 5m, 1h or 24h`},
		{"/api/history?metric=events&range=1d12h&interval=1h", ""}, // the one duration syntax: days too
		{"/api/history?metric=events&range=1d&interval=1.5d", `interval`},
	} {
		status, body := do(t, "GET", base+tt.query, "")
		if tt.want == "" { // a hostile filter value is a literal that matches nothing
			assert.Equal(t, 200, status, "%s: %v", tt.query, body)
			continue
		}
		assert.Equal(t, 400, status, tt.query)
		assert.Contains(t, body["error"], tt.want, tt.query)
	}
}

func TestTokenGuardsAPIAndWebSocket(t *testing.T) {
	base := server(t, func(o *options) { o.token = "s3cret" })
	status, body := do(t, "GET", base+"/api/alerts", "")
	assert.Equal(t, 401, status)
	assert.Equal(t, "missing or wrong bearer token", body["error"])
	status, _ = do(t, "GET", base+"/api/alerts", "", "Authorization", "Bearer wrong")
	assert.Equal(t, 401, status)
	status, _ = do(t, "GET", base+"/api/alerts", "", "Authorization", "Bearer s3cret")
	assert.Equal(t, 200, status)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/events/stream", nil)
	require.Error(t, err)
	assert.Equal(t, 401, resp.StatusCode)
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/events/stream?access_token=s3cret", nil)
	require.NoError(t, err)
	conn.CloseNow()

	// The page and the health checks stay open.
	resp2, err := http.Get(base + "/")
	require.NoError(t, err)
	resp2.Body.Close()
	assert.Equal(t, 200, resp2.StatusCode)

	// A browser exchanges the token for a cookie once; the cookie then
	// opens the API and the WebSocket, and the token is in no URL.
	status, body = do(t, "POST", base+"/api/login", `{"token":"wrong"}`)
	assert.Equal(t, 401, status)
	assert.Equal(t, "wrong token", body["error"])
	resp3, err := http.Post(base+"/api/login", "application/json", strings.NewReader(`{"token":"s3cret"}`))
	require.NoError(t, err)
	resp3.Body.Close()
	require.Equal(t, 204, resp3.StatusCode)
	cookies := resp3.Cookies()
	require.Len(t, cookies, 1)
	c := cookies[0]
	assert.Equal(t, "rdr_token", c.Name)
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
	status, _ = do(t, "GET", base+"/api/alerts", "", "Cookie", "rdr_token=s3cret")
	assert.Equal(t, 200, status)
	status, _ = do(t, "GET", base+"/api/alerts", "", "Cookie", "rdr_token=wrong")
	assert.Equal(t, 401, status)
	conn, _, err = websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/events/stream",
		&websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {"rdr_token=s3cret"}}})
	require.NoError(t, err, "the cookie opens the WebSocket")
	conn.CloseNow()
}

func TestPrometheusMetrics(t *testing.T) {
	base := server(t, nil)
	status, _ := do(t, "POST", base+"/api/events", ev("login_success", "frank", time.Now().UTC())+"\n"+`{"bad":1}`)
	require.Equal(t, 200, status)
	waitFor(t, func() bool {
		resp, err := http.Get(base + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		text := string(raw)
		return strings.Contains(text, "rdr_events_in_total 1\n") &&
			strings.Contains(text, "rdr_http_events_rejected_total 1\n") &&
			strings.Contains(text, "rdr_ws_clients 0\n") &&
			strings.Contains(text, "rdr_events_late_total 0\n")
	})
}

// Flags, environment variables, the API and rule files take one duration
// syntax (rdr.ParseDuration); a variable that does not parse is an error
// naming it, not a silent default.
func TestFlagsAndEnvironmentDurations(t *testing.T) {
	o, err := parseFlagsTo([]string{"-lateness", "1d12h", "-idle-timeout", "300ms", "-kafka-outage-grace", "-1s"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 36*time.Hour, o.lateness)
	assert.Equal(t, 300*time.Millisecond, o.idleTimeout)
	assert.Equal(t, -time.Second, o.outageGrace)

	t.Setenv("RDR_CHECKPOINT_INTERVAL", "2d")
	o, err = parseFlagsTo(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 48*time.Hour, o.checkpointInt)

	_, err = parseFlagsTo([]string{"-lateness", "1.5d"}, io.Discard)
	assert.ErrorContains(t, err, `invalid duration "1.5d"`)

	t.Setenv("RDR_ATTACK_EVERY", "") // empty is unset: the default
	o, err = parseFlagsTo(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 20*time.Second, o.attackEvery)

	t.Setenv("RDR_IDLE_TIMEOUT", "banana")
	t.Setenv("RDR_REPARTITION", "maybe")
	var out strings.Builder
	_, err = parseFlagsTo(nil, &out)
	assert.EqualError(t, err, `environment: RDR_REPARTITION="maybe": want true or false`+"\n"+
		`RDR_IDLE_TIMEOUT="banana": want a duration like 30s, 5m, 1h30m or 7d`)
	assert.Contains(t, out.String(), `dashboard: environment: RDR_REPARTITION="maybe"`)
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var out strings.Builder
	_, err := parseFlagsTo([]string{"-h"}, &out)
	require.Error(t, err)
	for _, v := range []string{"RDR_ADDR", "RDR_TOKEN", "RDR_KAFKA_BROKERS", "RDR_INFLUX_URL", "RDR_INFLUX_TOKEN", "RDR_INFLUX_ORG", "RDR_INFLUX_BUCKET", "RDR_GENERATE"} {
		assert.Contains(t, out.String(), v)
	}
}

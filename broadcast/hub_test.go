package broadcast_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/broadcast"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: t0} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is a hub behind a test HTTP server.
type env struct {
	hub   *broadcast.Hub
	srv   *httptest.Server
	wsURL string
}

func newEnv(t *testing.T, cfg broadcast.Config) *env {
	t.Helper()
	if cfg.Clock == nil {
		cfg.Clock = newTestClock()
	}
	hub, err := broadcast.NewHub(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(hub)
	t.Cleanup(func() {
		assert.NoError(t, hub.Close())
		srv.Close()
	})
	return &env{hub: hub, srv: srv, wsURL: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial connects a client; query is appended to the URL ("?topics=…").
func (e *env) dial(t *testing.T, query string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(testCtx(t), e.wsURL+query, opts)
	require.NoError(t, err)
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// dialStatus tries to connect and returns the HTTP status of the refusal.
func (e *env) dialStatus(t *testing.T, query string, opts *websocket.DialOptions) (int, http.Header) {
	t.Helper()
	c, resp, err := websocket.Dial(testCtx(t), e.wsURL+query, opts)
	if err == nil {
		_ = c.CloseNow()
		return http.StatusSwitchingProtocols, resp.Header
	}
	require.NotNil(t, resp, "dial error without a response: %v", err)
	return resp.StatusCode, resp.Header
}

type envelope struct {
	Type    string          `json:"type"`
	TS      string          `json:"ts"`
	Data    json.RawMessage `json:"data"`
	Dropped uint64          `json:"dropped"`
}

func readRaw(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	typ, b, err := c.Read(testCtx(t))
	require.NoError(t, err)
	require.Equal(t, websocket.MessageText, typ)
	return string(b)
}

func read(t *testing.T, c *websocket.Conn) envelope {
	t.Helper()
	var env envelope
	require.NoError(t, json.Unmarshal([]byte(readRaw(t, c)), &env))
	return env
}

// readHello reads the hello message and returns the client's topics.
func readHello(t *testing.T, c *websocket.Conn) []string {
	t.Helper()
	env := read(t, c)
	require.Equal(t, "hello", env.Type)
	var hello struct {
		ID     string   `json:"id"`
		Topics []string `json:"topics"`
	}
	require.NoError(t, json.Unmarshal(env.Data, &hello))
	require.NotEmpty(t, hello.ID)
	return hello.Topics
}

func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	require.NoError(t, c.Write(testCtx(t), websocket.MessageText, []byte(msg)))
}

type seqData struct {
	Seq int    `json:"seq"`
	Pad string `json:"pad,omitempty"`
}

func seqOf(t *testing.T, env envelope) int {
	t.Helper()
	var d seqData
	require.NoError(t, json.Unmarshal(env.Data, &d))
	return d.Seq
}

// waitDelivered waits for the hub to count n deliveries: a client can read
// a message a moment before the hub counts it as written.
func waitDelivered(t *testing.T, hub *broadcast.Hub, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return hub.Stats().Delivered >= uint64(n) }, 5*time.Second, time.Millisecond)
}

func TestNewHubDefaults(t *testing.T) {
	hub, err := broadcast.NewHub(broadcast.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = hub.Close() })
	cfg := hub.Config()
	assert.Equal(t, broadcast.DefaultQueueSize, cfg.QueueSize)
	assert.Equal(t, broadcast.DefaultMaxLag, cfg.MaxLag)
	assert.Equal(t, broadcast.DefaultWriteTimeout, cfg.WriteTimeout)
	assert.Equal(t, broadcast.DefaultPingInterval, cfg.PingInterval)
	assert.Equal(t, broadcast.DefaultPingTimeout, cfg.PingTimeout)
	assert.Equal(t, broadcast.DefaultCloseTimeout, cfg.CloseTimeout)
	assert.Equal(t, int64(broadcast.DefaultReadLimit), cfg.ReadLimit)
	assert.Equal(t, 0, cfg.MaxClients)
	assert.Equal(t, rdr.SystemClock, cfg.Clock)
	assert.Equal(t, "", cfg.Token)
}

func TestNewHubInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  broadcast.Config
		want string
	}{
		{"negative queue", broadcast.Config{QueueSize: -1},
			"broadcast: invalid config: QueueSize must not be negative, got -1"},
		{"negative timeouts", broadcast.Config{WriteTimeout: -time.Second, PingTimeout: -2 * time.Second, CloseTimeout: -time.Millisecond},
			"broadcast: invalid config: WriteTimeout must not be negative, got -1s; PingTimeout must not be negative, got -2s; CloseTimeout must not be negative, got -1ms"},
		{"negative limits", broadcast.Config{ReadLimit: -1, MaxClients: -3},
			"broadcast: invalid config: ReadLimit must not be negative, got -1; MaxClients must not be negative, got -3"},
		{"token with space", broadcast.Config{Token: "a b"},
			"broadcast: invalid config: Token must not contain spaces or line breaks"},
		{"bad origin pattern", broadcast.Config{OriginPatterns: []string{"ok.example", "[", ""}},
			`broadcast: invalid config: OriginPatterns[1] "[" is not a valid pattern: syntax error in pattern; OriginPatterns[2] is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, err := broadcast.NewHub(tt.cfg)
			assert.Nil(t, hub)
			require.ErrorIs(t, err, broadcast.ErrInvalidConfig)
			assert.EqualError(t, err, tt.want)
		})
	}
}

func TestHello(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  string
	}{
		{"all topics by default", "",
			`{"type":"hello","ts":"2026-11-26T10:00:00.000Z","data":{"id":"1","topics":["metrics","alerts","events"]}}`},
		{"chosen topics in canonical order", "?topics=alerts,+metrics",
			`{"type":"hello","ts":"2026-11-26T10:00:00.000Z","data":{"id":"1","topics":["metrics","alerts"]}}`},
		{"empty topics", "?topics=",
			`{"type":"hello","ts":"2026-11-26T10:00:00.000Z","data":{"id":"1","topics":[]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, broadcast.Config{})
			c := e.dial(t, tt.query, nil)
			assert.Equal(t, tt.want, readRaw(t, c))
		})
	}
}

func TestUnknownTopicParam(t *testing.T) {
	e := newEnv(t, broadcast.Config{})
	resp, err := http.Get(e.srv.URL + "?topics=metrics,bogus")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "unknown topic \"bogus\" (want metrics, alerts, events)\n", string(body))
	assert.Equal(t, uint64(1), e.hub.Stats().Rejected)
}

// TestFanoutInOrder: every client receives every message, in publish
// order, and each publish is counted once and delivered once per client.
func TestFanoutInOrder(t *testing.T) {
	const clients, messages = 20, 300
	e := newEnv(t, broadcast.Config{QueueSize: messages})
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = e.dial(t, "", nil)
		readHello(t, conns[i])
	}
	topics := []string{broadcast.TopicEvents, broadcast.TopicMetrics, broadcast.TopicAlerts}
	types := []string{"event", "metrics", "alert"}
	for i := range messages {
		require.NoError(t, e.hub.Publish(topics[i%3], seqData{Seq: i}))
	}

	var wg sync.WaitGroup
	for ci, c := range conns {
		wg.Go(func() {
			for i := range messages {
				env := read(t, c)
				if !assert.Equal(t, types[i%3], env.Type, "client %d message %d", ci, i) ||
					!assert.Equal(t, i, seqOf(t, env), "client %d", ci) {
					return
				}
				assert.Equal(t, "2026-11-26T10:00:00.000Z", env.TS)
				assert.Zero(t, env.Dropped)
			}
		})
	}
	wg.Wait()
	waitDelivered(t, e.hub, clients*messages)
	assert.Equal(t, broadcast.Stats{
		Clients: clients, Accepted: clients, Published: messages, Delivered: clients * messages,
	}, e.hub.Stats())
}

func TestPublishRawEnvelope(t *testing.T) {
	e := newEnv(t, broadcast.Config{})
	c := e.dial(t, "", nil)
	readHello(t, c)
	data := []byte(`{"eventType":"login_failed", "userId":"u-1"}`)
	require.NoError(t, e.hub.PublishRaw(broadcast.TopicEvents, data))
	copy(data, "XXXXXXXXXXXXX") // the hub must have copied it
	require.NoError(t, e.hub.Publish(broadcast.TopicAlerts, map[string]any{"rule": "brute_force", "count": 12}))
	assert.Equal(t, `{"type":"event","ts":"2026-11-26T10:00:00.000Z","data":{"eventType":"login_failed", "userId":"u-1"}}`, readRaw(t, c))
	assert.Equal(t, `{"type":"alert","ts":"2026-11-26T10:00:00.000Z","data":{"count":12,"rule":"brute_force"}}`, readRaw(t, c))
}

// appender writes its own JSON, as anomaly.Alert does.
type appender struct {
	json string
	err  error
}

func (a appender) AppendJSON(b []byte) ([]byte, error) {
	if a.err != nil {
		return b, a.err
	}
	return append(b, a.json...), nil
}

func (a appender) MarshalJSON() ([]byte, error) { panic("Publish must use AppendJSON") }

func TestPublishJSONAppender(t *testing.T) {
	e := newEnv(t, broadcast.Config{})
	c := e.dial(t, "", nil)
	readHello(t, c)
	require.NoError(t, e.hub.Publish(broadcast.TopicAlerts, appender{json: `{"id":"a1","events":[]}`}))
	assert.Equal(t, `{"type":"alert","ts":"2026-11-26T10:00:00.000Z","data":{"id":"a1","events":[]}}`, readRaw(t, c))

	err := e.hub.Publish(broadcast.TopicAlerts, appender{err: errors.New("invalid status 0")})
	require.ErrorIs(t, err, broadcast.ErrInvalidData)
	assert.EqualError(t, err, "broadcast: invalid data: invalid status 0")
	assert.Equal(t, uint64(1), e.hub.Stats().Published, "the refused one is not published")
}

func TestTopicFiltering(t *testing.T) {
	e := newEnv(t, broadcast.Config{})
	a := e.dial(t, "?topics=metrics", nil)
	b := e.dial(t, "?topics=alerts,events", nil)
	c := e.dial(t, "?topics=", nil)
	assert.Equal(t, []string{"metrics"}, readHello(t, a))
	assert.Equal(t, []string{"alerts", "events"}, readHello(t, b))
	assert.Equal(t, []string{}, readHello(t, c))

	send(t, c, `{"type":"subscribe","topics":["events","metrics"]}`)
	assert.Equal(t, `{"type":"subscribed","ts":"2026-11-26T10:00:00.000Z","data":{"topics":["metrics","events"]}}`, readRaw(t, c))
	send(t, c, `{"type":"unsubscribe","topics":["metrics"]}`)
	assert.Equal(t, `{"type":"subscribed","ts":"2026-11-26T10:00:00.000Z","data":{"topics":["events"]}}`, readRaw(t, c))

	publish := func(topic string, seq int) {
		require.NoError(t, e.hub.Publish(topic, seqData{Seq: seq}))
	}
	publish(broadcast.TopicMetrics, 1)
	publish(broadcast.TopicAlerts, 2)
	publish(broadcast.TopicEvents, 3)
	// End markers: a client that got a message it should not have would
	// see it before its markers.
	publish(broadcast.TopicMetrics, 100)
	publish(broadcast.TopicAlerts, 101)
	publish(broadcast.TopicEvents, 102)

	got := func(conn *websocket.Conn, n int) []string {
		var out []string
		for range n {
			env := read(t, conn)
			out = append(out, fmt.Sprintf("%s %d", env.Type, seqOf(t, env)))
		}
		return out
	}
	assert.Equal(t, []string{"metrics 1", "metrics 100"}, got(a, 2))
	assert.Equal(t, []string{"alert 2", "event 3", "alert 101", "event 102"}, got(b, 4))
	assert.Equal(t, []string{"event 3", "event 102"}, got(c, 2))
	waitDelivered(t, e.hub, 8)
	assert.Equal(t, uint64(6), e.hub.Stats().Published)
	assert.Equal(t, uint64(8), e.hub.Stats().Delivered)
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, broadcast.Config{})
	c := e.dial(t, "?topics=alerts", nil)
	readHello(t, c)
	tests := []struct {
		msg  string
		want string
	}{
		{`{"type":"subscribe","topics":["metrics","bogus"]}`, `unknown topic \"bogus\" (want metrics, alerts, events)`},
		{`{"type":"dance"}`, `unknown request type \"dance\" (want \"subscribe\" or \"unsubscribe\")`},
		{`[1,2]`, `request is not a JSON object: json: cannot unmarshal array into Go value of type broadcast.request`},
	}
	for _, tt := range tests {
		send(t, c, tt.msg)
		assert.Equal(t, `{"type":"error","ts":"2026-11-26T10:00:00.000Z","data":{"error":"`+tt.want+`"}}`, readRaw(t, c), tt.msg)
	}
	require.NoError(t, c.Write(testCtx(t), websocket.MessageBinary, []byte(`{"type":"subscribe"}`)))
	assert.Equal(t, `{"type":"error","ts":"2026-11-26T10:00:00.000Z","data":{"error":"requests must be JSON text messages"}}`, readRaw(t, c))

	// Nothing changed: the client still gets alerts only.
	require.NoError(t, e.hub.Publish(broadcast.TopicMetrics, seqData{Seq: 1}))
	require.NoError(t, e.hub.Publish(broadcast.TopicAlerts, seqData{Seq: 2}))
	env := read(t, c)
	assert.Equal(t, "alert", env.Type)
	assert.Equal(t, 2, seqOf(t, env))
}

func TestAuth(t *testing.T) {
	const token = "s3cret-token"
	header := func(v string) *websocket.DialOptions {
		return &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {v}}}
	}
	tests := []struct {
		name  string
		query string
		opts  *websocket.DialOptions
		want  int
	}{
		{"missing", "", nil, http.StatusUnauthorized},
		{"wrong header", "", header("Bearer s3cret-tokeN"), http.StatusUnauthorized},
		{"prefix of the token", "", header("Bearer s3cret"), http.StatusUnauthorized},
		{"wrong scheme", "", header("Basic " + token), http.StatusUnauthorized},
		{"wrong query", "?access_token=nope", nil, http.StatusUnauthorized},
		{"header wins over query", "?access_token=" + token, header("Bearer nope"), http.StatusUnauthorized},
		{"header", "", header("Bearer " + token), http.StatusSwitchingProtocols},
		{"header, lower-case scheme", "", header("bearer " + token), http.StatusSwitchingProtocols},
		{"query", "?access_token=" + token, nil, http.StatusSwitchingProtocols},
	}
	e := newEnv(t, broadcast.Config{Token: token})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr := e.dialStatus(t, tt.query, tt.opts)
			assert.Equal(t, tt.want, status)
			if tt.want == http.StatusUnauthorized {
				assert.Equal(t, `Bearer realm="broadcast"`, hdr.Get("WWW-Authenticate"))
			}
		})
	}
	// The hub counts a connection once its handler is done with the
	// handshake, which can be just after the client saw the response.
	require.Eventually(t, func() bool {
		st := e.hub.Stats()
		return st.Accepted+st.Rejected == 9
	}, 5*time.Second, time.Millisecond)
	assert.Equal(t, uint64(6), e.hub.Stats().Rejected)
	assert.Equal(t, uint64(3), e.hub.Stats().Accepted)

	t.Run("authorized client receives data", func(t *testing.T) {
		c := e.dial(t, "?topics=alerts&access_token="+token, nil)
		readHello(t, c)
		require.NoError(t, e.hub.Publish(broadcast.TopicAlerts, seqData{Seq: 7}))
		assert.Equal(t, 7, seqOf(t, read(t, c)))
	})
}

func TestOrigin(t *testing.T) {
	e := newEnv(t, broadcast.Config{OriginPatterns: []string{"dash.example.com", "localhost:*"}})
	origin := func(v string) *websocket.DialOptions {
		return &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {v}}}
	}
	tests := []struct {
		name string
		opts *websocket.DialOptions
		want int
	}{
		{"foreign origin", origin("https://evil.example.com"), http.StatusForbidden},
		{"look-alike origin", origin("https://dash.example.com.evil.net"), http.StatusForbidden},
		{"allowed origin", origin("https://dash.example.com"), http.StatusSwitchingProtocols},
		{"allowed pattern", origin("http://localhost:5173"), http.StatusSwitchingProtocols},
		{"same host", origin(e.srv.URL), http.StatusSwitchingProtocols},
		{"no origin (not a browser)", nil, http.StatusSwitchingProtocols},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _ := e.dialStatus(t, "", tt.opts)
			assert.Equal(t, tt.want, status)
		})
	}
	// Accept writes the 403 before the hub counts it.
	require.Eventually(t, func() bool {
		st := e.hub.Stats()
		return st.Accepted+st.Rejected == 6
	}, 5*time.Second, time.Millisecond)
	assert.Equal(t, uint64(2), e.hub.Stats().Rejected)
	assert.Equal(t, uint64(4), e.hub.Stats().Accepted)
}

func TestMaxClients(t *testing.T) {
	e := newEnv(t, broadcast.Config{MaxClients: 1})
	c := e.dial(t, "", nil)
	readHello(t, c)
	status, _ := e.dialStatus(t, "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	require.Eventually(t, func() bool { return e.hub.Stats().Clients == 0 }, 5*time.Second, 5*time.Millisecond)
	c2 := e.dial(t, "", nil)
	readHello(t, c2)
}

func TestReadLimit(t *testing.T) {
	e := newEnv(t, broadcast.Config{ReadLimit: 64})
	c := e.dial(t, "", nil)
	readHello(t, c)
	send(t, c, `{"type":"subscribe","topics":["metrics"]}`) // 42 bytes: fine
	assert.Equal(t, "subscribed", read(t, c).Type)
	send(t, c, `{"type":"subscribe","topics":["metrics","alerts","events","metrics"]}`) // 71 bytes
	_, _, err := c.Read(testCtx(t))
	assert.Equal(t, websocket.StatusMessageTooBig, websocket.CloseStatus(err), "%v", err)
	require.Eventually(t, func() bool { return e.hub.Stats().Clients == 0 }, 5*time.Second, 5*time.Millisecond)
}

func TestPublishErrors(t *testing.T) {
	e := newEnv(t, broadcast.Config{})
	err := e.hub.Publish("alert", seqData{})
	require.ErrorIs(t, err, broadcast.ErrUnknownTopic)
	assert.EqualError(t, err, `broadcast: unknown topic "alert" (want metrics, alerts, events)`)

	err = e.hub.PublishRaw(broadcast.TopicEvents, []byte(`{"a":`))
	require.ErrorIs(t, err, broadcast.ErrInvalidData)
	assert.EqualError(t, err, `broadcast: invalid data: data for topic "events" is not valid JSON`)

	err = e.hub.Publish(broadcast.TopicEvents, map[string]any{"f": func() {}})
	require.ErrorIs(t, err, broadcast.ErrInvalidData)
	assert.EqualError(t, err, "broadcast: invalid data: json: unsupported type: func()")

	assert.Equal(t, uint64(0), e.hub.Stats().Published)
}

// TestClose: clients get what was queued, then a going-away close frame;
// Publish then fails with ErrClosed and new connections get 503.
func TestClose(t *testing.T) {
	e := newEnv(t, broadcast.Config{})
	const clients, messages = 5, 50
	var wg sync.WaitGroup
	got := make([][]int, clients)
	closeErrs := make([]error, clients)
	for i := range clients {
		c := e.dial(t, "?topics=events", nil)
		readHello(t, c)
		wg.Go(func() {
			for {
				_, b, err := c.Read(context.Background())
				if err != nil {
					closeErrs[i] = err
					return
				}
				var env envelope
				if assert.NoError(t, json.Unmarshal(b, &env)) {
					got[i] = append(got[i], seqOf(t, env))
				}
			}
		})
	}
	want := make([]int, messages)
	for i := range messages {
		want[i] = i
		require.NoError(t, e.hub.Publish(broadcast.TopicEvents, seqData{Seq: i}))
	}
	require.NoError(t, e.hub.Close())
	wg.Wait()
	for i := range clients {
		assert.Equal(t, want, got[i], "client %d", i)
		assert.Equal(t, websocket.StatusGoingAway, websocket.CloseStatus(closeErrs[i]), "client %d: %v", i, closeErrs[i])
	}
	assert.Equal(t, 0, e.hub.Stats().Clients)

	assert.ErrorIs(t, e.hub.Publish(broadcast.TopicEvents, seqData{}), broadcast.ErrClosed)
	assert.ErrorIs(t, e.hub.PublishRaw(broadcast.TopicMetrics, []byte(`{}`)), broadcast.ErrClosed)
	assert.NoError(t, e.hub.Close(), "second Close")
	status, _ := e.dialStatus(t, "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, uint64(messages), e.hub.Stats().Published)
}

// TestCloseStuckClient: Close is bounded by CloseTimeout even when a client
// reads nothing and so never answers the close handshake.
func TestCloseStuckClient(t *testing.T) {
	e := newEnv(t, broadcast.Config{CloseTimeout: 200 * time.Millisecond})
	c := e.dial(t, "", nil)
	_ = c
	require.Eventually(t, func() bool { return e.hub.Stats().Clients == 1 }, 5*time.Second, 5*time.Millisecond)
	start := time.Now()
	require.NoError(t, e.hub.Close())
	assert.Less(t, time.Since(start), 2*time.Second)
}

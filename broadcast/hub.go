package broadcast

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The topics a client can subscribe to and [Hub.Publish] can publish on.
const (
	// TopicMetrics carries window results (envelope type "metrics"). A
	// client that falls behind gets only the newest one: metrics are
	// coalesced, never queued up.
	TopicMetrics = "metrics"
	// TopicAlerts carries alerts (envelope type "alert"). Alerts are never
	// dropped: a client whose queue cannot take one is disconnected.
	TopicAlerts = "alerts"
	// TopicEvents carries single events (envelope type "event"). A client
	// that falls behind loses events and is told how many.
	TopicEvents = "events"
)

// topic is a topic's index; the order is the one hello and subscribed
// messages list topics in.
type topic uint8

const (
	topicMetrics topic = iota
	topicAlerts
	topicEvents
	numTopics
	topicControl = numTopics // hello, subscribed and error replies
)

var (
	topicNames = [numTopics]string{TopicMetrics, TopicAlerts, TopicEvents}
	typeNames  = [numTopics]string{"metrics", "alert", "event"}
)

const allTopics = 1<<numTopics - 1

func parseTopic(name string) (topic, bool) {
	for t, n := range topicNames {
		if n == name {
			return topic(t), true
		}
	}
	return 0, false
}

// topicList returns the names of the topics in mask, in topic order.
func topicList(mask uint8) []string {
	names := make([]string, 0, numTopics)
	for t := range numTopics {
		if mask&(1<<t) != 0 {
			names = append(names, topicNames[t])
		}
	}
	return names
}

// message is one encoded envelope, shared by every client it goes to.
type message struct {
	topic topic
	b     []byte
}

// Stats are a hub's counters, for monitoring. Counts are since [NewHub].
type Stats struct {
	// Clients is the number of clients connected now.
	Clients int
	// Accepted counts connections upgraded to WebSocket.
	Accepted uint64
	// Rejected counts requests refused before or during the upgrade: bad
	// token (401), bad topics (400), origin not allowed (403), not a
	// WebSocket handshake, too many clients or hub closed (503).
	Rejected uint64
	// Published counts successful calls of Publish and PublishRaw.
	Published uint64
	// Delivered counts published messages written to a client (one
	// publish to 10 clients is 10 deliveries). Hello, subscribed and error
	// replies are not counted.
	Delivered uint64
	// Dropped counts event messages dropped because a client's queue was
	// full.
	Dropped uint64
	// Coalesced counts metrics messages replaced by a newer one before a
	// lagging client could take them.
	Coalesced uint64
	// DisconnectedSlow counts clients disconnected for being too slow or
	// unresponsive: lag longer than MaxLag, an alert that did not fit in
	// the queue, a write longer than WriteTimeout, or an unanswered ping.
	DisconnectedSlow uint64
}

// Hub fans out published messages to the WebSocket clients it accepts. It
// is an [http.Handler]: mount it on the route clients connect to. A Hub is
// safe for concurrent use; any number of goroutines may publish at once.
type Hub struct {
	cfg    Config
	accept websocket.AcceptOptions

	// ctx is cancelled by Close; it interrupts pings waiting for a pong.
	ctx    context.Context
	cancel context.CancelFunc

	// subs holds, per topic, the clients subscribed to it. Each slice is
	// immutable: a rebuild swaps in a new one (under mu), so Publish reads
	// without locking. dirty says subs are out of date (set under mu).
	subs  [numTopics]atomic.Pointer[[]*client]
	dirty atomic.Bool

	mu      sync.Mutex // guards the fields below, rebuilds of subs and clients' topics
	clients map[*client]struct{}
	conns   int            // handlers running, for MaxClients
	wg      sync.WaitGroup // one per running ServeHTTP

	closed atomic.Bool // set once, under mu; read anywhere
	nextID atomic.Uint64

	accepted, rejected, published, delivered, dropped, coalesced, slow atomic.Uint64
}

// NewHub returns a Hub configured by cfg, with defaults filled in for zero
// fields. It starts no goroutines: each client's goroutines start when it
// connects and end when it disconnects or the hub is closed.
func NewHub(cfg Config) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	cfg.OriginPatterns = append([]string(nil), cfg.OriginPatterns...)
	h := &Hub{
		cfg:     cfg,
		accept:  websocket.AcceptOptions{OriginPatterns: cfg.OriginPatterns},
		clients: make(map[*client]struct{}),
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	for t := range h.subs {
		h.subs[t].Store(new([]*client))
	}
	return h, nil
}

// Config returns the hub's configuration, defaults filled in.
func (h *Hub) Config() Config {
	cfg := h.cfg
	cfg.OriginPatterns = append([]string(nil), cfg.OriginPatterns...)
	return cfg
}

// Publish encodes data as JSON once, wraps it in an envelope
// {"type":…,"ts":…,"data":…} and queues it for every client subscribed to
// topic. It never waits for a client: a client that is behind gets the
// topic's overflow policy instead (see the package documentation).
//
// Data that is a [JSONAppender] (such as anomaly.Alert) writes its own
// JSON, straight into the envelope; anything else goes through
// json.Marshal.
//
// Publish returns an error matching [ErrUnknownTopic] for a topic other
// than TopicMetrics, TopicAlerts and TopicEvents, one matching
// [ErrInvalidData] when data cannot be encoded, and [ErrClosed] after
// Close.
func (h *Hub) Publish(topic string, data any) error {
	t, err := h.checkPublish(topic)
	if err != nil {
		return err
	}
	if ja, ok := data.(JSONAppender); ok {
		now := h.cfg.Clock.Now()
		b, err := ja.AppendJSON(h.envelopeHead(typeNames[t], now, 1024))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidData, err)
		}
		h.publishEnvelope(t, now, append(b, '}'))
		return nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidData, err)
	}
	h.publish(t, b)
	return nil
}

// JSONAppender is data that writes its own JSON: AppendJSON appends one
// valid JSON value to b and returns the extended buffer, or b unchanged
// with an error. [Hub.Publish] trusts it and does not check the value.
//
// Publish prefers AppendJSON to MarshalJSON, and a struct that embeds a
// JSONAppender inherits its AppendJSON: a type that embeds one (an
// anomaly.Alert, say) and writes more fields in its own MarshalJSON must
// define AppendJSON too, or the live view gets the embedded value's JSON
// alone.
type JSONAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// PublishRaw is Publish for data that is already JSON, for callers that
// encode once and publish to several places. data must be one valid JSON
// value (checked; an error matching [ErrInvalidData] otherwise); the hub
// copies it, so the caller may reuse data when PublishRaw returns.
func (h *Hub) PublishRaw(topic string, data []byte) error {
	t, err := h.checkPublish(topic)
	if err != nil {
		return err
	}
	if !json.Valid(data) {
		return fmt.Errorf("%w: data for topic %q is not valid JSON", ErrInvalidData, topic)
	}
	h.publish(t, data)
	return nil
}

func (h *Hub) checkPublish(name string) (topic, error) {
	t, ok := parseTopic(name)
	if !ok {
		return 0, fmt.Errorf("%w %q (want %s)", ErrUnknownTopic, name, strings.Join(topicNames[:], ", "))
	}
	if h.closed.Load() {
		return 0, ErrClosed
	}
	return t, nil
}

func (h *Hub) publish(t topic, data []byte) {
	now := h.cfg.Clock.Now()
	h.publishEnvelope(t, now, h.envelope(typeNames[t], now, data))
}

func (h *Hub) publishEnvelope(t topic, now time.Time, b []byte) {
	m := &message{topic: t, b: b}
	h.published.Add(1)
	for _, c := range h.subscribers(t) {
		c.enqueue(m, now)
	}
}

// tsLayout is RFC 3339 with milliseconds, always in UTC.
const tsLayout = "2006-01-02T15:04:05.000Z07:00"

// envelope returns {"type":typ,"ts":now,"data":data}.
func (h *Hub) envelope(typ string, now time.Time, data []byte) []byte {
	return append(append(h.envelopeHead(typ, now, len(data)), data...), '}')
}

// envelopeHead returns {"type":typ,"ts":now,"data": with room for size
// more bytes.
func (h *Hub) envelopeHead(typ string, now time.Time, size int) []byte {
	b := make([]byte, 0, len(`{"type":"","ts":"2006-01-02T15:04:05.000Z","data":}`)+len(typ)+size)
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","ts":"`...)
	b = now.UTC().AppendFormat(b, tsLayout)
	return append(b, `","data":`...)
}

// control encodes a hello, subscribed or error reply.
func (h *Hub) control(typ string, data any) *message {
	b, err := json.Marshal(data)
	if err != nil {
		panic("broadcast: encoding a control message: " + err.Error()) // our own types; cannot happen
	}
	return &message{topic: topicControl, b: h.envelope(typ, h.cfg.Clock.Now(), b)}
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	n := len(h.clients)
	h.mu.Unlock()
	return Stats{
		Clients:          n,
		Accepted:         h.accepted.Load(),
		Rejected:         h.rejected.Load(),
		Published:        h.published.Load(),
		Delivered:        h.delivered.Load(),
		Dropped:          h.dropped.Load(),
		Coalesced:        h.coalesced.Load(),
		DisconnectedSlow: h.slow.Load(),
	}
}

// Close disconnects every client — each gets its queued messages (within
// CloseTimeout) and then a close frame with status 1001 (going away) — and
// waits for all of the hub's goroutines to end. After Close, Publish
// returns ErrClosed and new connections get 503. Close is safe to call more
// than once; it always returns nil.
func (h *Hub) Close() error {
	h.mu.Lock()
	var clients []*client
	if !h.closed.Load() {
		h.closed.Store(true)
		h.cancel()
		for c := range h.clients {
			clients = append(clients, c)
		}
	}
	h.mu.Unlock()
	for _, c := range clients {
		c.stop(stateClosing)
	}
	h.wg.Wait()
	return nil
}

// ServeHTTP checks the request (token, topics, origin), upgrades it to a
// WebSocket and serves the client until it disconnects or the hub is
// closed.
//
// The query parameter topics (e.g. ?topics=metrics,alerts) chooses the
// client's topics; without it the client gets all of them, with an empty
// value none (until it subscribes). An unknown topic gets 400 Bad Request.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Token != "" && !h.authorized(r) {
		h.rejected.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer realm="broadcast"`)
		http.Error(w, "missing or invalid bearer token", http.StatusUnauthorized)
		return
	}
	topics := uint8(allTopics)
	if q := r.URL.Query(); q.Has("topics") {
		var err error
		if topics, err = parseTopicsParam(q.Get("topics")); err != nil {
			h.rejected.Add(1)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}

	if !h.reserve() {
		h.rejected.Add(1)
		http.Error(w, "broadcast: hub closed or at MaxClients", http.StatusServiceUnavailable)
		return
	}
	defer h.release()

	rec := &hijackRecorder{ResponseWriter: w}
	conn, err := websocket.Accept(rec, r, &h.accept)
	if err != nil {
		h.rejected.Add(1) // Accept has written the response
		return
	}
	h.accepted.Add(1)
	conn.SetReadLimit(h.cfg.ReadLimit)
	c := &client{
		hub:      h,
		id:       strconv.FormatUint(h.nextID.Add(1), 10),
		conn:     conn,
		netConn:  rec.conn,
		topics:   topics,
		wake:     make(chan struct{}, 1),
		readDone: make(chan struct{}),
	}
	c.serve()
}

// authorized reports whether r carries the hub's token: in the
// Authorization header if there is one, else in the access_token query
// parameter.
func (h *Hub) authorized(r *http.Request) bool {
	var got string
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, tok, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return false
		}
		got = strings.TrimSpace(tok)
	} else {
		got = r.URL.Query().Get("access_token")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(h.cfg.Token)) == 1
}

func parseTopicsParam(s string) (uint8, error) {
	var mask uint8
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		t, ok := parseTopic(name)
		if !ok {
			return 0, fmt.Errorf("unknown topic %q (want %s)", name, strings.Join(topicNames[:], ", "))
		}
		mask |= 1 << t
	}
	return mask, nil
}

// reserve counts a new handler in, unless the hub is closed or full.
func (h *Hub) reserve() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed.Load() || (h.cfg.MaxClients > 0 && h.conns >= h.cfg.MaxClients) {
		return false
	}
	h.conns++
	h.wg.Add(1)
	return true
}

func (h *Hub) release() {
	h.mu.Lock()
	h.conns--
	h.mu.Unlock()
	h.wg.Done()
}

// register adds c to the hub and its topics. It returns false if the hub
// is closing. The caller holds c.mu, so that nothing is queued for c
// before its hello.
func (h *Hub) register(c *client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed.Load() {
		return false
	}
	h.clients[c] = struct{}{}
	h.dirty.Store(true)
	return true
}

func (h *Hub) unregister(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	h.dirty.Store(true)
}

// subscribers returns the clients subscribed to t, first rebuilding the
// per-topic lists if clients came, went or changed topics since the last
// publish. Rebuilding here rather than on every change keeps a storm of
// (re)connections linear instead of quadratic in the number of clients.
func (h *Hub) subscribers(t topic) []*client {
	if h.dirty.Load() {
		h.mu.Lock()
		if h.dirty.Load() {
			var lists [numTopics][]*client
			for c := range h.clients {
				for t := range numTopics {
					if c.topics&(1<<t) != 0 {
						lists[t] = append(lists[t], c)
					}
				}
			}
			for t := range lists {
				h.subs[t].Store(&lists[t])
			}
			h.dirty.Store(false)
		}
		h.mu.Unlock()
	}
	return *h.subs[t].Load()
}

// hijackRecorder keeps the net.Conn that websocket.Accept hijacks, so the
// hub can set write deadlines on it and cut it when a client is too slow.
type hijackRecorder struct {
	http.ResponseWriter
	conn net.Conn
}

func (w *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	w.conn = conn
	return conn, brw, err
}

func (w *hijackRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

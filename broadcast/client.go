package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// clientState orders how a client's connection ends; a later state wins.
type clientState uint8

const (
	stateOpen    clientState = iota
	stateClosing             // hub closing: write what is queued, then the close handshake
	stateDone                // the reader ended: the peer left or the connection broke
	stateDead                // cut by the hub for being slow; nothing more is written
)

// client is one WebSocket connection. Two goroutines serve it: the
// ServeHTTP goroutine writes (writeLoop) and owns the connection; readLoop
// reads the client's requests and answers pings and close frames.
type client struct {
	hub      *Hub
	id       string
	conn     *websocket.Conn
	netConn  net.Conn      // the hijacked connection under conn
	wake     chan struct{} // capacity 1: tells writeLoop to look at the queue
	readDone chan struct{} // closed when readLoop returns

	mu       sync.Mutex
	topics   uint8 // bit per topic; changed under both mu and hub.mu
	state    clientState
	q        queue
	pending  *message // the newest metrics message that did not fit in q
	dropped  uint64   // events dropped for this client so far
	reported uint64   // the dropped count last sent to the client
	lagSince time.Time
	guard    *time.Timer // cuts the connection CloseTimeout after the hub starts closing
}

type helloData struct {
	ID     string   `json:"id"`
	Topics []string `json:"topics"`
}

type subscribedData struct {
	Topics []string `json:"topics"`
}

type errorData struct {
	Error string `json:"error"`
}

// request is what a client may send.
type request struct {
	Type   string   `json:"type"`
	Topics []string `json:"topics"`
}

func (c *client) serve() {
	defer func() {
		c.mu.Lock()
		if c.guard != nil {
			c.guard.Stop()
		}
		c.mu.Unlock()
	}()
	h := c.hub
	hello := h.control("hello", helloData{ID: c.id, Topics: topicList(c.topics)})
	c.mu.Lock()
	registered := h.register(c)
	if registered {
		c.pushLocked(hello) // first in the queue: nothing can be queued before it
	}
	c.mu.Unlock()
	if !registered { // the hub closed during the handshake
		c.closeGracefully()
		return
	}

	go c.readLoop()
	st := c.writeLoop()
	h.unregister(c)
	if st == stateClosing {
		c.closeGracefully()
	} else {
		_ = c.conn.CloseNow()
	}
	<-c.readDone
}

// closeGracefully sends a close frame (1001, going away) and waits for the
// client's answer, for at most CloseTimeout.
func (c *client) closeGracefully() {
	c.mu.Lock()
	c.armGuardLocked()
	c.mu.Unlock()
	_ = c.conn.Close(websocket.StatusGoingAway, "server shutting down")
}

func (c *client) armGuardLocked() {
	if c.guard == nil {
		c.guard = time.AfterFunc(c.hub.cfg.CloseTimeout, func() { _ = c.netConn.Close() })
	}
}

// writeLoop writes queued messages until the client must go, and returns
// why.
func (c *client) writeLoop() clientState {
	h := c.hub
	var ping <-chan time.Time
	if h.cfg.PingInterval > 0 {
		t := time.NewTicker(h.cfg.PingInterval)
		defer t.Stop()
		ping = t.C
	}
	deadline := false
	for {
		c.mu.Lock()
		m, dropped, st := c.nextLocked()
		c.mu.Unlock()
		if m == nil {
			if st != stateOpen {
				return st
			}
			if deadline {
				// Clear it, or a pong the reader writes later would fail.
				_ = c.netConn.SetWriteDeadline(time.Time{})
				deadline = false
			}
			select {
			case <-c.wake:
			case <-ping:
				if !c.ping() {
					return c.fail(errPingTimeout)
				}
			}
			continue
		}
		// A deadline on the connection, not a ctx per write: cheaper, and
		// it needs no goroutine or timer per message.
		_ = c.netConn.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
		deadline = true
		if err := c.write(m, dropped); err != nil {
			return c.fail(err)
		}
		if m.topic != topicControl {
			h.delivered.Add(1)
		}
	}
}

var errPingTimeout = errors.New("broadcast: no pong")

// fail ends the client after a failed write or ping. A timeout counts as
// too slow; anything else means the connection is gone.
func (c *client) fail(err error) clientState {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.state != stateOpen:
		// Closing, or already cut: that is why the write failed.
	case c.hub.closed.Load():
		c.state = stateClosing
	case errors.Is(err, errPingTimeout) || errors.Is(err, os.ErrDeadlineExceeded):
		c.killLocked()
	default:
		c.state = stateDone
	}
	if c.state == stateClosing {
		return stateDone // the connection is broken: no handshake to do
	}
	return c.state
}

func (c *client) ping() bool {
	ctx, cancel := context.WithTimeout(c.hub.ctx, c.hub.cfg.PingTimeout)
	defer cancel()
	return c.conn.Ping(ctx) == nil
}

// write writes m, with a "dropped" field added when dropped > 0.
func (c *client) write(m *message, dropped uint64) error {
	b := m.b
	if dropped > 0 {
		b = make([]byte, 0, len(m.b)+len(`,"dropped":18446744073709551615`))
		b = append(b, m.b[:len(m.b)-1]...) // all but the closing brace
		b = append(b, `,"dropped":`...)
		b = strconv.AppendUint(b, dropped, 10)
		b = append(b, '}')
	}
	// A ctx without Done: coder/websocket then arms no timer; the write
	// deadline set by writeLoop bounds the write instead.
	return c.conn.Write(context.Background(), websocket.MessageText, b)
}

// nextLocked returns the next message to write (nil if none), the dropped
// count to report with it (0 if unchanged), and the client's state.
func (c *client) nextLocked() (*message, uint64, clientState) {
	if c.state >= stateDone {
		return nil, 0, c.state
	}
	if c.state == stateClosing {
		c.armGuardLocked()
	}
	m := c.q.pop()
	if m == nil {
		m, c.pending = c.pending, nil
	}
	if m == nil {
		c.lagSince = time.Time{} // caught up
		return nil, 0, c.state
	}
	var d uint64
	if c.dropped != c.reported {
		d, c.reported = c.dropped, c.dropped
	}
	return m, d, c.state
}

// enqueue queues m for the client, or applies the topic's overflow policy
// if the queue is full. It never blocks on the network.
func (c *client) enqueue(m *message, now time.Time) {
	c.mu.Lock()
	c.enqueueLocked(m, now)
	c.mu.Unlock()
}

func (c *client) enqueueLocked(m *message, now time.Time) {
	if c.state != stateOpen || (m.topic != topicControl && c.topics&(1<<m.topic) == 0) {
		return // gone, or unsubscribed since the publisher listed it
	}
	h := c.hub
	if c.pending != nil {
		if m.topic == topicMetrics {
			c.pending = nil // m is newer
			h.coalesced.Add(1)
		} else if c.q.n < h.cfg.QueueSize {
			c.pushLocked(c.pending) // keep publish order
			c.pending = nil
		}
	}
	if c.q.n < h.cfg.QueueSize && c.pending == nil {
		c.pushLocked(m)
		return
	}
	if c.lagSince.IsZero() {
		c.lagSince = now
	}
	switch m.topic {
	case topicMetrics:
		c.pending = m
	case topicEvents:
		c.dropped++
		h.dropped.Add(1)
	default: // alerts and replies are never dropped silently
		c.killLocked()
		return
	}
	if h.cfg.MaxLag >= 0 && now.Sub(c.lagSince) >= h.cfg.MaxLag {
		c.killLocked()
	}
}

func (c *client) pushLocked(m *message) {
	if c.q.n == 0 {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	c.q.push(m, c.hub.cfg.QueueSize)
}

// killLocked cuts the connection of a client that is too slow. The client
// sees it end without a close frame (status 1006 in a browser): its
// socket is full, so a close frame would wait behind the backlog anyway.
func (c *client) killLocked() {
	if c.state >= stateDone {
		return
	}
	c.state = stateDead
	c.hub.slow.Add(1)
	c.q = queue{}
	c.pending = nil
	_ = c.netConn.Close()
	c.signal()
}

// stop moves the client to st (unless it is further along already) and
// wakes the writer.
func (c *client) stop(st clientState) {
	c.mu.Lock()
	if st > c.state {
		c.state = st
	}
	c.mu.Unlock()
	c.signal()
}

func (c *client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// readLoop reads subscribe and unsubscribe requests until the connection
// ends. Reading also answers the client's pings and close frame.
func (c *client) readLoop() {
	defer close(c.readDone)
	for {
		typ, b, err := c.conn.Read(context.Background())
		if err != nil {
			c.stop(stateDone)
			return
		}
		c.handle(typ, b)
	}
}

// handle applies one request and queues the reply: "subscribed" with the
// client's topics, or "error" saying what is wrong.
func (c *client) handle(typ websocket.MessageType, b []byte) {
	h := c.hub
	var req request
	var err error
	if typ != websocket.MessageText {
		err = errors.New("requests must be JSON text messages")
	} else if err = json.Unmarshal(b, &req); err != nil {
		err = fmt.Errorf("request is not a JSON object: %v", err)
	} else if req.Type != "subscribe" && req.Type != "unsubscribe" {
		err = fmt.Errorf(`unknown request type %q (want "subscribe" or "unsubscribe")`, req.Type)
	}
	var mask uint8
	for _, name := range req.Topics {
		if err != nil {
			break
		}
		t, ok := parseTopic(name)
		if !ok {
			err = fmt.Errorf("unknown topic %q (want %s)", name, strings.Join(topicNames[:], ", "))
		}
		mask |= 1 << t
	}
	if err != nil {
		reply := h.control("error", errorData{Error: err.Error()})
		c.enqueue(reply, h.cfg.Clock.Now())
		return
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	h.mu.Lock()
	topics := c.topics | mask
	if req.Type == "unsubscribe" {
		topics = c.topics &^ mask
	}
	c.topics = topics
	h.dirty.Store(true)
	h.mu.Unlock()
	// Queued under c.mu, so the reply comes before any message on a newly
	// subscribed topic.
	c.enqueueLocked(h.control("subscribed", subscribedData{Topics: topicList(topics)}), h.cfg.Clock.Now())
}

// queue is a FIFO ring of messages that grows on demand (an idle client
// holds no buffer) and gives its buffer back when it runs empty after a
// burst.
type queue struct {
	buf     []*message
	head, n int
}

// push appends m; limit caps how far the buffer grows (QueueSize).
func (q *queue) push(m *message, limit int) {
	if q.n == len(q.buf) {
		bigger := make([]*message, max(q.n+1, min(limit, max(4, 2*len(q.buf)))))
		for i := range q.n {
			bigger[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = bigger, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = m
	q.n++
}

func (q *queue) pop() *message {
	if q.n == 0 {
		return nil
	}
	m := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	if q.n == 0 && len(q.buf) > 16 {
		*q = queue{}
	}
	return m
}

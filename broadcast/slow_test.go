package broadcast_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/broadcast"
)

// pad makes messages big enough to fill a stalled client's socket buffers
// in a few hundred publishes.
var pad = strings.Repeat("x", 16<<10)

// paddedEvent is seqData{Seq: seq, Pad: pad} as JSON, built without the
// cost of encoding (which matters under -race).
func paddedEvent(seq int) []byte {
	return fmt.Appendf(nil, `{"seq":%d,"pad":"%s"}`, seq, pad)
}

// fillUntilDropping publishes padded events, starting at seq next, until
// the hub has dropped one (some client's queue is full and its writer is
// stuck on a full socket). after runs after each publish. It returns the
// next seq.
func fillUntilDropping(t *testing.T, hub *broadcast.Hub, next int, after func(seq int)) int {
	t.Helper()
	for ; next < 20000; next++ {
		require.NoError(t, hub.PublishRaw(broadcast.TopicEvents, paddedEvent(next)))
		if after != nil {
			after(next)
		}
		if hub.Stats().Dropped > 0 {
			return next + 1
		}
	}
	t.Fatal("no event was dropped after 20000 publishes")
	return 0
}

// readUntilError reads a cut-off client to the end and returns its
// envelopes and the error that ended them.
func readUntilError(t *testing.T, c *websocket.Conn) ([]envelope, error) {
	t.Helper()
	var got []envelope
	for {
		_, b, err := c.Read(testCtx(t))
		if err != nil {
			return got, err
		}
		var env envelope
		require.NoError(t, json.Unmarshal(b, &env))
		got = append(got, env)
	}
}

// TestStalledClient: a client that never reads does not hold up the
// others, which keep getting every message in order; it loses events,
// and once it has lagged for MaxLag it is disconnected.
func TestStalledClient(t *testing.T) {
	clock := newTestClock()
	e := newEnv(t, broadcast.Config{
		QueueSize: 8, MaxLag: time.Second, Clock: clock,
		WriteTimeout: time.Minute, PingInterval: -1,
	})
	stalled := e.dial(t, "?topics=events", nil)
	good := make([]*websocket.Conn, 3)
	for i := range good {
		good[i] = e.dial(t, "?topics=events", nil)
		readHello(t, good[i])
	}
	require.Eventually(t, func() bool { return e.hub.Stats().Clients == 4 }, 5*time.Second, time.Millisecond)

	// Each good client reads every message before the next publish, so
	// only the stalled one can fall behind.
	readGood := func(seq int) {
		// The whole envelope, exactly; compared as bytes, not decoded,
		// because decoding 16 KiB per message is slow under -race.
		ts := clock.Now().Format("2006-01-02T15:04:05.000Z07:00")
		want := `{"type":"event","ts":"` + ts + `","data":{"seq":` + strconv.Itoa(seq)
		for i, c := range good {
			msg := readRaw(t, c)
			require.True(t, strings.HasPrefix(msg, want+",") || msg == want+"}}", "client %d: want seq %d, got %.80s", i, seq, msg)
			require.True(t, strings.HasSuffix(msg, "}}"), "client %d: no dropped field", i)
		}
	}
	next := fillUntilDropping(t, e.hub, 0, readGood)
	// Lagging, but not for MaxLag yet: still connected.
	for range 5 {
		require.NoError(t, e.hub.Publish(broadcast.TopicEvents, seqData{Seq: next}))
		readGood(next)
		next++
	}
	st := e.hub.Stats()
	assert.Equal(t, uint64(6), st.Dropped, "the first drop and the 5 after it")
	assert.Equal(t, uint64(0), st.DisconnectedSlow)
	assert.Equal(t, 4, st.Clients)

	clock.Advance(time.Second)
	require.NoError(t, e.hub.Publish(broadcast.TopicEvents, seqData{Seq: next}))
	readGood(next)
	next++
	assert.Equal(t, uint64(1), e.hub.Stats().DisconnectedSlow, "disconnected by the publish after MaxLag")
	require.Eventually(t, func() bool { return e.hub.Stats().Clients == 3 }, 5*time.Second, time.Millisecond)
	for range 5 {
		require.NoError(t, e.hub.Publish(broadcast.TopicEvents, seqData{Seq: next}))
		readGood(next)
		next++
	}

	// The stalled client finds a gap-free prefix of the events in its
	// socket, then the end of the connection, without a close frame.
	got, err := readUntilError(t, stalled)
	require.NotEmpty(t, got)
	assert.Equal(t, "hello", got[0].Type)
	for i, env := range got[1:] {
		require.Equal(t, i, seqOf(t, env))
	}
	assert.Less(t, len(got)-1, next)
	assert.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err), "%v", err)

	waitDelivered(t, e.hub, 3*next+len(got)-1)
	st = e.hub.Stats()
	assert.Equal(t, uint64(next), st.Published)
	assert.Equal(t, uint64(3*next+len(got)-1), st.Delivered)
	assert.Equal(t, uint64(1), st.DisconnectedSlow)
}

// TestMetricsCoalescing: a client that is behind gets the newest metrics
// when it catches up, not every one; and the next envelope it gets after
// losing events tells it how many it lost.
func TestMetricsCoalescing(t *testing.T) {
	e := newEnv(t, broadcast.Config{QueueSize: 4, MaxLag: -1, WriteTimeout: time.Minute, PingInterval: -1})
	c := e.dial(t, "?topics=metrics,events", nil)
	require.Eventually(t, func() bool { return e.hub.Stats().Clients == 1 }, 5*time.Second, time.Millisecond)
	events := fillUntilDropping(t, e.hub, 0, nil)
	const metrics = 50
	for i := 1; i <= metrics; i++ {
		require.NoError(t, e.hub.Publish(broadcast.TopicMetrics, seqData{Seq: i}))
	}

	// Read up to the last metrics message: everything delivered comes
	// before it.
	assert.Equal(t, "hello", read(t, c).Type)
	var gotEvents, gotMetrics []int
	var droppedSeen []uint64
	for len(gotMetrics) == 0 || gotMetrics[len(gotMetrics)-1] != metrics {
		env := read(t, c)
		if env.Dropped > 0 {
			droppedSeen = append(droppedSeen, env.Dropped)
		}
		switch env.Type {
		case "event":
			require.Empty(t, gotMetrics, "an event after a metrics message")
			gotEvents = append(gotEvents, seqOf(t, env))
		case "metrics":
			gotMetrics = append(gotMetrics, seqOf(t, env))
		default:
			t.Fatalf("unexpected %q", env.Type)
		}
	}

	waitDelivered(t, e.hub, len(gotEvents)+len(gotMetrics))
	st := e.hub.Stats()
	assert.Equal(t, uint64(0), st.DisconnectedSlow)
	assert.Positive(t, st.Coalesced)
	assert.Equal(t, metrics, len(gotMetrics)+int(st.Coalesced), "every metrics message delivered or coalesced")
	assert.IsIncreasing(t, gotMetrics)
	assert.Equal(t, events, len(gotEvents)+int(st.Dropped), "every event delivered or dropped")
	assert.IsIncreasing(t, gotEvents)
	require.NotEmpty(t, droppedSeen)
	assert.IsIncreasing(t, droppedSeen)
	assert.Equal(t, st.Dropped, droppedSeen[len(droppedSeen)-1], "the client learns the total it lost")
	assert.Equal(t, uint64(len(gotEvents)+len(gotMetrics)), st.Delivered)
}

// TestAlertOverflowDisconnects: an alert is never dropped; a client whose
// queue cannot take it is disconnected at once.
func TestAlertOverflowDisconnects(t *testing.T) {
	e := newEnv(t, broadcast.Config{QueueSize: 4, MaxLag: -1, WriteTimeout: time.Minute, PingInterval: -1})
	c := e.dial(t, "?topics=alerts,events", nil)
	require.Eventually(t, func() bool { return e.hub.Stats().Clients == 1 }, 5*time.Second, time.Millisecond)
	events := fillUntilDropping(t, e.hub, 0, nil)
	assert.Equal(t, uint64(0), e.hub.Stats().DisconnectedSlow, "dropping events alone does not disconnect")

	// The client's writer may free a slot (into the socket's buffer)
	// between the last drop and the alert, which then fits: fill the queue
	// again and publish another alert, until one overflows (bounded).
	alerts := 0
	for attempt := 0; attempt < 100 && e.hub.Stats().DisconnectedSlow == 0; attempt++ {
		if attempt > 0 {
			dropped := e.hub.Stats().Dropped
			for e.hub.Stats().Dropped == dropped && events < 20000 {
				require.NoError(t, e.hub.PublishRaw(broadcast.TopicEvents, paddedEvent(events)))
				events++
			}
		}
		alerts++
		require.NoError(t, e.hub.Publish(broadcast.TopicAlerts, seqData{Seq: -alerts}))
	}
	assert.Equal(t, uint64(1), e.hub.Stats().DisconnectedSlow, "an alert that does not fit disconnects")
	require.Eventually(t, func() bool { return e.hub.Stats().Clients == 0 }, 5*time.Second, time.Millisecond)

	got, err := readUntilError(t, c)
	assert.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err), "%v", err)
	require.NotEmpty(t, got)
	assert.Equal(t, "hello", got[0].Type)
	last, delivered := -1, 0
	for _, env := range got[1:] {
		if env.Type == "alert" {
			delivered++
			require.NotEqual(t, -alerts, seqOf(t, env), "the alert that overflowed never arrives")
			continue
		}
		require.Equal(t, "event", env.Type)
		seq := seqOf(t, env)
		require.Greater(t, seq, last, "events arrive in order")
		last = seq
	}
	assert.Less(t, delivered, alerts)
	assert.Less(t, len(got)-1-delivered, events, "events were dropped")
}

// TestPingTimeout: a client that answers pings stays; one that does not is
// disconnected after PingTimeout.
func TestPingTimeout(t *testing.T) {
	e := newEnv(t, broadcast.Config{PingInterval: 20 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	alive := e.dial(t, "", nil)
	aliveErr := make(chan error, 1)
	go func() { // reads, so answers pings
		for {
			if _, _, err := alive.Read(context.Background()); err != nil {
				aliveErr <- err
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = alive.CloseNow()
		<-aliveErr
	})
	_ = e.dial(t, "", nil) // never reads, so never answers
	require.Eventually(t, func() bool { return e.hub.Stats().DisconnectedSlow == 1 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // several more pings
	st := e.hub.Stats()
	assert.Equal(t, 1, st.Clients)
	assert.Equal(t, uint64(1), st.DisconnectedSlow)
	select {
	case err := <-aliveErr:
		t.Fatalf("the answering client was disconnected: %v", err)
	default:
	}
}

package broadcast_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/broadcast"
)

// benchMetrics is about the size of a one-second window result.
type benchMetrics struct {
	WindowEnd     time.Time         `json:"windowEnd"`
	TotalEvents   int               `json:"totalEvents"`
	EventsPerSec  float64           `json:"eventsPerSecond"`
	ActiveUsers   int               `json:"activeUsers"`
	BySeverity    map[string]int    `json:"bySeverity"`
	TopEventTypes []map[string]any  `json:"topEventTypes"`
	ByType        map[string]int    `json:"byType"`
	Labels        map[string]string `json:"labels"`
}

var sampleMetrics = benchMetrics{
	WindowEnd: t0, TotalEvents: 1842, EventsPerSec: 1842, ActiveUsers: 97,
	BySeverity:    map[string]int{"low": 1200, "medium": 500, "high": 130, "critical": 12},
	TopEventTypes: []map[string]any{{"type": "login_failed", "count": 800}, {"type": "login", "count": 640}},
	ByType:        map[string]int{"login": 640, "login_failed": 800, "logout": 402},
	Labels:        map[string]string{"processor": "p-1"},
}

// BenchmarkPublish measures what Publish costs the publisher: encoding
// once, and queueing for each subscribed client (delivery happens on the
// clients' own goroutines).
func BenchmarkPublish(b *testing.B) {
	raw, err := json.Marshal(sampleMetrics)
	require.NoError(b, err)
	for _, clients := range []int{0, 100} {
		hub, err := broadcast.NewHub(broadcast.Config{})
		require.NoError(b, err)
		e := &env{hub: hub}
		if clients > 0 {
			e = benchEnv(b, hub)
			for range clients {
				e.readForever(b)
			}
			require.Eventually(b, func() bool { return hub.Stats().Clients == clients }, 10*time.Second, time.Millisecond)
		}
		b.Run(fmt.Sprintf("encode/clients=%d", clients), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := hub.Publish(broadcast.TopicMetrics, sampleMetrics); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("raw/clients=%d", clients), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := hub.PublishRaw(broadcast.TopicEvents, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		require.NoError(b, hub.Close())
		if e.srv != nil {
			e.srv.Close()
		}
	}
}

func benchEnv(b *testing.B, hub *broadcast.Hub) *env {
	e := &env{hub: hub}
	e.srv = httptest.NewServer(hub)
	e.wsURL = "ws" + e.srv.URL[len("http"):]
	return e
}

// readForever connects a client that reads and discards until the
// connection ends (the hub closing).
func (e *env) readForever(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, e.wsURL, nil)
	require.NoError(b, err)
	go func() {
		defer c.CloseNow()
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
}

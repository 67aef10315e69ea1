package broadcast_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/broadcast"
)

func ExampleNewHub() {
	hub, err := broadcast.NewHub(broadcast.Config{
		Token: "s3cret",
		// A fixed clock, so that the output below is the same every run.
		Clock: rdr.NewFakeClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(hub)
	defer srv.Close()

	// A dashboard connects and asks for metrics and alerts.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "?topics=metrics,alerts&access_token=s3cret"
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()

	_, hello, _ := c.Read(ctx) // once read, the client is subscribed
	fmt.Println(string(hello))

	_ = hub.Publish(broadcast.TopicEvents, map[string]string{"eventType": "login_failed"}) // not subscribed
	_ = hub.Publish(broadcast.TopicMetrics, map[string]int{"totalEvents": 1842, "activeUsers": 97})
	_, msg, _ := c.Read(ctx)
	fmt.Println(string(msg))

	_ = c.Close(websocket.StatusNormalClosure, "bye")
	_ = hub.Close() // waits for the hub's goroutines, so the counts are final
	fmt.Printf("%+v\n", hub.Stats())
	// Output:
	// {"type":"hello","ts":"2026-11-26T10:00:00.000Z","data":{"id":"1","topics":["metrics","alerts"]}}
	// {"type":"metrics","ts":"2026-11-26T10:00:00.000Z","data":{"activeUsers":97,"totalEvents":1842}}
	// {Clients:0 Accepted:1 Rejected:0 Published:2 Delivered:1 Dropped:0 Coalesced:0 DisconnectedSlow:0}
}

package sink_test

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sink"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func ExampleNewMemory() {
	store, err := sink.NewMemory(sink.MemoryConfig{})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	ctx := context.Background()
	for i, failed := range []uint64{3, 0, 5} {
		start := t0.Add(time.Duration(i) * 20 * time.Second)
		store.WriteWindow(ctx, sink.WindowResult{Start: start, End: start.Add(time.Second), Metrics: aggregate.Metrics{
			TotalEvents: 10 + failed, ByType: map[string]uint64{"login": 10, "login_failed": failed},
		}})
	}
	// Events per 30 seconds by event type, over the first minute.
	h, err := store.History(ctx, sink.Query{
		Metric: sink.MetricEvents, GroupBy: sink.ByEventType,
		Start: t0, Stop: t0.Add(time.Minute), Interval: 30 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	for _, s := range h.Series {
		fmt.Print(s.Key, ":")
		for _, p := range s.Points {
			fmt.Printf(" %s=%v", p.T.Format("15:04:05"), p.V)
		}
		fmt.Println()
	}
	// Output:
	// login: 10:00:00=20 10:00:30=10
	// login_failed: 10:00:00=3 10:00:30=5
}

func ExampleNewInflux() {
	// A stand-in for InfluxDB that prints what it is sent.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, _ := gzip.NewReader(r.Body)
		body, _ := io.ReadAll(zr)
		fmt.Printf("%s?%s\n%s", r.URL.Path, r.URL.RawQuery, body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	s, err := sink.NewInflux(sink.InfluxConfig{
		URL:    srv.URL,
		Token:  "rdr:rdr",     // 1.8: user:password; 2.x: an API token
		Bucket: "rdr/autogen", // 1.8: database/retention policy; 2.x: a bucket (and set Org)
		Writer: "proc-1",
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	w := sink.WindowResult{Start: t0, End: t0.Add(time.Second), Metrics: aggregate.Metrics{
		TotalEvents: 2, ActiveUsers: 1, ByType: map[string]uint64{"login_failed": 2},
	}}
	w.Metrics.BySeverity[rdr.SeverityHigh] = 2
	if err := s.WriteWindow(ctx, w); err != nil {
		panic(err)
	}
	if err := s.Flush(ctx); err != nil {
		panic(err)
	}
	fmt.Println(s.Close(), s.Stats().Written)
	// Output:
	// /api/v2/write?bucket=rdr%2Fautogen&org=&precision=ns
	// rdr_window,partition=~b64:,writer=proc-1 active_users=1i,low=0i,medium=0i,high=2i,critical=0i,total=2i,update=false 1795687201000000000
	// rdr_events,eventType=login_failed,partition=~b64:,writer=proc-1 count=2i 1795687201000000000
	// <nil> 2
}

func exampleAlert() anomaly.Alert {
	return anomaly.Alert{
		ID: "5f0e6c1d2a3b4c5d", Rule: "failed-login-burst", GroupBy: "userId", Key: "alice",
		Severity: rdr.SeverityMedium, Status: anomaly.StatusFiring, FirstSeen: t0, LastSeen: t0,
		Count: 1, Value: 5, Threshold: 5, Message: "5 failed logins in 1m",
	}
}

func ExampleNewPublisher() {
	pubsub := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 10}, watermill.NopLogger{})
	defer pubsub.Close()
	msgs, _ := pubsub.Subscribe(context.Background(), sink.DefaultAlertTopic)

	p, err := sink.NewPublisher(sink.PublisherConfig{Publisher: pubsub})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	if err := p.WriteAlert(context.Background(), exampleAlert()); err != nil {
		panic(err)
	}

	msg := <-msgs
	msg.Ack()
	fmt.Println(msg.UUID, msg.Metadata.Get(sink.MetadataRule), msg.Metadata.Get(sink.MetadataStatus))
	fmt.Println(strings.Contains(string(msg.Payload), `"key":"alice"`))
	// Output:
	// 5f0e6c1d2a3b4c5d-firing-1 failed-login-burst firing
	// true
}

func ExampleNewWebhook() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Println(r.Method, r.Header.Get("Idempotency-Key"), strings.Contains(string(body), `"rule":"failed-login-burst"`))
	}))
	defer srv.Close()

	hook, err := sink.NewWebhook(sink.WebhookConfig{URL: srv.URL, Timeout: 2 * time.Second})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	// WriteAlert only queues: it never waits for the receiver.
	if err := hook.WriteAlert(ctx, exampleAlert()); err != nil {
		panic(err)
	}
	hook.Close() // sends what is queued
	fmt.Printf("%+v\n", hook.Stats())
	// Output:
	// POST 5f0e6c1d2a3b4c5d-firing-1 true
	// {Delivered:1 Failed:0 Dropped:0 Retries:0 Queued:0}
}

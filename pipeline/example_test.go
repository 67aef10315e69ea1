package pipeline_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/pipeline"
	"github.com/rdr-go/rdr/sink"
)

// printSink is a sink that prints what it is given.
type printSink struct{}

func (printSink) WriteWindow(_ context.Context, w sink.WindowResult) error {
	fmt.Printf("window %s–%s: %d events, %d users, login_failed %d\n",
		w.Start.Format("15:04:05"), w.End.Format("15:04:05"), w.Metrics.TotalEvents, w.Metrics.ActiveUsers, w.Metrics.ByType["login_failed"])
	return nil
}

func (printSink) WriteAlert(_ context.Context, a anomaly.Alert) error {
	fmt.Printf("alert %s %s on %s\n", a.Rule, a.Status, a.Key)
	return nil
}

func (printSink) Close() error { return nil }

// A processor on an in-process Watermill Pub/Sub with the default rules:
// six failed logins of one user within seconds raise a failed-login-burst
// alert, and every one-second window reaches the sinks. In production the
// subscriber is pipeline.NewKafkaSubscriber and the sinks InfluxDB and the
// like.
func ExampleNew() {
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	pubsub := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	proc, err := pipeline.New(pipeline.Config{
		Subscriber: pubsub,
		Rules:      func() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil },
		Sinks:      []sink.Sink{printSink{}},
		Clock:      rdr.NewFakeClock(start.Add(time.Minute)),
	})
	if err != nil {
		panic(err)
	}
	done := make(chan error, 1)
	go func() { done <- proc.Run(context.Background()) }()
	<-proc.Running()

	var batch []string
	for i := range 6 {
		batch = append(batch, string(rdr.AppendJSON(nil, rdr.Event{
			Time: start.Add(time.Duration(i) * 300 * time.Millisecond), Type: "login_failed",
			UserID: "mallory", Severity: rdr.SeverityMedium,
		})))
	}
	batch = append(batch, string(rdr.AppendJSON(nil, rdr.Event{
		Time: start.Add(1500 * time.Millisecond), Type: "login_success", UserID: "alice", Severity: rdr.SeverityLow,
	})))
	// One message: a JSON array (NDJSON and single events work too).
	msg := message.NewMessage(watermill.NewUUID(), []byte("["+strings.Join(batch, ",")+"]"))
	if err := pubsub.Publish(pipeline.DefaultTopic, msg); err != nil {
		panic(err)
	}

	// Close fires the windows still open and flushes the sinks.
	if err := proc.Close(); err != nil {
		panic(err)
	}
	if err := <-done; err != nil {
		panic(err)
	}
	st := proc.Stats()
	fmt.Println("events", st.Events, "windows", st.Windows, "alerts", st.AlertsFired)
	// Output:
	// alert failed-login-burst firing on mallory
	// window 10:00:00–10:00:01: 4 events, 1 users, login_failed 4
	// window 10:00:01–10:00:02: 3 events, 2 users, login_failed 2
	// events 7 windows 2 alerts 1
}

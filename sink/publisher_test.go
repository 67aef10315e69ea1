package sink_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sink"
	"github.com/rdr-go/rdr/sink/sinktest"
)

// subscribeAlerts collects the alerts published on topic until cleanup.
func subscribeAlerts(t *testing.T, sub message.Subscriber, topic string) func(context.Context) ([]anomaly.Alert, error) {
	msgs, err := sub.Subscribe(context.Background(), topic)
	require.NoError(t, err)
	var (
		mu   sync.Mutex
		got  []anomaly.Alert
		errs []error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg := range msgs {
			var a anomaly.Alert
			err := json.Unmarshal(msg.Payload, &a)
			mu.Lock()
			got, errs = append(got, a), append(errs, err)
			mu.Unlock()
			msg.Ack()
		}
	}()
	t.Cleanup(func() { require.NoError(t, sub.Close()); <-done })
	return func(context.Context) ([]anomaly.Alert, error) {
		mu.Lock()
		defer mu.Unlock()
		return append([]anomaly.Alert(nil), got...), errors.Join(errs...)
	}
}

func TestPublisherConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Features{AlertsOnly: true}, func(t *testing.T) sinktest.Instance {
		// Publish returns once the subscriber has the message, as with a
		// synchronous Kafka publisher: alerts arrive in the order written.
		pubsub := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
		received := subscribeAlerts(t, pubsub, sink.DefaultAlertTopic)
		p, err := sink.NewPublisher(sink.PublisherConfig{Publisher: pubsub})
		require.NoError(t, err)
		return sinktest.Instance{Sink: p, Received: received}
	})
}

func TestPublisherMessage(t *testing.T) {
	pubsub := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 10}, watermill.NopLogger{})
	msgs, err := pubsub.Subscribe(context.Background(), "alerts")
	require.NoError(t, err)
	defer pubsub.Close()
	p, err := sink.NewPublisher(sink.PublisherConfig{Publisher: pubsub, Topic: "alerts"})
	require.NoError(t, err)
	a := sinktest.Alert("brute-force", "alice", 0)
	require.NoError(t, p.WriteAlert(context.Background(), a))
	msg := <-msgs
	msg.Ack()
	assert.Equal(t, "brute-force/alice/0-firing-1", msg.UUID)
	assert.Equal(t, message.Metadata{"alert_id": "brute-force/alice/0", "rule": "brute-force", "key": "alice", "status": "firing", "severity": "high",
		"partition_key": "brute-force/alice/0"}, msg.Metadata, "the one alert contract: keyed by alert ID")
	want, err := json.Marshal(a)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(msg.Payload))
	require.NoError(t, p.Close())
}

type failingPublisher struct{ closed int }

func (f *failingPublisher) Publish(string, ...*message.Message) error {
	return errors.New("broker down")
}
func (f *failingPublisher) Close() error { f.closed++; return nil }

func TestPublisherErrorsAndOwnership(t *testing.T) {
	fp := &failingPublisher{}
	p, err := sink.NewPublisher(sink.PublisherConfig{Publisher: fp})
	require.NoError(t, err)
	err = p.WriteAlert(context.Background(), sinktest.Alert("r", "k", 0))
	assert.EqualError(t, err, "sink: publish alert r/k/0 to security-alerts: broker down")
	require.NoError(t, p.Close())
	assert.Zero(t, fp.closed, "the caller owns the Watermill publisher")

	_, err = sink.NewPublisher(sink.PublisherConfig{})
	assert.EqualError(t, err, "sink: invalid config: Publisher is required")
	assert.ErrorIs(t, err, sink.ErrInvalidConfig)
}

package sink

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rdr-go/rdr/anomaly"
)

// DefaultAlertTopic is the default [PublisherConfig.Topic].
const DefaultAlertTopic = "security-alerts"

// Metadata keys set on every alert message by [Publisher].
const (
	MetadataAlertID  = "alert_id"
	MetadataRule     = "rule"
	MetadataKey      = "key"
	MetadataStatus   = "status"
	MetadataSeverity = "severity"
	// MetadataPartitionKey is the record key of Kafka publishers that key
	// by it (rdr's pipeline.NewKafkaPublisher): the alert ID, so that every
	// state of one alert lands on one partition, in order.
	MetadataPartitionKey = "partition_key"
)

// PublisherConfig configures a [Publisher].
type PublisherConfig struct {
	// Publisher sends the messages: a Kafka publisher in the deployment,
	// gochannel in process. Required. The caller owns it: Close does not
	// close it.
	Publisher message.Publisher
	// Topic is where alerts go. Optional; default DefaultAlertTopic
	// ("security-alerts").
	Topic string
}

// Publisher is an alert output that publishes each alert as a Watermill
// message: the payload is the alert's JSON (see anomaly.Alert), the
// metadata holds alert_id, rule, key, status and severity (for a Kafka
// partition key, or routing), and the message UUID is
// "<alert id>-<status>-<count>", the same for the same alert state, so
// consumers can drop duplicates after a replay. It ignores windows. It is
// safe for concurrent use; WriteAlert returns when Publish returns (for a
// synchronous Kafka publisher, once the broker has the message).
type Publisher struct {
	cfg PublisherConfig

	mu     sync.RWMutex // held for reading while publishing, so Close waits
	closed bool
}

// NewPublisher returns a Publisher, or an error wrapping ErrInvalidConfig.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	if cfg.Topic == "" {
		cfg.Topic = DefaultAlertTopic
	}
	if cfg.Publisher == nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, errors.New("Publisher is required"))
	}
	return &Publisher{cfg: cfg}, nil
}

// WriteWindow ignores w: the Publisher sends only alerts. It returns ctx's
// error if ctx is done, ErrClosed after Close, otherwise nil.
func (p *Publisher) WriteWindow(ctx context.Context, w WindowResult) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	return nil
}

// WriteAlert publishes a. The message carries ctx (message.SetContext).
func (p *Publisher) WriteAlert(ctx context.Context, a anomaly.Alert) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateAlert(&a); err != nil {
		return err
	}
	msg, err := AlertMessage(a)
	if err != nil {
		return err
	}
	msg.SetContext(ctx)
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	if err := p.cfg.Publisher.Publish(p.cfg.Topic, msg); err != nil {
		return fmt.Errorf("sink: publish alert %s to %s: %w", a.ID, p.cfg.Topic, err)
	}
	return nil
}

// AlertMessage is the one message form of an alert, whichever path
// publishes it (the [Publisher], the pipeline's alerts topic): the payload
// is the alert's JSON, the metadata holds alert_id, rule, key, status,
// severity and partition_key (the alert ID), and the UUID is
// "<alert id>-<status>-<count>", the same for the same alert state, so a
// consumer drops the duplicates a replay makes by UUID (or keeps the
// latest state per alert_id).
func AlertMessage(a anomaly.Alert) (*message.Message, error) {
	payload, err := a.AppendJSON(make([]byte, 0, 256+256*len(a.Events)))
	if err != nil {
		return nil, fmt.Errorf("sink: encoding alert %s: %w", a.ID, err)
	}
	msg := message.NewMessage(alertVersion(&a), payload)
	msg.Metadata.Set(MetadataAlertID, a.ID)
	msg.Metadata.Set(MetadataRule, a.Rule)
	msg.Metadata.Set(MetadataKey, a.Key)
	msg.Metadata.Set(MetadataStatus, a.Status.String())
	msg.Metadata.Set(MetadataSeverity, a.Severity.String())
	msg.Metadata.Set(MetadataPartitionKey, a.ID)
	return msg, nil
}

// Close waits for publishes in progress and makes later writes return
// ErrClosed. It does not close the Watermill publisher. It is safe to call
// more than once and returns nil.
func (p *Publisher) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	return nil
}

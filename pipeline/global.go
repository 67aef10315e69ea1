package pipeline

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rdr-go/rdr/aggregate"
)

// GlobalView combines the window partials that the processors of one
// consumer group publish (Config.PartialsTopic), one source per input
// partition, into one view: the numbers a single processor would have
// computed from all partitions. Counts add exactly; distinct users add
// exactly while below the distinct threshold, because Kafka keys events by
// userId so each user lives on one partition; top lists merge within the
// Space-Saving bound. A partition that moves to another processor keeps
// its source name, so its windows replace rather than add up.
//
// The subscriber must deliver every partition of the partials topic to
// every view (for Kafka: [NewKafkaViewSubscriber]). A GlobalView is safe
// for concurrent use.
type GlobalView struct {
	global *aggregate.Global
	sub    message.Subscriber
	topic  string
	logger watermill.LoggerAdapter

	received, refused atomic.Uint64
}

// NewGlobalView returns a view reading topic from sub. cfg configures the
// merge; use the processors' window length and SetConfig.
func NewGlobalView(sub message.Subscriber, topic string, cfg aggregate.GlobalConfig, logger watermill.LoggerAdapter) (*GlobalView, error) {
	if sub == nil || topic == "" {
		return nil, fmt.Errorf("%w: a subscriber and a topic are required", ErrInvalidConfig)
	}
	g, err := aggregate.NewGlobal(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	return &GlobalView{global: g, sub: sub, topic: topic, logger: logger}, nil
}

// Run consumes partials until ctx ends. A partial that cannot be decoded
// or placed is counted, logged and acknowledged (it will not get better).
func (v *GlobalView) Run(ctx context.Context) error {
	msgs, err := v.sub.Subscribe(ctx, v.topic)
	if err != nil {
		return fmt.Errorf("pipeline: subscribing to %s: %w", v.topic, err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-msgs:
			if !ok {
				return nil
			}
			if err := v.put(msg); err != nil {
				v.refused.Add(1)
				v.logger.Error("global view: partial refused", err, watermill.LogFields{"source": msg.Metadata.Get(MetaSource)})
			} else {
				v.received.Add(1)
			}
			msg.Ack()
		}
	}
}

// Put adds one partial message, as Run does for each one it receives.
func (v *GlobalView) put(msg *message.Message) error {
	source := msg.Metadata.Get(MetaSource)
	start, err := time.Parse(time.RFC3339Nano, msg.Metadata.Get(MetaWindowStart))
	if err != nil || source == "" {
		return fmt.Errorf("partial without %s or a valid %s", MetaSource, MetaWindowStart)
	}
	var set aggregate.Set
	if err := set.UnmarshalBinary(msg.Payload); err != nil {
		return err
	}
	return v.global.Put(source, start, &set)
}

// Metrics merges every processor's windows whose start lies in [from, to).
func (v *GlobalView) Metrics(from, to time.Time) (aggregate.Metrics, error) {
	return v.global.Metrics(from, to)
}

// Sources lists the processors the view has heard from.
func (v *GlobalView) Sources() []aggregate.SourceInfo { return v.global.Sources() }

// Received and Refused count the partials taken and refused.
func (v *GlobalView) Received() uint64 { return v.received.Load() }

// Refused counts the partials that could not be decoded or placed.
func (v *GlobalView) Refused() uint64 { return v.refused.Load() }

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
// A GlobalView is safe for concurrent use.
type GlobalView struct {
	cfg    GlobalViewConfig
	global *aggregate.Global

	received, refused atomic.Uint64

	mu      sync.Mutex
	cancel  context.CancelFunc // of the running Run; nil when none
	running chan struct{}      // closed when Run returns
	closed  bool
}

// GlobalViewConfig configures a [GlobalView].
type GlobalViewConfig struct {
	// Subscriber delivers the partials topic; it must deliver every
	// partition to every view (for Kafka: [NewKafkaViewSubscriber]). The
	// view owns it: Close closes it. Required.
	Subscriber message.Subscriber
	// Topic is the partials topic, the processors' Config.PartialsTopic.
	// Required.
	Topic string
	// Merge configures the merge: use the processors' window length and
	// SetConfig. Optional; the zero value is aggregate's defaults.
	Merge aggregate.GlobalConfig
	// CloseTimeout bounds how long Close waits for Run to return.
	// Optional; default 10 s.
	CloseTimeout time.Duration
	// Logger receives refused partials. Optional; default none.
	Logger watermill.LoggerAdapter
}

// NewGlobalView returns a view for cfg, or an error wrapping
// ErrInvalidConfig. It starts nothing: call Run.
func NewGlobalView(cfg GlobalViewConfig) (*GlobalView, error) {
	if cfg.Subscriber == nil || cfg.Topic == "" {
		return nil, fmt.Errorf("%w: a Subscriber and a Topic are required", ErrInvalidConfig)
	}
	g, err := aggregate.NewGlobal(cfg.Merge)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if cfg.Logger == nil {
		cfg.Logger = watermill.NopLogger{}
	}
	if cfg.CloseTimeout == 0 {
		cfg.CloseTimeout = 10 * time.Second
	}
	return &GlobalView{cfg: cfg, global: g}, nil
}

// Run consumes partials until ctx ends or Close is called. A partial that
// cannot be decoded or placed is counted, logged and acknowledged (it will
// not get better). Run may be called once.
func (v *GlobalView) Run(ctx context.Context) error {
	v.mu.Lock()
	switch {
	case v.closed:
		v.mu.Unlock()
		return fmt.Errorf("%w: the global view", ErrClosed)
	case v.running != nil:
		v.mu.Unlock()
		return fmt.Errorf("%w: GlobalView.Run called twice", ErrStarted)
	}
	ctx, v.cancel = context.WithCancel(ctx)
	v.running = make(chan struct{})
	done := v.running
	v.mu.Unlock()
	defer close(done)
	msgs, err := v.cfg.Subscriber.Subscribe(ctx, v.cfg.Topic)
	if err != nil {
		return fmt.Errorf("pipeline: subscribing to %s: %w", v.cfg.Topic, err)
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
				v.cfg.Logger.Error("global view: partial refused", err, watermill.LogFields{"source": msg.Metadata.Get(MetaSource)})
			} else {
				v.received.Add(1)
			}
			msg.Ack()
		}
	}
}

// Close stops Run (waiting at most CloseTimeout for it to return) and
// closes the subscriber. Later calls return nil.
func (v *GlobalView) Close() error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil
	}
	v.closed = true
	cancel, running := v.cancel, v.running
	v.mu.Unlock()
	var errs []error
	if cancel != nil {
		cancel()
		t := time.NewTimer(v.cfg.CloseTimeout)
		select {
		case <-running:
		case <-t.C:
			errs = append(errs, fmt.Errorf("pipeline: global view: Run did not return within %s", v.cfg.CloseTimeout))
		}
		t.Stop()
	}
	if err := v.cfg.Subscriber.Close(); err != nil {
		errs = append(errs, fmt.Errorf("pipeline: global view: closing the subscriber: %w", err))
	}
	return errors.Join(errs...)
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

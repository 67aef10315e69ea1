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
	"github.com/rdr-go/rdr/broadcast"
)

// The live topics the processor publishes to its Broadcaster: the
// broadcast hub's, named in one place.
const (
	TopicMetrics = broadcast.TopicMetrics
	TopicAlerts  = broadcast.TopicAlerts
	TopicEvents  = broadcast.TopicEvents
)

// Metadata keys of the dead-letter and late-data messages.
const (
	MetaError       = "rdr_error"        // why the item was refused
	MetaField       = "rdr_field"        // the wire name of the bad field, if one
	MetaItem        = "rdr_item"         // the item's index in the input message
	MetaSourceTopic = "rdr_source_topic" // the input topic
	MetaPartition   = "rdr_partition"    // the input partition, when known
	MetaOffset      = "rdr_offset"       // the input offset, when known
	MetaWindow      = "rdr_window"       // for late events: the window they missed
	MetaSource      = "rdr_source"       // partials: the task, "TOPIC/PARTITION"
	MetaWindowStart = "rdr_window_start" // partials: the window start, RFC 3339
	MetaGroupBy     = "rdr_group_by"     // repartition records: the field they are keyed by
	MetaPositions   = "rdr_positions"    // repartition records of several events: each one's input offset and item, "OFFSET.ITEM,…"
	// MetaPartitionKey is the key the Kafka publisher of this package
	// partitions by (see [NewKafkaPublisher]).
	MetaPartitionKey = "partition_key"
)

// Processor consumes security events from a Watermill subscriber and turns
// them into window results, alerts and live messages. It owns a
// message.Router with one handler.
//
// Its state is split by input partition into tasks, as in Kafka Streams:
// each partition has its own windows, aggregates, detection state and
// watermark, and the offset of the next message to apply. Tasks apply in
// parallel; a task applies one message at a time: it decodes the events
// (bad ones go to the dead-letter topic with the reason), adds each to its
// tumbling event-time window (events too late for it go to the late
// topic), runs the detection rules on every valid event, late ones too (on
// their own event time), moves its watermark, and then — while
// the next message applies — writes fired windows and alerts to the sinks,
// publishes alerts, and acknowledges the message. A task's outputs go out
// in the order they were produced (a window's update after its first
// result, a resolved alert after its firing). A sink that blocks blocks the
// task: its partition stops until the sink returns.
//
// With Checkpoints set, each task's state is saved with its offset every
// CheckpointInterval, when its partition is revoked and when the processor
// stops, and restored when the partition is assigned again, here or to
// another processor: see the package doc for why that is exact.
type Processor struct {
	cfg         Config
	router      *message.Router
	partitioned map[string]PartitionedSubscriber // by topic: the subscribers that are
	ends        map[string]EndReporter           // by topic: the subscribers that are

	// rekeyPartitions is the repartition topic's partition count, when
	// its subscriber tells it (KafkaSubscriber): the input tasks then put
	// the events of one batch bound for one partition in one record.
	rekeyPartitions int32

	setCfg  aggregate.SetConfig
	live    *liveView
	stats   counters
	met     *promMetrics
	sampled struct{ window, count atomic.Int64 } // the window being sampled for the live timeline, and how many

	tasksMu sync.RWMutex
	tasks   map[taskKey]*task

	rulesNow  atomic.Pointer[rulesFunc] // set by ReloadRules; nil: cfg.Rules
	reloading sync.Mutex                // held by one ReloadRules at a time

	// checkpointing is held by one checkpoint at a time, from its
	// snapshots to its commits: a periodic checkpoint that took its
	// snapshot and then waited for the sinks must not save it over the
	// newer one a revoke saved meanwhile (the group would be committed past
	// the checkpoint, and the events in between lost to the next owner).
	checkpointing chan struct{}

	emitCtx   context.Context    // sink writes; cancelled when Close stops waiting for them
	stopEmits context.CancelFunc // cancels emitCtx
	inflight  sync.WaitGroup     // handlers, ticks and checkpoints in progress
	drainMu   sync.RWMutex       // orders inflight.Add (read-locked) before shutdown's Wait
	draining  atomic.Bool
	closeOnce sync.Once
	closeErr  error
	mu        sync.Mutex // guards runCancel
	runCancel context.CancelFunc
	runDone   chan struct{}
	stopSaved chan struct{} // closed once the stop has checkpointed the tasks it took (see shutdown)
	started   atomic.Bool
}

// New returns a Processor for cfg. It starts nothing: call Run.
func New(cfg Config) (*Processor, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	series, err := aggregate.NewSeries(cfg.Series)
	if err != nil {
		return nil, fmt.Errorf("%w: Series: %w", ErrInvalidConfig, err)
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: cfg.CloseTimeout}, cfg.Logger)
	if err != nil {
		return nil, err
	}
	p := &Processor{
		cfg:       cfg,
		router:    router,
		setCfg:    series.Config().Set,
		tasks:     map[taskKey]*task{},
		runDone:   make(chan struct{}),
		stopSaved: make(chan struct{}),

		checkpointing: make(chan struct{}, 1),
	}
	p.emitCtx, p.stopEmits = context.WithCancel(context.Background())
	if p.live, err = newLiveView(p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	// One task built now, so that a bad rule set fails here, not on the
	// first message.
	if _, err := p.newTask(cfg.Topic, 0); err != nil {
		return nil, err
	}
	p.partitioned, p.ends = map[string]PartitionedSubscriber{}, map[string]EndReporter{}
	for topic, sub := range map[string]message.Subscriber{cfg.Topic: cfg.Subscriber, cfg.RepartitionTopic: cfg.RepartitionSubscriber} {
		if er, ok := sub.(EndReporter); ok && topic != "" {
			p.ends[topic] = er
		}
		if bs, ok := sub.(interface{ setBatchMax(int) }); ok && topic != "" {
			bs.setBatchMax(cfg.BatchRecords)
		}
		if ps, ok := sub.(PartitionedSubscriber); ok && topic != "" {
			p.partitioned[topic] = ps
			ps.SetPartitionHandler(p)
		} else if sub != nil && cfg.Checkpoints != nil {
			return nil, fmt.Errorf("%w: Checkpoints need a PartitionedSubscriber (such as KafkaSubscriber) for %s: a checkpoint resumes at an offset", ErrInvalidConfig, topic)
		}
	}
	if pc, ok := cfg.RepartitionSubscriber.(interface {
		topicPartitions(string) (int32, error)
	}); ok && cfg.RepartitionTopic != "" {
		n, err := pc.topicPartitions(cfg.RepartitionTopic)
		if err != nil {
			return nil, fmt.Errorf("pipeline: partitions of the repartition topic %s: %w", cfg.RepartitionTopic, err)
		}
		p.rekeyPartitions = n
	}
	p.met = newPromMetrics(p)
	if cfg.Registerer != nil {
		if err := p.met.register(cfg.Registerer, router); err != nil {
			return nil, err
		}
	}
	router.AddConsumerHandler("rdr-processor", cfg.Topic, cfg.Subscriber, p.handler(cfg.Topic))
	if cfg.RepartitionTopic != "" {
		router.AddConsumerHandler("rdr-repartition", cfg.RepartitionTopic, cfg.RepartitionSubscriber, p.handler(cfg.RepartitionTopic))
	}
	return p, nil
}

// Run consumes until ctx is cancelled or Close is called, then shuts down
// gracefully (see Close). It returns the router's error, if any. Run may be
// called once.
func (p *Processor) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: Run called twice", ErrStarted)
	}
	ctx, cancel := context.WithCancel(ctx)
	p.mu.Lock()
	p.runCancel = cancel
	p.mu.Unlock()
	defer close(p.runDone)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // event time moves on when input stops; state is checkpointed
		defer wg.Done()
		tick := time.NewTicker(p.cfg.Tick)
		defer tick.Stop()
		var saves <-chan time.Time
		if len(p.partitioned) > 0 {
			t := time.NewTicker(p.cfg.CheckpointInterval)
			defer t.Stop()
			saves = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				p.whileRunning(p.tick)
			case <-saves:
				p.whileRunning(func() {
					err := p.checkpoint(ctx, p.taskList(), false)
					switch {
					case err != nil && ctx.Err() != nil:
						// Stopping: the checkpoint of the shutdown saves
						// every task that is still held.
						p.cfg.Logger.Debug("pipeline: periodic checkpoint cut short by the shutdown", watermill.LogFields{"err": err})
					case err != nil:
						p.cfg.Logger.Error("pipeline: checkpoint", err, nil)
					}
				})
			}
		}
	}()
	routerErr := make(chan error, 1)
	go func() { routerErr <- p.router.Run(context.WithoutCancel(ctx)) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-routerErr:
		routerErr = nil
	}
	cancel()
	wg.Wait()
	if shutdownErr := p.shutdown(); shutdownErr != nil && err == nil {
		err = shutdownErr
	}
	if routerErr != nil {
		if rerr := <-routerErr; rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// Running is closed once the router runs and the handler is subscribed.
func (p *Processor) Running() chan struct{} { return p.router.Running() }

// Close stops a running processor gracefully and waits for Run to return:
// it stops taking messages (those not yet applied are left unacknowledged,
// so they are delivered again after a restart), waits for the in-flight
// ones, checkpoints every partition at once while it still holds them
// (one flush of the sinks, the saves side by side, one offset commit a
// consumer group), fires every open window to the sinks, closes the
// router (which closes the subscriber: its partitions are revoked, each
// after its checkpoint is saved) and closes the sinks (which flushes
// them). It is safe to call more than
// once, and before or without Run.
//
// Close is bounded: each step that waits for a sink (the in-flight
// messages' writes, the final checkpoint's flush) waits at most
// CloseTimeout, then cancels the sink's context and goes on; what was not
// written is reported in the error and, not being checkpointed, applied
// again by the partition's next owner. A sink must return when its
// context ends (the sinks of package sink do).
func (p *Processor) Close() error {
	p.mu.Lock()
	cancel := p.runCancel
	p.mu.Unlock()
	if cancel == nil { // never ran
		return p.shutdown()
	}
	cancel()
	<-p.runDone
	return p.closeErr
}

// whileRunning runs f unless the processor is shutting down, counted in
// p.inflight.
func (p *Processor) whileRunning(f func()) bool {
	// inflight.Add must not race with shutdown's inflight.Wait (a
	// WaitGroup's Add from zero concurrent with Wait is a data race).
	p.drainMu.RLock()
	if p.draining.Load() {
		p.drainMu.RUnlock()
		return false
	}
	p.inflight.Add(1)
	p.drainMu.RUnlock()
	defer p.inflight.Done()
	f()
	return true
}

func (p *Processor) shutdown() error {
	p.closeOnce.Do(func() {
		p.drainMu.Lock() // no handler is between its draining check and inflight.Add
		p.draining.Store(true)
		p.drainMu.Unlock()
		var errs []error
		// In-flight messages get CloseTimeout to finish; then their sink
		// writes are cancelled (a sink blocked by backpressure returns), so
		// Close is bounded. What they did not write is not checkpointed,
		// so it is applied again after a restart.
		waited := make(chan struct{})
		go func() { p.inflight.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(p.cfg.CloseTimeout):
			errs = append(errs, fmt.Errorf("pipeline: in-flight messages not done after %s: sink writes cancelled", p.cfg.CloseTimeout))
			p.stopEmits()
			<-waited
		}
		// Nothing is applied any more: every task is checkpointed (and its
		// open windows fired) in one go, while its partition is still
		// held: the sinks flush once and the checkpoints are saved side by
		// side, where a revoke a partition saved one after the other. A
		// revoke from now on (closing the router closes the subscriber,
		// which revokes its partitions; or a rebalance meanwhile) finds
		// its task gone and waits for this checkpoint, so that the
		// partition's next owner restores it.
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.CloseTimeout)
		if err := p.checkpoint(ctx, p.removeTasks(), true); err != nil {
			errs = append(errs, err)
		}
		cancel()
		close(p.stopSaved)
		if err := p.router.Close(); err != nil {
			errs = append(errs, fmt.Errorf("pipeline: closing router: %w", err))
		}
		// Partitions assigned since (a rebalance during the stop).
		ctx, cancel = context.WithTimeout(context.Background(), p.cfg.CloseTimeout)
		if err := p.checkpoint(ctx, p.removeTasks(), true); err != nil {
			errs = append(errs, err)
		}
		cancel()
		for _, s := range p.cfg.Sinks {
			if err := s.Close(); err != nil {
				errs = append(errs, fmt.Errorf("pipeline: closing sink: %w", err))
			}
		}
		p.stopEmits()
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

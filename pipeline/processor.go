package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rdr-go/rdr/aggregate"
	"github.com/rdr-go/rdr/broadcast"
	"github.com/rdr-go/rdr/sink"
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

	setCfg  aggregate.SetConfig
	live    *liveView
	stats   counters
	met     *promMetrics
	sampled struct{ window, count atomic.Int64 } // the window being sampled for the live timeline, and how many

	tasksMu sync.RWMutex
	tasks   map[taskKey]*task

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
	started   atomic.Bool
}

// counters are the processor's own totals, readable from any goroutine.
type counters struct {
	messages, events, invalid, late, windows, updates, alertsFired, alertsResolved, sinkErrors atomic.Uint64
	checkpoints, restored, checkpointErrors                                                    atomic.Uint64
	open                                                                                       atomic.Int64
}

// Stats is a snapshot of the processor's counters.
type Stats struct {
	Messages         uint64    `json:"messages"`         // input messages handled
	Events           uint64    `json:"events"`           // valid events applied
	Invalid          uint64    `json:"invalid"`          // items sent to the dead-letter output
	Late             uint64    `json:"late"`             // events later than the allowed lateness
	Windows          uint64    `json:"windows"`          // window results emitted (first firings)
	Updates          uint64    `json:"updates"`          // window results re-emitted after late events
	AlertsFired      uint64    `json:"alertsFired"`      // alerts that started firing
	AlertsResolved   uint64    `json:"alertsResolved"`   // alerts resolved
	OpenAlerts       int       `json:"openAlerts"`       // alerts firing now
	SinkErrors       uint64    `json:"sinkErrors"`       // failed sink writes (logged)
	Checkpoints      uint64    `json:"checkpoints"`      // task checkpoints saved
	Restored         uint64    `json:"restored"`         // partitions restored from a checkpoint
	CheckpointErrors uint64    `json:"checkpointErrors"` // checkpoints not saved, loaded or restored (logged)
	Tasks            int       `json:"tasks"`            // partitions held now
	Watermark        time.Time `json:"watermark"`        // the least watermark of the active tasks
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
		cfg:     cfg,
		router:  router,
		setCfg:  series.Config().Set,
		tasks:   map[taskKey]*task{},
		runDone: make(chan struct{}),

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
		if ps, ok := sub.(PartitionedSubscriber); ok && topic != "" {
			p.partitioned[topic] = ps
			ps.SetPartitionHandler(p)
		} else if sub != nil && cfg.Checkpoints != nil {
			return nil, fmt.Errorf("%w: Checkpoints need a PartitionedSubscriber (such as KafkaSubscriber) for %s: a checkpoint resumes at an offset", ErrInvalidConfig, topic)
		}
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
					if err := p.checkpoint(ctx, p.taskList(), false); err != nil {
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
// ones, closes the router (which closes the subscriber: each partition is
// checkpointed as it is revoked), fires every open window to the sinks,
// and closes the sinks (which flushes them). It is safe to call more than
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
		// Closing the router closes the subscriber, which revokes its
		// partitions: PartitionRevoked checkpoints each and fires its
		// open windows.
		if err := p.router.Close(); err != nil {
			errs = append(errs, fmt.Errorf("pipeline: closing router: %w", err))
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.CloseTimeout)
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

// handler applies each message of topic in its partition's task.
func (p *Processor) handler(topic string) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		var err error
		if !p.whileRunning(func() { err = p.apply(topic, msg) }) {
			// Not applied, so not acknowledged: it is delivered again later.
			return ErrShuttingDown
		}
		return err
	}
}

func (p *Processor) apply(topic string, msg *message.Message) error {
	partition, offset, hasOffset := p.cfg.Partition(msg)
	t, err := p.task(topic, partition)
	if err != nil {
		return err
	}
	p.stats.messages.Add(1)
	t.lastInput.Store(p.cfg.Clock.Now().UnixNano())
	t.idle.Store(false)
	var out outputs
	t.mu.Lock()
	if hasOffset && offset < t.next {
		// Already in the state (a redelivery from before the checkpoint).
		t.mu.Unlock()
		return nil
	}
	if t.windows == nil {
		t.applyRekeyed(msg, &out)
	} else {
		t.apply(msg, &out)
	}
	if hasOffset {
		t.next = offset + 1
		if hwm, ok := MessageHighWaterMark(msg); ok {
			t.caughtUp = offset+1 >= hwm
		}
	}
	turn := t.takeTurn()
	t.mu.Unlock()
	p.emitInTurn(p.emitCtx, t, out, turn)
	return nil
}

// taskKey names a task: a partition of the input or repartition topic.
type taskKey struct {
	topic     string
	partition int32
}

// task returns the partition's task, making an empty one for a partition
// not seen before (an input without assignments, such as GoChannel).
func (p *Processor) task(topic string, partition int32) (*task, error) {
	key := taskKey{topic, partition}
	p.tasksMu.RLock()
	t := p.tasks[key]
	p.tasksMu.RUnlock()
	if t != nil {
		return t, nil
	}
	p.tasksMu.Lock()
	defer p.tasksMu.Unlock()
	if t = p.tasks[key]; t != nil {
		return t, nil
	}
	t, err := p.newTask(topic, partition)
	if err != nil {
		return nil, err
	}
	p.tasks[key] = t
	return t, nil
}

// taskList returns the tasks held now, by partition.
func (p *Processor) taskList() []*task {
	p.tasksMu.RLock()
	defer p.tasksMu.RUnlock()
	ts := make([]*task, 0, len(p.tasks))
	for _, t := range p.tasks {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b *task) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	return ts
}

// removeTasks takes every task out of the processor and returns them.
func (p *Processor) removeTasks() []*task {
	ts := p.taskList()
	p.tasksMu.Lock()
	clear(p.tasks)
	p.tasksMu.Unlock()
	return ts
}

// PartitionAssigned implements [PartitionHandler]: it gives the partition
// a task, restored from the partition's latest checkpoint when there is
// one, and returns the checkpoint's offset. A checkpoint that cannot be
// restored is logged and counted, and the partition starts empty from the
// group's offset.
func (p *Processor) PartitionAssigned(ctx context.Context, topic string, partition int32) (int64, error) {
	t, err := p.newTask(topic, partition)
	if err != nil {
		return -1, err
	}
	from := int64(-1)
	if p.cfg.Checkpoints != nil {
		cp, ok, err := p.cfg.Checkpoints.Load(ctx, topic, partition)
		switch {
		case err != nil:
			p.stats.checkpointErrors.Add(1)
			return -1, fmt.Errorf("pipeline: loading the checkpoint of %s: %w", t.name, err)
		case !ok:
		case cp.Offset < 0:
			p.stats.checkpointErrors.Add(1)
			p.cfg.Logger.Error("pipeline: checkpoint ignored", fmt.Errorf("%w: offset %d", ErrInvalidCheckpoint, cp.Offset), watermill.LogFields{"task": t.name})
		default:
			if err := t.restore(cp.State); err != nil {
				p.stats.checkpointErrors.Add(1)
				p.cfg.Logger.Error("pipeline: checkpoint not restored; the partition starts empty", err, watermill.LogFields{"task": t.name})
				break
			}
			t.next, t.saved, from = cp.Offset, cp.Offset, cp.Offset
			t.storeWatermark()
			p.stats.restored.Add(1)
			p.cfg.Logger.Info("pipeline: partition restored", watermill.LogFields{"task": t.name, "offset": cp.Offset, "bytes": len(cp.State)})
		}
	}
	p.tasksMu.Lock()
	p.tasks[taskKey{topic, partition}] = t
	p.tasksMu.Unlock()
	return from, nil
}

// PartitionRevoked implements [PartitionHandler]: it checkpoints the
// partition's task and lets it go. At a graceful stop, and at any revoke
// without Checkpoints, it also fires the task's open windows (after the
// checkpoint, which keeps them open for the next owner).
func (p *Processor) PartitionRevoked(ctx context.Context, topic string, partition int32) {
	p.tasksMu.Lock()
	t := p.tasks[taskKey{topic, partition}]
	delete(p.tasks, taskKey{topic, partition})
	p.tasksMu.Unlock()
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.CloseTimeout)
	defer cancel()
	if err := p.checkpoint(ctx, []*task{t}, true); err != nil {
		p.cfg.Logger.Error("pipeline: checkpoint on revoke", err, watermill.LogFields{"task": t.name})
	}
}

// tick moves idle tasks' event time on by the wall clock, so that their
// last windows fire and alerts resolve when traffic stops: a task whose
// partition has delivered nothing for IdleTimeout, whose last message
// reached the partition's end, and — with a subscriber that can tell
// ([EndReporter]) — whose source has said since the last message that it
// has nothing more, takes the wall clock (minus OutOfOrderness) as its
// watermark. A task that is merely not receiving holds its watermark.
func (p *Processor) tick() {
	now := p.cfg.Clock.Now()
	for _, t := range p.taskList() {
		var out outputs
		t.mu.Lock()
		quiet := now.Sub(time.Unix(0, t.lastInput.Load()))
		idle := quiet >= p.cfg.IdleTimeout
		if er := p.ends[t.topic]; idle && er != nil {
			idle = er.AtEnd(t.topic, t.partition, t.next, quiet)
		}
		t.idle.Store(idle && t.caughtUp)
		if !p.cfg.DisableIdleAdvance && idle && t.caughtUp {
			t.advanceTo(&out, now.Add(-p.cfg.OutOfOrderness-time.Millisecond))
		} else {
			t.advance(&out)
		}
		if out.empty() {
			t.mu.Unlock()
			continue
		}
		turn := t.takeTurn()
		t.mu.Unlock()
		p.emitInTurn(p.emitCtx, t, out, turn)
	}
	p.live.publishDue()
}

// checkpoint saves the state of tasks. In order, so that recovery is
// exact (see the package doc): each task's state and offset are taken
// together under its lock; once everything the task produced before that
// has been emitted, and the sinks have flushed it, the checkpoint is saved
// and then the offset committed. final (a revoke or a stop) saves even an
// unchanged task, and at a stop fires its open windows after taking the
// state.
func (p *Processor) checkpoint(ctx context.Context, tasks []*task, final bool) error {
	select {
	case p.checkpointing <- struct{}{}:
		defer func() { <-p.checkpointing }()
	case <-ctx.Done():
		return fmt.Errorf("pipeline: no checkpoint: waiting for the one in progress: %w", ctx.Err())
	}
	type snap struct {
		t     *task
		next  int64
		state []byte
	}
	var snaps []snap
	var errs []error
	for _, t := range tasks {
		var out outputs
		t.mu.Lock()
		next := t.next
		var state []byte
		var err error
		if p.cfg.Checkpoints != nil && next >= 0 && (next != t.saved || final) {
			state, err = t.snapshot()
		}
		// A task let go fires its open windows at a stop, and at any
		// revoke when there are no checkpoints: nobody else will.
		stopping := final && (p.draining.Load() || p.cfg.Checkpoints == nil)
		if stopping {
			t.flushWindows(&out)
		}
		if final { // the task's alerts are no longer this processor's
			p.stats.open.Add(-int64(len(t.open)))
			clear(t.open)
		}
		turn := t.takeTurn() // after every turn the state holds
		t.mu.Unlock()
		p.emitInTurn(ctx, t, out, turn)
		switch {
		case err != nil:
			p.stats.checkpointErrors.Add(1)
			errs = append(errs, err)
		case next >= 0 && (next != t.saved || final) && (p.cfg.Checkpoints != nil || p.partitioned[t.topic] != nil):
			// Something to save or commit once the sinks have flushed.
			// (Without either, the sinks' Close flushes at a stop: waiting
			// here too would only double the wait on a sink that is down.)
			snaps = append(snaps, snap{t, next, state})
		}
	}
	if len(snaps) == 0 {
		return errors.Join(errs...)
	}
	// What the tasks produced before their state was taken is durable
	// before the checkpoint says it is done.
	if err := p.flushSinks(ctx); err != nil {
		p.stats.checkpointErrors.Add(uint64(len(snaps)))
		return errors.Join(append(errs, fmt.Errorf("pipeline: no checkpoint: the sinks did not flush: %w", err))...)
	}
	for _, s := range snaps {
		t := s.t
		t.mu.Lock()
		stale := s.next < t.saved
		t.mu.Unlock()
		if stale { // never put an older state over a newer one
			continue
		}
		if p.cfg.Checkpoints != nil {
			if err := p.cfg.Checkpoints.Save(ctx, Checkpoint{Topic: t.topic, Partition: t.partition, Offset: s.next, State: s.state}); err != nil {
				p.stats.checkpointErrors.Add(1)
				errs = append(errs, fmt.Errorf("pipeline: checkpoint of %s: %w", t.name, err))
				continue
			}
			p.stats.checkpoints.Add(1)
		}
		t.mu.Lock()
		t.saved = s.next
		t.mu.Unlock()
		if sub := p.partitioned[t.topic]; sub != nil {
			if err := sub.Commit(t.topic, t.partition, s.next); err != nil && !errors.Is(err, ErrNotAssigned) {
				errs = append(errs, fmt.Errorf("pipeline: committing %s at %d: %w", t.name, s.next, err))
			}
		}
	}
	return errors.Join(errs...)
}

// flushSinks flushes every sink that buffers.
func (p *Processor) flushSinks(ctx context.Context) error {
	var errs []error
	for _, s := range p.cfg.Sinks {
		if f, ok := s.(sink.Flusher); ok {
			if err := f.Flush(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// watermark is the least watermark of the input tasks that are not idle
// (as the latest tick judged: see tick), or the greatest of all when every
// task is idle; zero before any.
func (p *Processor) watermark() time.Time {
	var active, all int64
	haveActive := false
	for _, t := range p.taskList() {
		wm := t.wm.Load()
		if wm == 0 || t.windows == nil { // repartition tasks fire no windows
			continue
		}
		all = max(all, wm)
		if !t.idle.Load() {
			if !haveActive || wm < active {
				active = wm
			}
			haveActive = true
		}
	}
	switch {
	case haveActive:
		return time.Unix(0, active).UTC()
	case all != 0:
		return time.Unix(0, all).UTC()
	}
	return time.Time{}
}

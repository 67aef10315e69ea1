package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sink"
	"github.com/rdr-go/rdr/window"
)

// The live topics the processor publishes to its Broadcaster.
const (
	TopicMetrics = "metrics"
	TopicAlerts  = "alerts"
	TopicEvents  = "events"
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
	MetaSource      = "rdr_source"       // partials: the processor instance
	MetaWindowStart = "rdr_window_start" // partials: the window start, RFC 3339
	MetaAlertID     = "rdr_alert_id"
	MetaAlertStatus = "rdr_alert_status"
	// MetaPartitionKey is the key the Kafka publisher of this package
	// partitions by (see [NewKafkaPublisher]).
	MetaPartitionKey = "partition_key"
)

// Processor consumes security events from a Watermill subscriber and turns
// them into window results, alerts and live messages. It owns a
// message.Router with one handler.
//
// For each input message it decodes the events (bad ones go to the
// dead-letter topic with the reason), moves the partition's watermark,
// adds each event to its tumbling event-time window (events too late for
// it go to the late topic), runs the detection rules, and then — outside
// its lock — writes fired windows and alerts to the sinks, publishes alerts
// and live metrics, and acknowledges the message. A sink that blocks blocks
// the handler: the router stops taking messages until it returns.
//
// State is guarded by one mutex taken once per message, so messages of
// several partitions are handled concurrently but applied one at a time.
// Window results, alerts and live metrics reach the sinks, the hub and the
// publisher in the order they were produced (a window's update after its
// first result, a resolved alert after its firing), whichever handler
// produced them.
type Processor struct {
	cfg    Config
	router *message.Router
	series *aggregate.Series
	stats  counters
	met    *promMetrics

	mu         sync.Mutex // guards the fields below
	windows    *window.Windows[struct{}, rdr.Event, *aggregate.Set]
	watermarks *window.Watermarks
	engine     *anomaly.Engine
	sampled    map[int64]int // events sent to the hub per window start
	openAlerts map[string]struct{}
	turns      uint64 // turns handed out by takeTurn

	order turnstile // emits with ordered outputs go in the order of their turns

	lastInput  atomic.Int64   // wall-clock Unix ns of the last input message
	registered atomic.Bool    // Config.Partitions are registered as watermark sources
	inflight   sync.WaitGroup // handlers applying or emitting
	drainMu    sync.RWMutex   // orders inflight.Add (read-locked) before shutdown's Wait
	draining   atomic.Bool
	closeOnce  sync.Once
	closeErr   error
	runCancel  context.CancelFunc
	runDone    chan struct{}
	started    atomic.Bool
}

// counters are the processor's own totals, readable from any goroutine.
type counters struct {
	messages, events, invalid, late, windows, updates, alertsFired, alertsResolved, sinkErrors atomic.Uint64
}

// Stats is a snapshot of the processor's counters.
type Stats struct {
	Messages       uint64    `json:"messages"`       // input messages handled
	Events         uint64    `json:"events"`         // valid events applied
	Invalid        uint64    `json:"invalid"`        // items sent to the dead-letter output
	Late           uint64    `json:"late"`           // events later than the allowed lateness
	Windows        uint64    `json:"windows"`        // window results emitted (first firings)
	Updates        uint64    `json:"updates"`        // window results re-emitted after late events
	AlertsFired    uint64    `json:"alertsFired"`    // alerts that started firing
	AlertsResolved uint64    `json:"alertsResolved"` // alerts resolved
	OpenAlerts     int       `json:"openAlerts"`     // alerts firing now
	SinkErrors     uint64    `json:"sinkErrors"`     // failed sink writes (logged)
	Watermark      time.Time `json:"watermark"`      // the overall watermark
}

// New returns a Processor for cfg. It starts nothing: call Run.
func New(cfg Config) (*Processor, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	series, err := aggregate.NewSeries(cfg.Series)
	if err != nil {
		return nil, fmt.Errorf("invalid config: Series: %w", err)
	}
	setCfg := series.Config().Set
	windows, err := window.New[struct{}](window.Config[rdr.Event, *aggregate.Set]{
		Assigner:        window.Tumbling(cfg.Window),
		AllowedLateness: cfg.AllowedLateness,
		Init: func() *aggregate.Set {
			s, _ := aggregate.NewSet(setCfg) // setCfg was validated by NewSeries
			return s
		},
		Add: func(s **aggregate.Set, ev rdr.Event) { (*s).Add(ev) },
	})
	if err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	watermarks, err := window.NewWatermarks(window.WatermarkConfig{
		OutOfOrderness: cfg.OutOfOrderness,
		IdleTimeout:    cfg.IdleTimeout,
		Clock:          cfg.Clock,
	})
	if err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	engine, err := anomaly.NewEngine(cfg.Rules, anomaly.Config{Clock: cfg.Clock})
	if err != nil {
		return nil, fmt.Errorf("invalid config: Rules: %w", err)
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: cfg.CloseTimeout}, cfg.Logger)
	if err != nil {
		return nil, err
	}
	p := &Processor{
		cfg:        cfg,
		router:     router,
		series:     series,
		windows:    windows,
		watermarks: watermarks,
		engine:     engine,
		sampled:    map[int64]int{},
		openAlerts: map[string]struct{}{},
		runDone:    make(chan struct{}),
	}
	p.order.cond.L = &p.order.mu
	p.met = newPromMetrics(p)
	if cfg.Registerer != nil {
		if err := p.met.register(cfg.Registerer, router); err != nil {
			return nil, err
		}
	}
	router.AddConsumerHandler("rdr-processor", cfg.Topic, cfg.Subscriber, p.handle)
	return p, nil
}

// Run consumes until ctx is cancelled or Close is called, then shuts down
// gracefully (see Close). It returns the router's error, if any. Run may be
// called once.
func (p *Processor) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("pipeline: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	p.mu.Lock()
	p.runCancel = cancel
	p.mu.Unlock()
	defer close(p.runDone)
	// Idleness counts from the start: before the first message, "no input
	// for IdleTimeout" must not already hold (lastInput 0 = 1970).
	p.lastInput.Store(p.cfg.Clock.Now().UnixNano())

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the ticker: event time moves on when input stops
		defer wg.Done()
		t := time.NewTicker(p.cfg.Tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if !p.draining.Load() {
					p.tick(ctx)
				}
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
// ones, fires every open window to the sinks, closes the sinks (which
// flushes them) and the router (which closes the subscriber, committing
// what was acknowledged). It is safe to call more than once, and before or
// without Run.
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

func (p *Processor) shutdown() error {
	p.closeOnce.Do(func() {
		p.drainMu.Lock() // no handler is between its draining check and inflight.Add
		p.draining.Store(true)
		p.drainMu.Unlock()
		p.inflight.Wait()
		if p.started.Load() {
			time.Sleep(p.cfg.DrainDelay) // let the subscriber record the last acks
		}
		var errs []error
		if err := p.router.Close(); err != nil {
			errs = append(errs, fmt.Errorf("pipeline: closing router: %w", err))
		}
		var out outputs
		p.mu.Lock()
		p.windows.Flush(func(r window.Result[struct{}, *aggregate.Set]) { p.collectWindow(&out, r) })
		turn := p.takeTurn(&out)
		p.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.CloseTimeout)
		p.emitInTurn(ctx, out, turn)
		cancel()
		for _, s := range p.cfg.Sinks {
			if err := s.Close(); err != nil {
				errs = append(errs, fmt.Errorf("pipeline: closing sink: %w", err))
			}
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// outputs are what one message (or tick) produced, emitted after the lock
// is released.
type outputs struct {
	windows  []sink.WindowResult
	live     []liveDraft
	alerts   []anomaly.Alert
	sample   []rdr.Event
	dlq      []*message.Message
	late     []*message.Message
	partials []*message.Message
}

func (p *Processor) handle(msg *message.Message) error {
	// inflight.Add must not race with shutdown's inflight.Wait (a
	// WaitGroup's Add from zero concurrent with Wait is a data race).
	p.drainMu.RLock()
	if p.draining.Load() {
		p.drainMu.RUnlock()
		// Not applied, so not acknowledged: it is delivered again later.
		return errors.New("pipeline: shutting down")
	}
	p.inflight.Add(1)
	p.drainMu.RUnlock()
	defer p.inflight.Done()
	p.stats.messages.Add(1)
	p.lastInput.Store(p.cfg.Clock.Now().UnixNano())
	ctx := msg.Context()
	partition, _ := kafka.MessagePartitionFromCtx(ctx) // 0 outside Kafka
	source := int(partition)

	var out outputs
	p.mu.Lock()
	if p.cfg.Partitions > 0 && p.registered.CompareAndSwap(false, true) {
		for i := range p.cfg.Partitions {
			p.watermarks.Register(i)
		}
	}
	// The watermark is read only after the whole message, so observing
	// its newest event once is the same as observing each (and reads the
	// clock once).
	var newest time.Time
	collectAlert := func(a anomaly.Alert) { p.collectAlert(&out, a) } // made once: the engine keeps it
	for ev, err := range p.cfg.Decoder.Events(msg.Payload) {
		if err != nil {
			p.stats.invalid.Add(1)
			out.dlq = append(out.dlq, p.deadLetter(msg, err))
			continue
		}
		if ev.Time.After(newest) {
			newest = ev.Time
		}
		status, werr := p.windows.Add(struct{}{}, ev.Time, ev)
		switch {
		case werr != nil:
			p.stats.invalid.Add(1)
			out.dlq = append(out.dlq, p.deadLetter(msg, &rdr.ItemError{Err: werr, Raw: rdr.AppendJSON(nil, ev)}))
			continue
		case status == window.StatusLate:
			p.stats.late.Add(1)
			out.late = append(out.late, p.lateMessage(msg, ev))
			continue
		}
		p.stats.events.Add(1)
		p.engine.Process(ev, collectAlert)
		p.sample(&out, ev)
	}
	if !newest.IsZero() {
		p.watermarks.Observe(source, newest)
	}
	p.advance(&out)
	turn := p.takeTurn(&out)
	p.mu.Unlock()
	p.emitInTurn(ctx, out, turn)
	return nil
}

// tick advances watermarks by wall-clock idleness when no input arrives.
func (p *Processor) tick(ctx context.Context) {
	p.inflight.Add(1)
	defer p.inflight.Done()
	var out outputs
	now := p.cfg.Clock.Now()
	p.mu.Lock()
	if idle := now.Sub(time.Unix(0, p.lastInput.Load())); !p.cfg.DisableIdleAdvance && idle >= p.cfg.IdleTimeout {
		p.advanceTo(&out, now.Add(-p.cfg.OutOfOrderness-time.Millisecond))
	} else {
		p.advance(&out)
	}
	turn := p.takeTurn(&out)
	p.mu.Unlock()
	p.emitInTurn(ctx, out, turn)
}

// advance fires what the watermark allows. p.mu must be held.
func (p *Processor) advance(out *outputs) {
	if wm := p.watermarks.Current(); !wm.IsZero() {
		p.advanceTo(out, wm)
	}
}

// advanceTo fires what watermark wm allows. p.mu must be held.
func (p *Processor) advanceTo(out *outputs, wm time.Time) {
	if wm.Before(p.windows.Watermark()) {
		wm = p.windows.Watermark()
	}
	p.windows.Advance(wm, func(r window.Result[struct{}, *aggregate.Set]) { p.collectWindow(out, r) })
	p.engine.Advance(wm, func(a anomaly.Alert) { p.collectAlert(out, a) })
	p.met.watermark.Set(float64(wm.UnixMilli()) / 1000)
}

func (p *Processor) collectWindow(out *outputs, r window.Result[struct{}, *aggregate.Set]) {
	if err := p.series.Put(r.Window.Start, r.State); err != nil {
		p.cfg.Logger.Debug("window too old for the live series", watermill.LogFields{"window": r.Window.String(), "err": err})
	}
	m := r.State.Metrics()
	m.From, m.To = r.Window.Start, r.Window.End
	m.EventsPerSecond = float64(m.TotalEvents) / r.Window.End.Sub(r.Window.Start).Seconds()
	out.windows = append(out.windows, sink.WindowResult{Start: r.Window.Start, End: r.Window.End, Update: r.Update, Metrics: m})
	if p.cfg.PartialsTopic != "" && p.cfg.Publisher != nil {
		if b, err := r.State.MarshalBinary(); err != nil {
			p.sinkError(err, "partial")
		} else {
			msg := message.NewMessage(watermill.NewUUID(), b)
			msg.Metadata.Set(MetaSource, p.cfg.Instance)
			msg.Metadata.Set(MetaWindowStart, r.Window.Start.Format(time.RFC3339Nano))
			msg.Metadata.Set(MetaPartitionKey, p.cfg.Instance)
			out.partials = append(out.partials, msg)
		}
	}
	if r.Update {
		p.stats.updates.Add(1)
		return
	}
	p.stats.windows.Add(1)
	delete(p.sampled, r.Window.Start.UnixMilli())
	if p.cfg.Hub != nil {
		out.live = append(out.live, p.liveDraft(m))
	}
}

func (p *Processor) collectAlert(out *outputs, a anomaly.Alert) {
	switch a.Status {
	case anomaly.StatusFiring:
		if _, ok := p.openAlerts[a.ID]; !ok {
			p.openAlerts[a.ID] = struct{}{}
			p.stats.alertsFired.Add(1)
		}
	case anomaly.StatusResolved:
		delete(p.openAlerts, a.ID)
		p.stats.alertsResolved.Add(1)
	}
	out.alerts = append(out.alerts, a)
}

func (p *Processor) sample(out *outputs, ev rdr.Event) {
	if p.cfg.Hub == nil || p.cfg.EventsPerWindow < 0 {
		return
	}
	start := p.windowStart(ev.Time)
	// A late event for a window that has fired is not sampled: the live
	// view has moved on, and its count would outlive the window's.
	if !p.windows.Watermark().Before(start.Add(p.cfg.Window - time.Millisecond)) {
		return
	}
	if p.sampled[start.UnixMilli()] >= p.cfg.EventsPerWindow {
		return
	}
	p.sampled[start.UnixMilli()]++
	out.sample = append(out.sample, ev)
}

// Handlers collect their outputs under p.mu but emit them after releasing
// it, so that one can emit while the next applies. Outputs whose order
// matters — window results (an update replaces the result before it, in
// the sinks and the global view), alerts (resolved after firing) and live
// metrics — are emitted in the order they were collected: each such output
// takes a turn under p.mu and waits for the turns before it. Dead letters,
// late events and samples need no order and do not wait.

// turnstile lets emits through in the order of their turns.
type turnstile struct {
	mu   sync.Mutex
	cond sync.Cond
	next uint64 // the turn allowed through now
}

// noTurn marks outputs that need no order.
const noTurn = ^uint64(0)

// takeTurn returns out's turn, or noTurn. p.mu must be held.
func (p *Processor) takeTurn(out *outputs) uint64 {
	if len(out.windows)+len(out.alerts)+len(out.live)+len(out.partials) == 0 {
		return noTurn
	}
	p.turns++
	return p.turns - 1
}

// emitInTurn emits what of out needs no order at once, and the rest once
// every earlier turn has been emitted.
func (p *Processor) emitInTurn(ctx context.Context, out outputs, turn uint64) {
	p.emitUnordered(out)
	if turn == noTurn {
		return
	}
	p.order.mu.Lock()
	for p.order.next != turn {
		p.order.cond.Wait()
	}
	p.order.mu.Unlock()
	defer func() {
		p.order.mu.Lock()
		p.order.next++
		p.order.cond.Broadcast()
		p.order.mu.Unlock()
	}()
	p.emitOrdered(ctx, out)
}

// emitUnordered sends the event samples to the hub and the dead letters
// and late events to the publisher.
func (p *Processor) emitUnordered(out outputs) {
	if hub := p.cfg.Hub; hub != nil {
		for _, ev := range out.sample {
			p.hubPublish(TopicEvents, ev)
		}
	}
	if p.cfg.Publisher == nil {
		for _, m := range out.dlq {
			p.cfg.Logger.Info("invalid input (no dead-letter publisher)", watermill.LogFields{"err": m.Metadata.Get(MetaError)})
		}
		return
	}
	p.publish(p.cfg.DeadLetterTopic, out.dlq)
	p.publish(p.cfg.LateTopic, out.late)
}

// emitOrdered sends window results and alerts to the sinks, live metrics
// and alerts to the hub, and alerts and partials to the publisher. Sink
// writes block (backpressure); their errors are counted and logged, never
// dropped silently.
func (p *Processor) emitOrdered(ctx context.Context, out outputs) {
	for _, w := range out.windows {
		for _, s := range p.cfg.Sinks {
			if err := s.WriteWindow(ctx, w); err != nil {
				p.sinkError(err, "window")
			}
		}
	}
	for _, a := range out.alerts {
		for _, s := range p.cfg.Sinks {
			if err := s.WriteAlert(ctx, a); err != nil {
				p.sinkError(err, "alert")
			}
		}
	}
	if hub := p.cfg.Hub; hub != nil {
		for _, d := range out.live {
			p.hubPublish(TopicMetrics, p.finish(d))
		}
		for _, a := range out.alerts {
			p.hubPublish(TopicAlerts, a)
		}
	}
	if p.cfg.Publisher == nil {
		return
	}
	if len(out.alerts) > 0 {
		msgs := make([]*message.Message, 0, len(out.alerts))
		for _, a := range out.alerts {
			m, err := alertMessage(a)
			if err != nil {
				p.sinkError(err, p.cfg.AlertsTopic)
				continue
			}
			msgs = append(msgs, m)
		}
		p.publish(p.cfg.AlertsTopic, msgs)
	}
	p.publish(p.cfg.PartialsTopic, out.partials)
}

func (p *Processor) publish(topic string, msgs []*message.Message) {
	if len(msgs) == 0 {
		return
	}
	if err := p.cfg.Publisher.Publish(topic, msgs...); err != nil {
		p.sinkError(err, topic)
	}
}

func (p *Processor) hubPublish(topic string, data any) {
	if err := p.cfg.Hub.Publish(topic, data); err != nil {
		p.cfg.Logger.Debug("live publish failed", watermill.LogFields{"topic": topic, "err": err})
	}
}

func (p *Processor) sinkError(err error, what string) {
	p.stats.sinkErrors.Add(1)
	p.cfg.Logger.Error("pipeline: output failed", err, watermill.LogFields{"output": what})
}

func (p *Processor) deadLetter(in *message.Message, err error) *message.Message {
	var item *rdr.ItemError
	raw := in.Payload
	index := -1
	if errors.As(err, &item) {
		raw = item.Raw
		index = item.Index
	}
	m := message.NewMessage(watermill.NewUUID(), append([]byte(nil), raw...))
	reason := err.Error()
	if item != nil {
		reason = item.Err.Error()
	}
	m.Metadata.Set(MetaError, reason)
	var invalid *rdr.InvalidEventError
	if errors.As(err, &invalid) && invalid.Field != "" {
		m.Metadata.Set(MetaField, invalid.Field)
	}
	if index >= 0 {
		m.Metadata.Set(MetaItem, strconv.Itoa(index))
	}
	p.sourceMetadata(in, m)
	return m
}

func (p *Processor) lateMessage(in *message.Message, ev rdr.Event) *message.Message {
	m := message.NewMessage(watermill.NewUUID(), rdr.AppendJSON(nil, ev))
	start := p.windowStart(ev.Time)
	m.Metadata.Set(MetaWindow, window.Window{Start: start, End: start.Add(p.cfg.Window)}.String())
	m.Metadata.Set(MetaPartitionKey, ev.UserID)
	p.sourceMetadata(in, m)
	return m
}

// windowStart is the start of the tumbling window holding t (windows are
// aligned to the Unix epoch, as in package window).
func (p *Processor) windowStart(t time.Time) time.Time {
	ms, size := t.UnixMilli(), p.cfg.Window.Milliseconds()
	r := ms % size
	if r < 0 {
		r += size
	}
	return time.UnixMilli(ms - r).UTC()
}

func (p *Processor) sourceMetadata(in, out *message.Message) {
	out.Metadata.Set(MetaSourceTopic, p.cfg.Topic)
	ctx := in.Context()
	if partition, ok := kafka.MessagePartitionFromCtx(ctx); ok {
		out.Metadata.Set(MetaPartition, strconv.Itoa(int(partition)))
	}
	if offset, ok := kafka.MessagePartitionOffsetFromCtx(ctx); ok {
		out.Metadata.Set(MetaOffset, strconv.FormatInt(offset, 10))
	}
}

func alertMessage(a anomaly.Alert) (*message.Message, error) {
	payload, err := a.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("pipeline: encoding alert %s: %w", a.ID, err)
	}
	m := message.NewMessage(watermill.NewUUID(), payload)
	m.Metadata.Set(MetaAlertID, a.ID)
	m.Metadata.Set(MetaAlertStatus, a.Status.String())
	m.Metadata.Set(MetaPartitionKey, a.Key)
	return m, nil
}

// Stats returns the processor's counters. It is safe to call at any time.
func (p *Processor) Stats() Stats {
	p.mu.Lock()
	open := len(p.openAlerts)
	wm := p.windows.Watermark()
	p.mu.Unlock()
	return Stats{
		Messages:       p.stats.messages.Load(),
		Events:         p.stats.events.Load(),
		Invalid:        p.stats.invalid.Load(),
		Late:           p.stats.late.Load(),
		Windows:        p.stats.windows.Load(),
		Updates:        p.stats.updates.Load(),
		AlertsFired:    p.stats.alertsFired.Load(),
		AlertsResolved: p.stats.alertsResolved.Load(),
		OpenAlerts:     open,
		SinkErrors:     p.stats.sinkErrors.Load(),
		Watermark:      wm,
	}
}

// MetricsReader answers getMetrics(timeRange). *Processor, *GlobalView,
// *aggregate.Series and *aggregate.Global implement it.
type MetricsReader interface {
	Metrics(from, to time.Time) (aggregate.Metrics, error)
}

// Metrics answers getMetrics(timeRange) from the windows the processor
// fired: the ones whose start lies in [from, to).
func (p *Processor) Metrics(from, to time.Time) (aggregate.Metrics, error) {
	return p.series.Metrics(from, to)
}

// User returns a user's activity over the fired windows in [from, to).
func (p *Processor) User(id string, from, to time.Time) (aggregate.UserActivity, error) {
	return p.series.User(id, from, to)
}

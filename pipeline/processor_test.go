package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/pipeline"
	"github.com/rdr-go/rdr/sink"
)

// recorder is a sink that keeps what it is given, for assertions.
type recorder struct {
	mu      sync.Mutex
	windows []sink.WindowResult
	alerts  []anomaly.Alert
	closed  int
}

func (r *recorder) WriteWindow(_ context.Context, w sink.WindowResult) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.windows = append(r.windows, w)
	return nil
}

func (r *recorder) WriteAlert(_ context.Context, a anomaly.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, a)
	return nil
}

func (r *recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed++
	return nil
}

type windowCount struct {
	Start, End string
	Total      uint64
	Update     bool
}

func (r *recorder) counts() []windowCount {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []windowCount
	for _, w := range r.windows {
		out = append(out, windowCount{w.Start.Format("15:04:05.000"), w.End.Format("15:04:05.000"), w.Metrics.TotalEvents, w.Update})
	}
	return out
}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func event(at time.Duration, typ, user string) string {
	return string(rdr.AppendJSON(nil, rdr.Event{Time: t0.Add(at), Type: typ, UserID: user, Severity: rdr.SeverityLow}))
}

type harness struct {
	t      *testing.T
	pubsub *gochannel.GoChannel
	proc   *pipeline.Processor
	rec    *recorder
	dlq    <-chan *message.Message
	late   <-chan *message.Message
	alerts <-chan *message.Message
	done   chan error
}

func newHarness(t *testing.T, cfg pipeline.Config) *harness {
	t.Helper()
	// The input keeps order only when Publish waits for the handler's ack.
	ps := gochannel.NewGoChannel(gochannel.Config{Persistent: true, BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	outputs := gochannel.NewGoChannel(gochannel.Config{Persistent: true, OutputChannelBuffer: 1024}, watermill.NopLogger{})
	h := &harness{t: t, pubsub: ps, rec: &recorder{}, done: make(chan error, 1)}
	var err error
	subscribe := func(topic string) <-chan *message.Message {
		ch, err := outputs.Subscribe(context.Background(), topic)
		require.NoError(t, err)
		return ch
	}
	h.dlq = subscribe(pipeline.DefaultDeadLetterTopic)
	h.late = subscribe(pipeline.DefaultLateTopic)
	h.alerts = subscribe(pipeline.DefaultAlertsTopic)
	cfg.Subscriber = ps
	if mr, ok := cfg.Publisher.(*multiRecorder); ok {
		mr.Publisher = outputs
	} else {
		cfg.Publisher = outputs
	}
	cfg.Sinks = append(cfg.Sinks, h.rec)
	if cfg.Clock == nil {
		cfg.Clock = rdr.NewFakeClock(t0.Add(5 * time.Minute))
	}
	if cfg.Tick == 0 {
		cfg.Tick = time.Hour // most tests move time themselves
	}
	h.proc, err = pipeline.New(cfg)
	require.NoError(t, err)
	go func() { h.done <- h.proc.Run(context.Background()) }()
	select {
	case <-h.proc.Running():
	case <-time.After(10 * time.Second):
		t.Fatal("processor did not start")
	}
	t.Cleanup(func() {
		_ = h.proc.Close()
		_ = ps.Close()
		_ = outputs.Close()
	})
	return h
}

func (h *harness) send(payloads ...string) {
	h.t.Helper()
	for _, p := range payloads {
		require.NoError(h.t, h.pubsub.Publish(pipeline.DefaultTopic, message.NewMessage(watermill.NewUUID(), []byte(p))))
	}
}

// waitMessages waits until the processor has handled n input messages.
func (h *harness) waitMessages(n uint64) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.proc.Stats().Messages < n {
		if time.Now().After(deadline) {
			h.t.Fatalf("processor handled %d messages, want %d", h.proc.Stats().Messages, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) close() {
	h.t.Helper()
	require.NoError(h.t, h.proc.Close())
	require.NoError(h.t, <-h.done)
}

func receive(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case m := <-ch:
		m.Ack()
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
		return nil
	}
}

func TestProcessorWindowsDeadLettersAndLateData(t *testing.T) {
	h := newHarness(t, pipeline.Config{AllowedLateness: time.Second})
	bad := `{"timestamp":"2026-11-26T10:00:00.3Z","eventType":"login","userId":"","severity":"low"}`
	h.send(
		event(100*time.Millisecond, "login", "a")+"\n"+bad+"\n"+event(500*time.Millisecond, "login", "b")+"\n"+event(1200*time.Millisecond, "logout", "a"),
		event(3000*time.Millisecond, "login", "c"), // watermark 1.999: [0,1) and [1,2) fire
		event(900*time.Millisecond, "login", "d"),  // too late for [0,1) with 1 s lateness
		`[`+event(2500*time.Millisecond, "file_access", "e")+`, {"timestamp":1}]`,
	)
	h.waitMessages(4)
	assert.Equal(t, []windowCount{
		{"10:00:00.000", "10:00:01.000", 2, false},
		{"10:00:01.000", "10:00:02.000", 1, false},
	}, h.rec.counts())

	// The output GoChannel does not keep order between messages.
	dlq := map[string]*message.Message{}
	for range 2 {
		m := receive(t, h.dlq)
		dlq[string(m.Payload)] = m
	}
	require.Contains(t, dlq, bad)
	m := dlq[bad]
	assert.Equal(t, "rdr: invalid event: field userId: must not be empty", m.Metadata.Get(pipeline.MetaError))
	assert.Equal(t, "userId", m.Metadata.Get(pipeline.MetaField))
	assert.Equal(t, "1", m.Metadata.Get(pipeline.MetaItem))
	assert.Equal(t, pipeline.DefaultTopic, m.Metadata.Get(pipeline.MetaSourceTopic))
	require.Contains(t, dlq, `{"timestamp":1}`)
	m = dlq[`{"timestamp":1}`]
	assert.Equal(t, "rdr: invalid event: field eventType: is missing", m.Metadata.Get(pipeline.MetaError))
	assert.Equal(t, "1", m.Metadata.Get(pipeline.MetaItem))

	late := receive(t, h.late)
	assert.Equal(t, event(900*time.Millisecond, "login", "d"), string(late.Payload))
	assert.Equal(t, "[2026-11-26T10:00:00.000Z, 2026-11-26T10:00:01.000Z)", late.Metadata.Get(pipeline.MetaWindow))

	h.close()
	// Close fires what was still open.
	assert.Equal(t, []windowCount{
		{"10:00:00.000", "10:00:01.000", 2, false},
		{"10:00:01.000", "10:00:02.000", 1, false},
		{"10:00:02.000", "10:00:03.000", 1, false},
		{"10:00:03.000", "10:00:04.000", 1, false},
	}, h.rec.counts())
	assert.Equal(t, 1, h.rec.closed)
	st := h.proc.Stats()
	assert.Equal(t, uint64(4), st.Messages)
	assert.Equal(t, uint64(5), st.Events)
	assert.Equal(t, uint64(2), st.Invalid)
	assert.Equal(t, uint64(1), st.Late)
	assert.Equal(t, uint64(4), st.Windows)
}

func TestProcessorLateUpdateReplacesWindow(t *testing.T) {
	h := newHarness(t, pipeline.Config{AllowedLateness: 10 * time.Second})
	h.send(event(100*time.Millisecond, "login", "a"), event(2500*time.Millisecond, "login", "b"), event(200*time.Millisecond, "login", "c"))
	h.waitMessages(3)
	h.close()
	got := h.rec.counts()
	require.GreaterOrEqual(t, len(got), 3)
	assert.Equal(t, []windowCount{
		{"10:00:00.000", "10:00:01.000", 1, false},
		{"10:00:00.000", "10:00:01.000", 2, true},
	}, got[:2])
	m, err := h.proc.Metrics(t0, t0.Add(time.Second))
	require.NoError(t, err)
	assert.Equal(t, uint64(2), m.TotalEvents) // the update replaced the first result
}

func TestNewValidates(t *testing.T) {
	_, err := pipeline.New(pipeline.Config{})
	assert.EqualError(t, err, "pipeline: invalid config: Subscriber is required")
	assert.ErrorIs(t, err, pipeline.ErrInvalidConfig)
	ps := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	_, err = pipeline.New(pipeline.Config{Subscriber: ps, Window: 1500 * time.Microsecond})
	assert.EqualError(t, err, "pipeline: invalid config: Window must be a whole number of milliseconds, got 1.5ms")
	assert.ErrorIs(t, err, pipeline.ErrInvalidConfig)
	_, err = pipeline.NewQueue(pipeline.QueueConfig{MaxBytes: -1})
	assert.ErrorIs(t, err, pipeline.ErrInvalidConfig)
	_, err = pipeline.NewSideLog(pipeline.SideLogConfig{})
	assert.ErrorIs(t, err, pipeline.ErrInvalidConfig)
	_, err = pipeline.NewGlobalView(pipeline.GlobalViewConfig{})
	assert.ErrorIs(t, err, pipeline.ErrInvalidConfig)
}

// A second Run is refused with ErrStarted.
func TestRunTwiceIsRefused(t *testing.T) {
	ps := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	defer ps.Close()
	p, err := pipeline.New(pipeline.Config{Subscriber: ps})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case <-p.Running():
	case <-time.After(10 * time.Second):
		t.Fatal("not running after 10 s")
	}
	assert.ErrorIs(t, p.Run(ctx), pipeline.ErrStarted)
	cancel()
	require.NoError(t, <-done)
}

func TestProcessorAdvancesWhenIdle(t *testing.T) {
	clock := rdr.NewFakeClock(t0.Add(5 * time.Minute))
	for _, disabled := range []bool{false, true} {
		h := newHarness(t, pipeline.Config{Clock: clock, IdleTimeout: time.Second, DisableIdleAdvance: disabled, Tick: 5 * time.Millisecond})
		h.send(event(5*time.Minute-500*time.Millisecond, "login", "a"))
		h.waitMessages(1)
		clock.Advance(2 * time.Second) // idle for 2 s: the watermark follows the clock
		if disabled {
			time.Sleep(100 * time.Millisecond) // twenty ticks
			assert.Empty(t, h.rec.counts(), "the window must wait for events when idle advance is off")
		} else {
			deadline := time.Now().Add(10 * time.Second)
			for len(h.rec.counts()) == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			assert.Equal(t, []windowCount{{"10:04:59.000", "10:05:00.000", 1, false}}, h.rec.counts())
		}
		h.close()
	}
}

// hubRecorder keeps what the processor broadcasts.
type hubRecorder struct {
	mu   sync.Mutex
	msgs map[string][]any
}

func (h *hubRecorder) Publish(topic string, data any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs[topic] = append(h.msgs[topic], data)
	return nil
}

func (h *hubRecorder) get(topic string) []any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]any(nil), h.msgs[topic]...)
}

func TestProcessorLiveMetrics(t *testing.T) {
	hub := &hubRecorder{msgs: map[string][]any{}}
	h := newHarness(t, pipeline.Config{Hub: hub, EventsPerWindow: 2})
	h.send(
		event(100*time.Millisecond, "login", "a")+"\n"+event(200*time.Millisecond, "login", "b")+"\n"+event(300*time.Millisecond, "logout", "a"),
		event(1500*time.Millisecond, "login", "c"),
		event(2000*time.Millisecond, "login", "e"), // watermark 0.999: [0,1) fires
		event(3000*time.Millisecond, "login", "d"), // watermark 1.999: [1,2) fires
	)
	h.waitMessages(4)
	h.close()
	live := hub.get(pipeline.TopicMetrics)
	require.GreaterOrEqual(t, len(live), 2)
	first := live[0].(pipeline.LiveMetrics)
	assert.Equal(t, t0, first.WindowStart)
	assert.Equal(t, t0.Add(time.Second), first.WindowEnd)
	assert.Equal(t, 3.0, first.EventsPerSecond)
	assert.Equal(t, map[string]uint64{"login": 2, "logout": 1}, first.ByType)
	assert.Equal(t, uint64(2), first.ActiveUsers) // a and b, over the live range ending at the window
	second := live[1].(pipeline.LiveMetrics)
	assert.Equal(t, uint64(3), second.ActiveUsers)        // a, b and c
	assert.Equal(t, uint64(6), second.TotalEvents)        // all applied so far, since the start
	assert.Len(t, hub.get(pipeline.TopicEvents), 2+1+1+1) // [0,1) capped at 2 of its 3, then 1, 1 and 1
}

// Windows that fire together (a backlog, a replay) each carry their own
// window figures and the range figures as of the newest of them: the live
// range is merged once for the lot, not once per window.
func TestProcessorLiveMetricsOfWindowsFiredTogether(t *testing.T) {
	hub := &hubRecorder{msgs: map[string][]any{}}
	h := newHarness(t, pipeline.Config{Hub: hub})
	h.send(
		event(100*time.Millisecond, "login", "a")+"\n"+event(200*time.Millisecond, "logout", "b"),
		event(1500*time.Millisecond, "login", "c"),
		event(3000*time.Millisecond, "login", "d"), // watermark 1.999: [0,1) and [1,2) fire together
	)
	h.waitMessages(3)
	live := hub.get(pipeline.TopicMetrics)
	require.Len(t, live, 2)
	first, second := live[0].(pipeline.LiveMetrics), live[1].(pipeline.LiveMetrics)
	assert.Equal(t, t0, first.WindowStart)
	assert.Equal(t, map[string]uint64{"login": 1, "logout": 1}, first.ByType)
	assert.Equal(t, 2.0, first.EventsPerSecond)
	assert.Equal(t, t0.Add(time.Second), second.WindowStart)
	assert.Equal(t, map[string]uint64{"login": 1}, second.ByType)
	assert.Equal(t, 1.0, second.EventsPerSecond)
	for _, m := range []pipeline.LiveMetrics{first, second} {
		assert.Equal(t, uint64(3), m.ActiveUsers, "a, b and c: the range up to [1,2)'s end")
		assert.Equal(t, aggregate.BySeverity{0, 3, 0, 0, 0}, m.BySeverity, "3 low")
	}
	h.close()
}

// Late events within the allowed lateness update their window but are not
// sampled to the live view again: [0,1) keeps its one sample.
func TestProcessorSamplesNoLateEvents(t *testing.T) {
	hub := &hubRecorder{msgs: map[string][]any{}}
	h := newHarness(t, pipeline.Config{Hub: hub, EventsPerWindow: 1, AllowedLateness: 10 * time.Second})
	h.send(
		event(100*time.Millisecond, "login", "a")+"\n"+event(2500*time.Millisecond, "login", "b"), // [0,1) fires
		event(200*time.Millisecond, "login", "c"),                                                 // late, updates [0,1)
		event(300*time.Millisecond, "login", "d"),                                                 // late again
	)
	h.waitMessages(3)
	h.close()
	var users []string
	for _, ev := range hub.get(pipeline.TopicEvents) {
		users = append(users, ev.(rdr.Event).UserID)
	}
	assert.Equal(t, []string{"a", "b"}, users)
	assert.Equal(t, uint64(2), h.proc.Stats().Updates)
}

// burstSubscriber hands every published message to the router at once,
// without waiting for acks, as a Kafka subscriber does across partitions:
// the router then runs their handlers concurrently.
type burstSubscriber struct {
	ch   chan *message.Message
	once sync.Once
}

func (s *burstSubscriber) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	return s.ch, nil
}

func (s *burstSubscriber) Close() error {
	s.once.Do(func() { close(s.ch) })
	return nil
}

// gatedSink holds its first window write until the gate opens, and records
// each write when it completes.
type gatedSink struct {
	recorder
	gate   chan struct{}
	passed atomic.Bool
}

func (g *gatedSink) WriteWindow(ctx context.Context, w sink.WindowResult) error {
	if g.passed.CompareAndSwap(false, true) {
		<-g.gate
	}
	return g.recorder.WriteWindow(ctx, w)
}

// A window's late update must reach the sinks after the result it
// replaces, even when the handler that fired the first result is still
// emitting it while another handler fires the update: InfluxDB keeps the
// last point written for a window, so the other order loses the late
// events.
func TestProcessorEmitsWindowResultsInOrder(t *testing.T) {
	sub := &burstSubscriber{ch: make(chan *message.Message, 2)}
	outputs := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	t.Cleanup(func() { _ = outputs.Close() })
	gs := &gatedSink{gate: make(chan struct{})}
	proc, err := pipeline.New(pipeline.Config{
		Subscriber: sub, Publisher: outputs, Sinks: []sink.Sink{gs},
		AllowedLateness: 10 * time.Second, Clock: rdr.NewFakeClock(t0.Add(5 * time.Minute)),
		Tick: time.Hour,
	})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- proc.Run(context.Background()) }()
	<-proc.Running()

	// The first message fires [0s,1s) with one event; its emit blocks in
	// the sink. The second brings a late event for that window: an update.
	sub.ch <- message.NewMessage("1", []byte("["+event(100*time.Millisecond, "login", "a")+","+event(2500*time.Millisecond, "login", "b")+"]"))
	waitStats(t, proc, func(s pipeline.Stats) bool { return s.Windows == 1 })
	sub.ch <- message.NewMessage("2", []byte(event(200*time.Millisecond, "login", "c")))
	waitStats(t, proc, func(s pipeline.Stats) bool { return s.Updates == 1 })
	// Give the second handler time to write, were it allowed to overtake.
	deadline := time.Now().Add(200 * time.Millisecond)
	for len(gs.counts()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(gs.gate)
	require.NoError(t, proc.Close())
	require.NoError(t, <-done)

	assert.Equal(t, []windowCount{
		{"10:00:00.000", "10:00:01.000", 1, false},
		{"10:00:00.000", "10:00:01.000", 2, true},
		{"10:00:02.000", "10:00:03.000", 1, false},
	}, gs.counts())
}

func waitStats(t *testing.T, p *pipeline.Processor, cond func(pipeline.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond(p.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("stats never got there: %+v", p.Stats())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// An event too late for its window still reaches detection, on its own
// event time: a brute force whose logs arrive 2 minutes late, while
// current traffic flows, is alerted on.
func TestProcessorLateEventsAreStillDetected(t *testing.T) {
	h := newHarness(t, pipeline.Config{AllowedLateness: 10 * time.Second, Rules: func() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil }})
	var current []string
	for i := range 50 { // current traffic: 3 minutes in, one event a second
		current = append(current, event(3*time.Minute+time.Duration(i)*time.Second, "login", "alice"))
	}
	h.send(current...)
	var late []string
	for i := range 11 { // stamped 2 minutes before the current traffic
		late = append(late, event(time.Minute+time.Duration(i)*time.Second, "login_failed", "mallory"))
	}
	h.send(late...)
	h.waitMessages(61)
	st := h.proc.Stats()
	assert.Equal(t, uint64(11), st.Late, "too late for their windows")
	assert.Equal(t, uint64(50), st.Events)

	a := receive(t, h.alerts)
	var got anomaly.Alert
	require.NoError(t, json.Unmarshal(a.Payload, &got))
	assert.Equal(t, "failed-login-burst", got.Rule)
	assert.Equal(t, "mallory", got.Key)
	assert.Equal(t, anomaly.StatusFiring, got.Status)
	assert.Equal(t, 5.0, got.Value, "the fifth failed login fires it")
	assert.Equal(t, t0.Add(time.Minute+4*time.Second), got.LastSeen.UTC())
	h.close()
}

// Close is bounded even when a sink blocks: an InfluxDB sink whose server
// is unreachable and whose buffer is full holds the handler in its
// backpressure wait; Close waits CloseTimeout for it, cancels the write,
// and returns with an error naming what was not written. (goleak checks,
// in TestMain, that nothing is left running.)
func TestProcessorCloseIsBoundedWithABlockedSink(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	influx, err := sink.NewInflux(sink.InfluxConfig{URL: dead, Bucket: "rdr", MaxPending: 2, BatchSize: 1,
		RetryInterval: 10 * time.Millisecond, MaxRetryInterval: 50 * time.Millisecond, CloseTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	h := newHarness(t, pipeline.Config{Sinks: []sink.Sink{influx}, CloseTimeout: 300 * time.Millisecond})
	// Each message fires the window before it: one window, then the sink's
	// two-point buffer is full and the next write waits.
	sent := make(chan struct{})
	go func() { // Publish waits for the handler, which will block
		defer close(sent)
		for i := range 4 {
			if h.pubsub.Publish(pipeline.DefaultTopic, message.NewMessage(watermill.NewUUID(), []byte(event(time.Duration(i)*2*time.Second, "login", "a")))) != nil {
				return
			}
		}
	}()
	require.Eventually(t, func() bool { return influx.Health().Blocked > 0 }, 10*time.Second, time.Millisecond, "the sink blocks: %+v", influx.Health())
	start := time.Now()
	err = h.proc.Close()
	took := time.Since(start)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "in-flight messages not done after 300ms: sink writes cancelled")
	assert.Contains(t, err.Error(), "points not written")
	assert.Less(t, took, 20*time.Second, "Close returned (it used to wait for the sink for ever)")
	t.Logf("Close returned in %s: %v", took.Round(time.Millisecond), err)
	assert.Positive(t, h.proc.Stats().SinkErrors)
	<-h.done
	require.NoError(t, h.pubsub.Close()) // the publisher still waiting gives up
	<-sent
}

// multiRecorder is a MultiPublisher over the harness's outputs: it records
// the topics of each PublishTopics call and refuses the batches of fail.
type multiRecorder struct {
	message.Publisher
	fail string

	mu    sync.Mutex
	calls [][]string
}

func (m *multiRecorder) PublishTopics(batches []pipeline.TopicMessages) []error {
	errs := make([]error, len(batches))
	var topics []string
	for i, b := range batches {
		topics = append(topics, b.Topic)
		if b.Topic == m.fail {
			errs[i] = errors.New("refused")
			continue
		}
		errs[i] = m.Publisher.Publish(b.Topic, b.Messages...)
	}
	m.mu.Lock()
	m.calls = append(m.calls, topics)
	m.mu.Unlock()
	return errs
}

// A turn's side outputs go to a MultiPublisher in one call, in order, and
// a batch it refuses is counted without losing the others.
func TestProcessorSendsATurnsSideOutputsInOneCall(t *testing.T) {
	mp := &multiRecorder{fail: pipeline.DefaultAlertsTopic}
	h := newHarness(t, pipeline.Config{Publisher: mp, Rules: func() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil }})
	var items []string
	for i := range 5 { // the fifth fires failed-login-burst
		items = append(items, event(time.Duration(i)*time.Second, "login_failed", "mallory"))
	}
	items = append(items, `{"eventType":"login"}`) // no time, no user
	h.send("[" + strings.Join(items, ",") + "]")
	dead := receive(t, h.dlq)
	assert.Equal(t, `{"eventType":"login"}`, string(dead.Payload))
	h.waitMessages(1)
	mp.mu.Lock()
	assert.Equal(t, [][]string{{pipeline.DefaultDeadLetterTopic, pipeline.DefaultAlertsTopic}}, mp.calls)
	mp.mu.Unlock()
	st := h.proc.Stats()
	assert.Equal(t, uint64(5), st.Events)
	assert.Equal(t, uint64(1), st.Invalid)
	assert.Equal(t, uint64(1), st.AlertsFired)
	assert.Equal(t, uint64(1), st.SinkErrors, "the refused alerts batch")
	h.close()
}

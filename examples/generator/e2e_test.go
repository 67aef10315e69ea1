package main

// End-to-end tests of the reference deployment against real services:
// this generator → Apache Kafka → pipeline.Processor (default rules) →
// InfluxDB, the alerts and dead-letter topics, and a WebSocket client of a
// broadcast.Hub. They live here rather than in package pipeline because the
// traffic package (examples/internal/traffic) may only be imported from
// under examples/.
//
// They need RDR_KAFKA_BROKERS and RDR_INFLUX_URL (scripts/services.sh) and
// skip without them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/broadcast"
	"github.com/rdr-go/rdr/examples/internal/servicetest"
	"github.com/rdr-go/rdr/examples/internal/traffic"
	"github.com/rdr-go/rdr/pipeline"
	"github.com/rdr-go/rdr/sink"
)

// env is the real services, from `eval "$(scripts/services.sh env)"`.
type env struct {
	brokers                  []string
	influxURL, token, org    string
	influxDB, influxBucket   string // the database made for this test, and "db/autogen"
	topic, alerts, dlq, late string
	repartition              string // the processors' repartition topic (password-spraying, by IP)
}

var seq atomic.Int64

// newEnv skips without the services, and otherwise makes fresh topics (the
// input with the given partitions) and a fresh InfluxDB database for one
// test, dropped at cleanup.
func newEnv(t *testing.T, partitions int32) *env {
	t.Helper()
	brokers, influxURL := os.Getenv("RDR_KAFKA_BROKERS"), os.Getenv("RDR_INFLUX_URL")
	if brokers == "" || influxURL == "" {
		t.Skip(`RDR_KAFKA_BROKERS or RDR_INFLUX_URL not set: run scripts/services.sh start all; eval "$(scripts/services.sh env)"`)
	}
	id := fmt.Sprintf("%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9, seq.Add(1))
	e := &env{
		brokers:   strings.Split(brokers, ","),
		influxURL: influxURL, token: os.Getenv("RDR_INFLUX_TOKEN"), org: os.Getenv("RDR_INFLUX_ORG"),
		topic: "rdr-e2e-" + id, alerts: "rdr-e2e-alerts-" + id, dlq: "rdr-e2e-dlq-" + id, late: "rdr-e2e-late-" + id,
	}
	e.repartition = e.topic + ".repartition"
	kc := pipeline.KafkaConfig{Brokers: e.brokers}
	require.NoError(t, pipeline.CreateTopic(kc, e.topic, partitions))
	require.NoError(t, pipeline.CreateTopic(kc, e.repartition, partitions))
	for _, topic := range []string{e.alerts, e.dlq, e.late} {
		require.NoError(t, pipeline.CreateTopic(kc, topic, 1))
	}
	e.influxDB = servicetest.InfluxDatabase(t, e.influxURL, e.token, "rdr_e2e")
	e.influxBucket = e.influxDB + "/autogen"
	return e
}

// sent is what the generator sent: every record in order, and the
// injected attacks.
type sent struct {
	start   time.Time
	records []traffic.Record
	truth   []traffic.Attack
	sum     summary
}

func (s *sent) events() []rdr.Event {
	var evs []rdr.Event
	for _, r := range s.records {
		if r.Invalid == "" {
			evs = append(evs, r.Event)
		}
	}
	return evs
}

func (s *sent) invalid() []traffic.Record {
	var out []traffic.Record
	for _, r := range s.records {
		if r.Invalid != "" {
			out = append(out, r)
		}
	}
	return out
}

// recordingOutput keeps a copy of every record it sends. With a throttle,
// it first waits until the consumers have handled all but backlog of the
// records sent before.
type recordingOutput struct {
	output
	records  []traffic.Record
	handled  func() uint64 // records handled by the consumers
	backlog  int
	deadline time.Time
}

func (r *recordingOutput) Send(ctx context.Context, batch []traffic.Record) (int, error) {
	for r.handled != nil && int(r.handled()) < len(r.records)-r.backlog {
		if time.Now().After(r.deadline) {
			return 0, fmt.Errorf("consumers handled %d of %d records", r.handled(), len(r.records))
		}
		time.Sleep(time.Millisecond)
	}
	r.records = append(r.records, batch...)
	return r.output.Send(ctx, batch)
}

// e2eTraffic is the traffic of the end-to-end test: 37 minutes of event
// time ending about now (the decoder refuses events older than 30 days or
// more than an hour ahead), 20 benign events a second from 100 users, an
// attack every 6 minutes — so the volume spike comes last, at minute 36,
// when its quiet victim has the 30 minutes of history the file-access-spike
// rule needs — and an invalid record every 997. About 45,000 events.
func e2eTraffic() (traffic.Config, time.Duration) {
	start := time.Now().UTC().Add(-38 * time.Minute).Truncate(time.Second)
	return traffic.Config{Seed: 42, Start: start, Rate: 20, Users: 100, AttackEvery: 6 * time.Minute, InvalidEvery: 997}, 37 * time.Minute
}

// produce sends the traffic to e.topic through the generator's own Kafka
// output (NDJSON records grouped by partition, keyed by a user of that
// partition) with one producer, so each partition's records keep their
// order, in batches of 100 records, as fast as the processors ins keep up.
//
// Event time runs much faster than in production (a batch covers 5 s of
// the e2e traffic), so the backlog is kept to 1,000 records: with a long
// one the processor's partitions drift minutes apart in event time, and
// rules keyed across partitions (password-spraying, by IP) miss attacks.
func produce(t *testing.T, e *env, cfg traffic.Config, span time.Duration, ins ...*instance) *sent {
	t.Helper()
	ko, err := newKafkaOutput(e.brokers, e.topic, 1)
	require.NoError(t, err)
	out := &recordingOutput{output: ko, backlog: 1000, deadline: time.Now().Add(60 * time.Second)}
	if len(ins) > 0 {
		out.handled = func() uint64 {
			var n uint64
			for _, in := range ins {
				st := in.proc.Stats()
				n += st.Events + st.Invalid + st.Late
			}
			return n
		}
	}
	g := traffic.New(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err := generate(ctx, g, out, options{fast: true, batch: 100, duration: span})
	require.NoError(t, err)
	require.NoError(t, out.Close())
	return &sent{start: cfg.Start, records: out.records, truth: g.Truth(), sum: sum}
}

// recorder is a sink that keeps every alert it is given.
type recorder struct {
	mu     sync.Mutex
	alerts []anomaly.Alert
}

func (r *recorder) WriteWindow(context.Context, sink.WindowResult) error { return nil }

func (r *recorder) WriteAlert(_ context.Context, a anomaly.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, a)
	return nil
}

func (r *recorder) Close() error { return nil }

func (r *recorder) all() []anomaly.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.alerts)
}

// instance is one running processor with its own InfluxDB writer.
type instance struct {
	proc   *pipeline.Processor
	rec    *recorder
	influx *sink.Influx
	pub    message.Publisher
	done   chan error
	closed bool
}

// startProcessor starts a processor in consumer group group, writing to
// InfluxDB as writer. Options may change its config.
func startProcessor(t *testing.T, e *env, group, writer string, hub pipeline.Broadcaster, options ...func(*pipeline.Config)) *instance {
	t.Helper()
	kc := pipeline.KafkaConfig{Brokers: e.brokers, ConsumerGroup: group, ClientID: "rdr-e2e-" + writer}
	sub, err := pipeline.NewKafkaSubscriber(kc, watermill.NopLogger{})
	require.NoError(t, err)
	rsub, err := pipeline.NewKafkaSubscriber(pipeline.RepartitionKafkaConfig(kc), watermill.NopLogger{})
	require.NoError(t, err)
	pub, err := pipeline.NewKafkaPublisher(kc, watermill.NopLogger{})
	require.NoError(t, err)
	influx, err := sink.NewInflux(sink.InfluxConfig{URL: e.influxURL, Token: e.token, Org: e.org, Bucket: e.influxBucket, Writer: writer})
	require.NoError(t, err)
	in := &instance{rec: &recorder{}, influx: influx, pub: pub, done: make(chan error, 1)}
	cfg := pipeline.Config{
		Subscriber: sub, Topic: e.topic, RepartitionTopic: e.repartition, RepartitionSubscriber: rsub,
		Publisher: pub, AlertsTopic: e.alerts, DeadLetterTopic: e.dlq, LateTopic: e.late,
		Rules: func() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil },
		Sinks: []sink.Sink{influx, in.rec},
		Hub:   hub,
	}
	for _, o := range options {
		o(&cfg)
	}
	in.proc, err = pipeline.New(cfg)
	require.NoError(t, err)
	go func() { in.done <- in.proc.Run(context.Background()) }()
	select {
	case <-in.proc.Running():
	case err := <-in.done:
		t.Fatalf("processor %s stopped at start: %v", writer, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("processor %s did not start", writer)
	}
	t.Cleanup(func() { in.close(t) })
	return in
}

// close stops the processor gracefully; its sinks are flushed when it
// returns.
func (in *instance) close(t *testing.T) {
	t.Helper()
	if in.closed {
		return
	}
	in.closed = true
	assert.NoError(t, in.proc.Close())
	assert.NoError(t, <-in.done)
	assert.NoError(t, in.pub.Close())
	st := in.influx.Stats()
	assert.Zero(t, st.Rejected+st.Lost, "InfluxDB points rejected or lost: %s", st.LastError)
}

// waitApplied waits until the instances together have handled n input
// items (valid and invalid).
func waitApplied(t *testing.T, n uint64, timeout time.Duration, ins ...*instance) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var got uint64
		for _, in := range ins {
			st := in.proc.Stats()
			got += st.Events + st.Invalid + st.Late
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processors handled %d of %d items in %s", got, n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// perWindow counts events per event type per second from start, for n
// seconds.
func perWindow(t *testing.T, evs []rdr.Event, start time.Time, n int) map[string][]float64 {
	t.Helper()
	out := map[string][]float64{}
	for _, ev := range evs {
		i := int(ev.Time.Sub(start) / time.Second)
		require.True(t, i >= 0 && i < n, "event at %s outside the query", ev.Time)
		if out[ev.Type] == nil {
			out[ev.Type] = make([]float64, n)
		}
		out[ev.Type][i]++
	}
	return out
}

// storedPerWindow reads the events per type per second back from InfluxDB
// (summed over the writers).
func storedPerWindow(t *testing.T, e *env, start time.Time, n int) map[string][]float64 {
	t.Helper()
	s, err := sink.NewInflux(sink.InfluxConfig{URL: e.influxURL, Token: e.token, Org: e.org, Bucket: e.influxBucket})
	require.NoError(t, err)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := s.History(ctx, sink.Query{Metric: sink.MetricEvents, GroupBy: sink.ByEventType,
		Start: start, Stop: start.Add(time.Duration(n) * time.Second), Interval: time.Second})
	require.NoError(t, err)
	out := map[string][]float64{}
	for _, series := range h.Series {
		vals := make([]float64, len(series.Points))
		for i, p := range series.Points {
			vals[i] = p.V
		}
		out[series.Key] = vals
	}
	return out
}

// assertTotals checks that InfluxDB holds, for every event type and every
// one-second window, exactly as many events as were sent.
func assertTotals(t *testing.T, e *env, s *sent) {
	t.Helper()
	evs := s.events()
	n := int(evs[len(evs)-1].Time.Sub(s.start)/time.Second) + 2
	want := perWindow(t, evs, s.start, n)
	got := storedPerWindow(t, e, s.start, n)
	sum := func(m map[string][]float64) map[string]float64 {
		out := map[string]float64{}
		for k, v := range m {
			for _, x := range v {
				out[k] += x
			}
		}
		return out
	}
	require.Equal(t, sum(want), sum(got), "events per type")
	var diffs []string
	for typ, w := range want {
		g := got[typ]
		for i := range w {
			if w[i] != g[i] {
				diffs = append(diffs, fmt.Sprintf("%s %s: stored %v, sent %v", typ, s.start.Add(time.Duration(i)*time.Second).Format(time.TimeOnly), g[i], w[i]))
			}
		}
	}
	assert.Empty(t, diffs, "windows whose stored counts differ from what was sent")
}

// attackRule is the default rule that catches each injected attack.
var attackRule = map[traffic.Kind]string{
	traffic.BruteForce:         "failed-login-burst",
	traffic.BruteForceSuccess:  "brute-force-success",
	traffic.CredentialStuffing: "password-spraying",
	traffic.NewIP:              "new-login-ip",
	traffic.PrivilegeChange:    "first-privilege-change",
	traffic.VolumeSpike:        "file-access-spike",
}

// alertFor returns the firing alert that detected attack a, or "".
func alertFor(a traffic.Attack, alerts []anomaly.Alert) string {
	for _, al := range alerts {
		if al.Status == anomaly.StatusFiring && al.Rule == attackRule[a.Kind] && al.Key == a.Key &&
			!al.FirstSeen.Before(a.Start) && !al.FirstSeen.After(a.End) {
			return al.ID
		}
	}
	return ""
}

// alertKey identifies one emitted alert message.
func alertKey(a anomaly.Alert) string {
	return fmt.Sprintf("%s/%s/%d", a.ID, a.Status, a.Count)
}

func alertKeys(alerts []anomaly.Alert) []string {
	keys := make([]string, len(alerts))
	for i, a := range alerts {
		keys[i] = alertKey(a)
	}
	slices.Sort(keys)
	return keys
}

// topicReader reads a whole topic with a watermill-kafka subscriber of its
// own consumer group.
type topicReader struct {
	sub  message.Subscriber
	msgs <-chan *message.Message
}

func readTopic(t *testing.T, e *env, topic string) *topicReader {
	t.Helper()
	sub, err := pipeline.NewKafkaSubscriber(pipeline.KafkaConfig{Brokers: e.brokers, ConsumerGroup: topic + "-reader"}, watermill.NopLogger{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })
	msgs, err := sub.Subscribe(context.Background(), topic)
	require.NoError(t, err)
	return &topicReader{sub: sub, msgs: msgs}
}

// take reads n messages, and then checks for a moment that no more come.
func (r *topicReader) take(t *testing.T, n int, timeout time.Duration) []*message.Message {
	t.Helper()
	var out []*message.Message
	deadline := time.After(timeout)
	for len(out) < n {
		select {
		case m := <-r.msgs:
			m.Ack()
			out = append(out, m)
		case <-deadline:
			t.Fatalf("read %d of %d messages in %s", len(out), n, timeout)
		}
	}
	select {
	case m := <-r.msgs:
		m.Ack()
		t.Errorf("more than the %d expected messages: %s %s", n, m.Metadata, m.Payload)
	case <-time.After(500 * time.Millisecond):
	}
	return out
}

// wsClient is a WebSocket client of the hub, subscribed to some topics.
type wsClient struct {
	mu     sync.Mutex
	alerts []anomaly.Alert
	errs   []string
	done   chan struct{}
	conn   *websocket.Conn
}

func dialHub(t *testing.T, hub *broadcast.Hub, topics string) *wsClient {
	t.Helper()
	srv := httptest.NewServer(hub)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"?topics="+topics, nil)
	require.NoError(t, err)
	conn.SetReadLimit(1 << 20)
	c := &wsClient{done: make(chan struct{}), conn: conn}
	go c.read()
	t.Cleanup(func() {
		_ = conn.CloseNow()
		<-c.done
		srv.Close()
	})
	return c
}

func (c *wsClient) read() {
	defer close(c.done)
	for {
		_, b, err := c.conn.Read(context.Background())
		if err != nil {
			return
		}
		var env struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			c.fail("bad envelope %s: %v", b, err)
			continue
		}
		if env.Type == "alert" {
			var a anomaly.Alert
			if err := json.Unmarshal(env.Data, &a); err != nil {
				c.fail("bad alert %s: %v", env.Data, err)
				continue
			}
			c.mu.Lock()
			c.alerts = append(c.alerts, a)
			c.mu.Unlock()
		}
	}
}

func (c *wsClient) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// waitAlerts waits until the client has received n alerts and returns them.
func (c *wsClient) waitAlerts(t *testing.T, n int, timeout time.Duration) []anomaly.Alert {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		got, errs := slices.Clone(c.alerts), slices.Clone(c.errs)
		c.mu.Unlock()
		require.Empty(t, errs)
		if len(got) >= n {
			return got
		}
		select {
		case <-c.done:
			t.Fatalf("WebSocket closed after %d of %d alerts", len(got), n)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("WebSocket client got %d of %d alerts in %s", len(got), n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deadLetterReason is the reason and field the dead-letter output gives an
// invalid record of the generator.
func deadLetterReason(r traffic.Record) (reason, field string) {
	switch r.Invalid {
	case "userId":
		return "rdr: invalid event: field userId: must not be empty", "userId"
	case "severity":
		return `rdr: invalid event: field severity: "urgent" is not one of low, medium, high, critical`, "severity"
	case "timestamp":
		return `rdr: invalid event: field timestamp: "not-a-time" is not an RFC 3339 time`, "timestamp"
	case "malformed": // the record is cut short after a comma
		return fmt.Sprintf("rdr: invalid event: malformed JSON at byte %d: unexpected end of input, want a string", len(r.JSON)), ""
	}
	panic("unknown kind of invalid record " + r.Invalid)
}

func TestEndToEnd(t *testing.T) {
	e := newEnv(t, 6)
	hub, err := broadcast.NewHub(broadcast.Config{QueueSize: 1 << 16}) // the test reads every alert, in bursts
	require.NoError(t, err)
	t.Cleanup(func() { _ = hub.Close() })
	ws := dialHub(t, hub, broadcast.TopicAlerts)
	alertsTopic := readTopic(t, e, e.alerts)
	dlqTopic := readTopic(t, e, e.dlq)

	// The processor runs before the traffic arrives, as in a deployment.
	// The traffic is 37 minutes of history sent in a few seconds, so it is
	// configured as for a replay: the watermark does not follow the wall
	// clock, and a partition counts as idle only after a minute (on a busy
	// machine, one can get no CPU for seconds, and the others would leave
	// it behind). Started on a backlog of it, the processor would also
	// refuse as late the first records of the partitions fetched last: a
	// partition that has sent nothing yet does not hold the watermark back.
	group := "rdr-e2e-" + e.topic
	in := startProcessor(t, e, group, "e2e-1", hub, func(c *pipeline.Config) {
		c.DisableIdleAdvance = true
		c.IdleTimeout = time.Minute
	})
	servicetest.WaitAssigned(t, e.brokers, group, e.topic, 1)

	cfg, span := e2eTraffic()
	s := produce(t, e, cfg, span, in)
	invalid := s.invalid()
	require.Len(t, s.truth, len(traffic.AllKinds), "one attack of each kind")
	require.NotEmpty(t, invalid)
	t.Logf("sent %d events and %d invalid records in %d Kafka records", s.sum.Events, s.sum.Invalid, s.sum.Messages)

	waitApplied(t, uint64(len(s.records)), 45*time.Second, in)
	in.close(t) // flushes the last windows and the sink

	st := in.proc.Stats()
	assert.Equal(t, uint64(s.sum.Events), st.Events, "events applied")
	assert.Equal(t, uint64(len(invalid)), st.Invalid, "invalid records")
	assert.Zero(t, st.Late, "late events")
	assert.Zero(t, st.SinkErrors, "sink errors")

	// InfluxDB holds exactly what was sent, per type and per window.
	assertTotals(t, e, s)

	// Every injected attack raised its alert, and the alerts went to the
	// sinks, the alerts topic and the WebSocket client alike.
	emitted := in.rec.all()
	t.Logf("%d alert messages (firing, updated, resolved)", len(emitted))
	for _, a := range s.truth {
		assert.NotEmpty(t, alertFor(a, emitted), "no %s alert for the %s attack on %s at %s", attackRule[a.Kind], a.Kind, a.Key, a.Start.Format(time.TimeOnly))
	}
	var fromTopic []anomaly.Alert
	for _, m := range alertsTopic.take(t, len(emitted), 30*time.Second) {
		var a anomaly.Alert
		require.NoError(t, json.Unmarshal(m.Payload, &a))
		assert.Equal(t, a.ID, m.Metadata.Get(sink.MetadataAlertID))
		assert.Equal(t, a.Status.String(), m.Metadata.Get(sink.MetadataStatus))
		assert.Equal(t, a.ID, m.Metadata.Get(sink.MetadataPartitionKey), "the alerts topic is keyed by alert ID")
		fromTopic = append(fromTopic, a)
	}
	assert.Equal(t, alertKeys(emitted), alertKeys(fromTopic), "alerts topic")
	assert.Equal(t, alertKeys(emitted), alertKeys(ws.waitAlerts(t, len(emitted), 30*time.Second)), "WebSocket alerts")

	// Every invalid record is in the dead-letter topic, as sent, with its
	// reason.
	dlq := dlqTopic.take(t, len(invalid), 30*time.Second)
	byPayload := map[string]*message.Message{}
	for _, m := range dlq {
		byPayload[string(m.Payload)] = m
	}
	for _, r := range invalid {
		m := byPayload[string(r.JSON)]
		if !assert.NotNil(t, m, "invalid record %s not in the dead-letter topic", r.JSON) {
			continue
		}
		reason, field := deadLetterReason(r)
		assert.Equal(t, reason, m.Metadata.Get(pipeline.MetaError), "reason for %s", r.JSON)
		assert.Equal(t, field, m.Metadata.Get(pipeline.MetaField), "field for %s", r.JSON)
		assert.Equal(t, e.topic, m.Metadata.Get(pipeline.MetaSourceTopic))
	}
}

// liveTraffic is traffic stamped with the wall clock and sent at its pace,
// as in production: 4,000 events a second from 2,000 users, an invalid
// record every 499.
func liveTraffic(seed uint64) traffic.Config {
	return traffic.Config{Seed: seed, Start: time.Now().UTC().Truncate(time.Second), Rate: 4000, InvalidEvery: 499}
}

// produceLive sends live traffic for span in the background; wait returns
// what was sent once it is all in Kafka.
func produceLive(t *testing.T, e *env, cfg traffic.Config, span time.Duration) (wait func() *sent) {
	t.Helper()
	ko, err := newKafkaOutput(e.brokers, e.topic, 1)
	require.NoError(t, err)
	out := &recordingOutput{output: ko}
	g := traffic.New(cfg)
	type result struct {
		sum summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), span+30*time.Second)
		defer cancel()
		sum, err := generate(ctx, g, out, options{batch: 500, duration: span})
		done <- result{sum, errors.Join(err, out.Close())}
	}()
	var once sync.Once
	var r result
	wait = func() *sent {
		once.Do(func() { r = <-done })
		require.NoError(t, r.err)
		return &sent{start: cfg.Start, records: out.records, truth: g.Truth(), sum: r.sum}
	}
	t.Cleanup(func() { wait() })
	return wait
}

// waitEvents waits until in has applied at least n events.
func waitEvents(t *testing.T, in *instance, n uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for in.proc.Stats().Events < n {
		if time.Now().After(deadline) {
			t.Fatalf("processor applied %d of %d events", in.proc.Stats().Events, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// assertExactlyOnce checks that the instances together applied every
// event and every invalid record once, and that InfluxDB holds exactly
// what was sent.
func assertExactlyOnce(t *testing.T, e *env, s *sent, ins ...*instance) {
	t.Helper()
	var events, invalid, late uint64
	for _, in := range ins {
		st := in.proc.Stats()
		t.Logf("instance stats: %+v", st)
		assert.NotZero(t, st.Events, "an instance applied no events")
		events += st.Events
		invalid += st.Invalid
		late += st.Late
	}
	assert.Equal(t, uint64(s.sum.Events), events, "events applied (more: applied twice; fewer: lost)")
	assert.Equal(t, uint64(s.sum.Invalid), invalid, "invalid records")
	assert.Zero(t, late, "late events")
	assertTotals(t, e, s)
}

func TestRestartLosesAndDoublesNothing(t *testing.T) {
	e := newEnv(t, 6)
	group := "rdr-e2e-" + e.topic
	a := startProcessor(t, e, group, "restart-a", nil)
	servicetest.WaitAssigned(t, e.brokers, group, e.topic, 1)
	wait := produceLive(t, e, liveTraffic(7), 10*time.Second)

	// Stop A gracefully in the middle of the stream, and start B in its
	// place: B goes on from what A committed.
	waitEvents(t, a, 12_000)
	a.close(t)
	b := startProcessor(t, e, group, "restart-b", nil)
	s := wait()
	waitApplied(t, uint64(len(s.records)), 30*time.Second, a, b)
	b.close(t)
	t.Logf("sent %d events; A applied %d, B %d", s.sum.Events, a.proc.Stats().Events, b.proc.Stats().Events)
	assertExactlyOnce(t, e, s, a, b)
}

func TestScaleOut(t *testing.T) {
	e := newEnv(t, 6)
	group := "rdr-e2e-" + e.topic
	a := startProcessor(t, e, group, "scale-a", nil)
	b := startProcessor(t, e, group, "scale-b", nil)
	servicetest.WaitAssigned(t, e.brokers, group, e.topic, 2)
	s := produceLive(t, e, liveTraffic(8), 8*time.Second)()
	waitApplied(t, uint64(len(s.records)), 30*time.Second, a, b)
	a.close(t)
	b.close(t)
	t.Logf("sent %d events; A applied %d, B %d", s.sum.Events, a.proc.Stats().Events, b.proc.Stats().Events)
	assertExactlyOnce(t, e, s, a, b)
}

func TestScaleOutWhileConsuming(t *testing.T) {
	e := newEnv(t, 6)
	group := "rdr-e2e-" + e.topic
	a := startProcessor(t, e, group, "join-a", nil)
	servicetest.WaitAssigned(t, e.brokers, group, e.topic, 1)
	wait := produceLive(t, e, liveTraffic(9), 10*time.Second)

	// B joins the group while A is busy: the partitions are rebalanced
	// with messages in flight.
	waitEvents(t, a, 12_000)
	b := startProcessor(t, e, group, "join-b", nil)
	s := wait()
	waitApplied(t, uint64(len(s.records)), 30*time.Second, a, b)
	a.close(t)
	b.close(t)
	t.Logf("sent %d events; A applied %d, B %d", s.sum.Events, a.proc.Stats().Events, b.proc.Stats().Events)
	assertExactlyOnce(t, e, s, a, b)
}

package benchmarks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/coder/websocket"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/broadcast"
	"github.com/rdr-go/rdr/pipeline"
	"github.com/rdr-go/rdr/sink"
)

var (
	numEvents   = flag.Int("rdr.events", 2_000_000, "events BenchmarkEndToEnd pre-produces for each iteration")
	perRecord   = flag.Int("rdr.per-record", 1000, "events per Kafka record (NDJSON), about")
	latencyFor  = flag.Duration("rdr.latency-for", 10*time.Second, "how long BenchmarkLatency sends")
	latencyRate = flag.Int("rdr.latency-rate", 20_000, "events per second BenchmarkLatency sends")
)

const partitions = 6

// services are the real Kafka and InfluxDB of scripts/services.sh.
type services struct {
	brokers               []string
	influxURL, token, org string
}

func needServices(b *testing.B) services {
	b.Helper()
	s := services{influxURL: os.Getenv("RDR_INFLUX_URL"), token: os.Getenv("RDR_INFLUX_TOKEN"), org: os.Getenv("RDR_INFLUX_ORG")}
	if v := os.Getenv("RDR_KAFKA_BROKERS"); v != "" {
		s.brokers = strings.Split(v, ",")
	}
	if len(s.brokers) == 0 || s.influxURL == "" {
		b.Skip(`RDR_KAFKA_BROKERS or RDR_INFLUX_URL not set: run scripts/services.sh start all; eval "$(scripts/services.sh env)"`)
	}
	return s
}

var seq atomic.Int64

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s_%d_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9, seq.Add(1))
}

// newTopic creates a topic for one run and deletes it at cleanup.
func (s services) newTopic(b *testing.B, n int32) string {
	b.Helper()
	topic := uniqueName("rdr-bench")
	if err := pipeline.CreateTopic(pipeline.KafkaConfig{Brokers: s.brokers}, topic, n); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		sc := sarama.NewConfig()
		sc.Version = sarama.V3_6_0_0
		if admin, err := sarama.NewClusterAdmin(s.brokers, sc); err == nil {
			_ = admin.DeleteTopic(topic)
			_ = admin.Close()
		}
	})
	return topic
}

// newBucket creates an InfluxDB 1.8 database for one run, dropped at
// cleanup, and returns its bucket name.
func (s services) newBucket(b *testing.B) string {
	b.Helper()
	db := uniqueName("rdr_bench")
	s.influxQL(b, fmt.Sprintf("CREATE DATABASE %q", db))
	b.Cleanup(func() { s.influxQL(b, fmt.Sprintf("DROP DATABASE %q", db)) })
	return db + "/autogen"
}

func (s services) influxQL(b *testing.B, stmt string) {
	b.Helper()
	form := url.Values{"q": {stmt}}
	if u, p, ok := strings.Cut(s.token, ":"); ok {
		form.Set("u", u)
		form.Set("p", p)
	}
	client := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Post(s.influxURL+"/query", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		b.Fatalf("%s: %v", stmt, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("%s: %s: %s", stmt, resp.Status, body.String())
	}
}

// maker makes a realistic mix of events: 20,000 users with Zipf-distributed
// activity, each from its own address, with the generator's event types.
type maker struct {
	rng  *rand.Rand
	zipf *rand.Zipf
}

const users = 20_000

var kinds = []struct {
	typ    string
	weight int
	sev    rdr.Severity
}{
	{"file_access", 400, rdr.SeverityLow}, {"api_call", 270, rdr.SeverityLow}, {"login_success", 140, rdr.SeverityLow},
	{"logout", 110, rdr.SeverityLow}, {"file_delete", 55, rdr.SeverityMedium}, {"password_reset", 20, rdr.SeverityMedium},
	{"login_failed", 5, rdr.SeverityMedium},
}

var apps = []rdr.Metadata{rdr.MakeMetadata("app", "vpn"), rdr.MakeMetadata("app", "mail"), rdr.MakeMetadata("app", "crm"), rdr.MakeMetadata("app", "git")}

func newMaker(seed uint64) *maker {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	return &maker{rng: rng, zipf: rand.NewZipf(rng, 1.1, 4, users-1)}
}

func (m *maker) event(t time.Time) rdr.Event {
	r := m.rng.IntN(1000)
	k := kinds[0]
	for _, c := range kinds {
		if r < c.weight {
			k = c
			break
		}
		r -= c.weight
	}
	u := int(m.zipf.Uint64())
	return rdr.Event{
		Time: t, Type: k.typ, UserID: fmt.Sprintf("u-%05d", u), Severity: k.sev,
		IP:       netip.AddrFrom4([4]byte{10, byte(u >> 16), byte(u >> 8), byte(u)}),
		Metadata: apps[u%len(apps)],
	}
}

// producer publishes records with one goroutine per partition, so each
// partition's records keep their order.
type producer struct {
	pub   message.Publisher
	topic string
	work  [partitions]chan []*message.Message
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error
}

func newProducer(b *testing.B, s services, topic string) *producer {
	b.Helper()
	pub, err := pipeline.NewKafkaPublisher(pipeline.KafkaConfig{Brokers: s.brokers, ClientID: "rdr-bench-producer"}, watermill.NopLogger{})
	if err != nil {
		b.Fatal(err)
	}
	p := &producer{pub: pub, topic: topic}
	for i := range p.work {
		p.work[i] = make(chan []*message.Message, 4)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for ms := range p.work[i] {
				if err := pub.Publish(topic, ms...); err != nil {
					p.mu.Lock()
					p.err = err
					p.mu.Unlock()
				}
			}
		}()
	}
	return p
}

// send publishes events as one NDJSON record per partition.
func (p *producer) send(events []rdr.Event) {
	for _, m := range pipeline.PartitionBatches(events, partitions) {
		p.work[pipeline.PartitionOf(m.Metadata.Get(pipeline.MetaPartitionKey), partitions)] <- []*message.Message{m}
	}
}

// sendEach publishes events one a record, keyed by user, each partition's
// records in one produce request.
func (p *producer) sendEach(events []rdr.Event) {
	var byPartition [partitions][]*message.Message
	for _, ev := range events {
		m := message.NewMessage(watermill.NewUUID(), rdr.AppendJSON(nil, ev))
		m.Metadata.Set(pipeline.MetaPartitionKey, ev.UserID)
		i := pipeline.PartitionOf(ev.UserID, partitions)
		byPartition[i] = append(byPartition[i], m)
	}
	for i, ms := range byPartition {
		if len(ms) > 0 {
			p.work[i] <- ms
		}
	}
}

func (p *producer) close(b *testing.B) {
	b.Helper()
	for _, w := range p.work {
		close(w)
	}
	p.wg.Wait()
	if err := p.pub.Close(); err != nil {
		b.Fatal(err)
	}
	if p.err != nil {
		b.Fatal(p.err)
	}
}

// backlog pre-produces n events spread evenly over the last n/20,000
// seconds of event time.
func backlog(b *testing.B, s services, topic string, n int) {
	b.Helper()
	p := newProducer(b, s, topic)
	m := newMaker(1)
	step := time.Second / 20_000
	start := time.Now().UTC().Add(-time.Duration(n)*step - 10*time.Second)
	chunk := make([]rdr.Event, 0, *perRecord*partitions)
	for i := range n {
		chunk = append(chunk, m.event(start.Add(time.Duration(i)*step)))
		if len(chunk) == cap(chunk) || i == n-1 {
			p.send(chunk)
			chunk = chunk[:0]
		}
	}
	p.close(b)
}

type run struct {
	proc   *pipeline.Processor
	influx *sink.Influx
	done   chan error
}

// start runs a processor on topic with the InfluxDB sink, the default
// rules and hub.
func start(b *testing.B, s services, topic, bucket string, hub pipeline.Broadcaster, opts func(*pipeline.Config)) *run {
	b.Helper()
	kc := pipeline.KafkaConfig{Brokers: s.brokers, ConsumerGroup: topic + "-processor", ClientID: "rdr-bench"}
	sub, err := pipeline.NewKafkaSubscriber(kc, watermill.NopLogger{})
	if err != nil {
		b.Fatal(err)
	}
	influx, err := sink.NewInflux(sink.InfluxConfig{URL: s.influxURL, Token: s.token, Org: s.org, Bucket: bucket, Writer: topic})
	if err != nil {
		b.Fatal(err)
	}
	cfg := pipeline.Config{Subscriber: sub, Topic: topic, Rules: func() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil }, Sinks: []sink.Sink{influx}, Hub: hub}
	if opts != nil {
		opts(&cfg)
	}
	proc, err := pipeline.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	r := &run{proc: proc, influx: influx, done: make(chan error, 1)}
	go func() { r.done <- proc.Run(context.Background()) }()
	return r
}

// stop closes the processor (which flushes the sinks) and checks that
// InfluxDB took every point.
func (r *run) stop(b *testing.B) {
	b.Helper()
	if err := r.proc.Close(); err != nil {
		b.Fatal(err)
	}
	if err := <-r.done; err != nil {
		b.Fatal(err)
	}
	if st := r.influx.Stats(); st.Written == 0 || st.Rejected+st.Lost > 0 || st.Pending > 0 {
		b.Fatalf("InfluxDB sink: %+v", st)
	}
}

// handled is how many input items the processor has dealt with.
func handled(p *pipeline.Processor) uint64 {
	st := p.Stats()
	return st.Events + st.Invalid + st.Late
}

// BenchmarkEndToEnd runs the processor on a backlog, with its state
// checkpointed every second to a compacted Kafka topic, and without
// checkpoints: the ratio of the two is the checkpoints' cost.
func BenchmarkEndToEnd(b *testing.B) {
	s := needServices(b)
	hub, err := broadcast.NewHub(broadcast.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer hub.Close()
	for _, checkpoints := range []bool{false, true} {
		b.Run(fmt.Sprintf("checkpoints=%v", checkpoints), func(b *testing.B) { benchEndToEnd(b, s, hub, checkpoints) })
	}
}

func benchEndToEnd(b *testing.B, s services, hub pipeline.Broadcaster, checkpoints bool) {
	n := *numEvents
	var elapsed, applyTime time.Duration
	var total, late, mallocs, allocBytes, saved uint64
	b.ReportAllocs()
	b.StopTimer()
	for range b.N {
		topic, bucket := s.newTopic(b, partitions), s.newBucket(b)
		backlog(b, s, topic, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)

		b.StartTimer()
		t0 := time.Now()
		// A replay of recent history: the watermark follows the events
		// only, and a partition starved of CPU for a while is not left
		// behind as idle.
		var store *pipeline.KafkaCheckpoints
		if checkpoints {
			kc := pipeline.KafkaConfig{Brokers: s.brokers, ConsumerGroup: topic + "-processor"}
			if err := pipeline.CreateCheckpointTopic(kc, topic+"-cp", partitions); err != nil {
				b.Fatal(err)
			}
			var err error
			if store, err = pipeline.NewKafkaCheckpoints(pipeline.KafkaCheckpointsConfig{Kafka: kc, Topic: topic + "-cp"}); err != nil {
				b.Fatal(err)
			}
		}
		r := start(b, s, topic, bucket, hub, func(c *pipeline.Config) {
			c.DisableIdleAdvance = true
			c.IdleTimeout = time.Minute
			if store != nil {
				c.Checkpoints, c.CheckpointInterval = store, time.Second
			}
		})
		deadline := t0.Add(10 * time.Minute)
		for handled(r.proc) < uint64(n) {
			if time.Now().After(deadline) {
				b.Fatalf("applied %d of %d events in 10 minutes", handled(r.proc), n)
			}
			time.Sleep(2 * time.Millisecond)
		}
		applyTime += time.Since(t0)
		r.stop(b)
		elapsed += time.Since(t0)
		b.StopTimer()
		if store != nil {
			saved += r.proc.Stats().Checkpoints
			store.Close()
		}

		runtime.ReadMemStats(&after)
		mallocs += after.Mallocs - before.Mallocs
		allocBytes += after.TotalAlloc - before.TotalAlloc
		st := r.proc.Stats()
		if st.Events+st.Late != uint64(n) || st.Invalid != 0 {
			b.Fatalf("processor stats %+v, want %d events", st, n)
		}
		total += uint64(n)
		late += st.Late
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(total)/applyTime.Seconds(), "applied-events/s")
	b.ReportMetric(float64(mallocs)/float64(total), "allocs/event")
	b.ReportMetric(float64(allocBytes)/float64(total), "B/event")
	b.ReportMetric(float64(late), "late-events")
	b.ReportMetric(float64(saved)/float64(b.N), "checkpoints/op")
}

// wsEvents collects the event-time latency of the events a WebSocket
// client of the hub receives.
type wsEvents struct {
	from    time.Time // events stamped before are warm-up, not measured
	mu      sync.Mutex
	latency []time.Duration
	bad     int
}

func (w *wsEvents) read(ctx context.Context, conn *websocket.Conn) {
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		now := time.Now()
		var env struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		var ev rdr.Event
		if err := json.Unmarshal(data, &env); err == nil && env.Type != "event" {
			continue // hello
		} else if err == nil {
			err = json.Unmarshal(env.Data, &ev)
		}
		if err != nil {
			w.mu.Lock()
			w.bad++
			w.mu.Unlock()
			continue
		}
		if ev.Time.Before(w.from) {
			continue
		}
		w.mu.Lock()
		w.latency = append(w.latency, now.Sub(ev.Time))
		w.mu.Unlock()
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func BenchmarkLatency(b *testing.B) {
	s := needServices(b)
	b.Run("records=1", func(b *testing.B) { benchLatency(b, s, true) })
	b.Run("records=batched", func(b *testing.B) { benchLatency(b, s, false) })
}

// benchLatency is BenchmarkLatency with one event a record (each) or the
// events of 10 ms in one record a partition.
func benchLatency(b *testing.B, s services, each bool) {
	var all []time.Duration
	b.StopTimer()
	for range b.N {
		topic, bucket := s.newTopic(b, partitions), s.newBucket(b)
		hub, err := broadcast.NewHub(broadcast.Config{})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(hub)
		r := start(b, s, topic, bucket, hub, func(c *pipeline.Config) { c.EventsPerWindow = 100 })
		select {
		case <-r.proc.Running():
		case <-time.After(30 * time.Second):
			b.Fatal("processor did not start")
		}
		ctx, cancel := context.WithCancel(context.Background())
		conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"?topics=events", nil)
		if err != nil {
			b.Fatal(err)
		}
		// The first second warms up: the consumer group is still being
		// joined when the first events are sent.
		ws := &wsEvents{from: time.Now().Add(time.Second)}
		readDone := make(chan struct{})
		go func() { defer close(readDone); ws.read(ctx, conn) }()

		// Send every 10 ms the events of those 10 ms, stamped with the
		// time they are sent.
		p := newProducer(b, s, topic)
		m := newMaker(2)
		perTick := *latencyRate / 100
		tick := time.NewTicker(10 * time.Millisecond)
		end := time.Now().Add(time.Second + *latencyFor)
		sent := 0
		b.StartTimer()
		batch := make([]rdr.Event, perTick)
		for now := time.Now(); now.Before(end); now = <-tick.C {
			for i := range batch {
				batch[i] = m.event(time.Now().UTC())
			}
			if each {
				p.sendEach(batch)
			} else {
				p.send(batch)
			}
			sent += perTick
		}
		tick.Stop()
		p.close(b)
		deadline := time.Now().Add(30 * time.Second)
		for handled(r.proc) < uint64(sent) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if h := handled(r.proc); h != uint64(sent) {
			b.Fatalf("the processor applied %d of the %d events sent, 30 s after the last", h, sent)
		}
		b.StopTimer()
		time.Sleep(200 * time.Millisecond) // the last hub messages
		r.stop(b)
		cancel()
		_ = conn.CloseNow()
		<-readDone
		_ = hub.Close()
		srv.Close()
		if ws.bad > 0 {
			b.Fatalf("%d bad WebSocket messages", ws.bad)
		}
		all = append(all, ws.latency...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		b.Fatal("no events reached the WebSocket client")
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(all, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(all, 0.90)), "p90-ms")
	b.ReportMetric(ms(percentile(all, 0.99)), "p99-ms")
	b.ReportMetric(ms(all[len(all)-1]), "max-ms")
	b.ReportMetric(float64(len(all))/float64(b.N), "samples")
}

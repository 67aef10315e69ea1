package benchmarks_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/broadcast"
	"github.com/rdr-go/rdr/pipeline"
	"github.com/rdr-go/rdr/sink"
)

var (
	suiteEvents  = flag.Int("rdr.suite-events", 300_000, "events BenchmarkSuite pre-produces for each iteration")
	suiteProfile = flag.String("rdr.suite-cpuprofile", "", "write a CPU profile of BenchmarkSuite's timed parts (the processor, not the producer) to this file, one per sub-benchmark: NAME.records=1.traffic=quiet.prof")
	suiteAllocs  = flag.String("rdr.suite-memprofile", "", "write allocation profiles at the start and the end of BenchmarkSuite's timed parts, one pair per sub-benchmark (NAME.records=1.traffic=quiet.start.prof and .end.prof): go tool pprof -sample_index=alloc_space -diff_base START END shows what the processor allocated")
)

// stormMaker makes the traffic of the alert storm: 5,000 users, 8 event
// types, a random address for every event, so that the novelty and
// address-diversity rules raise or update alerts for about 1% of the
// events or more (the suite reports the exact share).
type stormMaker struct{ rng *rand.Rand }

var stormKinds = []string{"login_success", "login_failed", "logout", "file_access", "file_delete", "api_call", "password_reset", "mfa_challenge"}

func (m *stormMaker) event(t time.Time) rdr.Event {
	u := m.rng.IntN(5000)
	return rdr.Event{
		Time: t, Type: stormKinds[m.rng.IntN(len(stormKinds))], UserID: fmt.Sprintf("u-%05d", u),
		Severity: rdr.Severity(1 + m.rng.IntN(2)),
		IP:       netip.AddrFrom4([4]byte{10, byte(m.rng.IntN(256)), byte(m.rng.IntN(256)), byte(m.rng.IntN(256))}),
		Metadata: apps[u%len(apps)],
	}
}

// suiteBacklog pre-produces n events of the traffic, perRec events a
// record, spread over the last n/20,000 seconds of event time.
func suiteBacklog(b *testing.B, s services, topic string, n, perRec int, storm bool) {
	b.Helper()
	p := newProducer(b, s, topic)
	quiet, loud := newMaker(1), &stormMaker{rng: rand.New(rand.NewPCG(7, 8))}
	step := time.Second / 20_000
	start := time.Now().UTC().Add(-time.Duration(n)*step - 10*time.Second)
	chunk := make([]rdr.Event, 0, perRec*partitions)
	if perRec == 1 {
		chunk = make([]rdr.Event, 0, 3000) // one event a record, many records a produce request
	}
	for i := range n {
		t := start.Add(time.Duration(i) * step)
		if storm {
			chunk = append(chunk, loud.event(t))
		} else {
			chunk = append(chunk, quiet.event(t))
		}
		if len(chunk) == cap(chunk) || i == n-1 {
			if perRec == 1 {
				p.sendEach(chunk)
			} else {
				p.send(chunk)
			}
			chunk = chunk[:0]
		}
	}
	p.close(b)
}

// startProfile starts the profiles of -rdr.suite-cpuprofile and
// -rdr.suite-memprofile for b's timed part and returns what stops them.
func startProfile(b *testing.B) func() {
	base := strings.ReplaceAll(strings.TrimPrefix(b.Name(), "BenchmarkSuite/"), "/", ".")
	stopCPU := func() {}
	if *suiteProfile != "" {
		f, err := os.Create(*suiteProfile + "." + base + ".prof")
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		stopCPU = func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if *suiteAllocs == "" {
		return stopCPU
	}
	writeAllocs := func(suffix string) {
		// The allocation profile is as of the last GC: one now makes it
		// current (it is a profiling run, not a timing one).
		runtime.GC()
		f, err := os.Create(*suiteAllocs + "." + base + suffix)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	writeAllocs(".start.prof")
	return func() {
		stopCPU()
		writeAllocs(".end.prof")
	}
}

// machineBusy is the CPU time all processes of the machine have used so
// far (/proc/stat: user, nice, system, irq, softirq, steal), so that the
// broker's and InfluxDB's share of the work is counted too; 0 where
// /proc/stat cannot be read.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// processBusy is the CPU time (user + system) the process whose pid is in
// the environment variable env has used so far, from /proc/PID/stat; ok is
// false where env is unset or the process cannot be read. scripts/services.sh
// env exports the broker's (RDR_KAFKA_PID) and InfluxDB's (RDR_INFLUX_PID).
func processBusy(env string) (busy time.Duration, ok bool) {
	pid := os.Getenv(env)
	if pid == "" {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// the fields after its closing one start with field 3, the state.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	var ticks int64
	for _, s := range f[11:13] { // fields 14 and 15: utime, stime
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100, true // USER_HZ
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countingHub is the live hub that also counts the alert messages (raised,
// updated, resolved) the processor publishes.
type countingHub struct {
	pipeline.Broadcaster
	alerts atomic.Uint64 // tasks publish from their own goroutines
}

func (h *countingHub) Publish(topic string, data any) error {
	if topic == pipeline.TopicAlerts {
		h.alerts.Add(1)
	}
	return h.Broadcaster.Publish(topic, data)
}

// BenchmarkSuite measures what users run: the reference app's wiring
// (default rules, live hub, window partials to Kafka read back by a
// GlobalView, re-keying through a repartition topic, checkpoints every 5 s
// to a compacted topic, InfluxDB with roll-ups) on a backlog of
// rdr.suite-events events in a 6-partition topic, for records of one event
// (what Filebeat, Vector, Fluent Bit, Kafka Connect and most apps produce)
// and of 500, with quiet traffic and with an alert storm. It reports
// events/s (from the processor's start to its close, the last windows
// flushed to InfluxDB), steady-events/s (from the first event applied to
// the last: without the consumer group's join and the close), start-ms
// (from the start to the first event applied: the groups' join and the
// first fetch) and close-ms (from the last event applied to Close's
// return: the in-flight messages, the stop's checkpoint, the sinks'
// flush), CPU per
// event (user + system, the whole process: the producer is done before
// the timer starts), machine CPU per event (every process, the broker's
// and InfluxDB's too, from /proc/stat: other work on the machine shows
// in it), the broker's and InfluxDB's own CPU per event where
// RDR_KAFKA_PID and RDR_INFLUX_PID name them, the points written to
// InfluxDB and the write requests (a run's), allocs/event, the alert
// messages per event, the task checkpoints saved and the processor's sends
// to Kafka (a run's), and the events lost to lateness (which must be 0).
func BenchmarkSuite(b *testing.B) {
	s := needServices(b)
	for _, perRec := range []int{1, 500} {
		for _, storm := range []bool{false, true} {
			traffic := "quiet"
			if storm {
				traffic = "storm"
			}
			b.Run(fmt.Sprintf("records=%d/traffic=%s", perRec, traffic), func(b *testing.B) { benchSuite(b, s, perRec, storm) })
		}
	}
}

func benchSuite(b *testing.B, s services, perRec int, storm bool) {
	n := *suiteEvents
	var elapsed, steady, startup, closing, cpu, machine, broker, influxd time.Duration
	_, brokerKnown := processBusy("RDR_KAFKA_PID")
	_, influxKnown := processBusy("RDR_INFLUX_PID")
	var total, late, mallocs, alerts, points, writes, checkpoints, sends uint64
	b.ReportAllocs()
	b.StopTimer()
	for range b.N {
		topic, bucket := s.newTopic(b, partitions), s.newBucket(b)
		kc := pipeline.KafkaConfig{Brokers: s.brokers, ConsumerGroup: topic + "-processor", ClientID: "rdr-suite"}
		for _, t := range []string{topic + ".repartition", topic + ".partials"} {
			if err := pipeline.CreateTopic(kc, t, partitions); err != nil {
				b.Fatal(err)
			}
		}
		if err := pipeline.CreateCheckpointTopic(kc, topic+".cp", partitions); err != nil {
			b.Fatal(err)
		}
		suiteBacklog(b, s, topic, n, perRec, storm)

		hub, err := broadcast.NewHub(broadcast.Config{})
		if err != nil {
			b.Fatal(err)
		}
		counting := &countingHub{Broadcaster: hub}
		sub, err := pipeline.NewKafkaSubscriber(kc, watermill.NopLogger{})
		if err != nil {
			b.Fatal(err)
		}
		rsub, err := pipeline.NewKafkaSubscriber(pipeline.RepartitionKafkaConfig(kc), watermill.NopLogger{})
		if err != nil {
			b.Fatal(err)
		}
		pub, err := pipeline.NewKafkaPublisher(kc, watermill.NopLogger{})
		if err != nil {
			b.Fatal(err)
		}
		vs, err := pipeline.NewKafkaViewSubscriber(kc, watermill.NopLogger{})
		if err != nil {
			b.Fatal(err)
		}
		view, err := pipeline.NewGlobalView(pipeline.GlobalViewConfig{Subscriber: vs, Topic: topic + ".partials"})
		if err != nil {
			b.Fatal(err)
		}
		store, err := pipeline.NewKafkaCheckpoints(pipeline.KafkaCheckpointsConfig{Kafka: kc, Topic: topic + ".cp"})
		if err != nil {
			b.Fatal(err)
		}
		influx, err := sink.NewInflux(sink.InfluxConfig{URL: s.influxURL, Token: s.token, Org: s.org, Bucket: bucket, RollUp: true})
		if err != nil {
			b.Fatal(err)
		}
		mem, err := sink.NewMemory(sink.MemoryConfig{})
		if err != nil {
			b.Fatal(err)
		}
		proc, err := pipeline.New(pipeline.Config{
			Subscriber: sub, Topic: topic, Publisher: pub,
			DeadLetterTopic: topic + ".dlq", LateTopic: topic + ".late", PartialsTopic: topic + ".partials",
			RepartitionTopic: topic + ".repartition", RepartitionSubscriber: rsub,
			Checkpoints: store, CheckpointInterval: 5 * time.Second,
			Rules: func() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil },
			Sinks: []sink.Sink{mem, influx}, Hub: counting, View: view,
			// A backlog: the watermark follows the events only, as with
			// the dashboard's -replay, so no partition starved of CPU is
			// taken as idle.
			DisableIdleAdvance: true, IdleTimeout: time.Minute,
		})
		if err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		viewDone := make(chan error, 1)
		go func() { viewDone <- view.Run(context.Background()) }()

		stopProfile := startProfile(b)
		b.StartTimer()
		t0, c0, m0 := time.Now(), cpuTime(), machineBusy()
		k0, _ := processBusy("RDR_KAFKA_PID")
		i0, _ := processBusy("RDR_INFLUX_PID")
		done := make(chan error, 1)
		go func() { done <- proc.Run(context.Background()) }()
		deadline := t0.Add(20 * time.Minute)
		var first time.Time // the first event applied: the group joined, the partitions assigned
		for h := handled(proc); h < uint64(n); h = handled(proc) {
			if time.Now().After(deadline) {
				b.Fatalf("applied %d of %d events in 20 minutes", h, n)
			}
			if first.IsZero() && h > 0 {
				first = time.Now()
			}
			time.Sleep(2 * time.Millisecond)
		}
		last := time.Now()
		if first.IsZero() {
			first = last
		}
		steady += last.Sub(first)
		startup += first.Sub(t0)
		if err := proc.Close(); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		closing += time.Since(last)
		elapsed += time.Since(t0)
		cpu += cpuTime() - c0
		machine += machineBusy() - m0
		k1, _ := processBusy("RDR_KAFKA_PID")
		i1, _ := processBusy("RDR_INFLUX_PID")
		broker, influxd = broker+k1-k0, influxd+i1-i0
		b.StopTimer()
		stopProfile()

		runtime.ReadMemStats(&after)
		mallocs += after.Mallocs - before.Mallocs
		st := proc.Stats()
		if st.Events+st.Late != uint64(n) || st.Invalid != 0 {
			b.Fatalf("processor stats %+v, want %d events", st, n)
		}
		ist := influx.Stats()
		if ist.Rejected+ist.Lost > 0 {
			b.Fatalf("InfluxDB sink: %+v", ist)
		}
		points, writes = points+ist.Written, writes+ist.Batches
		sends += pub.Stats().Sends
		total += uint64(n)
		late += st.Late
		checkpoints += st.Checkpoints
		alerts += counting.alerts.Load()
		for _, c := range []interface{ Close() error }{view, influx, mem, store, pub, hub} {
			if err := c.Close(); err != nil {
				b.Fatal(err)
			}
		}
		if err := <-viewDone; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(total)/steady.Seconds(), "steady-events/s")
	b.ReportMetric(startup.Seconds()*1000/float64(b.N), "start-ms")
	b.ReportMetric(closing.Seconds()*1000/float64(b.N), "close-ms")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(total), "cpu-ns/event")
	if machine > 0 {
		b.ReportMetric(float64(machine.Nanoseconds())/float64(total), "machine-cpu-ns/event")
	}
	if brokerKnown {
		b.ReportMetric(float64(broker.Nanoseconds())/float64(total), "broker-cpu-ns/event")
	}
	if influxKnown {
		b.ReportMetric(float64(influxd.Nanoseconds())/float64(total), "influxd-cpu-ns/event")
	}
	b.ReportMetric(float64(mallocs)/float64(total), "allocs/event")
	b.ReportMetric(float64(alerts)/float64(total)*100, "alert-msgs-%")
	b.ReportMetric(float64(points)/float64(b.N), "influx-points")
	b.ReportMetric(float64(writes)/float64(b.N), "influx-writes")
	b.ReportMetric(float64(late), "late-events")
	// Tasks checkpoint every 5 s and at the close: a run that lasts past
	// 5 s saves twice, and under the storm each save is megabytes.
	b.ReportMetric(float64(checkpoints)/float64(b.N), "checkpoints")
	// The processor's sends to Kafka (not the checkpoints'): a produce
	// request each, which costs the broker about as much whatever it holds
	// (BenchmarkBrokerRequest).
	b.ReportMetric(float64(sends)/float64(b.N), "produce-sends")
}

package main

// The crash test: the reference deployment (examples/dashboard, as a
// process of its own, on Kafka and InfluxDB, checkpoints on) is killed with
// SIGKILL at random points of a live stream — once while InfluxDB is
// stalled — and started again each time; in the end InfluxDB must hold
// exactly what was sent, per window and type, and every injected attack
// exactly one alert.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/examples/internal/servicetest"
	"github.com/rdr-go/rdr/examples/internal/traffic"
	"github.com/rdr-go/rdr/pipeline"
	"github.com/rdr-go/rdr/sink"
)

// dashboardBinary builds examples/dashboard once per test binary.
func dashboardBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dashboard")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/rdr-go/rdr/examples/dashboard").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// processProc is the dashboard running as a process.
type processProc struct {
	t    *testing.T
	name string
	bin  string
	env  []string
	logs string
	cmd  *exec.Cmd
	done chan struct{} // closed when the current run has exited
	runs int
}

func (p *processProc) start() {
	p.t.Helper()
	p.runs++
	log, err := os.Create(filepath.Join(p.logs, fmt.Sprintf("run-%d.log", p.runs)))
	require.NoError(p.t, err)
	p.cmd = exec.Command(p.bin)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = log, log
	require.NoError(p.t, p.cmd.Start())
	done := make(chan struct{})
	p.done = done
	cmd := p.cmd
	go func() { _ = cmd.Wait(); log.Close(); close(done) }()
}

// errorLines returns the lines logged at ERROR in the given run's log.
func (p *processProc) errorLines(run int) []string {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.logs, fmt.Sprintf("run-%d.log", run)))
	require.NoError(p.t, err)
	var errs []string
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, "level=ERROR") {
			errs = append(errs, strings.TrimSpace(line))
		}
	}
	return errs
}

// running reports whether the current run has not exited.
func (p *processProc) running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *processProc) signal(sig syscall.Signal) {
	p.t.Helper()
	require.True(p.t, p.running(), "run %d of %s exited before %s", p.runs, p.name, sig)
	require.NoError(p.t, p.cmd.Process.Signal(sig))
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.t.Fatalf("%s did not exit on %s", p.name, sig)
	}
}

// committed returns the consumer group's committed offsets of topic, and
// the topic's end offsets.
func committed(t *testing.T, brokers []string, group, topic string) (done, end map[int32]int64) {
	t.Helper()
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_6_0_0
	client, err := sarama.NewClient(brokers, sc)
	require.NoError(t, err)
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	require.NoError(t, err)
	parts, err := client.Partitions(topic)
	require.NoError(t, err)
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	require.NoError(t, err)
	done, end = map[int32]int64{}, map[int32]int64{}
	for _, p := range parts {
		if b := resp.GetBlock(topic, p); b != nil {
			done[p] = b.Offset
		}
		end[p], err = client.GetOffset(topic, p, sarama.OffsetNewest)
		require.NoError(t, err)
	}
	return done, end
}

// deployment is the reference app on fresh topics and a fresh database,
// with checkpoints on, as processes started and killed by a test.
type deployment struct {
	t          *testing.T
	e          *env
	bin, group string
	env        []string
	procs      []*processProc
	cfg        traffic.Config
	live       time.Time // event time (and wall clock) when the live part starts
	history    time.Duration
	span       time.Duration
	influxPID  int
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	e := newEnv(t, 6)
	pidText := os.Getenv("RDR_INFLUX_PID")
	if pidText == "" {
		t.Skip("RDR_INFLUX_PID not set (scripts/services.sh env exports it): the test stalls InfluxDB")
	}
	d := &deployment{t: t, e: e, bin: dashboardBinary(t), group: "rdr-deploy-" + e.topic}
	var err error
	d.influxPID, err = strconv.Atoi(pidText)
	require.NoError(t, err)
	kc := pipeline.KafkaConfig{Brokers: e.brokers}
	for _, topic := range []string{e.topic + ".dlq", e.topic + ".late"} {
		require.NoError(t, pipeline.CreateTopic(kc, topic, 1))
	}
	checkpoints := e.topic + "-checkpoints"
	require.NoError(t, pipeline.CreateCheckpointTopic(kc, checkpoints, 6))
	d.env = []string{
		"RDR_ADDR=127.0.0.1:0", "RDR_GENERATE=false", "RDR_LOG_LEVEL=info",
		"RDR_KAFKA_BROKERS=" + strings.Join(e.brokers, ","), "RDR_KAFKA_GROUP=" + d.group, "RDR_TOPIC=" + e.topic,
		"RDR_CHECKPOINT_TOPIC=" + checkpoints, "RDR_CHECKPOINT_INTERVAL=1s",
		"RDR_INFLUX_URL=" + e.influxURL, "RDR_INFLUX_TOKEN=" + e.token, "RDR_INFLUX_ORG=" + e.org, "RDR_INFLUX_BUCKET=" + e.influxBucket,
	}
	t.Cleanup(func() {
		_ = syscall.Kill(d.influxPID, syscall.SIGCONT)
		for _, p := range d.procs {
			if p.running() {
				p.signal(syscall.SIGKILL)
			}
			if t.Failed() {
				for i := 1; i <= p.runs; i++ {
					b, _ := os.ReadFile(filepath.Join(p.logs, fmt.Sprintf("run-%d.log", i)))
					t.Logf("%s run %d log (tail):\n%s", p.name, i, tail(string(b), 3000))
				}
			}
		}
	})
	// 70 s of history sent at once (so that the spike rule's baselines
	// are warm), then 35 s of live traffic at its pace, 4,000 events/s with
	// an attack every 4 s; a brute force's events are spread over 4.9 s, a
	// password spray's 30 users (five to a partition) over 9 s.
	d.history, d.span = 70*time.Second, 35*time.Second
	d.cfg = traffic.Config{Seed: 11, Start: time.Now().UTC().Truncate(time.Second).Add(-d.history), Rate: 4000,
		AttackEvery: 4 * time.Second, InvalidEvery: 997,
		Kinds: []traffic.Kind{traffic.BruteForce, traffic.BruteForceSuccess, traffic.CredentialStuffing, traffic.NewIP, traffic.PrivilegeChange, traffic.VolumeSpike}}
	d.live = d.cfg.Start.Add(d.history)
	return d
}

// processor returns a new dashboard process, a static member of the
// group named name; it is not started.
func (d *deployment) processor(name string) *processProc {
	p := &processProc{t: d.t, name: name, bin: d.bin, logs: d.t.TempDir(),
		env: append(slices.Clone(d.env), "RDR_KAFKA_INSTANCE_ID="+name, "RDR_INSTANCE="+name)}
	d.procs = append(d.procs, p)
	return p
}

// plan returns the attacks the traffic will inject (same seed, same
// events).
func (d *deployment) plan() []traffic.Attack {
	g := traffic.New(d.cfg)
	for g.Next().Time.Before(d.live.Add(d.span)) {
	}
	return g.Truth()
}

// produce sends the traffic in the background; wait returns what was
// sent, once it is all in Kafka.
func (d *deployment) produce() (wait func() *sent) {
	return produceHistoryThenLive(d.t, d.e, d.cfg, d.history, d.span)
}

// stall stops InfluxDB answering (SIGSTOP), or lets it go on (SIGCONT).
func (d *deployment) stall(on bool) {
	sig := syscall.SIGCONT
	if on {
		sig = syscall.SIGSTOP
	}
	require.NoError(d.t, syscall.Kill(d.influxPID, sig))
}

// verify waits until the group has committed everything, stops the
// processes still running gracefully, and checks what InfluxDB holds.
func (d *deployment) verify(s *sent) {
	t, e, cfg, live, group := d.t, d.e, d.cfg, d.live, d.group
	t.Logf("sent %d events, %d invalid, in %d records; %d attacks", s.sum.Events, s.sum.Invalid, s.sum.Messages, len(s.truth))
	require.GreaterOrEqual(t, s.sum.Events, 300_000)

	// Wait until the last run has checkpointed everything, then stop it
	// gracefully (its open windows fire).
	deadline := time.Now().Add(90 * time.Second)
	for {
		done, end := committed(t, e.brokers, group, e.topic)
		if fmt.Sprint(done) == fmt.Sprint(end) {
			break
		}
		require.True(t, time.Now().Before(deadline), "committed %v of %v", done, end)
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range d.procs {
		if p.running() {
			p.signal(syscall.SIGTERM)
		}
	}

	assertTotals(t, e, s)

	// The alerts of the rules grouped by user are those of an
	// uninterrupted run: the same events, in the same order per partition,
	// through one engine per partition (the processor's tasks), raise the
	// same alert IDs, though the processor applied some events twice after
	// each kill. (password-spraying, by IP, sees its events in the order the
	// repartition topic holds them, which no reference run can know; it is
	// judged per attack below.)
	store, err := sink.NewInflux(sink.InfluxConfig{URL: e.influxURL, Token: e.token, Org: e.org, Bucket: e.influxBucket})
	require.NoError(t, err)
	defer store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stored, err := store.RecentAlerts(ctx, cfg.Start.Add(-time.Minute), 0)
	require.NoError(t, err)
	var byUser []anomaly.Rule
	for _, r := range anomaly.DefaultRules() {
		if r.GroupBy == anomaly.FieldUserID {
			byUser = append(byUser, r)
		}
	}
	var engines [6]*anomaly.Engine
	for i := range engines {
		engines[i], err = anomaly.NewEngine(slices.Clone(byUser), anomaly.Config{})
		require.NoError(t, err)
		byUser = nil
		for _, r := range anomaly.DefaultRules() { // fresh detectors for the next engine
			if r.GroupBy == anomaly.FieldUserID {
				byUser = append(byUser, r)
			}
		}
	}
	want := map[string]anomaly.Alert{}
	for _, ev := range s.events() {
		engines[pipeline.PartitionOf(ev.UserID, 6)].Process(ev, func(a anomaly.Alert) { want[a.ID] = a })
	}
	var wantIDs, gotIDs, sprays []string
	for id := range want {
		wantIDs = append(wantIDs, id)
	}
	for _, a := range stored {
		if a.Rule == attackRule[traffic.CredentialStuffing] {
			sprays = append(sprays, a.ID)
			continue
		}
		gotIDs = append(gotIDs, a.ID)
	}
	slices.Sort(wantIDs)
	slices.Sort(gotIDs)
	assert.Equal(t, wantIDs, gotIDs, "alert IDs of the rules grouped by user, against an uninterrupted run")

	// And every attack that the uninterrupted run detects has exactly one
	// alert: one ID for its rule and key covering the attack. (An attack
	// may extend an alert still firing from an earlier detection of the
	// same key; one may go undetected, for instance a "new" address the
	// victim used in an earlier attack, or a spike before the baselines
	// are warm.) Every password spray — 30 users, five to a partition — is
	// detected exactly once, and nothing else is.
	detected, spraysJudged := 0, 0
	var sprayIDs []string
	for _, a := range s.truth {
		covers := func(rule, key string, first, last time.Time) bool {
			return rule == attackRule[a.Kind] && key == a.Key && !first.After(a.End) && !last.Before(a.Start)
		}
		var ref, ids []string
		for _, al := range stored {
			if covers(al.Rule, al.Key, al.FirstSeen, al.LastSeen) {
				ids = append(ids, al.ID)
			}
		}
		if a.Kind == traffic.CredentialStuffing {
			if a.End.Before(s.events()[len(s.events())-1].Time) {
				spraysJudged++
				sprayIDs = append(sprayIDs, ids...)
				assert.Len(t, ids, 1, "password spray from %s at live%+.1fs", a.Key, a.Start.Sub(live).Seconds())
			}
			continue
		}
		for _, al := range want {
			if covers(al.Rule, al.Key, al.FirstSeen, al.LastSeen) {
				ref = append(ref, al.ID)
			}
		}
		if len(ref) == 0 {
			continue
		}
		detected++
		assert.Equal(t, ref, ids, "%s attack on %s at live%+.1fs", a.Kind, a.Key, a.Start.Sub(live).Seconds())
	}
	slices.Sort(sprays)
	slices.Sort(sprayIDs)
	assert.Equal(t, sprayIDs, sprays, "password-spraying alerts are the sprays'")
	t.Logf("%d attacks detected by the uninterrupted run, %d sprays; %d alerts stored", detected, spraysJudged, len(stored))
	assert.GreaterOrEqual(t, detected, 12)
	assert.GreaterOrEqual(t, spraysJudged, 3)

	// Nothing was late, and the dead letters are the invalid records, once
	// each by ID.
	late := distinctIDs(t, e, e.topic+".late")
	assert.Zero(t, late, "late events")
	assert.Equal(t, s.sum.Invalid, distinctIDs(t, e, e.topic+".dlq"), "dead letters (distinct IDs)")
}

func TestCrashRecoveryIsExact(t *testing.T) {
	d := newDeployment(t)
	proc := d.processor("crash")
	proc.start()
	servicetest.WaitAssigned(t, d.e.brokers, d.group, d.e.topic, 1)

	// One kill falls in the middle of the first brute force of the live
	// part; four more at random, one of them while InfluxDB is stalled.
	var straddle time.Time
	for _, a := range d.plan() {
		if a.Kind == traffic.BruteForce && a.Start.After(d.live.Add(2*time.Second)) {
			straddle = a.Start.Add(a.End.Sub(a.Start) / 2)
			break
		}
	}
	require.False(t, straddle.IsZero())
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := []time.Time{straddle}
	for len(kills) < 5 {
		at := d.live.Add(2*time.Second + time.Duration(rng.Int64N(int64(d.span-8*time.Second))))
		if !slices.ContainsFunc(kills, func(k time.Time) bool { return k.Sub(at).Abs() < 4*time.Second }) {
			kills = append(kills, at)
		}
	}
	slices.SortFunc(kills, time.Time.Compare)
	stall := 2 + rng.IntN(3) // the kill during which InfluxDB is stalled
	for i, k := range kills {
		t.Logf("kill %d at live+%s%s", i+1, k.Sub(d.live).Round(time.Millisecond), map[bool]string{true: " (InfluxDB stalled)", false: ""}[i == stall])
	}

	wait := d.produce()
	for i, at := range kills {
		// Event time runs with the wall clock from live on.
		time.Sleep(time.Until(at))
		if i == stall {
			// InfluxDB stops answering for 6 s: the processor goes on,
			// buffering, until it is killed 3 s into the stall.
			d.stall(true)
			time.Sleep(3 * time.Second)
			proc.signal(syscall.SIGKILL)
			time.Sleep(time.Second)
			proc.start()
			time.Sleep(2 * time.Second)
			d.stall(false)
			continue
		}
		proc.signal(syscall.SIGKILL)
		time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
		proc.start()
	}
	d.verify(wait())
}

// A second processor joins the group mid-stream, and later the first is
// killed: the second takes its partitions over from their checkpoints.
func TestRebalanceIsExact(t *testing.T) {
	d := newDeployment(t)
	a, b := d.processor("rebalance-a"), d.processor("rebalance-b")
	a.start()
	servicetest.WaitAssigned(t, d.e.brokers, d.group, d.e.topic, 1)
	wait := d.produce()
	time.Sleep(time.Until(d.live.Add(6 * time.Second)))
	b.start()
	servicetest.WaitAssigned(t, d.e.brokers, d.group, d.e.topic, 2)
	time.Sleep(time.Until(d.live.Add(18 * time.Second)))
	a.signal(syscall.SIGKILL) // its partitions move to b once its session times out
	d.verify(wait())
}

// A rolling deploy: two processors share the partitions and the first is
// stopped gracefully mid-stream. Its stop checkpoints every partition it
// holds at once, before it lets them go, and the second restores them from
// those checkpoints: nothing lost, nothing applied twice, the same alerts.
// The stopped process logs no error on its way out (the messages its stop
// turns away are refused quietly).
func TestGracefulHandoverIsExact(t *testing.T) {
	d := newDeployment(t)
	a, b := d.processor("handover-a"), d.processor("handover-b")
	a.start()
	servicetest.WaitAssigned(t, d.e.brokers, d.group, d.e.topic, 1)
	b.start()
	servicetest.WaitAssigned(t, d.e.brokers, d.group, d.e.topic, 2)
	wait := d.produce()
	time.Sleep(time.Until(d.live.Add(10 * time.Second)))
	a.signal(syscall.SIGTERM) // its partitions move to b as soon as it has left the group
	d.verify(wait())
	assert.Empty(t, a.errorLines(1), "ERROR lines of the process stopped with SIGTERM")
}

// produceHistoryThenLive sends history of cfg's traffic at once, then span
// more at its pace, in the background, from one generator; wait returns
// what was sent once it is all in Kafka.
func produceHistoryThenLive(t *testing.T, e *env, cfg traffic.Config, history, span time.Duration) (wait func() *sent) {
	t.Helper()
	ko, err := newKafkaOutput(e.brokers, e.topic, 1)
	require.NoError(t, err)
	out := &recordingOutput{output: ko}
	g := traffic.New(cfg)
	done := make(chan error, 1)
	var sum summary
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), history+span+60*time.Second)
		defer cancel()
		past, err := generate(ctx, g, out, options{fast: true, batch: 500, duration: history})
		if err == nil {
			var now summary
			now, err = generate(ctx, g, out, options{batch: 500, duration: span})
			sum = summary{Records: past.Records + now.Records, Events: past.Events + now.Events,
				Invalid: past.Invalid + now.Invalid, Messages: past.Messages + now.Messages}
		}
		done <- errors.Join(err, out.Close())
	}()
	var s *sent
	wait = func() *sent {
		if s == nil {
			require.NoError(t, <-done)
			s = &sent{start: cfg.Start, records: out.records, truth: g.Truth(), sum: sum}
		}
		return s
	}
	t.Cleanup(func() { wait() })
	return wait
}

// distinctIDs counts the distinct message UUIDs in topic.
func distinctIDs(t *testing.T, e *env, topic string) int {
	t.Helper()
	end := map[int32]int64{}
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_6_0_0
	client, err := sarama.NewClient(e.brokers, sc)
	require.NoError(t, err)
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	require.NoError(t, err)
	defer consumer.Close()
	parts, err := client.Partitions(topic)
	require.NoError(t, err)
	ids := map[string]bool{}
	for _, p := range parts {
		end[p], err = client.GetOffset(topic, p, sarama.OffsetNewest)
		require.NoError(t, err)
		if end[p] == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		require.NoError(t, err)
		for m := range pc.Messages() {
			for _, h := range m.Headers {
				if string(h.Key) == kafka.UUIDHeaderKey {
					ids[string(h.Value)] = true
				}
			}
			if m.Offset+1 >= end[p] {
				break
			}
		}
		pc.Close()
	}
	return len(ids)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

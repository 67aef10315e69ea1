package pipeline_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/pipeline"
	"github.com/rdr-go/rdr/sink"
)

// outputRecorder is a sink that keeps every window result and alert, as
// lines that compare across runs.
type outputRecorder struct {
	mu      sync.Mutex
	windows []string
	alerts  []string
}

func (r *outputRecorder) WriteWindow(_ context.Context, w sink.WindowResult) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.windows = append(r.windows, fmt.Sprintf("%s %s update=%v total=%d users=%d %v", w.Partition, w.Start.Format(time.RFC3339Nano),
		w.Update, w.Metrics.TotalEvents, w.Metrics.ActiveUsers, w.Metrics.ByType))
	return nil
}

func (r *outputRecorder) WriteAlert(_ context.Context, a anomaly.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, fmt.Sprintf("%s %s %s %s count=%d", a.ID, a.Rule, a.Key, a.Status, a.Count))
	return nil
}

func (r *outputRecorder) Close() error { return nil }

// sorted returns the recorded lines, sorted: tasks emit concurrently, so
// only each partition's order is fixed.
func (r *outputRecorder) sorted() (windows, alerts []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(slices.Values(r.windows)), slices.Sorted(slices.Values(r.alerts))
}

// Records handed over in batches (the default) give exactly what one
// record at a time gives: the same counts, windows, alerts, dead letters
// and late events, on a topic of one event per record with bad records,
// late events and attacks in it, through the repartition topic too.
func TestBatchedRecordsMatchOneAtATime(t *testing.T) {
	brokers := kafkaBrokers(t)
	topic := newTopic(t, brokers, 3)
	kc := pipeline.KafkaConfig{Brokers: brokers}
	require.NoError(t, pipeline.CreateTopic(kc, topic+".repartition", 3))
	pub, err := pipeline.NewKafkaPublisher(kc, nil)
	require.NoError(t, err)
	defer pub.Close()

	// 3,000 records: 40 users' logins and file reads, a failed-login burst
	// of one user and a password spray from one address (re-keyed by IP),
	// every 97th record not an event, and every 250th event 30 s older
	// than its user's previous one (late for its window).
	t0 := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	var msgs []*message.Message
	valid, invalid, failed := 0, 0, 0
	for i := range 3000 {
		var payload []byte
		key := fmt.Sprintf("u-%02d", i%40)
		switch {
		case i%97 == 96:
			payload = []byte(fmt.Sprintf(`{"timestamp":"%s","type":"login","userId":`, t0.Format(time.RFC3339))) // cut short
			invalid++
		default:
			ev := rdr.Event{Time: t0.Add(time.Duration(i) * 20 * time.Millisecond), Type: []string{"login_success", "file_access"}[i%2],
				UserID: key, IP: netip.AddrFrom4([4]byte{10, 0, byte(i % 40), 1}), Severity: rdr.SeverityLow}
			switch {
			case i%250 == 249:
				ev.Time = ev.Time.Add(-30 * time.Second)
			case i >= 1000 && i < 1100:
				key = "mallory"
				ev.UserID, ev.Type, ev.Severity = key, "login_failed", rdr.SeverityMedium
			case i >= 2000 && i < 2100:
				ev.Type, ev.IP, ev.Severity = "login_failed", netip.MustParseAddr("203.0.113.66"), rdr.SeverityMedium
			}
			payload = rdr.AppendJSON(nil, ev)
			valid++
			if ev.Type == "login_failed" {
				failed++ // re-keyed by IP for password-spraying
			}
		}
		m := message.NewMessage(fmt.Sprint(i), payload)
		m.Metadata.Set(pipeline.MetaPartitionKey, key)
		msgs = append(msgs, m)
	}
	require.NoError(t, pub.Publish(topic, msgs...))

	type result struct {
		stats             pipeline.Stats
		sprayed           uint64
		windows, alerts   []string
		deadLetters, late []string
	}
	run := func(batch int) result {
		group := fmt.Sprintf("%s-batch%d", topic, batch)
		kc := pipeline.KafkaConfig{Brokers: brokers, ConsumerGroup: group}
		sub, err := pipeline.NewKafkaSubscriber(kc, nil)
		require.NoError(t, err)
		rsub, err := pipeline.NewKafkaSubscriber(pipeline.RepartitionKafkaConfig(kc), nil)
		require.NoError(t, err)
		rec := &outputRecorder{}
		repartition := fmt.Sprintf("%s.repartition%d", topic, batch)
		require.NoError(t, pipeline.CreateTopic(kc, repartition, 3))
		dlq, late := fmt.Sprintf("%s.dlq%d", topic, batch), fmt.Sprintf("%s.late%d", topic, batch)
		for _, side := range []string{dlq, late, topic + ".alerts"} {
			require.NoError(t, pipeline.CreateTopic(kc, side, 1))
		}
		proc, err := pipeline.New(pipeline.Config{
			Subscriber: sub, Topic: topic, Publisher: pub, Sinks: []sink.Sink{rec},
			DeadLetterTopic: dlq, LateTopic: late, AlertsTopic: topic + ".alerts",
			RepartitionTopic: repartition, RepartitionSubscriber: rsub,
			Rules:        func() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil },
			BatchRecords: batch, DisableIdleAdvance: true, IdleTimeout: time.Hour,
		})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- proc.Run(context.Background()) }()
		// Every input record applied, and every re-keyed one.
		deadline := time.Now().Add(60 * time.Second)
		sprayed := func() uint64 { // failed logins the re-keyed rule has seen
			for _, rs := range proc.RuleStats() {
				if rs.Rule == "password-spraying" {
					return rs.Matched
				}
			}
			return 0
		}
		for st := proc.Stats(); st.Events+st.Late+st.Invalid < uint64(len(msgs)) || sprayed() < uint64(failed); st = proc.Stats() {
			require.True(t, time.Now().Before(deadline), "applied %+v", proc.Stats())
			time.Sleep(20 * time.Millisecond)
		}
		seen := sprayed() // the tasks are gone after Close
		require.NoError(t, proc.Close())
		require.NoError(t, <-done)
		r := result{stats: proc.Stats(), sprayed: seen}
		r.windows, r.alerts = rec.sorted()
		ids := func(topic string, n uint64) []string {
			var out []string
			for _, m := range consume(t, brokers, topic, int(n)) {
				out = append(out, m.UUID+" "+m.Metadata.Get(pipeline.MetaError))
			}
			slices.Sort(out)
			return out
		}
		r.deadLetters, r.late = ids(dlq, r.stats.Invalid), ids(late, r.stats.Late)
		return r
	}
	one, batched := run(1), run(0)

	for name, r := range map[string]result{"one at a time": one, "batched": batched} {
		assert.Equal(t, uint64(failed), r.sprayed, name)
		assert.Equal(t, uint64(valid), r.stats.Events+r.stats.Late, name)
		assert.Equal(t, uint64(invalid), r.stats.Invalid, name)
		assert.Equal(t, uint64(12), r.stats.Late, name) // i = 249, 499, …, 2999
		assert.Len(t, r.deadLetters, invalid, name)
		assert.True(t, slices.ContainsFunc(r.alerts, func(a string) bool { return strings.Contains(a, "failed-login-burst mallory") }), "%s: %v", name, r.alerts)
		assert.True(t, slices.ContainsFunc(r.alerts, func(a string) bool { return strings.Contains(a, "password-spraying 203.0.113.66") }), "%s: %v", name, r.alerts)
	}
	assert.Zero(t, one.stats.SinkErrors)
	// Input records are delivered alike; the repartition records differ:
	// batched input puts a batch's events bound for one partition in one.
	assert.Equal(t, uint64(len(msgs)+failed), one.stats.Messages)
	assert.Less(t, batched.stats.Messages, one.stats.Messages)
	one.stats.Messages, batched.stats.Messages = 0, 0
	assert.Equal(t, one.stats, batched.stats)
	assert.Equal(t, one.windows, batched.windows)
	assert.Equal(t, one.alerts, batched.alerts)
	assert.Equal(t, one.deadLetters, batched.deadLetters)
	assert.Equal(t, one.late, batched.late)
}

package pipeline_test

// Checkpoints against a real broker (RDR_KAFKA_BROKERS; skipped without):
// the compacted-topic store, and detector state that survives a restart.

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/pipeline"
	"github.com/rdr-go/rdr/sink"
)

func TestKafkaCheckpointsSaveAndLoad(t *testing.T) {
	brokers := kafkaBrokers(t)
	kc := pipeline.KafkaConfig{Brokers: brokers, ConsumerGroup: "cp-test"}
	topic := newTopic(t, brokers, 1) + "-cp"
	require.NoError(t, pipeline.CreateCheckpointTopic(kc, topic, 3))
	store, err := pipeline.NewKafkaCheckpoints(pipeline.KafkaCheckpointsConfig{Kafka: kc, Topic: topic, ChunkBytes: 1024})
	require.NoError(t, err)
	defer store.Close()
	ctx := context.Background()

	_, ok, err := store.Load(ctx, "in", 4)
	require.NoError(t, err)
	assert.False(t, ok, "no checkpoint yet")

	big := bytes.Repeat([]byte("0123456789abcdef"), 200) // 3,200 bytes: four chunks
	require.NoError(t, store.Save(ctx, pipeline.Checkpoint{Topic: "in", Partition: 4, Offset: 100, State: big}))
	// Partition 1 shares the checkpoint partition (4 mod 3) with 4.
	require.NoError(t, store.Save(ctx, pipeline.Checkpoint{Topic: "in", Partition: 1, Offset: 7, State: []byte("one")}))
	cp, ok, err := store.Load(ctx, "in", 4)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, pipeline.Checkpoint{Topic: "in", Partition: 4, Offset: 100, State: big}, cp)

	// A newer, smaller checkpoint replaces it; its empty state too.
	require.NoError(t, store.Save(ctx, pipeline.Checkpoint{Topic: "in", Partition: 4, Offset: 250, State: []byte("small")}))
	cp, ok, err = store.Load(ctx, "in", 4)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, pipeline.Checkpoint{Topic: "in", Partition: 4, Offset: 250, State: []byte("small")}, cp)
	cp, ok, err = store.Load(ctx, "in", 1)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, pipeline.Checkpoint{Topic: "in", Partition: 1, Offset: 7, State: []byte("one")}, cp)

	// A process that took the partition over (a store of its own) and
	// saves a smaller checkpoint deletes the chunks of the bigger one it
	// loaded: tombstones for chunks 1 to 3 of partition 4.
	require.NoError(t, store.Save(ctx, pipeline.Checkpoint{Topic: "in", Partition: 4, Offset: 300, State: big}))
	next, err := pipeline.NewKafkaCheckpoints(pipeline.KafkaCheckpointsConfig{Kafka: kc, Topic: topic, ChunkBytes: 1024})
	require.NoError(t, err)
	defer next.Close()
	_, ok, err = next.Load(ctx, "in", 4)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, next.Save(ctx, pipeline.Checkpoint{Topic: "in", Partition: 4, Offset: 400, State: []byte("tiny")}))
	assert.Equal(t, []string{"cp-test/in/4#1", "cp-test/in/4#2", "cp-test/in/4#3"}, tombstones(t, brokers, topic, 1))

	// Another consumer group's checkpoints are its own.
	other, err := pipeline.NewKafkaCheckpoints(pipeline.KafkaCheckpointsConfig{Kafka: pipeline.KafkaConfig{Brokers: brokers, ConsumerGroup: "other"}, Topic: topic})
	require.NoError(t, err)
	defer other.Close()
	_, ok, err = other.Load(ctx, "in", 4)
	require.NoError(t, err)
	assert.False(t, ok)
}

// tombstones returns the keys of the records without a value in
// partition of topic, from the last record that has one on.
func tombstones(t *testing.T, brokers []string, topic string, partition int32) []string {
	t.Helper()
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_6_0_0
	client, err := sarama.NewClient(brokers, sc)
	require.NoError(t, err)
	defer client.Close()
	end, err := client.GetOffset(topic, partition, sarama.OffsetNewest)
	require.NoError(t, err)
	consumer, err := sarama.NewConsumerFromClient(client)
	require.NoError(t, err)
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, partition, sarama.OffsetOldest)
	require.NoError(t, err)
	defer pc.Close()
	var keys []string
	for rec := range pc.Messages() {
		if rec.Value == nil {
			keys = append(keys, string(rec.Key))
		} else {
			keys = nil
		}
		if rec.Offset+1 >= end {
			break
		}
	}
	return keys
}

// loginsOf makes, for n users, a login from each of two addresses and a
// privilege change, at t.
func loginsOf(n int, t time.Time) []rdr.Event {
	var evs []rdr.Event
	for i := range n {
		user := fmt.Sprintf("known-%02d", i)
		for j, ip := range []string{"198.51.100.1", "198.51.100.2"} {
			evs = append(evs, rdr.Event{Time: t.Add(time.Duration(j) * time.Millisecond), Type: "login_success", UserID: user,
				IP: netip.MustParseAddr(ip), Severity: rdr.SeverityLow})
		}
		evs = append(evs, rdr.Event{Time: t.Add(2 * time.Millisecond), Type: "privilege_change", UserID: user, Severity: rdr.SeverityHigh})
	}
	return evs
}

type alertRecorder struct {
	mu     sync.Mutex
	byRule map[string]int // firing alerts by rule
}

func (r *alertRecorder) count(rule string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byRule[rule]
}

func (r *alertRecorder) WriteWindow(context.Context, sink.WindowResult) error { return nil }
func (r *alertRecorder) Close() error                                         { return nil }
func (r *alertRecorder) WriteAlert(_ context.Context, a anomaly.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a.Status == anomaly.StatusFiring && a.Count == 1 {
		r.byRule[a.Rule]++
	}
	return nil
}

// Users known before a graceful restart are not new after it: the
// first-seen rules' state comes back from the checkpoint. Without
// checkpoints, every one of them is reported again.
func TestRestartRemembersKnownUsers(t *testing.T) {
	brokers := kafkaBrokers(t)
	for _, checkpoints := range []bool{true, false} {
		t.Run(fmt.Sprintf("checkpoints=%v", checkpoints), func(t *testing.T) {
			topic := newTopic(t, brokers, 3)
			kc := pipeline.KafkaConfig{Brokers: brokers, ConsumerGroup: topic + "-processor"}
			var store pipeline.CheckpointStore
			if checkpoints {
				require.NoError(t, pipeline.CreateCheckpointTopic(kc, topic+"-cp", 3))
				kcp, err := pipeline.NewKafkaCheckpoints(pipeline.KafkaCheckpointsConfig{Kafka: kc, Topic: topic + "-cp"})
				require.NoError(t, err)
				t.Cleanup(func() { kcp.Close() })
				store = kcp
			}
			pub, err := pipeline.NewKafkaPublisher(kc, watermill.NopLogger{})
			require.NoError(t, err)
			t.Cleanup(func() { pub.Close() })
			start := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
			run := func(evs []rdr.Event) map[string]int {
				sub, err := pipeline.NewKafkaSubscriber(kc, watermill.NopLogger{})
				require.NoError(t, err)
				rec := &alertRecorder{byRule: map[string]int{}}
				proc, err := pipeline.New(pipeline.Config{
					Subscriber: sub, Topic: topic, Sinks: []sink.Sink{rec}, Checkpoints: store,
					Rules: func() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil },
				})
				require.NoError(t, err)
				done := make(chan error, 1)
				go func() { done <- proc.Run(context.Background()) }()
				require.NoError(t, pub.Publish(topic, pipeline.PartitionBatches(evs, 3)...))
				deadline := time.Now().Add(30 * time.Second)
				for proc.Stats().Events < uint64(len(evs)) {
					require.True(t, time.Now().Before(deadline), "applied %+v", proc.Stats())
					time.Sleep(10 * time.Millisecond)
				}
				require.NoError(t, proc.Close())
				require.NoError(t, <-done)
				return rec.byRule
			}
			first := run(loginsOf(20, start))
			assert.Equal(t, 20, first["first-privilege-change"])
			assert.Equal(t, 20, first["new-login-ip"], "each user's second address is new")
			second := run(loginsOf(20, start.Add(10*time.Second)))
			if checkpoints {
				assert.Zero(t, second["first-privilege-change"], "known users are not new after the restart")
				assert.Zero(t, second["new-login-ip"])
			} else {
				assert.Equal(t, 20, second["first-privilege-change"], "without checkpoints a restart forgets")
				assert.Equal(t, 20, second["new-login-ip"])
			}
		})
	}
}

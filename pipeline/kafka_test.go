package pipeline_test

// Tests of the Kafka helpers against a real broker (RDR_KAFKA_BROKERS, from
// scripts/services.sh; they skip without it), and of records written by a
// standard client other than ours (kcat).

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/pipeline"
	"github.com/rdr-go/rdr/sink"
)

// kafkaBrokers skips the test when no broker is configured.
func kafkaBrokers(t *testing.T) []string {
	t.Helper()
	b := os.Getenv("RDR_KAFKA_BROKERS")
	if b == "" {
		t.Skip(`RDR_KAFKA_BROKERS not set: run scripts/services.sh start kafka; eval "$(scripts/services.sh env)"`)
	}
	return strings.Split(b, ",")
}

var kafkaSeq atomic.Int64

// newTopic creates a topic of its own for one test.
func newTopic(t *testing.T, brokers []string, partitions int32) string {
	t.Helper()
	topic := fmt.Sprintf("rdr-pipeline-test-%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9, kafkaSeq.Add(1))
	require.NoError(t, pipeline.CreateTopic(pipeline.KafkaConfig{Brokers: brokers}, topic, partitions))
	return topic
}

func TestKafkaHelpersRequireBrokers(t *testing.T) {
	const want = "pipeline: invalid config: Brokers is required"
	_, err := pipeline.NewKafkaSubscriber(pipeline.KafkaConfig{}, nil)
	assert.EqualError(t, err, want)
	_, err = pipeline.NewKafkaPublisher(pipeline.KafkaConfig{}, nil)
	assert.EqualError(t, err, want)
	assert.EqualError(t, pipeline.CreateTopic(pipeline.KafkaConfig{}, "t", 1), want)
	_, err = pipeline.TopicPartitions(pipeline.KafkaConfig{}, "t")
	assert.EqualError(t, err, want)
}

func TestCreateTopicAndTopicPartitions(t *testing.T) {
	brokers := kafkaBrokers(t)
	cfg := pipeline.KafkaConfig{Brokers: brokers}
	topic := newTopic(t, brokers, 4)
	require.NoError(t, pipeline.CreateTopic(cfg, topic, 4), "creating an existing topic is not an error")
	n, err := pipeline.TopicPartitions(cfg, topic)
	require.NoError(t, err)
	assert.Equal(t, int32(4), n)

	_, err = pipeline.TopicPartitions(cfg, topic+"-missing")
	require.ErrorIs(t, err, sarama.ErrUnknownTopicOrPartition)
	assert.ErrorContains(t, err, "pipeline: partitions of "+topic+"-missing: ")
}

// consume reads n messages of topic with a new consumer group and acks
// them, with watermill-kafka's subscriber (which puts each record's key in
// the message context).
func consume(t *testing.T, brokers []string, topic string, n int) []*message.Message {
	t.Helper()
	sc := kafka.DefaultSaramaSubscriberConfig()
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sub, err := kafka.NewSubscriber(kafka.SubscriberConfig{Brokers: brokers, ConsumerGroup: topic + "-reader",
		OverwriteSaramaConfig: sc, Unmarshaler: kafka.DefaultMarshaler{}}, watermill.NopLogger{})
	require.NoError(t, err)
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch, err := sub.Subscribe(ctx, topic)
	require.NoError(t, err)
	var out []*message.Message
	for len(out) < n {
		select {
		case m := <-ch:
			m.Ack()
			out = append(out, m)
		case <-ctx.Done():
			t.Fatalf("read %d of %d messages of %s", len(out), n, topic)
		}
	}
	return out
}

// PublishTopics sends several topics' batches in one go: every message
// arrives, each partition in order; a batch for a topic the broker does
// not have fails alone; a closed publisher refuses each batch.
func TestKafkaPublisherPublishTopics(t *testing.T) {
	brokers := kafkaBrokers(t)
	many, one := newTopic(t, brokers, 3), newTopic(t, brokers, 1)
	pub, err := pipeline.NewKafkaPublisher(pipeline.KafkaConfig{Brokers: brokers}, nil)
	require.NoError(t, err)
	msgs := func(n int, key func(int) string) []*message.Message {
		var out []*message.Message
		for i := range n {
			m := message.NewMessage(watermill.NewUUID(), []byte(strconv.Itoa(i)))
			m.Metadata.Set(pipeline.MetaPartitionKey, key(i))
			out = append(out, m)
		}
		return out
	}
	missing := "rdr-no-such-topic-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	errs := pub.PublishTopics([]pipeline.TopicMessages{
		{Topic: many, Messages: msgs(60, func(i int) string { return fmt.Sprintf("u-%d", i) })},
		{Topic: missing, Messages: msgs(2, func(int) string { return "k" })},
		{Topic: one, Messages: msgs(40, func(int) string { return "k" })},
	})
	require.Len(t, errs, 3)
	assert.NoError(t, errs[0])
	assert.ErrorContains(t, errs[1], "pipeline: kafka publisher: messages to "+missing+": ")
	assert.NoError(t, errs[2])

	assert.Len(t, consume(t, brokers, many, 60), 60)
	var order []string
	for _, m := range consume(t, brokers, one, 40) {
		order = append(order, string(m.Payload))
	}
	want := make([]string, 40)
	for i := range want {
		want[i] = strconv.Itoa(i)
	}
	assert.Equal(t, want, order, "one partition's messages in the order given")

	require.NoError(t, pub.Close())
	for _, err := range pub.PublishTopics([]pipeline.TopicMessages{{Topic: one, Messages: msgs(1, func(int) string { return "k" })}, {Topic: many}}) {
		assert.ErrorIs(t, err, pipeline.ErrClosed)
	}
}

func TestKafkaPublisherKeysRecordsByPartitionKey(t *testing.T) {
	brokers := kafkaBrokers(t)
	topic := newTopic(t, brokers, 6)
	pub, err := pipeline.NewKafkaPublisher(pipeline.KafkaConfig{Brokers: brokers}, nil)
	require.NoError(t, err)
	var msgs []*message.Message
	for i := range 60 {
		m := message.NewMessage(watermill.NewUUID(), []byte(fmt.Sprint(i)))
		m.Metadata.Set(pipeline.MetaPartitionKey, fmt.Sprintf("u-%05d", i))
		msgs = append(msgs, m)
	}
	require.NoError(t, pub.Publish(topic, msgs...))
	require.NoError(t, pub.Close())

	partitions := map[int32]bool{}
	for _, m := range consume(t, brokers, topic, len(msgs)) {
		key := m.Metadata.Get(pipeline.MetaPartitionKey)
		p, ok := kafka.MessagePartitionFromCtx(m.Context())
		require.True(t, ok)
		assert.Equal(t, pipeline.PartitionOf(key, 6), p, "record keyed %s", key)
		k, _ := kafka.MessageKeyFromCtx(m.Context())
		assert.Equal(t, key, string(k), "the Kafka key is the partition key")
		partitions[p] = true
	}
	assert.Len(t, partitions, 6, "60 users spread over every partition")
}

// One Publish of many messages is one batch: every message arrives once,
// and each partition keeps the order they were published in, also with
// several callers publishing at once; after Close, Publish says so.
func TestKafkaPublisherBatchesKeepOrder(t *testing.T) {
	brokers := kafkaBrokers(t)
	topic := newTopic(t, brokers, 3)
	pub, err := pipeline.NewKafkaPublisher(pipeline.KafkaConfig{Brokers: brokers}, nil)
	require.NoError(t, err)
	const callers, batches, perBatch = 4, 5, 200
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				msgs := make([]*message.Message, perBatch)
				for i := range msgs {
					seq := b*perBatch + i
					msgs[i] = message.NewMessage(watermill.NewUUID(), []byte(fmt.Sprintf("%d/%d", c, seq)))
					msgs[i].Metadata.Set(pipeline.MetaPartitionKey, fmt.Sprintf("caller-%d-key-%d", c, seq%7))
				}
				assert.NoError(t, pub.Publish(topic, msgs...))
			}
			assert.NoError(t, pub.Publish(topic, message.NewMessage(watermill.NewUUID(), []byte(fmt.Sprintf("%d/%d", c, batches*perBatch))))) // and one alone
		}()
	}
	wg.Wait()
	require.NoError(t, pub.Close())
	assert.ErrorIs(t, pub.Publish(topic, message.NewMessage("late", nil)), pipeline.ErrClosed)

	const total = callers * (batches*perBatch + 1)
	last := map[string]int{} // per caller and partition key: the last seq seen
	seen := map[string]bool{}
	for _, m := range consume(t, brokers, topic, total) {
		var c, seq int
		_, err := fmt.Sscanf(string(m.Payload), "%d/%d", &c, &seq)
		require.NoError(t, err)
		require.False(t, seen[string(m.Payload)], "duplicate %s", m.Payload)
		seen[string(m.Payload)] = true
		key := fmt.Sprintf("%d %s", c, m.Metadata.Get(pipeline.MetaPartitionKey))
		if prev, ok := last[key]; ok {
			require.Greater(t, seq, prev, "order of %s", key)
		}
		last[key] = seq
	}
	assert.Len(t, seen, total)
}

// windowRecorder is a sink that keeps every window result.
type windowRecorder struct {
	mu      sync.Mutex
	windows []sink.WindowResult
}

func (r *windowRecorder) WriteWindow(_ context.Context, w sink.WindowResult) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.windows = append(r.windows, w)
	return nil
}

func (r *windowRecorder) WriteAlert(context.Context, anomaly.Alert) error { return nil }
func (r *windowRecorder) Close() error                                    { return nil }

// latest returns each window's latest result per partition, summed over
// the partitions: the event count by type, by the window's start (as an
// offset from t0).
func (r *windowRecorder) latest(t0 time.Time) map[time.Duration]map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	type id struct {
		partition string
		start     time.Duration
	}
	last := map[id]map[string]uint64{}
	for _, w := range r.windows {
		last[id{w.Partition, w.Start.Sub(t0)}] = w.Metrics.ByType
	}
	out := map[time.Duration]map[string]uint64{}
	for k, byType := range last {
		if out[k.start] == nil {
			out[k.start] = map[string]uint64{}
		}
		for typ, n := range byType {
			out[k.start][typ] += n
		}
	}
	return out
}

// kcat runs kcat to produce stdin's lines, one record each, to topic.
func kcat(t *testing.T, brokers []string, topic, stdin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", append([]string{"-P", "-b", strings.Join(brokers, ","), "-t", topic}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "kcat: %s", out)
}

func TestRecordsFromKcatAreProcessed(t *testing.T) {
	brokers := kafkaBrokers(t)
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat is not on PATH (CI installs it: apt-get install kcat)")
	}
	topic := newTopic(t, brokers, 3)
	t0 := time.Now().UTC().Truncate(time.Second).Add(-5 * time.Second)
	ev := func(at time.Duration, typ, user string) string {
		return string(rdr.AppendJSON(nil, rdr.Event{Time: t0.Add(at), Type: typ, UserID: user, Severity: rdr.SeverityLow}))
	}
	bad := fmt.Sprintf(`{"timestamp":%q,"eventType":"login_failed","userId":"u-3","severity":"urgent"}`, t0.Format(time.RFC3339Nano))

	// Keyed records (key:value), one per line: one event, a JSON array of
	// two, and an invalid event. Then records without a key.
	kcat(t, brokers, topic, strings.Join([]string{
		"u-1:" + ev(100*time.Millisecond, "login_success", "u-1"),
		"u-2:[" + ev(300*time.Millisecond, "file_access", "u-2") + "," + ev(1500*time.Millisecond, "file_access", "u-2") + "]",
		"u-3:" + bad,
	}, "\n")+"\n", "-K:")
	kcat(t, brokers, topic, ev(2200*time.Millisecond, "logout", "u-1")+"\n"+ev(2300*time.Millisecond, "api_call", "u-4")+"\n")

	sub, err := pipeline.NewKafkaSubscriber(pipeline.KafkaConfig{Brokers: brokers, ConsumerGroup: topic + "-processor"}, nil)
	require.NoError(t, err)
	outputs := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, watermill.NopLogger{})
	defer outputs.Close()
	dlq, err := outputs.Subscribe(context.Background(), pipeline.DefaultDeadLetterTopic)
	require.NoError(t, err)
	rec := &windowRecorder{}
	proc, err := pipeline.New(pipeline.Config{Subscriber: sub, Topic: topic, Publisher: outputs, Sinks: []sink.Sink{rec}})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- proc.Run(context.Background()) }()
	deadline := time.Now().Add(30 * time.Second)
	for st := proc.Stats(); st.Events+st.Invalid+st.Late < 6; st = proc.Stats() {
		require.True(t, time.Now().Before(deadline), "processor handled %+v", st)
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, proc.Close())
	require.NoError(t, <-done)

	st := proc.Stats()
	assert.Equal(t, uint64(5), st.Events)
	assert.Equal(t, uint64(1), st.Invalid)
	assert.Zero(t, st.Late)
	assert.Equal(t, map[time.Duration]map[string]uint64{
		0:               {"login_success": 1, "file_access": 1},
		time.Second:     {"file_access": 1},
		2 * time.Second: {"logout": 1, "api_call": 1},
	}, rec.latest(t0))

	select {
	case m := <-dlq:
		m.Ack()
		assert.Equal(t, bad, string(m.Payload))
		assert.Equal(t, `rdr: invalid event: field severity: "urgent" is not one of low, medium, high, critical`, m.Metadata.Get(pipeline.MetaError))
		assert.Equal(t, "severity", m.Metadata.Get(pipeline.MetaField))
		assert.Equal(t, topic, m.Metadata.Get(pipeline.MetaSourceTopic))
		assert.True(t, slices.Contains([]string{"0", "1", "2"}, m.Metadata.Get(pipeline.MetaPartition)), "partition %q", m.Metadata.Get(pipeline.MetaPartition))
		assert.Regexp(t, `^[0-2]$`, m.Metadata.Get(pipeline.MetaOffset), "one of the first three records of its partition")
	case <-time.After(5 * time.Second):
		t.Fatal("no dead letter")
	}
}

// Records keyed by user, produced by kcat with the Java client's
// partitioner (librdkafka's murmur2_random) and by rdr's publisher, land
// on the same partition for the same user — the one PartitionOf names —
// and so in the same task.
func TestKcatAndRdrPartitionUsersAlike(t *testing.T) {
	brokers := kafkaBrokers(t)
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat is not on PATH (CI installs it: apt-get install kcat)")
	}
	topic := newTopic(t, brokers, 6)
	var lines []string
	var msgs []*message.Message
	for i := range 60 {
		user := fmt.Sprintf("u-%05d", i)
		lines = append(lines, user+":kcat")
		m := message.NewMessage(watermill.NewUUID(), []byte("rdr"))
		m.Metadata.Set(pipeline.MetaPartitionKey, user)
		msgs = append(msgs, m)
	}
	kcat(t, brokers, topic, strings.Join(lines, "\n")+"\n", "-K:", "-X", "partitioner=murmur2_random")
	pub, err := pipeline.NewKafkaPublisher(pipeline.KafkaConfig{Brokers: brokers}, nil)
	require.NoError(t, err)
	require.NoError(t, pub.Publish(topic, msgs...))
	require.NoError(t, pub.Close())

	where := map[string]map[string]int32{"kcat": {}, "rdr": {}} // producer → user → partition
	for _, m := range consume(t, brokers, topic, 2*len(msgs)) {
		p, ok := kafka.MessagePartitionFromCtx(m.Context())
		require.True(t, ok)
		key, _ := kafka.MessageKeyFromCtx(m.Context())
		where[string(m.Payload)][string(key)] = p
	}
	require.Len(t, where["kcat"], 60)
	require.Len(t, where["rdr"], 60)
	used := map[int32]bool{}
	for user, p := range where["kcat"] {
		assert.Equal(t, p, where["rdr"][user], "user %s: kcat and rdr disagree", user)
		assert.Equal(t, pipeline.PartitionOf(user, 6), p, "user %s", user)
		used[p] = true
	}
	assert.Len(t, used, 6)
}

// An input not keyed by user (here: a user's failed logins written to
// three partitions in turn, as a round-robin producer does) still raises
// the per-user alert with UnkeyedInput: the rule runs behind the
// repartition topic. Without it, each partition sees two of the six
// failures and nothing fires.
func TestUnkeyedInputStillDetectsPerUser(t *testing.T) {
	brokers := kafkaBrokers(t)
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat is not on PATH (CI installs it: apt-get install kcat)")
	}
	for _, unkeyed := range []bool{true, false} {
		t.Run(fmt.Sprintf("unkeyed=%v", unkeyed), func(t *testing.T) {
			topic := newTopic(t, brokers, 3)
			repartition := topic + ".repartition"
			require.NoError(t, pipeline.CreateTopic(pipeline.KafkaConfig{Brokers: brokers}, repartition, 3))
			t0 := time.Now().UTC().Add(-30 * time.Second).Truncate(time.Second)
			for p := range 3 {
				var lines []string
				for i := p; i < 6; i += 3 {
					lines = append(lines, string(rdr.AppendJSON(nil, rdr.Event{Time: t0.Add(time.Duration(i) * time.Second), Type: "login_failed",
						UserID: "mallory", Severity: rdr.SeverityMedium})))
				}
				kcat(t, brokers, topic, strings.Join(lines, "\n")+"\n", "-p", fmt.Sprint(p))
			}
			kc := pipeline.KafkaConfig{Brokers: brokers, ConsumerGroup: topic + "-processor"}
			sub, err := pipeline.NewKafkaSubscriber(kc, nil)
			require.NoError(t, err)
			rsub, err := pipeline.NewKafkaSubscriber(pipeline.RepartitionKafkaConfig(kc), nil)
			require.NoError(t, err)
			pub, err := pipeline.NewKafkaPublisher(kc, nil)
			require.NoError(t, err)
			defer pub.Close()
			rec := &alertRecorder{byRule: map[string]int{}}
			proc, err := pipeline.New(pipeline.Config{
				Subscriber: sub, Topic: topic, Publisher: pub, Sinks: []sink.Sink{rec},
				RepartitionTopic: repartition, RepartitionSubscriber: rsub, UnkeyedInput: unkeyed,
				Rules: func() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil },
			})
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() { done <- proc.Run(context.Background()) }()
			deadline := time.Now().Add(30 * time.Second)
			for proc.Stats().Events < 6 {
				require.True(t, time.Now().Before(deadline), "applied %+v", proc.Stats())
				time.Sleep(10 * time.Millisecond)
			}
			if unkeyed { // the repartition task applies them after the input tasks
				for rec.count("failed-login-burst") == 0 && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
			} else {
				time.Sleep(time.Second)
			}
			require.NoError(t, proc.Close())
			require.NoError(t, <-done)
			want := 0
			if unkeyed {
				want = 1
			}
			assert.Equal(t, want, rec.count("failed-login-burst"))
		})
	}
}

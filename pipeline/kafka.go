package pipeline

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rdr-go/rdr"
)

// DefaultConsumerGroup is the consumer group of the reference deployment.
const DefaultConsumerGroup = "rdr-processor"

// KafkaConfig holds what the Kafka helpers need. Brokers is required.
type KafkaConfig struct {
	// Brokers are host:port addresses. Required.
	Brokers []string
	// ConsumerGroup for NewKafkaSubscriber. Optional; default
	// DefaultConsumerGroup.
	ConsumerGroup string
	// ClientID names the client to the brokers. Optional; default "rdr".
	ClientID string
	// InstanceID makes NewKafkaSubscriber a static member of its group
	// (KIP-345: group.instance.id): a processor restarted with the same
	// InstanceID within the session timeout (10 s) gets its partitions
	// back at once, without a rebalance of the others. Each running
	// processor needs its own (a StatefulSet's pod name, say). Optional;
	// default none: a dynamic member.
	InstanceID string
	// OutageGrace is how long, after the broker has been out of reach and
	// answers again, a KafkaSubscriber keeps every partition from counting
	// as idle (see [EndReporter]): producers that buffered through the
	// outage need that long to reconnect and deliver, and until they have,
	// records they hold would be judged against a watermark that followed
	// the clock. Optional; default 30 s; negative: none.
	OutageGrace time.Duration
	// FromNewest makes a consumer group without committed offsets start
	// at the newest record instead of the oldest. Optional; default false
	// (nothing already in the topic is skipped).
	FromNewest bool
}

func (c *KafkaConfig) setDefaults() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("%w: Brokers is required", ErrInvalidConfig)
	}
	if c.ConsumerGroup == "" {
		c.ConsumerGroup = DefaultConsumerGroup
	}
	if c.ClientID == "" {
		c.ClientID = "rdr"
	}
	if c.OutageGrace == 0 {
		c.OutageGrace = 30 * time.Second
	}
	return nil
}

// RepartitionKafkaConfig returns the configuration of the repartition
// topic's subscriber of a processor whose input subscriber has cfg: a
// consumer group of its own (cfg's, ".repartition" appended) and, with
// static membership, an instance ID of its own. In the input's group, the
// two subscribers' joins were two rebalances of one group, and in 4 of 10
// starts the processor's first record came ~2.3 s after its start instead
// of ~0.3 s (BenchmarkSuite). The offsets the processor resumes from are
// its checkpoints', so the group a subscriber is in holds no state of its
// own.
func RepartitionKafkaConfig(cfg KafkaConfig) KafkaConfig {
	if cfg.ConsumerGroup == "" {
		cfg.ConsumerGroup = DefaultConsumerGroup
	}
	cfg.ConsumerGroup += ".repartition"
	if cfg.InstanceID != "" {
		cfg.InstanceID += "-repartition"
	}
	return cfg
}

// NewKafkaViewSubscriber returns a watermill-kafka subscriber that reads
// every partition itself, with no consumer group and no committed offsets,
// from the newest record: what a [GlobalView] needs.
func NewKafkaViewSubscriber(cfg KafkaConfig, logger watermill.LoggerAdapter) (*kafka.Subscriber, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	sc := kafka.DefaultSaramaSubscriberConfig()
	sc.ClientID = cfg.ClientID
	sc.Version = sarama.V3_6_0_0
	sc.Consumer.MaxWaitTime = 50 * time.Millisecond
	sc.Consumer.Offsets.Initial = sarama.OffsetNewest
	return kafka.NewSubscriber(kafka.SubscriberConfig{
		Brokers:               cfg.Brokers,
		OverwriteSaramaConfig: sc,
		Unmarshaler:           kafka.DefaultMarshaler{},
		NackResendSleep:       100 * time.Millisecond,
		ReconnectRetrySleep:   time.Second,
	}, logger)
}

// NewKafkaPublisher returns a synchronous watermill-kafka publisher that
// keys each record by the message's MetaPartitionKey metadata (userId for
// events, so one user's events stay on one partition; the alert ID for
// alerts) and partitions keyed records as Kafka's Java client does
// ([PartitionOf]: murmur2), so rdr and standard clients put a key on the
// same partition. Messages without a key are spread at random.
func NewKafkaPublisher(cfg KafkaConfig, logger watermill.LoggerAdapter) (*KafkaPublisher, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	pc := kafka.DefaultSaramaSyncPublisherConfig()
	pc.ClientID = cfg.ClientID
	pc.Version = sarama.V3_6_0_0
	pc.Producer.RequiredAcks = sarama.WaitForAll
	// Snappy: NDJSON shrinks about as much as with LZ4, and sarama's
	// consumer decodes snappy straight into a pooled buffer (given the
	// limit this package sets: decompressedBatchLimit), where LZ4 output
	// is copied once more: 5–10% more events/s end to end
	// (BenchmarkEndToEnd, measured with sarama v1.4x).
	pc.Producer.Compression = sarama.CompressionSnappy
	pc.Producer.MaxMessageBytes = 8 << 20
	pc.Metadata.Retry.Backoff = 250 * time.Millisecond
	pc.Producer.Partitioner = newMurmur2Partitioner
	// A Publish of one message waits for its acknowledgement before the
	// caller's next one, so it keeps its order whatever is in flight: it
	// goes through one shared producer with sarama's usual five requests
	// in flight. A Publish of several is one batch through a producer of a
	// small pool with one request in flight per broker, so that a retried
	// request cannot be overtaken by the rest of the batch: each partition
	// keeps the order of the messages published (the repartition topic's
	// de-duplication by source position relies on it); the pool lets
	// concurrent callers (one per task) send at the same time.
	kp := &KafkaPublisher{pool: make(chan sarama.SyncProducer, kafkaPublisherPool), marshaler: kafka.NewWithPartitioningMarshaler(partitionKey)}
	single, err := sarama.NewSyncProducer(cfg.Brokers, pc)
	if err != nil {
		return nil, fmt.Errorf("pipeline: kafka publisher: %w", err)
	}
	kp.single = single
	kp.all = append(kp.all, single)
	bc := *pc
	bc.Net.MaxOpenRequests = 1
	for range kafkaPublisherPool {
		producer, err := sarama.NewSyncProducer(cfg.Brokers, &bc)
		if err != nil {
			_ = kp.Close()
			return nil, fmt.Errorf("pipeline: kafka publisher: %w", err)
		}
		kp.pool <- producer
		kp.all = append(kp.all, producer)
	}
	return kp, nil
}

// kafkaPublisherPool is how many producers a KafkaPublisher sends with at
// once.
const kafkaPublisherPool = 4

// KafkaPublisher is a Watermill publisher to Kafka that sends the messages
// of one Publish call together: one produce request per partition leader
// and one wait for the acknowledgements, where watermill-kafka's Publisher
// sends them one at a time, each waiting for its own acknowledgement
// (pkg/kafka/publisher.go: a SendMessage per message), which made every
// alert update, dead letter and re-keyed event a round trip to the broker.
// Messages keep their order per partition. It is safe for concurrent use.
type KafkaPublisher struct {
	single    sarama.SyncProducer      // for one message
	pool      chan sarama.SyncProducer // for batches: the producers not in use
	all       []sarama.SyncProducer
	marshaler kafka.MarshalerUnmarshaler

	sends, messages atomic.Uint64

	mu     sync.RWMutex
	closed bool
}

// Publish sends msgs to topic and returns once the broker acknowledged
// every one (acks=all), or the first error: then some may have been
// written, none is lost without an error.
func (p *KafkaPublisher) Publish(topic string, msgs ...*message.Message) error {
	return p.PublishTopics([]TopicMessages{{Topic: topic, Messages: msgs}})[0]
}

// KafkaPublisherStats counts what a KafkaPublisher sent.
type KafkaPublisherStats struct {
	Sends    uint64 // sends to the producer: with one broker, a produce request each
	Messages uint64 // messages sent (acknowledged or not)
}

// Stats returns the counts so far.
func (p *KafkaPublisher) Stats() KafkaPublisherStats {
	return KafkaPublisherStats{Sends: p.sends.Load(), Messages: p.messages.Load()}
}

// TopicMessages is one topic's share of a [MultiPublisher]'s send.
type TopicMessages struct {
	Topic    string
	Messages []*message.Message
}

// MultiPublisher is a Publisher that can send the messages of several
// topics at once. When the processor's Publisher is one, each turn's side
// outputs (dead letters, late events, re-keyed records, alerts, partials)
// go out in one call: with [KafkaPublisher], one produce request for all of
// them, where a request per topic cost the broker 0.5–0.7 ms of CPU each
// (benchmarks: BenchmarkBrokerRequest).
type MultiPublisher interface {
	message.Publisher
	// PublishTopics sends every batch's messages and returns, for each
	// batch in order, nil once all of its messages were acknowledged, or
	// the error of the first that was not. A batch that fails does not
	// keep the others from being sent.
	PublishTopics(batches []TopicMessages) []error
}

// PublishTopics sends the batches together: one produce request per
// partition leader, each partition's messages in order. Publish is
// PublishTopics of one batch.
func (p *KafkaPublisher) PublishTopics(batches []TopicMessages) []error {
	errs := make([]error, len(batches))
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		for i := range errs {
			errs[i] = fmt.Errorf("%w: the kafka publisher", ErrClosed)
		}
		return errs
	}
	var all []*sarama.ProducerMessage
	of := make([]int, 0, 64) // of[j]: the batch of all[j]
	for i, b := range batches {
		at := len(all)
		for _, msg := range b.Messages {
			km, err := p.marshaler.Marshal(b.Topic, msg)
			if err != nil {
				errs[i] = fmt.Errorf("pipeline: kafka publisher: marshaling message %s: %w", msg.UUID, err)
				all, of = all[:at], of[:at] // none of this batch is sent
				break
			}
			all, of = append(all, km), append(of, i)
		}
	}
	if len(all) == 0 {
		return errs
	}
	p.sends.Add(1)
	p.messages.Add(uint64(len(all)))
	var err error
	switch len(all) {
	case 1:
		_, _, err = p.single.SendMessage(all[0])
	default:
		producer := <-p.pool
		err = producer.SendMessages(all)
		p.pool <- producer
	}
	if err == nil {
		return errs
	}
	var perMsg sarama.ProducerErrors
	if !errors.As(err, &perMsg) {
		for j := range all {
			if i := of[j]; errs[i] == nil {
				errs[i] = fmt.Errorf("pipeline: kafka publisher: %d messages to %s: %w", len(batches[i].Messages), batches[i].Topic, err)
			}
		}
		return errs
	}
	index := make(map[*sarama.ProducerMessage]int, len(all))
	for j, km := range all {
		index[km] = of[j]
	}
	for _, pe := range perMsg {
		if i, ok := index[pe.Msg]; ok && errs[i] == nil {
			errs[i] = fmt.Errorf("pipeline: kafka publisher: messages to %s: %w", batches[i].Topic, pe.Err)
		}
	}
	return errs
}

// Close closes the producer, waiting for what is in flight. Later calls
// return nil.
func (p *KafkaPublisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	for _, producer := range p.all { // Publish calls hold the read lock: none is in flight
		if err := producer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("pipeline: kafka publisher: closing: %w", err))
		}
	}
	return errors.Join(errs...)
}

func partitionKey(_ string, msg *message.Message) (string, error) {
	return msg.Metadata.Get(MetaPartitionKey), nil
}

// CreateTopic creates a topic if it does not exist yet. Brokers in the
// reference deployment run with automatic topic creation off.
func CreateTopic(cfg KafkaConfig, topic string, partitions int32) error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	return createTopic(cfg, topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1})
}

func createTopic(cfg KafkaConfig, topic string, detail *sarama.TopicDetail) error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	sc := sarama.NewConfig()
	sc.ClientID = cfg.ClientID
	sc.Version = sarama.V3_6_0_0
	admin, err := sarama.NewClusterAdmin(cfg.Brokers, sc)
	if err != nil {
		return fmt.Errorf("pipeline: connecting to Kafka: %w", err)
	}
	defer admin.Close()
	err = admin.CreateTopic(topic, detail, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) { // *TopicError unwraps to its KError
		return fmt.Errorf("pipeline: creating topic %s: %w", topic, err)
	}
	return nil
}

// TopicPartitions returns how many partitions a topic has.
func TopicPartitions(cfg KafkaConfig, topic string) (int32, error) {
	if err := cfg.setDefaults(); err != nil {
		return 0, err
	}
	sc := sarama.NewConfig()
	sc.ClientID = cfg.ClientID
	sc.Version = sarama.V3_6_0_0
	client, err := sarama.NewClient(cfg.Brokers, sc)
	if err != nil {
		return 0, fmt.Errorf("pipeline: connecting to Kafka: %w", err)
	}
	defer client.Close()
	ps, err := client.Partitions(topic)
	if err != nil {
		return 0, fmt.Errorf("pipeline: partitions of %s: %w", topic, err)
	}
	return int32(len(ps)), nil
}

// PartitionOf returns the partition of a topic with n partitions that a
// record keyed by key goes to: Kafka's Java client's default partitioner
// (murmur2 of the key's bytes, made positive, modulo n), which
// NewKafkaPublisher, librdkafka's murmur2_random partitioner (kcat -X
// partitioner=murmur2_random) and most other clients' "Java-compatible"
// mode use too. Producers use it to put the events of many users in one
// record without breaking "one user, one partition".
func PartitionOf(key string, n int32) int32 {
	return int32(murmur2(key)&0x7fffffff) % n
}

// murmur2 is Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2).
func murmur2(key string) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	n := len(key)
	h := uint32(seed) ^ uint32(n)
	i := 0
	for ; i+4 <= n; i += 4 {
		k := uint32(key[i]) | uint32(key[i+1])<<8 | uint32(key[i+2])<<16 | uint32(key[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch n - i {
	case 3:
		h ^= uint32(key[i+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(key[i+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(key[i])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// murmur2Partitioner is a sarama.Partitioner that places keyed records
// with PartitionOf and the others at random.
type murmur2Partitioner struct{ random sarama.Partitioner }

func newMurmur2Partitioner(topic string) sarama.Partitioner {
	return murmur2Partitioner{random: sarama.NewRandomPartitioner(topic)}
}

func (p murmur2Partitioner) Partition(msg *sarama.ProducerMessage, n int32) (int32, error) {
	if msg.Key == nil {
		return p.random.Partition(msg, n)
	}
	key, err := msg.Key.Encode()
	if err != nil {
		return -1, err
	}
	return PartitionOf(string(key), n), nil
}

func (murmur2Partitioner) RequiresConsistency() bool { return true }

// PartitionBatches encodes events as NDJSON messages, one per partition of
// a topic with n partitions (n ≤ 1: one message), each keyed
// (MetaPartitionKey) by one of its users, so that NewKafkaPublisher puts
// every user's events on the user's own partition — which per-user state
// and the GlobalView's exact user counts rely on.
func PartitionBatches(events []rdr.Event, n int32) []*message.Message {
	if n < 1 {
		n = 1
	}
	bufs := make([][]byte, n)
	keys := make([]string, n)
	for _, ev := range events {
		p := int32(0)
		if n > 1 {
			p = PartitionOf(ev.UserID, n)
		}
		if keys[p] == "" {
			keys[p] = ev.UserID
		}
		bufs[p] = append(rdr.AppendJSON(bufs[p], ev), '\n')
	}
	var msgs []*message.Message
	for p, b := range bufs {
		if len(b) == 0 {
			continue
		}
		m := message.NewMessage(watermill.NewUUID(), b)
		m.Metadata.Set(MetaPartitionKey, keys[p])
		msgs = append(msgs, m)
	}
	return msgs
}

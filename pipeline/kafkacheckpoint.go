package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// DefaultCheckpointTopic is the compacted topic of [KafkaCheckpoints].
const DefaultCheckpointTopic = "rdr-checkpoints"

// KafkaCheckpointsConfig configures [KafkaCheckpoints].
type KafkaCheckpointsConfig struct {
	// Kafka says which brokers, and its ConsumerGroup which group's
	// checkpoints these are (several groups can share the topic).
	// Brokers is required.
	Kafka KafkaConfig
	// Topic is the compacted checkpoint topic. Optional; default
	// DefaultCheckpointTopic. [CreateCheckpointTopic] makes it.
	Topic string
	// ChunkBytes is the most state bytes in one record: a checkpoint is
	// split into records of at most this size (Kafka refuses records above
	// the broker's message.max.bytes, 1 MiB by default). Optional;
	// default 512 KiB.
	ChunkBytes int
}

// KafkaCheckpoints is a [CheckpointStore] in a compacted Kafka topic, as
// Kafka Streams keeps a task's state in a changelog: any processor that
// takes a partition over restores its state from the brokers, with no
// shared disk.
//
// Input partition p's checkpoints go to partition p mod n of the topic
// (n partitions). A checkpoint is written as chunk records keyed
// "GROUP/TOPIC/P#i" (i = 0…k−1), then a manifest keyed "GROUP/TOPIC/P"
// that names the chunks' offsets, the offset and a CRC-32C of the state.
// Compaction keeps the newest record per key, so the topic holds about one
// checkpoint per partition; chunks a smaller checkpoint no longer uses are
// deleted with tombstones. The manifest is written last: a crash in the
// middle of a Save leaves the previous checkpoint in force, and Load
// checks every chunk against the manifest.
//
// Load reads the checkpoint partition from its oldest record to its end,
// so its cost is what compaction has not yet removed; CreateCheckpointTopic
// sets the topic to roll and compact segments every minute.
//
// KafkaCheckpoints is safe for concurrent use.
type KafkaCheckpoints struct {
	cfg      KafkaCheckpointsConfig
	client   sarama.Client
	producer sarama.SyncProducer
	mu       sync.Mutex
	chunks   map[string]int // chunks of the latest checkpoint saved, per key
}

// NewKafkaCheckpoints connects to the brokers. Close releases it.
func NewKafkaCheckpoints(cfg KafkaCheckpointsConfig) (*KafkaCheckpoints, error) {
	if err := cfg.Kafka.setDefaults(); err != nil {
		return nil, err
	}
	if cfg.Topic == "" {
		cfg.Topic = DefaultCheckpointTopic
	}
	if cfg.ChunkBytes == 0 {
		cfg.ChunkBytes = 512 << 10
	}
	if cfg.ChunkBytes < 1024 {
		return nil, fmt.Errorf("%w: ChunkBytes must be at least 1024, got %d", ErrInvalidConfig, cfg.ChunkBytes)
	}
	sc := sarama.NewConfig()
	sc.ClientID = cfg.Kafka.ClientID
	sc.Version = sarama.V3_6_0_0
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Return.Successes = true
	sc.Producer.Partitioner = sarama.NewManualPartitioner
	sc.Producer.MaxMessageBytes = cfg.ChunkBytes + 4096
	sc.Producer.Compression = sarama.CompressionSnappy
	sc.Metadata.Retry.Backoff = 250 * time.Millisecond
	client, err := sarama.NewClient(cfg.Kafka.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("pipeline: checkpoints: connecting to Kafka: %w", err)
	}
	producer, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("pipeline: checkpoints: %w", err)
	}
	return &KafkaCheckpoints{cfg: cfg, client: client, producer: producer, chunks: map[string]int{}}, nil
}

// Close closes the producer and the client.
func (k *KafkaCheckpoints) Close() error {
	return errors.Join(k.producer.Close(), k.client.Close())
}

// CreateCheckpointTopic creates the compacted checkpoint topic with as
// many partitions as the input topic has, if it does not exist.
func CreateCheckpointTopic(cfg KafkaConfig, topic string, partitions int32) error {
	return createTopic(cfg, topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: map[string]*string{
		"cleanup.policy":            new("compact"),
		"segment.ms":                new("60000"),
		"min.cleanable.dirty.ratio": new("0.1"),
		"delete.retention.ms":       new("60000"),
		"max.message.bytes":         new(strconv.Itoa(2 << 20)),
	}})
}

func (k *KafkaCheckpoints) key(topic string, partition int32) string {
	return k.cfg.Kafka.ConsumerGroup + "/" + checkpointKey(topic, partition)
}

func (k *KafkaCheckpoints) target(partition int32) (int32, error) {
	ps, err := k.client.Partitions(k.cfg.Topic)
	if err != nil {
		return 0, fmt.Errorf("pipeline: checkpoints: partitions of %s: %w", k.cfg.Topic, err)
	}
	if len(ps) == 0 {
		return 0, fmt.Errorf("pipeline: checkpoints: topic %s has no partitions", k.cfg.Topic)
	}
	return partition % int32(len(ps)), nil
}

// The records' values. A chunk: "RDRK", 1, the checkpoint's generation
// (8 bytes, its Offset), the chunk's index (4 bytes), the bytes. A manifest:
// "RDRM", 1, the generation, the chunk count (4 bytes), the state length (8),
// CRC-32C of the state (4), then per chunk its record offset (8).
var (
	chunkMagic    = []byte("RDRK\x01")
	manifestMagic = []byte("RDRM\x01")
	castagnoli    = crc32.MakeTable(crc32.Castagnoli)
)

// Save implements [CheckpointStore].
func (k *KafkaCheckpoints) Save(ctx context.Context, cp Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	target, err := k.target(cp.Partition)
	if err != nil {
		return err
	}
	key := k.key(cp.Topic, cp.Partition)
	n := (len(cp.State) + k.cfg.ChunkBytes - 1) / k.cfg.ChunkBytes
	msgs := make([]*sarama.ProducerMessage, 0, n+1)
	for i := range n {
		part := cp.State[i*k.cfg.ChunkBytes : min(len(cp.State), (i+1)*k.cfg.ChunkBytes)]
		v := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(append([]byte(nil), chunkMagic...), uint64(cp.Offset)), uint32(i))
		msgs = append(msgs, &sarama.ProducerMessage{Topic: k.cfg.Topic, Partition: target,
			Key: sarama.StringEncoder(key + "#" + strconv.Itoa(i)), Value: sarama.ByteEncoder(append(v, part...))})
	}
	if len(msgs) > 0 {
		if err := k.producer.SendMessages(msgs); err != nil {
			return fmt.Errorf("pipeline: checkpoint of %s: %w", key, err)
		}
	}
	m := append([]byte(nil), manifestMagic...)
	m = binary.BigEndian.AppendUint64(m, uint64(cp.Offset))
	m = binary.BigEndian.AppendUint32(m, uint32(n))
	m = binary.BigEndian.AppendUint64(m, uint64(len(cp.State)))
	m = binary.BigEndian.AppendUint32(m, crc32.Checksum(cp.State, castagnoli))
	for _, c := range msgs {
		m = binary.BigEndian.AppendUint64(m, uint64(c.Offset))
	}
	if _, _, err := k.producer.SendMessage(&sarama.ProducerMessage{Topic: k.cfg.Topic, Partition: target,
		Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(m)}); err != nil {
		return fmt.Errorf("pipeline: checkpoint manifest of %s: %w", key, err)
	}
	// Chunks the previous checkpoint had beyond this one's are deleted, so
	// that compaction frees them.
	k.mu.Lock()
	prev := k.chunks[key]
	k.chunks[key] = n
	k.mu.Unlock()
	var tombstones []*sarama.ProducerMessage
	for i := n; i < prev; i++ {
		tombstones = append(tombstones, &sarama.ProducerMessage{Topic: k.cfg.Topic, Partition: target, Key: sarama.StringEncoder(key + "#" + strconv.Itoa(i))})
	}
	if len(tombstones) > 0 {
		if err := k.producer.SendMessages(tombstones); err != nil {
			return fmt.Errorf("pipeline: checkpoint tombstones of %s: %w", key, err)
		}
	}
	return nil
}

// Load implements [CheckpointStore]: it reads the checkpoint partition to
// its end and returns the newest complete checkpoint of the partition.
func (k *KafkaCheckpoints) Load(ctx context.Context, topic string, partition int32) (Checkpoint, bool, error) {
	target, err := k.target(partition)
	if err != nil {
		return Checkpoint{}, false, err
	}
	key := k.key(topic, partition)
	var oldest, end int64
	err = k.retry(ctx, func() (err error) {
		if oldest, err = k.client.GetOffset(k.cfg.Topic, target, sarama.OffsetOldest); err != nil {
			return err
		}
		end, err = k.client.GetOffset(k.cfg.Topic, target, sarama.OffsetNewest)
		return err
	})
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("pipeline: checkpoints of %s: %w", key, err)
	}
	if end <= oldest {
		return Checkpoint{}, false, nil
	}
	consumer, err := sarama.NewConsumerFromClient(k.client)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("pipeline: checkpoints of %s: %w", key, err)
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(k.cfg.Topic, target, oldest)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("pipeline: checkpoints of %s: %w", key, err)
	}
	defer pc.Close()

	chunks := map[int64][]byte{} // record offset → chunk bytes, of this key
	var latest []byte            // the newest manifest's value
	for {
		select {
		case <-ctx.Done():
			return Checkpoint{}, false, ctx.Err()
		case err := <-pc.Errors():
			return Checkpoint{}, false, fmt.Errorf("pipeline: checkpoints of %s: %w", key, err)
		case rec := <-pc.Messages():
			switch k := string(rec.Key); {
			case k == key:
				latest = rec.Value
			case len(k) > len(key) && k[:len(key)] == key && k[len(key)] == '#' && len(rec.Value) >= len(chunkMagic)+12:
				chunks[rec.Offset] = rec.Value[len(chunkMagic)+12:]
			}
			if rec.Offset+1 < end {
				continue
			}
		}
		break
	}
	if latest == nil {
		return Checkpoint{}, false, nil
	}
	cp, n, err := assemble(latest, chunks)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("pipeline: checkpoint of %s: %w", key, err)
	}
	// The next Save of this partition deletes the chunks this one has
	// beyond its own, also when another process wrote it.
	k.mu.Lock()
	k.chunks[key] = max(k.chunks[key], n)
	k.mu.Unlock()
	cp.Topic, cp.Partition = topic, partition
	return cp, true, nil
}

// retry runs f again, after refreshing the topic's metadata, while it
// fails because the metadata is stale or the leader is moving (a topic just
// created, a broker restarting): at most 20 times, 250 ms apart.
func (k *KafkaCheckpoints) retry(ctx context.Context, f func() error) error {
	for i := 0; ; i++ {
		err := f()
		if err == nil || i == 20 || !(errors.Is(err, sarama.ErrNotLeaderForPartition) || errors.Is(err, sarama.ErrLeaderNotAvailable) ||
			errors.Is(err, sarama.ErrUnknownTopicOrPartition) || errors.Is(err, sarama.ErrNotEnoughReplicas)) {
			return err
		}
		_ = k.client.RefreshMetadata(k.cfg.Topic)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// assemble rebuilds a checkpoint from its manifest and the chunks read,
// and returns its chunk count.
func assemble(manifest []byte, chunks map[int64][]byte) (Checkpoint, int, error) {
	const head = 8 + 4 + 8 + 4
	if len(manifest) < len(manifestMagic)+head || string(manifest[:len(manifestMagic)]) != string(manifestMagic) {
		return Checkpoint{}, 0, fmt.Errorf("%w: not a checkpoint manifest (or of another version)", ErrInvalidCheckpoint)
	}
	b := manifest[len(manifestMagic):]
	offset := int64(binary.BigEndian.Uint64(b))
	n := int(binary.BigEndian.Uint32(b[8:]))
	size := binary.BigEndian.Uint64(b[12:])
	sum := binary.BigEndian.Uint32(b[20:])
	b = b[head:]
	if len(b) != 8*n {
		return Checkpoint{}, 0, fmt.Errorf("manifest names %d chunks in %d bytes", n, len(b))
	}
	state := make([]byte, 0, size)
	for i := range n {
		at := int64(binary.BigEndian.Uint64(b[8*i:]))
		c, ok := chunks[at]
		if !ok {
			return Checkpoint{}, 0, fmt.Errorf("chunk %d (record %d) is missing", i, at)
		}
		state = append(state, c...)
	}
	if uint64(len(state)) != size || crc32.Checksum(state, castagnoli) != sum {
		return Checkpoint{}, 0, fmt.Errorf("state does not match its manifest (%d bytes, want %d, or CRC differs)", len(state), size)
	}
	return Checkpoint{Offset: offset, State: state}, n, nil
}

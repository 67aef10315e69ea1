package pipeline

import (
	"context"
	"fmt"
	"sync"
)

// Checkpoint is one task's saved state: everything the processor knows
// about one input partition after applying its messages before Offset.
type Checkpoint struct {
	// Topic and Partition name the input partition.
	Topic     string
	Partition int32
	// Offset is the offset of the first message not applied: restoring
	// the state and applying the messages from Offset on is the same as
	// never having stopped.
	Offset int64
	// State is the task's state (windows, aggregates, detector state,
	// watermark) in the processor's versioned binary format.
	State []byte
}

// CheckpointStore keeps the latest checkpoint of each input partition. It
// must be safe for concurrent use; a Save that returns nil must be durable
// (a later Load, by any process, returns it or a newer one).
// [KafkaCheckpoints] keeps them in a compacted Kafka topic;
// [MemoryCheckpoints] in memory, for tests.
type CheckpointStore interface {
	// Load returns the latest checkpoint saved for the partition; ok is
	// false when there is none.
	Load(ctx context.Context, topic string, partition int32) (cp Checkpoint, ok bool, err error)
	// Save stores cp as the partition's latest checkpoint.
	Save(ctx context.Context, cp Checkpoint) error
}

// MemoryCheckpoints is a [CheckpointStore] in memory: checkpoints live as
// long as the value, which makes it a store for tests and for processors
// restarted within one process. It is safe for concurrent use.
type MemoryCheckpoints struct {
	mu    sync.Mutex
	cps   map[string]Checkpoint
	saves int
}

// NewMemoryCheckpoints returns an empty store.
func NewMemoryCheckpoints() *MemoryCheckpoints {
	return &MemoryCheckpoints{cps: map[string]Checkpoint{}}
}

func checkpointKey(topic string, partition int32) string {
	return fmt.Sprintf("%s/%d", topic, partition)
}

// Load implements [CheckpointStore].
func (m *MemoryCheckpoints) Load(ctx context.Context, topic string, partition int32) (Checkpoint, bool, error) {
	if err := ctx.Err(); err != nil {
		return Checkpoint{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cp, ok := m.cps[checkpointKey(topic, partition)]
	cp.State = append([]byte(nil), cp.State...)
	return cp, ok, nil
}

// Save implements [CheckpointStore].
func (m *MemoryCheckpoints) Save(ctx context.Context, cp Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cp.State = append([]byte(nil), cp.State...)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cps[checkpointKey(cp.Topic, cp.Partition)] = cp
	m.saves++
	return nil
}

// Saves returns how many checkpoints were saved.
func (m *MemoryCheckpoints) Saves() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saves
}

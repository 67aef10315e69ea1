package pipeline

import (
	"context"
	"fmt"
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
// [KafkaCheckpoints] keeps them in a compacted Kafka topic.
type CheckpointStore interface {
	// Load returns the latest checkpoint saved for the partition; ok is
	// false when there is none.
	Load(ctx context.Context, topic string, partition int32) (cp Checkpoint, ok bool, err error)
	// Save stores cp as the partition's latest checkpoint.
	Save(ctx context.Context, cp Checkpoint) error
}

func checkpointKey(topic string, partition int32) string {
	return fmt.Sprintf("%s/%d", topic, partition)
}

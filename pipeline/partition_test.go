package pipeline_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/pipeline"
)

func TestPartitionBatchesKeepUsersOnTheirPartition(t *testing.T) {
	dec, err := rdr.NewDecoder(rdr.DecoderConfig{Limits: rdr.Limits{MaxPast: -1, MaxFuture: -1}})
	require.NoError(t, err)
	var events []rdr.Event
	for i := range 500 {
		events = append(events, rdr.Event{Time: t0.Add(time.Duration(i) * time.Millisecond), Type: "login", UserID: fmt.Sprintf("u-%d", i%97), Severity: rdr.SeverityLow})
	}
	msgs := pipeline.PartitionBatches(events, 6)
	require.Len(t, msgs, 6)
	total := 0
	for _, m := range msgs {
		p := pipeline.PartitionOf(m.Metadata.Get(pipeline.MetaPartitionKey), 6)
		for ev, err := range dec.Events(m.Payload) {
			require.NoError(t, err)
			assert.Equal(t, p, pipeline.PartitionOf(ev.UserID, 6), "user %s in the batch of partition %d", ev.UserID, p)
			total++
		}
	}
	assert.Equal(t, len(events), total)
	assert.Len(t, pipeline.PartitionBatches(events, 1), 1)
	assert.Empty(t, pipeline.PartitionBatches(nil, 6))
}

// PartitionOf must agree with sarama's default hash partitioner, which
// NewKafkaPublisher's producer uses for keyed records.
func TestPartitionOfMatchesSarama(t *testing.T) {
	for i := range 2000 {
		key := fmt.Sprintf("user-%d", i)
		for _, n := range []int32{1, 6, 7} {
			want, err := sarama.NewHashPartitioner("t").Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(key)}, n)
			require.NoError(t, err)
			require.Equal(t, want, pipeline.PartitionOf(key, n), "key %q, %d partitions", key, n)
		}
	}
}

package pipeline_test

import (
	"fmt"
	"testing"
	"time"

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

// PartitionOf must agree with Kafka's Java client (Utils.murmur2 and
// toPositive(hash) % n). The expected values were printed by
// kafka-clients 4.1.1 itself (Utils.murmur2 on the UTF-8 bytes).
func TestPartitionOfMatchesKafkaJavaClient(t *testing.T) {
	for _, c := range []struct {
		key       string
		partition int32 // of 6
	}{
		{"1", 3}, {"12", 4}, {"123", 5}, {"1234", 0}, {"12345", 2},
		{"u-1842", 0}, {"user-7", 2}, {"a-little-bit-longer-string", 5}, {"", 3},
	} {
		assert.Equal(t, c.partition, pipeline.PartitionOf(c.key, 6), "key %q", c.key)
	}
}

package pipeline_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/pipeline"
)

// A SideLog keeps the newest Max of each side topic, newest first, counts
// all, and passes everything on.
func TestSideLogKeepsTheNewestAndCountsAll(t *testing.T) {
	next := &countingPublisher{}
	l, err := pipeline.NewSideLog(pipeline.SideLogConfig{Topics: []string{"dlq"}, Max: 3, Next: next, Clock: rdr.NewFakeClock(t0)})
	require.NoError(t, err)
	for i := range 5 {
		m := msgOf(fmt.Sprintf(`{"n":%d}`, i))
		m.Metadata.Set(pipeline.MetaError, fmt.Sprintf("bad %d", i))
		m.Metadata.Set(pipeline.MetaField, "severity")
		m.Metadata.Set(pipeline.MetaSourceTopic, "in")
		m.Metadata.Set(pipeline.MetaPartition, "2")
		m.Metadata.Set(pipeline.MetaOffset, fmt.Sprint(10+i))
		require.NoError(t, l.Publish("dlq", m))
	}
	require.NoError(t, l.Publish("alerts", msgOf("x")))
	total, kept, recs := l.Records("dlq", 2)
	assert.Equal(t, uint64(5), total)
	assert.Equal(t, 3, kept)
	assert.Equal(t, []pipeline.SideRecord{
		{Recorded: t0, Reason: "bad 4", Field: "severity", SourceTopic: "in", Partition: 2, Offset: 14, Item: -1, Raw: `{"n":4}`},
		{Recorded: t0, Reason: "bad 3", Field: "severity", SourceTopic: "in", Partition: 2, Offset: 13, Item: -1, Raw: `{"n":3}`},
	}, recs)
	_, _, recs = l.Records("dlq", 0)
	require.Len(t, recs, 3)
	assert.Equal(t, "bad 2", recs[2].Reason)
	assert.Equal(t, 6, next.n, "every message passed on")
	total, kept, recs = l.Records("alerts", 10)
	assert.Equal(t, uint64(0), total)
	assert.Zero(t, kept)
	assert.Empty(t, recs)
}

type countingPublisher struct {
	mu sync.Mutex
	n  int
}

func (c *countingPublisher) Publish(_ string, msgs ...*message.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += len(msgs)
	return nil
}

func (c *countingPublisher) Close() error { return nil }

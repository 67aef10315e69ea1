package main

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/examples/internal/traffic"
	"github.com/rdr-go/rdr/pipeline"
)

// capture is a Publisher that keeps what it is given.
type capture struct {
	mu   sync.Mutex
	msgs []*message.Message
}

func (c *capture) Publish(_ string, msgs ...*message.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msgs...)
	return nil
}

func (c *capture) Close() error { return nil }

// newTestOutput is newKafkaOutput without Kafka: workers producers
// publishing to pub, for a topic of n partitions.
func newTestOutput(pub message.Publisher, n int32, workers int) *kafkaOutput {
	k := &kafkaOutput{pub: pub, topic: "events", partitions: n, work: make([]chan *message.Message, workers)}
	for i := range k.work {
		k.work[i] = make(chan *message.Message, 1)
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			for m := range k.work[i] {
				if err := pub.Publish(k.topic, m); err != nil {
					k.mu.Lock()
					k.err = err
					k.mu.Unlock()
				}
			}
		}()
	}
	return k
}

// jittery is a capture whose Publish takes a random time, as a broker's
// answer does.
type jittery struct{ capture }

func (j *jittery) Publish(topic string, msgs ...*message.Message) error {
	time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
	return j.capture.Publish(topic, msgs...)
}

func TestKafkaOutputKeepsEachPartitionInOrder(t *testing.T) {
	pub := &jittery{}
	out := newTestOutput(pub, 6, 4)
	g := traffic.New(traffic.Config{Seed: 5, Start: time.Now().UTC(), Rate: 2000, AttackEvery: -1})
	_, err := generate(context.Background(), g, out, options{fast: true, count: 20_000, batch: 60})
	require.NoError(t, err)
	require.NoError(t, out.Close())
	dec, err := rdr.NewDecoder(rdr.DecoderConfig{})
	require.NoError(t, err)
	last := map[int32]time.Time{}
	for _, m := range pub.msgs {
		p := pipeline.PartitionOf(m.Metadata.Get(pipeline.MetaPartitionKey), 6)
		for ev, err := range dec.Events(m.Payload) {
			require.NoError(t, err)
			require.False(t, ev.Time.Before(last[p]), "partition %d goes back from %s to %s", p, last[p], ev.Time)
			last[p] = ev.Time
		}
	}
}

func TestKafkaOutputGroupsRecordsByPartition(t *testing.T) {
	const partitions = 6
	pub := &capture{}
	out := newTestOutput(pub, partitions, 1)
	g := traffic.New(traffic.Config{Seed: 3, Start: time.Now().UTC(), Rate: 2000, AttackEvery: 2 * time.Second, InvalidEvery: 50})
	sum, err := generate(context.Background(), g, out, options{fast: true, count: 20_000, batch: 500})
	require.NoError(t, err)
	require.NoError(t, out.Close())
	require.Len(t, pub.msgs, sum.Messages)
	assert.Equal(t, 20_000, sum.Records)
	assert.Equal(t, 400, sum.Invalid)
	require.NotEmpty(t, g.Truth(), "attacks were injected")

	dec, err := rdr.NewDecoder(rdr.DecoderConfig{})
	require.NoError(t, err)
	events, invalid := 0, 0
	byType := map[string]int{}
	for _, m := range pub.msgs {
		key := m.Metadata.Get(pipeline.MetaPartitionKey)
		if key == "" { // an invalid record: alone, without a key
			_, err := dec.DecodeEvent(m.Payload)
			require.ErrorIs(t, err, rdr.ErrInvalidEvent, "unkeyed record %s", m.Payload)
			invalid++
			continue
		}
		p := pipeline.PartitionOf(key, partitions)
		n := 0
		for ev, err := range dec.Events(m.Payload) {
			require.NoError(t, err)
			require.Equal(t, p, pipeline.PartitionOf(ev.UserID, partitions),
				"user %s in the record keyed %s (partition %d)", ev.UserID, key, p)
			byType[ev.Type]++
			n++
		}
		require.Positive(t, n)
		events += n
	}
	assert.Equal(t, sum.Events, events)
	assert.Equal(t, sum.Invalid, invalid)
	assert.Equal(t, sum.ByType, byType)
	// A batch of 500 records makes at most one record per partition plus
	// one per invalid record.
	assert.LessOrEqual(t, sum.Messages, 20_000/500*partitions+sum.Invalid)
}

package pipeline_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/pipeline"
)

func msgOf(s string) *message.Message { return message.NewMessage(watermill.NewUUID(), []byte(s)) }

// Messages published back to back, by publishers that wait for room in a
// small queue, arrive in publish order, each with its offset, while a slow
// subscriber nacks some: nothing overtakes, nothing is lost.
func TestQueueKeepsOrderUnderBackpressure(t *testing.T) {
	q, err := pipeline.NewQueue(pipeline.QueueConfig{MaxBytes: 64})
	require.NoError(t, err)
	defer q.Close()
	ch, err := q.Subscribe(context.Background(), "in")
	require.NoError(t, err)
	const n = 2000
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if err := q.Publish("in", msgOf(strconv.Itoa(i))); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	nacks := 0
	for i := 0; i < n; {
		m := <-ch
		p, off, ok := pipeline.MessagePartition(m)
		require.True(t, ok)
		assert.Equal(t, int32(0), p)
		require.Equal(t, int64(i), off)
		require.Equal(t, strconv.Itoa(i), string(m.Payload))
		hwm, ok := pipeline.MessageHighWaterMark(m)
		require.True(t, ok)
		assert.Greater(t, hwm, off)
		assert.LessOrEqual(t, q.Stats().Bytes, int64(64))
		if i%500 == 7 && nacks < 4 { // delivered again, same offset
			nacks++
			m.Nack()
			continue
		}
		m.Ack()
		i++
	}
	require.NoError(t, <-done)
	assert.Equal(t, 4, nacks)
	require.NoError(t, q.Drain(context.Background()))
	assert.Equal(t, pipeline.QueueStats{MaxBytes: 64}, q.Stats())
	assert.True(t, q.AtEnd("in", 0, n, 0))
	assert.False(t, q.AtEnd("in", 0, n-1, 0))
}

// TryPublish appends all or nothing, and says ErrQueueFull when the
// messages do not fit now; a batch larger than the whole queue is refused
// with another error, since it would never fit.
func TestQueueTryPublishFullAndTooLarge(t *testing.T) {
	q, err := pipeline.NewQueue(pipeline.QueueConfig{MaxBytes: 10})
	require.NoError(t, err)
	defer q.Close()
	require.NoError(t, q.TryPublish("in", msgOf("12345"), msgOf("678")))
	err = q.TryPublish("in", msgOf("ab"), msgOf("c"))
	require.ErrorIs(t, err, pipeline.ErrQueueFull)
	assert.EqualError(t, err, "pipeline: queue full: 8 bytes held, 3 more do not fit in 10")
	assert.Equal(t, pipeline.QueueStats{Messages: 2, Bytes: 8, MaxBytes: 10}, q.Stats())
	err = q.TryPublish("in", msgOf("12345678901"))
	require.Error(t, err)
	assert.False(t, errors.Is(err, pipeline.ErrQueueFull))
	assert.EqualError(t, err, "pipeline: 11 bytes do not fit in a queue of 10 bytes")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, q.PublishContext(ctx, "in", msgOf("abc")), pipeline.ErrQueueFull)

	ch, err := q.Subscribe(context.Background(), "in")
	require.NoError(t, err)
	(<-ch).Ack()
	require.Eventually(t, func() bool { return q.Stats().Bytes == 3 }, 5*time.Second, time.Millisecond, "an acknowledged message frees its room")
	require.NoError(t, q.TryPublish("in", msgOf("ab"), msgOf("c")))
	var got []string
	for range 3 {
		m := <-ch
		got = append(got, string(m.Payload))
		m.Ack()
	}
	assert.Equal(t, []string{"678", "ab", "c"}, got)
}

// Close ends the subscription and fails a publisher waiting for room;
// Drain reports what was left.
func TestQueueClose(t *testing.T) {
	q, err := pipeline.NewQueue(pipeline.QueueConfig{MaxBytes: 4})
	require.NoError(t, err)
	ch, err := q.Subscribe(context.Background(), "in")
	require.NoError(t, err)
	_, err = q.Subscribe(context.Background(), "in")
	require.EqualError(t, err, "pipeline: queue: in already has a subscriber")
	require.NoError(t, q.Publish("in", msgOf("abcd")))
	var wg sync.WaitGroup
	wg.Add(2)
	var pubErr, drainErr error
	go func() { defer wg.Done(); pubErr = q.Publish("in", msgOf("e")) }()
	go func() { defer wg.Done(); drainErr = q.Drain(context.Background()) }()
	<-ch // delivered, never acknowledged
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, q.Close())
	wg.Wait()
	require.ErrorIs(t, pubErr, pipeline.ErrQueueClosed)
	require.EqualError(t, drainErr, "pipeline: queue closed with 1 messages not applied")
	_, open := <-ch
	assert.False(t, open)
	require.ErrorIs(t, q.TryPublish("in", msgOf("x")), pipeline.ErrQueueClosed)
	require.NoError(t, q.Close())
}

// BenchmarkQueue: one message published, delivered and acknowledged, as
// the embedded input does for each POST /api/events.
func BenchmarkQueue(b *testing.B) {
	q, err := pipeline.NewQueue(pipeline.QueueConfig{})
	require.NoError(b, err)
	defer q.Close()
	ch, err := q.Subscribe(context.Background(), "in")
	require.NoError(b, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range b.N {
			(<-ch).Ack()
		}
	}()
	payload := []byte(event(0, "login", "a"))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := q.Publish("in", message.NewMessage("id", payload)); err != nil {
			b.Fatal(err)
		}
	}
	<-done
}

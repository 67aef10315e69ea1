package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Queue is an in-process Pub/Sub for a processor's input when there is no
// Kafka (the reference app's embedded mode): one partition per topic,
// delivered in publish order, bounded in memory.
//
// Watermill's GoChannel is not that. Unless BlockPublishUntilSubscriberAck
// is set, it sends each published message from a goroutine of its own
// (gochannel.GoChannel.Publish → sendMessage), so a later Publish can
// overtake an earlier one: events posted in order then arrive out of
// order, and whole batches fall behind the watermark as late. With that
// option set, every Publish waits for the handler, so it has no buffer at
// all; and in either mode nothing bounds what it holds. Queue keeps one
// ordered list per topic: Publish appends (and waits for room),
// TryPublish appends or fails at once with ErrQueueFull, and one
// subscriber per topic gets the messages one at a time, the next after the
// previous one is acknowledged (a nacked one is delivered again).
//
// Each message carries its offset and the topic's high-water mark, as a
// KafkaSubscriber's do ([MessagePartition], [MessageHighWaterMark]), and
// Queue is an [EndReporter]: a processor's watermark follows the wall
// clock only once the queue is empty, never while a backlog waits.
//
// What a Queue holds lives in memory: a crash loses what was queued and
// not yet applied. It is safe for concurrent use.
type Queue struct {
	maxBytes int64

	mu     sync.Mutex
	room   *sync.Cond // signalled when bytes drop, a topic empties, or the queue closes
	topics map[string]*queueTopic
	bytes  int64 // held, all topics
	closed bool
	wg     sync.WaitGroup // delivery goroutines
	stop   chan struct{}
}

// queueTopic is one topic's messages: offsets first..first+len(msgs)-1.
type queueTopic struct {
	msgs       []*message.Message
	first      int64 // offset of msgs[0]
	subscribed bool
	wake       chan struct{} // a message was appended (buffered, 1)
}

// QueueConfig configures a [Queue].
type QueueConfig struct {
	// MaxBytes bounds the payload bytes held (published, not yet
	// acknowledged), over all topics. Optional; default 64 MiB.
	MaxBytes int64
}

// DefaultQueueBytes is the default QueueConfig.MaxBytes.
const DefaultQueueBytes = 64 << 20

// NewQueue returns an empty Queue.
func NewQueue(cfg QueueConfig) (*Queue, error) {
	if cfg.MaxBytes < 0 {
		return nil, fmt.Errorf("%w: MaxBytes must not be negative, got %d", ErrInvalidConfig, cfg.MaxBytes)
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultQueueBytes
	}
	q := &Queue{maxBytes: cfg.MaxBytes, topics: map[string]*queueTopic{}, stop: make(chan struct{})}
	q.room = sync.NewCond(&q.mu)
	return q, nil
}

func payloadBytes(msgs []*message.Message) int64 {
	var n int64
	for _, m := range msgs {
		n += int64(len(m.Payload))
	}
	return n
}

// topic returns topic's list, made if new. q.mu must be held.
func (q *Queue) topic(name string) *queueTopic {
	t := q.topics[name]
	if t == nil {
		t = &queueTopic{wake: make(chan struct{}, 1)}
		q.topics[name] = t
	}
	return t
}

// appendLocked appends msgs to topic. q.mu must be held.
func (q *Queue) appendLocked(topic string, msgs []*message.Message, n int64) {
	t := q.topic(topic)
	t.msgs = append(t.msgs, msgs...)
	q.bytes += n
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// TryPublish appends msgs to topic, all or none, without waiting: when they
// do not fit now it returns ErrQueueFull and appends nothing.
func (q *Queue) TryPublish(topic string, msgs ...*message.Message) error {
	n := payloadBytes(msgs)
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		return ErrQueueClosed
	case n > q.maxBytes:
		return fmt.Errorf("pipeline: %d bytes do not fit in a queue of %d bytes", n, q.maxBytes)
	case q.bytes+n > q.maxBytes:
		return fmt.Errorf("%w: %d bytes held, %d more do not fit in %d", ErrQueueFull, q.bytes, n, q.maxBytes)
	}
	q.appendLocked(topic, msgs, n)
	return nil
}

// Publish appends msgs to topic, all together, waiting for room as long as
// it takes (message.Publisher has no context: see PublishContext).
func (q *Queue) Publish(topic string, msgs ...*message.Message) error {
	return q.PublishContext(context.Background(), topic, msgs...)
}

// PublishContext appends msgs to topic, all together, waiting for room
// until ctx ends.
func (q *Queue) PublishContext(ctx context.Context, topic string, msgs ...*message.Message) error {
	n := payloadBytes(msgs)
	if n > q.maxBytes {
		return fmt.Errorf("pipeline: %d bytes do not fit in a queue of %d bytes", n, q.maxBytes)
	}
	defer q.wakeOnDone(ctx)()
	q.mu.Lock()
	defer q.mu.Unlock()
	for !q.closed && q.bytes+n > q.maxBytes && ctx.Err() == nil {
		q.room.Wait()
	}
	switch {
	case q.closed:
		return ErrQueueClosed
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %w", ErrQueueFull, ctx.Err())
	}
	q.appendLocked(topic, msgs, n)
	return nil
}

// wakeOnDone wakes the queue's waiters when ctx ends, so that one waiting
// for ctx sees it; call the function it returns when done waiting.
func (q *Queue) wakeOnDone(ctx context.Context) func() bool {
	return context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.room.Broadcast()
		q.mu.Unlock()
	})
}

// QueueStats is what a Queue holds now.
type QueueStats struct {
	Messages int   // published, not yet acknowledged
	Bytes    int64 // their payload bytes
	MaxBytes int64
}

// Stats returns what the queue holds now.
func (q *Queue) Stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := QueueStats{Bytes: q.bytes, MaxBytes: q.maxBytes}
	for _, t := range q.topics {
		s.Messages += len(t.msgs)
	}
	return s
}

// Drain waits until every message published has been acknowledged, or
// until ctx ends or the queue closes.
func (q *Queue) Drain(ctx context.Context) error {
	defer q.wakeOnDone(ctx)()
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		held := 0
		for _, t := range q.topics {
			held += len(t.msgs)
		}
		switch {
		case held == 0:
			return nil
		case q.closed:
			return fmt.Errorf("%w with %d messages not applied", ErrQueueClosed, held)
		case ctx.Err() != nil:
			return fmt.Errorf("pipeline: queue: %d messages not applied: %w", held, ctx.Err())
		}
		q.room.Wait()
	}
}

// AtEnd implements [EndReporter]: the topic holds nothing at or past next.
// A Queue knows at once, so within does not matter.
func (q *Queue) AtEnd(topic string, partition int32, next int64, _ time.Duration) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	t := q.topics[topic]
	if partition != 0 || t == nil {
		return partition == 0
	}
	return next >= t.first+int64(len(t.msgs))
}

// Subscribe returns topic's messages, one at a time, each after the
// previous one was acknowledged. A topic has at most one subscriber. The
// channel is closed when ctx ends or the queue closes; what was not
// acknowledged stays queued.
func (q *Queue) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, ErrQueueClosed
	}
	t := q.topic(topic)
	if t.subscribed {
		return nil, fmt.Errorf("pipeline: queue: %s already has a subscriber", topic)
	}
	t.subscribed = true
	out := make(chan *message.Message)
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		defer close(out)
		defer func() {
			q.mu.Lock()
			t.subscribed = false
			q.mu.Unlock()
		}()
		q.deliver(ctx, t, out)
	}()
	return out, nil
}

// deliver sends t's messages to out until ctx ends or the queue closes.
func (q *Queue) deliver(ctx context.Context, t *queueTopic, out chan<- *message.Message) {
	for {
		q.mu.Lock()
		var head *message.Message
		var offset, hwm int64
		if len(t.msgs) > 0 {
			head, offset, hwm = t.msgs[0], t.first, t.first+int64(len(t.msgs))
		}
		q.mu.Unlock()
		if head == nil {
			select {
			case <-t.wake:
				continue
			case <-ctx.Done():
				return
			case <-q.stop:
				return
			}
		}
		for acked := false; !acked; {
			// A fresh copy each time: a message's Ack and Nack work once.
			msg := head.Copy()
			mctx, cancel := context.WithCancel(context.WithValue(ctx, partitionCtxKey{}, partitionInfo{partition: 0, offset: offset, hwm: hwm}))
			msg.SetContext(mctx)
			select {
			case out <- msg:
			case <-ctx.Done():
				cancel()
				return
			case <-q.stop:
				cancel()
				return
			}
			select {
			case <-msg.Acked():
				acked = true
			case <-msg.Nacked():
				select {
				case <-time.After(100 * time.Millisecond):
				case <-ctx.Done():
				case <-q.stop:
				}
			case <-ctx.Done():
			case <-q.stop:
			}
			cancel()
			if !acked && (ctx.Err() != nil || q.isClosed()) {
				return
			}
		}
		q.mu.Lock()
		t.msgs[0] = nil
		t.msgs = t.msgs[1:]
		if len(t.msgs) == 0 {
			t.msgs = nil // let the backing array go
		}
		t.first++
		q.bytes -= int64(len(head.Payload))
		q.room.Broadcast()
		q.mu.Unlock()
	}
}

func (q *Queue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// Close stops delivery and fails publishers waiting for room. Messages not
// yet acknowledged are dropped with the queue. It waits for the delivery
// goroutines, which return at once, and is safe to call more than once.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	close(q.stop)
	q.room.Broadcast()
	q.mu.Unlock()
	q.wg.Wait()
	return nil
}

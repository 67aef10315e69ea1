package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"slices"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
)

// Applying input: each message to its partition's task, in order.

// errStopping is what the handler returns for a message that arrives while
// the processor stops: it matches ErrShuttingDown and context.Canceled.
var errStopping = fmt.Errorf("%w: %w", ErrShuttingDown, context.Canceled)

// handler applies each message of topic in its partition's task.
func (p *Processor) handler(topic string) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		var err error
		if !p.whileRunning(func() { err = p.apply(topic, msg) }) {
			// Not applied, so not acknowledged: it is delivered again later.
			// Wrapped with context.Canceled, which Watermill's router does
			// not log (message/router.go, handleMessage), where it logged an
			// ERROR for each message a graceful stop turned away.
			return errStopping
		}
		return err
	}
}

func (p *Processor) apply(topic string, msg *message.Message) error {
	if b := messageRecords(msg); b != nil {
		return p.applyInputs(topic, b.records[0].Partition, len(b.records), func(yield func(*input) bool) {
			var in input // one for the batch: the tasks keep no *input
			for _, rec := range b.records {
				in = input{payload: rec.Value, partition: rec.Partition, offset: rec.Offset, hasOffset: true,
					headers: rec.Headers, hwm: b.hwm, hasHWM: true}
				if !yield(&in) {
					return
				}
			}
		})
	}
	partition, offset, hasOffset := p.cfg.Partition(msg)
	in := input{payload: msg.Payload, partition: partition, offset: offset, hasOffset: hasOffset, md: msg.Metadata}
	in.hwm, in.hasHWM = MessageHighWaterMark(msg)
	return p.applyInputs(topic, partition, 1, func(yield func(*input) bool) { yield(&in) })
}

// applyInputs applies n inputs of one partition, in order, in its task
// under one lock, and emits what they produced together. A batch of
// records (messageRecords) gives the same state and the same outputs, in
// the same order, as one message a record (the watermark still moves
// after each record), for less work per record.
func (p *Processor) applyInputs(topic string, partition int32, n int, inputs iter.Seq[*input]) error {
	t, err := p.task(topic, partition)
	if err != nil {
		return err
	}
	p.inputSeen(t, n)
	var out outputs
	t.mu.Lock()
	for in := range inputs {
		t.applyInput(in, &out)
	}
	t.flushRekeyed(&out)
	turn := t.takeTurn()
	t.mu.Unlock()
	p.emitInTurn(p.emitCtx, t, out, turn)
	return nil
}

// inputSeen counts n input messages for t and marks it busy.
func (p *Processor) inputSeen(t *task, n int) {
	p.stats.messages.Add(uint64(n))
	t.lastInput.Store(p.cfg.Clock.Now().UnixNano())
	t.idle.Store(false)
}

// input is one input message (a Kafka record) as the tasks read it.
type input struct {
	payload   []byte
	partition int32
	offset    int64
	hasOffset bool
	hwm       int64 // the partition's high-water mark when it was read
	hasHWM    bool
	// Its metadata: a Watermill message's, or a Kafka record's headers
	// (watermill-kafka's DefaultMarshaler writes each metadata entry as a
	// header of the same name).
	md      message.Metadata
	headers []*sarama.RecordHeader
}

// meta returns the input's metadata value for key, "" when there is none.
func (in *input) meta(key string) string {
	if in.md != nil {
		return in.md.Get(key)
	}
	for _, h := range in.headers {
		if string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}

// applyInput applies one input message in t, unless the state already
// holds it (a redelivery from before the checkpoint), and moves the
// task's offset past it. t.mu must be held.
func (t *task) applyInput(in *input, out *outputs) {
	if in.hasOffset && in.offset < t.next {
		return
	}
	if t.windows == nil {
		t.applyRekeyed(in, out)
	} else {
		t.apply(in, out)
	}
	if in.hasOffset {
		t.next = in.offset + 1
		if in.hasHWM {
			t.caughtUp = in.offset+1 >= in.hwm
		}
	}
}

// taskKey names a task: a partition of the input or repartition topic.
type taskKey struct {
	topic     string
	partition int32
}

// task returns the partition's task, making an empty one for a partition
// not seen before (an input without assignments, such as GoChannel).
func (p *Processor) task(topic string, partition int32) (*task, error) {
	key := taskKey{topic, partition}
	p.tasksMu.RLock()
	t := p.tasks[key]
	p.tasksMu.RUnlock()
	if t != nil {
		return t, nil
	}
	p.tasksMu.Lock()
	defer p.tasksMu.Unlock()
	if t = p.tasks[key]; t != nil {
		return t, nil
	}
	t, err := p.newTask(topic, partition)
	if err != nil {
		return nil, err
	}
	p.tasks[key] = t
	return t, nil
}

// taskList returns the tasks held now, by partition.
func (p *Processor) taskList() []*task {
	p.tasksMu.RLock()
	defer p.tasksMu.RUnlock()
	ts := make([]*task, 0, len(p.tasks))
	for _, t := range p.tasks {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b *task) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	return ts
}

// removeTasks takes every task out of the processor and returns them.
func (p *Processor) removeTasks() []*task {
	ts := p.taskList()
	p.tasksMu.Lock()
	clear(p.tasks)
	p.tasksMu.Unlock()
	return ts
}

package pipeline

import (
	"cmp"
	"slices"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Applying input: each message to its partition's task, in order.

// handler applies each message of topic in its partition's task.
func (p *Processor) handler(topic string) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		var err error
		if !p.whileRunning(func() { err = p.apply(topic, msg) }) {
			// Not applied, so not acknowledged: it is delivered again later.
			return ErrShuttingDown
		}
		return err
	}
}

func (p *Processor) apply(topic string, msg *message.Message) error {
	partition, offset, hasOffset := p.cfg.Partition(msg)
	t, err := p.task(topic, partition)
	if err != nil {
		return err
	}
	p.stats.messages.Add(1)
	t.lastInput.Store(p.cfg.Clock.Now().UnixNano())
	t.idle.Store(false)
	var out outputs
	t.mu.Lock()
	if hasOffset && offset < t.next {
		// Already in the state (a redelivery from before the checkpoint).
		t.mu.Unlock()
		return nil
	}
	if t.windows == nil {
		t.applyRekeyed(msg, &out)
	} else {
		t.apply(msg, &out)
	}
	if hasOffset {
		t.next = offset + 1
		if hwm, ok := MessageHighWaterMark(msg); ok {
			t.caughtUp = offset+1 >= hwm
		}
	}
	turn := t.takeTurn()
	t.mu.Unlock()
	p.emitInTurn(p.emitCtx, t, out, turn)
	return nil
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

package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
)

// Partitions that come and go: restore on assignment, checkpoint on revoke.

// PartitionAssigned implements [PartitionHandler]: it gives the partition
// a task, restored from the partition's latest checkpoint when there is
// one, and returns the checkpoint's offset. A checkpoint that cannot be
// restored is logged and counted, and the partition starts empty from the
// group's offset.
func (p *Processor) PartitionAssigned(ctx context.Context, topic string, partition int32) (int64, error) {
	t, err := p.newTask(topic, partition)
	if err != nil {
		return -1, err
	}
	from := int64(-1)
	if p.cfg.Checkpoints != nil {
		cp, ok, err := p.cfg.Checkpoints.Load(ctx, topic, partition)
		switch {
		case err != nil:
			p.stats.checkpointErrors.Add(1)
			return -1, fmt.Errorf("pipeline: loading the checkpoint of %s: %w", t.name, err)
		case !ok:
		case cp.Offset < 0:
			p.stats.checkpointErrors.Add(1)
			p.cfg.Logger.Error("pipeline: checkpoint ignored", fmt.Errorf("%w: offset %d", ErrInvalidCheckpoint, cp.Offset), watermill.LogFields{"task": t.name})
		default:
			if err := t.restore(cp.State); err != nil {
				p.stats.checkpointErrors.Add(1)
				p.cfg.Logger.Error("pipeline: checkpoint not restored; the partition starts empty", err, watermill.LogFields{"task": t.name})
				break
			}
			t.next, t.saved, from = cp.Offset, cp.Offset, cp.Offset
			t.storeWatermark()
			p.stats.restored.Add(1)
			p.cfg.Logger.Info("pipeline: partition restored", watermill.LogFields{"task": t.name, "offset": cp.Offset, "bytes": len(cp.State)})
		}
	}
	p.tasksMu.Lock()
	p.tasks[taskKey{topic, partition}] = t
	p.tasksMu.Unlock()
	return from, nil
}

// PartitionRevoked implements [PartitionHandler]: it checkpoints the
// partition's task and lets it go. At a graceful stop, and at any revoke
// without Checkpoints, it also fires the task's open windows (after the
// checkpoint, which keeps them open for the next owner). Once a graceful
// stop has checkpointed every task at once (see [Processor.Close]), a
// revoke waits for that checkpoint instead.
func (p *Processor) PartitionRevoked(ctx context.Context, topic string, partition int32) {
	p.tasksMu.Lock()
	t := p.tasks[taskKey{topic, partition}]
	delete(p.tasks, taskKey{topic, partition})
	p.tasksMu.Unlock()
	if t == nil {
		if p.draining.Load() { // the stop took the task: its checkpoint must be saved before the partition goes
			select {
			case <-p.stopSaved:
			case <-ctx.Done():
			case <-time.After(2 * p.cfg.CloseTimeout): // the stop's waits are bounded by CloseTimeout each
			}
		}
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.CloseTimeout)
	defer cancel()
	if err := p.checkpoint(ctx, []*task{t}, true); err != nil {
		p.cfg.Logger.Error("pipeline: checkpoint on revoke", err, watermill.LogFields{"task": t.name})
	}
}

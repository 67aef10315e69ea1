package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/IBM/sarama"

	"github.com/rdr-go/rdr/sink"
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

// checkpoint saves the state of tasks. In order, so that recovery is
// exact (see the package doc): each task's state and offset are taken
// together under its lock; once everything the task produced before that
// has been emitted, and the sinks have flushed it, the checkpoint is saved
// and then the offset committed. final (a revoke or a stop) saves even an
// unchanged task, and at a stop fires its open windows after taking the
// state.
func (p *Processor) checkpoint(ctx context.Context, tasks []*task, final bool) error {
	select {
	case p.checkpointing <- struct{}{}:
		defer func() { <-p.checkpointing }()
	case <-ctx.Done():
		return fmt.Errorf("pipeline: no checkpoint: waiting for the one in progress: %w", ctx.Err())
	}
	type snap struct {
		t     *task
		next  int64
		state []byte
	}
	var snaps []snap
	var errs []error
	for _, t := range tasks {
		var out outputs
		t.mu.Lock()
		next := t.next
		var state []byte
		var err error
		if p.cfg.Checkpoints != nil && next >= 0 && (next != t.saved || final) {
			state, err = t.snapshot()
		}
		// A task let go fires its open windows at a stop, and at any
		// revoke when there are no checkpoints: nobody else will.
		stopping := final && (p.draining.Load() || p.cfg.Checkpoints == nil)
		if stopping {
			t.flushWindows(&out)
		}
		if final { // the task's alerts are no longer this processor's
			p.stats.open.Add(-int64(len(t.open)))
			clear(t.open)
		}
		turn := t.takeTurn() // after every turn the state holds
		t.mu.Unlock()
		p.emitInTurn(ctx, t, out, turn)
		switch {
		case err != nil:
			p.stats.checkpointErrors.Add(1)
			errs = append(errs, err)
		case next >= 0 && (next != t.saved || final) && (p.cfg.Checkpoints != nil || p.partitioned[t.topic] != nil):
			// Something to save or commit once the sinks have flushed.
			// (Without either, the sinks' Close flushes at a stop: waiting
			// here too would only double the wait on a sink that is down.)
			snaps = append(snaps, snap{t, next, state})
		}
	}
	if len(snaps) == 0 {
		return errors.Join(errs...)
	}
	// What the tasks produced before their state was taken is durable
	// before the checkpoint says it is done.
	if err := p.flushSinks(ctx); err != nil {
		p.stats.checkpointErrors.Add(uint64(len(snaps)))
		return errors.Join(append(errs, fmt.Errorf("pipeline: no checkpoint: the sinks did not flush: %w", err))...)
	}
	// The saves go side by side (a CheckpointStore is safe for
	// concurrent use; each is a round trip or two to Kafka), then each
	// task's offset is committed in order.
	saveErrs := make([]error, len(snaps))
	var sessions []sarama.ConsumerGroupSession
	var wg sync.WaitGroup
	for i, s := range snaps {
		t := s.t
		t.mu.Lock()
		stale := s.next < t.saved
		t.mu.Unlock()
		if stale { // never put an older state over a newer one
			snaps[i].t = nil
			continue
		}
		if p.cfg.Checkpoints != nil {
			wg.Go(func() {
				saveErrs[i] = p.cfg.Checkpoints.Save(ctx, Checkpoint{Topic: t.topic, Partition: t.partition, Offset: s.next, State: s.state})
			})
		}
	}
	wg.Wait()
	for i, s := range snaps {
		t := s.t
		if t == nil {
			continue
		}
		if p.cfg.Checkpoints != nil {
			if err := saveErrs[i]; err != nil {
				p.stats.checkpointErrors.Add(1)
				errs = append(errs, fmt.Errorf("pipeline: checkpoint of %s: %w", t.name, err))
				continue
			}
			p.stats.checkpoints.Add(1)
		}
		t.mu.Lock()
		t.saved = s.next
		t.mu.Unlock()
		if sub := p.partitioned[t.topic]; sub != nil {
			var err error
			if m, ok := sub.(offsetMarker); ok { // committed below, once a session
				var sess sarama.ConsumerGroupSession
				if sess, err = m.markOffset(t.topic, t.partition, s.next); err == nil && !slices.Contains(sessions, sess) {
					sessions = append(sessions, sess)
				}
			} else {
				err = sub.Commit(t.topic, t.partition, s.next)
			}
			if err != nil && !errors.Is(err, ErrNotAssigned) {
				errs = append(errs, fmt.Errorf("pipeline: committing %s at %d: %w", t.name, s.next, err))
			}
		}
	}
	for _, sess := range sessions {
		sess.Commit()
	}
	return errors.Join(errs...)
}

// offsetMarker is a PartitionedSubscriber (KafkaSubscriber) that can mark
// many offsets and commit them at once.
type offsetMarker interface {
	markOffset(topic string, partition int32, offset int64) (sarama.ConsumerGroupSession, error)
}

// flushSinks flushes every sink that buffers.
func (p *Processor) flushSinks(ctx context.Context) error {
	var errs []error
	for _, s := range p.cfg.Sinks {
		if f, ok := s.(sink.Flusher); ok {
			if err := f.Flush(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

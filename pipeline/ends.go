package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
)

// EndReporter is implemented by a subscriber that can tell, from its
// source, whether a partition has anything more to deliver. The
// [Processor] lets an idle partition's watermark follow the wall clock
// only when its subscriber reports the partition's end: a partition is
// idle when its source has nothing more, never merely because nothing
// arrived. A processor cut off from its broker, waiting for a rebalance,
// or blocked on a full sink gets no fresh answer (or one with records
// past its offset), so its watermark holds, and the backlog it reads
// afterwards is judged by its own event time instead of being late.
//
// [KafkaSubscriber] and [Queue] implement it. With a subscriber that does
// not, the processor relies on IdleTimeout alone (and on the high-water
// mark carried by the last message, when there is one).
type EndReporter interface {
	// AtEnd reports whether the partition holds nothing at or past offset
	// next, as the source answered to a question asked at most within
	// ago (the processor passes how long the partition has been quiet, so
	// the answer is one given after the last message) and recently enough
	// for the subscriber to vouch for it. It is false when there is no
	// such answer (the source unreachable, the partition not held). It
	// must not block.
	AtEnd(topic string, partition int32, next int64, within time.Duration) bool
}

// endWatch keeps the high-water marks of a KafkaSubscriber's partitions
// fresh: sarama updates a claim's high-water mark only from fetch
// responses, and says nothing of how old it is, so a fetch that hangs on
// a frozen broker leaves the last one standing. endWatch asks the brokers
// (ListOffsets, latest: one request per leader for all its partitions,
// which sarama's Client.GetOffset cannot do) for every held partition
// every interval, on its own client, and keeps each answer with when it
// was asked.
//
// After the broker was out of reach (a question failed), no partition is
// at its end until grace has passed since the broker answered again:
// producers that buffered through the outage reconnect on their own
// backoff (librdkafka's reconnect.backoff.max.ms is 10 s), and until they
// have, the broker's end is not the sources' end.
type endWatch struct {
	grace time.Duration

	mu        sync.Mutex
	ends      map[int32]endAnswer
	failing   bool      // the latest question failed
	recovered time.Time // when the broker answered again after failing
}

type endAnswer struct {
	hwm   int64
	asked time.Time
}

// endInterval is how often a KafkaSubscriber asks for its partitions'
// high-water marks; an answer older than endFresh is no answer.
const (
	endInterval = 500 * time.Millisecond
	endFresh    = 3 * endInterval
)

func (w *endWatch) atEnd(partition int32, next int64, within time.Duration) bool {
	w.mu.Lock()
	a, ok := w.ends[partition]
	failing, recovered := w.failing, w.recovered
	w.mu.Unlock()
	if failing || !recovered.IsZero() && time.Since(recovered) < w.grace {
		return false
	}
	age := time.Since(a.asked)
	return ok && next >= a.hwm && age <= within && age <= endFresh
}

// run asks for the high-water marks of the partitions held() returns
// until ctx ends.
func (w *endWatch) run(ctx context.Context, client sarama.Client, topic string, held func() []int32, logger watermill.LoggerAdapter) {
	t := time.NewTicker(endInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		parts := held()
		if len(parts) == 0 {
			continue
		}
		asked := time.Now()
		hwms, err := highWaterMarks(client, topic, parts)
		if ctx.Err() != nil {
			return
		}
		if err != nil { // the leaders may have moved: ask again with fresh metadata
			if rerr := client.RefreshMetadata(topic); rerr == nil {
				asked = time.Now()
				hwms, err = highWaterMarks(client, topic, parts)
			}
		}
		w.mu.Lock()
		wasFailing := w.failing
		if err != nil {
			w.failing = true
		} else {
			if wasFailing {
				w.failing, w.recovered = false, time.Now()
			}
			for p, hwm := range hwms {
				w.ends[p] = endAnswer{hwm, asked}
			}
		}
		w.mu.Unlock()
		switch {
		case err != nil && !wasFailing:
			logger.Info("kafka subscriber: cannot ask the partitions' ends; watermarks hold", watermill.LogFields{"topic": topic, "err": err.Error()})
		case err == nil && wasFailing:
			logger.Info("kafka subscriber: the broker answers again; watermarks hold for the outage grace", watermill.LogFields{"topic": topic, "grace": w.grace.String()})
		}
	}
}

// highWaterMarks asks each partition's leader for the partitions' latest
// offsets, one ListOffsets request per leader. Any failure fails the whole
// answer: a partition without one must not be taken as idle.
func highWaterMarks(client sarama.Client, topic string, parts []int32) (map[int32]int64, error) {
	byLeader := map[*sarama.Broker][]int32{}
	for _, p := range parts {
		b, err := client.Leader(topic, p)
		if err != nil {
			return nil, fmt.Errorf("leader of %s/%d: %w", topic, p, err)
		}
		byLeader[b] = append(byLeader[b], p)
	}
	out := make(map[int32]int64, len(parts))
	for b, ps := range byLeader {
		req := sarama.NewOffsetRequest(client.Config().Version)
		for _, p := range ps {
			req.AddBlock(topic, p, sarama.OffsetNewest, 1)
		}
		resp, err := b.GetAvailableOffsets(req)
		if err != nil {
			_ = b.Close() // as sarama's GetOffset does: the next Leader call reconnects
			return nil, fmt.Errorf("offsets from broker %d: %w", b.ID(), err)
		}
		for _, p := range ps {
			block := resp.GetBlock(topic, p)
			switch {
			case block == nil:
				return nil, fmt.Errorf("offsets of %s/%d: %w", topic, p, sarama.ErrIncompleteResponse)
			case !errors.Is(block.Err, sarama.ErrNoError):
				return nil, fmt.Errorf("offsets of %s/%d: %w", topic, p, block.Err)
			case len(block.Offsets) != 1:
				return nil, fmt.Errorf("offsets of %s/%d: %d offsets in the answer", topic, p, len(block.Offsets))
			}
			out[p] = block.Offsets[0]
		}
	}
	return out, nil
}

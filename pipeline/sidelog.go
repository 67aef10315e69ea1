package pipeline

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rdr-go/rdr"
)

// SideLog is a message.Publisher that keeps, in memory, the newest
// messages of the side topics it is given (dead letters, late events),
// counts every one, and passes every message on to the next publisher.
// Put it in front of the processor's Publisher so that refused input can
// be looked at — the reference app serves it as GET /api/deadletters and
// GET /api/late — even where nothing subscribes to those topics (the
// embedded mode), and so that none of it goes uncounted.
//
// It is safe for concurrent use.
type SideLog struct {
	next  message.Publisher
	clock rdr.Clock
	max   int

	mu     sync.Mutex
	topics map[string]*sideRing
}

// SideLogConfig configures a [SideLog].
type SideLogConfig struct {
	// Topics are the topics whose messages are kept. Required.
	Topics []string
	// Max is how many messages are kept per topic, the newest. Optional;
	// default 1000.
	Max int
	// Next gets every message published, kept or not. Optional; nil: the
	// messages of topics not kept are dropped.
	Next message.Publisher
	// Clock stamps when a message was recorded. Optional; default
	// rdr.SystemClock.
	Clock rdr.Clock
}

// SideRecord is one kept message: why its item was refused, where it came
// from, and its bytes.
type SideRecord struct {
	Recorded    time.Time `json:"recorded"`
	Reason      string    `json:"reason"`
	Field       string    `json:"field,omitempty"`
	SourceTopic string    `json:"sourceTopic,omitempty"`
	Partition   int64     `json:"partition"` // -1: unknown
	Offset      int64     `json:"offset"`    // -1: unknown
	Item        int64     `json:"item"`      // the item's index in its input message; -1: unknown
	Window      string    `json:"window,omitempty"`
	Raw         string    `json:"raw"` // the item's original bytes
}

type sideRing struct {
	recs  []SideRecord // a ring of at most max
	next  int          // where the next record goes
	total uint64
}

// NewSideLog returns a SideLog for cfg.
func NewSideLog(cfg SideLogConfig) (*SideLog, error) {
	if len(cfg.Topics) == 0 {
		return nil, fmt.Errorf("%w: Topics is required", ErrInvalidConfig)
	}
	if cfg.Max < 0 {
		return nil, fmt.Errorf("%w: Max must not be negative, got %d", ErrInvalidConfig, cfg.Max)
	}
	if cfg.Max == 0 {
		cfg.Max = 1000
	}
	if cfg.Clock == nil {
		cfg.Clock = rdr.SystemClock
	}
	l := &SideLog{next: cfg.Next, clock: cfg.Clock, max: cfg.Max, topics: map[string]*sideRing{}}
	for _, t := range cfg.Topics {
		l.topics[t] = &sideRing{}
	}
	return l, nil
}

// Publish passes msgs on to the next publisher, and keeps those of a side
// topic once that succeeded.
func (l *SideLog) Publish(topic string, msgs ...*message.Message) error {
	if l.next != nil {
		if err := l.next.Publish(topic, msgs...); err != nil {
			return err
		}
	}
	ring := l.topics[topic]
	if ring == nil {
		return nil
	}
	now := l.clock.Now().UTC()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range msgs {
		rec := SideRecord{
			Recorded: now, Reason: m.Metadata.Get(MetaError), Field: m.Metadata.Get(MetaField),
			SourceTopic: m.Metadata.Get(MetaSourceTopic), Window: m.Metadata.Get(MetaWindow),
			Partition: metaInt(m, MetaPartition), Offset: metaInt(m, MetaOffset), Item: metaInt(m, MetaItem),
			Raw: string(m.Payload),
		}
		ring.total++
		if len(ring.recs) < l.max {
			ring.recs = append(ring.recs, rec)
			continue
		}
		ring.recs[ring.next] = rec
		ring.next = (ring.next + 1) % l.max
	}
	return nil
}

func metaInt(m *message.Message, key string) int64 {
	v, err := strconv.ParseInt(m.Metadata.Get(key), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// Records returns how many messages topic has had, how many are kept, and
// the newest at most limit of them, newest first (limit ≤ 0: all kept).
func (l *SideLog) Records(topic string, limit int) (total uint64, kept int, recs []SideRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ring := l.topics[topic]
	if ring == nil {
		return 0, 0, nil
	}
	n := len(ring.recs)
	if limit <= 0 || limit > n {
		limit = n
	}
	recs = make([]SideRecord, 0, limit)
	for i := range limit { // newest first: the one before next, backwards
		recs = append(recs, ring.recs[((ring.next-1-i)%n+n)%n])
	}
	return ring.total, n, recs
}

// Total returns how many messages topic has had.
func (l *SideLog) Total(topic string) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ring := l.topics[topic]; ring != nil {
		return ring.total
	}
	return 0
}

// Close does nothing: the next publisher is its owner's to close.
func (l *SideLog) Close() error { return nil }

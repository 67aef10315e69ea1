package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
)

// PartitionHandler is told when a [PartitionedSubscriber] takes a
// partition on and before it lets one go. The [Processor] is one: it
// restores a partition's task from its checkpoint when it is assigned, and
// checkpoints it when it is revoked.
type PartitionHandler interface {
	// PartitionAssigned is called before the first message of a newly
	// assigned partition is delivered. It returns the offset of the first
	// message to deliver: messages before it are read past, not delivered
	// (their effects are already in the restored state). A negative offset
	// delivers from where the consumer group stands. An error stops the
	// partition's delivery; the subscriber logs it and gives the partition
	// up for a later rebalance.
	PartitionAssigned(ctx context.Context, topic string, partition int32) (int64, error)
	// PartitionRevoked is called once the last delivered message of the
	// partition has been acknowledged, before the partition is released to
	// another member of the group (or the subscriber closes). The partition
	// is not released until it returns.
	PartitionRevoked(ctx context.Context, topic string, partition int32)
}

// PartitionedSubscriber is a message.Subscriber whose topic is shared by a
// group of consumers, partition by partition, and which leaves committing
// to its user: it commits only what Commit is given, never on Ack. Each
// message carries its partition and offset ([MessagePartition]) and the
// partition's high-water mark ([MessageHighWaterMark]). Messages of one
// partition are delivered one at a time, in order: the next one after the
// previous one is acknowledged. [KafkaSubscriber] implements it.
type PartitionedSubscriber interface {
	message.Subscriber
	// SetPartitionHandler sets the handler told of assignments and
	// revocations. It must be called before Subscribe.
	SetPartitionHandler(h PartitionHandler)
	// Commit records for the consumer group that partition's messages
	// before offset are done with. It returns an error wrapping
	// ErrNotAssigned when the partition is no longer held.
	Commit(topic string, partition int32, offset int64) error
}

type partitionCtxKey struct{}

type partitionInfo struct {
	partition int32
	offset    int64
	hwm       int64
}

// MessagePartition returns the partition and offset a message was read
// from: what [KafkaSubscriber] and watermill-kafka's subscriber put in its
// context. ok is false for messages of other Pub/Subs.
func MessagePartition(msg *message.Message) (partition int32, offset int64, ok bool) {
	ctx := msg.Context()
	if pi, found := ctx.Value(partitionCtxKey{}).(partitionInfo); found {
		return pi.partition, pi.offset, true
	}
	partition, ok = kafka.MessagePartitionFromCtx(ctx)
	if !ok {
		return 0, 0, false
	}
	offset, ok = kafka.MessagePartitionOffsetFromCtx(ctx)
	return partition, offset, ok
}

// MessageHighWaterMark returns the high-water mark of the message's
// partition when it was read (the offset the next record produced to it
// will get): the partition has nothing more to read once offset+1 reaches
// it. ok is false for messages not read by a [KafkaSubscriber].
func MessageHighWaterMark(msg *message.Message) (hwm int64, ok bool) {
	pi, ok := msg.Context().Value(partitionCtxKey{}).(partitionInfo)
	return pi.hwm, ok
}

// KafkaSubscriber is a [PartitionedSubscriber] on a Sarama consumer group
// (cooperative-sticky rebalancing). watermill-kafka's subscriber commits
// every acknowledged message and cannot start a partition anywhere but at
// the group's committed offset, nor tell its user that a partition is
// going; state checkpointed with its offset needs all three, so the
// processor's Kafka input is this one. It converts records with
// watermill-kafka's DefaultMarshaler (the UUID and metadata travel as
// headers), so it reads what watermill-kafka's publisher writes.
//
// Subscribe may be called once (one topic). Close stops delivery, calls
// PartitionRevoked for every partition held, and leaves the group; it
// waits at most CloseTimeout for the partitions' handlers. It is safe for
// concurrent use.
type KafkaSubscriber struct {
	cfg    KafkaConfig
	sc     *sarama.Config
	logger watermill.LoggerAdapter

	mu      sync.Mutex
	handler PartitionHandler
	group   sarama.ConsumerGroup
	claims  map[int32]sarama.ConsumerGroupSession // held partitions
	topic   string
	ends    endWatch
	closed  bool
	batch   int // records a message, at most (setBatchMax)
	cancel  context.CancelFunc
	done    chan struct{} // closed when the consume loop has returned
}

// decompressedBatchLimit is what this package sets sarama's
// MaxDecompressedBatchSize to when it is unset (0, sarama's default): 1 GiB.
//
// Sarama v1.61 decodes a snappy record batch (what rdr's publisher, the
// Java client's snappy and most producers write) in one of two ways
// (decompress.go): without a limit, with xerial.Decode into a nil slice,
// which appends the batch's 32 KiB chunks one by one and so regrows and
// copies the whole batch about twice over; with a limit, into a pooled
// buffer sized by the earlier batches, copied out once. The limit is what
// buys the second way, so this one is far above any batch a producer
// sends (Kafka's default request limit is 1 MiB compressed, rdr's
// publisher's 8 MiB; JSON events inflate a few times, not a hundred): it
// refuses nothing real and still stops a compression bomb. On a backlog
// of one event per record it cut the suite's bytes allocated by 30%
// (BenchmarkSuite, records=1). A program that sets its own
// MaxDecompressedBatchSize (in main, or in an init of its own package,
// which runs after this one) keeps it.
const decompressedBatchLimit = 1 << 30

// init sets the limit before any goroutine of the program can read it.
func init() {
	if sarama.MaxDecompressedBatchSize == 0 {
		sarama.MaxDecompressedBatchSize = decompressedBatchLimit
	}
}

// NewKafkaSubscriber returns a subscriber for cfg's consumer group, tuned
// for the processor: large fetches, the oldest record for a partition the
// group has no offset for (FromNewest: the newest), cooperative-sticky
// rebalancing, and no automatic commits.
func NewKafkaSubscriber(cfg KafkaConfig, logger watermill.LoggerAdapter) (*KafkaSubscriber, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	sc := sarama.NewConfig()
	sc.ClientID = cfg.ClientID
	sc.Version = sarama.V3_6_0_0
	sc.Consumer.Return.Errors = true
	sc.Consumer.Fetch.Default = 4 << 20
	sc.Consumer.Fetch.Max = 16 << 20
	sc.Consumer.MaxWaitTime = 50 * time.Millisecond
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	if cfg.FromNewest {
		sc.Consumer.Offsets.Initial = sarama.OffsetNewest
	}
	// Offsets are committed by Commit alone: an offset the group holds is
	// one whose effects are durable (see the package doc).
	sc.Consumer.Offsets.AutoCommit.Enable = false
	// Cooperative rebalancing: when a processor joins or leaves the group,
	// the others keep consuming the partitions that do not move.
	sc.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyCooperativeSticky()}
	sc.Consumer.Group.InstanceId = cfg.InstanceID
	// A member learns that the group rebalances from its next heartbeat:
	// at Sarama's default of 3 s, a processor whose repartition subscriber
	// joins the group after its input subscriber (or a second processor
	// that joins) waited ~3 s for its first record. 500 ms keeps the
	// heartbeat well under a third of the 10 s session timeout.
	sc.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	sc.ChannelBufferSize = 1024
	sc.Metadata.Retry.Backoff = 250 * time.Millisecond
	return &KafkaSubscriber{cfg: cfg, sc: sc, logger: logger, claims: map[int32]sarama.ConsumerGroupSession{}, ends: endWatch{grace: max(cfg.OutageGrace, 0), ends: map[int32]endAnswer{}}}, nil
}

// SetPartitionHandler implements [PartitionedSubscriber].
func (s *KafkaSubscriber) SetPartitionHandler(h PartitionHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

// Subscribe joins the consumer group on topic and returns the channel of
// its messages. The channel is closed when ctx ends or Close is called.
func (s *KafkaSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, fmt.Errorf("%w: the kafka subscriber", ErrClosed)
	case s.group != nil:
		return nil, fmt.Errorf("%w: kafka subscriber: Subscribe called twice", ErrStarted)
	}
	// The partitions' ends are asked on a client of their own, with short
	// timeouts: an answer that does not come is no answer.
	ec := sarama.NewConfig()
	ec.ClientID = s.sc.ClientID
	ec.Version = s.sc.Version
	ec.Net.DialTimeout, ec.Net.ReadTimeout, ec.Net.WriteTimeout = 2*time.Second, 2*time.Second, 2*time.Second
	ec.Metadata.Retry.Max, ec.Metadata.Retry.Backoff = 1, 100*time.Millisecond
	endClient, err := sarama.NewClient(s.cfg.Brokers, ec)
	if err != nil {
		return nil, fmt.Errorf("pipeline: kafka subscriber: connecting to %v: %w", s.cfg.Brokers, err)
	}
	group, err := sarama.NewConsumerGroup(s.cfg.Brokers, s.cfg.ConsumerGroup, s.sc)
	if err != nil {
		_ = endClient.Close()
		return nil, fmt.Errorf("pipeline: joining consumer group %s: %w", s.cfg.ConsumerGroup, err)
	}
	s.group, s.topic = group, topic
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	out := make(chan *message.Message)
	h := &groupHandler{s: s, topic: topic, out: out, ctx: ctx}
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		s.ends.run(ctx, endClient, topic, s.held, s.logger)
	}()
	go func() {
		defer close(s.done)
		defer func() { <-watchDone; _ = endClient.Close() }()
		defer close(out)
		go func() {
			for err := range group.Errors() {
				s.logger.Error("kafka subscriber", err, watermill.LogFields{"topic": topic})
			}
		}()
		for ctx.Err() == nil {
			err := group.Consume(ctx, []string{topic}, h)
			switch {
			case ctx.Err() != nil, errors.Is(err, sarama.ErrClosedConsumerGroup):
				return
			case err != nil:
				s.logger.Error("kafka subscriber: consume", err, watermill.LogFields{"topic": topic})
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
	return out, nil
}

// topicPartitions returns topic's partition count: the processor groups
// the events it forwards to its repartition topic by partition.
func (s *KafkaSubscriber) topicPartitions(topic string) (int32, error) {
	return TopicPartitions(s.cfg, topic)
}

// held returns the partitions held now.
func (s *KafkaSubscriber) held() []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := make([]int32, 0, len(s.claims))
	for p := range s.claims {
		ps = append(ps, p)
	}
	return ps
}

// AtEnd implements [EndReporter]: the broker's latest high-water mark for
// the partition, asked every 500 ms, is at most next.
func (s *KafkaSubscriber) AtEnd(topic string, partition int32, next int64, within time.Duration) bool {
	s.mu.Lock()
	_, held := s.claims[partition]
	mine := topic == s.topic
	s.mu.Unlock()
	return held && mine && s.ends.atEnd(partition, next, within)
}

// Commit implements [PartitionedSubscriber]: it marks offset for the
// partition and commits synchronously.
func (s *KafkaSubscriber) Commit(topic string, partition int32, offset int64) error {
	sess, err := s.markOffset(topic, partition, offset)
	if err != nil {
		return err
	}
	sess.Commit()
	return nil
}

// markOffset is Commit without the commit: the offset goes with the
// session's next Commit, so that a checkpoint of many partitions commits
// once (a commit is a round trip to the group coordinator).
func (s *KafkaSubscriber) markOffset(topic string, partition int32, offset int64) (sarama.ConsumerGroupSession, error) {
	s.mu.Lock()
	sess, ok := s.claims[partition]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s/%d", ErrNotAssigned, topic, partition)
	}
	// Sarama's MarkOffset only moves forward and ResetOffset only back; a
	// restored checkpoint may lie behind what an earlier run committed,
	// and the group must say where the state is.
	sess.MarkOffset(topic, partition, offset, "")
	sess.ResetOffset(topic, partition, offset, "")
	return sess, nil
}

// Close leaves the group (revoking every partition held first) and waits
// for the consume loop, at most CloseTimeout.
func (s *KafkaSubscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	group, cancel, done := s.group, s.cancel, s.done
	s.mu.Unlock()
	if group == nil {
		return nil
	}
	cancel()
	err := group.Close()
	select {
	case <-done:
	case <-time.After(s.closeTimeout()):
		return errors.Join(err, errors.New("pipeline: kafka subscriber: close timed out"))
	}
	return err
}

func (s *KafkaSubscriber) closeTimeout() time.Duration { return s.sc.Consumer.Group.Rebalance.Timeout }

// groupHandler is the sarama.ConsumerGroupHandler behind Subscribe.
type groupHandler struct {
	s     *KafkaSubscriber
	topic string
	out   chan *message.Message
	ctx   context.Context // the subscription's
}

func (h *groupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim delivers one partition's messages one at a time, each after
// the previous one was acknowledged, resending a nacked one.
func (h *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	s, partition := h.s, claim.Partition()
	s.mu.Lock()
	s.claims[partition] = sess
	handler := s.handler
	s.mu.Unlock()
	fields := watermill.LogFields{"topic": h.topic, "partition": partition}
	from := int64(-1)
	if handler != nil {
		var err error
		if from, err = handler.PartitionAssigned(sess.Context(), h.topic, partition); err != nil {
			s.mu.Lock()
			delete(s.claims, partition)
			s.mu.Unlock()
			s.logger.Error("kafka subscriber: partition not taken", err, fields)
			return err
		}
		if from >= 0 && from < claim.InitialOffset() {
			// The group committed past the checkpoint: the events in
			// between were applied by a run whose state was not saved.
			s.logger.Error("kafka subscriber: checkpoint behind the committed offset",
				fmt.Errorf("checkpoint at %d, group at %d: %d messages not re-applied", from, claim.InitialOffset(), claim.InitialOffset()-from), fields)
		}
	}
	defer func() {
		if handler != nil {
			handler.PartitionRevoked(context.WithoutCancel(sess.Context()), h.topic, partition)
		}
		s.mu.Lock()
		if s.claims[partition] == sess {
			delete(s.claims, partition)
		}
		s.mu.Unlock()
		s.ends.mu.Lock()
		delete(s.ends.ends, partition)
		s.ends.mu.Unlock()
	}()
	batchMax := s.batchMax()
	var batch []*sarama.ConsumerMessage
	for {
		var rec *sarama.ConsumerMessage
		select {
		case r, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			rec = r
		case <-h.ctx.Done():
			return nil
		}
		if rec.Offset < from {
			continue
		}
		if batchMax <= 1 {
			if !h.deliver(sess, claim, rec) {
				return nil
			}
			continue
		}
		// What Sarama has already fetched goes on together, without
		// waiting for more: a batch is as large as the backlog allows, and
		// one record when records come one by one.
		batch = append(batch[:0], rec)
	fill:
		for len(batch) < batchMax {
			select {
			case r, ok := <-claim.Messages():
				if !ok {
					break fill
				}
				if r.Offset >= from {
					batch = append(batch, r)
				}
			default:
				break fill
			}
		}
		if !h.deliverBatch(sess, claim, batch) {
			return nil
		}
		clear(batch) // the records are the processor's no more
	}
}

// recordBatch is the value of a batch message's context (batchCtxKey):
// consecutive records of one partition, and the partition's high-water
// mark when they were read.
type recordBatch struct {
	records []*sarama.ConsumerMessage
	hwm     int64
}

type batchCtxKey struct{}

// messageRecords returns the records of a batch message of a
// KafkaSubscriber that delivers batches (setBatchMax), else nil.
func messageRecords(msg *message.Message) *recordBatch {
	b, _ := msg.Context().Value(batchCtxKey{}).(*recordBatch)
	return b
}

// setBatchMax makes the subscriber deliver up to n consecutive records of
// a partition as one message, the records in its context (messageRecords)
// and no payload: the processor applies them under one lock and emits
// their outputs together, so that one Kafka record costs no router
// dispatch, goroutine, context and acknowledgement of its own, and the
// side outputs of a batch (re-keyed events, alert updates, dead letters)
// are one produce request rather than one round trip each. The message's
// partition and offset (MessagePartition) are its first record's. Only a
// handler that reads messageRecords can take such messages, so it is not
// exported; n <= 1 delivers a message per record. It must be called
// before Subscribe.
func (s *KafkaSubscriber) setBatchMax(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batch = n
}

func (s *KafkaSubscriber) batchMax() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batch
}

// deliverBatch hands a batch of records on as one message and waits for
// its Ack, resending on Nack, as deliver does for one record.
func (h *groupHandler) deliverBatch(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim, recs []*sarama.ConsumerMessage) bool {
	first := recs[0]
	b := &recordBatch{records: recs, hwm: claim.HighWaterMarkOffset()}
	pi := partitionInfo{partition: first.Partition, offset: first.Offset, hwm: b.hwm}
	id := h.topic + "/" + strconv.Itoa(int(first.Partition)) + "@" + strconv.FormatInt(first.Offset, 10) + "+" + strconv.Itoa(len(recs))
	return h.handOn(sess, func() *message.Message {
		msg := message.NewMessage(id, nil)
		msg.SetContext(context.WithValue(context.WithValue(h.ctx, partitionCtxKey{}, pi), batchCtxKey{}, b))
		return msg
	})
}

// deliver hands one record on and waits for its Ack, resending on Nack.
// It reports false when delivery must stop (the claim or subscription
// ended).
func (h *groupHandler) deliver(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim, rec *sarama.ConsumerMessage) bool {
	pi := partitionInfo{partition: rec.Partition, offset: rec.Offset, hwm: claim.HighWaterMarkOffset()}
	return h.handOn(sess, func() *message.Message {
		msg, err := kafka.DefaultMarshaler{}.Unmarshal(rec)
		if err != nil {
			// A record that is not a Watermill message: its bytes are the
			// payload, so that the processor counts and dead-letters it.
			msg = message.NewMessage(watermill.NewUUID(), rec.Value)
		}
		msg.SetContext(context.WithValue(h.ctx, partitionCtxKey{}, pi))
		return msg
	})
}

// handOn sends the message newMsg makes and waits for its Ack, sending a
// new one after a Nack. It reports false when delivery must stop (the
// claim or subscription ended).
func (h *groupHandler) handOn(sess sarama.ConsumerGroupSession, newMsg func() *message.Message) bool {
	for {
		msg := newMsg()
		select {
		case h.out <- msg:
		case <-sess.Context().Done():
			return false
		case <-h.ctx.Done():
			return false
		}
		select {
		case <-msg.Acked():
			return true
		case <-msg.Nacked():
			select {
			case <-time.After(100 * time.Millisecond):
			case <-sess.Context().Done():
				return false
			case <-h.ctx.Done():
				return false
			}
		case <-sess.Context().Done():
			return false
		case <-h.ctx.Done():
			return false
		}
	}
}

package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sink"
)

// The default topic names, as in the reference deployment.
const (
	DefaultTopic           = "security-events"
	DefaultAlertsTopic     = "security-alerts"
	DefaultDeadLetterTopic = "security-events.dlq"
	DefaultLateTopic       = "security-events.late"
)

// DefaultBatchRecords is Config.BatchRecords' default.
const DefaultBatchRecords = 1000

// Broadcaster is where the processor sends live messages: window metrics,
// alerts and a sample of events. *broadcast.Hub implements it. Publish must
// be safe for concurrent use and must not block on slow readers.
type Broadcaster interface {
	Publish(topic string, data any) error
}

// Config configures a [Processor]. Only Subscriber is required.
type Config struct {
	// Subscriber delivers the input: each message holds one event, a JSON
	// array of events, or NDJSON. Required. The processor's router closes
	// it on shutdown.
	Subscriber message.Subscriber
	// Topic is the input topic. Optional; default DefaultTopic.
	Topic string

	// Publisher receives the side outputs: alerts, dead letters, late
	// events and (if PartialsTopic is set) window partials, on the topics
	// below. Optional; without it alerts still
	// go to Sinks and Hub, and bad and late input is only counted and
	// logged.
	Publisher message.Publisher
	// AlertsTopic, DeadLetterTopic and LateTopic name the side outputs.
	// Optional; defaults DefaultAlertsTopic, DefaultDeadLetterTopic,
	// DefaultLateTopic.
	AlertsTopic, DeadLetterTopic, LateTopic string
	// PartialsTopic, when set, makes the processor publish every window
	// it fires as a partial aggregate (aggregate.Set.MarshalBinary, with
	// MetaSource, the task's "TOPIC/PARTITION", and MetaWindowStart) for a
	// [GlobalView] that combines the processors of one consumer group.
	// Optional; default: none.
	PartialsTopic string
	// RepartitionTopic, with RepartitionSubscriber, re-keys the rules
	// grouped by another field than the input's key (userId): password
	// spraying, by IP, must see one address's failures from every user,
	// and the input's partitions split them. Each input task forwards the
	// events those rules need (those passing one of their filters, with
	// the field) to this topic, keyed by the field's value, through
	// Publisher; the processors read it back, in a consumer group of
	// their own (RepartitionKafkaConfig), and run those rules in tasks of
	// its partitions, so every value's events meet in one task wherever it
	// runs, checkpointed like the others. With a KafkaSubscriber, whose
	// topic's partition count New asks, the events of one batch of input
	// bound for one partition of it travel in one record (NDJSON, at most
	// 1,000 events or 256 KiB) with each event's input position
	// (MetaPositions), so a replayed batch re-applies none twice; add no
	// partitions to it while processors run. Optional; none: every task
	// runs every rule on its own partition's events (exact with one
	// partition, as in-process).
	RepartitionTopic string
	// RepartitionSubscriber reads RepartitionTopic: for Kafka, a second
	// [KafkaSubscriber], in a consumer group of its own
	// ([RepartitionKafkaConfig]). Required with RepartitionTopic.
	RepartitionSubscriber message.Subscriber
	// UnkeyedInput says that the input is not partitioned by userId (not
	// keyed, or keyed by something else): then every rule, the per-user
	// ones too, is re-keyed through RepartitionTopic, so a user's events
	// meet in one task whichever partitions they came in on. Window counts
	// need no re-keying: partitions add up, and the live view merges
	// distinct users as sets; but a sink's activeUsers history sums the
	// partitions' counts, so it counts a user once per partition the user
	// appeared in. Optional; requires RepartitionTopic.
	UnkeyedInput bool

	// Decoder decodes the input. Optional; default rdr.NewDecoder with
	// default limits and Clock.
	Decoder *rdr.Decoder

	// Window is the length of the tumbling event-time windows whose
	// results go to the sinks and the live view. Optional; default 1 s.
	Window time.Duration
	// OutOfOrderness is how far behind the newest event of a partition an
	// event may arrive and still be on time. Optional; default 1 s.
	OutOfOrderness time.Duration
	// AllowedLateness is how long after a window fired late events still
	// update it (the sinks then get an updated result that replaces the
	// first). Later events go to the late output. Optional; default 10 s;
	// negative: none.
	AllowedLateness time.Duration
	// IdleTimeout is how long a partition may send nothing before it stops
	// holding the watermark back. Optional; default 5 s.
	IdleTimeout time.Duration
	// Partition tells which input partition a message belongs to, and its
	// offset: messages of one partition share a task (state, watermark),
	// and a checkpoint resumes at an offset. Optional; default
	// [MessagePartition] (KafkaSubscriber's and watermill-kafka's
	// metadata); messages without one are partition 0, without offsets.
	Partition func(*message.Message) (partition int32, offset int64, ok bool)
	// BatchRecords is how many records of one partition a [KafkaSubscriber]
	// input (or repartition subscriber) hands over at once, at most: what
	// it has already fetched, without waiting for more. The processor
	// applies them under one lock and emits their outputs together (one
	// produce request for their re-keyed events, alert updates and dead
	// letters, where one message a record made a round trip each), with
	// the same state and outputs as one at a time. Other subscribers
	// deliver one message at a time. Optional; default 1000; 1: one record
	// at a time.
	BatchRecords int
	// Tick is how often, in wall-clock time, the processor advances
	// watermarks when no input arrives, so the last windows fire and alerts
	// resolve when traffic stops. Optional; default 1 s.
	Tick time.Duration
	// DisableIdleAdvance keeps a task's watermark where its events put it
	// when its partition is idle. By default, once a partition has
	// delivered nothing for IdleTimeout, its last message reached the
	// partition's end (its high-water mark, where the subscriber tells),
	// and — with an [EndReporter] subscriber — the source has said since
	// that it has nothing more, its watermark follows the wall clock (Clock.Now minus
	// OutOfOrderness), as if an event stamped "now" had arrived: a live
	// system's last windows then fire and its alerts resolve even when
	// traffic stops. Set it when replaying old data with pauses, where
	// the wall clock says nothing about event time. Optional.
	DisableIdleAdvance bool

	// Checkpoints keeps each task's state with its offset, so that a
	// partition resumes exactly where it was after a crash, a restart or a
	// rebalance (see the package doc). It needs a [PartitionedSubscriber]
	// such as [KafkaSubscriber]. Optional; none: state lives in memory
	// only, and offsets are committed once what they produced is flushed.
	Checkpoints CheckpointStore
	// CheckpointInterval is how often, in wall-clock time, every task is
	// checkpointed (and, without Checkpoints, offsets committed). Optional;
	// default 5 s.
	CheckpointInterval time.Duration

	// Rules makes the detection rules: each task runs its own set (a
	// detector belongs to one engine), so it is called once per partition.
	// For the default rules:
	//
	//	Rules: func() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil },
	//
	// Optional; nil: no detection.
	Rules func() ([]anomaly.Rule, error)
	// Sinks receive every window result and alert. Optional. Their writes
	// may block: that is backpressure, and the processor stops consuming
	// until they return. The processor closes them on shutdown.
	Sinks []sink.Sink
	// Hub receives live metrics (once per window), alerts and a sample of
	// events. Optional.
	Hub Broadcaster
	// Silences mutes alerts, as Alertmanager's silences do: each alert
	// emitted gets the ID of the first active silence that matches it, at
	// Clock's time, in Alert.SilencedBy ("" for none). A silenced alert
	// still goes to Sinks and the alerts topic, marked, but not to Hub: it
	// is stored, not announced (Stats.AlertsSilenced counts them). The
	// set may change while the processor runs. Optional; nil: none.
	Silences *anomaly.Silences
	// EventsPerWindow caps how many events per window go to Hub's events
	// topic, for the dashboard's timeline. Optional; default 20; negative:
	// none.
	EventsPerWindow int
	// Series configures the ring of recent windows behind
	// [Processor.Metrics] (its Size and Set; one ring per task). Optional;
	// default 300 windows (5 minutes of 1 s windows). Its Window is always
	// set to Window.
	Series aggregate.SeriesConfig
	// LiveRange is the span that the live metrics' activeUsers, top lists
	// and bySeverity cover. Optional; default 5 min, at most the Series'
	// span.
	LiveRange time.Duration
	// View is where the live metrics' range figures (activeUsers, top
	// lists, bySeverity) come from. Optional; default the processor's own
	// windows. Set it to a [GlobalView] so that each processor of a
	// scaled-out group shows the group's numbers.
	View MetricsReader

	// Clock tells wall-clock time (for idleness). Optional; default
	// rdr.SystemClock.
	Clock rdr.Clock
	// Logger logs. Optional; default watermill.NopLogger.
	Logger watermill.LoggerAdapter
	// Registerer receives the processor's Prometheus metrics and the
	// router's. Optional; none: metrics are kept but not registered.
	Registerer prometheus.Registerer
	// CloseTimeout bounds each step of the shutdown: the router's, the
	// last emits and checkpoints. Optional; default 30 s.
	CloseTimeout time.Duration
}

func (c *Config) setDefaults() error {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Topic, DefaultTopic)
	def(&c.AlertsTopic, DefaultAlertsTopic)
	def(&c.DeadLetterTopic, DefaultDeadLetterTopic)
	def(&c.LateTopic, DefaultLateTopic)
	dur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	dur(&c.Window, time.Second)
	dur(&c.OutOfOrderness, time.Second)
	dur(&c.AllowedLateness, 10*time.Second)
	if c.AllowedLateness < 0 {
		c.AllowedLateness = 0
	}
	dur(&c.IdleTimeout, 5*time.Second)
	dur(&c.Tick, time.Second)
	dur(&c.LiveRange, 5*time.Minute)
	dur(&c.CheckpointInterval, 5*time.Second)
	dur(&c.CloseTimeout, 30*time.Second)
	if c.EventsPerWindow == 0 {
		c.EventsPerWindow = 20
	}
	if c.BatchRecords <= 0 {
		c.BatchRecords = DefaultBatchRecords
	}
	if c.Clock == nil {
		c.Clock = rdr.SystemClock
	}
	if c.Partition == nil {
		c.Partition = MessagePartition
	}
	if c.Logger == nil {
		c.Logger = watermill.NopLogger{}
	}
	if c.Decoder == nil {
		dec, err := rdr.NewDecoder(rdr.DecoderConfig{Clock: c.Clock})
		if err != nil {
			return err
		}
		c.Decoder = dec
	}
	c.Series.Window = c.Window
	return nil
}

// rules makes a task's rules.
func (c *Config) rules() ([]anomaly.Rule, error) {
	if c.Rules == nil {
		return nil, nil
	}
	return c.Rules()
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Subscriber == nil {
		errs = append(errs, errors.New("Subscriber is required"))
	}
	switch {
	case c.RepartitionTopic != "" && (c.RepartitionSubscriber == nil || c.Publisher == nil):
		errs = append(errs, errors.New("RepartitionTopic needs a RepartitionSubscriber and a Publisher"))
	case c.RepartitionTopic == "" && c.RepartitionSubscriber != nil:
		errs = append(errs, errors.New("RepartitionSubscriber needs a RepartitionTopic"))
	case c.RepartitionTopic != "" && c.RepartitionTopic == c.Topic:
		errs = append(errs, errors.New("RepartitionTopic must differ from Topic"))
	case c.UnkeyedInput && c.RepartitionTopic == "":
		errs = append(errs, errors.New("UnkeyedInput needs a RepartitionTopic"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Window", c.Window}, {"OutOfOrderness", c.OutOfOrderness}, {"IdleTimeout", c.IdleTimeout}, {"Tick", c.Tick}, {"LiveRange", c.LiveRange}, {"CheckpointInterval", c.CheckpointInterval}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %s", d.name, d.v))
		}
	}
	if c.Window > 0 && c.Window%time.Millisecond != 0 {
		errs = append(errs, fmt.Errorf("Window must be a whole number of milliseconds, got %s", c.Window))
	}
	return errors.Join(errs...)
}

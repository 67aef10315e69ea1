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
	// MetaSource and MetaWindowStart) for a [GlobalView] that combines the
	// processors of one consumer group. Optional; default: none.
	PartialsTopic string
	// Instance names this processor in its partials; a restarted processor
	// must use a new name (a run id), since a view replaces a source's
	// window rather than adding to it. Optional; default a random id.
	Instance string

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
	// Partitions is the number of partitions of a partitioned input (see
	// TopicPartitions for Kafka). Optional. When set, partitions 0 to
	// Partitions−1 hold the watermark back from the first input message
	// until each has delivered events or gone idle (IdleTimeout), so that a
	// processor started on a backlog does not refuse as late the first
	// records of the partitions it happens to fetch last. Partitions not
	// assigned to this processor only delay its first windows by
	// IdleTimeout.
	Partitions int
	// Tick is how often, in wall-clock time, the processor advances
	// watermarks when no input arrives, so the last windows fire and alerts
	// resolve when traffic stops. Optional; default 1 s.
	Tick time.Duration
	// DisableIdleAdvance keeps the watermark where the events put it when
	// every partition is idle. By default, once no input has arrived for
	// IdleTimeout, the watermark follows the wall clock (Clock.Now minus
	// OutOfOrderness), as if an event stamped "now" had arrived: a live
	// system's last windows then fire and its alerts resolve even when
	// traffic stops. Set it when replaying old data with pauses, where
	// the wall clock says nothing about event time. Optional.
	DisableIdleAdvance bool

	// Rules are the detection rules (for instance anomaly.DefaultRules).
	// Optional; none: no detection.
	Rules []anomaly.Rule
	// Sinks receive every window result and alert. Optional. Their writes
	// may block: that is backpressure, and the processor stops consuming
	// until they return. The processor closes them on shutdown.
	Sinks []sink.Sink
	// Hub receives live metrics (once per window), alerts and a sample of
	// events. Optional.
	Hub Broadcaster
	// EventsPerWindow caps how many events per window go to Hub's events
	// topic, for the dashboard's timeline. Optional; default 20; negative:
	// none.
	EventsPerWindow int
	// Series configures the ring of recent windows behind [Processor.Metrics].
	// Optional; default 300 windows (5 minutes of 1 s windows). Its Window
	// is always set to Window.
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
	// DrainDelay is how long Close waits, after the last in-flight message
	// was acknowledged, for the subscriber to record the acknowledgements
	// before the router closes it. Optional; default 500 ms.
	DrainDelay time.Duration
	// CloseTimeout bounds the router's shutdown. Optional; default 30 s.
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
	dur(&c.DrainDelay, 500*time.Millisecond)
	dur(&c.CloseTimeout, 30*time.Second)
	if c.EventsPerWindow == 0 {
		c.EventsPerWindow = 20
	}
	if c.Clock == nil {
		c.Clock = rdr.SystemClock
	}
	if c.Instance == "" {
		c.Instance = watermill.NewShortUUID()
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

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Subscriber == nil {
		errs = append(errs, errors.New("Subscriber is required"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Window", c.Window}, {"OutOfOrderness", c.OutOfOrderness}, {"IdleTimeout", c.IdleTimeout}, {"Tick", c.Tick}, {"LiveRange", c.LiveRange}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %s", d.name, d.v))
		}
	}
	if c.Window > 0 && c.Window%time.Millisecond != 0 {
		errs = append(errs, fmt.Errorf("Window must be a whole number of milliseconds, got %s", c.Window))
	}
	return errors.Join(errs...)
}

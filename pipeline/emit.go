package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sink"
	"github.com/rdr-go/rdr/window"
)

// outputs are what one message (or tick) produced in a task, emitted
// after the task's lock is released.
type outputs struct {
	windows  []sink.WindowResult
	alerts   []anomaly.Alert
	sample   []rdr.Event
	dlq      []*message.Message
	late     []*message.Message
	partials []*message.Message
	rekeyed  []*message.Message
	rekeyBuf []rekeyRecord // repartition records being filled (see task.forward)
}

func (o *outputs) empty() bool {
	return len(o.windows)+len(o.alerts)+len(o.sample)+len(o.dlq)+len(o.late)+len(o.partials)+len(o.rekeyed) == 0
}

// emitInTurn emits out once every earlier turn of the task has been
// emitted: the task's outputs go out in the order they were produced.
// Sink writes block (backpressure); their errors are counted and logged,
// never dropped silently.
func (p *Processor) emitInTurn(ctx context.Context, t *task, out outputs, turn uint64) {
	t.order.wait(turn)
	defer t.order.done()
	if out.empty() {
		return
	}
	if hub := p.cfg.Hub; hub != nil {
		for _, ev := range out.sample {
			p.hubPublish(TopicEvents, ev)
		}
	}
	if p.cfg.Publisher == nil {
		for _, m := range out.dlq {
			p.cfg.Logger.Info("invalid input (no dead-letter publisher)", watermill.LogFields{"err": m.Metadata.Get(MetaError)})
		}
	}
	for _, w := range out.windows {
		for _, s := range p.cfg.Sinks {
			if err := s.WriteWindow(ctx, w); err != nil {
				p.sinkError(err, "window")
			}
		}
	}
	if sil := p.cfg.Silences; sil != nil && len(out.alerts) > 0 {
		now := p.cfg.Clock.Now()
		for i := range out.alerts {
			if out.alerts[i].SilencedBy = sil.Match(out.alerts[i], now); out.alerts[i].SilencedBy != "" {
				p.stats.alertsSilenced.Add(1)
			}
		}
	}
	for _, a := range out.alerts {
		for _, s := range p.cfg.Sinks {
			if err := s.WriteAlert(ctx, a); err != nil {
				p.sinkError(err, "alert")
			}
		}
	}
	if hub := p.cfg.Hub; hub != nil {
		for _, a := range out.alerts {
			if a.SilencedBy == "" { // a silenced alert is stored, not announced
				p.hubPublish(TopicAlerts, a)
			}
		}
	}
	if p.cfg.Publisher != nil {
		var alerts []*message.Message
		if len(out.alerts) > 0 {
			alerts = make([]*message.Message, 0, len(out.alerts))
			for _, a := range out.alerts {
				m, err := sink.AlertMessage(a)
				if err != nil {
					p.sinkError(err, p.cfg.AlertsTopic)
					continue
				}
				alerts = append(alerts, m)
			}
		}
		p.publishAll(&out, alerts)
	}
	if len(out.windows) > 0 {
		p.live.publishDue()
	}
}

// publishAll publishes a turn's side outputs, in this order: dead letters,
// late events, re-keyed records, alerts, partials. Through a
// MultiPublisher they go in one call (one produce request with Kafka).
func (p *Processor) publishAll(out *outputs, alerts []*message.Message) {
	batches := make([]TopicMessages, 0, 5)
	for _, b := range [...]TopicMessages{
		{p.cfg.DeadLetterTopic, out.dlq},
		{p.cfg.LateTopic, out.late},
		{p.cfg.RepartitionTopic, out.rekeyed},
		{p.cfg.AlertsTopic, alerts},
		{p.cfg.PartialsTopic, out.partials},
	} {
		if len(b.Messages) > 0 {
			batches = append(batches, b)
		}
	}
	mp, ok := p.cfg.Publisher.(MultiPublisher)
	if !ok || len(batches) < 2 {
		for _, b := range batches {
			p.publish(b.Topic, b.Messages)
		}
		return
	}
	for i, err := range mp.PublishTopics(batches) {
		if err != nil {
			p.sinkError(err, batches[i].Topic)
		}
	}
}

func (p *Processor) publish(topic string, msgs []*message.Message) {
	if len(msgs) == 0 {
		return
	}
	if err := p.cfg.Publisher.Publish(topic, msgs...); err != nil {
		p.sinkError(err, topic)
	}
}

func (p *Processor) hubPublish(topic string, data any) {
	if err := p.cfg.Hub.Publish(topic, data); err != nil {
		p.cfg.Logger.Debug("live publish failed", watermill.LogFields{"topic": topic, "err": err})
	}
}

func (p *Processor) sinkError(err error, what string) {
	p.stats.sinkErrors.Add(1)
	p.cfg.Logger.Error("pipeline: output failed", err, watermill.LogFields{"output": what})
}

// sample picks events for the live timeline: at most EventsPerWindow per
// window of the processor, none for a window the task has already fired
// (the live view has moved on). wm is the task's windows' watermark.
func (p *Processor) sample(out *outputs, wm time.Time, ev rdr.Event) {
	if p.cfg.Hub == nil || p.cfg.EventsPerWindow < 0 {
		return
	}
	start := p.windowOf(ev.Time).Start.UnixNano()
	if !wm.IsZero() && wm.UnixNano() >= start+int64(p.cfg.Window-time.Millisecond) {
		return
	}
	for {
		cur, n := p.sampled.window.Load(), p.sampled.count.Load()
		switch {
		case start < cur:
			return // an older window than the one being sampled
		case start > cur:
			if !p.sampled.window.CompareAndSwap(cur, start) {
				continue
			}
			p.sampled.count.Store(0)
			continue
		case n >= int64(p.cfg.EventsPerWindow):
			return
		case p.sampled.count.CompareAndSwap(n, n+1):
			out.sample = append(out.sample, ev)
			return
		}
	}
}

// windowOf returns the tumbling window that holds t.
func (p *Processor) windowOf(t time.Time) window.Window {
	var buf [1]window.Window
	return window.Tumbling(p.cfg.Window).AppendWindows(buf[:0], t)[0]
}

// messageID names a side-output message after the input item it comes
// from, so that the duplicates a replay makes share an ID: topic,
// partition, offset and item index. Inputs without an offset get a random
// ID.
func (p *Processor) messageID(in *input, kind string, item int) string {
	if !in.hasOffset {
		return watermill.NewUUID()
	}
	return p.cfg.Topic + "/" + strconv.Itoa(int(in.partition)) + "@" + strconv.FormatInt(in.offset, 10) + "/" + kind + strconv.Itoa(item)
}

func (p *Processor) deadLetter(in *input, item int, err error) *message.Message {
	m := DeadLetter(p.messageID(in, "dlq", item), err, in.payload)
	p.sourceMetadata(in, m)
	return m
}

// DeadLetter returns the dead-letter message of an input item refused
// with err, with the given UUID. Its payload is the item's bytes (an
// [rdr.ItemError]'s Raw; without one, raw) and its metadata the reason
// (MetaError), the bad field (MetaField, when the error names one) and the
// item's index (MetaItem, when known). The processor makes its dead
// letters with it; so does an ingest endpoint that refuses items before
// they reach the input (add MetaSourceTopic to say where from).
func DeadLetter(uuid string, err error, raw []byte) *message.Message {
	reason, index := err.Error(), -1
	var ie *rdr.ItemError
	if errors.As(err, &ie) {
		raw, index, reason = ie.Raw, ie.Index, ie.Err.Error()
	}
	m := message.NewMessage(uuid, append([]byte(nil), raw...))
	m.Metadata.Set(MetaError, reason)
	var invalid *rdr.InvalidEventError
	if errors.As(err, &invalid) && invalid.Field != "" {
		m.Metadata.Set(MetaField, invalid.Field)
	}
	if index >= 0 {
		m.Metadata.Set(MetaItem, strconv.Itoa(index))
	}
	return m
}

// rekeyMessage is the repartition record of ev for the rules grouped by
// field, keyed by its value key. It names its source item, by which the
// repartition task reads past the duplicates a replay makes.
func (p *Processor) rekeyMessage(in *input, item int, field, key string, ev *rdr.Event) *message.Message {
	m := message.NewMessage(p.messageID(in, "rekey-"+field+"-", item), rdr.AppendJSON(nil, *ev))
	m.Metadata.Set(MetaPartitionKey, key)
	m.Metadata.Set(MetaGroupBy, field)
	m.Metadata.Set(MetaItem, strconv.Itoa(item))
	p.sourceMetadata(in, m)
	return m
}

// rekeyRecord is a repartition record being filled: the events of one
// batch of input bound for one partition of the repartition topic, for
// the rules of one re-keyed field, in input order.
type rekeyRecord struct {
	route     int    // index in task.rekey
	dest      int32  // the repartition partition
	key       string // the first event's key: the record's partition key (it maps to dest)
	first     sourcePos
	last      sourcePos
	n         int
	payload   []byte // NDJSON
	positions []byte // MetaPositions
}

// Bounds of a repartition record: well inside Kafka's default 1 MiB
// message size.
const (
	rekeyMaxEvents = 1000
	rekeyMaxBytes  = 256 << 10
)

// rekeyBatched adds ev, item of in, to the repartition record of its
// route and destination partition in out, starting a new one when there
// is none or it is full.
func (t *task) rekeyBatched(out *outputs, route int, in *input, item int, key string, ev *rdr.Event) {
	dest := PartitionOf(key, t.p.rekeyPartitions)
	i := slices.IndexFunc(out.rekeyBuf, func(r rekeyRecord) bool { return r.route == route && r.dest == dest })
	if i >= 0 && (out.rekeyBuf[i].n >= rekeyMaxEvents || len(out.rekeyBuf[i].payload) >= rekeyMaxBytes) {
		out.rekeyed = append(out.rekeyed, t.rekeyRecordMessage(&out.rekeyBuf[i]))
		out.rekeyBuf = slices.Delete(out.rekeyBuf, i, i+1)
		i = -1
	}
	pos := sourcePos{in.offset, int64(item)}
	if i < 0 {
		out.rekeyBuf = append(out.rekeyBuf, rekeyRecord{route: route, dest: dest, key: key, first: pos})
		i = len(out.rekeyBuf) - 1
	}
	r := &out.rekeyBuf[i]
	r.payload = append(rdr.AppendJSON(r.payload, *ev), '\n')
	if r.n > 0 {
		r.positions = append(r.positions, ',')
	}
	r.positions = strconv.AppendInt(append(strconv.AppendInt(r.positions, pos.offset, 10), '.'), pos.item, 10)
	r.last = pos
	r.n++
}

// flushRekeyed turns the repartition records being filled into messages.
func (t *task) flushRekeyed(out *outputs) {
	for i := range out.rekeyBuf {
		out.rekeyed = append(out.rekeyed, t.rekeyRecordMessage(&out.rekeyBuf[i]))
	}
	out.rekeyBuf = out.rekeyBuf[:0]
}

// rekeyRecordMessage is the message of a filled repartition record. Its
// UUID names the first event's input position, its field, partition and
// size, so the duplicates a replay makes of the same batch share it; its
// MetaOffset and MetaItem are the last event's, MetaPositions every
// event's.
func (t *task) rekeyRecordMessage(r *rekeyRecord) *message.Message {
	p, field := t.p, t.rekey[r.route].name
	first := input{partition: t.partition, offset: r.first.offset, hasOffset: true}
	id := p.messageID(&first, "rekey-"+field+"-", int(r.first.item)) + "+" + strconv.Itoa(r.n) + "p" + strconv.Itoa(int(r.dest))
	m := message.NewMessage(id, r.payload)
	m.Metadata.Set(MetaPartitionKey, r.key)
	m.Metadata.Set(MetaGroupBy, field)
	m.Metadata.Set(MetaItem, strconv.FormatInt(r.last.item, 10))
	m.Metadata.Set(MetaPositions, string(r.positions))
	p.sourceMetadata(&input{partition: t.partition, offset: r.last.offset, hasOffset: true}, m)
	return m
}

func (p *Processor) lateMessage(in *input, item int, ev rdr.Event) *message.Message {
	m := message.NewMessage(p.messageID(in, "late", item), rdr.AppendJSON(nil, ev))
	w := p.windowOf(ev.Time)
	m.Metadata.Set(MetaWindow, w.String())
	m.Metadata.Set(MetaError, fmt.Sprintf("event at %s: window %s closed (allowed lateness %s); still run through detection",
		ev.Time.UTC().Format(time.RFC3339Nano), w, p.cfg.AllowedLateness))
	m.Metadata.Set(MetaItem, strconv.Itoa(item))
	m.Metadata.Set(MetaPartitionKey, ev.UserID)
	p.sourceMetadata(in, m)
	return m
}

func (p *Processor) sourceMetadata(in *input, out *message.Message) {
	out.Metadata.Set(MetaSourceTopic, p.cfg.Topic)
	if in.hasOffset {
		out.Metadata.Set(MetaPartition, strconv.Itoa(int(in.partition)))
		out.Metadata.Set(MetaOffset, strconv.FormatInt(in.offset, 10))
	}
}

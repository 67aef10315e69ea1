package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/internal/wire"
	"github.com/rdr-go/rdr/sink"
	"github.com/rdr-go/rdr/window"
)

// taskWindows are a task's tumbling event-time windows.
type taskWindows = window.Windows[struct{}, rdr.Event, *aggregate.Set]

// task is the state of one partition, as in Kafka Streams: its windows
// and their aggregates, its detection engine, its watermark and the offset
// of the next message to apply. Tasks apply in parallel; one task applies
// one message at a time (t.mu), and emits what each produced in the order
// it was produced (its turnstile), outside t.mu, so that the next message
// applies while the previous one's results are written.
//
// A task of the input topic holds windows and runs the rules grouped by
// the input's key (userId); with a repartition topic, it also forwards to
// it the events that the other rules need, keyed by their group-by value.
// A task of the repartition topic runs those rules (one engine per
// group-by field) and holds no windows.
type task struct {
	p         *Processor
	topic     string
	partition int32
	name      string // "topic/partition": the source in partials and views

	mu        sync.Mutex                                    // guards the fields below
	windows   *taskWindows                                  // input tasks
	engine    *anomaly.Engine                               // input tasks: the rules grouped by the input key (all, without repartition)
	rekey     []rekeyRoute                                  // input tasks: the events the repartition topic gets
	byField   map[string]*anomaly.Engine                    // repartition tasks: the re-keyed rules, by group-by field
	seen      map[int32]sourcePos                           // repartition tasks: the last record applied per source partition
	newest    time.Time                                     // the newest event time applied: the watermark's base
	curOut    *outputs                                      // the outputs of the apply or advance in progress
	collect   func(anomaly.Alert)                           // the engines' emit, into curOut: made once (the engines keep it)
	collectW  func(window.Result[struct{}, *aggregate.Set]) // the windows' emit, into curOut: made once, not a closure a call
	next      int64                                         // offset of the next message to apply; -1: none applied
	open      map[string]struct{}
	turns     uint64       // turns handed out
	caughtUp  bool         // the last message read reached the partition's end
	saved     int64        // offset of the latest checkpoint saved; -1: none
	snapSize  [2]int       // sizes of the latest snapshot's windows and detection parts: the next one's buffers start that large
	lastInput atomic.Int64 // wall-clock Unix ns of the latest message
	idle      atomic.Bool  // the latest tick found the partition idle (see Processor.tick)
	wm        atomic.Int64 // the windows' watermark, Unix ns; 0: none yet

	order turnstile
}

// rekeyRoute sends to the repartition topic, keyed by field, the events
// that pass one of the filters of the rules grouped by field.
type rekeyRoute struct {
	field   anomaly.Field
	name    string // field.String()
	filters []anomaly.Filter
}

// sourcePos is a repartition record's place in its source partition.
type sourcePos struct{ offset, item int64 }

func (a sourcePos) after(b sourcePos) bool {
	return a.offset > b.offset || a.offset == b.offset && a.item > b.item
}

// repartitioned reports whether topic is the repartition topic.
func (p *Processor) repartitioned(topic string) bool {
	return p.cfg.RepartitionTopic != "" && topic == p.cfg.RepartitionTopic
}

func (p *Processor) newTask(topic string, partition int32) (*task, error) {
	rules, err := p.rules()
	if err != nil {
		return nil, fmt.Errorf("%w: Rules: %w", ErrInvalidConfig, err)
	}
	t := &task{
		p: p, topic: topic, partition: partition, name: topic + "/" + strconv.Itoa(int(partition)),
		next: -1, saved: -1, caughtUp: true, open: map[string]struct{}{},
	}
	newEngine := func(rules []anomaly.Rule) (*anomaly.Engine, error) {
		e, err := anomaly.NewEngine(rules, anomaly.Config{Clock: p.cfg.Clock})
		if err != nil {
			return nil, fmt.Errorf("%w: Rules: %w", ErrInvalidConfig, err)
		}
		return e, nil
	}
	local, rekeyed := rules, map[string][]anomaly.Rule{}
	if p.cfg.RepartitionTopic != "" {
		local = nil
		for _, r := range rules {
			if r.GroupBy == anomaly.FieldUserID && !p.cfg.UnkeyedInput {
				local = append(local, r)
			} else {
				rekeyed[r.GroupBy.String()] = append(rekeyed[r.GroupBy.String()], r)
			}
		}
	}
	if p.repartitioned(topic) {
		t.byField, t.seen = map[string]*anomaly.Engine{}, map[int32]sourcePos{}
		for field, rs := range rekeyed {
			if t.byField[field], err = newEngine(rs); err != nil {
				return nil, err
			}
		}
	} else {
		setCfg := p.setCfg
		// A window's Set is garbage once the window is freed (the live
		// view and the outputs keep copies), and its per-user and per-IP
		// tables are the size of a window's traffic: grown from nothing
		// each window, they were most of an alert storm's allocations
		// (a random address per event). So freed Sets are kept, a few,
		// and handed to the next windows, reset.
		var spare []*aggregate.Set
		t.windows, err = window.New[struct{}](window.Config[rdr.Event, *aggregate.Set]{
			Assigner:        window.Tumbling(p.cfg.Window),
			AllowedLateness: p.cfg.AllowedLateness,
			Init: func() *aggregate.Set {
				if n := len(spare); n > 0 {
					s := spare[n-1]
					spare = spare[:n-1]
					return s
				}
				s, _ := aggregate.NewSet(setCfg) // setCfg was validated by NewSeries
				return s
			},
			Add: func(s **aggregate.Set, ev rdr.Event) { (*s).Add(ev) },
			Free: func(s *aggregate.Set) {
				if len(spare) < maxSpareSets {
					s.Reset()
					spare = append(spare, s)
				}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		if t.engine, err = newEngine(local); err != nil {
			return nil, err
		}
		for _, field := range slices.Sorted(maps.Keys(rekeyed)) {
			route := rekeyRoute{field: rekeyed[field][0].GroupBy, name: field}
			for _, r := range rekeyed[field] {
				route.filters = append(route.filters, r.Filter)
			}
			t.rekey = append(t.rekey, route)
		}
	}
	t.order.cond.L = &t.order.mu
	t.collect = func(a anomaly.Alert) { t.collectAlert(t.curOut, a) }
	t.collectW = func(r window.Result[struct{}, *aggregate.Set]) { t.collectWindow(t.curOut, r) }
	t.lastInput.Store(p.cfg.Clock.Now().UnixNano())
	return t, nil
}

// maxSpareSets bounds the freed window Sets a task keeps for its next
// windows: the windows a task holds at once are the open one and those
// within the allowed lateness, usually one or two.
const maxSpareSets = 4

// apply decodes and applies one input message and returns what it
// produced. t.mu must be held.
func (t *task) apply(msg *input, out *outputs) {
	p := t.p
	t.curOut = out
	newest := t.newest
	if ev, ok := p.cfg.Decoder.One(msg.payload); ok { // most records: no iterator
		t.applyEvent(msg, 0, ev, out, &newest)
	} else {
		item := -1
		for ev, err := range p.cfg.Decoder.Events(msg.payload) {
			item++
			if err != nil {
				p.stats.invalid.Add(1)
				out.dlq = append(out.dlq, p.deadLetter(msg, item, err))
				continue
			}
			t.applyEvent(msg, item, ev, out, &newest)
		}
	}
	// The watermark is read only after the whole message, so observing
	// its newest event once is the same as observing each.
	t.newest = newest
	t.advance(out)
	t.curOut = nil // not kept past the call
}

// applyEvent applies one valid event, item of msg. t.mu must be held.
func (t *task) applyEvent(msg *input, item int, ev rdr.Event, out *outputs, newest *time.Time) {
	p := t.p
	if ev.Time.After(*newest) {
		*newest = ev.Time
	}
	status, werr := t.windows.Add(struct{}{}, ev.Time, ev)
	switch {
	case werr != nil:
		p.stats.invalid.Add(1)
		out.dlq = append(out.dlq, p.deadLetter(msg, item, &rdr.ItemError{Err: werr, Raw: rdr.AppendJSON(nil, ev)}))
		return
	case status == window.StatusLate:
		// Too late for its window, never for detection: a log shipper
		// that delivers late, or an attacker who delays their own
		// logs, is still alerted on (each detector documents what it
		// does with an event older than it holds).
		p.stats.late.Add(1)
		out.late = append(out.late, p.lateMessage(msg, item, ev))
		t.engine.Process(ev, t.collect)
		t.forward(msg, item, &ev, out)
		return
	}
	p.stats.events.Add(1)
	t.engine.Process(ev, t.collect)
	t.forward(msg, item, &ev, out)
	p.sample(out, t.windows.Watermark(), ev)
}

// forward adds to out what the repartition topic gets of ev: for each
// re-keyed group-by field whose rules' filters ev passes, ev keyed by its
// value. With the repartition topic's partition count known
// (Processor.rekeyPartitions) and an input with offsets, the events of one
// batch bound for one partition travel in one record (flushRekeyed ends
// them), with their input positions (MetaPositions); else each is a
// record of its own.
func (t *task) forward(in *input, item int, ev *rdr.Event, out *outputs) {
	for i, route := range t.rekey {
		if !slices.ContainsFunc(route.filters, func(f anomaly.Filter) bool { return f.Match(ev) }) {
			continue
		}
		key, ok := route.field.Value(*ev)
		if !ok {
			continue // the rules skip it too
		}
		if t.p.rekeyPartitions > 0 && in.hasOffset {
			t.rekeyBatched(out, i, in, item, key, ev)
			continue
		}
		out.rekeyed = append(out.rekeyed, t.p.rekeyMessage(in, item, route.name, key, ev))
	}
}

// applyRekeyed applies one repartition record: an event for the rules
// grouped by the record's field. A record applied before (the source
// partition replayed after a crash) is read past. t.mu must be held.
func (t *task) applyRekeyed(msg *input, out *outputs) {
	p := t.p
	groupBy, srcS, offS, itemS := msg.meta(MetaGroupBy), msg.meta(MetaPartition), msg.meta(MetaOffset), msg.meta(MetaItem)
	engine := t.byField[groupBy]
	src, err1 := strconv.ParseInt(srcS, 10, 32)
	off, err2 := strconv.ParseInt(offS, 10, 64)
	item, err3 := strconv.ParseInt(itemS, 10, 64)
	if engine == nil || err1 != nil || err2 != nil || err3 != nil {
		p.stats.invalid.Add(1)
		out.dlq = append(out.dlq, p.deadLetter(msg, 0, fmt.Errorf("pipeline: not a repartition record of this processor's rules (group by %q, source %s/%s/%s)",
			groupBy, srcS, offS, itemS)))
		return
	}
	pos := sourcePos{off, item}
	last, seen := t.seen[int32(src)]
	var positions []sourcePos // of each event, in a record of several
	if ps := msg.meta(MetaPositions); ps != "" {
		var err error
		if positions, err = parsePositions(ps); err == nil && positions[len(positions)-1] != pos {
			err = fmt.Errorf("the last is not %s.%s", offS, itemS)
		}
		if err != nil {
			p.stats.invalid.Add(1)
			out.dlq = append(out.dlq, p.deadLetter(msg, 0, fmt.Errorf("pipeline: repartition record with bad positions %q: %w", ps, err)))
			return
		}
	} else if seen && !pos.after(last) {
		return
	}
	t.curOut = out
	i := -1
	for ev, err := range p.cfg.Decoder.Events(msg.payload) {
		i++
		if positions != nil {
			// Each event once: a replayed source batch may put events
			// applied before and new ones in one record.
			if i >= len(positions) || (seen && !positions[i].after(last)) {
				continue
			}
			last, seen = positions[i], true
		}
		if err != nil { // not from a processor: its events were valid
			p.stats.invalid.Add(1)
			out.dlq = append(out.dlq, p.deadLetter(msg, i, err))
			continue
		}
		if ev.Time.After(t.newest) {
			t.newest = ev.Time
		}
		engine.Process(ev, t.collect)
	}
	if positions == nil {
		last = pos
	} else if i+1 != len(positions) {
		p.stats.invalid.Add(1)
		out.dlq = append(out.dlq, p.deadLetter(msg, 0, fmt.Errorf("pipeline: repartition record of %d events with %d positions", i+1, len(positions))))
	}
	t.seen[int32(src)] = last
	t.advance(out)
	t.curOut = nil // not kept past the call
}

// parsePositions reads MetaPositions: "OFFSET.ITEM,…", in increasing order.
func parsePositions(s string) ([]sourcePos, error) {
	out := make([]sourcePos, 0, strings.Count(s, ",")+1)
	for s != "" {
		var one string
		one, s, _ = strings.Cut(s, ",")
		o, it, ok := strings.Cut(one, ".")
		off, err1 := strconv.ParseInt(o, 10, 64)
		item, err2 := strconv.ParseInt(it, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("position %q is not OFFSET.ITEM", one)
		}
		pos := sourcePos{off, item}
		if len(out) > 0 && !pos.after(out[len(out)-1]) {
			return nil, fmt.Errorf("position %q does not follow %d.%d", one, out[len(out)-1].offset, out[len(out)-1].item)
		}
		out = append(out, pos)
	}
	if len(out) == 0 {
		return nil, errors.New("no positions")
	}
	return out, nil
}

// watermark is the task's bounded-out-of-orderness watermark: the newest
// event time minus OutOfOrderness minus 1 ms.
func (t *task) watermark() time.Time {
	if t.newest.IsZero() {
		return time.Time{}
	}
	return t.newest.Add(-t.p.cfg.OutOfOrderness - time.Millisecond)
}

// advance fires what the watermark allows. t.mu must be held.
func (t *task) advance(out *outputs) {
	if wm := t.watermark(); !wm.IsZero() {
		t.advanceTo(out, wm)
	}
}

// advanceTo fires what watermark wm allows. t.mu must be held.
func (t *task) advanceTo(out *outputs, wm time.Time) {
	t.curOut = out
	t.fire(wm)
	t.curOut = nil // not kept past the call
}

// fire is advanceTo's work, the outputs in t.curOut.
func (t *task) fire(wm time.Time) {
	if t.windows == nil { // a repartition task
		if cur := t.wm.Load(); cur != 0 && wm.UnixNano() <= cur {
			return
		}
		for _, field := range slices.Sorted(maps.Keys(t.byField)) {
			t.byField[field].Advance(wm, t.collect)
		}
		t.wm.Store(wm.UnixNano())
		return
	}
	if wm.Before(t.windows.Watermark()) {
		return
	}
	t.windows.Advance(wm, t.collectW)
	t.engine.Advance(wm, t.collect)
	t.wm.Store(t.windows.Watermark().UnixNano())
}

// storeWatermark publishes the task's watermark after a restore. t.mu
// must be held.
func (t *task) storeWatermark() {
	wm := t.watermark()
	if t.windows != nil {
		wm = t.windows.Watermark()
	}
	if !wm.IsZero() {
		t.wm.Store(wm.UnixNano())
	}
}

// flushWindows fires every open window (at a graceful stop). t.mu must be
// held.
func (t *task) flushWindows(out *outputs) {
	if t.windows != nil {
		t.windows.Flush(func(r window.Result[struct{}, *aggregate.Set]) { t.collectWindow(out, r) })
	}
}

func (t *task) collectWindow(out *outputs, r window.Result[struct{}, *aggregate.Set]) {
	p := t.p
	m := r.State.Metrics()
	m.From, m.To = r.Window.Start, r.Window.End
	m.EventsPerSecond = float64(m.TotalEvents) / r.Window.End.Sub(r.Window.Start).Seconds()
	out.windows = append(out.windows, sink.WindowResult{Start: r.Window.Start, End: r.Window.End, Update: r.Update, Partition: t.name, Metrics: m})
	// The window's state is read here, under t.mu: after an update it
	// goes on changing.
	p.live.put(t, r.Window.Start, r.State, r.Update)
	if p.cfg.PartialsTopic != "" && p.cfg.Publisher != nil {
		if b, err := r.State.MarshalBinary(); err != nil {
			p.sinkError(err, "partial")
		} else {
			msg := message.NewMessage(watermill.NewUUID(), b) // a view replaces a window: no identity needed
			msg.Metadata.Set(MetaSource, t.name)
			msg.Metadata.Set(MetaWindowStart, r.Window.Start.Format(time.RFC3339Nano))
			msg.Metadata.Set(MetaPartitionKey, t.name)
			out.partials = append(out.partials, msg)
		}
	}
	if r.Update {
		p.stats.updates.Add(1)
	} else {
		p.stats.windows.Add(1)
	}
}

func (t *task) collectAlert(out *outputs, a anomaly.Alert) {
	p := t.p
	switch a.Status {
	case anomaly.StatusFiring:
		if _, ok := t.open[a.ID]; !ok {
			t.open[a.ID] = struct{}{}
			p.stats.alertsFired.Add(1)
			p.stats.open.Add(1)
		}
	case anomaly.StatusResolved:
		if _, ok := t.open[a.ID]; ok {
			delete(t.open, a.ID)
			p.stats.open.Add(-1)
		}
		p.stats.alertsResolved.Add(1)
	}
	out.alerts = append(out.alerts, a)
}

// takeTurn returns the turn of the outputs collected now. t.mu must be
// held.
func (t *task) takeTurn() uint64 {
	t.turns++
	return t.turns - 1
}

// turnstile lets a task's emits through in the order of their turns.
type turnstile struct {
	mu   sync.Mutex
	cond sync.Cond
	next uint64 // the turn allowed through now
}

// wait blocks until turn may go.
func (o *turnstile) wait(turn uint64) {
	o.mu.Lock()
	for o.next != turn {
		o.cond.Wait()
	}
	o.mu.Unlock()
}

// done lets the turn after the current one through.
func (o *turnstile) done() {
	o.mu.Lock()
	o.next++
	o.cond.Broadcast()
	o.mu.Unlock()
}

// The task state format, version 2: "RDRT" 2, the next offset (zig-zag
// varint), the newest event time (varint Unix ns, 0 for none), then
// uvarint-prefixed parts: for an input task the windows' state and the
// engine's; for a repartition task the count of source partitions, each
// as three varints (partition, offset, item), then the count of engines,
// each as its field name and its state.
var taskMagic = []byte("RDRT\x02")

// snapshot encodes the task's state. t.mu must be held.
func (t *task) snapshot() ([]byte, error) {
	b := append([]byte(nil), taskMagic...)
	b = binary.AppendVarint(b, t.next)
	var newest int64
	if !t.newest.IsZero() {
		newest = t.newest.UnixNano()
	}
	b = binary.AppendVarint(b, newest)
	if t.windows == nil {
		srcs := slices.Sorted(maps.Keys(t.seen))
		b = binary.AppendUvarint(b, uint64(len(srcs)))
		for _, src := range srcs {
			pos := t.seen[src]
			b = binary.AppendVarint(binary.AppendVarint(binary.AppendVarint(b, int64(src)), pos.offset), pos.item)
		}
		fields := slices.Sorted(maps.Keys(t.byField))
		b = binary.AppendUvarint(b, uint64(len(fields)))
		for _, field := range fields {
			b = append(binary.AppendUvarint(b, uint64(len(field))), field...)
			var err error
			if b, _, err = wire.AppendPart(b, 0, t.byField[field].AppendState); err != nil {
				return nil, fmt.Errorf("pipeline: task %s: detection state of %s: %w", t.name, field, err)
			}
		}
		return b, nil
	}
	// A task's state is megabytes under load, made every CheckpointInterval:
	// grown from nothing, its buffer was copied a dozen times over, and
	// its parts copied once more into the whole. So the whole is made with
	// room for the last state and a quarter more, and the windows' and the
	// engine's states go straight into it (wire.AppendPart).
	out := make([]byte, 0, len(b)+t.snapSize[0]+t.snapSize[1]+(t.snapSize[0]+t.snapSize[1])/4+4096)
	out = append(out, b...)
	out, ws, err := wire.AppendPart(out, t.snapSize[0], func(b []byte) ([]byte, error) {
		return t.windows.AppendState(b, func(b []byte, _ struct{}, s *aggregate.Set) ([]byte, error) { return s.AppendState(b) })
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: task %s: windows: %w", t.name, err)
	}
	out, es, err := wire.AppendPart(out, t.snapSize[1], t.engine.AppendState)
	if err != nil {
		return nil, fmt.Errorf("pipeline: task %s: detection state: %w", t.name, err)
	}
	t.snapSize = [2]int{ws, es}
	return out, nil
}

// stateReader reads a task state, failing once.
type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("bad %s", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) count(what string) int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > uint64(len(r.b)) { // every item takes a byte at least
		r.err = fmt.Errorf("bad %s", what)
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *stateReader) part(what string) []byte {
	l := r.count(what + " length")
	if r.err != nil {
		return nil
	}
	if l > len(r.b) {
		r.err = fmt.Errorf("%s longer than the state", what)
		return nil
	}
	p := r.b[:l]
	r.b = r.b[l:]
	return p
}

// restore replaces the task's state with a snapshot. On error the task
// is left as it was.
func (t *task) restore(state []byte) error {
	fail := func(err error) error {
		return fmt.Errorf("%w: task %s: %w", ErrInvalidCheckpoint, t.name, err)
	}
	if len(state) < len(taskMagic) || string(state[:len(taskMagic)]) != string(taskMagic) {
		return fail(errors.New("not a task state of this version"))
	}
	r := &stateReader{b: state[len(taskMagic):]}
	next := r.varint("offset")
	newest := r.varint("event time")
	fresh, err := t.p.newTask(t.topic, t.partition)
	if err != nil {
		return err
	}
	if t.windows == nil {
		for range r.count("source count") {
			src, off, item := r.varint("source partition"), r.varint("source offset"), r.varint("source item")
			fresh.seen[int32(src)] = sourcePos{off, item}
		}
		for range r.count("engine count") {
			field, es := string(r.part("field")), r.part("engine")
			if r.err != nil {
				break
			}
			// A field no rule groups by any more: its state is dropped.
			if e := fresh.byField[field]; e != nil {
				if err := e.RestoreState(es); err != nil {
					return fail(fmt.Errorf("detection state of %s: %w", field, err))
				}
			}
		}
	} else {
		ws, es := r.part("windows"), r.part("engine")
		if r.err == nil {
			setCfg := t.p.setCfg
			if err := fresh.windows.RestoreState(ws, func(data []byte) (struct{}, *aggregate.Set, error) {
				s, _ := aggregate.NewSet(setCfg)
				return struct{}{}, s, s.RestoreState(data)
			}); err != nil {
				return fail(fmt.Errorf("windows: %w", err))
			}
			if err := fresh.engine.RestoreState(es); err != nil {
				return fail(fmt.Errorf("detection state: %w", err))
			}
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the end", len(r.b))
	}
	if r.err != nil {
		return fail(r.err)
	}
	t.windows, t.engine, t.byField, t.seen, t.next, t.rekey = fresh.windows, fresh.engine, fresh.byField, fresh.seen, next, fresh.rekey
	t.newest = time.Time{}
	if newest != 0 {
		t.newest = time.Unix(0, newest).UTC()
	}
	clear(t.open)
	return nil
}

package anomaly

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rdr-go/rdr"
)

// EveryEvent makes every event it sees a detection: the detector of a
// rule whose filter is the whole condition, such as a Sigma detection rule
// on its own. The alert still deduplicates per key: a user's burst of
// matching events is one alert whose Count grows. Detection.Value and
// Threshold are 1.
//
// EveryEvent keeps no state. It is safe for concurrent use.
type EveryEvent struct{}

// Observe reports ev.
func (EveryEvent) Observe(ev rdr.Event, key string, report func(Detection)) {
	report(Detection{Key: key, Time: ev.Time, Value: 1, Threshold: 1, Event: ev})
}

// Advance does nothing: EveryEvent keeps no state.
func (EveryEvent) Advance(time.Time, func(Detection)) {}

// Len returns 0.
func (EveryEvent) Len() int { return 0 }

// Describe says "matched a TYPE event".
func (EveryEvent) Describe(d Detection) string { return "matched a " + d.Event.Type + " event" }

func (EveryEvent) stateKind() string { return "every-event" }

// AppendState appends the detector's kind ([Snapshotter]): it keeps no
// state.
func (d EveryEvent) AppendState(b []byte) ([]byte, error) {
	return appendStateHeader(b, d.stateKind()), nil
}

// RestoreState checks that data is what AppendState wrote ([Snapshotter]).
func (d EveryEvent) RestoreState(data []byte) error {
	r := newStateReader(data)
	r.header(d.stateKind())
	return r.finish(func() {})
}

// MaxTemporalSteps is the most steps a [Temporal] detector takes.
const MaxTemporalSteps = 16

// TemporalStep is one step of a [Temporal] detector: the events of one
// rule (its Filter), or the detections of a detector fed those events (a
// Sigma correlation that a temporal correlation refers to: ten failed
// logins, then a successful one).
type TemporalStep struct {
	// Name names the step in messages. Required.
	Name string
	// Filter selects the step's events. Required in practice; the zero
	// Filter passes every event.
	Filter Filter
	// Detector, when set, makes the step its detections for the key
	// instead of the events themselves: it is fed the events Filter
	// passes (with the Temporal's key) and owned by the Temporal.
	Detector Detector
}

// TemporalConfig configures a [Temporal] detector.
type TemporalConfig struct {
	// Steps are what must happen for one key. Between 2 and
	// MaxTemporalSteps.
	Steps []TemporalStep
	// Window is the time within which the steps must all happen.
	// Required.
	Window time.Duration
	// Ordered requires the steps to happen in their order, each after the
	// previous one (Sigma's temporal_ordered).
	Ordered bool
	// Min is how many different steps must happen within Window when the
	// steps are not ordered. Optional; default all of them. Ordered
	// detectors need all.
	Min int
}

// Temporal detects, per key, that several kinds of events happen within a
// window: all of them (or Min of them) in any order, or all in order — a
// Sigma temporal or temporal_ordered correlation. Detection.Value is the
// number of steps that happened within the window, Threshold the number
// needed; the detection holds until the oldest step it counts leaves the
// window.
//
// Per key it keeps, for each step, the latest time it happened (in any
// order) or the latest start of a chain that has reached it (in order):
// 8 bytes a step for each of MaxTemporalSteps (128 bytes a key, whatever
// the number of steps), in a [Table] that forgets keys quiet for Window. Order
// is the order the events are observed in, which is event time for input
// in order; a late event that happened before the step it would follow
// does not complete it.
//
// A Temporal is not safe for concurrent use; an Engine owns it.
type Temporal struct {
	cfg    TemporalConfig
	min    int
	keys   *Table[temporalState]
	fields [][]Field // per step: the fields its detector reads
	subs   []func(Detection)
	report func(Detection) // during Observe and Advance: the caller's
}

type temporalState struct {
	at [MaxTemporalSteps]int64 // per step, ns; 0: not yet
}

// NewTemporal returns a Temporal detector for cfg.
func NewTemporal(cfg TemporalConfig) (*Temporal, error) {
	n := len(cfg.Steps)
	switch {
	case n < 2 || n > MaxTemporalSteps:
		return nil, fmt.Errorf("invalid config: want 2 to %d steps, got %d", MaxTemporalSteps, n)
	case cfg.Window <= 0:
		return nil, fmt.Errorf("invalid config: Window must be positive, got %v", cfg.Window)
	case cfg.Ordered && cfg.Min != 0 && cfg.Min != n:
		return nil, fmt.Errorf("invalid config: an ordered Temporal needs all %d steps, got Min %d", n, cfg.Min)
	case cfg.Min < 0 || cfg.Min > n:
		return nil, fmt.Errorf("invalid config: Min must be between 1 and the %d steps, got %d", n, cfg.Min)
	}
	d := &Temporal{cfg: cfg, min: cfg.Min, keys: NewTable[temporalState](cfg.Window)}
	if d.min == 0 {
		d.min = n
	}
	d.fields = make([][]Field, n)
	d.subs = make([]func(Detection), n)
	for i, s := range cfg.Steps {
		if s.Name == "" {
			return nil, fmt.Errorf("invalid config: step %d has no name", i+1)
		}
		if err := s.Filter.validate(); err != nil {
			return nil, fmt.Errorf("invalid config: step %s: %w", s.Name, err)
		}
		if s.Detector == nil {
			continue
		}
		if fr, ok := s.Detector.(FieldReader); ok {
			d.fields[i] = fr.Fields()
		}
		d.subs[i] = func(det Detection) { d.hit(i, det.Key, det.Time.UnixNano(), det.Event) }
	}
	return d, nil
}

// Observe records the steps ev is, and reports when they add up.
func (d *Temporal) Observe(ev rdr.Event, key string, report func(Detection)) {
	d.keys.Advance(ev.Time)
	d.report = report
	// Last step first, so that one event cannot complete two steps of a
	// chain in a row.
	for i := len(d.cfg.Steps) - 1; i >= 0; i-- {
		s := &d.cfg.Steps[i]
		if !s.Filter.Match(&ev) {
			continue
		}
		if s.Detector == nil {
			d.hit(i, key, ev.Time.UnixNano(), ev)
		} else if hasFields(d.fields[i], &ev) {
			s.Detector.Observe(ev, key, d.subs[i])
		}
	}
	d.report = nil
}

// hit records that step i happened for key at t.
func (d *Temporal) hit(i int, key string, t int64, ev rdr.Event) {
	if t <= 0 {
		return
	}
	st := d.keys.Get(key)
	if st == nil {
		if d.cfg.Ordered && i > 0 {
			return // nothing to follow
		}
		st = d.keys.Put(key)
	}
	w := int64(d.cfg.Window)
	n := len(d.cfg.Steps)
	if d.cfg.Ordered {
		switch {
		case i == 0:
			st.at[0] = max(st.at[0], t)
		case st.at[i-1] != 0 && t >= st.at[i-1] && t-st.at[i-1] <= w:
			st.at[i] = max(st.at[i], st.at[i-1])
		default:
			return
		}
		if i == n-1 && d.report != nil {
			d.report(Detection{Key: key, Time: time.Unix(0, t), Until: time.Unix(0, st.at[i]+w),
				Value: float64(n), Threshold: float64(n), Event: ev})
		}
		return
	}
	st.at[i] = max(st.at[i], t)
	count, oldest := 0, int64(0)
	for _, at := range st.at[:n] {
		if at != 0 && t-at <= w {
			count++
			if oldest == 0 || at < oldest {
				oldest = at
			}
		}
	}
	if count >= d.min && d.report != nil {
		d.report(Detection{Key: key, Time: time.Unix(0, t), Until: time.Unix(0, oldest+w),
			Value: float64(count), Threshold: float64(d.min), Event: ev})
	}
}

// Advance moves the steps' detectors on and forgets keys quiet for Window.
func (d *Temporal) Advance(now time.Time, report func(Detection)) {
	d.report = report
	for i, s := range d.cfg.Steps {
		if s.Detector != nil {
			s.Detector.Advance(now, d.subs[i])
		}
	}
	d.report = nil
	d.keys.Advance(now)
}

// Len returns the number of keys with state, the steps' detectors'
// included.
func (d *Temporal) Len() int {
	n := d.keys.Len()
	for _, s := range d.cfg.Steps {
		if s.Detector != nil {
			n += s.Detector.Len()
		}
	}
	return n
}

// Describe says "all of a, b, c within 5m", "a then b within 10m", or "2
// of a, b, c within 5m".
func (d *Temporal) Describe(det Detection) string {
	names := make([]string, len(d.cfg.Steps))
	for i, s := range d.cfg.Steps {
		names[i] = s.Name
	}
	within := " within " + formatDuration(d.cfg.Window)
	switch {
	case d.cfg.Ordered:
		return strings.Join(names, " then ") + within
	case d.min == len(names):
		return "all of " + strings.Join(names, ", ") + within
	}
	return formatNumber(det.Value) + " of " + strings.Join(names, ", ") + within
}

func (d *Temporal) stateKind() string {
	var b strings.Builder
	b.WriteString("temporal window=" + d.cfg.Window.String() + " ordered=" + strconv.FormatBool(d.cfg.Ordered) +
		" min=" + strconv.Itoa(d.min) + " steps=")
	for i, s := range d.cfg.Steps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(s.Name))
		if s.Detector != nil {
			b.WriteString("(" + detectorKind(s.Detector) + ")")
		}
	}
	return b.String()
}

// AppendState appends the detector's state to b ([Snapshotter]): per key,
// its hash and each step's time; then each step detector's state. It
// fails for a step detector that is not a Snapshotter.
func (d *Temporal) AppendState(b []byte) ([]byte, error) {
	orig := len(b)
	b = appendStateHeader(b, d.stateKind())
	ref := d.keys.refTime()
	n := len(d.cfg.Steps)
	b = d.keys.AppendState(b, func(b []byte, st *temporalState) []byte {
		for _, at := range st.at[:n] {
			if at == 0 {
				b = append(b, 0)
				continue
			}
			b = append(b, 1)
			b = appendDelta(b, at, ref)
		}
		return b
	})
	for _, s := range d.cfg.Steps {
		if s.Detector == nil {
			continue
		}
		snap, ok := s.Detector.(Snapshotter)
		if !ok {
			return b[:orig], fmt.Errorf("anomaly: temporal step %s: its detector %T cannot save its state", s.Name, s.Detector)
		}
		sub, err := snap.AppendState(nil)
		if err != nil {
			return b[:orig], fmt.Errorf("anomaly: temporal step %s: %w", s.Name, err)
		}
		b = binary.AppendUvarint(b, uint64(len(sub)))
		b = append(b, sub...)
	}
	return b, nil
}

// RestoreState replaces the detector's state with one that AppendState
// wrote, in a Temporal of the same config ([Snapshotter]).
func (d *Temporal) RestoreState(data []byte) error {
	r := newStateReader(data)
	r.header(d.stateKind())
	n := len(d.cfg.Steps)
	ref := d.keys.refTime()
	d.keys.restore(&r, func(r *stateReader, st *temporalState) {
		for i := range n {
			if r.Bool("step set") {
				st.at[i] = r.delta("step time", ref)
			}
		}
	})
	subs := make([][]byte, n)
	for i, s := range d.cfg.Steps {
		if s.Detector != nil {
			subs[i] = r.Take(r.Uvarint("step state"), "step state")
		}
	}
	reset := func() { d.keys = NewTable[temporalState](d.cfg.Window) }
	if err := r.finish(reset); err != nil {
		return err
	}
	for i, s := range d.cfg.Steps {
		if s.Detector == nil {
			continue
		}
		snap, ok := s.Detector.(Snapshotter)
		if !ok {
			reset()
			return invalidState("temporal step %s: its detector cannot restore state", s.Name)
		}
		if err := snap.RestoreState(subs[i]); err != nil {
			reset()
			return withinState("temporal step "+s.Name, err)
		}
	}
	return nil
}

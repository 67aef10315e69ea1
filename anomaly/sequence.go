package anomaly

import (
	"fmt"
	"strings"
	"time"

	"github.com/rdr-go/rdr"
)

// SequenceConfig configures a [Sequence] detector.
type SequenceConfig struct {
	// First selects the events that must come first. Optional; the zero
	// Filter passes every event.
	First Filter
	// Count is how many First events must come before Then. Optional;
	// default 1; at most 10,000.
	Count int
	// Then selects the event that completes the sequence. Optional; the
	// zero Filter passes every event.
	Then Filter
	// Window bounds the whole sequence: the Count First events and the Then
	// event lie within Window. Required.
	Window time.Duration
}

// Sequence detects, per key, Count events of one kind followed by an event
// of another within Window: five failed logins and then a successful one
// within five minutes, a brute force that worked.
//
// The Then event is the detection (Value: the number of First events found
// in the window, Threshold: Count). A completed sequence is consumed: the
// next detection for the key needs Count new First events. An event that
// passes both filters completes a sequence before it counts as a First.
//
// Per key, Sequence keeps the times of the latest Count First events (8
// bytes each), so the window is exact. A key quiet for Window is forgotten
// within 2×Window.
//
// A Sequence is not safe for concurrent use; an Engine owns it.
type Sequence struct {
	cfg  SequenceConfig
	keys *Table[seqState]
}

type seqState struct {
	times []int64 // a ring of the latest First times (ns)
	pos   int32   // the next slot to write
	n     int32   // how many slots hold a time
}

const maxSequenceCount = 10_000

// NewSequence returns a Sequence detector for cfg.
func NewSequence(cfg SequenceConfig) (*Sequence, error) {
	if cfg.Count == 0 {
		cfg.Count = 1
	}
	if cfg.Count < 1 || cfg.Count > maxSequenceCount {
		return nil, fmt.Errorf("invalid config: Count must be between 1 and %d, got %d", maxSequenceCount, cfg.Count)
	}
	if cfg.Window <= 0 {
		return nil, fmt.Errorf("invalid config: Window must be positive, got %v", cfg.Window)
	}
	if err := cfg.First.validate(); err != nil {
		return nil, fmt.Errorf("invalid config: First: %w", err)
	}
	if err := cfg.Then.validate(); err != nil {
		return nil, fmt.Errorf("invalid config: Then: %w", err)
	}
	return &Sequence{cfg: cfg, keys: NewTable[seqState](cfg.Window)}, nil
}

// Observe advances key's sequence with ev.
func (s *Sequence) Observe(ev rdr.Event, key string, report func(Detection)) {
	s.keys.Advance(ev.Time)
	t := ev.Time.UnixNano()
	h := s.keys.hash(key)
	if s.cfg.Then.Match(&ev) {
		if st := s.keys.get(h); st != nil {
			cutoff := t - int64(s.cfg.Window)
			found := 0
			for _, ft := range st.times[:st.n] {
				if ft > cutoff && ft <= t {
					found++
				}
			}
			if found >= s.cfg.Count {
				report(Detection{
					Key:       key,
					Time:      ev.Time,
					Value:     float64(found),
					Threshold: float64(s.cfg.Count),
					Event:     ev,
				})
				delete(s.keys.m, h)
			}
		}
	}
	if s.cfg.First.Match(&ev) {
		st := s.keys.get(h)
		if st == nil {
			st = s.keys.put(h)
			st.times = make([]int64, s.cfg.Count)
		}
		st.times[st.pos] = t
		st.pos = (st.pos + 1) % int32(len(st.times))
		st.n = min(st.n+1, int32(len(st.times)))
	}
}

// Advance forgets keys that have been quiet for the window.
func (s *Sequence) Advance(now time.Time, _ func(Detection)) { s.keys.Advance(now) }

// Len returns the number of keys with state.
func (s *Sequence) Len() int { return s.keys.Len() }

// Describe says "N × FIRST then THEN within WINDOW".
func (s *Sequence) Describe(d Detection) string {
	return formatNumber(d.Value) + " × " + describeFilter(&s.cfg.First) + " then " + describeFilter(&s.cfg.Then) +
		" within " + formatDuration(s.cfg.Window)
}

// describeFilter names the events a filter passes, for messages.
func describeFilter(f *Filter) string {
	switch {
	case len(f.Types) > 0:
		return strings.Join(f.Types, "|")
	case f.MinSeverity != 0:
		return f.MinSeverity.String() + "+ event"
	}
	return "matching event"
}

// AbsenceConfig configures an [Absence] detector.
type AbsenceConfig struct {
	// First selects the events that start the wait. Optional; the zero
	// Filter passes every event.
	First Filter
	// Then selects the event that must follow. Optional; the zero Filter
	// passes every event.
	Then Filter
	// Window is how long Then may take. Required.
	Window time.Duration
}

// Absence detects, per key, a First event not followed by a Then event
// within Window: an MFA challenge never answered, a password reset never
// completed.
//
// The detection is made when event time passes the deadline, by Observe or
// Advance; its Time is the deadline, its Event the First event, its Value 0
// (Then events seen) and its Threshold 1. While a key waits, further First
// events do not move the deadline. A Then event at the deadline itself is
// still in time.
//
// Absence keeps state only for keys that are waiting: the key, the deadline
// and a copy of the First event. It is dropped when Then comes or the
// deadline passes.
//
// An Absence is not safe for concurrent use; an Engine owns it.
type Absence struct {
	cfg     AbsenceConfig
	pending map[string]*waiting
	queue   deadlineQueue
	seq     uint64
}

type waiting struct {
	key      string
	start    int64 // the First event's time (ns)
	deadline int64
	first    rdr.Event
}

// NewAbsence returns an Absence detector for cfg.
func NewAbsence(cfg AbsenceConfig) (*Absence, error) {
	if cfg.Window <= 0 {
		return nil, fmt.Errorf("invalid config: Window must be positive, got %v", cfg.Window)
	}
	if err := cfg.First.validate(); err != nil {
		return nil, fmt.Errorf("invalid config: First: %w", err)
	}
	if err := cfg.Then.validate(); err != nil {
		return nil, fmt.Errorf("invalid config: Then: %w", err)
	}
	return &Absence{cfg: cfg, pending: make(map[string]*waiting)}, nil
}

// Observe starts or ends key's wait with ev, after reporting every wait
// whose deadline ev's time has passed.
func (a *Absence) Observe(ev rdr.Event, key string, report func(Detection)) {
	a.expire(ev.Time.UnixNano(), report)
	t := ev.Time.UnixNano()
	if a.cfg.Then.Match(&ev) {
		if w := a.pending[key]; w != nil && t >= w.start && t <= w.deadline {
			delete(a.pending, key)
			return
		}
	}
	if a.cfg.First.Match(&ev) && a.pending[key] == nil {
		w := &waiting{key: strings.Clone(key), start: t, deadline: addSat(t, int64(a.cfg.Window)), first: cloneEvent(ev)}
		a.pending[w.key] = w
		a.seq++
		a.queue.push(queued{deadline: w.deadline, seq: a.seq, w: w})
	}
}

// Advance reports every wait whose deadline now has passed.
func (a *Absence) Advance(now time.Time, report func(Detection)) {
	a.expire(now.UnixNano(), report)
}

func (a *Absence) expire(now int64, report func(Detection)) {
	for len(a.queue) > 0 && a.queue[0].deadline < now {
		q := a.queue.pop()
		if a.pending[q.w.key] != q.w {
			continue // completed, or replaced
		}
		delete(a.pending, q.w.key)
		report(Detection{
			Key:       q.w.key,
			Time:      time.Unix(0, q.deadline).UTC(),
			Value:     0,
			Threshold: 1,
			Event:     q.w.first,
		})
	}
}

// Len returns the number of keys waiting.
func (a *Absence) Len() int { return len(a.pending) }

// Describe says "no THEN within WINDOW of FIRST".
func (a *Absence) Describe(Detection) string {
	return "no " + describeFilter(&a.cfg.Then) + " within " + formatDuration(a.cfg.Window) + " of " + describeFilter(&a.cfg.First)
}

// deadlineQueue is a min-heap of waits by (deadline, seq): the order is
// deterministic, and pushing allocates nothing beyond the slice.
type deadlineQueue = minHeap[queued]

type queued struct {
	deadline int64
	seq      uint64
	w        *waiting
}

func (q queued) less(o queued) bool {
	return q.deadline < o.deadline || q.deadline == o.deadline && q.seq < o.seq
}

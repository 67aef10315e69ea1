package anomaly

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
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
// Late events: a late First event is kept among its key's latest Count
// and counts for a Then event that arrives after it; a Then event is
// matched against the First events held within Window before its own
// time, so a whole late sequence (Firsts, then its Then) is detected.
// A First delivered after its Then is not matched to it.
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

func (s *Sequence) stateKind() string {
	return "sequence count=" + strconv.Itoa(s.cfg.Count) + " window=" + s.cfg.Window.String()
}

// AppendState appends the detector's state to b ([Snapshotter]): per key,
// its hash and the times of its latest First events.
func (s *Sequence) AppendState(b []byte) ([]byte, error) {
	b = appendStateHeader(b, s.stateKind())
	ref := s.keys.refTime()
	return s.keys.AppendState(b, func(b []byte, st *seqState) []byte {
		// Until the ring is full, the slots in use are 0 to n-1 and pos is n.
		b = binary.AppendUvarint(b, uint64(st.pos))
		b = binary.AppendUvarint(b, uint64(st.n))
		for _, t := range st.times[:st.n] {
			b = appendDelta(b, t, ref)
		}
		return b
	}), nil
}

// RestoreState replaces the detector's state with one that AppendState
// wrote, in a Sequence with the same Count and window ([Snapshotter]).
func (s *Sequence) RestoreState(data []byte) error {
	r := newStateReader(data)
	r.header(s.stateKind())
	count := uint64(s.cfg.Count)
	s.keys.restore(&r, func(r *stateReader, st *seqState) {
		at := r.Off
		pos := r.UintMax("ring position", count-1)
		n := r.UintMax("ring length", count)
		if r.Err == nil && n < count && pos != n {
			r.Fail(at, "ring position %d with %d of %d slots in use", pos, n, count)
		}
		if r.Err != nil {
			return
		}
		st.times = make([]int64, count)
		st.pos, st.n = int32(pos), int32(n)
		for i := range st.times[:n] {
			st.times[i] = r.delta("First time", s.keys.refTime())
		}
	})
	return r.finish(func() { s.keys = NewTable[seqState](s.cfg.Window) })
}

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
// Late events: a late First event starts its wait at its own time, and is
// reported as soon as event time has passed its deadline; a Then event
// ends a wait only if it lies between that wait's First and deadline. A
// Then delivered before its own (late) First is not matched to it: the
// First is then reported as absent.
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

func (a *Absence) stateKind() string { return "absence window=" + a.cfg.Window.String() }

// AppendState appends the detector's state to b ([Snapshotter]): each
// waiting key, in order, with the First event it waits on. It returns an
// error if one of those events cannot be saved: rdr's wire format cannot
// hold it (see [Engine.AppendState]).
func (a *Absence) AppendState(b []byte) ([]byte, error) {
	b0 := len(b)
	b = appendStateHeader(b, a.stateKind())
	b = binary.AppendUvarint(b, a.seq)
	waits := make([]queued, 0, len(a.pending))
	for _, q := range a.queue {
		if a.pending[q.w.key] == q.w {
			waits = append(waits, q)
		}
	}
	slices.SortFunc(waits, func(x, y queued) int { return strings.Compare(x.w.key, y.w.key) })
	b = binary.AppendUvarint(b, uint64(len(waits)))
	for _, q := range waits {
		if !validTime(q.w.first.Time) {
			return b[:b0], fmt.Errorf("anomaly: absence: key %q: the First event's time %s lies outside 1970 to 2242", q.w.key, q.w.first.Time.Format(time.RFC3339Nano))
		}
		b = appendString(b, q.w.key)
		b = binary.AppendUvarint(b, q.seq)
		var err error
		if b, err = appendEvent(b, q.w.first, true); err != nil {
			return b[:b0], fmt.Errorf("anomaly: absence: key %q: %w", q.w.key, err)
		}
	}
	return b, nil
}

// RestoreState replaces the detector's state with one that AppendState
// wrote, in an Absence with the same window ([Snapshotter]).
func (a *Absence) RestoreState(data []byte) error {
	r := newStateReader(data)
	r.header(a.stateKind())
	seq := r.Uvarint("sequence number")
	n := r.Count("waiting keys", seq, 3)
	pending := make(map[string]*waiting, n)
	queue := make(deadlineQueue, 0, n)
	seqs := make(map[uint64]bool, n)
	prev := ""
	for i := 0; i < n && r.Err == nil; i++ {
		at := r.Off
		key := r.String("key")
		s := r.Uvarint("key sequence number")
		first := r.event("First event")
		switch {
		case r.Err != nil:
		case i > 0 && key <= prev:
			r.Fail(at, "keys not in strictly ascending order: %q after %q", key, prev)
		case s == 0 || s > seq || seqs[s]:
			r.Fail(at, "key %q: sequence number %d used twice or outside 1 to %d", key, s, seq)
		case first == (rdr.Event{}):
			r.Fail(at, "key %q: no First event", key)
		case !validTime(first.Time):
			r.Fail(at, "key %q: First event at %s, outside 1970 to 2242", key, first.Time.Format(time.RFC3339Nano))
		}
		if r.Err != nil {
			break
		}
		t := first.Time.UnixNano()
		w := &waiting{key: key, start: t, deadline: addSat(t, int64(a.cfg.Window)), first: first}
		pending[key] = w
		queue.push(queued{deadline: w.deadline, seq: s, w: w})
		seqs[s] = true
		prev = key
	}
	a.pending, a.queue, a.seq = pending, queue, seq
	return r.finish(func() { a.pending, a.queue, a.seq = make(map[string]*waiting), nil, 0 })
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

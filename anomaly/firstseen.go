package anomaly

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/rdr-go/rdr"
)

// FirstSeenConfig configures a [FirstSeen] detector.
type FirstSeenConfig struct {
	// Field is the field whose new values are detected per key: a user's
	// IP address, a user's event type. Optional; the zero Field is userId.
	Field Field
	// History is how long a value stays known: a value not seen for
	// History is new again. Optional; default 30 days.
	History time.Duration
	// MaxValues caps the values remembered per key; past it, the value seen
	// longest ago is forgotten. Optional; default 32.
	MaxValues int
	// AlertNewKeys makes a key's very first value a detection too.
	// Optional; default false: a key with no known value learns its first
	// one silently (a user's first login from anywhere is not a "new IP").
	// Set it when the first value is the point: a user's first
	// privilege_change.
	AlertNewKeys bool
	// Warmup is a learning period, from the first event the detector sees,
	// during which values are learned but nothing is detected, so that a
	// freshly started engine does not report every value as new.
	// Optional; default 0.
	Warmup time.Duration
	// LearnFor and LearnEvents are a learning period per key: a new value
	// is reported only for a key known for at least LearnFor (since its
	// first event within History) and seen in at least LearnEvents events
	// before this one. Until then its values are learned silently, so a
	// user's usual addresses, first seen in their first hours, are not
	// "new". Optional; default 0: none. A key forgotten (quiet for
	// History) learns again.
	LearnFor    time.Duration
	LearnEvents int
}

// The FirstSeen defaults.
const (
	DefaultFirstSeenHistory   = 30 * 24 * time.Hour
	DefaultFirstSeenMaxValues = 32
)

// FirstSeen detects a value not seen for its key within History: a user's
// first login from a new IP address, a user's first privilege change.
//
// Warm-up: a key that has no value within History (never seen, or quiet
// for History) learns its first value without a detection, unless
// AlertNewKeys is set; and nothing is detected during Warmup after the
// detector's first event. Detection.Value is 0 (times the value was seen
// within History) and Threshold 1; the message names the new value.
//
// Per key, FirstSeen keeps each value's 64-bit hash and when it was last
// seen: 16 bytes a value, at most MaxValues. A key quiet for History is
// forgotten within 2×History.
//
// Late events: a late event is judged against everything its key has seen
// within History of it, later events included, so a value first delivered
// late but already seen since is not new.
//
// A FirstSeen is not safe for concurrent use; an Engine owns it.
type FirstSeen struct {
	cfg     FirstSeenConfig
	seed    hashSeed
	keys    *Table[firstSeenState]
	start   int64
	started bool
}

type firstSeenState struct {
	vals   []seenValue
	buf    [2]seenValue // vals' first home: most keys have one or two values
	since  int64        // the key's first event within History, ns (with a learning period)
	events uint32       // the key's events since then, saturating (with a learning period)
}

// NewFirstSeen returns a FirstSeen detector for cfg.
func NewFirstSeen(cfg FirstSeenConfig) (*FirstSeen, error) {
	if cfg.History == 0 {
		cfg.History = DefaultFirstSeenHistory
	}
	if cfg.MaxValues == 0 {
		cfg.MaxValues = DefaultFirstSeenMaxValues
	}
	switch {
	case cfg.History < 0:
		return nil, fmt.Errorf("invalid config: History must be positive, got %v", cfg.History)
	case cfg.MaxValues < 1:
		return nil, fmt.Errorf("invalid config: MaxValues must be at least 1, got %d", cfg.MaxValues)
	case cfg.Warmup < 0:
		return nil, fmt.Errorf("invalid config: Warmup must not be negative, got %v", cfg.Warmup)
	case cfg.LearnFor < 0:
		return nil, fmt.Errorf("invalid config: LearnFor must not be negative, got %v", cfg.LearnFor)
	case cfg.LearnEvents < 0:
		return nil, fmt.Errorf("invalid config: LearnEvents must not be negative, got %d", cfg.LearnEvents)
	}
	return &FirstSeen{cfg: cfg, seed: newHashSeed(), keys: NewTable[firstSeenState](cfg.History)}, nil
}

// Fields returns the watched field: events without it are skipped.
func (f *FirstSeen) Fields() []Field { return []Field{f.cfg.Field} }

// Observe learns ev's value for key, reporting it if it is new.
func (f *FirstSeen) Observe(ev rdr.Event, key string, report func(Detection)) {
	f.keys.Advance(ev.Time)
	hv, ok := f.cfg.Field.hash(f.seed, &ev)
	if !ok {
		return
	}
	t := ev.Time.UnixNano()
	if !f.started {
		f.start, f.started = t, true
	}
	cutoff := t - int64(f.cfg.History)
	st := f.keys.Get(key)
	if st == nil {
		st = f.keys.Put(key)
		st.vals = st.buf[:0]
	}
	vals := st.vals
	known := false
	newKey := true
	j := 0
	for _, v := range vals {
		if v.t <= cutoff {
			continue // forgotten
		}
		newKey = false
		if v.h == hv {
			known = true
			v.t = max(v.t, t)
		}
		vals[j] = v
		j++
	}
	clear(vals[j:])
	vals = vals[:j]
	if !known {
		if len(vals) < f.cfg.MaxValues {
			vals = append(vals, seenValue{hv, t})
		} else {
			oldest := 0
			for i, v := range vals {
				if v.t < vals[oldest].t {
					oldest = i
				}
			}
			vals[oldest] = seenValue{hv, t}
		}
	}
	st.vals = vals
	learning := false
	if f.learns() {
		if newKey {
			st.since, st.events = t, 0
		}
		learning = t-st.since < int64(f.cfg.LearnFor) || int(st.events) < f.cfg.LearnEvents
		if st.events < math.MaxUint32 {
			st.events++
		}
	}
	if known {
		return
	}
	if newKey && !f.cfg.AlertNewKeys || t-f.start < int64(f.cfg.Warmup) || learning && !newKey {
		return
	}
	report(Detection{Key: key, Time: ev.Time, Value: 0, Threshold: 1, Event: ev})
}

// Advance forgets keys that have been quiet for History.
func (f *FirstSeen) Advance(now time.Time, _ func(Detection)) { f.keys.Advance(now) }

// Len returns the number of keys with state.
func (f *FirstSeen) Len() int { return f.keys.Len() }

// Describe says "new FIELD VALUE (not seen in HISTORY)".
func (f *FirstSeen) Describe(d Detection) string {
	v, _ := f.cfg.Field.Value(d.Event)
	return "new " + f.cfg.Field.String() + " " + v + " (not seen in " + formatDuration(f.cfg.History) + ")"
}

// learns reports whether the detector has a learning period per key.
func (f *FirstSeen) learns() bool { return f.cfg.LearnFor > 0 || f.cfg.LearnEvents > 0 }

func (f *FirstSeen) stateKind() string {
	k := "first-seen field=" + f.cfg.Field.String() + " history=" + f.cfg.History.String() + " max-values=" + strconv.Itoa(f.cfg.MaxValues)
	if f.learns() {
		k += " learning" // the keys' learning state is saved too
	}
	return k
}

// AppendState appends the detector's state to b ([Snapshotter]): the seed
// of its value hashes and the time of its first event, then per key, its
// hash and each value's hash and time.
func (f *FirstSeen) AppendState(b []byte) ([]byte, error) {
	b = appendStateHeader(b, f.stateKind())
	b = binary.LittleEndian.AppendUint64(b, f.seed.seed)
	b = appendBool(b, f.started)
	b = binary.AppendVarint(b, f.start)
	ref := f.keys.refTime()
	learns := f.learns()
	return f.keys.AppendState(b, func(b []byte, st *firstSeenState) []byte {
		b = appendValues(b, st.vals, ref)
		if learns {
			b = appendDelta(b, st.since, ref)
			b = binary.AppendUvarint(b, uint64(st.events))
		}
		return b
	}), nil
}

// RestoreState replaces the detector's state with one that AppendState
// wrote, in a FirstSeen with the same field, history and MaxValues
// ([Snapshotter]).
func (f *FirstSeen) RestoreState(data []byte) error {
	r := newStateReader(data)
	r.header(f.stateKind())
	seed := r.Uint64("value seed")
	started := r.Bool("started")
	at := r.Off
	start := r.Varint("start")
	if r.Err == nil && !started && start != 0 {
		r.Fail(at, "a start time before the first event")
	}
	learns := f.learns()
	f.keys.restore(&r, func(r *stateReader, st *firstSeenState) {
		st.vals = r.values(f.cfg.MaxValues, f.keys.refTime(), st.buf[:])
		if learns {
			st.since = r.delta("learning since", f.keys.refTime())
			st.events = uint32(r.UintMax("learning events", math.MaxUint32))
		}
	})
	f.seed, f.start, f.started = makeHashSeed(seed), start, started
	return r.finish(func() {
		f.seed, f.start, f.started, f.keys = newHashSeed(), 0, false, NewTable[firstSeenState](f.cfg.History)
	})
}

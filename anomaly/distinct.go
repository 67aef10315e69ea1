package anomaly

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/rdr-go/rdr"
)

// DistinctConfig configures a [Distinct] detector.
type DistinctConfig struct {
	// Field is the field whose distinct values are counted per key.
	// Optional; the zero Field is userId.
	Field Field
	// Window is how far back values count. Required.
	Window time.Duration
	// Threshold is how many distinct values within Window make a
	// detection. Required; at least 1.
	Threshold int
	// MaxValues caps the values remembered per key. Past it the oldest is
	// forgotten for each new one, so Detection.Value never exceeds it.
	// Optional; default max(2×Threshold, 64); at least Threshold.
	MaxValues int
}

// Distinct detects keys with at least Threshold distinct values of a field
// within Window: one IP failing logins for twenty different users in five
// minutes (password spraying, credential stuffing).
//
// The window is exact: per key, Distinct keeps each value's 64-bit hash and
// the time it was last seen (16 bytes a value, at most MaxValues of them),
// and drops values older than Window as it goes. Detection.Value is the
// number of distinct values in the window, Threshold the configured
// threshold, and Until the moment that number would drop below the
// threshold if no more events came. A key quiet for Window is forgotten
// within 2×Window.
//
// Late events: a value is added at its own event time if that is within
// Window of its key's newest event, and ignored if older.
//
// A Distinct is not safe for concurrent use; an Engine owns it.
type Distinct struct {
	cfg     DistinctConfig
	seed    hashSeed
	keys    *Table[distinctState]
	scratch []int64
}

type distinctState struct {
	latest int64
	vals   []seenValue
}

// seenValue is a value's hash and when it was last seen (ns).
type seenValue struct {
	h uint64
	t int64
}

// NewDistinct returns a Distinct detector for cfg.
func NewDistinct(cfg DistinctConfig) (*Distinct, error) {
	if cfg.Window <= 0 {
		return nil, fmt.Errorf("invalid config: Window must be positive, got %v", cfg.Window)
	}
	if cfg.Threshold < 1 {
		return nil, fmt.Errorf("invalid config: Threshold must be at least 1, got %d", cfg.Threshold)
	}
	if cfg.MaxValues == 0 {
		cfg.MaxValues = max(2*cfg.Threshold, 64)
	}
	if cfg.MaxValues < cfg.Threshold {
		return nil, fmt.Errorf("invalid config: MaxValues (%d) must be at least Threshold (%d)", cfg.MaxValues, cfg.Threshold)
	}
	return &Distinct{cfg: cfg, seed: newHashSeed(), keys: NewTable[distinctState](cfg.Window)}, nil
}

// Fields returns the counted field: events without it are skipped.
func (d *Distinct) Fields() []Field { return []Field{d.cfg.Field} }

// Observe records ev's value for key.
func (d *Distinct) Observe(ev rdr.Event, key string, report func(Detection)) {
	d.keys.Advance(ev.Time)
	h, ok := d.cfg.Field.hash(d.seed, &ev)
	if !ok {
		return
	}
	t := ev.Time.UnixNano()
	st := d.keys.Get(key)
	if st == nil {
		st = d.keys.Put(key)
	}
	st.latest = max(st.latest, t)
	cutoff := st.latest - int64(d.cfg.Window)
	if t <= cutoff {
		return // older than the window
	}
	found := false
	j := 0
	for _, v := range st.vals {
		if v.t <= cutoff {
			continue
		}
		if v.h == h {
			found = true
			v.t = max(v.t, t)
		}
		st.vals[j] = v
		j++
	}
	clear(st.vals[j:])
	st.vals = st.vals[:j]
	if !found {
		if len(st.vals) < d.cfg.MaxValues {
			st.vals = append(st.vals, seenValue{h, t})
		} else {
			oldest := 0
			for i, v := range st.vals {
				if v.t < st.vals[oldest].t {
					oldest = i
				}
			}
			st.vals[oldest] = seenValue{h, t}
		}
	}
	n := len(st.vals)
	if n < d.cfg.Threshold {
		return
	}
	d.scratch = d.scratch[:0]
	for _, v := range st.vals {
		d.scratch = append(d.scratch, v.t)
	}
	slices.Sort(d.scratch)
	// The condition holds until the Threshold-th newest value leaves.
	until := d.scratch[n-d.cfg.Threshold] + int64(d.cfg.Window)
	report(Detection{
		Key:       key,
		Time:      ev.Time,
		Until:     time.Unix(0, until).UTC(),
		Value:     float64(n),
		Threshold: float64(d.cfg.Threshold),
		Event:     ev,
	})
}

// Advance forgets keys that have been quiet for the window.
func (d *Distinct) Advance(now time.Time, _ func(Detection)) { d.keys.Advance(now) }

// Len returns the number of keys with state.
func (d *Distinct) Len() int { return d.keys.Len() }

// Describe says "N distinct FIELD in WINDOW (threshold T)".
func (d *Distinct) Describe(det Detection) string {
	return formatNumber(det.Value) + " distinct " + d.cfg.Field.String() + " in " + formatDuration(d.cfg.Window) +
		" (threshold " + formatNumber(det.Threshold) + ")"
}

func (d *Distinct) stateKind() string {
	return "distinct field=" + d.cfg.Field.String() + " window=" + d.cfg.Window.String() + " max-values=" + strconv.Itoa(d.cfg.MaxValues)
}

// AppendState appends the detector's state to b ([Snapshotter]): the seed
// of its value hashes, then per key, its hash, its latest time and each
// value's hash and time.
func (d *Distinct) AppendState(b []byte) ([]byte, error) {
	b = appendStateHeader(b, d.stateKind())
	b = binary.LittleEndian.AppendUint64(b, d.seed.seed)
	ref := d.keys.refTime()
	return d.keys.AppendState(b, func(b []byte, st *distinctState) []byte {
		b = appendDelta(b, st.latest, ref)
		return appendValues(b, st.vals, st.latest)
	}), nil
}

// RestoreState replaces the detector's state with one that AppendState
// wrote, in a Distinct with the same field, window and MaxValues
// ([Snapshotter]).
func (d *Distinct) RestoreState(data []byte) error {
	r := newStateReader(data)
	r.header(d.stateKind())
	seed := r.Uint64("value seed")
	d.keys.restore(&r, func(r *stateReader, st *distinctState) {
		st.latest = r.delta("latest time", d.keys.refTime())
		st.vals = r.values(d.cfg.MaxValues, st.latest, nil)
		for _, v := range st.vals {
			if v.t > st.latest {
				r.Fail(r.Off, "a value seen after the key's latest time")
			}
		}
	})
	d.seed = makeHashSeed(seed)
	return r.finish(func() { d.seed, d.keys = newHashSeed(), NewTable[distinctState](d.cfg.Window) })
}

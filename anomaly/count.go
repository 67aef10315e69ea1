package anomaly

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/rdr-go/rdr"
)

// CountConfig configures a [Count] detector.
type CountConfig struct {
	// Window is how far back events count. Required; at least 12ns.
	Window time.Duration
	// Threshold is how many events within Window make a detection.
	// Required; at least 1.
	Threshold int
}

// Count detects keys with at least Threshold events within Window: five
// failed logins for one user within a minute.
//
// Each event at or above the threshold is a detection, so the alert counts
// them while the burst goes on. Detection.Value is the number of events in
// the window, Threshold the configured threshold, and Until the moment the
// count would drop below the threshold if no more events came.
//
// The window slides in 12 steps: per key, Count keeps 12 counters of
// Window/12 each, so an event is counted for between 11/12 of Window and
// Window after it happened. That is 88 bytes per key, whatever the rate
// (measured with the table's map; see BenchmarkBytesPerKey). A key quiet
// for Window is forgotten within 2×Window.
//
// Late events: an event is counted into its own slot of its key's window,
// however late it arrives, as long as that slot is still among the key's 12
// (within Window of the key's newest event); older than that, it is
// ignored. A key with no recent events counts a late burst as if it were
// live: five failed logins delivered two minutes late still fire.
//
// A Count is not safe for concurrent use; an Engine owns it.
type Count struct {
	cfg   CountConfig
	width int64
	keys  *Table[countState]
}

const countBuckets = 12

type countState struct {
	head int64 // the index of the newest slot
	n    [countBuckets]uint32
}

// NewCount returns a Count detector for cfg.
func NewCount(cfg CountConfig) (*Count, error) {
	if cfg.Window < countBuckets {
		return nil, fmt.Errorf("invalid config: Window must be at least %dns, got %v", countBuckets, cfg.Window)
	}
	if cfg.Threshold < 1 {
		return nil, fmt.Errorf("invalid config: Threshold must be at least 1, got %d", cfg.Threshold)
	}
	return &Count{cfg: cfg, width: int64(cfg.Window) / countBuckets, keys: NewTable[countState](cfg.Window)}, nil
}

// Observe counts ev for key.
func (c *Count) Observe(ev rdr.Event, key string, report func(Detection)) {
	c.keys.Advance(ev.Time)
	slot := floorDiv(ev.Time.UnixNano(), c.width)
	st := c.keys.Get(key)
	if st == nil {
		st = c.keys.Put(key)
		st.head = slot
	}
	if slot > st.head {
		if d := slot - st.head; d < 0 || d >= countBuckets {
			clear(st.n[:])
		} else {
			for s := st.head + 1; s <= slot; s++ {
				st.n[bucketOf(s)] = 0
			}
		}
		st.head = slot
	} else if slot <= st.head-countBuckets {
		return // older than the window
	}
	if i := bucketOf(slot); st.n[i] < math.MaxUint32 {
		st.n[i]++
	}
	var total uint64
	for _, n := range st.n {
		total += uint64(n)
	}
	if total < uint64(c.cfg.Threshold) {
		return
	}
	report(Detection{
		Key:       key,
		Time:      ev.Time,
		Until:     c.until(st),
		Value:     float64(total),
		Threshold: float64(c.cfg.Threshold),
		Event:     ev,
	})
}

// until is when the count drops below the threshold without new events:
// when the oldest slot still needed to reach it leaves the window.
func (c *Count) until(st *countState) time.Time {
	var acc uint64
	for k := int64(0); k < countBuckets; k++ {
		s := st.head - k
		acc += uint64(st.n[bucketOf(s)])
		if acc >= uint64(c.cfg.Threshold) {
			return time.Unix(0, (s+countBuckets)*c.width).UTC()
		}
	}
	return time.Unix(0, (st.head+1)*c.width).UTC()
}

func bucketOf(slot int64) int {
	i := slot % countBuckets
	if i < 0 {
		i += countBuckets
	}
	return int(i)
}

// Advance forgets keys that have been quiet for the window.
func (c *Count) Advance(now time.Time, _ func(Detection)) { c.keys.Advance(now) }

// Len returns the number of keys with state.
func (c *Count) Len() int { return c.keys.Len() }

// Describe says "N events in WINDOW (threshold T)".
func (c *Count) Describe(d Detection) string {
	return formatNumber(d.Value) + " events in " + formatDuration(c.cfg.Window) + " (threshold " + formatNumber(d.Threshold) + ")"
}

func (c *Count) stateKind() string { return "count window=" + c.cfg.Window.String() }

// AppendState appends the detector's state to b ([Snapshotter]): per key,
// its hash, the newest slot and the 12 counters.
func (c *Count) AppendState(b []byte) ([]byte, error) {
	b = appendStateHeader(b, c.stateKind())
	ref := c.refSlot()
	return c.keys.AppendState(b, func(b []byte, st *countState) []byte {
		b = appendDelta(b, st.head, ref)
		for _, n := range st.n {
			b = binary.AppendUvarint(b, uint64(n))
		}
		return b
	}), nil
}

// RestoreState replaces the detector's state with one that AppendState
// wrote, in a Count with the same window ([Snapshotter]).
func (c *Count) RestoreState(data []byte) error {
	r := newStateReader(data)
	r.header(c.stateKind())
	c.keys.restore(&r, func(r *stateReader, st *countState) {
		st.head = r.delta("newest slot", c.refSlot())
		for i := range st.n {
			st.n[i] = uint32(r.UintMax("counter", math.MaxUint32))
		}
	})
	return r.finish(func() { c.keys = NewTable[countState](c.cfg.Window) })
}

// refSlot is about the current slot, to save slots relative to.
func (c *Count) refSlot() int64 { return int64(uint64(c.keys.gen) * countBuckets) }

package window_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/rdr-go/rdr/window"
	"github.com/stretchr/testify/require"
)

// model is a deliberately naive implementation of the package's semantics
// (Flink's): every window in one slice, full scans, sorting on each
// advance. TestAgainstModel checks Windows against it on random streams.
type model struct {
	kind                  string
	size, slide, lateness int64
	wm                    int64
	wins                  []*modelWin
	seq                   int
}

type modelWin struct {
	key                     string
	start, end              int64
	count, seq              int
	fired, emitted, pending bool // pending: changed after firing
}

func (m *model) add(key string, ms int64) window.Status {
	late := func(end int64) bool { return end-1+m.lateness <= m.wm }
	fold := func(w *modelWin) window.Status {
		w.count++
		if w.fired {
			w.pending = true
		}
		if w.emitted {
			return window.StatusUpdate
		}
		return window.StatusAccepted
	}
	if m.kind == "session" {
		var over []*modelWin
		for _, w := range m.wins {
			if w.key == key && w.start <= ms+m.size && w.end >= ms {
				over = append(over, w)
			}
		}
		if len(over) == 0 {
			if late(ms + m.size) {
				return window.StatusLate
			}
			w := &modelWin{key: key, start: ms, end: ms + m.size, seq: m.seq}
			m.seq++
			m.wins = append(m.wins, w)
			return fold(w)
		}
		slices.SortFunc(over, func(a, b *modelWin) int { return int(a.start - b.start) })
		s := over[0]
		start, end := min(s.start, ms), max(s.end, ms+m.size)
		for _, o := range over[1:] {
			start, end = min(start, o.start), max(end, o.end)
			s.count += o.count
			s.emitted = s.emitted || o.emitted
			m.wins = slices.DeleteFunc(m.wins, func(w *modelWin) bool { return w == o })
		}
		if s.fired && end-1 > m.wm {
			s.fired, s.pending = false, false
		}
		s.start, s.end = start, end
		return fold(s)
	}
	var starts []int64
	slide := m.slide
	if m.kind == "tumbling" {
		slide = m.size
	}
	for start := ms - ((ms%slide)+slide)%slide; start > ms-m.size; start -= slide {
		if !late(start + m.size) {
			starts = append(starts, start)
		}
	}
	if len(starts) == 0 {
		return window.StatusLate
	}
	status := window.StatusAccepted
	for _, start := range starts {
		i := slices.IndexFunc(m.wins, func(w *modelWin) bool { return w.key == key && w.start == start })
		if i < 0 {
			m.wins = append(m.wins, &modelWin{key: key, start: start, end: start + m.size, seq: m.seq})
			m.seq++
			i = len(m.wins) - 1
		}
		if fold(m.wins[i]) == window.StatusUpdate {
			status = window.StatusUpdate
		}
	}
	return status
}

func (m *model) advance(wm int64, flush bool) []string {
	m.wm = max(m.wm, wm)
	limit := m.wm
	if flush {
		limit = 1 << 62
	}
	var due []*modelWin
	for _, w := range m.wins {
		if (!w.fired && w.end-1 <= limit) || (w.fired && w.pending) {
			due = append(due, w)
		}
	}
	slices.SortFunc(due, func(a, b *modelWin) int {
		if a.end != b.end {
			return int(a.end - b.end)
		}
		if a.start != b.start {
			return int(a.start - b.start)
		}
		return a.seq - b.seq
	})
	var out []string
	for _, w := range due {
		line := fmt.Sprintf("%s [%d,%d) %d", w.key, w.start, w.end, w.count)
		if w.emitted {
			line += " update"
		}
		out = append(out, line)
		w.fired, w.emitted, w.pending = true, true, false
	}
	m.wins = slices.DeleteFunc(m.wins, func(w *modelWin) bool { return flush || w.end-1+m.lateness <= limit })
	return out
}

func TestAgainstModel(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name     string
		assigner window.Assigner
		m        model
	}{
		{"tumbling", window.Tumbling(5 * ms), model{kind: "tumbling", size: 5}},
		{"hopping", window.Hopping(6*ms, 2*ms), model{kind: "hopping", size: 6, slide: 2}},
		{"hopping uneven", window.Hopping(7*ms, 3*ms), model{kind: "hopping", size: 7, slide: 3}},
		{"session", window.Session(4 * ms), model{kind: "session", size: 4}},
	} {
		for _, lateness := range []int64{0, 3, 10} {
			t.Run(fmt.Sprintf("%s/lateness=%d", tc.name, lateness), func(t *testing.T) {
				for seed := range uint64(50) {
					rng := rand.New(rand.NewPCG(seed, uint64(lateness)))
					m := tc.m
					m.lateness, m.wm = lateness, -1<<62
					w := newCounter(t, window.Config[int, int]{
						Assigner:        tc.assigner,
						AllowedLateness: time.Duration(lateness) * ms,
					})
					var r recorder
					cursor := int64(0)
					for op := range 400 {
						if rng.IntN(5) == 0 {
							wm := cursor - rng.Int64N(8)
							w.Advance(at(wm), r.emit)
							require.Equal(t, m.advance(wm, false), r.take(), "seed %d op %d: advance(%d)", seed, op, wm)
						} else {
							key := string(rune('a' + rng.IntN(3)))
							ev := cursor - rng.Int64N(25) + 3
							cursor += rng.Int64N(3)
							st, err := w.Add(key, at(ev), 1)
							require.NoError(t, err)
							require.Equal(t, m.add(key, ev), st, "seed %d op %d: %s@%d", seed, op, key, ev)
						}
						require.Equal(t, len(m.wins), w.Stats().OpenWindows, "seed %d op %d", seed, op)
					}
					w.Flush(r.emit)
					require.Equal(t, m.advance(0, true), r.take(), "seed %d: flush", seed)
					require.Equal(t, 0, w.Stats().OpenWindows)
				}
			})
		}
	}
}

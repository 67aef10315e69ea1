package sink

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
)

// RollUpStep is the length of the roll-up windows [InfluxConfig].RollUp
// writes: history over long ranges reads one point per minute instead of
// one per window.
const RollUpStep = time.Minute

// rollUpBatch is the most minutes one roll-up pass reads at once.
const rollUpBatch = 60

// rollUpEvery is how often the roll-up goroutine rolls the minutes whose
// windows have been written.
const rollUpEvery = time.Second

// Roll-up measurements: the rdr_window and rdr_events of 1-minute windows,
// summed over partitions and writers (and with active_users the largest
// window's distinct users, summed over partitions and writers per window),
// at the minute's end. Every sink that rolls a minute up computes it from
// all the stored windows and writes the same series (writer "rollup"), so
// the last one written holds.
const (
	measWindowRollUp = "rdr_window_1m"
	measEventsRollUp = "rdr_events_1m"
	rollUpWriter     = "rollup"
)

// rollUps tracks the minutes whose windows were written since they were
// last rolled up.
type rollUps struct {
	pass sync.Mutex // one pass at a time

	mu    sync.Mutex
	dirty map[int64]uint64 // minute start (Unix ns) → the sink's point count once its latest window was buffered
}

// minuteOf is the start of the minute holding a window's last instant.
func minuteOf(end time.Time) int64 {
	t := end.UnixNano() - 1
	step := int64(RollUpStep)
	return t - ((t%step)+step)%step
}

func (r *rollUps) mark(minute int64, seq uint64) {
	r.mu.Lock()
	if r.dirty == nil {
		r.dirty = map[int64]uint64{}
	}
	r.dirty[minute] = seq
	r.mu.Unlock()
}

// firstDirty returns the earliest minute in [from, to) not yet rolled up,
// or to.
func (r *rollUps) firstDirty(from, to int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := to
	for m := range r.dirty {
		if m >= from && m < first {
			first = m
		}
	}
	return first
}

func (r *rollUps) pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.dirty)
}

// RollUpNow sends what is buffered, rolls up every minute written since its
// last roll-up, and sends the roll-ups; it returns once they are written or
// ctx ends. Without RollUp it is Flush.
func (s *Influx) RollUpNow(ctx context.Context) error {
	if err := s.Flush(ctx); err != nil || !s.cfg.RollUp {
		return err
	}
	if err := s.rollPass(ctx); err != nil {
		return err
	}
	return s.Flush(ctx)
}

// rollLoop rolls up, every rollUpEvery, the minutes whose points have all
// been sent. It returns when stop is closed.
func (s *Influx) rollLoop(stop <-chan struct{}, exited chan<- struct{}) {
	defer close(exited)
	// A pass in progress (a query to a server that hangs, a write waiting
	// for room) ends when Close stops the loop: Close stays bounded.
	base, cancelBase := context.WithCancel(s.runCtx)
	defer cancelBase()
	go func() {
		select {
		case <-stop:
			cancelBase()
		case <-base.Done():
		}
	}()
	ticker := time.NewTicker(rollUpEvery)
	defer ticker.Stop()
	caughtUp := false
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		ctx, cancel := context.WithTimeout(base, 3*s.cfg.RequestTimeout)
		if !caughtUp {
			if err := s.rollCatchUp(ctx); err != nil {
				s.log.Warn("roll-up catch-up failed; trying again", "err", err)
			} else {
				caughtUp = true
			}
		}
		if err := s.rollPass(ctx); err != nil {
			s.log.Warn("roll-up failed; trying again", "err", err)
		}
		cancel()
	}
}

// Catch-up bounds: on start, the minutes from rollUpCatchUpMargin before
// the newest roll-up to the newest window, at most rollUpCatchUpMax of
// them, are rolled up again.
const (
	rollUpCatchUpMargin = 10 * time.Minute
	rollUpCatchUpMax    = 7 * 24 * time.Hour
)

// rollCatchUp marks for rolling up the minutes a sink that stopped before
// rolling them up left behind: those after the newest roll-up (less a
// margin) up to the newest window.
func (s *Influx) rollCatchUp(ctx context.Context) error {
	rolled, err := s.reader.newest(ctx, measWindowRollUp)
	if err != nil {
		return err
	}
	windows, err := s.reader.newest(ctx, measWindow)
	if err != nil || windows == 0 || windows <= rolled {
		return err
	}
	step := int64(RollUpStep)
	from := max(rolled-int64(rollUpCatchUpMargin), windows-int64(rollUpCatchUpMax))
	if rolled == 0 {
		// Nothing rolled up yet (a new bucket, or windows written
		// without RollUp): from the oldest window, not a week back. A
		// week of empty minutes was 168 roll-up runs of 3 queries each
		// at every start on a new bucket: 504 queries, most of what
		// InfluxDB did in the benchmark suite's quiet runs.
		oldest, err := s.reader.oldest(ctx, measWindow)
		if err != nil {
			return err
		}
		from = max(oldest-step, from)
	}
	from -= ((from % step) + step) % step
	s.roll.mu.Lock()
	if s.roll.dirty == nil {
		s.roll.dirty = map[int64]uint64{}
	}
	for m := from; m < windows; m += step {
		if _, ok := s.roll.dirty[m]; !ok {
			s.roll.dirty[m] = 0
		}
	}
	s.roll.mu.Unlock()
	return nil
}

// rollPass rolls up every dirty minute whose points have all been sent
// (written, refused or lost): it reads the minute's windows back with
// InfluxQL, so the roll-up holds every writer's and partition's points, and
// writes its points through the buffer.
func (s *Influx) rollPass(ctx context.Context) error {
	s.roll.pass.Lock()
	defer s.roll.pass.Unlock()
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	s.roll.mu.Lock()
	marks := make(map[int64]uint64)
	var minutes []int64
	for m, seq := range s.roll.dirty {
		if seq <= done {
			marks[m] = seq
			minutes = append(minutes, m)
		}
	}
	s.roll.mu.Unlock()
	slices.Sort(minutes)
	step := int64(RollUpStep)
	for len(minutes) > 0 {
		n := 1
		for n < len(minutes) && n < rollUpBatch && minutes[n] == minutes[n-1]+step {
			n++
		}
		run := minutes[:n]
		minutes = minutes[n:]
		if err := s.rollRun(ctx, run[0], run[n-1]+step); err != nil {
			return err
		}
		s.roll.mu.Lock()
		for _, m := range run {
			if s.roll.dirty[m] == marks[m] { // not written again meanwhile
				delete(s.roll.dirty, m)
			}
		}
		s.roll.mu.Unlock()
	}
	return nil
}

// rollUpMinute is one minute's roll-up.
type rollUpMinute struct {
	active, total uint64
	sev           aggregate.BySeverity
	types         map[string]uint64 // stored (encoded) event type → count
}

// set records the value of one column of the roll-up queries.
func (m *rollUpMinute) set(col string, v uint64) {
	switch col {
	case fieldActiveUsers:
		m.active = v
	case fieldTotal:
		m.total = v
	case fieldUnknown:
		m.sev[0] = v
	default:
		if s, err := rdr.ParseSeverity(col); err == nil {
			m.sev[s] = v
		}
	}
}

// rollRun rolls up the minutes in [from, to) (Unix ns, whole minutes).
func (s *Influx) rollRun(ctx context.Context, from, to int64) error {
	where := fmt.Sprintf("time > %s AND time <= %s", influxQLTime(time.Unix(0, from)), influxQLTime(time.Unix(0, to)))
	group := fmt.Sprintf("GROUP BY time(%s, 1ns)", influxQLDuration(RollUpStep))
	sums := []string{fieldTotal, "low", "medium", "high", "critical", fieldUnknown}
	sel := make([]string, len(sums))
	for i, f := range sums {
		sel[i] = fmt.Sprintf("sum(%s) AS %s", influxQLIdent(f), influxQLIdent(f))
	}
	stmts := []string{
		fmt.Sprintf("SELECT %s FROM %s WHERE %s %s fill(none)", strings.Join(sel, ", "), influxQLIdent(measWindow), where, group),
		fmt.Sprintf(`SELECT max("s") AS %s FROM (SELECT sum(%s) AS "s" FROM %s WHERE %s GROUP BY time(1ns) fill(none)) WHERE %s %s fill(none)`,
			influxQLIdent(fieldActiveUsers), influxQLIdent(fieldActiveUsers), influxQLIdent(measWindow), where, where, group),
		fmt.Sprintf("SELECT sum(%s) AS %s FROM %s WHERE %s %s, %s fill(none)",
			influxQLIdent(fieldCount), influxQLIdent(fieldCount), influxQLIdent(measEvents), where, group, influxQLIdent(tagEventType)),
	}
	byMinute := map[int64]*rollUpMinute{}
	minute := func(t int64) *rollUpMinute {
		m := byMinute[t]
		if m == nil {
			m = &rollUpMinute{types: map[string]uint64{}}
			byMinute[t] = m
		}
		return m
	}
	for qi, stmt := range stmts {
		series, err := s.reader.query(ctx, stmt, nil)
		if err != nil {
			return fmt.Errorf("sink: influx roll-up: %w", err)
		}
		for si := range series {
			sr := &series[si]
			ti := sr.column("time")
			for _, row := range sr.Values {
				t, err := jsonInt(row, ti)
				if err != nil {
					return fmt.Errorf("sink: influx roll-up: time: %w", err)
				}
				m := minute(t - 1) // the bucket starts 1 ns after its minute
				for ci, col := range sr.Columns {
					if col == "time" || col == tagEventType || ci >= len(row) || row[ci] == nil {
						continue
					}
					v, err := jsonFloat(row[ci])
					if err != nil {
						return fmt.Errorf("sink: influx roll-up: %s: %w", col, err)
					}
					if qi == 2 {
						typ, ok := sr.tag(tagEventType, row)
						if !ok {
							return fmt.Errorf("sink: influx roll-up: row without its %s tag", tagEventType)
						}
						m.types[typ] = uint64(v)
					} else {
						m.set(col, uint64(v))
					}
				}
			}
		}
	}
	if len(byMinute) == 0 {
		return nil
	}
	points := 0
	for _, m := range byMinute {
		points += 1 + len(m.types)
	}
	if err := s.reserve(ctx, points); err != nil {
		return err
	}
	for start, m := range byMinute {
		s.cur.buf = appendRollUp(s.cur.buf, start+int64(RollUpStep), m)
	}
	s.commit(points)
	return nil
}

// appendRollUp appends one minute's roll-up points at end.
func appendRollUp(dst []byte, end int64, m *rollUpMinute) []byte {
	const writer = rollUpWriter
	dst = append(dst, measWindowRollUp...)
	dst = appendTag(dst, tagWriter, writer)
	f := fieldWriter{b: dst, first: true}
	f.counts(m.active, &m.sev, m.total)
	dst = appendTimestamp(f.b, end)
	for typ, n := range m.types {
		dst = append(dst, measEventsRollUp...)
		dst = appendTag(dst, tagEventType, decodeTag(typ))
		dst = appendTag(dst, tagWriter, writer)
		f = fieldWriter{b: dst, first: true}
		f.uint(fieldCount, n)
		dst = appendTimestamp(f.b, end)
	}
	return dst
}

// historyRolled answers q, whose intervals are whole minutes from a whole
// minute, from the roll-ups up to the first minute not yet rolled up and
// from the windows after it.
func (s *Influx) historyRolled(ctx context.Context, q Query) (History, error) {
	start, stop := q.Start.UnixNano(), q.Stop.UnixNano()
	// The roll-ups end with the newest one (at its minute's end), or
	// where this sink has windows not yet rolled up.
	newest, err := s.reader.newestBefore(ctx, measWindowRollUp, q.Stop.Add(RollUpStep))
	if err != nil {
		return History{}, err
	}
	split := min(s.roll.firstDirty(start, stop), max(newest, start))
	// Split on an interval boundary, so no interval mixes the two.
	if split < stop {
		split = start + (split-start)/int64(q.Interval)*int64(q.Interval)
	}
	b := newHistBuilder(q)
	if split > start {
		part := q
		part.Stop = time.Unix(0, split).UTC()
		h, err := s.reader.historyFrom(ctx, part, true)
		if err != nil {
			return History{}, err
		}
		b.merge(h, 0)
	}
	if split < stop {
		part := q
		part.Start = time.Unix(0, split).UTC()
		h, err := s.reader.historyFrom(ctx, part, false)
		if err != nil {
			return History{}, err
		}
		b.merge(h, int((split-start)/int64(q.Interval)))
	}
	return b.history(), nil
}

// merge adds h's series into b, h's first point at interval off.
func (b *histBuilder) merge(h History, off int) {
	for _, sr := range h.Series {
		for i, p := range sr.Points {
			b.add(sr.Key, off+i, p.V)
		}
	}
}

package anomaly

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/rdr-go/rdr"
)

// SpikeConfig configures a [Spike] detector. The zero SpikeConfig is valid:
// every field has a default.
type SpikeConfig struct {
	// Interval is the unit of rate: Spike counts each key's events per
	// Interval. Optional; default 1m.
	Interval time.Duration
	// Alpha is the weight of the newest interval in the baseline (an
	// exponentially weighted moving mean and variance). Optional; default
	// 0.1; 0 < Alpha ≤ 1.
	Alpha float64
	// Warmup is how many intervals of history a key needs before it can be
	// detected: new keys do not alert. Optional; default 10; negative: 0.
	Warmup int
	// Deviations is the threshold: how many standard deviations above its
	// baseline mean a key's count must reach. Optional; default 3.
	Deviations float64
	// MinCount is the smallest count that can be a detection, so that tiny
	// numbers (3 events against a baseline of 0.1) never alert. Optional;
	// default 10.
	MinCount int
	// History is how long a quiet key keeps its baseline; after that it is
	// forgotten and starts its warm-up again. Optional; default
	// 60×Interval; at least Interval, at most 100,000×Interval.
	History time.Duration
}

// The Spike defaults.
const (
	DefaultSpikeInterval   = time.Minute
	DefaultSpikeAlpha      = 0.1
	DefaultSpikeWarmup     = 10
	DefaultSpikeDeviations = 3
	DefaultSpikeMinCount   = 10
)

// Spike detects a key whose event rate jumps far above its own history: a
// user who reads 500 files in a minute after weeks of 10.
//
// Per key, Spike counts events in the current interval and keeps a
// baseline of past intervals, quiet ones included: an exponentially
// weighted mean and variance (32 bytes with the counters; 72 a key with the
// table's map). Each event makes
// a detection when the key is past its warm-up, the current count is at
// least MinCount, and it is at least mean + Deviations × σ. σ is the
// baseline's standard deviation, but at least √mean (the noise of a Poisson
// count) and at least 1, so a perfectly regular key does not alert on one
// extra event. Detection.Value is the current count, Threshold that level,
// and Until the end of the interval. An interval's count joins the baseline
// when it ends, spikes included. Events for an interval that has ended are
// ignored.
//
// Late events: an event of its key's current interval counts; one of an
// interval already closed into the baseline is ignored (the baseline is
// not rewritten).
//
// A Spike is not safe for concurrent use; an Engine owns it.
type Spike struct {
	cfg      SpikeConfig
	interval int64
	maxGap   int64
	keys     *Table[spikeState]
}

type spikeState struct {
	cur   int64  // the current interval's index
	count uint32 // events in it so far
	n     uint32 // intervals in the baseline
	mean  float64
	vari  float64
}

// NewSpike returns a Spike detector for cfg.
func NewSpike(cfg SpikeConfig) (*Spike, error) {
	if cfg.Interval == 0 {
		cfg.Interval = DefaultSpikeInterval
	}
	if cfg.Alpha == 0 {
		cfg.Alpha = DefaultSpikeAlpha
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = DefaultSpikeWarmup
	}
	if cfg.Warmup < 0 {
		cfg.Warmup = 0
	}
	if cfg.Deviations == 0 {
		cfg.Deviations = DefaultSpikeDeviations
	}
	if cfg.MinCount == 0 {
		cfg.MinCount = DefaultSpikeMinCount
	}
	if cfg.History == 0 {
		cfg.History = 60 * cfg.Interval
	}
	switch {
	case cfg.Interval < 0:
		return nil, fmt.Errorf("invalid config: Interval must be positive, got %v", cfg.Interval)
	case !(cfg.Alpha > 0 && cfg.Alpha <= 1):
		return nil, fmt.Errorf("invalid config: Alpha must be in (0, 1], got %v", cfg.Alpha)
	case !(cfg.Deviations > 0) || math.IsInf(cfg.Deviations, 0):
		return nil, fmt.Errorf("invalid config: Deviations must be positive, got %v", cfg.Deviations)
	case cfg.MinCount < 1:
		return nil, fmt.Errorf("invalid config: MinCount must be at least 1, got %d", cfg.MinCount)
	case cfg.History < cfg.Interval || cfg.History/cfg.Interval > 100_000:
		return nil, fmt.Errorf("invalid config: History must be between Interval and 100000×Interval, got %v", cfg.History)
	}
	return &Spike{
		cfg:      cfg,
		interval: int64(cfg.Interval),
		maxGap:   2*int64(cfg.History/cfg.Interval) + 2,
		keys:     NewTable[spikeState](cfg.History),
	}, nil
}

// Observe counts ev for key and compares the count with key's baseline.
func (s *Spike) Observe(ev rdr.Event, key string, report func(Detection)) {
	s.keys.Advance(ev.Time)
	idx := floorDiv(ev.Time.UnixNano(), s.interval)
	st := s.keys.Get(key)
	if st == nil {
		st = s.keys.Put(key)
		st.cur = idx
	}
	switch {
	case idx > st.cur:
		s.close(st, idx)
	case idx < st.cur:
		return // that interval is already in the baseline
	}
	if st.count < math.MaxUint32 {
		st.count++
	}
	if int(st.n) < s.cfg.Warmup || int64(st.count) < int64(s.cfg.MinCount) {
		return
	}
	sigma := math.Sqrt(max(st.vari, st.mean, 1))
	level := st.mean + s.cfg.Deviations*sigma
	if float64(st.count) < level {
		return
	}
	report(Detection{
		Key:       key,
		Time:      ev.Time,
		Until:     time.Unix(0, (idx+1)*s.interval).UTC(),
		Value:     float64(st.count),
		Threshold: level,
		Event:     ev,
	})
}

// close folds the current interval, and the empty ones after it, into the
// baseline and starts interval idx.
func (s *Spike) close(st *spikeState, idx int64) {
	s.update(st, float64(st.count))
	gap := idx - st.cur - 1
	if gap < 0 || gap > s.maxGap {
		gap = s.maxGap
	}
	for range gap {
		s.update(st, 0)
	}
	st.cur, st.count = idx, 0
}

func (s *Spike) update(st *spikeState, x float64) {
	if st.n < math.MaxUint32 {
		st.n++
	}
	if st.n == 1 {
		st.mean, st.vari = x, 0
		return
	}
	a := s.cfg.Alpha
	diff := x - st.mean
	incr := a * diff
	st.mean += incr
	st.vari = (1 - a) * (st.vari + diff*incr)
}

// Advance forgets keys that have been quiet for History.
func (s *Spike) Advance(now time.Time, _ func(Detection)) { s.keys.Advance(now) }

// Len returns the number of keys with state.
func (s *Spike) Len() int { return s.keys.Len() }

// Describe says "N events in INTERVAL, threshold T".
func (s *Spike) Describe(d Detection) string {
	return formatNumber(d.Value) + " events in " + formatDuration(s.cfg.Interval) + " (baseline threshold " + formatNumber(d.Threshold) + ")"
}

func (s *Spike) stateKind() string {
	return "spike interval=" + s.cfg.Interval.String() + " history=" + s.cfg.History.String()
}

// AppendState appends the detector's state to b ([Snapshotter]): per key,
// its hash, the current interval and its count, and the baseline.
func (s *Spike) AppendState(b []byte) ([]byte, error) {
	b = appendStateHeader(b, s.stateKind())
	ref := s.refInterval()
	return s.keys.AppendState(b, func(b []byte, st *spikeState) []byte {
		b = appendDelta(b, st.cur, ref)
		b = binary.AppendUvarint(b, uint64(st.count))
		b = binary.AppendUvarint(b, uint64(st.n))
		b = appendFloat(b, st.mean)
		return appendFloat(b, st.vari)
	}), nil
}

// RestoreState replaces the detector's state with one that AppendState
// wrote, in a Spike with the same interval and history ([Snapshotter]).
func (s *Spike) RestoreState(data []byte) error {
	r := newStateReader(data)
	r.header(s.stateKind())
	s.keys.restore(&r, func(r *stateReader, st *spikeState) {
		st.cur = r.delta("interval", s.refInterval())
		st.count = uint32(r.UintMax("count", math.MaxUint32))
		st.n = uint32(r.UintMax("baseline intervals", math.MaxUint32))
		at := r.Off
		st.mean, st.vari = r.float64("mean"), r.float64("variance")
		switch {
		case r.Err != nil:
		case !(st.mean >= 0) || math.IsInf(st.mean, 0) || !(st.vari >= 0) || math.IsInf(st.vari, 0):
			r.Fail(at, "baseline mean %v and variance %v must be finite and not negative", st.mean, st.vari)
		case st.n == 0 && (st.mean != 0 || st.vari != 0):
			r.Fail(at, "a baseline of no intervals with mean %v and variance %v", st.mean, st.vari)
		}
	})
	return r.finish(func() { s.keys = NewTable[spikeState](s.cfg.History) })
}

// refInterval is about the current interval, to save intervals relative to.
func (s *Spike) refInterval() int64 {
	return int64(uint64(s.keys.gen) * uint64(s.cfg.History/s.cfg.Interval))
}

package anomaly

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/rdr-go/rdr"
)

// RiskConfig configures a [Risk] detector.
type RiskConfig struct {
	// Threshold is the risk at which an entity makes a detection.
	// Required; positive.
	Threshold float64
	// HalfLife is how fast risk fades: an entity's risk halves every
	// HalfLife without new risk. Optional; default 1h.
	HalfLife time.Duration
	// Points is the risk each event the rule passes adds to its key.
	// Optional; default 0: the risk comes only from other rules' alerts.
	Points float64
}

// DefaultRiskHalfLife is RiskConfig.HalfLife's default.
const DefaultRiskHalfLife = time.Hour

// Risk sums risk per entity (a user, an IP): each alert of another rule
// adds that rule's risk points ([Rule.Risk]) to the entity named by the
// risk rule's group-by field in the alert's event, and each event the risk
// rule passes adds Points. Risk fades exponentially with HalfLife. When an
// entity's risk reaches Threshold it is a detection: many small signals
// about one user add up to one alert.
//
// Detection.Value is the entity's risk, Threshold the threshold, and Until
// the moment the risk will have faded below it. Per key, Risk keeps the
// score and its time (16 bytes); a key is forgotten 8 to 16 half-lives after
// its last risk, when at most 1/256 of it is left.
//
// Late risk: points added at a time before the key's latest are faded to
// that time (so they count as they would have); points so old that they
// have faded below 1/256 are ignored.
//
// Risk is a [RiskAccumulator]. It is not safe for concurrent use; an Engine
// owns it.
type Risk struct {
	cfg    RiskConfig
	hl     float64
	keys   *Table[riskState]
	latest int64 // the latest time risk was added at (ns)
}

type riskState struct {
	score float64
	at    int64
}

// NewRisk returns a Risk detector for cfg.
func NewRisk(cfg RiskConfig) (*Risk, error) {
	if cfg.HalfLife == 0 {
		cfg.HalfLife = DefaultRiskHalfLife
	}
	switch {
	case !(cfg.Threshold > 0) || math.IsInf(cfg.Threshold, 0):
		return nil, fmt.Errorf("invalid config: Threshold must be positive, got %v", cfg.Threshold)
	case cfg.HalfLife < 0:
		return nil, fmt.Errorf("invalid config: HalfLife must be positive, got %v", cfg.HalfLife)
	case !(cfg.Points >= 0) || math.IsInf(cfg.Points, 0):
		return nil, fmt.Errorf("invalid config: Points must not be negative, got %v", cfg.Points)
	}
	return &Risk{cfg: cfg, hl: float64(cfg.HalfLife), keys: NewTable[riskState](8 * cfg.HalfLife)}, nil
}

// Observe adds Points to key's risk, if Points is set.
func (r *Risk) Observe(ev rdr.Event, key string, report func(Detection)) {
	if r.cfg.Points > 0 {
		r.AddRisk(key, r.cfg.Points, ev.Time, ev, report)
	}
}

// AddRisk adds points to key's risk at time at, and reports a detection if
// the risk reaches the threshold. Points added more than 8 half-lives
// before the latest addition are ignored: they have faded below 1/256.
func (r *Risk) AddRisk(key string, points float64, at time.Time, ev rdr.Event, report func(Detection)) {
	if !(points > 0) || math.IsInf(points, 0) {
		return
	}
	r.keys.Advance(at)
	t := at.UnixNano()
	r.latest = max(r.latest, t)
	if t < r.latest-int64(r.keys.ttl) {
		return // so old it has faded to nothing
	}
	st := r.keys.Get(key)
	if st == nil {
		st = r.keys.Put(key)
		st.at = t
	}
	if t >= st.at {
		st.score = st.score*math.Exp2(-float64(t-st.at)/r.hl) + points
		st.at = t
	} else {
		st.score += points * math.Exp2(-float64(st.at-t)/r.hl) // late: fade it to the state's time
	}
	if st.score < r.cfg.Threshold {
		return
	}
	until := st.at + int64(r.hl*math.Log2(st.score/r.cfg.Threshold))
	report(Detection{
		Key:       key,
		Time:      time.Unix(0, st.at).UTC(),
		Until:     time.Unix(0, until).UTC(),
		Value:     st.score,
		Threshold: r.cfg.Threshold,
		Event:     ev,
	})
}

// Advance forgets keys whose risk has faded.
func (r *Risk) Advance(now time.Time, _ func(Detection)) { r.keys.Advance(now) }

// Len returns the number of keys with risk.
func (r *Risk) Len() int { return r.keys.Len() }

// Describe says "risk R (threshold T)".
func (r *Risk) Describe(d Detection) string {
	return "risk " + formatNumber(d.Value) + " (threshold " + formatNumber(d.Threshold) + ", half-life " + formatDuration(r.cfg.HalfLife) + ")"
}

func (r *Risk) stateKind() string { return "risk half-life=" + r.cfg.HalfLife.String() }

// AppendState appends the detector's state to b ([Snapshotter]): the time
// of the latest risk, then per key, its hash, its risk and that risk's
// time.
func (r *Risk) AppendState(b []byte) ([]byte, error) {
	b = appendStateHeader(b, r.stateKind())
	b = binary.AppendVarint(b, r.latest)
	return r.keys.AppendState(b, func(b []byte, st *riskState) []byte {
		b = appendFloat(b, st.score)
		return appendAge(b, st.at, r.latest)
	}), nil
}

// RestoreState replaces the detector's state with one that AppendState
// wrote, in a Risk with the same half-life ([Snapshotter]).
func (r *Risk) RestoreState(data []byte) error {
	sr := newStateReader(data)
	sr.header(r.stateKind())
	latest := sr.Varint("latest time")
	r.keys.restore(&sr, func(sr *stateReader, st *riskState) {
		at := sr.Off
		st.score = sr.float64("risk")
		st.at = sr.age("risk time", latest)
		if sr.Err == nil && (!(st.score > 0) || math.IsInf(st.score, 0)) {
			sr.Fail(at, "risk %v must be finite and positive", st.score)
		}
	})
	r.latest = latest
	return sr.finish(func() { r.latest, r.keys = 0, NewTable[riskState](8*r.cfg.HalfLife) })
}

package anomaly

import (
	"fmt"
	"time"

	"github.com/rdr-go/rdr"
)

// SeverityConfig configures a [SeverityFloor] detector.
type SeverityConfig struct {
	// Min is the floor: every event at or above it is a detection.
	// Required.
	Min rdr.Severity
}

// SeverityFloor makes every event at or above a severity a detection, at
// once: a critical event always reaches someone. The alert still
// deduplicates per key: a user's burst of critical events is one alert whose
// Count grows. Detection.Value is the event's severity (1 low … 4 critical)
// and Threshold the floor's.
//
// SeverityFloor keeps no state. It is safe for concurrent use.
type SeverityFloor struct {
	min rdr.Severity
}

// NewSeverityFloor returns a SeverityFloor detector for cfg.
func NewSeverityFloor(cfg SeverityConfig) (*SeverityFloor, error) {
	if !cfg.Min.Valid() {
		return nil, fmt.Errorf("invalid config: Min must be a severity (low, medium, high or critical), got %d", uint8(cfg.Min))
	}
	return &SeverityFloor{min: cfg.Min}, nil
}

// Observe reports ev if its severity is at or above the floor.
func (s *SeverityFloor) Observe(ev rdr.Event, key string, report func(Detection)) {
	if !ev.Severity.Valid() || ev.Severity < s.min {
		return
	}
	report(Detection{
		Key:       key,
		Time:      ev.Time,
		Value:     float64(ev.Severity),
		Threshold: float64(s.min),
		Event:     ev,
	})
}

// Advance does nothing: SeverityFloor keeps no state.
func (s *SeverityFloor) Advance(time.Time, func(Detection)) {}

// Len returns 0.
func (s *SeverityFloor) Len() int { return 0 }

// Describe says "SEVERITY event TYPE (floor MIN)".
func (s *SeverityFloor) Describe(d Detection) string {
	return rdr.Severity(d.Value).String() + " event " + d.Event.Type + " (floor " + s.min.String() + ")"
}

func (s *SeverityFloor) stateKind() string { return "severity" }

// AppendState appends the detector's state, which is only its kind, to b
// ([Snapshotter]).
func (s *SeverityFloor) AppendState(b []byte) ([]byte, error) {
	return appendStateHeader(b, s.stateKind()), nil
}

// RestoreState checks that data is what AppendState wrote ([Snapshotter]):
// SeverityFloor keeps no state.
func (s *SeverityFloor) RestoreState(data []byte) error {
	r := newStateReader(data)
	r.header(s.stateKind())
	return r.finish(func() {})
}

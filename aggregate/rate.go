package aggregate

import (
	"fmt"
	"time"
)

// Rate counts events over a span of time [start, end) and reports events
// per second. The span is usually a window: [NewRate] with the window's
// bounds, or [Rate.SetSpan] when the window is known later.
//
// Merge serves both ways partial rates combine: partials of the same window
// from several processors (counts add, the span stays) and consecutive
// windows (counts add, the spans join). The merged span is the smallest span
// covering both, so a gap between two windows counts as time with no events.
//
// The zero value has no span and a rate of 0. A Rate is not safe for
// concurrent use; the goroutine that adds to it owns it.
type Rate struct {
	events     Count
	start, end time.Time
}

// NewRate returns an empty Rate over [start, end), or an error wrapping
// ErrInvalidConfig when end is not after start.
func NewRate(start, end time.Time) (*Rate, error) {
	r := new(Rate)
	if err := r.SetSpan(start, end); err != nil {
		return nil, err
	}
	return r, nil
}

// SetSpan sets the span the events are spread over. It returns an error
// wrapping ErrInvalidConfig, and changes nothing, when end is not after
// start.
func (r *Rate) SetSpan(start, end time.Time) error {
	if !end.After(start) {
		return fmt.Errorf("%w: rate span end %s is not after start %s", ErrInvalidConfig,
			end.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))
	}
	r.start, r.end = start, end
	return nil
}

// Span returns the span; both are zero when none is set.
func (r *Rate) Span() (start, end time.Time) { return r.start, r.end }

// Inc counts one event.
func (r *Rate) Inc() { r.events.n++ }

// Add counts n events.
func (r *Rate) Add(n uint64) { r.events.n += n }

// Count returns the number of events counted.
func (r *Rate) Count() uint64 { return r.events.n }

// PerSecond returns the events per second over the span: Count divided by
// the span's length in seconds, or 0 when no span is set.
func (r *Rate) PerSecond() float64 {
	d := r.end.Sub(r.start)
	if d <= 0 {
		return 0
	}
	return float64(r.events.n) / d.Seconds()
}

// Merge adds other's events to r and widens r's span to cover other's.
func (r *Rate) Merge(other *Rate) {
	if other == nil {
		return
	}
	r.events.n += other.events.n
	if other.end.Sub(other.start) <= 0 {
		return
	}
	if r.end.Sub(r.start) <= 0 {
		r.start, r.end = other.start, other.end
		return
	}
	if other.start.Before(r.start) {
		r.start = other.start
	}
	if other.end.After(r.end) {
		r.end = other.end
	}
}

// Reset zeroes the count and clears the span.
func (r *Rate) Reset() { *r = Rate{} }

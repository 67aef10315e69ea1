package anomaly

import (
	"time"

	"github.com/rdr-go/rdr"
)

// Detector watches events for one condition, per key, and reports a
// [Detection] every time an event meets it. It does not decide whether
// that makes a new alert: the [Engine] does (one firing alert per rule and
// key, resolve after quiet, cooldown), so a detector keeps only the state
// its condition needs.
//
// The Engine that owns a detector calls it from one goroutine at a time and
// never concurrently, so implementations need no locking; a Detector must
// not be shared between engines. Each built-in detector documents the same.
//
// A detector must keep its state bounded: state for a key that has been
// quiet for the detector's window (or history) must go, on Observe or at
// the latest on Advance. [Table] does that for you.
type Detector interface {
	// Observe looks at one event that passed the rule's filter and has
	// every field the rule needs. key is the value of the rule's group-by
	// field; it may share memory that is reused once Observe returns, so
	// clone it (strings.Clone) before keeping it. Observe calls report,
	// synchronously, for each detection it makes (usually zero or one).
	// Events arrive roughly in event-time order; a detector must accept
	// late ones without failing, at any lateness (the processor hands it
	// events that were too late for their windows too), and its doc says
	// what it does with one older than the state it holds.
	Observe(ev rdr.Event, key string, report func(Detection))
	// Advance tells the detector that event time has reached now. It drops
	// state that has expired, and reports detections that the passing of
	// time makes (a sequence that did not complete in time). now never goes
	// backwards.
	Advance(now time.Time, report func(Detection))
	// Len returns the number of keys the detector holds state for.
	Len() int
}

// Detection is one report of a detector's condition being met for a key.
type Detection struct {
	// Key is the group-by value; the key passed to Observe will do (the
	// Engine copies it before keeping it).
	Key string
	// Time is the event time at which the condition was met: usually the
	// event's time.
	Time time.Time
	// Until is the event time until which the condition keeps holding if
	// no new event comes (a count stays at or above its threshold until the
	// oldest counted events leave the window). Zero means Time. The alert
	// resolves once event time passes Until plus the rule's resolve delay.
	Until time.Time
	// Value is what the detector observed; Threshold the level it crossed.
	Value, Threshold float64
	// Event is the event that met the condition, or the one that started
	// it for detections made by Advance. It may be the zero Event.
	Event rdr.Event
}

// Describer is an optional interface for a [Detector]: Describe says in
// words what a detection means ("7 events in 1m (threshold 5)"). The Engine
// puts it in [Alert.Message], after the rule name and before the key.
// Without it the message says "value V, threshold T".
type Describer interface {
	Describe(d Detection) string
}

// FieldReader is an optional interface for a [Detector] that reads event
// fields besides the rule's group-by field. The Engine skips (and counts in
// [RuleStats.Skipped]) events that lack any of them, as it does events that
// lack the group-by field, so Observe can rely on them being present.
type FieldReader interface {
	Fields() []Field
}

// RiskAccumulator is an optional interface for a [Detector] that sums risk:
// when an alert of another rule fires, the Engine calls AddRisk on every
// accumulator, with the rule's risk points, the firing detection's time and
// event, and key set to the accumulator rule's group-by value in that event
// (alerts whose event lacks it are not added). Alerts of accumulator rules
// add no risk themselves. [Risk] is the built-in accumulator.
type RiskAccumulator interface {
	Detector
	AddRisk(key string, points float64, at time.Time, ev rdr.Event, report func(Detection))
}

// Snapshotter is an optional interface for a [Detector] whose state can be
// saved and restored, so that an [Engine] can be checkpointed and restored
// after a crash, a restart or a rebalance ([Engine.AppendState]). Every
// built-in detector implements it.
//
// Both methods are called as Observe is: by the detector's owner, never
// concurrently with Observe, Advance or each other. AppendState must not
// change the state, and RestoreState must not retain data.
//
// A detector restored from the state another one saved must then behave
// exactly as that one would have: the same input gives the same detections.
// For input that is not such state — truncated, altered, of an unknown
// version, or written by a detector of another kind or config —
// RestoreState returns an error wrapping [ErrInvalidState] and leaves the
// detector empty and usable. It never panics, whatever data holds.
type Snapshotter interface {
	// AppendState appends the detector's state, in a versioned binary
	// format, to b and returns the extended buffer. An error means the
	// state cannot be saved (an event the format cannot hold); b is then
	// returned as it was.
	AppendState(b []byte) ([]byte, error)
	// RestoreState replaces the detector's state with one that AppendState
	// wrote (by a detector of the same kind and config).
	RestoreState(data []byte) error
}

// Event time is handled as nanoseconds since the Unix epoch. The Engine only
// passes times within [minTime, maxTime], where that count is well defined.
var (
	minTime = time.Unix(0, 0)
	maxTime = time.Unix(1<<33, 0) // the year 2242
)

func validTime(t time.Time) bool { return !t.Before(minTime) && !t.After(maxTime) }

// floorDiv divides rounding towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

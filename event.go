package rdr

import (
	"net/netip"
	"time"
)

// Event is one security event. The zero value is not a valid event: a
// decoded Event always has a Time, a Type, a UserID and a valid Severity.
//
// Events are values; copying one is cheap. The strings of a decoded event
// share one allocation, so code that keeps a single field for a long time
// (a map key in a long-lived aggregator, say) should strings.Clone it.
type Event struct {
	// Time is when the event happened (event time, not arrival time).
	Time time.Time
	// Type is what happened, e.g. "login_failed". Never empty.
	Type string
	// UserID is who did it. Never empty.
	UserID string
	// IP is where it came from. The zero Addr means the event had none.
	IP netip.Addr
	// Severity is how serious the event is.
	Severity Severity
	// Metadata is the event's optional extra attributes: a compact JSON
	// object, or "" when the event had none.
	Metadata Metadata
}

// Package rdr holds the security event at the heart of rdr, the codec that turns
// wire bytes into events and back, the [Clock] that every time-dependent
// component takes, and the errors shared by the packages below it.
//
// rdr ("real-time data reports") is a library for real-time security-event
// analytics: events stream in from Kafka (or any Watermill Pub/Sub), are
// grouped into event-time windows (package window), aggregated with mergeable
// aggregators (package aggregate), checked by detectors (package anomaly), and
// written to sinks (package sink) and live WebSocket clients (package
// broadcast). Package pipeline wires them together on a Watermill router.
//
// # Events
//
// An [Event] is one security event: when it happened, what happened, who did
// it, from where, and how severe it is. On the wire it is a JSON object:
//
//	{"timestamp":"2026-11-26T10:00:00.123Z","eventType":"login_failed","userId":"u-1842",
//	 "ipAddress":"203.0.113.7","severity":"high","metadata":{"app":"vpn","country":"DE"}}
//
// Use a [Decoder] to turn bytes into events. It accepts one event, a JSON array
// of events, or NDJSON (one event per line). A bad event never passes silently:
// it gets an [*InvalidEventError] that names the field and the reason, and
// matches [ErrInvalidEvent] with errors.Is. In a batch the good events still
// come through, and each bad one is reported with its position.
//
// Use [AppendJSON] (or [Event.MarshalJSON]) to write an event back out in the
// same format.
//
// Any valid JSON spelling is accepted, but the compact one that AppendJSON
// writes — no spaces, no escapes, the known fields, metadata a flat object of
// strings, an IPv4 address — takes a fast path more than twice as fast as the
// general one. Producers that care about throughput should write that.
//
// # Time
//
// Components never call time.Now themselves; they take a [Clock]. Use
// [SystemClock] in production and a [*FakeClock] in tests.
package rdr

package aggregate

import "time"

// KeyCount is one entry of a top list: a key (event type, user ID, IP in
// its canonical text form) and its count. In JSON: {"key":"u-1842","count":12}.
type KeyCount struct {
	Key   string `json:"key"`
	Count uint64 `json:"count"`
}

// Metrics is the snapshot of a window or a range of windows: what the
// seed's getMetrics(timeRange) returns and what the dashboard shows. It is
// a plain value; the Set or Series it came from keeps no reference to it.
//
// In JSON (field order as below; From and To are left out when zero, top
// lists are never null):
//
//	{
//	  "from": "2026-11-26T10:00:00Z",
//	  "to": "2026-11-26T10:01:00Z",
//	  "totalEvents": 1200,
//	  "eventsPerSecond": 20,
//	  "activeUsers": 310,
//	  "topEventTypes": [{"key":"login_failed","count":700},{"key":"login","count":500}],
//	  "bySeverity": {"low":600,"medium":400,"high":150,"critical":50},
//	  "topUsers": [{"key":"u-1842","count":40}],
//	  "topIPs": [{"key":"203.0.113.7","count":90}],
//	  "byType": {"login":500,"login_failed":700}
//	}
//
// Top lists are ordered by count descending, then key ascending (user IDs
// and event types in byte order, IPs in address order: IPv4 before IPv6,
// then numerically). bySeverity always has the four severities, in severity
// order, and "unknown" only when an event had an invalid severity.
type Metrics struct {
	// From and To are the span the metrics cover, [From, To). Zero when
	// the Set had no span.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// TotalEvents is the number of events, exact.
	TotalEvents uint64 `json:"totalEvents"`
	// EventsPerSecond is TotalEvents divided by the span's length in
	// seconds (0 without a span).
	EventsPerSecond float64 `json:"eventsPerSecond"`
	// ActiveUsers is the number of distinct users: exact up to the
	// distinct threshold, a HyperLogLog estimate (standard error 0.81%)
	// beyond.
	ActiveUsers uint64 `json:"activeUsers"`
	// TopEventTypes is the TopN event types with exact counts.
	TopEventTypes []KeyCount `json:"topEventTypes"`
	// BySeverity is the exact count per severity.
	BySeverity BySeverity `json:"bySeverity"`
	// TopUsers is the TopN most active users, TopIPs the TopN source IPs.
	// Their counts are exact for a Set and for a Series range, except over
	// compacted windows (SeriesConfig.CompactClosed), where they are
	// Space-Saving estimates that overestimate by at most
	// TotalEvents/TopKCapacity. Either way, no key whose count exceeds
	// TotalEvents/TopKCapacity is missed (see TopK).
	TopUsers []KeyCount `json:"topUsers"`
	TopIPs   []KeyCount `json:"topIPs"`
	// ByType is the exact count of every event type.
	ByType map[string]uint64 `json:"byType"`
}

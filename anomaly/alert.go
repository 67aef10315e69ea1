package anomaly

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/rdr-go/rdr"
)

// Status is where an [Alert] is in its life: firing, then resolved.
type Status uint8

// The statuses. The zero Status is not valid.
const (
	StatusFiring Status = iota + 1
	StatusResolved
)

// String returns "firing" or "resolved".
func (s Status) String() string {
	switch s {
	case StatusFiring:
		return "firing"
	case StatusResolved:
		return "resolved"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the lower-case name.
func (s Status) MarshalText() ([]byte, error) {
	if s != StatusFiring && s != StatusResolved {
		return nil, fmt.Errorf("anomaly: cannot marshal invalid status %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText parses "firing" or "resolved".
func (s *Status) UnmarshalText(b []byte) error {
	switch string(b) {
	case "firing":
		*s = StatusFiring
	case "resolved":
		*s = StatusResolved
	default:
		return fmt.Errorf("anomaly: unknown alert status %q (want firing or resolved)", b)
	}
	return nil
}

// Alert is what a rule raises for one key (one user, one IP, …). There is at
// most one firing alert per rule and key: later detections update it
// instead of raising another. An alert is emitted when it fires, optionally
// while it fires (see [Lifecycle.UpdateEvery]), and once more when it
// resolves, always with the same ID, so consumers can open and close one
// incident.
//
// Alert marshals to JSON with camelCase names:
//
//	{"id":"5f0e…","rule":"failed-login-burst","groupBy":"userId","key":"alice",
//	 "severity":"medium","riskScore":15,"status":"firing",
//	 "firstSeen":"…","lastSeen":"…","count":1,"value":5,"threshold":5,
//	 "message":"…","events":[{…wire event…}]}
//
// resolvedAt is present only on resolved alerts. Times are event times, in UTC.
type Alert struct {
	// ID is stable: a hash of Rule, Key and FirstSeen, so the same input
	// gives the same IDs, run after run.
	ID string `json:"id"`
	// Rule is the name of the rule that raised the alert.
	Rule string `json:"rule"`
	// GroupBy is the field the rule groups by ("userId", "ipAddress", …).
	GroupBy string `json:"groupBy"`
	// Key is the value of GroupBy the alert is about.
	Key string `json:"key"`
	// Severity is the rule's severity.
	Severity rdr.Severity `json:"severity"`
	// RiskScore is the risk the alert adds to its entity (the rule's risk
	// points); for a risk rule, the entity's accumulated risk.
	RiskScore float64 `json:"riskScore"`
	// Status is firing or resolved.
	Status Status `json:"status"`
	// FirstSeen is the event time of the first detection.
	FirstSeen time.Time `json:"firstSeen"`
	// LastSeen is the event time of the latest detection.
	LastSeen time.Time `json:"lastSeen"`
	// ResolvedAt is the event time at which the alert resolved: the
	// condition's end plus the rule's resolve delay. Zero while firing.
	ResolvedAt time.Time `json:"resolvedAt,omitzero"`
	// Count is the number of detections the alert has gathered: 1 when it
	// fires, one more for every later event that meets the condition.
	Count int64 `json:"count"`
	// Value is what the detector observed at the latest detection (an event
	// count, a number of distinct values, a rate, a risk score); each
	// detector documents its meaning.
	Value float64 `json:"value"`
	// Threshold is the level Value crossed (for a spike, the baseline mean
	// plus the allowed deviations).
	Threshold float64 `json:"threshold"`
	// Message describes the alert for people.
	Message string `json:"message"`
	// Events holds up to [Lifecycle.MaxEvents] contributing events: the ones
	// that met the condition, oldest first.
	Events []rdr.Event `json:"events"`
	// Tags are the rule's tags ([Rule.Tags]): for Sigma rules their ATT&CK
	// tags, such as "attack.credential-access" and "attack.t1110". The
	// slice is the rule's: read it, do not change it.
	Tags []string `json:"tags,omitempty"`
	// SilencedBy is the ID of the silence that matched the alert when it
	// was emitted, "" for none. The Engine never sets it: whoever applies
	// silences does (see [Silences]). A silenced alert is detected and
	// stored as any other, and not announced as new.
	SilencedBy string `json:"silencedBy,omitempty"`
}

// MarshalJSON writes the alert as documented on [Alert]; events are written
// in rdr's wire format, and a nil Events as []. It is [Alert.AppendJSON].
func (a Alert) MarshalJSON() ([]byte, error) {
	return a.AppendJSON(make([]byte, 0, 256+256*len(a.Events)))
}

// alertID is the stable ID of the alert that rule raised for key with its
// first detection at first: 16 hex digits of FNV-1a.
func alertID(rule, key string, first time.Time) string {
	h := fnv.New64a()
	h.Write([]byte(rule))
	h.Write([]byte{0})
	h.Write([]byte(key))
	h.Write([]byte{0})
	var b [8]byte
	n := first.UnixNano()
	for i := range b {
		b[i] = byte(n >> (8 * i))
	}
	h.Write(b[:])
	return fmt.Sprintf("%016x", h.Sum64())
}

// cloneEvent returns a copy of ev whose strings share one new allocation, so
// keeping it does not keep the (possibly large) buffer ev was decoded from.
// Metadata that is not a JSON object (only possible for events not made by
// rdr's decoder) is dropped, so that the alert can always be written out.
// The time is put in UTC (without a monotonic clock reading), as restored
// state gives it back.
func cloneEvent(ev rdr.Event) rdr.Event {
	ev.Time = ev.Time.UTC()
	if m := ev.Metadata; m != "" && (m[0] != '{' || !json.Valid([]byte(m))) {
		ev.Metadata = ""
	}
	n := len(ev.Type) + len(ev.UserID) + len(ev.Metadata)
	if n == 0 {
		return ev
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(ev.Type)
	b.WriteString(ev.UserID)
	b.WriteString(string(ev.Metadata))
	s := b.String()
	i := 0
	ev.Type, i = s[i:i+len(ev.Type)], i+len(ev.Type)
	ev.UserID, i = s[i:i+len(ev.UserID)], i+len(ev.UserID)
	ev.Metadata = rdr.Metadata(s[i:])
	return ev
}

// formatDuration writes d without the zero units time.Duration.String
// keeps: "1m" rather than "1m0s", "2h30m" rather than "2h30m0s", whole days as "30d".
func formatDuration(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// formatNumber writes v without a fraction when it has none, and with at
// most two decimals otherwise.
func formatNumber(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

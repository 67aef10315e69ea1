package rdr

import "fmt"

// Severity ranks how serious an event or an alert is. Severities are ordered:
// SeverityLow < SeverityMedium < SeverityHigh < SeverityCritical, so they can be
// compared with < and >=. The zero value means "not set" and is not valid on an
// event.
type Severity uint8

// The severities, from least to most serious.
const (
	SeverityLow Severity = iota + 1
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

// NumSeverities is one more than the highest Severity, so a [NumSeverities]T
// array can be indexed by any valid Severity.
const NumSeverities = int(SeverityCritical) + 1

var severityNames = [NumSeverities]string{"", "low", "medium", "high", "critical"}

// String returns the lower-case wire name ("low", "medium", "high",
// "critical"), or "Severity(N)" for a value that is not a severity.
func (s Severity) String() string {
	if s.Valid() {
		return severityNames[s]
	}
	return fmt.Sprintf("Severity(%d)", uint8(s))
}

// Valid reports whether s is one of the four severities.
func (s Severity) Valid() bool { return s >= SeverityLow && s <= SeverityCritical }

// ParseSeverity parses a severity name, case-insensitively. It returns an
// error naming the accepted values for anything else.
func ParseSeverity(name string) (Severity, error) {
	if s, ok := parseSeverity(name); ok {
		return s, nil
	}
	return 0, fmt.Errorf("rdr: unknown severity %q (want low, medium, high or critical)", name)
}

// parseSeverity is the allocation-free core of ParseSeverity, generic so the
// decoder can call it on the bytes it is scanning.
// The four names differ in length, so the length picks the one candidate.
func parseSeverity[T string | []byte](name T) (Severity, bool) {
	var s Severity
	switch len(name) {
	case len("low"):
		s = SeverityLow
	case len("medium"):
		s = SeverityMedium
	case len("high"):
		s = SeverityHigh
	case len("critical"):
		s = SeverityCritical
	default:
		return 0, false
	}
	if !equalFoldASCII(name, severityNames[s]) {
		return 0, false
	}
	return s, true
}

func equalFoldASCII[T string | []byte](a T, lower string) bool {
	if len(a) != len(lower) {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// MarshalText writes the lower-case name. It fails for an invalid severity.
func (s Severity) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("rdr: cannot marshal invalid severity %d", uint8(s))
	}
	return []byte(severityNames[s]), nil
}

// UnmarshalText parses a name as ParseSeverity does.
func (s *Severity) UnmarshalText(text []byte) error {
	v, ok := parseSeverity(text)
	if !ok {
		return fmt.Errorf("rdr: unknown severity %q (want low, medium, high or critical)", text)
	}
	*s = v
	return nil
}

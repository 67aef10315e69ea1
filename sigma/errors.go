package sigma

import (
	"errors"
	"strconv"
	"strings"
)

// ErrUnsupported is wrapped by every error about a Sigma feature rdr does
// not run (a modifier, a condition, a correlation type or condition): the
// rule is refused, never loaded as something else.
var ErrUnsupported = errors.New("not supported")

// Error is one problem with a Sigma rule file or a field mapping: the
// file, the line, the rule (its name, else its title, else its ID), the
// feature or field, and why.
type Error struct {
	File    string
	Line    int
	Rule    string
	Feature string // the Sigma key or feature: "detection.selection", "modifier base64", "correlation.condition"
	Reason  string
	// Unsupported is set when the rule uses a feature rdr does not run;
	// errors.Is(err, ErrUnsupported) reports it.
	Unsupported bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if e.Rule != "" {
		b.WriteString(": rule " + strconv.Quote(e.Rule))
	}
	if e.Feature != "" {
		b.WriteString(": " + e.Feature)
	}
	b.WriteString(": " + e.Reason)
	return b.String()
}

// Is makes errors.Is(err, ErrUnsupported) true for unsupported features.
func (e *Error) Is(target error) bool { return target == ErrUnsupported && e.Unsupported }

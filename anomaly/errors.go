package anomaly

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalidRule is matched (with errors.Is) by every error about a rule: a
// rule file that does not parse, a field that is missing or wrong, a name
// used twice, or a [Rule] handed to [NewEngine] that cannot work. The
// concrete error is a [*RuleError].
var ErrInvalidRule = errors.New("anomaly: invalid rule")

// ErrInvalidRuleTest is matched by every error [ParseRuleTests] returns for
// a rule test file that cannot be run. The concrete error is a
// [*RuleTestError].
var ErrInvalidRuleTest = errors.New("anomaly: invalid rule test")

// ErrInvalidState is matched by every error [Engine.RestoreState] and the
// built-in detectors' RestoreState ([Snapshotter]) return for data that is
// not state they can restore: truncated, altered, of an unknown version, or
// saved by a detector of another kind or config. The message says what is
// wrong and where.
var ErrInvalidState = errors.New("anomaly: invalid state")

// RuleError says which rule is wrong, in which field, and why. File and
// Line locate it in a rule file when it came from one (Line is 0 when
// unknown); Rule is the rule's name, or "#N" (counting from 1) when the rule
// has no usable name; Field is the rule file's name for the field ("timespan",
// "filter.eventType", "condition.gte"), empty when the rule as a whole is
// wrong.
type RuleError struct {
	File   string
	Line   int
	Rule   string
	Field  string
	Reason string
}

func (e *RuleError) Error() string {
	var b strings.Builder
	writeLocation(&b, e.File, e.Line)
	if e.Rule != "" {
		b.WriteString("rule ")
		if strings.HasPrefix(e.Rule, "#") {
			b.WriteString(e.Rule)
		} else {
			b.WriteString(strconv.Quote(e.Rule))
		}
		b.WriteString(": ")
	}
	writeFieldReason(&b, e.Field, e.Reason)
	return b.String()
}

// writeLocation writes "file:line: ", "file: " or "line N: ", or nothing
// when neither is known.
func writeLocation(b *strings.Builder, file string, line int) {
	switch {
	case file != "" && line > 0:
		b.WriteString(file + ":" + strconv.Itoa(line) + ": ")
	case file != "":
		b.WriteString(file + ": ")
	case line > 0:
		b.WriteString("line " + strconv.Itoa(line) + ": ")
	}
}

// writeFieldReason writes "field: reason", or the reason alone.
func writeFieldReason(b *strings.Builder, field, reason string) {
	if field != "" {
		b.WriteString(field + ": ")
	}
	b.WriteString(reason)
}

// Unwrap returns ErrInvalidRule.
func (e *RuleError) Unwrap() error { return ErrInvalidRule }

// RuleTestError says what is wrong in a rule test file: the file, the line
// (0 when unknown), the test case ("" when the file as a whole is wrong),
// the field and the reason.
type RuleTestError struct {
	File   string
	Line   int
	Test   string
	Field  string
	Reason string
}

func (e *RuleTestError) Error() string {
	var b strings.Builder
	writeLocation(&b, e.File, e.Line)
	if e.Test != "" {
		b.WriteString("test " + strconv.Quote(e.Test) + ": ")
	}
	writeFieldReason(&b, e.Field, e.Reason)
	return b.String()
}

// Unwrap returns ErrInvalidRuleTest.
func (e *RuleTestError) Unwrap() error { return ErrInvalidRuleTest }

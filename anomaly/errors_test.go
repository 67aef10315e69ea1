package anomaly_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rdr-go/rdr/anomaly"
)

// Both error types say where the problem is the same way, whether the file,
// the line, both or neither are known.
func TestErrorLocations(t *testing.T) {
	for _, tc := range []struct {
		file string
		line int
		rule string
		test string
	}{
		{"r.yaml", 6, `r.yaml:6: rule "x": f: why`, `r.yaml:6: test "x": f: why`},
		{"r.yaml", 0, `r.yaml: rule "x": f: why`, `r.yaml: test "x": f: why`},
		{"", 6, `line 6: rule "x": f: why`, `line 6: test "x": f: why`},
		{"", 0, `rule "x": f: why`, `test "x": f: why`},
	} {
		assert.EqualError(t, &anomaly.RuleError{File: tc.file, Line: tc.line, Rule: "x", Field: "f", Reason: "why"}, tc.rule)
		assert.EqualError(t, &anomaly.RuleTestError{File: tc.file, Line: tc.line, Test: "x", Field: "f", Reason: "why"}, tc.test)
	}
	assert.EqualError(t, &anomaly.RuleError{Rule: "#2", Reason: "why"}, "rule #2: why")
	assert.EqualError(t, &anomaly.RuleTestError{Reason: "why"}, "why")
}

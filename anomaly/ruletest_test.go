package anomaly_test

import (
	"errors"
	"os"
	"testing"

	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newDefaultRules() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil }

// TestDefaultRuleTests runs rules/default_test.yaml on the default rules:
// the same as `go run ./cmd/rdr-rules test anomaly/rules/default.yaml
// anomaly/rules/default_test.yaml`.
func TestDefaultRuleTests(t *testing.T) {
	data, err := os.ReadFile("rules/default_test.yaml")
	require.NoError(t, err)
	tests, err := anomaly.ParseRuleTests("rules/default_test.yaml", data)
	require.NoError(t, err)
	results, err := tests.Run(newDefaultRules)
	require.NoError(t, err)
	require.Len(t, results, len(tests.Names()))
	require.GreaterOrEqual(t, len(results), 15)
	for _, r := range results {
		t.Run(r.Name, func(t *testing.T) {
			assert.True(t, r.Passed, "%s", r.Diff)
		})
	}
}

func TestRuleTestsShowADiff(t *testing.T) {
	file := `tests:
  - name: wrong expectations
    input:
      - {at: 0s, eventType: login_failed, userId: alice, repeat: 5}
      - {at: 1m, eventType: critical_thing, userId: bob, severity: critical}
      - advance: 10m
    alerts:
      - {rule: failed-login-burst, key: alice, status: firing, count: 1, value: 5}
      - {rule: failed-login-burst, key: alice, status: resolved, count: 2, resolvedAt: 6m}
      - {rule: brute-force-success, key: alice, status: firing}
`
	tests, err := anomaly.ParseRuleTests("t.yaml", []byte(file))
	require.NoError(t, err)
	results, err := tests.Run(newDefaultRules)
	require.NoError(t, err)
	require.Len(t, results, 1)
	r := results[0]
	assert.False(t, r.Passed)
	assert.Len(t, r.Got, 4)
	assert.Equal(t, `alerts differ: 3 expected, 4 emitted (- expected, not emitted; + emitted, not expected)
    rule=failed-login-burst key=alice status=firing count=1 value=5
  - rule=failed-login-burst key=alice status=resolved count=2 resolvedAt=6m
  - rule=brute-force-success key=alice status=firing
  + rule=critical-event key=bob status=firing count=1 value=4
  + rule=failed-login-burst key=alice status=resolved count=1 resolvedAt=6m
  + rule=critical-event key=bob status=resolved count=1 value=4 resolvedAt=6m
`, r.Diff)
}

func TestRuleTestsNumbersCompareToTheDecimalsWritten(t *testing.T) {
	file := `tests:
  - name: rounding
    input:
      - {at: 0s, eventType: x, userId: bob, severity: critical}
    alerts:
      - {rule: critical-event, key: bob, status: firing, value: 4.0, riskScore: 50.00}
`
	tests, err := anomaly.ParseRuleTests("t.yaml", []byte(file))
	require.NoError(t, err)
	results, err := tests.Run(newDefaultRules)
	require.NoError(t, err)
	assert.True(t, results[0].Passed, results[0].Diff)
}

func TestParseRuleTestsErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"empty", "", "t.yaml: tests: no test cases"},
		{"no name", "tests:\n  - input: []\n    alerts: []\n", "t.yaml:2: test \"#1\": name: is required"},
		{"no alerts", "tests:\n  - name: a\n    input:\n      - {at: 0s, eventType: x, userId: u}\n",
			`t.yaml:2: test "a": alerts: is required (use [] for none)`},
		{"event without time", "tests:\n  - name: a\n    input:\n      - {eventType: x, userId: u}\n    alerts: []\n",
			`t.yaml:4: test "a": input[1].at: is required`},
		{"bad time", "tests:\n  - name: a\n    input:\n      - {at: yesterday, eventType: x, userId: u}\n    alerts: []\n",
			`t.yaml:4: test "a": input[1].at: want an offset like 90s or an RFC 3339 time, got "yesterday"`},
		{"bad IP", "tests:\n  - name: a\n    input:\n      - {at: 0s, eventType: x, userId: u, ipAddress: 300.1.1.1}\n    alerts: []\n",
			`t.yaml:4: test "a": input[1].ipAddress: "300.1.1.1" is not an IP address`},
		{"advance with more", "tests:\n  - name: a\n    input:\n      - {advance: 1m, eventType: x}\n    alerts: []\n",
			`t.yaml:4: test "a": input[1].advance: an advance step takes no other fields`},
		{"unknown alert field", "tests:\n  - name: a\n    input: []\n    alerts:\n      - {rule: r, key: k, status: firing, colour: red}\n",
			`t.yaml:5: test "a": alerts[1].colour: unknown field (want rule, key, status, id, groupBy, severity, riskScore, count, value, threshold, firstSeen, lastSeen, resolvedAt, message, events)`},
		{"alert without status", "tests:\n  - name: a\n    input: []\n    alerts:\n      - {rule: r, key: k}\n",
			`t.yaml:5: test "a": alerts[1].status: is required`},
		{"bad status", "tests:\n  - name: a\n    input: []\n    alerts:\n      - {rule: r, key: k, status: open}\n",
			`t.yaml:5: test "a": alerts[1].status: want firing or resolved, got "open"`},
		{"duplicate names", "tests:\n  - {name: a, input: [], alerts: []}\n  - {name: a, input: [], alerts: []}\n",
			`t.yaml:3: test "a": name: used by more than one test`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := anomaly.ParseRuleTests("t.yaml", []byte(tt.yaml))
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
			assert.True(t, errors.Is(err, anomaly.ErrInvalidRuleTest))
		})
	}
}

func TestRunRuleTests(t *testing.T) {
	results, err := anomaly.RunRuleTests([]string{"rules/default.yaml"}, "rules/default_test.yaml")
	require.NoError(t, err)
	for _, r := range results {
		assert.True(t, r.Passed, "%s: %s", r.Name, r.Diff)
	}
	_, err = anomaly.RunRuleTests([]string{"rules/default.yaml"}, "rules/missing.yaml")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

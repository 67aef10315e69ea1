package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	defaultRules = "../../anomaly/rules/default.yaml"
	defaultTests = "../../anomaly/rules/default_test.yaml"
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestTestDefaultRules(t *testing.T) {
	code, out, stderr := runCmd("test", defaultRules, defaultTests)
	assert.Equal(t, 0, code, stderr)
	assert.Empty(t, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.GreaterOrEqual(t, len(lines), 16)
	for _, l := range lines[:len(lines)-1] {
		assert.True(t, strings.HasPrefix(l, "PASS  "), l)
	}
	assert.Equal(t, "15 passed, 0 failed", lines[len(lines)-1])
	assert.Contains(t, out, "PASS  the fifth failed login fires once, later ones update it, quiet resolves it (2 alerts)\n")
}

func TestTestFailureExitsNonZeroWithADiff(t *testing.T) {
	dir := t.TempDir()
	tests := filepath.Join(dir, "t.yaml")
	require.NoError(t, os.WriteFile(tests, []byte(`tests:
  - name: expects too much
    input:
      - {at: 0s, eventType: login_failed, userId: alice, repeat: 4}
    alerts:
      - {rule: failed-login-burst, key: alice, status: firing}
  - name: expects nothing
    input:
      - {at: 0s, eventType: login_failed, userId: alice, repeat: 4}
    alerts: []
`), 0o600))
	code, out, _ := runCmd("test", defaultRules, tests)
	assert.Equal(t, 1, code)
	assert.Equal(t, `FAIL  expects too much
      alerts differ: 1 expected, 0 emitted (- expected, not emitted; + emitted, not expected)
        - rule=failed-login-burst key=alice status=firing
PASS  expects nothing (0 alerts)
1 passed, 1 failed
`, out)

	code, out, _ = runCmd("test", "-run", "nothing", defaultRules, tests)
	assert.Equal(t, 0, code)
	assert.Equal(t, "PASS  expects nothing (0 alerts)\n1 passed, 0 failed\n", out)
}

func TestBadRuleFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "r.yaml")
	require.NoError(t, os.WriteFile(rules, []byte("rules:\n  - name: r1\n    type: count\n    timespan: 1m\n    severity: loud\n"), 0o600))
	code, out, stderr := runCmd("check", rules)
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Equal(t, "rdr-rules: "+rules+`:5: rule "r1": severity: unknown severity "loud" (want low, medium, high or critical)
rdr-rules: `+rules+`:2: rule "r1": condition: is required
`, stderr)
	code, _, stderr = runCmd("test", rules, defaultTests)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `rule "r1": severity`)
}

func TestCheck(t *testing.T) {
	code, out, _ := runCmd("check", defaultRules)
	assert.Equal(t, 0, code)
	assert.Equal(t, "OK: 9 rules in 1 file\n", out)
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"test", defaultRules}, {"check"}, {"test", "-run", "(", defaultRules, defaultTests}} {
		code, _, stderr := runCmd(args...)
		assert.Equal(t, 2, code, "%q", args)
		assert.NotEmpty(t, stderr)
	}
	code, _, stderr := runCmd("test", defaultRules, "missing.yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "missing.yaml")
}

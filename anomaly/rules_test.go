package anomaly_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRulesErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"YAML syntax", "rules:\n  - name: [x\n    type: count\n",
			"r.yaml:3: YAML: ',' or ']' must be specified"},
		{"not a mapping", "- a\n", "r.yaml:1: want a mapping with a rules list, got a list"},
		{"unknown top-level field", "rulez: []\n", "r.yaml:1: rulez: unknown top-level field (want rules)"},
		{"missing name and type", "rules:\n  - severity: low\n",
			"r.yaml:2: rule #1: name: is required\nr.yaml:2: rule #1: type: is required"},
		{"bad name", "rules:\n  - name: no spaces please\n    type: severity\n    severity: low\n    condition: {gte: high}\n",
			`r.yaml:2: rule #1: name: "no spaces please": use letters, digits, '_', '-' and '.' only`},
		{"unknown type", "rules:\n  - name: r1\n    type: counter\n    severity: low\n",
			"r.yaml:3: rule \"r1\": type: unknown type \"counter\" (want count, distinct, sequence, absence, first-seen, spike, severity, risk)"},
		{"field of another type", "rules:\n  - name: r1\n    type: count\n    timespan: 1m\n    condition: {gte: 5}\n    history: 30d\n    severity: low\n",
			"r.yaml:6: rule \"r1\": history: unknown field for type count (want timespan, condition)"},
		{"bad duration", "rules:\n  - name: r1\n    type: count\n    timespan: 1 minute\n    condition: {gte: 5}\n    severity: low\n",
			`r.yaml:4: rule "r1": timespan: invalid duration "1 minute" (use 30s, 5m, 1h, 7d…)`},
		{"negative duration", "rules:\n  - name: r1\n    type: count\n    timespan: -1m\n    condition: {gte: 5}\n    severity: low\n",
			`r.yaml:4: rule "r1": timespan: must be positive, got -1m`},
		{"threshold not a number", "rules:\n  - name: r1\n    type: count\n    timespan: 1m\n    condition:\n      gte: five\n    severity: low\n",
			`r.yaml:6: rule "r1": condition.gte: want a whole number, got a string`},
		{"threshold zero", "rules:\n  - name: r1\n    type: count\n    timespan: 1m\n    condition:\n      gte: 0\n    severity: low\n",
			`r.yaml:6: rule "r1": condition.gte: must be between 1 and 2147483648, got 0`},
		{"missing condition key", "rules:\n  - name: r1\n    type: count\n    timespan: 1m\n    condition:\n      lte: 3\n    severity: low\n",
			"r.yaml:6: rule \"r1\": condition.lte: unknown field (want gte)\nr.yaml:5: rule \"r1\": condition.gte: is required"},
		{"bad severity", "rules:\n  - name: r1\n    type: severity\n    condition: {gte: urgent}\n    severity: low\n",
			`r.yaml:4: rule "r1": condition.gte: unknown severity "urgent" (want low, medium, high or critical)`},
		{"bad group-by", "rules:\n  - name: r1\n    type: severity\n    group-by: user\n    condition: {gte: high}\n    severity: low\n",
			`r.yaml:4: rule "r1": group-by: unknown field "user" (want userId, ipAddress, eventType, severity, metadata.KEY, or several of them joined by commas)`},
		{"bad filter field", "rules:\n  - name: r1\n    type: severity\n    filter:\n      type: login_failed\n    condition: {gte: high}\n    severity: low\n",
			`r.yaml:5: rule "r1": filter.type: unknown filter field (want eventType, userId, ipAddress, severity, min-severity, metadata, metadata.KEY or not)`},
		{"bad filter IP", "rules:\n  - name: r1\n    type: severity\n    filter:\n      ipAddress: [10.0.0.0/8, 10.0.0.300]\n    condition: {gte: high}\n    severity: low\n",
			`r.yaml:5: rule "r1": filter.ipAddress: "10.0.0.300" is not an IP address or prefix`},
		{"distinct needs a field", "rules:\n  - name: r1\n    type: distinct\n    timespan: 5m\n    condition: {gte: 20}\n    severity: high\n",
			`r.yaml:5: rule "r1": condition.field: is required`},
		{"sequence needs then", "rules:\n  - name: r1\n    type: sequence\n    timespan: 5m\n    first: {filter: {eventType: a}, count: 3}\n    severity: high\n",
			`r.yaml:2: rule "r1": then: is required`},
		{"absence takes no count", "rules:\n  - name: r1\n    type: absence\n    timespan: 5m\n    first: {filter: {eventType: a}, count: 3}\n    then: {filter: {eventType: b}}\n    severity: high\n",
			`r.yaml:5: rule "r1": first.count: unknown field (want filter)`},
		{"new-keys", "rules:\n  - name: r1\n    type: first-seen\n    field: ipAddress\n    new-keys: maybe\n    severity: low\n",
			`r.yaml:5: rule "r1": new-keys: want learn or alert, got "maybe"`},
		{"spike alpha", "rules:\n  - name: r1\n    type: spike\n    baseline: {alpha: 2}\n    severity: low\n",
			`r.yaml:4: rule "r1": baseline.alpha: must be in (0, 1], got 2`},
		{"risk threshold", "rules:\n  - name: r1\n    type: risk\n    condition: {gte: -5}\n    severity: low\n",
			`r.yaml:4: rule "r1": condition.gte: must be positive, got -5`},
		{"negative risk", "rules:\n  - name: r1\n    type: severity\n    condition: {gte: high}\n    severity: low\n    risk: -1\n",
			`r.yaml:6: rule "r1": risk: must not be negative, got -1`},
		{"duplicate names", "rules:\n  - {name: r1, type: severity, condition: {gte: high}, severity: low}\n  - {name: r1, type: severity, condition: {gte: high}, severity: low}\n",
			`r.yaml:3: rule "r1": name: used by more than one rule`},
		{"a rule that is not a mapping", "rules:\n  - just a string\n", "r.yaml:2: rule #1: want a mapping, got a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := anomaly.ParseRules("r.yaml", []byte(tt.yaml))
			require.Error(t, err)
			assert.Nil(t, rules)
			assert.Equal(t, tt.want, err.Error())
			assert.True(t, errors.Is(err, anomaly.ErrInvalidRule))
		})
	}
}

func TestParseRulesRefusesTheWholeFile(t *testing.T) {
	yaml := `rules:
  - name: good
    type: severity
    condition: {gte: high}
    severity: high
  - name: bad
    type: count
    timespan: 1m
    severity: high
`
	rules, err := anomaly.ParseRules("r.yaml", []byte(yaml))
	assert.Nil(t, rules)
	var re *anomaly.RuleError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, anomaly.RuleError{File: "r.yaml", Line: 6, Rule: "bad", Field: "condition", Reason: "is required"}, *re)
}

func TestParseRulesBuildsRules(t *testing.T) {
	yaml := `rules:
  - name: vpn-failures
    description: Failed VPN logins from outside the office.
    type: count
    filter:
      eventType: [login_failed, mfa_failed]
      min-severity: medium
      metadata: {app: vpn}
      metadata.country: [RU, KP]
      not:
        ipAddress: [10.0.0.0/8, 192.0.2.1]
    group-by: metadata.account
    timespan: 10m
    condition: {gte: 3}
    severity: high
    resolve: 0s
    cooldown: 1h
    update-every: 30s
    max-events: 0
  - name: admin
    type: severity
    condition: {gte: critical}
    severity: critical
`
	rules, err := anomaly.ParseRules("r.yaml", []byte(yaml))
	require.NoError(t, err)
	require.Len(t, rules, 2)
	r := rules[0]
	assert.IsType(t, &anomaly.Count{}, r.Detector)
	r.Detector = nil
	assert.Len(t, r.Version, 16, "a digest of the rule's text")
	assert.NotEqual(t, r.Version, rules[1].Version)
	r.Version = ""
	assert.Equal(t, anomaly.Rule{
		Name:        "vpn-failures",
		Description: "Failed VPN logins from outside the office.",
		Severity:    rdr.SeverityHigh,
		GroupBy:     anomaly.MetadataField("account"),
		Filter: anomaly.Filter{
			Types:       []string{"login_failed", "mfa_failed"},
			MinSeverity: rdr.SeverityMedium,
			Metadata:    []anomaly.MetadataMatch{{Key: "app", Values: []string{"vpn"}}, {Key: "country", Values: []string{"RU", "KP"}}},
			Not:         &anomaly.Filter{Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}},
		},
		Risk:      30,
		Lifecycle: anomaly.Lifecycle{ResolveAfter: 1, Cooldown: time.Hour, UpdateEvery: 30 * time.Second, MaxEvents: -1},
	}, r)
	assert.Equal(t, rdr.SeverityCritical, rules[1].Severity)
	assert.Equal(t, float64(50), rules[1].Risk, "risk defaults by severity")
	assert.Equal(t, anomaly.FieldUserID, rules[1].GroupBy, "group-by defaults to userId")
}

func TestLoadRules(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	b := filepath.Join(dir, "b.yaml")
	require.NoError(t, os.WriteFile(a, []byte("rules:\n  - {name: r1, type: severity, condition: {gte: high}, severity: low}\n"), 0o600))
	require.NoError(t, os.WriteFile(b, []byte("rules:\n  - {name: r2, type: severity, condition: {gte: high}, severity: low}\n  - {name: r1, type: severity, condition: {gte: high}, severity: low}\n"), 0o600))
	rules, err := anomaly.LoadRules(a)
	require.NoError(t, err)
	assert.Len(t, rules, 1)
	_, err = anomaly.LoadRules(a, b)
	assert.EqualError(t, err, b+`: rule "r1": name: already used in a.yaml`)
	_, err = anomaly.LoadRules(filepath.Join(dir, "missing.yaml"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestDefaultRules(t *testing.T) {
	rules := anomaly.DefaultRules()
	var names []string
	kinds := map[string]bool{}
	for _, r := range rules {
		names = append(names, r.Name)
		switch r.Detector.(type) {
		case *anomaly.Count:
			kinds["count"] = true
		case *anomaly.Distinct:
			kinds["distinct"] = true
		case *anomaly.Sequence:
			kinds["sequence"] = true
		case *anomaly.Absence:
			kinds["absence"] = true
		case *anomaly.FirstSeen:
			kinds["first-seen"] = true
		case *anomaly.Spike:
			kinds["spike"] = true
		case *anomaly.SeverityFloor:
			kinds["severity"] = true
		case *anomaly.Risk:
			kinds["risk"] = true
		}
	}
	assert.Equal(t, []string{"failed-login-burst", "password-spraying", "brute-force-success", "mfa-not-completed", "new-login-ip",
		"first-privilege-change", "file-access-spike", "critical-event", "user-risk"}, names)
	assert.Len(t, kinds, 8, "every detector kind is in the default set")
	again := anomaly.DefaultRules()
	assert.NotSame(t, rules[0].Detector, again[0].Detector, "each call gives fresh detectors")
	parsed, err := anomaly.ParseRules("default.yaml", anomaly.DefaultRulesYAML())
	require.NoError(t, err)
	assert.Len(t, parsed, len(rules))
}

// A rule's Version follows its definition, not where it stands in its
// file: blank lines, comments and indentation do not change it.
func TestRuleVersionFollowsTheDefinition(t *testing.T) {
	rule := "  - name: y\n    type: severity\n    condition: {gte: critical}\n    severity: low\n"
	version := func(text string, i int) string {
		rules, err := anomaly.ParseRules("r.yaml", []byte(text))
		require.NoError(t, err)
		return rules[i].Version
	}
	alone := version("rules:\n"+rule, 0)
	assert.Equal(t, alone, version("rules:\n  - name: x\n    type: severity\n    condition: {gte: critical}\n    severity: high\n\n  # y is low\n"+rule, 1))
	assert.Equal(t, alone, version("rules:\n"+strings.ReplaceAll(rule, "\n", "   \n")+"\n\n", 0))
	assert.NotEqual(t, alone, version("rules:\n"+strings.Replace(rule, "low", "medium", 1), 0))
	assert.NotEqual(t, alone, version("rules:\n"+rule+"    description: now described\n", 0))
}

package main

import (
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
)

const burstRules = `rules:
  - name: burst
    type: count
    filter: {eventType: login_failed}
    timespan: 1m
    condition: {gte: 5}
    severity: high
    tags: [attack.t1110]
`

const criticalRule = `
  - name: critical
    type: severity
    condition: {gte: critical}
    severity: critical
`

const vpnSigma = `title: VPN login from a sanctioned country
name: vpn-sanctioned-country
level: high
tags: [attack.initial-access, attack.t1078]
logsource: {product: rdr, category: authentication}
detection:
  sel: {eventType: login_success, app: vpn, country: [KP, IR]}
  condition: sel
`

// ruleTests is a rule test file: n failed logins make a burst.
func ruleTests(n int) string {
	return fmt.Sprintf(`tests:
  - name: %d failed logins make a burst
    input:
      - {at: 0s, eventType: login_failed, userId: u, repeat: %d}
    alerts:
      - {rule: burst, key: u, status: firing, firstSeen: %ds}
`, n, n, n-1)
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
}

// rulesView is GET /api/rules as names → stats.fired, and the reload.
func rulesView(t *testing.T, base string) (map[string]any, map[string]any) {
	t.Helper()
	status, body := do(t, http.MethodGet, base+"/api/rules", "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	rules := map[string]any{}
	for _, item := range body["rules"].([]any) {
		r := item.(map[string]any)
		rules[r["name"].(string)] = r
	}
	return rules, body["reload"].(map[string]any)
}

// firedAlerts lists GET /api/alerts as "rule key" of the firing ones.
func firedAlerts(t *testing.T, base string) []string {
	t.Helper()
	status, body := do(t, http.MethodGet, base+"/api/alerts?status=firing", "")
	require.Equal(t, http.StatusOK, status)
	var out []string
	for _, item := range body["alerts"].([]any) {
		a := item.(map[string]any)
		out = append(out, a["rule"].(string)+" "+a["key"].(string))
	}
	return out
}

func vpnLogin(user, country string) string {
	return string(rdr.AppendJSON(nil, rdr.Event{Time: time.Now().UTC(), Type: "login_success", UserID: user, Severity: rdr.SeverityLow,
		Metadata: rdr.MakeMetadata("app", "vpn", "country", country)}))
}

// Rules reload through the API and on SIGHUP: an rdr rule file and a Sigma
// file run together; a reload keeps the state of unchanged rules (four
// failed logins before it and one after make the five of a burst); a set
// that does not parse, or fails its tests, is refused whole and the
// running set keeps running.
func TestRulesReloadThroughTheAPIAndSIGHUP(t *testing.T) {
	dir := t.TempDir()
	rdrFile, sigmaFile, testFile := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "vpn.yml"), filepath.Join(dir, "tests.yaml")
	writeFile(t, rdrFile, burstRules)
	writeFile(t, sigmaFile, vpnSigma)
	writeFile(t, testFile, ruleTests(5))
	base := server(t, func(o *options) { o.rules = rdrFile + "," + sigmaFile; o.rulesTests = testFile })

	rules, reload := rulesView(t, base)
	require.Len(t, rules, 2)
	burst := rules["burst"].(map[string]any)
	assert.Equal(t, "count", burst["type"])
	assert.Equal(t, "rules.yaml", burst["source"])
	assert.Equal(t, []any{"attack.t1110"}, burst["tags"])
	vpn := rules["vpn-sanctioned-country"].(map[string]any)
	assert.Equal(t, "sigma", vpn["type"])
	assert.Equal(t, "high", vpn["severity"])
	assert.Equal(t, []any{"attack.initial-access", "attack.t1078"}, vpn["tags"])
	assert.Equal(t, "start", reload["trigger"])
	assert.Equal(t, true, reload["ok"])

	status, _ := do(t, http.MethodPost, base+"/api/events", failedLogins("mallory", 4))
	require.Equal(t, http.StatusOK, status)
	waitFor(t, func() bool {
		r, _ := rulesView(t, base)
		return r["burst"].(map[string]any)["stats"].(map[string]any)["matched"] == 4.0
	})

	// A rule added: burst and the Sigma rule are unchanged.
	writeFile(t, rdrFile, burstRules+criticalRule)
	status, body := do(t, http.MethodPost, base+"/api/rules/reload", "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	reload = body["reload"].(map[string]any)
	assert.Equal(t, []any{"critical"}, reload["added"])
	assert.Equal(t, []any{}, reload["changed"])
	assert.Equal(t, 2.0, reload["unchanged"])
	assert.Equal(t, "api", reload["trigger"])
	assert.Len(t, body["rules"], 3)

	status, _ = do(t, http.MethodPost, base+"/api/events", failedLogins("mallory", 1)+"\n"+vpnLogin("kim", "KP")+"\n"+vpnLogin("ann", "DE"))
	require.Equal(t, http.StatusOK, status)
	waitFor(t, func() bool { return len(firedAlerts(t, base)) == 2 })
	assert.ElementsMatch(t, []string{"burst mallory", "vpn-sanctioned-country kim"}, firedAlerts(t, base),
		"burst counted the four failed logins from before the reload")

	// A file that does not parse: refused, named, and nothing changes.
	writeFile(t, rdrFile, burstRules+criticalRule+"  - name: broken\n    type: count\n    severity: low\n")
	status, body = do(t, http.MethodPost, base+"/api/rules/reload", "")
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, body["error"], rdrFile+`:`)
	assert.Contains(t, body["error"], `rule "broken": timespan: is required`)
	assert.Equal(t, false, body["reload"].(map[string]any)["ok"])
	rules, reload = rulesView(t, base)
	assert.Len(t, rules, 3, "the running set keeps running")
	assert.Equal(t, false, reload["ok"])
	status, _ = do(t, http.MethodPost, base+"/api/events", criticalEvent("carol"))
	require.Equal(t, http.StatusOK, status)
	waitFor(t, func() bool { return len(firedAlerts(t, base)) == 3 })

	// A set that parses but fails its tests: refused too.
	writeFile(t, rdrFile, burstRules+criticalRule)
	writeFile(t, testFile, ruleTests(4))
	status, body = do(t, http.MethodPost, base+"/api/rules/reload", "")
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, body["error"], "rule tests tests.yaml: 1 of 1 failed: 4 failed logins make a burst")

	// SIGHUP reloads: the tests fixed, a threshold changed.
	writeFile(t, rdrFile, strings.Replace(burstRules, "gte: 5", "gte: 4", 1)+criticalRule)
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	waitFor(t, func() bool {
		_, r := rulesView(t, base)
		return r["trigger"] == "signal"
	})
	_, reload = rulesView(t, base)
	assert.Equal(t, true, reload["ok"], "%v", reload["error"])
	assert.Equal(t, []any{"burst"}, reload["changed"])
	assert.Equal(t, 2.0, reload["unchanged"])
}

// With -rules-watch, a changed file reloads by itself.
func TestRulesReloadWhenAFileChanges(t *testing.T) {
	dir := t.TempDir()
	rdrFile := filepath.Join(dir, "rules.yaml")
	writeFile(t, rdrFile, burstRules)
	base := server(t, func(o *options) { o.rules = rdrFile; o.rulesWatch = 50 * time.Millisecond })
	rules, _ := rulesView(t, base)
	require.Len(t, rules, 1)
	writeFile(t, rdrFile, burstRules+criticalRule)
	require.NoError(t, os.Chtimes(rdrFile, time.Now().Add(time.Second), time.Now().Add(time.Second)))
	waitFor(t, func() bool {
		_, r := rulesView(t, base)
		return r["trigger"] == "watch"
	})
	rules, reload := rulesView(t, base)
	assert.Len(t, rules, 2)
	assert.Equal(t, []any{"critical"}, reload["added"])
}

// Without -rules the default set runs, described by GET /api/rules.
func TestRulesDefaultSet(t *testing.T) {
	base := server(t, nil)
	rules, reload := rulesView(t, base)
	assert.Len(t, rules, 9)
	assert.Equal(t, "default.yaml", rules["new-login-ip"].(map[string]any)["source"])
	assert.Equal(t, "first-seen", rules["new-login-ip"].(map[string]any)["type"])
	assert.Equal(t, float64(9), reload["rules"])
	status, body := do(t, http.MethodPost, base+"/api/rules/reload", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, 9.0, body["reload"].(map[string]any)["unchanged"])
}

func loginAt(user, ip string, at time.Time) string {
	return string(rdr.AppendJSON(nil, rdr.Event{Time: at, Type: "login_success", UserID: user, IP: netip.MustParseAddr(ip), Severity: rdr.SeverityLow}))
}

// A first-seen rule with a learning period, and a risk-only rule feeding
// the risk rule, run through the dashboard's API: exactly the alerts the
// learning and the risk allow.
func TestLearningPeriodAndRiskOnlyThroughTheAPI(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yaml")
	writeFile(t, file, `rules:
  - name: new-ip
    type: first-seen
    filter: {eventType: login_success}
    field: ipAddress
    learn-events: 3
    severity: low
  - name: new-ip-risk
    type: first-seen
    filter: {eventType: login_success, userId: [carol]}
    field: ipAddress
    severity: low
    risk: 60
    risk-only: true
    resolve: 1ns # each new address is its own (silent) alert, adding its risk
  - name: user-risk
    type: risk
    condition: {gte: 100}
    severity: high
    risk: 0
`)
	base := server(t, func(o *options) { o.rules = file })
	now := time.Now().UTC()
	var lines []string
	for i, l := range []struct{ user, ip string }{
		{"alice", "10.0.0.1"}, {"alice", "10.0.0.2"}, {"alice", "10.0.0.1"}, {"alice", "10.0.0.9"}, // the 4th: 3 events before it
		{"bob", "10.0.1.1"}, {"bob", "10.0.1.2"}, // still learning
		{"carol", "10.0.2.1"}, {"carol", "10.0.2.2"}, {"carol", "10.0.2.3"}, // new-ip-risk: 60 + 60
	} {
		lines = append(lines, loginAt(l.user, l.ip, now.Add(time.Duration(i)*time.Millisecond)))
	}
	status, _ := do(t, http.MethodPost, base+"/api/events", strings.Join(lines, "\n"))
	require.Equal(t, http.StatusOK, status)
	waitFor(t, func() bool { return len(firedAlerts(t, base)) == 2 })
	time.Sleep(200 * time.Millisecond) // nothing else comes
	assert.ElementsMatch(t, []string{"new-ip alice", "user-risk carol"}, firedAlerts(t, base))
	rules, _ := rulesView(t, base)
	assert.Equal(t, 2.0, rules["new-ip-risk"].(map[string]any)["stats"].(map[string]any)["fired"], "counted, not alerted")
	assert.Equal(t, 1.0, rules["new-ip"].(map[string]any)["stats"].(map[string]any)["fired"])
	assert.Equal(t, true, rules["new-ip-risk"].(map[string]any)["riskOnly"])
}

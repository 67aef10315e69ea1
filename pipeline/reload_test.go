package pipeline_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/pipeline"
)

// ruleFile returns a Rules function that parses a rule file.
func ruleFile(text string) func() ([]anomaly.Rule, error) {
	return func() ([]anomaly.Rule, error) { return anomaly.ParseRules("rules.yaml", []byte(text)) }
}

const burstRule = `
  - name: burst
    type: count
    filter: {eventType: login_failed}
    timespan: 1m
    condition: {gte: 5}
    severity: high
    resolve: 1ns
`

const typoRule = `
  - name: typos
    description: %s
    type: count
    filter: {eventType: login_failed}
    timespan: 1m
    condition: {gte: 3}
    severity: low
    resolve: 1ns
`

// Rules reload between two messages: an unchanged rule keeps its count
// across the reload, a changed one starts afresh, a new one starts, a
// removed one stops, and a set that does not parse is refused whole while
// the running set keeps running.
func TestProcessorReloadRulesKeepsTheStateOfUnchangedRules(t *testing.T) {
	v1 := "rules:" + burstRule + sprintf(typoRule, "three failed logins")
	h := newHarness(t, pipeline.Config{Rules: ruleFile(v1), Clock: rdr.NewFakeClock(t0.Add(time.Hour))})
	var in []string
	for i := range 4 { // burst counts 4 of 5; typos 4 ≥ 3: fires
		in = append(in, event(time.Duration(i+1)*time.Second, "login_failed", "mallory"))
	}
	in = append(in, event(5*time.Second, "login_failed", "trudy"), event(6*time.Second, "login_failed", "trudy")) // typos 2 of 3
	h.send(in...)
	h.waitMessages(uint64(len(in)))
	waitStats(t, h.proc, func(s pipeline.Stats) bool { return s.AlertsFired == 1 })

	// A set with an error is refused, and nothing changes.
	err := h.proc.ReloadRules(ruleFile("rules:\n  - name: broken\n    type: count\n"))
	require.Error(t, err)
	assert.True(t, errors.Is(err, pipeline.ErrInvalidConfig))
	assert.Contains(t, err.Error(), `rule "broken": timespan: is required`)

	// v2: burst unchanged; typos changed (its description); critical new.
	v2 := "rules:" + burstRule + sprintf(typoRule, "three failed logins within a minute") + `
  - name: critical
    type: severity
    condition: {gte: critical}
    severity: critical
`
	require.NoError(t, h.proc.ReloadRules(ruleFile(v2)))
	assert.Equal(t, uint64(1), h.proc.Stats().RuleReloads)

	in = []string{
		event(7*time.Second, "login_failed", "mallory"), // burst: 5 with the 4 from before the reload
		event(8*time.Second, "login_failed", "trudy"),   // typos starts afresh: 1, not 3
	}
	h.send(in...)
	h.waitMessages(8)
	waitStats(t, h.proc, func(s pipeline.Stats) bool { return s.AlertsFired == 2 })

	// v3: burst removed.
	require.NoError(t, h.proc.ReloadRules(ruleFile("rules:"+sprintf(typoRule, "three failed logins within a minute"))))
	in = []string{
		event(9*time.Second, "login_failed", "trudy"),
		event(10*time.Second, "login_failed", "trudy"), // typos: 3 since v2's reload kept its state
		event(11*time.Second, "login_failed", "eve"),
	}
	h.send(in...)
	h.waitMessages(11)
	waitStats(t, h.proc, func(s pipeline.Stats) bool { return s.AlertsFired == 3 })
	stats := h.proc.RuleStats()
	h.close()

	var firing []string
	for _, a := range h.rec.alerts {
		if a.Status == anomaly.StatusFiring {
			firing = append(firing, a.Rule+" "+a.Key+" "+a.FirstSeen.Sub(t0).String())
		}
	}
	assert.Equal(t, []string{"typos mallory 3s", "burst mallory 7s", "typos trudy 10s"}, firing)
	require.Len(t, stats, 1)
	assert.Equal(t, "typos", stats[0].Rule)
	assert.Equal(t, uint64(3), stats[0].Matched, "counted since the latest reload")
	assert.Equal(t, uint64(1), stats[0].Fired)
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

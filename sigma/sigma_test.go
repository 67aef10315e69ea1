package sigma_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sigma"
)

// windowsMapping maps the Windows security log fields of the
// specification's examples onto rdr events: EventID and ComputerName in
// metadata, User the event's user.
const windowsMapping = `
name: windows-test
logsources:
  - product: windows
    service: security
  - product: windows
    category: process_creation
fields:
  EventID: metadata.EventID
  ComputerName: metadata.ComputerName
  WorkstationName: metadata.WorkstationName
  User: userId
  CommandLine: metadata.CommandLine
  Image: metadata.Image
  http.response.status_code: metadata.http.response.status_code
  source.ip: metadata.source.ip
  destination.ip: metadata.destination.ip
  event.category: metadata.event.category
  event.type: metadata.event.type
  event.outcome: metadata.event.outcome
group-by: userId
keywords: [metadata.CommandLine]
`

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func mapping(t *testing.T, text string) *sigma.Mapping {
	t.Helper()
	m, err := sigma.ParseMapping("mapping.yaml", []byte(text))
	require.NoError(t, err)
	return m
}

func compile(t *testing.T, m *sigma.Mapping, rules string) *sigma.Collection {
	t.Helper()
	c, err := sigma.Parse(m, "rules.yml", []byte(rules))
	require.NoError(t, err)
	return c
}

// fired runs events through the collection's rules and returns each alert
// as it fired: "rule key at" lines.
func fired(t *testing.T, c *sigma.Collection, events []rdr.Event) []string {
	t.Helper()
	eng, err := anomaly.NewEngine(c.Rules(), anomaly.Config{MaxFuture: -1})
	require.NoError(t, err)
	var out []string
	emit := func(a anomaly.Alert) {
		if a.Status == anomaly.StatusFiring && a.Count == 1 {
			out = append(out, fmt.Sprintf("%s %s %s", a.Rule, a.Key, a.FirstSeen.Sub(t0)))
		}
	}
	for _, ev := range events {
		eng.Process(ev, emit)
	}
	return out
}

func winEvent(at time.Duration, user string, md ...string) rdr.Event {
	return rdr.Event{Time: t0.Add(at), Type: "windows", UserID: user, Severity: rdr.SeverityLow, Metadata: rdr.MakeMetadata(md...)}
}

// The specification's complete example: "Multiple Failed Logins Followed
// by Successful Login", as it is written there.
const specBruteForce = `
title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: experimental
description: Detects multiple failed logins by a single user followed by a successful login of that user
references:
    - https://reference.com
author: Florian Roth (Nextron Systems)
date: 2023-06-16
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
falsepositives:
    - Unlikely
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
description: Detects multiple failed logins within a certain amount of time
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
description: Detects a successful login
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
`

func TestSpecExampleFailedLoginsThenSuccess(t *testing.T) {
	c := compile(t, mapping(t, windowsMapping), specBruteForce)
	rules := c.Rules()
	require.Len(t, rules, 1, "only the outermost correlation makes alerts (generate is false)")
	r := rules[0]
	assert.Equal(t, "correlation-multiple-failed-logins-followed-by-successful-login", r.Name)
	assert.Equal(t, rdr.SeverityHigh, r.Severity)
	assert.Equal(t, "userId", r.GroupBy.String())

	var evs []rdr.Event
	// alice: 10 failures (EventID 4625 and 529) in 90 s, then a success.
	for i := range 10 {
		id := "4625"
		if i%3 == 0 {
			id = "529"
		}
		evs = append(evs, winEvent(time.Duration(i)*10*time.Second, "alice", "EventID", id, "ComputerName", "ws1"))
	}
	evs = append(evs, winEvent(2*time.Minute, "alice", "EventID", "4624"))
	// bob: 9 failures then a success: not enough.
	for i := range 9 {
		evs = append(evs, winEvent(3*time.Minute+time.Duration(i)*time.Second, "bob", "EventID", "4625"))
	}
	evs = append(evs, winEvent(4*time.Minute, "bob", "EventID", "4624"))
	// carol: a success, then 10 failures: the wrong order.
	evs = append(evs, winEvent(5*time.Minute, "carol", "EventID", "4624"))
	for i := range 10 {
		evs = append(evs, winEvent(5*time.Minute+time.Duration(i+1)*time.Second, "carol", "EventID", "4625"))
	}
	// dave: 10 failures, and the success 11 minutes after them.
	for i := range 10 {
		evs = append(evs, winEvent(6*time.Minute+time.Duration(i)*time.Second, "dave", "EventID", "4625"))
	}
	evs = append(evs, winEvent(17*time.Minute+10*time.Second, "dave", "EventID", "4624"))

	got := fired(t, c, evs)
	assert.Equal(t, []string{"correlation-multiple-failed-logins-followed-by-successful-login alice 2m0s"}, got)
}

func TestSpecExampleGenerateMakesTheReferencedRulesAlertToo(t *testing.T) {
	text := strings.Replace(specBruteForce, "level: high\n", "level: high\ngenerate: true\n", 1)
	c := compile(t, mapping(t, windowsMapping), text)
	var names []string
	for _, r := range c.Rules() {
		names = append(names, r.Name)
	}
	// The temporal correlation generates its rules: the event_count
	// correlation and successful_login (not failed_login, which only the
	// event_count refers to).
	assert.Equal(t, []string{"correlation-multiple-failed-logins-followed-by-successful-login", "multiple_failed_login", "successful_login"}, names)
	var evs []rdr.Event
	for i := range 10 {
		evs = append(evs, winEvent(time.Duration(i)*time.Second, "alice", "EventID", "4625"))
	}
	evs = append(evs, winEvent(time.Minute, "alice", "EventID", "4624"))
	assert.Equal(t, []string{
		"multiple_failed_login alice 9s",
		"correlation-multiple-failed-logins-followed-by-successful-login alice 1m0s",
		"successful_login alice 1m0s",
	}, fired(t, c, evs))
}

// The specification's value_count example: failed logons with 100 or more
// different user accounts per source and destination in a day (here 5).
func TestSpecExampleValueCount(t *testing.T) {
	c := compile(t, mapping(t, windowsMapping), `
title: Failed login
id: 0e95725d-7320-415d-80f7-004da920fc12
correlation:
    type: value_count
    rules:
        - 5638f7c0-ac70-491d-8465-2a65075e0d86
    group-by:
        - ComputerName
        - WorkstationName
    timespan: 1d
    condition:
        field: User
        gte: 5
---
title: Failed logon
id: 5638f7c0-ac70-491d-8465-2a65075e0d86
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
`)
	r := c.Rules()[0]
	assert.Equal(t, "metadata.ComputerName,metadata.WorkstationName", r.GroupBy.String())
	var evs []rdr.Event
	for i := range 5 { // 5 users on dc1 from ws9, an hour apart
		evs = append(evs, winEvent(time.Duration(i)*time.Hour, fmt.Sprintf("u%d", i), "EventID", "4625", "ComputerName", "dc1", "WorkstationName", "ws9"))
	}
	for i := range 4 { // 4 on dc1 from ws8: below the threshold
		evs = append(evs, winEvent(5*time.Hour+time.Duration(i)*time.Minute, fmt.Sprintf("u%d", i), "EventID", "4625", "ComputerName", "dc1", "WorkstationName", "ws8"))
	}
	for i := range 5 { // successes do not count
		evs = append(evs, winEvent(6*time.Hour+time.Duration(i)*time.Minute, fmt.Sprintf("v%d", i), "EventID", "4624", "ComputerName", "dc2", "WorkstationName", "ws1"))
	}
	assert.Equal(t, []string{"failed-login dc1,ws9 4h0m0s"}, fired(t, c, evs))
}

// The specification's temporal example: three reconnaissance commands in
// any order within 5 minutes on one system by one user.
func TestSpecExampleTemporal(t *testing.T) {
	rules := `
title: Recon commands
correlation:
    type: temporal
    rules:
        - recon_cmd_a
        - recon_cmd_b
        - recon_cmd_c
    group-by:
        - ComputerName
        - User
    timespan: 5m
level: medium
tags:
    - attack.discovery
    - attack.t1087
`
	for _, c := range []string{"a|whoami", "b|net user", "c|ipconfig"} {
		name, cmd, _ := strings.Cut(c, "|")
		rules += fmt.Sprintf(`---
title: Recon %s
name: recon_cmd_%s
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains: '%s'
    condition: selection
`, name, name, cmd)
	}
	c := compile(t, mapping(t, windowsMapping), rules)
	r := c.Rules()[0]
	assert.Equal(t, []string{"attack.discovery", "attack.t1087"}, r.Tags)
	cmd := func(at time.Duration, host, user, line string) rdr.Event {
		return winEvent(at, user, "ComputerName", host, "CommandLine", line)
	}
	evs := []rdr.Event{
		cmd(0, "ws1", "alice", "cmd /c IPCONFIG /all"), // case-insensitive
		cmd(time.Minute, "ws1", "alice", "whoami /priv"),
		cmd(2*time.Minute, "ws2", "alice", "net user admin"), // another host
		cmd(3*time.Minute, "ws1", "alice", "net user admin"), // all three on ws1 within 3m
		cmd(10*time.Minute, "ws1", "bob", "whoami"),
		cmd(12*time.Minute, "ws1", "bob", "net user"),
		cmd(16*time.Minute, "ws1", "bob", "ipconfig"), // 6 minutes after the first
	}
	assert.Equal(t, []string{"recon-commands ws1,alice 3m0s"}, fired(t, c, evs))

	// And the alert carries the correlation's tags.
	eng, err := anomaly.NewEngine(c.Rules(), anomaly.Config{MaxFuture: -1})
	require.NoError(t, err)
	var alerts []anomaly.Alert
	for _, ev := range evs {
		eng.Process(ev, func(a anomaly.Alert) {
			if a.Status == anomaly.StatusFiring {
				alerts = append(alerts, a)
			}
		})
	}
	require.Len(t, alerts, 1)
	assert.Equal(t, []string{"attack.discovery", "attack.t1087"}, alerts[0].Tags)
	assert.Equal(t, rdr.SeverityMedium, alerts[0].Severity)
	assert.Equal(t, "recon-commands: all of recon_cmd_a, recon_cmd_b, recon_cmd_c within 5m for metadata.ComputerName,userId ws1,alice", alerts[0].Message)
}

// The specification's aliases example: an internal error and a new
// connection between the same two addresses, the other way round.
func TestSpecExampleAliases(t *testing.T) {
	c := compile(t, mapping(t, windowsMapping), `
title: Error then connection
correlation:
    type: temporal
    rules:
        - internal_error
        - new_network_connection
    group-by:
        - internal_ip
        - remote_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_network_connection: destination.ip
---
title: Internal error
name: internal_error
logsource:
    product: windows
    service: security
detection:
    selection:
        http.response.status_code: 500
    condition: selection
---
title: New connection
name: new_network_connection
logsource:
    product: windows
    service: security
detection:
    selection:
        event.category: network
        event.type: connection
        event.outcome: success
    condition: selection
`)
	ev := func(at time.Duration, md string) rdr.Event {
		e := winEvent(at, "svc")
		e.Metadata = rdr.Metadata(md)
		return e
	}
	evs := []rdr.Event{
		ev(0, `{"http":{"response":{"status_code":500}},"source":{"ip":"10.0.0.9"},"destination":{"ip":"10.0.0.1"}}`),
		// a connection from 10.0.0.1 to 10.0.0.7: another pair
		ev(time.Second, `{"event":{"category":"network","type":"connection","outcome":"success"},"source":{"ip":"10.0.0.1"},"destination":{"ip":"10.0.0.7"}}`),
		// from 10.0.0.1 to 10.0.0.9: the pair, reversed
		ev(2*time.Second, `{"event":{"category":"network","type":"connection","outcome":"success"},"source":{"ip":"10.0.0.1"},"destination":{"ip":"10.0.0.9"}}`),
	}
	assert.Equal(t, []string{"error-then-connection 10.0.0.1,10.0.0.9 2s"}, fired(t, c, evs))
}

// detectionRule is a detection rule on rdr's own events with the given
// detection section.
func detectionRule(detection string) string {
	return "title: T\nname: t\nlogsource:\n  product: rdr\ndetection:\n" + detection + "\n"
}

func TestDetectionValues(t *testing.T) {
	ev := rdr.Event{Time: t0, Type: "login_failed", UserID: "Alice.Admin", IP: netip.MustParseAddr("10.1.2.3"),
		Severity: rdr.SeverityMedium, Metadata: `{"app":"VPN-gateway","port":8443,"mfa":true,"note":null,"path":"C:\\Windows\\cmd.exe","geo":{"country":"DE"}}`}
	cases := []struct {
		detection string
		want      bool
	}{
		{"  s: {eventType: login_failed}\n  condition: s", true},
		{"  s: {eventType: LOGIN_FAILED}\n  condition: s", true}, // values match case-insensitively
		{"  s: {eventType|cased: LOGIN_FAILED}\n  condition: s", false},
		{"  s: {eventType|cased: login_failed}\n  condition: s", true},
		{"  s: {userId: alice.admin}\n  condition: s", true},
		{"  s: {userId: alice}\n  condition: s", false}, // whole values
		{"  s: {userId: 'alice*'}\n  condition: s", true},
		{"  s: {userId: '*admin'}\n  condition: s", true},
		{"  s: {userId: 'a?ice.admin'}\n  condition: s", true},
		{"  s: {userId: 'a?ce.admin'}\n  condition: s", false},
		{"  s: {userId: '*l*e*'}\n  condition: s", true},
		{"  s: {userId|contains: CE.AD}\n  condition: s", true},
		{"  s: {userId|startswith: alice}\n  condition: s", true},
		{"  s: {userId|endswith: alice}\n  condition: s", false},
		{"  s: {metadata.app|contains|all: [vpn, gate]}\n  condition: s", true},
		{"  s: {metadata.app|contains|all: [vpn, mail]}\n  condition: s", false},
		{"  s: {metadata.app|contains: [mail, vpn]}\n  condition: s", true},
		{"  s: {metadata.app|re: '^VPN-'}\n  condition: s", true},
		{"  s: {metadata.app|re: '^vpn-'}\n  condition: s", false}, // re is case-sensitive
		{"  s: {metadata.app|re|i: '^vpn-'}\n  condition: s", true},
		{"  s: {ipAddress|cidr: 10.0.0.0/8}\n  condition: s", true},
		{"  s: {ipAddress|cidr: [192.168.0.0/16, 172.16.0.0/12]}\n  condition: s", false},
		{"  s: {ipAddress: 10.1.2.3}\n  condition: s", true},
		{"  s: {metadata.port: 8443}\n  condition: s", true},
		{"  s: {metadata.port|gt: 8000}\n  condition: s", true},
		{"  s: {metadata.port|gte: 8443}\n  condition: s", true},
		{"  s: {metadata.port|lt: 8443}\n  condition: s", false},
		{"  s: {metadata.port|lte: 8443}\n  condition: s", true},
		{"  s: {metadata.mfa: true}\n  condition: s", true},
		{"  s: {metadata.note: null}\n  condition: s", true},   // JSON null
		{"  s: {metadata.absent: null}\n  condition: s", true}, // missing
		{"  s: {metadata.app: null}\n  condition: s", false},
		{"  s: {metadata.app|exists: true}\n  condition: s", true},
		{"  s: {metadata.absent|exists: true}\n  condition: s", false},
		{"  s: {metadata.absent|exists: false}\n  condition: s", true},
		{"  s: {metadata.geo.country: de}\n  condition: s", true}, // a dotted path into nested metadata
		{"  s: {metadata.path: 'C:\\Windows\\cmd.exe'}\n  condition: s", true},
		{"  s: {metadata.path|endswith: '\\cmd.exe'}\n  condition: s", true},
		{"  s: {userId|fieldref: metadata.app}\n  condition: s", false},
		{"  s: {eventType: [login_success, login_failed]}\n  condition: s", true},
		{"  s: {eventType: login_failed, severity: high}\n  condition: s", false}, // a map is an and
		{"  s: [{eventType: x}, {severity: medium}]\n  condition: s", true},       // a list of maps is an or
		{"  s: ['*vpn-gate*']\n  condition: s", false},                            // keywords look in eventType and metadata.message
		{"  s: [failed]\n  condition: s", true},
	}
	for _, tc := range cases {
		t.Run(tc.detection, func(t *testing.T) {
			c := compile(t, sigma.DefaultMapping(), detectionRule(tc.detection))
			r := c.Rules()[0]
			assert.Equal(t, tc.want, r.Filter.Match(&ev))
		})
	}
}

func TestConditions(t *testing.T) {
	sel := "  sel_a: {eventType: login_failed}\n  sel_b: {userId: alice}\n  filter: {severity: high}\n  _hidden: {userId: nobody}\n"
	evs := map[string]rdr.Event{
		"alice-failed": {Time: t0, Type: "login_failed", UserID: "alice", Severity: rdr.SeverityMedium},
		"alice-high":   {Time: t0, Type: "login_failed", UserID: "alice", Severity: rdr.SeverityHigh},
		"bob-failed":   {Time: t0, Type: "login_failed", UserID: "bob", Severity: rdr.SeverityMedium},
		"alice-ok":     {Time: t0, Type: "login_success", UserID: "alice", Severity: rdr.SeverityLow},
	}
	cases := []struct {
		cond    string
		matches string // the events it matches, sorted
	}{
		{"sel_a", "alice-failed alice-high bob-failed"},
		{"sel_a and sel_b", "alice-failed alice-high"},
		{"sel_a and sel_b and not filter", "alice-failed"},
		{"sel_a or sel_b", "alice-failed alice-high alice-ok bob-failed"},
		{"not sel_a", "alice-ok"},
		{"sel_b and not (sel_a or filter)", "alice-ok"},
		{"sel_a and not sel_b or filter", "alice-high bob-failed"}, // and binds tighter than or
		{"1 of sel_*", "alice-failed alice-high alice-ok bob-failed"},
		{"all of sel_*", "alice-failed alice-high"},
		{"all of sel_* and not filter", "alice-failed"},
		{"1 of them", "alice-failed alice-high alice-ok bob-failed"},
		{"all of them", "alice-high"}, // _hidden is not in "them"
		{"any of sel_*", "alice-failed alice-high alice-ok bob-failed"},
		{"NOT sel_a AND sel_b", "alice-ok"},
	}
	for _, tc := range cases {
		t.Run(tc.cond, func(t *testing.T) {
			c := compile(t, sigma.DefaultMapping(), detectionRule(sel+"  condition: "+tc.cond))
			r := c.Rules()[0]
			var got []string
			for _, name := range []string{"alice-failed", "alice-high", "alice-ok", "bob-failed"} {
				ev := evs[name]
				if r.Filter.Match(&ev) {
					got = append(got, name)
				}
			}
			assert.Equal(t, tc.matches, strings.Join(got, " "))
		})
	}
}

func TestRulesMapLevelTagsAndLogsource(t *testing.T) {
	c := compile(t, sigma.DefaultMapping(), `
title: Admin login from abroad
id: 11111111-2222-3333-4444-555555555555
status: test
level: critical
tags: [attack.initial-access, attack.T1078]
logsource:
    product: rdr
    category: authentication
detection:
    sel:
        eventType: login_success
        metadata.country|contains: [KP, IR]
    condition: sel
`)
	r := c.Rules()[0]
	assert.Equal(t, "admin-login-from-abroad", r.Name, "no name: the title, as a slug")
	assert.Equal(t, rdr.SeverityCritical, r.Severity)
	assert.Equal(t, []string{"attack.initial-access", "attack.t1078"}, r.Tags)
	assert.Equal(t, []string{"login_success", "login_failed", "mfa_challenge", "mfa_success", "mfa_failed", "logout"}, r.Filter.Types,
		"the logsource's event types come first, so other events skip the rule cheaply")
	assert.Len(t, r.Version, 16)
	assert.IsType(t, anomaly.EveryEvent{}, r.Detector)
}

// Each unsupported feature, and each rule the mapping does not cover, is
// refused with an error that names the file, the rule and the feature.
func TestUnsupportedIsRefused(t *testing.T) {
	cases := []struct{ rules, err string }{
		{detectionRule("  s: {userId|base64offset|contains: x}\n  condition: s"),
			`rules.yml:6: rule "t": detection.s.userId|base64offset|contains: modifier base64offset is not supported: rdr's events are not encoded`},
		{detectionRule("  s: {userId|windash: x}\n  condition: s"),
			`rules.yml:6: rule "t": detection.s.userId|windash: modifier windash is not supported: not implemented`},
		{detectionRule("  s: {CommandLine: x}\n  condition: s"),
			`rules.yml:6: rule "t": detection.s.CommandLine: field "CommandLine" is not in the mapping rdr`},
		{detectionRule("  s: {userId: x}\n  condition: s | count() > 5"),
			`rules.yml:7: rule "t": detection.condition: aggregations after '|' are obsolete: use a correlation rule`},
		{detectionRule("  s: {userId: x}\n  timeframe: 5m\n  condition: s"),
			`rules.yml:7: rule "t": detection.timeframe: timeframe (with aggregations) is obsolete: use a correlation rule`},
		{detectionRule("  s: {userId|re: '(?<=a)b'}\n  condition: s"),
			"rules.yml:6: rule \"t\": detection.s.userId|re: re: error parsing regexp: invalid named capture: `(?<=a)b` (rdr runs Go's RE2 syntax: no backreferences or lookaround)"},
		{"title: T\nname: t\nlogsource:\n  product: windows\ndetection:\n  s: {userId: x}\n  condition: s\n",
			`rules.yml:4: rule "t": logsource: product "windows", category "", service "" is not a logsource of the mapping rdr`},
		{detectionRule("  s: {userId: x}\n  condition: 2 of s"),
			`rules.yml:7: rule "t": detection.condition: "2" of: only 1 of and all of are supported`},
		{detectionRule("  s: {userId: x}\n  condition: s and t"),
			`rules.yml:7: rule "t": detection.condition: unknown search identifier "t"`},
		{detectionRule("  s: {userId: x}\n  condition: s and (s"),
			`rules.yml:7: rule "t": detection.condition: missing ')'`},
		{"title: C\nname: c\ncorrelation:\n  type: event_count\n  rules: [t]\n  group-by: [userId]\n  timespan: 5m\n  condition: {lt: 5}\n---\n" + detectionRule("  s: {userId: x}\n  condition: s"),
			`rules.yml:8: rule "c": correlation.condition.lt: condition lt is not supported: a stream cannot tell "at most" before the timespan is over (use gte or gt)`},
		{"title: C\nname: c\ncorrelation:\n  type: event_count\n  rules: [t]\n  group-by: [userId]\n  timespan: 5m\n  condition: {gte: 5, lte: 9}\n---\n" + detectionRule("  s: {userId: x}\n  condition: s"),
			`rules.yml:8: rule "c": correlation.condition.lte: condition lte is not supported: a stream cannot tell "at most" before the timespan is over (use gte or gt)`},
		{"title: C\nname: c\ncorrelation:\n  type: sliding_count\n  rules: [t]\n  group-by: [userId]\n  timespan: 5m\n---\n" + detectionRule("  s: {userId: x}\n  condition: s"),
			`rules.yml:4: rule "c": correlation.type: unknown correlation type "sliding_count" (want event_count, value_count, temporal, temporal_ordered)`},
		{"title: C\nname: c\ncorrelation:\n  type: event_count\n  rules: [t]\n  group-by: [Host]\n  timespan: 5m\n  condition: {gte: 2}\n---\n" + detectionRule("  s: {userId: x}\n  condition: s"),
			`rules.yml:6: rule "c": correlation.group-by: field "Host" is not in the mapping rdr`},
		{"title: C\nname: c\ncorrelation:\n  type: event_count\n  rules: [nope]\n  group-by: [userId]\n  timespan: 5m\n  condition: {gte: 2}\n",
			`rules.yml:5: rule "c": correlation.rules: no rule has the name or ID "nope"`},
		{"title: A\nname: a\ncorrelation:\n  type: event_count\n  rules: [b]\n  group-by: [userId]\n  timespan: 5m\n  condition: {gte: 2}\n---\n" +
			"title: B\nname: b\ncorrelation:\n  type: event_count\n  rules: [t]\n  group-by: [userId]\n  timespan: 5m\n  condition: {gte: 2}\n---\n" + detectionRule("  s: {userId: x}\n  condition: s"),
			`rules.yml:5: rule "a": correlation.rules: event_count over another correlation (b) is not supported: only temporal correlations chain`},
		{"title: T\nname: t\nstatus: unsupported\nlogsource:\n  product: rdr\ndetection:\n  s: {userId: x}\n  condition: s\n",
			`rules.yml:3: rule "t": status: the rule says it is unsupported`},
	}
	for _, tc := range cases {
		t.Run(tc.err, func(t *testing.T) {
			_, err := sigma.Parse(sigma.DefaultMapping(), "rules.yml", []byte(tc.rules))
			require.Error(t, err)
			assert.Equal(t, tc.err, err.Error())
		})
	}
	// Unsupported features say so to errors.Is.
	_, err := sigma.Parse(sigma.DefaultMapping(), "rules.yml", []byte(cases[0].rules))
	assert.True(t, errors.Is(err, sigma.ErrUnsupported))
	_, err = sigma.Parse(sigma.DefaultMapping(), "rules.yml", []byte(cases[8].rules))
	assert.False(t, errors.Is(err, sigma.ErrUnsupported), "an unknown identifier is a mistake, not a feature")
}

func TestKeywordsNeedAMappingField(t *testing.T) {
	m := mapping(t, "logsources:\n  - product: rdr\nrdr-fields: true\n")
	_, err := sigma.Parse(m, "k.yml", []byte(detectionRule("  keywords: [mimikatz]\n  condition: keywords")))
	assert.EqualError(t, err, `k.yml:6: rule "t": detection.keywords: keyword search: the mapping mapping.yaml names no keyword fields`)
}

func TestEveryErrorOfAFileIsReported(t *testing.T) {
	text := detectionRule("  s: {userId|base64: x}\n  condition: s") + "---\n" +
		"title: U\nname: u\nlogsource:\n  product: rdr\ndetection:\n  s: {Nope: x}\n  condition: s\n"
	_, err := sigma.Parse(sigma.DefaultMapping(), "two.yml", []byte(text))
	require.Error(t, err)
	assert.Equal(t, `two.yml:6: rule "t": detection.s.userId|base64: modifier base64 is not supported: rdr's events are not encoded
two.yml:14: rule "u": detection.s.Nope: field "Nope" is not in the mapping rdr`, err.Error())
}

func TestRulesAreFreshEachCall(t *testing.T) {
	c := compile(t, mapping(t, windowsMapping), specBruteForce)
	a, b := c.Rules(), c.Rules()
	assert.NotSame(t, a[0].Detector, b[0].Detector, "each engine gets its own detectors")
}

package anomaly

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/rdr-go/rdr"
)

// RuleTests is a parsed rule test file: cases of timestamped input events
// and the alerts they must raise, in the spirit of `promtool test rules`.
// Run them with [RuleTests.Run], from Go tests or with the rdr-rules
// command:
//
//	go run ./cmd/rdr-rules test RULES.yaml... TESTS.yaml
//
// The file:
//
//	tests:
//	  - name: five failed logins fire one alert   # required, unique
//	    start: 2026-01-01T00:00:00Z               # optional; this is the default
//	    input:                                    # steps, in order
//	      - at: 10s              # required: an offset from start, or an RFC 3339 time
//	        eventType: login_failed              # required
//	        userId: alice                        # required
//	        ipAddress: 203.0.113.7               # optional
//	        severity: medium                     # optional; default low
//	        metadata: {app: vpn}                 # optional; scalar values
//	        repeat: 5            # optional: the same event 5 times…
//	        every: 2s            # …this far apart (default 1s)
//	      - advance: 10m         # move event time 10m past the latest step
//	    alerts:                  # required (may be []): every alert emitted, in order
//	      - rule: failed-login-burst             # rule, key, status: required
//	        key: alice
//	        status: firing
//	        count: 1             # optional, compared when given: id, groupBy,
//	        value: 5             # severity, riskScore, count, value, threshold,
//	        threshold: 5         # firstSeen, lastSeen, resolvedAt (offsets or
//	        firstSeen: 18s       # RFC 3339 times), message, events (how many)
//
// Numbers are compared to the decimals written (value: 13.94 matches
// 13.9443). Each case runs on fresh rules with a fake clock that follows
// the input's times.
type RuleTests struct {
	file  string
	cases []ruleTestCase
}

type ruleTestCase struct {
	name   string
	line   int
	start  time.Time
	steps  []testStep
	alerts []alertSpec
}

// testStep is one event (repeated) or one advance of the clock.
type testStep struct {
	ev      rdr.Event
	repeat  int
	every   time.Duration
	advance time.Duration // > 0 for an advance step
}

// alertSpec is one expected alert: the fields given, and their values.
type alertSpec struct {
	want     Alert
	events   int
	fields   []string // the fields given, in alertFields order
	decimals map[string]int
}

// The fields an alert spec may give, in the order they are printed.
var alertFields = []string{"rule", "key", "status", "id", "groupBy", "severity", "riskScore", "count", "value",
	"threshold", "firstSeen", "lastSeen", "resolvedAt", "message", "events"}

// DefaultTestStart is when a test case starts unless it says otherwise.
var DefaultTestStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const maxTestEvents = 1_000_000

// RuleTestResult is the outcome of one test case.
type RuleTestResult struct {
	// Name is the case's name.
	Name string
	// Passed reports whether the alerts were the expected ones.
	Passed bool
	// Diff shows, when the case failed, the expected alerts and the ones
	// emitted, line by line: "-" expected but not emitted, "+" emitted but
	// not expected.
	Diff string
	// Got holds every alert emitted, in order.
	Got []Alert
}

// ParseRuleTests parses a rule test file. file names it in errors, which
// are [*RuleTestError]s naming the case, the field and the line.
func ParseRuleTests(file string, data []byte) (*RuleTests, error) {
	rt := &RuleTests{file: file}
	bad := func(line int, test, field, format string, args ...any) error {
		return &RuleTestError{File: file, Line: line, Test: test, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	bodies, msg, line := parseYAML(data)
	if msg != "" {
		return nil, bad(line, "", "", "%s", msg)
	}
	var errs []error
	names := map[string]bool{}
	for _, body := range bodies {
		top, ok := entries(body)
		if !ok {
			return nil, bad(lineOf(body), "", "", "want a mapping with a tests list, got %s", kindOf(body))
		}
		for _, e := range top {
			if e.key != "tests" {
				errs = append(errs, bad(e.line, "", e.key, "unknown top-level field (want tests)"))
				continue
			}
			seq, ok := e.value.(*ast.SequenceNode)
			if !ok {
				errs = append(errs, bad(e.line, "", "tests", "want a list of test cases, got %s", kindOf(e.value)))
				continue
			}
			for i, item := range seq.Values {
				tc, name, yerr := parseTestCase(item, i+1)
				if yerr != nil {
					errs = append(errs, bad(yerr.line, name, yerr.field, "%s", yerr.reason))
					continue
				}
				if names[tc.name] {
					errs = append(errs, bad(tc.line, tc.name, "name", "used by more than one test"))
					continue
				}
				names[tc.name] = true
				rt.cases = append(rt.cases, tc)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(rt.cases) == 0 {
		return nil, bad(0, "", "tests", "no test cases")
	}
	return rt, nil
}

// Names returns the names of the cases, in order.
func (rt *RuleTests) Names() []string {
	out := make([]string, len(rt.cases))
	for i, c := range rt.cases {
		out[i] = c.name
	}
	return out
}

// Run runs every case on fresh rules from newRules, in order.
func (rt *RuleTests) Run(newRules func() ([]Rule, error)) ([]RuleTestResult, error) {
	out := make([]RuleTestResult, 0, len(rt.cases))
	for _, c := range rt.cases {
		rules, err := newRules()
		if err != nil {
			return nil, err
		}
		res, err := c.run(rules)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// Only returns the test cases whose name match accepts, in order.
func (rt *RuleTests) Only(match func(name string) bool) *RuleTests {
	out := &RuleTests{file: rt.file}
	for _, c := range rt.cases {
		if match(c.name) {
			out.cases = append(out.cases, c)
		}
	}
	return out
}

// RunRuleTests loads rule files and a test file and runs the tests.
func RunRuleTests(ruleFiles []string, testFile string) ([]RuleTestResult, error) {
	if _, err := LoadRules(ruleFiles...); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(testFile)
	if err != nil {
		return nil, err
	}
	rt, err := ParseRuleTests(testFile, data)
	if err != nil {
		return nil, err
	}
	return rt.Run(func() ([]Rule, error) { return LoadRules(ruleFiles...) })
}

func (c *ruleTestCase) run(rules []Rule) (RuleTestResult, error) {
	clock := rdr.NewFakeClock(c.start)
	eng, err := NewEngine(rules, Config{Clock: clock})
	if err != nil {
		return RuleTestResult{}, err
	}
	var got []Alert
	emit := func(a Alert) { got = append(got, a) }
	now := c.start
	for _, s := range c.steps {
		if s.advance > 0 {
			now = now.Add(s.advance)
			clock.Set(now)
			eng.Advance(now, emit)
			continue
		}
		ev := s.ev
		for range s.repeat {
			if ev.Time.After(now) {
				now = ev.Time
			}
			clock.Set(ev.Time)
			eng.Process(ev, emit)
			ev.Time = ev.Time.Add(s.every)
		}
	}
	res := RuleTestResult{Name: c.name, Got: got}
	res.Diff = diffAlerts(c.start, c.alerts, got)
	res.Passed = res.Diff == ""
	return res, nil
}

func parseTestCase(item ast.Node, n int) (ruleTestCase, string, *yamlErr) {
	tc := ruleTestCase{start: DefaultTestStart, line: lineOf(item)}
	name := fmt.Sprintf("#%d", n)
	es, ok := entries(item)
	if !ok {
		return tc, name, errAt(item, "", "want a mapping, got %s", kindOf(item))
	}
	m := map[string]entry{}
	for _, e := range es {
		switch e.key {
		case "name", "start", "input", "alerts":
			m[e.key] = e
		default:
			return tc, name, &yamlErr{line: e.line, field: e.key, reason: "unknown field (want name, start, input, alerts)"}
		}
	}
	e, ok := m["name"]
	if !ok || e.value == nil {
		return tc, name, &yamlErr{line: tc.line, field: "name", reason: "is required"}
	}
	s, err := str(e.value, "name")
	if err != nil {
		return tc, name, err
	}
	tc.name, name = s, s
	if e, ok := m["start"]; ok {
		s, ok := scalarText(e.value)
		t, terr := time.Parse(time.RFC3339Nano, s)
		if !ok || terr != nil {
			return tc, name, &yamlErr{line: e.line, field: "start", reason: fmt.Sprintf("want an RFC 3339 time, got %q", s)}
		}
		tc.start = t
	}
	e, ok = m["input"]
	if !ok || e.value == nil {
		return tc, name, &yamlErr{line: tc.line, field: "input", reason: "is required"}
	}
	seq, ok := e.value.(*ast.SequenceNode)
	if !ok {
		return tc, name, errAt(e.value, "input", "want a list of steps, got %s", kindOf(e.value))
	}
	total := 0
	for i, step := range seq.Values {
		st, err := parseStep(step, tc.start, fmt.Sprintf("input[%d]", i+1))
		if err != nil {
			return tc, name, err
		}
		if total += st.repeat; total > maxTestEvents {
			return tc, name, errAt(step, fmt.Sprintf("input[%d].repeat", i+1), "more than %d events in one test", maxTestEvents)
		}
		tc.steps = append(tc.steps, st)
	}
	e, ok = m["alerts"]
	if !ok {
		return tc, name, &yamlErr{line: tc.line, field: "alerts", reason: "is required (use [] for none)"}
	}
	if e.value != nil {
		seq, ok := e.value.(*ast.SequenceNode)
		if !ok {
			return tc, name, errAt(e.value, "alerts", "want a list of alerts, got %s", kindOf(e.value))
		}
		for i, a := range seq.Values {
			spec, err := parseAlertSpec(a, tc.start, fmt.Sprintf("alerts[%d]", i+1))
			if err != nil {
				return tc, name, err
			}
			tc.alerts = append(tc.alerts, spec)
		}
	}
	return tc, name, nil
}

// timeAt reads an offset from start ("90s") or an RFC 3339 time.
func timeAt(n ast.Node, start time.Time, field string) (time.Time, *yamlErr) {
	s, ok := scalarText(n)
	if !ok {
		return time.Time{}, errAt(n, field, "want an offset like 90s or an RFC 3339 time, got %s", kindOf(n))
	}
	if s == "0" {
		return start, nil
	}
	if d, err := parseDuration(s); err == nil {
		return start.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errAt(n, field, "want an offset like 90s or an RFC 3339 time, got %q", s)
	}
	return t, nil
}

func parseStep(n ast.Node, start time.Time, field string) (testStep, *yamlErr) {
	st := testStep{repeat: 1, every: time.Second}
	es, ok := entries(n)
	if !ok {
		return st, errAt(n, field, "want a mapping (an event, or advance), got %s", kindOf(n))
	}
	if len(es) == 1 && es[0].key == "advance" {
		if es[0].value == nil {
			return st, &yamlErr{line: es[0].line, field: field + ".advance", reason: "has no value"}
		}
		d, err := duration(es[0].value, field+".advance", 1)
		st.advance = d
		return st, err
	}
	ev := rdr.Event{Severity: rdr.SeverityLow}
	var hasAt bool
	for _, e := range es {
		f := field + "." + e.key
		if e.value == nil {
			return st, &yamlErr{line: e.line, field: f, reason: "has no value"}
		}
		var err *yamlErr
		switch e.key {
		case "at", "timestamp":
			ev.Time, err = timeAt(e.value, start, f)
			hasAt = true
		case "eventType":
			ev.Type, err = str(e.value, f)
		case "userId":
			if s, ok := scalarText(e.value); ok {
				ev.UserID = s
			} else {
				err = errAt(e.value, f, "want a string, got %s", kindOf(e.value))
			}
		case "ipAddress":
			s, ok := scalarText(e.value)
			a, perr := netip.ParseAddr(s)
			if !ok || perr != nil {
				err = errAt(e.value, f, "%q is not an IP address", s)
			}
			ev.IP = a
		case "severity":
			ev.Severity, err = severity(e.value, f)
		case "metadata":
			ev.Metadata, err = metadataOf(e.value, f)
		case "repeat":
			var r int64
			r, err = integer(e.value, f, 1, maxTestEvents)
			st.repeat = int(r)
		case "every":
			st.every, err = duration(e.value, f, 0)
		case "advance":
			err = &yamlErr{line: e.line, field: f, reason: "an advance step takes no other fields"}
		default:
			err = &yamlErr{line: e.line, field: f, reason: "unknown field (want at, eventType, userId, ipAddress, severity, metadata, repeat, every; or advance alone)"}
		}
		if err != nil {
			return st, err
		}
	}
	switch {
	case !hasAt:
		return st, errAt(n, field+".at", "is required")
	case ev.Type == "":
		return st, errAt(n, field+".eventType", "is required")
	case ev.UserID == "":
		return st, errAt(n, field+".userId", "is required")
	}
	st.ev = ev
	return st, nil
}

// metadataOf builds compact JSON metadata from a mapping of scalars.
func metadataOf(n ast.Node, field string) (rdr.Metadata, *yamlErr) {
	es, ok := entries(n)
	if !ok {
		return "", errAt(n, field, "want a mapping, got %s", kindOf(n))
	}
	b := []byte{'{'}
	for i, e := range es {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(e.key)
		b = append(append(b, k...), ':')
		switch v := e.value.(type) {
		case nil:
			b = append(b, "null"...)
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
			t := v.GetToken().Value
			if !json.Valid([]byte(t)) {
				t = strconv.Quote(t)
			}
			b = append(b, t...)
		default:
			s, ok := scalarText(v)
			if !ok {
				return "", errAt(v, field+"."+e.key, "want a scalar, got %s", kindOf(v))
			}
			q, _ := json.Marshal(s)
			b = append(b, q...)
		}
	}
	return rdr.Metadata(append(b, '}')), nil
}

func parseAlertSpec(n ast.Node, start time.Time, field string) (alertSpec, *yamlErr) {
	spec := alertSpec{decimals: map[string]int{}}
	es, ok := entries(n)
	if !ok {
		return spec, errAt(n, field, "want a mapping, got %s", kindOf(n))
	}
	given := map[string]bool{}
	for _, e := range es {
		f := field + "." + e.key
		if e.value == nil {
			return spec, &yamlErr{line: e.line, field: f, reason: "has no value"}
		}
		var err *yamlErr
		a := &spec.want
		switch e.key {
		case "rule":
			a.Rule, err = str(e.value, f)
		case "key":
			var ok bool
			if a.Key, ok = scalarText(e.value); !ok {
				err = errAt(e.value, f, "want a string, got %s", kindOf(e.value))
			}
		case "status":
			s, _ := scalarText(e.value)
			if a.Status.UnmarshalText([]byte(s)) != nil {
				err = errAt(e.value, f, "want firing or resolved, got %q", s)
			}
		case "id":
			a.ID, err = str(e.value, f)
		case "groupBy":
			a.GroupBy, err = str(e.value, f)
		case "severity":
			a.Severity, err = severity(e.value, f)
		case "message":
			a.Message, err = str(e.value, f)
		case "riskScore", "value", "threshold":
			var x float64
			x, err = number(e.value, f)
			spec.decimals[e.key] = decimalsOf(e.value.GetToken().Value)
			switch e.key {
			case "riskScore":
				a.RiskScore = x
			case "value":
				a.Value = x
			default:
				a.Threshold = x
			}
		case "count":
			a.Count, err = integer(e.value, f, 0, math.MaxInt64)
		case "events":
			var x int64
			x, err = integer(e.value, f, 0, 1000)
			spec.events = int(x)
		case "firstSeen":
			a.FirstSeen, err = timeAt(e.value, start, f)
		case "lastSeen":
			a.LastSeen, err = timeAt(e.value, start, f)
		case "resolvedAt":
			a.ResolvedAt, err = timeAt(e.value, start, f)
		default:
			err = &yamlErr{line: e.line, field: f, reason: "unknown field (want " + strings.Join(alertFields, ", ") + ")"}
		}
		if err != nil {
			return spec, err
		}
		given[e.key] = true
	}
	for _, k := range []string{"rule", "key", "status"} {
		if !given[k] {
			return spec, errAt(n, field+"."+k, "is required")
		}
	}
	for _, k := range alertFields {
		if given[k] {
			spec.fields = append(spec.fields, k)
		}
	}
	return spec, nil
}

func decimalsOf(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 && !strings.ContainsAny(s, "eE") {
		return len(s) - i - 1
	}
	return 0
}

// matches reports whether a has every field the spec gives.
func (s *alertSpec) matches(a *Alert) bool {
	for _, f := range s.fields {
		if s.render(f, a, time.Time{}) != s.render(f, &s.want, time.Time{}) {
			return false
		}
	}
	return true
}

// render writes one field of a, numbers to the spec's decimals, times as
// offsets from start (or RFC 3339 when start is zero or later).
func (s *alertSpec) render(field string, a *Alert, start time.Time) string {
	num := func(v float64) string {
		d, ok := s.decimals[field]
		if !ok {
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
		return strconv.FormatFloat(v, 'f', d, 64)
	}
	tm := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		if !start.IsZero() && !t.Before(start) {
			return formatDuration(t.Sub(start))
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	switch field {
	case "rule":
		return a.Rule
	case "key":
		return a.Key
	case "status":
		return a.Status.String()
	case "id":
		return a.ID
	case "groupBy":
		return a.GroupBy
	case "severity":
		return a.Severity.String()
	case "riskScore":
		return num(a.RiskScore)
	case "count":
		return strconv.FormatInt(a.Count, 10)
	case "value":
		return num(a.Value)
	case "threshold":
		return num(a.Threshold)
	case "firstSeen":
		return tm(a.FirstSeen)
	case "lastSeen":
		return tm(a.LastSeen)
	case "resolvedAt":
		return tm(a.ResolvedAt)
	case "message":
		return strconv.Quote(a.Message)
	case "events":
		if a == &s.want {
			return strconv.Itoa(s.events)
		}
		return strconv.Itoa(len(a.Events))
	}
	return ""
}

// line writes fields of a as "name=value" pairs, leaving out unset times.
func (s *alertSpec) line(fields []string, a *Alert, start time.Time) string {
	var b strings.Builder
	for _, f := range fields {
		v := s.render(f, a, start)
		if v == "-" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f)
		b.WriteByte('=')
		b.WriteString(v)
	}
	return b.String()
}

// diffAlerts compares the expected alerts with the emitted ones: "" when
// they match one for one, in order; otherwise a line diff, lining up the
// longest run of matching alerts.
func diffAlerts(start time.Time, want []alertSpec, got []Alert) string {
	n, m := len(want), len(got)
	// lcs[i][j]: the longest match of want[i:] and got[j:].
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if want[i].matches(&got[j]) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	if lcs[0][0] == n && n == m {
		return ""
	}
	// Extra alerts are shown with every field any spec gives, or a default
	// set when there are no specs.
	var union []string
	for _, f := range alertFields {
		for _, w := range want {
			if slices.Contains(w.fields, f) {
				union = append(union, f)
				break
			}
		}
	}
	if len(union) == 0 {
		union = []string{"rule", "key", "status", "count", "value", "threshold", "firstSeen", "lastSeen"}
	}
	plain := alertSpec{decimals: map[string]int{}}
	var b strings.Builder
	fmt.Fprintf(&b, "alerts differ: %d expected, %d emitted (- expected, not emitted; + emitted, not expected)\n", n, m)
	// Walk the alignment; between two matches, print the expected alerts
	// not emitted, then the emitted ones not expected, each of the latter
	// with the fields of the expected alert it stands against.
	var dels, adds []int
	flush := func() {
		for _, i := range dels {
			b.WriteString("  - " + want[i].line(want[i].fields, &want[i].want, start) + "\n")
		}
		used := make([]bool, len(dels))
		for _, j := range adds {
			s, fields := &plain, union
			for k, i := range dels {
				if !used[k] && want[i].want.Rule == got[j].Rule && want[i].want.Key == got[j].Key {
					used[k], s, fields = true, &want[i], want[i].fields
					break
				}
			}
			b.WriteString("  + " + s.line(fields, &got[j], start) + "\n")
		}
		dels, adds = dels[:0], adds[:0]
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && want[i].matches(&got[j]) && lcs[i][j] == lcs[i+1][j+1]+1:
			flush()
			b.WriteString("    " + want[i].line(want[i].fields, &want[i].want, start) + "\n")
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			adds = append(adds, j)
			j++
		default:
			dels = append(dels, i)
			i++
		}
	}
	flush()
	return b.String()
}

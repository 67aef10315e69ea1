package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sigma"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/backtest/events.ndjson")

const (
	hourEvents = "testdata/backtest/events.ndjson"
	hourExpect = "testdata/backtest/expect.yaml"
)

// hourStart is when the testdata's hour starts.
var hourStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// writeHour writes testdata/backtest/events.ndjson: an hour of 30 users'
// ordinary work (logins, MFA, file access, logouts, a mistyped password now
// and then), a brute force on u-007 from 198.51.100.23 that succeeds
// (09:20:00–09:20:30), and a password spray from 203.0.113.66 over 25 users
// (09:40:00–09:44:00). Lines are in arrival order: 4% of the ordinary events
// and a few of the spray's arrive up to 20 s late, and the brute force's
// successful login arrives before its failures (a source with a skewed
// clock), so that only applying the events by time detects it. Lines 301 and
// 602 are invalid.
func writeHour(w io.Writer) error {
	r := rand.New(rand.NewPCG(1, 2))
	type arrival struct {
		at time.Time
		ev rdr.Event
	}
	var evs []arrival
	add := func(delay time.Duration, ev rdr.Event) { evs = append(evs, arrival{ev.Time.Add(delay), ev}) }
	noise := func(ev rdr.Event) {
		var delay time.Duration
		if r.IntN(25) == 0 {
			delay = time.Duration(1+r.IntN(20)) * time.Second
		}
		add(delay, ev)
	}
	vpn := rdr.MakeMetadata("app", "vpn")
	for u := 1; u <= 30; u++ {
		user := fmt.Sprintf("u-%03d", u)
		home := netip.AddrFrom4([4]byte{10, 1, 0, byte(u)})
		ev := func(t time.Time, typ string, sev rdr.Severity, md rdr.Metadata) rdr.Event {
			return rdr.Event{Time: t, Type: typ, UserID: user, IP: home, Severity: sev, Metadata: md}
		}
		t := hourStart.Add(time.Duration(u) * 7 * time.Second)
		noise(ev(t, "login_success", rdr.SeverityLow, vpn))
		for {
			t = t.Add(time.Duration(90+r.IntN(150)) * time.Second)
			if t.After(hourStart.Add(58 * time.Minute)) {
				break
			}
			switch n := r.IntN(20); {
			case n < 12:
				noise(ev(t, "file_access", rdr.SeverityLow, rdr.MakeMetadata("path", fmt.Sprintf("/srv/share/%s/doc-%d.txt", user, r.IntN(40)))))
			case n < 14:
				noise(ev(t, "mfa_challenge", rdr.SeverityLow, vpn))
				noise(ev(t.Add(time.Duration(5+r.IntN(15))*time.Second), "mfa_success", rdr.SeverityLow, vpn))
			case n < 15:
				noise(ev(t, "login_failed", rdr.SeverityMedium, vpn))
				noise(ev(t.Add(10*time.Second), "login_success", rdr.SeverityLow, vpn))
			default:
				noise(ev(t, "logout", rdr.SeverityLow, vpn))
				noise(ev(t.Add(time.Duration(20+r.IntN(40))*time.Second), "login_success", rdr.SeverityLow, vpn))
			}
		}
	}
	attacker := netip.MustParseAddr("198.51.100.23")
	bf := hourStart.Add(20 * time.Minute)
	for k := range 12 {
		add(0, rdr.Event{Time: bf.Add(time.Duration(k) * 2 * time.Second), Type: "login_failed", UserID: "u-007", IP: attacker, Severity: rdr.SeverityMedium, Metadata: vpn})
	}
	add(-40*time.Second, rdr.Event{Time: bf.Add(30 * time.Second), Type: "login_success", UserID: "u-007", IP: attacker, Severity: rdr.SeverityLow, Metadata: vpn})
	sprayer := netip.MustParseAddr("203.0.113.66")
	spray := hourStart.Add(40 * time.Minute)
	for k := range 25 {
		var delay time.Duration
		if k%7 == 3 {
			delay = 15 * time.Second
		}
		add(delay, rdr.Event{Time: spray.Add(time.Duration(k) * 10 * time.Second), Type: "login_failed", UserID: fmt.Sprintf("u-%03d", k+1), IP: sprayer, Severity: rdr.SeverityMedium, Metadata: vpn})
	}
	slices.SortStableFunc(evs, func(a, b arrival) int { return a.at.Compare(b.at) })
	var b []byte
	for i, a := range evs {
		switch i {
		case 300:
			b = append(b, `{"timestamp":"2026-03-02T09:25:00Z","eventType":"login_success","severity":"low"}`+"\n"...)
		case 600:
			b = append(b, `{"timestamp":"2026-03-02T09:45:00Z","eventType":"file_acc`+"\n"...)
		}
		b = append(rdr.AppendJSON(b, a.ev), '\n')
	}
	_, err := w.Write(b)
	return err
}

func TestBacktestTestdataIsCurrent(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeHour(&b))
	if *update {
		require.NoError(t, os.WriteFile(hourEvents, b.Bytes(), 0o644))
	}
	got, err := os.ReadFile(hourEvents)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(b.Bytes(), got), "%s is not what writeHour writes: go test -run TestBacktestTestdataIsCurrent -update", hourEvents)
}

// The alerts of the default rules on the testdata's hour, in order.
const hourAlerts = `2026-03-02T09:20:08Z fired failed-login-burst userId=u-007 severity=medium count=1 tags=attack.credential-access,attack.t1110 failed-login-burst: 5 events in 1m (threshold 5) for userId u-007
2026-03-02T09:20:30Z fired brute-force-success userId=u-007 severity=critical count=1 tags=attack.credential-access,attack.t1110,attack.initial-access,attack.t1078 brute-force-success: 5 × login_failed then login_success within 5m for userId u-007
2026-03-02T09:20:30Z fired new-login-ip userId=u-007 severity=low count=1 tags=attack.initial-access,attack.t1078 new-login-ip: new ipAddress 198.51.100.23 (not seen in 30d) for userId u-007
2026-03-02T09:25:30Z resolved brute-force-success userId=u-007 severity=critical count=1 tags=attack.credential-access,attack.t1110,attack.initial-access,attack.t1078 brute-force-success: 5 × login_failed then login_success within 5m for userId u-007
2026-03-02T09:25:30Z resolved new-login-ip userId=u-007 severity=low count=1 tags=attack.initial-access,attack.t1078 new-login-ip: new ipAddress 198.51.100.23 (not seen in 30d) for userId u-007
2026-03-02T09:26:10Z resolved failed-login-burst userId=u-007 severity=medium count=8 tags=attack.credential-access,attack.t1110 failed-login-burst: 12 events in 1m (threshold 5) for userId u-007
2026-03-02T09:43:10Z fired password-spraying ipAddress=203.0.113.66 severity=high count=1 tags=attack.credential-access,attack.t1110.003 password-spraying: 20 distinct userId in 5m (threshold 20) for ipAddress 203.0.113.66
2026-03-02T09:50:50Z resolved password-spraying ipAddress=203.0.113.66 severity=high count=6 tags=attack.credential-access,attack.t1110.003 password-spraying: 25 distinct userId in 5m (threshold 20) for ipAddress 203.0.113.66
`

// hourSummary is the summary of the default rules on the testdata's hour,
// after the invalid lines and with the time line left out.
const hourSummary = `rdr-rules: testdata/backtest/events.ndjson:301: invalid event: field userId: is missing
rdr-rules: testdata/backtest/events.ndjson:602: invalid event: malformed JSON at byte 57: unexpected end of input in string
events:  886 from testdata/backtest/events.ndjson (888 lines, 2 invalid); 47 out of order, sorted by time
until:   2026-03-02T09:57:55Z
alerts:    fired updated resolved  rule
               1       0        1  failed-login-burst
               1       0        1  password-spraying
               1       0        1  brute-force-success
               0       0        0  mfa-not-completed
               1       0        1  new-login-ip
               0       0        0  first-privilege-change
               0       0        0  file-access-spike
               0       0        0  critical-event
               0       0        0  user-risk
`

var timeLine = regexp.MustCompile(`(?m)^time:    \S+ \(read \S+, sort \S+, rules \S+\): [0-9]+ events/s\n`)

// splitSummary cuts the time line out of stderr and returns the rest before
// and after it; ok says whether it was there.
func splitSummary(stderr string) (before, after string, ok bool) {
	loc := timeLine.FindStringIndex(stderr)
	if loc == nil {
		return stderr, "", false
	}
	return stderr[:loc[0]], stderr[loc[1]:], true
}

func TestBacktestRaisesTheAttacksInTheData(t *testing.T) {
	code, out, stderr := runCmd("backtest", "-expect", hourExpect, defaultRules, hourEvents)
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, hourAlerts, out)
	before, after, ok := splitSummary(stderr)
	require.True(t, ok, stderr)
	assert.Equal(t, hourSummary, before)
	assert.Equal(t, "PASS  testdata/backtest/expect.yaml: 4 alerts, as expected\n", after)

	// Without -expect: the same alerts and summary, no verdict, exit 0.
	code, out2, stderr := runCmd("backtest", defaultRules, hourEvents)
	assert.Equal(t, 0, code)
	assert.Equal(t, out, out2)
	before, after, _ = splitSummary(stderr)
	assert.Equal(t, hourSummary, before)
	assert.Empty(t, after)
}

// writeLines writes lines to a file in dir and returns its path.
func writeLines(t *testing.T, dir, name string, lines []string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return path
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestBacktestAppliesEventsInTimeOrder(t *testing.T) {
	dir := t.TempDir()
	lines := readLines(t, hourEvents)

	// The same lines in a random order: the same alerts, in the same order.
	shuffled := slices.Clone(lines)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	code, out, stderr := runCmd("backtest", defaultRules, writeLines(t, dir, "shuffled.ndjson", shuffled))
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, hourAlerts, out)
	assert.Regexp(t, `\n\s+1\s+0\s+1  brute-force-success\n`, stderr)

	// Sorted by time (the invalid lines dropped): in order, nothing sorted.
	var valid []string
	for _, l := range lines {
		if strings.Contains(l, `"userId"`) && strings.HasSuffix(l, "}") {
			valid = append(valid, l)
		}
	}
	require.Len(t, valid, 886)
	slices.SortStableFunc(valid, func(a, b string) int {
		return strings.Compare(a[:len(`{"timestamp":"2026-03-02T09:00:00Z"`)], b[:len(`{"timestamp":"2026-03-02T09:00:00Z"`)])
	})
	code, out, stderr = runCmd("backtest", defaultRules, writeLines(t, dir, "sorted.ndjson", valid))
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, hourAlerts, out)
	assert.Contains(t, stderr, "events:  886 from "+filepath.Join(dir, "sorted.ndjson")+" (886 lines, 0 invalid); in order\n")

	// The data needs the sort: applied in file order, the success that
	// arrives before its failures completes no brute force.
	dec, err := rdr.NewDecoder(rdr.DecoderConfig{Limits: rdr.Limits{MaxFuture: -1, MaxPast: -1}})
	require.NoError(t, err)
	clock := rdr.NewFakeClock(hourStart)
	eng, err := anomaly.NewEngine(anomaly.DefaultRules(), anomaly.Config{Clock: clock})
	require.NoError(t, err)
	fired := map[string]int{}
	for _, l := range lines {
		if ev, err := dec.DecodeEvent([]byte(l)); err == nil {
			clock.Set(ev.Time)
			eng.Process(ev, func(a anomaly.Alert) {
				if a.Status == anomaly.StatusFiring {
					fired[a.Rule]++
				}
			})
		}
	}
	// Nor does a challenge answered before it arrives count as answered.
	assert.Equal(t, map[string]int{"failed-login-burst": 1, "new-login-ip": 1, "password-spraying": 1, "mfa-not-completed": 2}, fired)
}

func TestBacktestReportsTheDifferences(t *testing.T) {
	dir := t.TempDir()
	expect := func(body string) string {
		path := filepath.Join(dir, "expect.yaml")
		require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
		return path
	}
	// hourExpect's entries, one at a time.
	const (
		burst = `  - rule: failed-login-burst
    key: u-007
    status: resolved
    firstSeen: 2026-03-02T09:20:08Z
`
		success = `  - {rule: brute-force-success, key: u-007, status: resolved, firstSeen: 2026-03-02T09:20:30Z}
`
		newIP = `  - {rule: new-login-ip, key: u-007, status: resolved, firstSeen: 2026-03-02T09:20:30Z}
`
		spray = `  - {rule: password-spraying, key: 203.0.113.66, status: resolved, firstSeen: 2026-03-02T09:43:10Z, count: 6}
`
	)
	for _, tc := range []struct {
		name, expect, verdict string
	}{
		{
			name:   "a missing alert",
			expect: "alerts:\n" + burst + success + newIP + spray + "  - {rule: failed-login-burst, key: u-012}\n",
			verdict: `FAIL  EXPECT: 5 expected, 4 raised, 4 as expected; 1 missing
  missing     line 9: rule=failed-login-burst key=u-012: no such alert
`,
		},
		{
			name:   "an unexpected alert",
			expect: "alerts:\n" + burst + success + spray,
			verdict: `FAIL  EXPECT: 3 expected, 4 raised, 3 as expected; 1 unexpected
  unexpected  rule=new-login-ip key=u-007 status=resolved severity=low firstSeen=2026-03-02T09:20:30Z lastSeen=2026-03-02T09:20:30Z count=1 tags=[attack.initial-access,attack.t1078]
`,
		},
		{
			name: "fields that differ",
			expect: "alerts:\n" + burst + success + newIP +
				"  - {rule: password-spraying, key: 203.0.113.66, status: firing, severity: critical, count: 6, tags: [attack.t1110.003, attack.credential-access]}\n",
			verdict: `FAIL  EXPECT: 4 expected, 4 raised, 3 as expected; 1 mismatch
  mismatch    line 8: rule=password-spraying key=203.0.113.66 status=firing severity=critical count=6 tags=[attack.credential-access,attack.t1110.003]: status: want firing, got resolved; severity: want critical, got high
`,
		},
		{
			name:   "no alerts expected",
			expect: "alerts: []\n",
			verdict: `FAIL  EXPECT: 0 expected, 4 raised, 0 as expected; 4 unexpected
  unexpected  rule=failed-login-burst key=u-007 status=resolved severity=medium firstSeen=2026-03-02T09:20:08Z lastSeen=2026-03-02T09:20:22Z count=8 tags=[attack.credential-access,attack.t1110]
  unexpected  rule=brute-force-success key=u-007 status=resolved severity=critical firstSeen=2026-03-02T09:20:30Z lastSeen=2026-03-02T09:20:30Z count=1 tags=[attack.credential-access,attack.t1110,attack.initial-access,attack.t1078]
  unexpected  rule=new-login-ip key=u-007 status=resolved severity=low firstSeen=2026-03-02T09:20:30Z lastSeen=2026-03-02T09:20:30Z count=1 tags=[attack.initial-access,attack.t1078]
  unexpected  rule=password-spraying key=203.0.113.66 status=resolved severity=high firstSeen=2026-03-02T09:43:10Z lastSeen=2026-03-02T09:44:00Z count=6 tags=[attack.credential-access,attack.t1110.003]
`,
		},
		{
			name:   "two entries for one alert",
			expect: "alerts:\n" + burst + success + newIP + spray + "  - {rule: password-spraying, key: 203.0.113.66}\n",
			verdict: `FAIL  EXPECT: 5 expected, 4 raised, 4 as expected; 1 duplicate
  duplicate   line 9: rule=password-spraying key=203.0.113.66: matches the alert that line 8 matches (firstSeen=2026-03-02T09:43:10Z)
`,
		},
		{
			name:    "JSON",
			expect:  `{"alerts": [{"rule": "failed-login-burst", "key": "u-007"}, {"rule": "brute-force-success", "key": "u-007"}, {"rule": "new-login-ip", "key": "u-007"}, {"rule": "password-spraying", "key": "203.0.113.66", "lastSeen": "2026-03-02T09:44:00Z"}]}`,
			verdict: "PASS  EXPECT: 4 alerts, as expected\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := expect(tc.expect)
			code, out, stderr := runCmd("backtest", "-expect", path, defaultRules, hourEvents)
			assert.Equal(t, hourAlerts, out)
			before, after, ok := splitSummary(stderr)
			require.True(t, ok, stderr)
			assert.Equal(t, hourSummary, before)
			assert.Equal(t, strings.ReplaceAll(tc.verdict, "EXPECT", path), after)
			if strings.HasPrefix(tc.verdict, "PASS") {
				assert.Equal(t, 0, code)
			} else {
				assert.Equal(t, 1, code)
			}
		})
	}
}

func TestBacktestTellsApartAlertsOfOneKeyByFirstSeen(t *testing.T) {
	dir := t.TempDir()
	// Two brute forces on alice, an hour apart: two alerts.
	var lines []string
	for _, start := range []string{"10:00", "11:00"} {
		for s := range 5 {
			lines = append(lines, fmt.Sprintf(`{"timestamp":"2026-03-02T%s:%02dZ","eventType":"login_failed","userId":"alice","severity":"medium"}`, start, s))
		}
	}
	events := writeLines(t, dir, "events.ndjson", lines)
	run := func(expect string) (int, string) {
		path := filepath.Join(dir, "expect.yaml")
		require.NoError(t, os.WriteFile(path, []byte(expect), 0o600))
		code, _, stderr := runCmd("backtest", "-expect", path, "-until", "+10m", defaultRules, events)
		_, after, _ := splitSummary(stderr)
		return code, strings.ReplaceAll(after, path, "EXPECT")
	}
	code, verdict := run(`alerts:
  - {rule: failed-login-burst, key: alice}
  - {rule: failed-login-burst, key: alice}
`)
	assert.Equal(t, 1, code)
	assert.Equal(t, `FAIL  EXPECT: 2 expected, 2 raised, 0 as expected; 2 ambiguous
  ambiguous   line 2: rule=failed-login-burst key=alice: matches 2 alerts (firstSeen 2026-03-02T10:00:04Z, 2026-03-02T11:00:04Z): give firstSeen to tell them apart
  ambiguous   line 3: rule=failed-login-burst key=alice: matches 2 alerts (firstSeen 2026-03-02T10:00:04Z, 2026-03-02T11:00:04Z): give firstSeen to tell them apart
`, verdict)

	code, verdict = run(`alerts:
  - {rule: failed-login-burst, key: alice, firstSeen: 2026-03-02T11:00:04Z, status: resolved}
  - {rule: failed-login-burst, key: alice, firstSeen: 2026-03-02T10:00:04Z, status: resolved}
`)
	assert.Equal(t, 0, code)
	assert.Equal(t, "PASS  EXPECT: 2 alerts, as expected\n", verdict)

	// A wrong firstSeen is compared with the alert no entry took.
	code, verdict = run(`alerts:
  - {rule: failed-login-burst, key: alice, firstSeen: 2026-03-02T11:00:04Z}
  - {rule: failed-login-burst, key: alice, firstSeen: 2026-03-02T10:30:00Z}
`)
	assert.Equal(t, 1, code)
	assert.Equal(t, `FAIL  EXPECT: 2 expected, 2 raised, 1 as expected; 1 mismatch
  mismatch    line 3: rule=failed-login-burst key=alice firstSeen=2026-03-02T10:30:00Z: firstSeen: want 2026-03-02T10:30:00Z, got 2026-03-02T10:00:04Z
`, verdict)
}

// The JUnit XML as CI systems read it.
type junitReport struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Time     string   `xml:"time,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Time     string `xml:"time,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junitReport {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(b, []byte(xml.Header)), "%s", b)
	var r junitReport
	require.NoError(t, xml.Unmarshal(b, &r), "%s", b)
	return r
}

func TestBacktestWritesJUnit(t *testing.T) {
	dir := t.TempDir()
	junit := filepath.Join(dir, "junit.xml")

	code, _, stderr := runCmd("backtest", "-expect", hourExpect, "-junit", junit, defaultRules, hourEvents)
	require.Equal(t, 0, code, stderr)
	r := readJUnit(t, junit)
	assert.Equal(t, 4, r.Tests)
	assert.Equal(t, 0, r.Failures)
	assert.Equal(t, 0, r.Errors)
	assert.Regexp(t, `^[0-9]+\.[0-9]{3}$`, r.Time)
	require.Len(t, r.Suites, 1)
	assert.Equal(t, 4, r.Suites[0].Tests)
	assert.Equal(t, 0, r.Suites[0].Failures)
	var names []string
	for _, c := range r.Suites[0].Cases {
		names = append(names, c.Classname+" | "+c.Name)
		assert.Nil(t, c.Failure)
		assert.Equal(t, "0", c.Time)
	}
	assert.Equal(t, []string{
		"backtest.failed-login-burst | rule=failed-login-burst key=u-007 status=resolved severity=medium firstSeen=2026-03-02T09:20:08Z lastSeen=2026-03-02T09:20:22Z count=8 tags=[attack.credential-access,attack.t1110]",
		"backtest.brute-force-success | rule=brute-force-success key=u-007 status=resolved severity=critical firstSeen=2026-03-02T09:20:30Z",
		"backtest.new-login-ip | rule=new-login-ip key=u-007 status=resolved firstSeen=2026-03-02T09:20:30Z",
		"backtest.password-spraying | rule=password-spraying key=203.0.113.66 status=resolved firstSeen=2026-03-02T09:43:10Z count=6",
	}, names)

	// A failing run writes it too: the entries, then the unexpected alerts.
	// The key is escaped: it holds characters XML must not see raw.
	expect := filepath.Join(dir, "expect.yaml")
	require.NoError(t, os.WriteFile(expect, []byte(`alerts:
  - {rule: failed-login-burst, key: u-007, status: firing}
  - {rule: failed-login-burst, key: "<u&'012\">"}
  - {rule: password-spraying, key: 203.0.113.66}
`), 0o600))
	code, _, stderr = runCmd("backtest", "-expect", expect, "-junit", junit, defaultRules, hourEvents)
	require.Equal(t, 1, code, stderr)
	r = readJUnit(t, junit)
	assert.Equal(t, 5, r.Tests)
	assert.Equal(t, 4, r.Failures)
	require.Len(t, r.Suites, 1)
	assert.Equal(t, 5, r.Suites[0].Tests)
	assert.Equal(t, 4, r.Suites[0].Failures)
	type kase struct{ name, failure, text string }
	var got []kase
	for _, c := range r.Suites[0].Cases {
		k := kase{name: c.Name}
		if c.Failure != nil {
			k.failure, k.text = c.Failure.Type+": "+c.Failure.Message, c.Failure.Text
		}
		got = append(got, k)
	}
	assert.Equal(t, []kase{
		{"rule=failed-login-burst key=u-007 status=firing", "mismatch: mismatch: status: want firing, got resolved",
			"mismatch  line 2: rule=failed-login-burst key=u-007 status=firing: status: want firing, got resolved"},
		{`rule=failed-login-burst key="<u&'012\">"`, "missing: missing: no such alert",
			`missing  line 3: rule=failed-login-burst key="<u&'012\">": no such alert`},
		{"rule=password-spraying key=203.0.113.66", "", ""},
		{"unexpected rule=brute-force-success key=u-007 status=resolved severity=critical firstSeen=2026-03-02T09:20:30Z lastSeen=2026-03-02T09:20:30Z count=1 tags=[attack.credential-access,attack.t1110,attack.initial-access,attack.t1078]",
			"unexpected: unexpected: raised, not expected",
			"unexpected  rule=brute-force-success key=u-007 status=resolved severity=critical firstSeen=2026-03-02T09:20:30Z lastSeen=2026-03-02T09:20:30Z count=1 tags=[attack.credential-access,attack.t1110,attack.initial-access,attack.t1078]"},
		{"unexpected rule=new-login-ip key=u-007 status=resolved severity=low firstSeen=2026-03-02T09:20:30Z lastSeen=2026-03-02T09:20:30Z count=1 tags=[attack.initial-access,attack.t1078]",
			"unexpected: unexpected: raised, not expected",
			"unexpected  rule=new-login-ip key=u-007 status=resolved severity=low firstSeen=2026-03-02T09:20:30Z lastSeen=2026-03-02T09:20:30Z count=1 tags=[attack.initial-access,attack.t1078]"},
	}, got)
}

func TestBacktestJSON(t *testing.T) {
	code, out, stderr := runCmd("backtest", "-json", defaultRules, hourEvents)
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 8)
	type alert struct {
		ID, Rule, GroupBy, Key, Status string
		FirstSeen, ResolvedAt          time.Time
		Count                          int64
		Tags                           []string
		Events                         []json.RawMessage
	}
	var got []string
	ids := map[string]string{}
	for _, l := range lines {
		var a alert
		require.NoError(t, json.Unmarshal([]byte(l), &a), l)
		got = append(got, fmt.Sprintf("%s %s %s=%s %s count=%d resolvedAt=%s tags=%d events=%d",
			a.Status, a.Rule, a.GroupBy, a.Key, a.FirstSeen.Format(time.TimeOnly), a.Count, a.ResolvedAt.Format(time.TimeOnly), len(a.Tags), len(a.Events)))
		if id, ok := ids[a.Rule+" "+a.Key]; ok {
			assert.Equal(t, id, a.ID, "one alert, one ID")
		}
		ids[a.Rule+" "+a.Key] = a.ID
	}
	assert.Equal(t, []string{
		"firing failed-login-burst userId=u-007 09:20:08 count=1 resolvedAt=00:00:00 tags=2 events=1",
		"firing brute-force-success userId=u-007 09:20:30 count=1 resolvedAt=00:00:00 tags=4 events=1",
		"firing new-login-ip userId=u-007 09:20:30 count=1 resolvedAt=00:00:00 tags=2 events=1",
		"resolved brute-force-success userId=u-007 09:20:30 count=1 resolvedAt=09:25:30 tags=4 events=1",
		"resolved new-login-ip userId=u-007 09:20:30 count=1 resolvedAt=09:25:30 tags=2 events=1",
		"resolved failed-login-burst userId=u-007 09:20:08 count=8 resolvedAt=09:26:10 tags=2 events=5",
		"firing password-spraying ipAddress=203.0.113.66 09:43:10 count=1 resolvedAt=00:00:00 tags=2 events=1",
		"resolved password-spraying ipAddress=203.0.113.66 09:43:10 count=6 resolvedAt=09:50:50 tags=2 events=5",
	}, got)
	before, _, _ := splitSummary(stderr)
	assert.Equal(t, hourSummary, before)
}

func TestBacktestUntil(t *testing.T) {
	dir := t.TempDir()
	// A burst at the very end: the alert is firing at the last event.
	var lines []string
	for s := range 6 {
		lines = append(lines, fmt.Sprintf(`{"timestamp":"2026-03-02T10:00:%02dZ","eventType":"login_failed","userId":"alice","severity":"medium"}`, s))
	}
	events := writeLines(t, dir, "events.ndjson", lines)
	const fired = "2026-03-02T10:00:04Z fired failed-login-burst userId=alice severity=medium count=1 tags=attack.credential-access,attack.t1110 failed-login-burst: 5 events in 1m (threshold 5) for userId alice\n"
	// The count holds until 10:01:00, and resolves 5m after.
	const resolved = "2026-03-02T10:06:00Z resolved failed-login-burst userId=alice severity=medium count=2 tags=attack.credential-access,attack.t1110 failed-login-burst: 6 events in 1m (threshold 5) for userId alice\n"
	for _, tc := range []struct {
		until, out, summary string
	}{
		{"", fired, "until:   2026-03-02T10:00:05Z\n"},
		{"+5m", fired, "until:   2026-03-02T10:05:05Z\n"},
		{"+10m", fired + resolved, "until:   2026-03-02T10:10:05Z\n"},
		{"2026-03-02T10:06:00Z", fired + resolved, "until:   2026-03-02T10:06:00Z\n"},
		{"2026-03-02T11:05:59.5+01:00", fired, "until:   2026-03-02T10:05:59.5Z\n"},
	} {
		t.Run(tc.until, func(t *testing.T) {
			args := []string{"backtest"}
			if tc.until != "" {
				args = append(args, "-until", tc.until)
			}
			code, out, stderr := runCmd(append(args, defaultRules, events)...)
			assert.Equal(t, 0, code, stderr)
			assert.Equal(t, tc.out, out)
			assert.Contains(t, stderr, "\n"+tc.summary)
		})
	}
}

func TestBacktestEmptyInput(t *testing.T) {
	empty := writeLines(t, t.TempDir(), "empty.ndjson", nil)
	for _, until := range []string{"+5m", "2026-03-02T10:00:00Z"} {
		code, out, stderr := runCmd("backtest", "-until", until, "-expect", hourExpect, defaultRules, empty)
		assert.Equal(t, 1, code)
		assert.Empty(t, out)
		assert.True(t, strings.HasPrefix(stderr, "events:  0 from "+empty+" (1 lines, 0 invalid); in order\n"), stderr)
		assert.Equal(t, until == "+5m", !strings.Contains(stderr, "\nuntil:"), stderr)
		assert.Contains(t, stderr, "FAIL  testdata/backtest/expect.yaml: 4 expected, 0 raised, 0 as expected; 4 missing\n")
	}
}

func TestBacktestReadsStdin(t *testing.T) {
	f, err := os.Open(hourEvents)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	stdin := os.Stdin
	os.Stdin = f
	t.Cleanup(func() { os.Stdin = stdin })

	code, out, stderr := runCmd("backtest", "-expect", hourExpect, defaultRules, "-")
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, hourAlerts, out)
	before, after, _ := splitSummary(stderr)
	assert.Equal(t, strings.ReplaceAll(hourSummary, hourEvents, "stdin"), before)
	assert.Equal(t, "PASS  testdata/backtest/expect.yaml: 4 alerts, as expected\n", after)
}

func TestBacktestCountsEveryInvalidLine(t *testing.T) {
	dir := t.TempDir()
	lines := []string{`{"timestamp":"2026-03-02T10:00:00Z","eventType":"login_failed","userId":"alice","severity":"medium"}`}
	for i := range 13 {
		lines = append(lines, fmt.Sprintf(`{"timestamp":"2026-03-02T10:00:%02dZ","eventType":"login_failed","userId":"alice","severity":"loud"}`, i))
	}
	lines = append(lines, "", "not json", strings.Repeat("x", readBufferSize+10),
		`{"timestamp":"2026-03-02T10:00:01Z","eventType":"login_failed","userId":"bob","severity":"medium"}`)
	events := writeLines(t, dir, "events.ndjson", lines)
	code, out, stderr := runCmd("backtest", defaultRules, events)
	assert.Equal(t, 0, code)
	assert.Empty(t, out)
	var want strings.Builder
	for line := 2; line <= 11; line++ {
		fmt.Fprintf(&want, "rdr-rules: %s:%d: invalid event: field severity: \"loud\" is not one of low, medium, high, critical\n", events, line)
	}
	fmt.Fprintf(&want, "rdr-rules: %s: 5 more invalid lines\n", events)
	fmt.Fprintf(&want, "events:  2 from %s (18 lines, 15 invalid); in order\n", events)
	assert.True(t, strings.HasPrefix(stderr, want.String()), "%s", stderr)
}

func TestBacktestUsageAndErrors(t *testing.T) {
	dir := t.TempDir()
	badRules := filepath.Join(dir, "rules.yaml")
	require.NoError(t, os.WriteFile(badRules, []byte("rules:\n  - name: r1\n    type: count\n    timespan: 1m\n    severity: loud\n    condition: {gte: 5}\n"), 0o600))
	badExpect := filepath.Join(dir, "expect.yaml")
	require.NoError(t, os.WriteFile(badExpect, []byte(`alerts:
  - {rule: failed-login-burst, key: u-007, status: fire}
  - {rule: failed-login-burst}
  - {rule: new-login-ip, key: u-007, firstSeen: "09:20:30"}
  - {rule: new-login-ip, key: u-007, colour: red}
`), 0o600))
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string // a line of it
	}{
		{"no files", []string{"backtest"}, 2, "usage:"},
		{"no events", []string{"backtest", defaultRules}, 2, "usage:"},
		{"unknown flag", []string{"backtest", "-frob", defaultRules, hourEvents}, 2, "flag provided but not defined: -frob"},
		{"bad -until", []string{"backtest", "-until", "tomorrow", defaultRules, hourEvents}, 2,
			`invalid value "tomorrow" for flag -until: "tomorrow": want an RFC 3339 time or +DURATION (+5m)`},
		{"negative -until", []string{"backtest", "-until", "+-5m", defaultRules, hourEvents}, 2,
			`invalid value "+-5m" for flag -until: "+-5m": a negative duration`},
		{"-until before the last event", []string{"backtest", "-until", "2026-03-02T09:00:00Z", defaultRules, hourEvents}, 2,
			"rdr-rules: -until 2026-03-02T09:00:00Z is before the last event, at 2026-03-02T09:57:55Z"},
		{"-junit without -expect", []string{"backtest", "-junit", filepath.Join(dir, "j.xml"), defaultRules, hourEvents}, 2, "rdr-rules: -junit needs -expect"},
		{"missing events", []string{"backtest", defaultRules, filepath.Join(dir, "none.ndjson")}, 2,
			"rdr-rules: open " + filepath.Join(dir, "none.ndjson") + ": no such file or directory"},
		{"missing -expect", []string{"backtest", "-expect", filepath.Join(dir, "none.yaml"), defaultRules, hourEvents}, 2,
			"rdr-rules: open " + filepath.Join(dir, "none.yaml") + ": no such file or directory"},
		{"bad -expect", []string{"backtest", "-expect", badExpect, defaultRules, hourEvents}, 2, `rdr-rules: ` + badExpect + `:2: alerts[1].status: want firing or resolved, got "fire"
rdr-rules: ` + badExpect + `:3: alerts[2].key: is required
rdr-rules: ` + badExpect + `:4: alerts[3].firstSeen: want an RFC 3339 time, got "09:20:30"
rdr-rules: ` + badExpect + `:5: alerts[4]: unknown field "colour"`},
		{"bad rules", []string{"backtest", badRules, hourEvents}, 1, `rdr-rules: ` + badRules + `:5: rule "r1": severity: unknown severity "loud" (want low, medium, high or critical)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCmd(tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Empty(t, out)
			assert.Contains(t, stderr, tc.stderr+"\n")
		})
	}
	// parseExpectations on its own, for the file's every other problem.
	for _, tc := range []struct{ name, body, err string }{
		{"not a mapping", "- {rule: r, key: k}\n", ":1: want a mapping with alerts: [...]"},
		{"no alerts", "expect: []\n", ":1: expect: unknown field (want alerts)"},
		{"alerts missing", "{}\n", ":1: alerts: is required (use [] for none)"},
		{"not a list", "alerts: {rule: r}\n", ":1: alerts: want a list"},
		{"bad count", "alerts:\n  - {rule: r, key: k, count: 0}\n", ":2: alerts[1].count: want at least 1, got 0"},
		{"bad severity", "alerts:\n  - rule: r\n    key: k\n    severity: loud\n", ":4: alerts[1].severity: want low, medium, high or critical, got \"loud\""},
		{"count not whole", "alerts:\n  - {rule: r, key: k, count: 3.5}\n", ":2: alerts[1].count: want a whole number, got 3.5"},
		{"count as text", "alerts:\n  - {rule: r, key: k, count: \"7\"}\n", `:2: alerts[1].count: want a whole number, got "7"`},
		{"key a list", "alerts:\n  - {rule: r, key: [a]}\n", ":2: alerts[1]: a value of the wrong kind: rule, key, status, severity, firstSeen and lastSeen are text, count a number, tags a list"},
		{"not an entry", "alerts:\n  - just text\n", ":2: alerts[1]: want a mapping with rule and key"},
		{"empty file", "", ": want a mapping with alerts: [...]"},
		{"bad YAML", "alerts: [\n", ":1: YAML: sequence end token ']' not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseExpectations("e.yaml", []byte(tc.body))
			require.Error(t, err)
			var ee *expectError
			require.True(t, errors.As(err, &ee), "%v", err)
			assert.True(t, strings.HasPrefix(err.Error(), "e.yaml"+tc.err), "%v", err)
		})
	}
}

func TestBacktestExpectFileForms(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []expectedAlert
	}{
		{"empty list", "alerts: []\n", nil},
		{"nothing after alerts", "alerts:\n", nil},
		{"a number as key", "alerts:\n  - {rule: r, key: 1001, count: 2, tags: []}\n",
			[]expectedAlert{{line: 2, rule: "r", key: "1001", count: 2, hasTags: true}}},
		{"JSON", `{"alerts": [{"rule": "r", "key": "k", "status": "firing", "severity": "HIGH", "firstSeen": "2026-03-02T10:00:00+01:00"}]}`,
			[]expectedAlert{{line: 1, rule: "r", key: "k", status: anomaly.StatusFiring, severity: rdr.SeverityHigh,
				firstSeen: time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("", 3600))}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseExpectations("e.yaml", []byte(tc.body))
			require.NoError(t, err)
			require.Len(t, got, len(tc.want))
			for i := range got {
				assert.True(t, got[i].firstSeen.Equal(tc.want[i].firstSeen))
				got[i].firstSeen, tc.want[i].firstSeen = time.Time{}, time.Time{}
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCheckAndTestTakeMapping(t *testing.T) {
	dir := t.TempDir()
	mapping := filepath.Join(dir, "mapping.yaml")
	require.NoError(t, os.WriteFile(mapping, sigma.DefaultMappingYAML(), 0o600))
	rule := filepath.Join(dir, "vpn.yml")
	require.NoError(t, os.WriteFile(rule, []byte(`title: VPN login from a sanctioned country
name: vpn-sanctioned-country
level: high
tags: [attack.initial-access, attack.t1078]
logsource: {product: rdr, category: authentication}
detection:
  sel: {eventType: login_success, app: vpn, country: [KP, IR]}
  condition: sel
`), 0o600))
	code, out, stderr := runCmd("check", "-mapping", mapping, defaultRules, rule)
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, "OK: 10 rules in 2 files\n", out)
	code, out, stderr = runCmd("test", "-mapping", mapping, "-run", "nothing matches this", defaultRules, rule, defaultTests)
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, "0 passed, 0 failed\n", out)
	// Without -mapping the default mapping applies.
	code, out, _ = runCmd("check", rule)
	assert.Equal(t, 0, code)
	assert.Equal(t, "OK: 1 rules in 1 file\n", out)
	// A mapping that does not cover the rule's fields refuses it, by name.
	require.NoError(t, os.WriteFile(mapping, []byte("logsources: [{product: rdr, category: authentication}]\n"), 0o600))
	code, _, stderr = runCmd("check", "-mapping", mapping, rule)
	assert.Equal(t, 1, code)
	want := ""
	for _, f := range []string{"eventType", "app", "country"} {
		want += "rdr-rules: " + rule + `:7: rule "vpn-sanctioned-country": detection.sel.` + f + `: field "` + f + `" is not in the mapping ` + mapping + "\n"
	}
	assert.Equal(t, want, stderr)
	code, _, _ = runCmd("check", "-mapping")
	assert.Equal(t, 2, code)
}

// TestBacktestBinary runs the command as a CI job would: built, as a
// process, on the file and on stdin, checking the exit code and output.
func TestBacktestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "rdr-rules")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	junit := filepath.Join(dir, "junit.xml")
	runBin := func(stdin io.Reader, args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		cmd.Stdin = stdin
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), out.String(), errb.String()
		}
		require.NoError(t, err)
		return 0, out.String(), errb.String()
	}

	code, out, stderr := runBin(nil, "backtest", "-expect", hourExpect, "-junit", junit, defaultRules, hourEvents)
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, hourAlerts, out)
	assert.True(t, strings.HasSuffix(stderr, "PASS  testdata/backtest/expect.yaml: 4 alerts, as expected\n"), stderr)
	r := readJUnit(t, junit)
	assert.Equal(t, 4, r.Tests)
	assert.Equal(t, 0, r.Failures)

	f, err := os.Open(hourEvents)
	require.NoError(t, err)
	defer f.Close()
	expect := filepath.Join(dir, "expect.yaml")
	require.NoError(t, os.WriteFile(expect, []byte("alerts: []\n"), 0o600))
	code, out, stderr = runBin(f, "backtest", "-json", "-expect", expect, "-junit", junit, defaultRules, "-")
	assert.Equal(t, 1, code, stderr)
	assert.Equal(t, 8, strings.Count(out, "\n"))
	assert.Contains(t, stderr, "events:  886 from stdin (888 lines, 2 invalid); 47 out of order, sorted by time\n")
	assert.Contains(t, stderr, "FAIL  "+expect+": 0 expected, 4 raised, 0 as expected; 4 unexpected\n")
	r = readJUnit(t, junit)
	assert.Equal(t, 4, r.Tests)
	assert.Equal(t, 4, r.Failures)

	code, _, stderr = runBin(nil, "backtest", defaultRules)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "usage:")
}

// writeDay writes n events of a day of a mid-size organisation in arrival
// order: 5,000 users with their own address (2% of logins from another one),
// 8 event types, traffic by the hour of the day (busy 8:00–18:00, quiet at
// night), a few users far busier than most, MFA challenges answered within
// seconds (97% of them), first privilege changes, and attacks: 20 brute
// forces, 3 of them successful, and 5 password sprays over 30 users each.
// late is the share of events that arrive up to a minute late.
func writeDay(w io.Writer, n int, late float64) error {
	r := rand.New(rand.NewPCG(5, 6))
	day := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	hourly := []int{1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 16, 15, 12, 15, 16, 15, 13, 9, 5, 3, 2, 2, 1, 1}
	total := 0
	for _, h := range hourly {
		total += h
	}
	at := func() time.Time {
		k := r.IntN(total)
		h := 0
		for ; k >= hourly[h]; h++ {
			k -= hourly[h]
		}
		return day.Add(time.Duration(h)*time.Hour + time.Duration(r.Int64N(int64(time.Hour))).Truncate(time.Millisecond))
	}
	const users = 5000
	home := func(u int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(u >> 8), byte(u), 10}) }
	apps := []rdr.Metadata{rdr.MakeMetadata("app", "vpn"), rdr.MakeMetadata("app", "mail"), rdr.MakeMetadata("app", "sso")}
	type arrival struct {
		at time.Time
		ev rdr.Event
	}
	evs := make([]arrival, 0, n+n/50)
	add := func(ev rdr.Event) {
		a := ev.Time
		if r.Float64() < late {
			a = a.Add(time.Duration(1+r.IntN(60)) * time.Second)
		}
		evs = append(evs, arrival{a, ev})
	}
	// The attacks first, so that the ordinary traffic fills the rest.
	for k := range 20 {
		user, ip, t := fmt.Sprintf("u-%04d", r.IntN(users)), netip.AddrFrom4([4]byte{198, 51, 100, byte(k)}), at()
		for i := range 12 {
			add(rdr.Event{Time: t.Add(time.Duration(i) * 2 * time.Second), Type: "login_failed", UserID: user, IP: ip, Severity: rdr.SeverityMedium, Metadata: apps[0]})
		}
		if k < 3 {
			add(rdr.Event{Time: t.Add(30 * time.Second), Type: "login_success", UserID: user, IP: ip, Severity: rdr.SeverityLow, Metadata: apps[0]})
		}
	}
	for k := range 5 {
		ip, t := netip.AddrFrom4([4]byte{203, 0, 113, byte(k)}), at()
		for i := range 30 {
			add(rdr.Event{Time: t.Add(time.Duration(i) * 9 * time.Second), Type: "login_failed", UserID: fmt.Sprintf("u-%04d", r.IntN(users)), IP: ip, Severity: rdr.SeverityMedium, Metadata: apps[2]})
		}
	}
	names := make([]string, users)
	for u := range names {
		names[u] = fmt.Sprintf("u-%04d", u)
	}
	for len(evs) < n {
		f := r.Float64()
		u := int(f * f * users) // a few users far busier than most
		ev := rdr.Event{Time: at(), UserID: names[u], IP: home(u), Severity: rdr.SeverityLow, Metadata: apps[u%3]}
		switch k := r.IntN(1000); {
		case k < 150:
			ev.Type = "login_success"
			if r.IntN(50) == 0 {
				ev.IP = netip.AddrFrom4([4]byte{100, 64, byte(r.IntN(256)), byte(r.IntN(256))})
			}
		case k < 190:
			ev.Type, ev.Severity = "login_failed", rdr.SeverityMedium
		case k < 290:
			ev.Type = "logout"
		case k < 790:
			ev.Type, ev.Metadata = "file_access", rdr.Metadata(fmt.Sprintf(`{"path":"/srv/share/team-%d/doc-%d.txt"}`, u%50, r.IntN(500)))
		case k < 890:
			ev.Type = "mfa_challenge"
			if r.IntN(100) < 97 {
				ok := ev
				ok.Time, ok.Type = ev.Time.Add(time.Duration(3+r.IntN(12))*time.Second), "mfa_success"
				add(ok)
			}
		case k < 990:
			ev.Type = "password_change"
		case k < 999:
			ev.Type, ev.Severity = "privilege_change", rdr.SeverityHigh
		default:
			ev.Type, ev.Severity = "privilege_change", rdr.SeverityCritical
		}
		add(ev)
	}
	slices.SortStableFunc(evs, func(a, b arrival) int { return a.at.Compare(b.at) })
	bw := bufio.NewWriterSize(w, 1<<20)
	var b []byte
	for _, a := range evs {
		b = append(rdr.AppendJSON(b[:0], a.ev), '\n')
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// BenchmarkBacktest backtests the default rules on a day of 500,000 events,
// in order and with 1% of them late, reading the file as the command does.
//
//	go test -run '^$' -bench Backtest -benchtime 1x -count 3 ./cmd/rdr-rules
func BenchmarkBacktest(b *testing.B) {
	const n = 500_000
	dir := b.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	require.NoError(b, os.WriteFile(rules, anomaly.DefaultRulesYAML(), 0o600))
	for _, bc := range []struct {
		name string
		late float64
	}{{"in-order", 0}, {"1%-late", 0.01}} {
		b.Run(bc.name, func(b *testing.B) {
			events := filepath.Join(dir, bc.name+".ndjson")
			f, err := os.Create(events)
			require.NoError(b, err)
			require.NoError(b, writeDay(f, n, bc.late))
			require.NoError(b, f.Close())
			st, err := os.Stat(events)
			require.NoError(b, err)
			var out countingWriter
			var stderr bytes.Buffer
			b.ReportAllocs()
			b.SetBytes(st.Size())
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				out.lines, stderr = 0, bytes.Buffer{}
				if code := run([]string{"backtest", rules, events}, &out, &stderr); code != 0 {
					b.Fatalf("exit %d: %s", code, stderr.String())
				}
			}
			runtime.ReadMemStats(&after)
			total := float64(n) * float64(b.N)
			b.ReportMetric(total/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/event")
			b.ReportMetric(float64(out.lines), "emissions")
			for _, l := range strings.Split(stderr.String(), "\n") {
				if strings.HasPrefix(l, "events:") || strings.HasPrefix(l, "time:") {
					b.Log(l)
				}
			}
		})
	}
}

// countingWriter counts the lines written to it.
type countingWriter struct{ lines int }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.lines += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

// Command rdr-rules checks rdr rule files, runs their tests and backtests
// them on recorded events, like `promtool check rules` and `promtool test
// rules`.
//
//	rdr-rules check [-mapping FILE] RULES...
//	rdr-rules test [-mapping FILE] [-run REGEXP] [-v] RULES... TESTS.yaml
//	rdr-rules backtest [-mapping FILE] [-json] [-expect FILE] [-junit FILE] [-until TIME|+DURATION] RULES... EVENTS.ndjson
//
// check parses the rule files and reports every problem, with file, line,
// rule and field. test runs each case of the test file (see
// anomaly.RuleTests for its format) on fresh rules with a fake clock, and
// prints PASS or FAIL per case, with a diff of expected and emitted alerts
// for each failure. Every command loads rule files the same way; -mapping
// names the field mapping for Sigma rule files.
//
// The exit code is 0 when everything passed, 1 when a rule file is invalid
// or a test failed, and 2 for a usage error or a file that cannot be read.
//
// To test rdr's default rules:
//
//	go run ./cmd/rdr-rules test anomaly/rules/default.yaml anomaly/rules/default_test.yaml
//
// # Backtest
//
// backtest runs the rules over recorded events — a day of them, say — as the
// live pipeline would: through one anomaly.Engine, by event time. EVENTS.ndjson
// holds one event a line in rdr's wire format ("-" reads stdin); timestamps
// may lie any distance in the past. Events out of order are applied in time
// order (a stable sort, done only when the file is not in order). The events
// are held in memory while they are sorted and run: about 155 bytes an event
// of 160 bytes on the wire.
// A line that does not decode is reported on stderr with its number (the
// first 10, then how many more) and counted, and the run goes on; blank lines
// are skipped. After the last event, event time advances to -until: an RFC
// 3339 time, or +DURATION after the last event (default: the last event's
// time), so that alerts due to resolve by then resolve.
//
// Every alert emission is printed on stdout, one a line:
//
//	TIME STATUS RULE GROUPBY=KEY severity=SEVERITY count=N [tags=T,...] MESSAGE
//
// TIME is the emission's event time (the latest detection; for resolved,
// the resolve time), RFC 3339 in UTC; STATUS is fired, updated or resolved.
// With -json each emission is an anomaly.Alert as JSON, one a line, and stdout
// carries nothing else. A summary follows on stderr: the events read, invalid
// and out of order, the alerts fired, updated and resolved per rule, the wall
// time and the events per second.
//
// -expect FILE compares the alerts with the expected ones, listed one entry
// per alert (per alert ID) in YAML or JSON:
//
//	alerts:                              # required; [] (or nothing) expects no alert at all
//	  - rule: brute-force-success        # required
//	    key: u-007                       # required: the group-by value
//	    status: resolved                 # optional: firing or resolved, at the end of the run
//	    severity: critical               # optional
//	    firstSeen: 2026-03-02T09:20:30Z  # optional, RFC 3339: the first detection
//	    lastSeen: 2026-03-02T09:20:30Z   # optional: the latest detection
//	    count: 1                         # optional: the detections gathered
//	    tags: [attack.t1110]             # optional: exactly these tags, in any order
//
// An entry matches an alert when every field it gives is the alert's. Each
// entry must match exactly one alert, and no two entries the same one: when
// a rule fires twice for a key, firstSeen tells the alerts apart. An entry
// that matches no alert is compared with the alert of its rule and key that no
// entry matched (a mismatch, shown field by field, want and got), or else is
// missing; an alert no entry matched is unexpected. The outcome is printed on
// stderr, PASS or FAIL, with a line per difference:
//
//	FAIL  expect.yaml: 4 expected, 4 raised, 2 as expected; 1 missing, 1 mismatch, 1 unexpected
//	  missing     line 3: rule=failed-login-burst key=u-099: no such alert
//	  mismatch    line 9: rule=password-spraying key=203.0.113.66 status=firing: status: want firing, got resolved
//	  unexpected  rule=new-login-ip key=u-007 status=resolved severity=low firstSeen=... lastSeen=... count=1 tags=[...]
//
// An unexpected alert is shown with every field an entry can give, ready to
// be copied into the file. Any difference exits 1; an -expect file that
// cannot be read or parsed exits 2, before the run.
//
// -junit FILE (with -expect) writes the comparison as JUnit XML, for CI
// systems' test reports: one test case per entry, failing unless it matched,
// and one failing test case per unexpected alert. It is written after every
// run, passed or not; not when the run could not start (bad rules, flags or
// files).
//
// To backtest the default rules on a recorded hour of events:
//
//	go run ./cmd/rdr-rules backtest -expect cmd/rdr-rules/testdata/backtest/expect.yaml \
//		anomaly/rules/default.yaml cmd/rdr-rules/testdata/backtest/events.ndjson
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/rdr-go/rdr/anomaly"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  rdr-rules check [-mapping FILE] RULES...
  rdr-rules test [-mapping FILE] [-run REGEXP] [-v] RULES... TESTS.yaml
  rdr-rules backtest [-mapping FILE] [-json] [-expect FILE] [-junit FILE] [-until TIME|+DURATION] RULES... EVENTS.ndjson
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "check":
		return check(args[1:], stdout, stderr)
	case "test":
		return test(args[1:], stdout, stderr)
	case "backtest":
		return backtest(args[1:], os.Stdin, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "rdr-rules: unknown command %q\n%s", args[0], usage)
	return 2
}

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mapping := fs.String("mapping", "", "the field mapping for Sigma rule files (`FILE`)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	files := fs.Args()
	if len(files) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	rules, err := loadRules(files, *mapping)
	if err != nil {
		printErr(stderr, err)
		return 1
	}
	plural := "s"
	if len(files) == 1 {
		plural = ""
	}
	fmt.Fprintf(stdout, "OK: %d rules in %d file%s\n", len(rules), len(files), plural)
	return 0
}

func test(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mapping := fs.String("mapping", "", "the field mapping for Sigma rule files (`FILE`)")
	runRE := fs.String("run", "", "run only the test cases whose name matches `REGEXP`")
	verbose := fs.Bool("v", false, "print every alert emitted by failing and passing cases")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	files := fs.Args()
	if len(files) < 2 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var match *regexp.Regexp
	if *runRE != "" {
		var err error
		if match, err = regexp.Compile(*runRE); err != nil {
			fmt.Fprintf(stderr, "rdr-rules: -run: %v\n", err)
			return 2
		}
	}
	ruleFiles, testFile := files[:len(files)-1], files[len(files)-1]
	if _, err := loadRules(ruleFiles, *mapping); err != nil {
		printErr(stderr, err)
		return 1
	}
	data, err := os.ReadFile(testFile)
	if err != nil {
		fmt.Fprintf(stderr, "rdr-rules: %v\n", err)
		return 2
	}
	tests, err := anomaly.ParseRuleTests(testFile, data)
	if err != nil {
		printErr(stderr, err)
		return 2
	}
	if match != nil {
		tests = tests.Only(match.MatchString)
	}
	results, err := tests.Run(func() ([]anomaly.Rule, error) { return loadRules(ruleFiles, *mapping) })
	if err != nil {
		printErr(stderr, err)
		return 1
	}
	passed, failed := 0, 0
	for _, r := range results {
		if r.Passed {
			passed++
			fmt.Fprintf(stdout, "PASS  %s (%d alerts)\n", r.Name, len(r.Got))
		} else {
			failed++
			fmt.Fprintf(stdout, "FAIL  %s\n", r.Name)
			for _, line := range strings.Split(strings.TrimRight(r.Diff, "\n"), "\n") {
				fmt.Fprintf(stdout, "      %s\n", line)
			}
		}
		if *verbose {
			for _, a := range r.Got {
				fmt.Fprintf(stdout, "        %s %s key=%s count=%d value=%g threshold=%g firstSeen=%s lastSeen=%s  %s\n",
					a.Status, a.Rule, a.Key, a.Count, a.Value, a.Threshold,
					a.FirstSeen.Format("15:04:05.999"), a.LastSeen.Format("15:04:05.999"), a.Message)
			}
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

// printErr prints each of a joined error's errors on its own line.
func printErr(w io.Writer, err error) {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		for _, e := range joined.Unwrap() {
			printErr(w, e)
		}
		return
	}
	fmt.Fprintf(w, "rdr-rules: %v\n", err)
}

// Command rdr-rules checks rdr rule files and runs their tests, like
// `promtool check rules` and `promtool test rules`.
//
//	rdr-rules check [-mapping FILE] RULES...
//	rdr-rules test [-mapping FILE] [-run REGEXP] [-v] RULES... TESTS.yaml
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

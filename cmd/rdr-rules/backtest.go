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
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
)

// readBufferSize is the events reader's buffer: lines longer than it are
// invalid (the decoder refuses events over 64 KiB anyway).
const readBufferSize = 1 << 20

// maxInvalidShown is how many invalid lines are reported one by one.
const maxInvalidShown = 10

// backtest runs rules over a file of events by event time, prints every alert
// emission and, with -expect, compares the alerts with the expected ones.
func backtest(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mapping := fs.String("mapping", "", "the field mapping for Sigma rule files (`FILE`)")
	asJSON := fs.Bool("json", false, "print the alerts as NDJSON")
	expectFile := fs.String("expect", "", "compare the alerts with the expected ones in `FILE` (YAML or JSON)")
	junitFile := fs.String("junit", "", "write the comparison as JUnit XML to `FILE` (needs -expect)")
	var until untilFlag
	fs.Var(&until, "until", "advance event time to `TIME|+DURATION` after the last event (default: the last event's time)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	files := fs.Args()
	if len(files) < 2 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if *junitFile != "" && *expectFile == "" {
		fmt.Fprintf(stderr, "rdr-rules: -junit needs -expect\n%s", usage)
		return 2
	}
	ruleFiles, eventsFile := files[:len(files)-1], files[len(files)-1]
	rules, err := loadRules(ruleFiles, *mapping)
	if err != nil {
		printErr(stderr, err)
		return 1
	}
	var want []expectedAlert
	if *expectFile != "" {
		data, err := os.ReadFile(*expectFile)
		if err != nil {
			fmt.Fprintf(stderr, "rdr-rules: %v\n", err)
			return 2
		}
		if want, err = parseExpectations(*expectFile, data); err != nil {
			printErr(stderr, err)
			return 2
		}
	}
	in, name := stdin, "stdin"
	if eventsFile != "-" {
		f, err := os.Open(eventsFile)
		if err != nil {
			fmt.Fprintf(stderr, "rdr-rules: %v\n", err)
			return 2
		}
		defer f.Close()
		in, name = f, eventsFile
	}

	start := time.Now()
	dec, err := rdr.NewDecoder(rdr.DecoderConfig{Limits: rdr.Limits{MaxFuture: -1, MaxPast: -1}})
	if err != nil {
		panic(err) // a wiring mistake: the limits above are valid
	}
	read, err := readEvents(in, dec, func(line int, err error) {
		fmt.Fprintf(stderr, "rdr-rules: %s:%d: %s\n", name, line, invalidReason(err))
	})
	if err != nil {
		fmt.Fprintf(stderr, "rdr-rules: %s: %v\n", name, err)
		return 2
	}
	if n := read.invalid - maxInvalidShown; n > 0 {
		fmt.Fprintf(stderr, "rdr-rules: %s: %d more invalid lines\n", name, n)
	}
	readDone := time.Now()
	if read.outOfOrder > 0 {
		slices.SortStableFunc(read.events, func(a, b rdr.Event) int { return a.Time.Compare(b.Time) })
	}
	sortDone := time.Now()

	var end time.Time
	if n := len(read.events); n > 0 {
		end = read.events[n-1].Time
	}
	switch {
	case until.abs.IsZero():
		if !end.IsZero() { // no events, no time to be relative to
			end = end.Add(until.rel)
		}
	case until.abs.Before(end):
		fmt.Fprintf(stderr, "rdr-rules: -until %s is before the last event, at %s\n", until.text, formatTime(end))
		return 2
	default:
		end = until.abs
	}

	// The clock follows the data, so that MaxFuture (judged against it)
	// rejects no historical event. It is moved on at most once a minute of
	// event time, a minute ahead: a Set allocates, and the engine reads the
	// clock for nothing else.
	clock := rdr.NewFakeClock(time.Time{})
	var clockAt time.Time
	eng, err := anomaly.NewEngine(rules, anomaly.Config{Clock: clock})
	if err != nil {
		printErr(stderr, err)
		return 1
	}
	out := bufio.NewWriterSize(stdout, 64<<10)
	log := alertLog{w: out, json: *asJSON, index: map[string]int{}}
	emit := log.emit
	for _, ev := range read.events {
		if !ev.Time.Before(clockAt) {
			clockAt = ev.Time.Add(time.Minute)
			clock.Set(clockAt)
		}
		eng.Process(ev, emit)
	}
	if !end.IsZero() {
		clock.Set(end)
		eng.Advance(end, emit)
	}
	if log.err == nil {
		log.err = out.Flush()
	}
	if log.err != nil {
		fmt.Fprintf(stderr, "rdr-rules: writing the alerts: %v\n", log.err)
		return 2
	}
	elapsed := time.Since(start)
	printSummary(stderr, name, read, end, eng.Stats(), summaryTimes{
		total: elapsed, read: readDone.Sub(start), sort: sortDone.Sub(readDone), rules: time.Since(sortDone),
	})

	if *expectFile == "" {
		return 0
	}
	results := compareAlerts(want, log.alerts)
	failed := printComparison(stderr, *expectFile, len(want), len(log.alerts), results)
	if *junitFile != "" {
		if err := writeJUnit(*junitFile, *expectFile, name, results, elapsed); err != nil {
			fmt.Fprintf(stderr, "rdr-rules: %v\n", err)
			return 2
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// untilFlag is -until: an RFC 3339 time, or +DURATION after the last event.
type untilFlag struct {
	text string
	abs  time.Time     // zero when relative
	rel  time.Duration // after the last event
}

func (u *untilFlag) String() string { return u.text }

func (u *untilFlag) Set(s string) error {
	if d, ok := strings.CutPrefix(s, "+"); ok {
		v, err := rdr.ParseDuration(d)
		if err != nil {
			return err
		}
		if v < 0 {
			return fmt.Errorf("%q: a negative duration", s)
		}
		*u = untilFlag{text: s, rel: v}
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("%q: want an RFC 3339 time or +DURATION (+5m)", s)
	}
	*u = untilFlag{text: s, abs: t}
	return nil
}

// eventsRead is what readEvents found.
type eventsRead struct {
	events []rdr.Event
	// lines counts every line, blank ones too; invalid those that did not
	// decode.
	lines, invalid int
	// outOfOrder counts events earlier than an event before them.
	outOfOrder int
}

// readEvents decodes NDJSON from r, one event a line, and calls invalid for
// each line that does not decode (with its number, from 1) up to
// maxInvalidShown times. Blank lines are skipped. The error is a read error.
func readEvents(r io.Reader, dec *rdr.Decoder, invalid func(line int, err error)) (eventsRead, error) {
	var res eventsRead
	if f, ok := r.(*os.File); ok {
		// Room for the events of a file of typical lines, so the slice
		// rarely grows.
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			res.events = make([]rdr.Event, 0, st.Size()/160+16)
		}
	}
	bad := func(err error) {
		if res.invalid++; res.invalid <= maxInvalidShown {
			invalid(res.lines, err)
		}
	}
	br := bufio.NewReaderSize(r, readBufferSize)
	var latest time.Time
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 || err == bufio.ErrBufferFull {
			res.lines++
		}
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			bad(fmt.Errorf("longer than %d bytes", readBufferSize))
		} else if line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r")); len(bytes.TrimSpace(line)) > 0 {
			ev, derr := dec.DecodeEvent(line)
			switch {
			case derr != nil:
				bad(derr)
			default:
				if ev.Time.Before(latest) {
					res.outOfOrder++
				} else {
					latest = ev.Time
				}
				res.events = append(res.events, ev)
			}
		}
		if err == io.EOF {
			return res, nil
		}
		if err != nil {
			return res, err
		}
	}
}

// invalidReason says what is wrong with a line, without the decoder's
// package prefix.
func invalidReason(err error) string {
	var ie *rdr.InvalidEventError
	if errors.As(err, &ie) {
		if ie.Field == "" {
			return "invalid event: " + ie.Reason
		}
		return "invalid event: field " + ie.Field + ": " + ie.Reason
	}
	return "invalid event: " + err.Error()
}

// alertLog prints each alert emission and keeps every alert's latest
// emission, in the order the alerts first fired.
type alertLog struct {
	w      *bufio.Writer
	json   bool
	buf    []byte
	err    error
	index  map[string]int // alert ID → index in alerts
	alerts []anomaly.Alert
}

func (l *alertLog) emit(a anomaly.Alert) {
	i, seen := l.index[a.ID]
	kept := a
	kept.Events = nil // not compared; and the engine's to reuse
	if seen {
		l.alerts[i] = kept
	} else {
		l.index[a.ID] = len(l.alerts)
		l.alerts = append(l.alerts, kept)
	}
	if l.err != nil {
		return
	}
	if l.json {
		b, err := json.Marshal(a)
		if err != nil {
			l.err = err
			return
		}
		l.buf = append(append(l.buf[:0], b...), '\n')
	} else {
		l.buf = appendAlertLine(l.buf[:0], a, seen)
	}
	_, l.err = l.w.Write(l.buf)
}

// appendAlertLine appends the text line of one emission:
//
//	TIME STATUS RULE GROUPBY=KEY severity=S count=N [tags=T,…] MESSAGE
func appendAlertLine(b []byte, a anomaly.Alert, seen bool) []byte {
	at, status := a.LastSeen, "fired"
	switch {
	case a.Status == anomaly.StatusResolved:
		at, status = a.ResolvedAt, "resolved"
	case seen:
		status = "updated"
	}
	b = at.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, status...)
	b = append(b, ' ')
	b = append(b, a.Rule...)
	b = append(b, ' ')
	b = append(b, a.GroupBy...)
	b = append(b, '=')
	b = append(b, quoteValue(a.Key)...)
	b = append(b, " severity="...)
	b = append(b, a.Severity.String()...)
	b = append(b, " count="...)
	b = strconv.AppendInt(b, a.Count, 10)
	if len(a.Tags) > 0 {
		b = append(b, " tags="...)
		b = append(b, strings.Join(a.Tags, ",")...)
	}
	b = append(b, ' ')
	b = append(b, a.Message...)
	return append(b, '\n')
}

// quoteValue quotes a key or value that would not read as one word.
func quoteValue(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '"' || r == '=' || r == 0x7f }) {
		return strconv.Quote(s)
	}
	return s
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

type summaryTimes struct{ total, read, sort, rules time.Duration }

// printSummary prints what was read, the alerts per rule and the speed.
func printSummary(w io.Writer, name string, read eventsRead, until time.Time, st anomaly.Stats, t summaryTimes) {
	order := "in order"
	if read.outOfOrder > 0 {
		order = fmt.Sprintf("%d out of order, sorted by time", read.outOfOrder)
	}
	fmt.Fprintf(w, "events:  %d from %s (%d lines, %d invalid); %s", len(read.events), name, read.lines, read.invalid, order)
	if st.Rejected > 0 {
		fmt.Fprintf(w, "; %d rejected by the engine", st.Rejected)
	}
	fmt.Fprintln(w)
	if !until.IsZero() {
		fmt.Fprintf(w, "until:   %s\n", formatTime(until))
	}
	fmt.Fprintf(w, "alerts:  %7s %7s %8s  %s\n", "fired", "updated", "resolved", "rule")
	for _, r := range st.Rules {
		fmt.Fprintf(w, "         %7d %7d %8d  %s\n", r.Fired, r.Updated, r.Resolved, r.Rule)
	}
	rate := 0.0
	if t.total > 0 {
		rate = float64(len(read.events)) / t.total.Seconds()
	}
	fmt.Fprintf(w, "time:    %v (read %v, sort %v, rules %v): %.0f events/s\n",
		roundDuration(t.total), roundDuration(t.read), roundDuration(t.sort), roundDuration(t.rules), rate)
}

// roundDuration keeps three or four significant digits: 1.234s, 56.7ms, 890µs.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// An expectedAlert is one entry of an -expect file. Zero values are fields
// not given, except for tags (hasTags).
type expectedAlert struct {
	line      int
	rule, key string
	status    anomaly.Status
	severity  rdr.Severity
	firstSeen time.Time
	lastSeen  time.Time
	count     int64
	tags      []string
	hasTags   bool
}

// expectEntry is an entry as written; pointers tell given from not given.
type expectEntry struct {
	Rule      *string   `yaml:"rule"`
	Key       *string   `yaml:"key"`
	Status    *string   `yaml:"status"`
	Severity  *string   `yaml:"severity"`
	FirstSeen *string   `yaml:"firstSeen"`
	LastSeen  *string   `yaml:"lastSeen"`
	Count     any       `yaml:"count"` // checked by hand: go-yaml truncates 3.5 to an int64
	Tags      *[]string `yaml:"tags"`
}

// expectError is a problem in an -expect file.
type expectError struct {
	file  string
	line  int
	field string
	msg   string
}

func (e *expectError) Error() string {
	var b strings.Builder
	b.WriteString(e.file)
	if e.line > 0 {
		fmt.Fprintf(&b, ":%d", e.line)
	}
	b.WriteString(": ")
	if e.field != "" {
		b.WriteString(e.field + ": ")
	}
	b.WriteString(e.msg)
	return b.String()
}

// parseExpectations parses an -expect file:
//
//	alerts:
//	  - {rule: R, key: K, status: …, severity: …, firstSeen: …, lastSeen: …, count: …, tags: […]}
//
// Every problem found is returned, joined.
func parseExpectations(file string, data []byte) ([]expectedAlert, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			return nil, &expectError{file: file, line: tokenLine(ye.GetToken()), msg: "YAML: " + ye.GetMessage()}
		}
		return nil, &expectError{file: file, msg: "YAML: " + err.Error()}
	}
	var body ast.Node
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			if body != nil {
				return nil, &expectError{file: file, line: nodeLine(d.Body), msg: "more than one YAML document"}
			}
			body = d.Body
		}
	}
	top, ok := body.(*ast.MappingNode)
	if !ok {
		return nil, &expectError{file: file, line: nodeLine(body), msg: "want a mapping with alerts: [...]"}
	}
	var list ast.Node
	for _, kv := range top.Values {
		if k := keyName(kv); k != "alerts" {
			return nil, &expectError{file: file, line: nodeLine(kv), field: k, msg: "unknown field (want alerts)"}
		}
		list = kv.Value
	}
	if list == nil {
		return nil, &expectError{file: file, line: nodeLine(top), field: "alerts", msg: "is required (use [] for none)"}
	}
	seq, ok := list.(*ast.SequenceNode)
	if !ok {
		if _, null := list.(*ast.NullNode); null {
			return nil, nil
		}
		return nil, &expectError{file: file, line: nodeLine(list), field: "alerts", msg: "want a list"}
	}
	var (
		want []expectedAlert
		errs []error
	)
	for i, item := range seq.Values {
		where := fmt.Sprintf("alerts[%d]", i+1)
		e, err := parseExpectEntry(file, where, item)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		want = append(want, e)
	}
	return want, errors.Join(errs...)
}

func parseExpectEntry(file, where string, item ast.Node) (expectedAlert, error) {
	ea := expectedAlert{line: nodeLine(item)}
	m, ok := item.(*ast.MappingNode)
	if !ok {
		return ea, &expectError{file: file, line: ea.line, field: where, msg: "want a mapping with rule and key"}
	}
	fail := func(field, format string, args ...any) error {
		line := ea.line
		for _, kv := range m.Values {
			if keyName(kv) == field {
				line = nodeLine(kv)
			}
		}
		return &expectError{file: file, line: line, field: where + "." + field, msg: fmt.Sprintf(format, args...)}
	}
	var e expectEntry
	if err := yaml.NodeToValue(item, &e, yaml.Strict()); err != nil {
		line, msg := ea.line, err.Error()
		var ye yaml.Error
		if errors.As(err, &ye) {
			if l := tokenLine(ye.GetToken()); l > 0 {
				line = l
			}
			msg = ye.GetMessage()
		}
		if strings.Contains(msg, "cannot unmarshal") {
			// go-yaml names the Go types; say what the file should hold.
			msg = "a value of the wrong kind: rule, key, status, severity, firstSeen and lastSeen are text, count a number, tags a list"
		}
		return ea, &expectError{file: file, line: line, field: where, msg: msg}
	}
	if e.Rule == nil || *e.Rule == "" {
		return ea, fail("rule", "is required")
	}
	if e.Key == nil {
		return ea, fail("key", "is required")
	}
	ea.rule, ea.key = *e.Rule, *e.Key
	if e.Status != nil {
		if err := ea.status.UnmarshalText([]byte(*e.Status)); err != nil {
			return ea, fail("status", "want firing or resolved, got %q", *e.Status)
		}
	}
	if e.Severity != nil {
		s, err := rdr.ParseSeverity(*e.Severity)
		if err != nil {
			return ea, fail("severity", "want low, medium, high or critical, got %q", *e.Severity)
		}
		ea.severity = s
	}
	for _, t := range []struct {
		name string
		in   *string
		out  *time.Time
	}{{"firstSeen", e.FirstSeen, &ea.firstSeen}, {"lastSeen", e.LastSeen, &ea.lastSeen}} {
		if t.in == nil {
			continue
		}
		v, err := time.Parse(time.RFC3339Nano, *t.in)
		if err != nil {
			return ea, fail(t.name, "want an RFC 3339 time, got %q", *t.in)
		}
		*t.out = v
	}
	if e.Count != nil {
		switch n := e.Count.(type) {
		case uint64:
			ea.count = int64(min(n, 1<<62))
		case int64:
			ea.count = n
		default:
			return ea, fail("count", "want a whole number, got %#v", n)
		}
		if ea.count < 1 {
			return ea, fail("count", "want at least 1, got %d", ea.count)
		}
	}
	if e.Tags != nil {
		ea.tags, ea.hasTags = slices.Sorted(slices.Values(*e.Tags)), true
	}
	return ea, nil
}

// keyName is a mapping key's text, without the quotes JSON puts around it.
func keyName(kv *ast.MappingValueNode) string {
	if s, ok := kv.Key.(*ast.StringNode); ok {
		return s.Value
	}
	return kv.Key.String()
}

func nodeLine(n ast.Node) int {
	if n == nil {
		return 0
	}
	return tokenLine(n.GetToken())
}

func tokenLine(tk *token.Token) int {
	if tk == nil || tk.Position == nil {
		return 0
	}
	return tk.Position.Line
}

// diffs lists the fields e gives that a does not have: "count: want 3, got 6".
func (e *expectedAlert) diffs(a *anomaly.Alert) []string {
	var d []string
	add := func(field, want, got string) {
		if want != got {
			d = append(d, fmt.Sprintf("%s: want %s, got %s", field, want, got))
		}
	}
	add("rule", e.rule, a.Rule)
	add("key", quoteValue(e.key), quoteValue(a.Key))
	if e.status != 0 {
		add("status", e.status.String(), a.Status.String())
	}
	if e.severity != 0 {
		add("severity", e.severity.String(), a.Severity.String())
	}
	if !e.firstSeen.IsZero() && !e.firstSeen.Equal(a.FirstSeen) {
		add("firstSeen", formatTime(e.firstSeen), formatTime(a.FirstSeen))
	}
	if !e.lastSeen.IsZero() && !e.lastSeen.Equal(a.LastSeen) {
		add("lastSeen", formatTime(e.lastSeen), formatTime(a.LastSeen))
	}
	if e.count != 0 {
		add("count", strconv.FormatInt(e.count, 10), strconv.FormatInt(a.Count, 10))
	}
	if e.hasTags {
		add("tags", "["+strings.Join(e.tags, ",")+"]", "["+strings.Join(slices.Sorted(slices.Values(a.Tags)), ",")+"]")
	}
	return d
}

// String is the fields the entry gives, as key=value.
func (e *expectedAlert) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rule=%s key=%s", e.rule, quoteValue(e.key))
	if e.status != 0 {
		fmt.Fprintf(&b, " status=%s", e.status)
	}
	if e.severity != 0 {
		fmt.Fprintf(&b, " severity=%s", e.severity)
	}
	if !e.firstSeen.IsZero() {
		fmt.Fprintf(&b, " firstSeen=%s", formatTime(e.firstSeen))
	}
	if !e.lastSeen.IsZero() {
		fmt.Fprintf(&b, " lastSeen=%s", formatTime(e.lastSeen))
	}
	if e.count != 0 {
		fmt.Fprintf(&b, " count=%d", e.count)
	}
	if e.hasTags {
		fmt.Fprintf(&b, " tags=[%s]", strings.Join(e.tags, ","))
	}
	return b.String()
}

// describeAlert writes every field an entry can give, so that an unexpected
// alert can be copied into the -expect file.
func describeAlert(a *anomaly.Alert) string {
	s := fmt.Sprintf("rule=%s key=%s status=%s severity=%s firstSeen=%s lastSeen=%s count=%d",
		a.Rule, quoteValue(a.Key), a.Status, a.Severity, formatTime(a.FirstSeen), formatTime(a.LastSeen), a.Count)
	if len(a.Tags) > 0 {
		s += " tags=[" + strings.Join(a.Tags, ",") + "]"
	}
	return s
}

// The outcomes of comparing an entry, or an alert no entry matched.
const (
	outcomeMatched    = "matched"
	outcomeMissing    = "missing"
	outcomeMismatch   = "mismatch"
	outcomeAmbiguous  = "ambiguous"
	outcomeDuplicate  = "duplicate"
	outcomeUnexpected = "unexpected"
)

// comparison is the outcome for one entry (want) or one unexpected alert
// (want nil).
type comparison struct {
	want    *expectedAlert
	outcome string
	alert   *anomaly.Alert // the alert matched, compared, or unexpected
	detail  string         // what is wrong, "" when matched
}

// compareAlerts compares the expected alerts with the alerts raised. An entry
// matches an alert when every field it gives is the alert's. Each entry must
// match exactly one alert, and no other entry that one: entries that match
// several alerts are ambiguous; an entry that matches an alert an earlier
// entry matched is a duplicate. An entry that matches none is compared with
// the alert of its rule and key that no entry matched and that differs in the
// fewest fields (a mismatch), or is missing when there is none. The alerts no
// entry matched or was compared with are unexpected. The results are the
// entries in order, then the unexpected alerts in the order they fired.
func compareAlerts(want []expectedAlert, got []anomaly.Alert) []comparison {
	res := make([]comparison, len(want))
	claimed := make([]int, len(got)) // entry index + 1 of the entry that claimed the alert
	cands := make([][]int, len(want))
	for i := range want {
		res[i].want = &want[i]
		for j := range got {
			if len(want[i].diffs(&got[j])) == 0 {
				cands[i] = append(cands[i], j)
			}
		}
	}
	// Entries that match one alert first, in order, so that an entry that
	// matches several (or none) cannot take the alert another one names.
	for i, c := range cands {
		if len(c) != 1 {
			continue
		}
		j := c[0]
		if k := claimed[j]; k != 0 {
			res[i].outcome, res[i].alert = outcomeDuplicate, &got[j]
			res[i].detail = fmt.Sprintf("matches the alert that line %d matches (firstSeen=%s)", want[k-1].line, formatTime(got[j].FirstSeen))
			continue
		}
		claimed[j] = i + 1
		res[i].outcome, res[i].alert = outcomeMatched, &got[j]
	}
	for i, c := range cands {
		if len(c) < 2 {
			continue
		}
		seen := make([]string, len(c))
		for n, j := range c {
			seen[n] = formatTime(got[j].FirstSeen)
			if claimed[j] == 0 {
				claimed[j] = i + 1 // not unexpected: this entry stands for it
			}
		}
		res[i].outcome = outcomeAmbiguous
		res[i].detail = fmt.Sprintf("matches %d alerts (firstSeen %s): give firstSeen to tell them apart", len(c), strings.Join(seen, ", "))
	}
	for i, c := range cands {
		if len(c) != 0 {
			continue
		}
		best, bestDiffs := -1, []string(nil)
		for j := range got {
			if claimed[j] != 0 || got[j].Rule != want[i].rule || got[j].Key != want[i].key {
				continue
			}
			if d := want[i].diffs(&got[j]); best < 0 || len(d) < len(bestDiffs) {
				best, bestDiffs = j, d
			}
		}
		if best < 0 {
			res[i].outcome, res[i].detail = outcomeMissing, "no such alert"
			continue
		}
		claimed[best] = i + 1
		res[i].outcome, res[i].alert = outcomeMismatch, &got[best]
		res[i].detail = strings.Join(bestDiffs, "; ")
	}
	for j := range got {
		if claimed[j] == 0 {
			res = append(res, comparison{outcome: outcomeUnexpected, alert: &got[j], detail: "raised, not expected"})
		}
	}
	return res
}

// line is the comparison's line in the report, without the outcome.
func (c *comparison) line() string {
	switch {
	case c.want == nil:
		return describeAlert(c.alert)
	case c.outcome == outcomeMatched:
		return fmt.Sprintf("line %d: %s", c.want.line, c.want)
	}
	return fmt.Sprintf("line %d: %s: %s", c.want.line, c.want, c.detail)
}

// printComparison prints PASS or FAIL for the -expect file, with a line per
// failure, and returns the number of failures.
func printComparison(w io.Writer, file string, expected, raised int, results []comparison) int {
	counts := map[string]int{}
	for _, r := range results {
		counts[r.outcome]++
	}
	failed := len(results) - counts[outcomeMatched]
	if failed == 0 {
		fmt.Fprintf(w, "PASS  %s: %d alerts, as expected\n", file, raised)
		return 0
	}
	var parts []string
	for _, o := range []string{outcomeMissing, outcomeMismatch, outcomeAmbiguous, outcomeDuplicate, outcomeUnexpected} {
		if n := counts[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	fmt.Fprintf(w, "FAIL  %s: %d expected, %d raised, %d as expected; %s\n",
		file, expected, raised, counts[outcomeMatched], strings.Join(parts, ", "))
	for _, r := range results {
		if r.outcome != outcomeMatched {
			fmt.Fprintf(w, "  %-10s  %s\n", r.outcome, r.line())
		}
	}
	return failed
}

// The JUnit XML that Jenkins, GitLab and GitHub's test reporters read.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name       string          `xml:"name,attr"`
		Tests      int             `xml:"tests,attr"`
		Failures   int             `xml:"failures,attr"`
		Errors     int             `xml:"errors,attr"`
		Skipped    int             `xml:"skipped,attr"`
		Time       string          `xml:"time,attr"`
		Properties []junitProperty `xml:"properties>property,omitempty"`
		Cases      []junitCase     `xml:"testcase"`
	}
	junitProperty struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      string        `xml:"time,attr"`
		Failure   *junitFailure `xml:"failure,omitempty"`
	}
	junitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
)

// writeJUnit writes the comparison as JUnit XML: one test case per entry of
// the -expect file, failing unless matched, and one failing test case per
// unexpected alert.
func writeJUnit(path, expectFile, events string, results []comparison, elapsed time.Duration) error {
	secs := strconv.FormatFloat(elapsed.Seconds(), 'f', 3, 64)
	suite := junitSuite{
		Name: "rdr-rules backtest " + expectFile, Time: secs,
		Properties: []junitProperty{{Name: "events", Value: events}, {Name: "expect", Value: expectFile}},
	}
	for _, r := range results {
		c := junitCase{Classname: "backtest." + r.rule(), Time: "0"}
		if r.want != nil {
			c.Name = r.want.String()
		} else {
			c.Name = "unexpected " + describeAlert(r.alert)
		}
		if r.outcome != outcomeMatched {
			suite.Failures++
			c.Failure = &junitFailure{Message: r.outcome + ": " + r.detail, Type: r.outcome, Text: r.outcome + "  " + r.line()}
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{Name: "rdr-rules backtest", Tests: suite.Tests, Failures: suite.Failures, Time: secs, Suites: []junitSuite{suite}}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	b = append([]byte(xml.Header), append(b, '\n')...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("-junit: %w", err)
	}
	return nil
}

// rule is the rule the comparison is about.
func (c *comparison) rule() string {
	if c.want != nil {
		return c.want.rule
	}
	return c.alert.Rule
}

package anomaly

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

//go:embed rules/default.yaml
var defaultRulesYAML []byte

// DefaultRules returns rdr's default rule set (rules/default.yaml, embedded
// in the binary), with fresh detectors: brute force, password spraying,
// brute force that succeeded, unanswered MFA challenges, logins from new IP
// addresses, first privilege changes, file-access spikes, critical events,
// and per-user risk. Each call returns new rules, ready for one Engine.
func DefaultRules() []Rule {
	rules, err := ParseRules("default.yaml", defaultRulesYAML)
	if err != nil {
		panic("anomaly: the embedded default rules are invalid: " + err.Error())
	}
	return rules
}

// DefaultRulesYAML returns the text of the default rule file, to copy and
// adapt.
func DefaultRulesYAML() []byte { return bytes.Clone(defaultRulesYAML) }

// LoadRules reads and parses rule files, in order. Any error refuses them
// all; a rule name used in two files is an error too.
func LoadRules(paths ...string) ([]Rule, error) {
	var all []Rule
	where := map[string]string{}
	var errs []error
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		rules, err := ParseRules(p, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range rules {
			if prev, dup := where[r.Name]; dup {
				errs = append(errs, &RuleError{File: p, Rule: r.Name, Field: "name", Reason: "already used in " + prev})
				continue
			}
			where[r.Name] = filepath.Base(p)
			all = append(all, r)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return all, nil
}

// ParseRules parses a rule file. file names it in errors. A file with any
// error is refused as a whole: the error joins one [*RuleError] per problem
// found, each naming the rule, the field and the line.
//
// The file holds a list of rules, each a mapping. The shape follows Sigma
// correlation rules (type, filter, group-by, timespan, condition):
//
//	rules:
//	  - name: failed-login-burst      # required: letters, digits, _ - .
//	    description: Five failed logins for one user within a minute.
//	    type: count                   # required: count | distinct | sequence |
//	                                  # absence | first-seen | spike | severity | risk
//	    filter:                       # optional: which events the rule sees
//	      eventType: login_failed     # a value or a list; also userId, ipAddress
//	                                  # (addresses or prefixes), severity,
//	                                  # min-severity, metadata: {key: value|[values]},
//	                                  # metadata.KEY: value, not: {a filter}
//	    group-by: userId              # optional (default userId): userId |
//	                                  # ipAddress | eventType | severity | metadata.KEY
//	    timespan: 1m                  # durations: 30s, 5m, 1h, 7d
//	    condition: {gte: 5}
//	    severity: medium              # required: the alerts' severity
//	    risk: 15                      # optional: points an alert adds to its entity's
//	                                  # risk (default by severity: low 5, medium 15,
//	                                  # high 30, critical 50; 0 for none)
//	    resolve: 5m                   # optional lifecycle (see Lifecycle):
//	    cooldown: 0s                  #   resolve delay, cooldown, update-every,
//	    update-every: 0s              #   max-events (default 5)
//	    max-events: 5
//	    tags: [attack.t1110]          # optional: labels the alerts carry (Alert.Tags)
//	    risk-only: false              # optional: add risk, raise no alert (Rule.RiskOnly)
//
// What each type takes, besides the keys above:
//
//	count       timespan, condition.gte                  (CountConfig)
//	distinct    timespan, condition.field, condition.gte, max-values   (DistinctConfig)
//	sequence    timespan, first: {filter, count}, then: {filter}       (SequenceConfig)
//	absence     timespan, first: {filter}, then: {filter}              (AbsenceConfig)
//	first-seen  field, history (30d), max-values (32), new-keys: learn|alert,
//	            warmup (0s), learn-for (0s), learn-events (0)           (FirstSeenConfig)
//	spike       timespan (the interval, 1m), baseline: {alpha (0.1), warmup (10),
//	            history (60 intervals)}, condition: {deviations (3), min-count (10)}
//	severity    condition.gte: a severity                              (SeverityConfig)
//	risk        condition.gte, half-life (1h), points (0)              (RiskConfig)
func ParseRules(file string, data []byte) ([]Rule, error) {
	bodies, msg, line := parseYAML(data)
	if msg != "" {
		return nil, &RuleError{File: file, Line: line, Reason: msg}
	}
	var errs []error
	var rules []Rule
	seen := map[string]bool{}
	n := 0
	for _, body := range bodies {
		top, ok := entries(body)
		if !ok {
			errs = append(errs, &RuleError{File: file, Line: lineOf(body), Reason: "want a mapping with a rules list, got " + kindOf(body)})
			continue
		}
		for _, e := range top {
			if e.key != "rules" {
				errs = append(errs, &RuleError{File: file, Line: e.line, Field: e.key, Reason: "unknown top-level field (want rules)"})
				continue
			}
			seq, ok := e.value.(*ast.SequenceNode)
			if !ok {
				if e.value == nil {
					continue // "rules:" with nothing: no rules
				}
				errs = append(errs, &RuleError{File: file, Line: e.line, Field: "rules", Reason: "want a list of rules, got " + kindOf(e.value)})
				continue
			}
			for _, item := range seq.Values {
				n++
				rule, name, ferrs := parseRule(item, n)
				for _, fe := range ferrs {
					errs = append(errs, &RuleError{File: file, Line: fe.line, Rule: name, Field: fe.field, Reason: fe.reason})
				}
				if len(ferrs) > 0 {
					continue
				}
				if seen[rule.Name] {
					errs = append(errs, &RuleError{File: file, Line: lineOf(item), Rule: name, Field: "name", Reason: "used by more than one rule"})
					continue
				}
				seen[rule.Name] = true
				rules = append(rules, rule)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rules, nil
}

// defaultRisk is the risk an alert adds by severity, when its rule says
// nothing.
var defaultRisk = [...]float64{0, 5, 15, 30, 50}

// The keys each rule type accepts, besides the common ones.
var ruleKeys = map[string][]string{
	"count":      {"timespan", "condition"},
	"distinct":   {"timespan", "condition", "max-values"},
	"sequence":   {"timespan", "first", "then"},
	"absence":    {"timespan", "first", "then"},
	"first-seen": {"field", "history", "max-values", "new-keys", "warmup", "learn-for", "learn-events"},
	"spike":      {"timespan", "baseline", "condition"},
	"severity":   {"condition"},
	"risk":       {"condition", "half-life", "points"},
}

var ruleTypes = []string{"count", "distinct", "sequence", "absence", "first-seen", "spike", "severity", "risk"}

var commonKeys = []string{"name", "description", "type", "filter", "group-by", "severity", "risk",
	"risk-only", "tags", "resolve", "cooldown", "update-every", "max-events"}

// ruleReader reads one rule, collecting every error.
type ruleReader struct {
	node ast.Node
	keys map[string]entry
	errs []*yamlErr
}

func (r *ruleReader) fail(err *yamlErr) {
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

// get returns the value of key, or nil (reporting it if required).
func (r *ruleReader) get(key string, required bool) ast.Node {
	e, ok := r.keys[key]
	if !ok || e.value == nil {
		if required {
			line := lineOf(r.node)
			if ok {
				line = e.line
			}
			r.fail(&yamlErr{line: line, field: key, reason: "is required"})
		}
		return nil
	}
	return e.value
}

// sub reads a nested mapping's keys, reporting unknown ones.
func (r *ruleReader) sub(n ast.Node, field string, allowed ...string) map[string]entry {
	es, ok := entries(n)
	if !ok {
		r.fail(errAt(n, field, "want a mapping with %s, got %s", strings.Join(allowed, ", "), kindOf(n)))
		return nil
	}
	m := make(map[string]entry, len(es))
	for _, e := range es {
		if !slices.Contains(allowed, e.key) {
			r.fail(&yamlErr{line: e.line, field: field + "." + e.key, reason: "unknown field (want " + strings.Join(allowed, ", ") + ")"})
			continue
		}
		m[e.key] = e
	}
	return m
}

// need returns a nested key's value, reporting it if it is missing (at the
// line of the parent's key, field).
func (r *ruleReader) need(m map[string]entry, field, key string) ast.Node {
	e, ok := m[key]
	if !ok || e.value == nil {
		line := r.keys[field].line
		if ok {
			line = e.line
		}
		r.fail(&yamlErr{line: line, field: field + "." + key, reason: "is required"})
		return nil
	}
	return e.value
}

func parseRule(item ast.Node, n int) (Rule, string, []*yamlErr) {
	var rule Rule
	name := fmt.Sprintf("#%d", n)
	es, ok := entries(item)
	if !ok {
		return rule, name, []*yamlErr{errAt(item, "", "want a mapping, got %s", kindOf(item))}
	}
	r := &ruleReader{node: item, keys: make(map[string]entry, len(es))}
	for _, e := range es {
		r.keys[e.key] = e
	}
	if v := r.get("name", true); v != nil {
		s, err := str(v, "name")
		r.fail(err)
		if err == nil && !ruleNameRE.MatchString(s) {
			r.fail(errAt(v, "name", "%q: use letters, digits, '_', '-' and '.' only", s))
		} else if err == nil {
			rule.Name, name = s, s
		}
	}
	typ := ""
	if v := r.get("type", true); v != nil {
		s, err := str(v, "type")
		r.fail(err)
		if err == nil && ruleKeys[s] == nil {
			r.fail(errAt(v, "type", "unknown type %q (want %s)", s, strings.Join(ruleTypes, ", ")))
		} else {
			typ = s
		}
	}
	for _, e := range es {
		if slices.Contains(commonKeys, e.key) {
			continue
		}
		if typ == "" {
			if !slices.ContainsFunc(ruleTypes, func(t string) bool { return slices.Contains(ruleKeys[t], e.key) }) {
				r.fail(&yamlErr{line: e.line, field: e.key, reason: "unknown field"})
			}
			continue
		}
		if !slices.Contains(ruleKeys[typ], e.key) {
			r.fail(&yamlErr{line: e.line, field: e.key, reason: fmt.Sprintf("unknown field for type %s (want %s)", typ,
				strings.Join(ruleKeys[typ], ", "))})
		}
	}
	if v := r.get("description", false); v != nil {
		var err *yamlErr
		rule.Description, err = str(v, "description")
		r.fail(err)
	}
	if v := r.get("filter", false); v != nil {
		var err *yamlErr
		rule.Filter, err = filter(v, "filter")
		r.fail(err)
	}
	if v := r.get("group-by", false); v != nil {
		rule.GroupBy = r.field(v, "group-by")
	}
	if v := r.get("severity", true); v != nil {
		var err *yamlErr
		rule.Severity, err = severity(v, "severity")
		r.fail(err)
	}
	rule.Risk = defaultRisk[rule.Severity]
	if v := r.get("risk", false); v != nil {
		f, err := number(v, "risk")
		if err == nil && f < 0 {
			err = errAt(v, "risk", "must not be negative, got %v", f)
		}
		r.fail(err)
		rule.Risk = f
	}
	if v := r.get("risk-only", false); v != nil {
		b, ok := v.(*ast.BoolNode)
		if !ok {
			r.fail(errAt(v, "risk-only", "want true or false, got %s", kindOf(v)))
		} else {
			rule.RiskOnly = b.Value
		}
	}
	if v := r.get("tags", false); v != nil {
		rule.Tags = r.tags(v)
	}
	if v := r.get("resolve", false); v != nil {
		d, err := duration(v, "resolve", 0)
		r.fail(err)
		rule.Lifecycle.ResolveAfter = max(d, 1)
	}
	if v := r.get("cooldown", false); v != nil {
		var err *yamlErr
		rule.Lifecycle.Cooldown, err = duration(v, "cooldown", 0)
		r.fail(err)
	}
	if v := r.get("update-every", false); v != nil {
		var err *yamlErr
		rule.Lifecycle.UpdateEvery, err = duration(v, "update-every", 0)
		r.fail(err)
	}
	if v := r.get("max-events", false); v != nil {
		m, err := integer(v, "max-events", 0, 1000)
		r.fail(err)
		rule.Lifecycle.MaxEvents = int(m)
		if m == 0 {
			rule.Lifecycle.MaxEvents = -1
		}
	}
	if typ != "" {
		det, err := r.detector(typ)
		if err != nil && len(r.errs) == 0 {
			r.fail(&yamlErr{line: lineOf(item), reason: err.Error()})
		}
		rule.Detector = det
	}
	if len(r.errs) > 0 {
		return Rule{}, name, r.errs
	}
	rule.Version = Digest(item.String())
	return rule, name, nil
}

// Digest returns a short, stable digest of a rule's definition, for
// [Rule.Version]: 16 hex digits of FNV-1a over the text, with blank and
// comment lines, trailing spaces and the common indentation left out, so
// that moving a rule within its file or commenting it does not change it.
func Digest(text string) string {
	var lines []string
	indent := -1
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimRight(line, " \t\r")
		body := strings.TrimLeft(line, " ")
		if body == "" || body[0] == '#' {
			continue
		}
		if n := len(line) - len(body); indent < 0 || n < indent {
			indent = n
		}
		lines = append(lines, line)
	}
	h := fnv.New64a()
	for _, line := range lines {
		h.Write([]byte(line[indent:]))
		h.Write([]byte{'\n'})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// tags reads a list of tags: non-empty strings without spaces or commas.
func (r *ruleReader) tags(n ast.Node) []string {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		r.fail(errAt(n, "tags", "want a list of tags, got %s", kindOf(n)))
		return nil
	}
	var tags []string
	for _, item := range seq.Values {
		s, err := str(item, "tags")
		if err == nil && !ValidTag(s) {
			err = errAt(item, "tags", "%q: a tag is letters, digits and _ - . : / only", s)
		}
		r.fail(err)
		if err == nil && !slices.Contains(tags, s) {
			tags = append(tags, s)
		}
	}
	return tags
}

var tagRE = regexp.MustCompile(`^[A-Za-z0-9_.:/-]+$`)

// ValidTag reports whether s can be a rule's tag: letters, digits and
// _ - . : / only, so that tags read the same in every store and filter.
func ValidTag(s string) bool { return tagRE.MatchString(s) }

func (r *ruleReader) field(n ast.Node, name string) Field {
	s, err := str(n, name)
	if err != nil {
		r.fail(err)
		return Field{}
	}
	f, perr := ParseField(s)
	if perr != nil {
		r.fail(errAt(n, name, "%v", perr))
	}
	return f
}

func (r *ruleReader) timespan(required bool, def time.Duration) time.Duration {
	v := r.get("timespan", required)
	if v == nil {
		return def
	}
	d, err := duration(v, "timespan", 1)
	r.fail(err)
	return d
}

// detector builds the rule's detector from the type's own keys. It returns
// nil when a field was wrong (already reported).
func (r *ruleReader) detector(typ string) (Detector, error) {
	switch typ {
	case "count":
		cfg := CountConfig{Window: r.timespan(true, 0)}
		if cond := r.get("condition", true); cond != nil {
			m := r.sub(cond, "condition", "gte")
			if v := r.need(m, "condition", "gte"); v != nil {
				n, err := integer(v, "condition.gte", 1, 1<<31)
				r.fail(err)
				cfg.Threshold = int(n)
			}
		}
		if cfg.Window > 0 && cfg.Window < countBuckets {
			r.fail(&yamlErr{line: lineOf(r.get("timespan", false)), field: "timespan", reason: "must be at least 12ns"})
		}
		if len(r.errs) > 0 {
			return nil, nil
		}
		return NewCount(cfg)
	case "distinct":
		cfg := DistinctConfig{Window: r.timespan(true, 0)}
		if cond := r.get("condition", true); cond != nil {
			m := r.sub(cond, "condition", "field", "gte")
			if v := r.need(m, "condition", "field"); v != nil {
				cfg.Field = r.field(v, "condition.field")
			}
			if v := r.need(m, "condition", "gte"); v != nil {
				n, err := integer(v, "condition.gte", 1, 1<<20)
				r.fail(err)
				cfg.Threshold = int(n)
			}
		}
		if v := r.get("max-values", false); v != nil {
			n, err := integer(v, "max-values", 1, 1<<20)
			r.fail(err)
			if err == nil && int(n) < cfg.Threshold {
				r.fail(errAt(v, "max-values", "must be at least condition.gte (%d), got %d", cfg.Threshold, n))
			}
			cfg.MaxValues = int(n)
		}
		if len(r.errs) > 0 {
			return nil, nil
		}
		return NewDistinct(cfg)
	case "sequence", "absence":
		window := r.timespan(true, 0)
		var first, then Filter
		count := 1
		if v := r.get("first", true); v != nil {
			allowed := []string{"filter", "count"}
			if typ == "absence" {
				allowed = allowed[:1]
			}
			m := r.sub(v, "first", allowed...)
			if e, ok := m["filter"]; ok && e.value != nil {
				var err *yamlErr
				first, err = filter(e.value, "first.filter")
				r.fail(err)
			}
			if e, ok := m["count"]; ok {
				n, err := integer(e.value, "first.count", 1, maxSequenceCount)
				r.fail(err)
				count = int(n)
			}
		}
		if v := r.get("then", true); v != nil {
			m := r.sub(v, "then", "filter")
			if e, ok := m["filter"]; ok && e.value != nil {
				var err *yamlErr
				then, err = filter(e.value, "then.filter")
				r.fail(err)
			}
		}
		if len(r.errs) > 0 {
			return nil, nil
		}
		if typ == "absence" {
			return NewAbsence(AbsenceConfig{First: first, Then: then, Window: window})
		}
		return NewSequence(SequenceConfig{First: first, Count: count, Then: then, Window: window})
	case "first-seen":
		var cfg FirstSeenConfig
		if v := r.get("field", true); v != nil {
			cfg.Field = r.field(v, "field")
		}
		if v := r.get("history", false); v != nil {
			var err *yamlErr
			cfg.History, err = duration(v, "history", 1)
			r.fail(err)
		}
		if v := r.get("max-values", false); v != nil {
			n, err := integer(v, "max-values", 1, 1<<16)
			r.fail(err)
			cfg.MaxValues = int(n)
		}
		if v := r.get("new-keys", false); v != nil {
			s, err := str(v, "new-keys")
			r.fail(err)
			switch {
			case err != nil:
			case s == "alert":
				cfg.AlertNewKeys = true
			case s != "learn":
				r.fail(errAt(v, "new-keys", "want learn or alert, got %q", s))
			}
		}
		if v := r.get("warmup", false); v != nil {
			var err *yamlErr
			cfg.Warmup, err = duration(v, "warmup", 0)
			r.fail(err)
		}
		if v := r.get("learn-for", false); v != nil {
			var err *yamlErr
			cfg.LearnFor, err = duration(v, "learn-for", 0)
			r.fail(err)
		}
		if v := r.get("learn-events", false); v != nil {
			n, err := integer(v, "learn-events", 0, 1<<31)
			r.fail(err)
			cfg.LearnEvents = int(n)
		}
		if len(r.errs) > 0 {
			return nil, nil
		}
		return NewFirstSeen(cfg)
	case "spike":
		cfg := SpikeConfig{Interval: r.timespan(false, DefaultSpikeInterval)}
		if v := r.get("baseline", false); v != nil {
			m := r.sub(v, "baseline", "alpha", "warmup", "history")
			if e, ok := m["alpha"]; ok {
				f, err := number(e.value, "baseline.alpha")
				if err == nil && !(f > 0 && f <= 1) {
					err = errAt(e.value, "baseline.alpha", "must be in (0, 1], got %v", f)
				}
				r.fail(err)
				cfg.Alpha = f
			}
			if e, ok := m["warmup"]; ok {
				n, err := integer(e.value, "baseline.warmup", 0, 1<<20)
				r.fail(err)
				cfg.Warmup = int(n)
				if n == 0 {
					cfg.Warmup = -1
				}
			}
			if e, ok := m["history"]; ok {
				d, err := duration(e.value, "baseline.history", 1)
				if err == nil && (d < cfg.Interval || cfg.Interval > 0 && d/cfg.Interval > 100_000) {
					err = errAt(e.value, "baseline.history", "must be between the timespan and 100000 timespans, got %s", formatDuration(d))
				}
				r.fail(err)
				cfg.History = d
			}
		}
		if v := r.get("condition", false); v != nil {
			m := r.sub(v, "condition", "deviations", "min-count")
			if e, ok := m["deviations"]; ok {
				f, err := number(e.value, "condition.deviations")
				if err == nil && !(f > 0) {
					err = errAt(e.value, "condition.deviations", "must be positive, got %v", f)
				}
				r.fail(err)
				cfg.Deviations = f
			}
			if e, ok := m["min-count"]; ok {
				n, err := integer(e.value, "condition.min-count", 1, 1<<31)
				r.fail(err)
				cfg.MinCount = int(n)
			}
		}
		if len(r.errs) > 0 {
			return nil, nil
		}
		return NewSpike(cfg)
	case "severity":
		var cfg SeverityConfig
		if cond := r.get("condition", true); cond != nil {
			m := r.sub(cond, "condition", "gte")
			if v := r.need(m, "condition", "gte"); v != nil {
				var err *yamlErr
				cfg.Min, err = severity(v, "condition.gte")
				r.fail(err)
			}
		}
		if len(r.errs) > 0 {
			return nil, nil
		}
		return NewSeverityFloor(cfg)
	case "risk":
		var cfg RiskConfig
		if cond := r.get("condition", true); cond != nil {
			m := r.sub(cond, "condition", "gte")
			if v := r.need(m, "condition", "gte"); v != nil {
				f, err := number(v, "condition.gte")
				if err == nil && !(f > 0) {
					err = errAt(v, "condition.gte", "must be positive, got %v", f)
				}
				r.fail(err)
				cfg.Threshold = f
			}
		}
		if v := r.get("half-life", false); v != nil {
			var err *yamlErr
			cfg.HalfLife, err = duration(v, "half-life", 1)
			r.fail(err)
		}
		if v := r.get("points", false); v != nil {
			f, err := number(v, "points")
			if err == nil && f < 0 {
				err = errAt(v, "points", "must not be negative, got %v", f)
			}
			r.fail(err)
			cfg.Points = f
		}
		if len(r.errs) > 0 {
			return nil, nil
		}
		return NewRisk(cfg)
	}
	return nil, fmt.Errorf("unknown type %q", typ)
}

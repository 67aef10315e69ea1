package sigma

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
)

// sigmaRule is one Sigma document as read: a detection rule or a
// correlation rule.
type sigmaRule struct {
	file, title, id, name, description string
	line                               int
	level                              rdr.Severity
	tags                               []string
	rdrName                            string // the rdr rule name
	version                            string

	// detection rules
	types []string // the logsource's event types
	expr  matcher

	// correlation rules
	corr *correlation

	// compiled correlation, see Collection.compile
	compiled *compiledCorr
	busy     bool // compiling: a reference cycle
}

type correlation struct {
	typ      string
	rules    []string
	groupBy  []string
	timespan time.Duration
	cond     map[string]int
	field    string
	aliases  map[string]map[string]string
	generate bool
	node     *node
}

type compiledCorr struct {
	filter  filterFunc
	groupBy anomaly.Field
	make    func(c *fieldCache) (anomaly.Detector, error)
}

// filterFunc makes a rule's filter with one engine's field cache.
type filterFunc func(c *fieldCache) anomaly.Filter

// filterFunc returns the detection rule's filter maker.
func (r *sigmaRule) filterFunc() filterFunc {
	return func(c *fieldCache) anomaly.Filter {
		return anomaly.Filter{Types: r.types, Expr: exprMatcher{r.expr, c}}
	}
}

// Collection is a set of Sigma rules, compiled for rdr: detection rules
// and the correlation rules over them. [Collection.Rules] makes the rdr
// rules (with fresh detectors, once per engine).
type Collection struct {
	mapping *Mapping
	rules   []*sigmaRule
	out     []outRule
	slots   map[anomaly.Field]int // field cache slots
}

// outRule is one rdr rule of the collection, before its detector is made.
type outRule struct {
	rule   anomaly.Rule
	filter filterFunc
	make   func(c *fieldCache) (anomaly.Detector, error)
}

// Len returns the number of rdr rules the collection makes.
func (c *Collection) Len() int { return len(c.out) }

// Rules returns the collection's rules with fresh detectors, ready for one
// [anomaly.Engine]. The rules' matchers are shared by every call: they are
// safe for concurrent use.
func (c *Collection) Rules() []anomaly.Rule {
	rules := make([]anomaly.Rule, len(c.out))
	cache := &fieldCache{}
	for i, o := range c.out {
		r := o.rule
		r.Filter = o.filter(cache)
		d, err := o.make(cache)
		if err != nil {
			panic("sigma: a compiled rule's detector: " + err.Error()) // checked when compiled
		}
		r.Detector = d
		rules[i] = r
	}
	return rules
}

// IsSigma reports whether a YAML file holds Sigma rules (a document with
// a detection or correlation section) rather than an rdr rule file.
func IsSigma(data []byte) bool {
	docs, err := parseDocuments(data)
	if err != nil {
		return false
	}
	for _, d := range docs {
		if d.body.get("detection") != nil || d.body.get("correlation") != nil {
			return true
		}
	}
	return false
}

// LoadFiles reads rule files, rdr's own and Sigma's (told apart by
// [IsSigma]), and returns their rules; Sigma rules through mapping (nil:
// [DefaultMapping]). Any error refuses them all; a rule name used twice
// is an error. The returned function makes fresh rules each call, as
// pipeline.Config.Rules wants.
func LoadFiles(mapping *Mapping, paths ...string) (func() ([]anomaly.Rule, error), int, error) {
	var rdrFiles []string
	var sigmaFiles []file
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, 0, err
		}
		if IsSigma(data) {
			sigmaFiles = append(sigmaFiles, file{p, data})
		} else {
			rdrFiles = append(rdrFiles, p)
		}
	}
	var coll *Collection
	if len(sigmaFiles) > 0 {
		var err error
		if coll, err = Compile(mapping, sigmaFiles...); err != nil {
			return nil, 0, err
		}
	}
	make := func() ([]anomaly.Rule, error) {
		var rules []anomaly.Rule
		if len(rdrFiles) > 0 {
			rs, err := anomaly.LoadRules(rdrFiles...)
			if err != nil {
				return nil, err
			}
			rules = rs
		}
		if coll != nil {
			rules = append(rules, coll.Rules()...)
		}
		return rules, nil
	}
	rules, err := make()
	if err != nil {
		return nil, 0, err
	}
	seen := map[string]bool{}
	var errs []error
	for _, r := range rules {
		if seen[r.Name] {
			errs = append(errs, fmt.Errorf("rule name %q is used by more than one rule", r.Name))
		}
		seen[r.Name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	return make, len(rules), nil
}

type file struct {
	name string
	data []byte
}

// File is a Sigma rule file to [Compile]: its name (for errors) and text.
type File = file

// NewFile returns a File for Compile.
func NewFile(name string, data []byte) File { return file{name, data} }

// Parse compiles one Sigma rule file (any number of YAML documents) with
// mapping (nil: [DefaultMapping]).
func Parse(mapping *Mapping, name string, data []byte) (*Collection, error) {
	return Compile(mapping, file{name, data})
}

// Compile compiles Sigma rule files together, so that correlations in one
// may refer to rules in another. Every problem is reported, each as an
// [*Error] naming the file, line, rule and feature, joined; any error
// refuses the whole set.
func Compile(mapping *Mapping, files ...File) (*Collection, error) {
	if mapping == nil {
		mapping = DefaultMapping()
	}
	c := &Collection{mapping: mapping, slots: map[anomaly.Field]int{}}
	var errs []error
	for _, f := range files {
		docs, err := parseDocuments(f.data)
		if err != nil {
			err.(*Error).File = f.name
			errs = append(errs, err)
			continue
		}
		for _, d := range docs {
			r, rerrs := c.read(f.name, d)
			errs = append(errs, rerrs...)
			if r != nil {
				c.rules = append(c.rules, r)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	errs = append(errs, c.link()...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// slug makes an rdr rule name of a title.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

var levels = map[string]rdr.Severity{
	"informational": rdr.SeverityLow, "low": rdr.SeverityLow, "medium": rdr.SeverityMedium,
	"high": rdr.SeverityHigh, "critical": rdr.SeverityCritical,
}

// read reads one document.
func (c *Collection) read(fileName string, d document) (*sigmaRule, []error) {
	b := d.body
	r := &sigmaRule{file: fileName, line: d.line, level: rdr.SeverityMedium,
		version: anomaly.Digest(d.text + "\x00" + c.mapping.digest)}
	var errs []*Error
	fail := func(n *node, feature string, unsupported bool, format string, args ...any) {
		line := d.line
		if n != nil && n.line > 0 {
			line = n.line
		}
		errs = append(errs, &Error{Line: line, Feature: feature, Reason: fmt.Sprintf(format, args...), Unsupported: unsupported})
	}
	finish := func() []error {
		label := cmp.Or(r.name, r.title, r.id)
		out := make([]error, len(errs))
		for i, e := range errs {
			e.File, e.Rule = fileName, label
			out[i] = e
		}
		return out
	}
	if b.kind != mapNode {
		fail(b, "", false, "want a Sigma rule (a mapping), got %s", b.what())
		return nil, finish()
	}
	str := func(key string) string {
		v := b.get(key)
		if v == nil {
			return ""
		}
		if v.kind != scalarNode {
			fail(v, key, false, "want a string, got %s", v.what())
			return ""
		}
		return v.s
	}
	r.title, r.id, r.name, r.description = str("title"), str("id"), str("name"), str("description")
	if r.title == "" {
		fail(b, "title", false, "is required")
	}
	if s := str("status"); s == "unsupported" {
		fail(b.get("status"), "status", true, "the rule says it is unsupported")
	}
	if v := b.get("level"); v != nil {
		sev, ok := levels[strings.ToLower(v.s)]
		if v.kind != scalarNode || !ok {
			fail(v, "level", false, "want informational, low, medium, high or critical, got %q", v.s)
		}
		r.level = sev
	}
	if v := b.get("tags"); v != nil {
		if v.kind != listNode {
			fail(v, "tags", false, "want a list of tags, got %s", v.what())
		}
		for _, t := range v.items {
			tag := strings.ToLower(t.s)
			if t.kind != scalarNode || !anomaly.ValidTag(tag) {
				fail(t, "tags", false, "%q is not a tag (letters, digits and _ - . : / only)", t.s)
				continue
			}
			if !slices.Contains(r.tags, tag) {
				r.tags = append(r.tags, tag)
			}
		}
	}
	for _, k := range []string{"action", "filter"} {
		if v := b.get(k); v != nil && b.get("detection") == nil {
			fail(v, k, true, "Sigma %s documents (meta rules and filters) are not supported", k)
		}
	}
	switch {
	case r.name != "" && nameRE.MatchString(r.name):
		r.rdrName = r.name
	case r.title != "":
		r.rdrName = slug(r.title)
	default:
		r.rdrName = r.id
	}
	if r.name != "" && !nameRE.MatchString(r.name) {
		fail(b.get("name"), "name", false, "%q: use letters, digits, '_', '-' and '.' only", r.name)
	}
	det, corr := b.get("detection"), b.get("correlation")
	switch {
	case det != nil && corr != nil:
		fail(corr, "correlation", false, "a rule has a detection or a correlation, not both")
	case det != nil:
		ls := b.get("logsource")
		if ls == nil || ls.kind != mapNode {
			fail(ls, "logsource", false, "is required: a mapping of product, category, service")
			break
		}
		lstr := func(k string) string {
			v := ls.get(k)
			if v == nil {
				return ""
			}
			return v.s
		}
		product, category, service := lstr("product"), lstr("category"), lstr("service")
		entry, ok := c.mapping.logsource(product, category, service)
		if !ok {
			fail(ls, "logsource", true, "product %q, category %q, service %q is not a logsource of the mapping %s", product, category, service, c.mapping.Name)
			break
		}
		comp := &compiler{m: c.mapping, slots: c.slots}
		m := comp.detection(det)
		errs = append(errs, comp.errs...)
		r.types, r.expr = entry.EventTypes, m
	case corr != nil:
		r.corr = c.readCorrelation(corr, b, fail)
	default:
		fail(b, "detection", false, "is required (or a correlation)")
	}
	if len(errs) > 0 {
		return nil, finish()
	}
	return r, nil
}

// exprMatcher makes a compiled detection an anomaly.Matcher, with the
// field cache of the engine it is for (nil: none).
type exprMatcher struct {
	m matcher
	c *fieldCache
}

func (e exprMatcher) MatchEvent(ev *rdr.Event) bool {
	e.c.begin(ev)
	return e.m.match(ev, e.c)
}

// anyOf matches the events any of its filters passes.
type anyOf []anomaly.Filter

func (a anyOf) MatchEvent(ev *rdr.Event) bool {
	for i := range a {
		if a[i].Match(ev) {
			return true
		}
	}
	return false
}

// filterMatcher makes a Filter a Matcher.
type filterMatcher struct{ f *anomaly.Filter }

func (m filterMatcher) MatchEvent(ev *rdr.Event) bool { return m.f.Match(ev) }

var correlationTypes = []string{"event_count", "value_count", "temporal", "temporal_ordered"}

func (c *Collection) readCorrelation(n *node, doc *node, fail func(*node, string, bool, string, ...any)) *correlation {
	if n.kind != mapNode {
		fail(n, "correlation", false, "want a mapping, got %s", n.what())
		return nil
	}
	co := &correlation{node: n, cond: map[string]int{}}
	for i, k := range n.keys {
		v := n.vals[i]
		feature := "correlation." + k
		switch k {
		case "type":
			co.typ = v.s
			if !slices.Contains(correlationTypes, v.s) {
				fail(v, feature, true, "unknown correlation type %q (want %s)", v.s, strings.Join(correlationTypes, ", "))
			}
		case "rules":
			vals, ok := scalars(v)
			if !ok || v.kind == nullNode {
				fail(v, feature, false, "want a list of rule names or IDs, got %s", v.what())
			}
			for _, x := range vals {
				co.rules = append(co.rules, x.s)
			}
		case "group-by":
			vals, ok := scalars(v)
			if !ok || v.kind == nullNode {
				fail(v, feature, false, "want a list of fields, got %s", v.what())
			}
			for _, x := range vals {
				co.groupBy = append(co.groupBy, x.s)
			}
		case "timespan":
			d, err := parseTimespan(v.s)
			if v.kind != scalarNode || err != nil {
				fail(v, feature, false, "want a number and s, m, h or d (90m, 1d), got %q", v.s)
			}
			co.timespan = d
		case "condition":
			if v.kind != mapNode {
				fail(v, feature, false, "want a mapping such as {gte: 10}, got %s", v.what())
				continue
			}
			for j, op := range v.keys {
				cv := v.vals[j]
				switch op {
				case "field":
					co.field = cv.s
				case "gt", "gte", "lt", "lte", "eq":
					x, err := strconv.Atoi(cv.s)
					if err != nil || x < 0 {
						fail(cv, feature+"."+op, false, "want a whole number, got %q", cv.s)
					}
					co.cond[op] = x
				default:
					fail(cv, feature+"."+op, false, "unknown condition (want gt, gte, lt, lte, eq, field)")
				}
			}
		case "aliases":
			if v.kind != mapNode {
				fail(v, feature, false, "want a mapping of alias names, got %s", v.what())
				continue
			}
			co.aliases = map[string]map[string]string{}
			for j, alias := range v.keys {
				av := v.vals[j]
				if av.kind != mapNode {
					fail(av, feature+"."+alias, false, "want a mapping of rule names to fields, got %s", av.what())
					continue
				}
				co.aliases[alias] = map[string]string{}
				for x, rule := range av.keys {
					co.aliases[alias][rule] = av.vals[x].s
				}
			}
		case "generate":
			co.generate = v.s == "true"
		default:
			fail(v, feature, true, "unknown correlation field")
		}
	}
	if g := doc.get("generate"); g != nil {
		co.generate = g.s == "true"
	}
	if co.typ == "" {
		fail(n, "correlation.type", false, "is required")
	}
	if len(co.rules) == 0 {
		fail(n, "correlation.rules", false, "is required")
	}
	if co.timespan <= 0 {
		fail(n, "correlation.timespan", false, "is required")
	}
	if len(co.groupBy) == 0 {
		fail(n, "correlation.group-by", false, "is required (rdr groups every correlation by a field)")
	}
	return co
}

// parseTimespan parses Sigma's timespans: a number and s, m, h or d.
func parseTimespan(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("bad timespan %q", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad timespan %q", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("bad timespan %q", s)
	}
	return time.Duration(n) * unit, nil
}

// link resolves the correlations' references and makes the rdr rules:
// every detection rule no correlation refers to (or whose correlation
// says generate), and every correlation no other correlation refers to.
func (c *Collection) link() []error {
	var errs []error
	byRef := map[string]*sigmaRule{}
	for _, r := range c.rules {
		for _, ref := range []string{r.id, r.name} {
			if ref == "" {
				continue
			}
			if prev, dup := byRef[ref]; dup && prev != r {
				errs = append(errs, &Error{File: r.file, Line: r.line, Rule: cmp.Or(r.name, r.title), Feature: "id",
					Reason: fmt.Sprintf("%q is also the name or ID of a rule in %s", ref, prev.file)})
			}
			byRef[ref] = r
		}
	}
	if len(errs) > 0 {
		return errs
	}
	referenced := map[*sigmaRule]bool{}
	generated := map[*sigmaRule]bool{}
	for _, r := range c.rules {
		if r.corr == nil {
			continue
		}
		for _, ref := range r.corr.rules {
			if t := byRef[ref]; t != nil {
				referenced[t] = true
				if r.corr.generate {
					generated[t] = true
				}
			}
		}
	}
	names := map[string]*sigmaRule{}
	for _, r := range c.rules {
		if referenced[r] && !generated[r] {
			if r.corr != nil {
				if _, err := c.compile(r, byRef); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		if prev, dup := names[r.rdrName]; dup {
			errs = append(errs, &Error{File: r.file, Line: r.line, Rule: r.rdrName, Feature: "name",
				Reason: fmt.Sprintf("the rdr rule name %q is also that of a rule in %s line %d: give one a name", r.rdrName, prev.file, prev.line)})
			continue
		}
		names[r.rdrName] = r
		rule := anomaly.Rule{Name: r.rdrName, Description: cmp.Or(r.description, r.title), Severity: r.level,
			Tags: r.tags, Version: r.version, Risk: defaultRisk[r.level]}
		var mk func(*fieldCache) (anomaly.Detector, error)
		var filter filterFunc
		if r.corr == nil {
			filter, rule.GroupBy = r.filterFunc(), c.mapping.GroupBy
			mk = func(*fieldCache) (anomaly.Detector, error) { return anomaly.EveryEvent{}, nil }
		} else {
			cc, err := c.compile(r, byRef)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			filter, rule.GroupBy, mk = cc.filter, cc.groupBy, cc.make
		}
		if _, err := mk(nil); err != nil {
			errs = append(errs, &Error{File: r.file, Line: r.line, Rule: r.rdrName, Feature: "correlation", Reason: err.Error()})
			continue
		}
		c.out = append(c.out, outRule{rule: rule, filter: filter, make: mk})
	}
	if len(errs) == 0 {
		if _, err := anomaly.NewEngine(c.Rules(), anomaly.Config{}); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// defaultRisk is anomaly's default risk by severity, as rule files give.
var defaultRisk = [...]float64{0, 5, 15, 30, 50}

// compile compiles a correlation rule (once).
func (c *Collection) compile(r *sigmaRule, byRef map[string]*sigmaRule) (*compiledCorr, error) {
	if r.compiled != nil {
		return r.compiled, nil
	}
	co := r.corr
	bad := func(n *node, feature string, unsupported bool, format string, args ...any) error {
		line := r.line
		if n != nil {
			line = n.line
		}
		return &Error{File: r.file, Line: line, Rule: r.rdrName, Feature: feature, Reason: fmt.Sprintf(format, args...), Unsupported: unsupported}
	}
	if r.busy {
		return nil, bad(co.node, "correlation.rules", false, "refers to itself through its rules")
	}
	r.busy = true
	defer func() { r.busy = false }()

	type ref struct {
		r  *sigmaRule
		cc *compiledCorr
	}
	var refs []ref
	for _, name := range co.rules {
		t := byRef[name]
		if t == nil {
			return nil, bad(co.node.get("rules"), "correlation.rules", false, "no rule has the name or ID %q", name)
		}
		x := ref{r: t}
		if t.corr != nil {
			if co.typ == "event_count" || co.typ == "value_count" {
				return nil, bad(co.node.get("rules"), "correlation.rules", true, "%s over another correlation (%s) is not supported: only temporal correlations chain", co.typ, name)
			}
			if t.corr.typ == "temporal" || t.corr.typ == "temporal_ordered" {
				return nil, bad(co.node.get("rules"), "correlation.rules", true, "a temporal correlation over another temporal one (%s) is not supported", name)
			}
			cc, err := c.compile(t, byRef)
			if err != nil {
				return nil, err
			}
			x.cc = cc
		}
		refs = append(refs, x)
	}
	filterOf := func(x ref) filterFunc {
		if x.cc != nil {
			return x.cc.filter
		}
		return x.r.filterFunc()
	}
	// The events the correlation sees: those of any of its rules.
	var types []string
	allTyped := true
	for _, x := range refs {
		f := filterOf(x)(nil)
		if len(f.Types) == 0 {
			allTyped = false
		}
		for _, t := range f.Types {
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	if !allTyped {
		types = nil
	}
	out := &compiledCorr{filter: func(c *fieldCache) anomaly.Filter {
		if len(refs) == 1 {
			return filterOf(refs[0])(c)
		}
		var filters anyOf
		for _, x := range refs {
			filters = append(filters, filterOf(x)(c))
		}
		return anomaly.Filter{Types: types, Expr: filters}
	}}
	// Group-by: fields of the mapping, or aliases.
	var fields []anomaly.Field
	for _, g := range co.groupBy {
		if al, ok := co.aliases[g]; ok {
			var when []anomaly.Matcher
			var afs []anomaly.Field
			for _, x := range refs {
				src, ok := al[x.r.name]
				if !ok {
					src, ok = al[x.r.id]
				}
				if !ok {
					return nil, bad(co.node.get("aliases"), "correlation.aliases."+g, false, "names no field for the rule %s", cmp.Or(x.r.name, x.r.id))
				}
				f, ok := c.mapping.field(src)
				if !ok {
					return nil, bad(co.node.get("aliases"), "correlation.aliases."+g, true, "field %q is not in the mapping %s", src, c.mapping.Name)
				}
				f0 := filterOf(x)(nil) // no cache: an alias field is shared by every engine
				when = append(when, filterMatcher{&f0})
				afs = append(afs, f)
			}
			fields = append(fields, anomaly.AliasField(g, r.rdrName, when, afs))
			continue
		}
		f, ok := c.mapping.field(g)
		if !ok {
			return nil, bad(co.node.get("group-by"), "correlation.group-by", true, "field %q is not in the mapping %s", g, c.mapping.Name)
		}
		fields = append(fields, f)
	}
	out.groupBy = anomaly.CompositeField(fields...)
	condNode := co.node.get("condition")
	threshold := func(def int) (int, error) {
		n, set := def, false
		for op, x := range co.cond {
			switch op {
			case "gte":
				n, set = x, true
			case "gt":
				n, set = x+1, true
			default:
				return 0, bad(condNode, "correlation.condition."+op, true,
					"condition %s is not supported: a stream cannot tell \"at most\" before the timespan is over (use gte or gt)", op)
			}
		}
		if !set && def == 0 {
			return 0, bad(condNode, "correlation.condition", false, "needs gte or gt")
		}
		if n < 1 {
			n = 1
		}
		return n, nil
	}
	switch co.typ {
	case "event_count":
		if co.field != "" {
			return nil, bad(condNode, "correlation.condition.field", false, "event_count takes no field (value_count does)")
		}
		n, err := threshold(0)
		if err != nil {
			return nil, err
		}
		cfg := anomaly.CountConfig{Window: co.timespan, Threshold: n}
		out.make = func(*fieldCache) (anomaly.Detector, error) { return anomaly.NewCount(cfg) }
	case "value_count":
		if co.field == "" {
			return nil, bad(condNode, "correlation.condition.field", false, "is required for value_count")
		}
		f, ok := c.mapping.field(co.field)
		if !ok {
			return nil, bad(condNode, "correlation.condition.field", true, "field %q is not in the mapping %s", co.field, c.mapping.Name)
		}
		n, err := threshold(0)
		if err != nil {
			return nil, err
		}
		cfg := anomaly.DistinctConfig{Window: co.timespan, Field: f, Threshold: n}
		out.make = func(*fieldCache) (anomaly.Detector, error) { return anomaly.NewDistinct(cfg) }
	case "temporal", "temporal_ordered":
		if co.field != "" {
			return nil, bad(condNode, "correlation.condition.field", false, "%s takes no field", co.typ)
		}
		if len(refs) < 2 {
			return nil, bad(co.node.get("rules"), "correlation.rules", false, "%s needs at least 2 rules", co.typ)
		}
		min, err := threshold(len(refs))
		if err != nil {
			return nil, err
		}
		if min > len(refs) {
			return nil, bad(condNode, "correlation.condition", false, "%d of %d rules can never happen", min, len(refs))
		}
		ordered := co.typ == "temporal_ordered"
		if ordered && min != len(refs) {
			return nil, bad(condNode, "correlation.condition", true, "temporal_ordered with fewer than all its rules is not supported")
		}
		window := co.timespan
		mk := func(c *fieldCache) (anomaly.Detector, error) {
			cfg := anomaly.TemporalConfig{Window: window, Ordered: ordered, Min: min}
			for _, x := range refs {
				step := anomaly.TemporalStep{Name: x.r.rdrName, Filter: filterOf(x)(c)}
				if x.cc != nil {
					d, err := x.cc.make(c)
					if err != nil {
						return nil, err
					}
					step.Detector = d
				}
				cfg.Steps = append(cfg.Steps, step)
			}
			return anomaly.NewTemporal(cfg)
		}
		out.make = mk
	}
	r.compiled = out
	return out, nil
}

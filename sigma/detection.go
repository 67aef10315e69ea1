package sigma

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
)

// This file compiles a Sigma rule's detection section into a matcher: its
// search identifiers (maps of field conditions, lists of them, keyword
// lists) and the condition expression over them.

// matcher is a compiled part of a detection.
type matcher interface {
	match(ev *rdr.Event, c *fieldCache) bool
}

// fieldCache keeps the values of the fields a collection's rules read, for
// the event they are reading, so that a hundred rules reading the same
// metadata key scan the event's metadata once. One engine's rules share
// one (Collection.Rules makes one per call); nil caches nothing.
//
// It knows an event by its strings (the same memory, which the cache
// keeps alive), time, address and severity: an event with all of them
// equal is the same event, whatever called the matcher.
type fieldCache struct {
	ev   rdr.Event
	gen  uint64
	vals []cachedValue
}

type cachedValue struct {
	gen uint64
	v   string
	ok  bool
}

func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// begin makes the cache ev's: a new generation unless ev is the event
// it holds. exprMatcher calls it before its matchers read fields.
func (c *fieldCache) begin(ev *rdr.Event) {
	if c == nil {
		return
	}
	if c.gen == 0 || !sameString(ev.Type, c.ev.Type) || !sameString(ev.UserID, c.ev.UserID) ||
		!sameString(string(ev.Metadata), string(c.ev.Metadata)) || !ev.Time.Equal(c.ev.Time) || ev.IP != c.ev.IP || ev.Severity != c.ev.Severity {
		c.ev = *ev
		c.gen++
	}
}

// value returns field f (cache slot slot) of ev, which begin was called
// with.
func (c *fieldCache) value(slot int, f anomaly.Field, ev *rdr.Event) (string, bool) {
	if c == nil || slot < 0 {
		return f.Value(*ev)
	}
	if slot >= len(c.vals) {
		c.vals = append(c.vals, make([]cachedValue, slot+1-len(c.vals))...)
	}
	cv := &c.vals[slot]
	if cv.gen != c.gen {
		cv.v, cv.ok = f.Value(*ev)
		cv.gen = c.gen
	}
	return cv.v, cv.ok
}

type andMatcher []matcher

func (m andMatcher) match(ev *rdr.Event, c *fieldCache) bool {
	for _, x := range m {
		if !x.match(ev, c) {
			return false
		}
	}
	return true
}

type orMatcher []matcher

func (m orMatcher) match(ev *rdr.Event, c *fieldCache) bool {
	for _, x := range m {
		if x.match(ev, c) {
			return true
		}
	}
	return false
}

type notMatcher struct{ m matcher }

func (m notMatcher) match(ev *rdr.Event, c *fieldCache) bool { return !m.m.match(ev, c) }

// fieldMatcher: the field has a value that matches one (all, with the
// all modifier) of vals.
type fieldMatcher struct {
	f    anomaly.Field
	slot int
	vals []valueMatcher
	all  bool
}

func (m *fieldMatcher) match(ev *rdr.Event, c *fieldCache) bool {
	v, ok := c.value(m.slot, m.f, ev)
	if !ok {
		return false
	}
	for _, vm := range m.vals {
		if vm.matchValue(v) != m.all {
			return !m.all
		}
	}
	return m.all
}

// nullMatcher: the field is missing, empty or JSON null (a Sigma null).
type nullMatcher struct {
	f    anomaly.Field
	slot int
}

func (m nullMatcher) match(ev *rdr.Event, c *fieldCache) bool {
	v, ok := c.value(m.slot, m.f, ev)
	return !ok || v == "" || v == "null"
}

// existsMatcher: the field is present (want) or absent (!want).
type existsMatcher struct {
	f    anomaly.Field
	slot int
	want bool
}

func (m existsMatcher) match(ev *rdr.Event, c *fieldCache) bool {
	_, ok := c.value(m.slot, m.f, ev)
	return ok == m.want
}

// cidrMatcher: the field is an IP address in one of the prefixes.
type cidrMatcher struct {
	f        anomaly.Field
	slot     int
	prefixes []netip.Prefix
}

func (m *cidrMatcher) match(ev *rdr.Event, c *fieldCache) bool {
	ip := ev.IP
	if m.f != anomaly.FieldIP {
		v, ok := c.value(m.slot, m.f, ev)
		if !ok {
			return false
		}
		var err error
		if ip, err = netip.ParseAddr(v); err != nil {
			return false
		}
	}
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, p := range m.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// numberMatcher: the field is a number that compares to x by op.
type numberMatcher struct {
	f    anomaly.Field
	slot int
	op   string
	x    []float64
}

func (m *numberMatcher) match(ev *rdr.Event, c *fieldCache) bool {
	v, ok := c.value(m.slot, m.f, ev)
	if !ok {
		return false
	}
	n, err := strconv.ParseFloat(strings.Trim(v, `"`), 64)
	if err != nil {
		return false
	}
	for _, x := range m.x {
		switch {
		case m.op == "gt" && n > x, m.op == "gte" && n >= x, m.op == "lt" && n < x, m.op == "lte" && n <= x:
			return true
		}
	}
	return false
}

// fieldrefMatcher: the field's value equals another field's.
type fieldrefMatcher struct {
	f     anomaly.Field
	other []anomaly.Field
	cased bool
}

func (m *fieldrefMatcher) match(ev *rdr.Event, c *fieldCache) bool {
	v, ok := m.f.Value(*ev)
	if !ok {
		return false
	}
	for _, o := range m.other {
		w, ok := o.Value(*ev)
		if ok && (v == w || !m.cased && strings.EqualFold(v, w)) {
			return true
		}
	}
	return false
}

// keywordMatcher: one of the fields contains one (all) of the keywords.
type keywordMatcher struct {
	fields []anomaly.Field
	slots  []int
	vals   []valueMatcher
	all    bool
}

func (m *keywordMatcher) match(ev *rdr.Event, c *fieldCache) bool {
	for _, vm := range m.vals {
		found := false
		for i, f := range m.fields {
			if v, ok := c.value(m.slots[i], f, ev); ok && vm.matchValue(v) {
				found = true
				break
			}
		}
		if found != m.all {
			return !m.all
		}
	}
	return m.all
}

// valueMatcher matches one value against one Sigma value.
type valueMatcher interface {
	matchValue(v string) bool
}

// How a plain Sigma value (wildcards and all) is matched: the common
// shapes without a regexp, case-insensitively for ASCII patterns.
type (
	anyValue    struct{}
	equalValue  struct{ p string }
	prefixValue struct{ p string }
	suffixValue struct{ p string }
	// containsValue holds its pattern in lower case.
	containsValue struct{ p string }
	cased         struct {
		p    string
		kind byte // '=', '^', '$', '~'
	}
	regexpValue struct{ re *regexp.Regexp }
)

func (anyValue) matchValue(string) bool       { return true }
func (m equalValue) matchValue(v string) bool { return strings.EqualFold(v, m.p) }
func (m prefixValue) matchValue(v string) bool {
	return len(v) >= len(m.p) && strings.EqualFold(v[:len(m.p)], m.p)
}
func (m suffixValue) matchValue(v string) bool {
	return len(v) >= len(m.p) && strings.EqualFold(v[len(v)-len(m.p):], m.p)
}
func (m containsValue) matchValue(v string) bool { return containsFold(v, m.p) }
func (m regexpValue) matchValue(v string) bool   { return m.re.MatchString(v) }
func (m cased) matchValue(v string) bool {
	switch m.kind {
	case '=':
		return v == m.p
	case '^':
		return strings.HasPrefix(v, m.p)
	case '$':
		return strings.HasSuffix(v, m.p)
	}
	return strings.Contains(v, m.p)
}

// containsFold reports whether s contains p, ignoring ASCII case; p is
// ASCII and lower case.
func containsFold(s, p string) bool {
	if len(p) == 0 {
		return true
	}
	first := p[0]
	for i := 0; i+len(p) <= len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c == first && strings.EqualFold(s[i:i+len(p)], p) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// segment is a piece of a Sigma value: literal text, or a wildcard ('*'
// any run, '?' one character).
type segment struct {
	lit  string
	wild byte
}

// splitWildcards splits a Sigma value into literals and wildcards. A
// backslash escapes '*', '?' and '\'; before any other character it is
// itself.
func splitWildcards(s string) []segment {
	var segs []segment
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			segs = append(segs, segment{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			lit.WriteByte(s[i+1])
			i++
		case c == '*' || c == '?':
			flush()
			if c == '*' && len(segs) > 0 && segs[len(segs)-1].wild == '*' {
				continue
			}
			segs = append(segs, segment{wild: c})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return segs
}

// plainValue compiles a Sigma value under a base modifier (""/equal,
// contains, startswith, endswith).
func plainValue(s, base string, caseSensitive bool) (valueMatcher, error) {
	segs := splitWildcards(s)
	star := segment{wild: '*'}
	if base == "contains" || base == "endswith" {
		if len(segs) == 0 || segs[0].wild != '*' {
			segs = append([]segment{star}, segs...)
		}
	}
	if base == "contains" || base == "startswith" {
		if len(segs) == 0 || segs[len(segs)-1].wild != '*' {
			segs = append(segs, star)
		}
	}
	lits := 0
	for _, sg := range segs {
		if sg.wild == '?' {
			lits = -100
		}
		if sg.wild == 0 {
			lits++
		}
	}
	shape := ""
	for _, sg := range segs {
		if sg.wild == 0 {
			shape += "L"
		} else {
			shape += string(sg.wild)
		}
	}
	lit := ""
	if lits == 1 {
		for _, sg := range segs {
			if sg.wild == 0 {
				lit = sg.lit
			}
		}
	}
	fold := !caseSensitive && isASCII(lit)
	switch {
	case shape == "":
		return equalValue{""}, nil
	case shape == "*":
		return anyValue{}, nil
	case caseSensitive && lits == 1:
		kind := map[string]byte{"L": '=', "L*": '^', "*L": '$', "*L*": '~'}[shape]
		if kind != 0 {
			return cased{p: lit, kind: kind}, nil
		}
	case fold && shape == "L":
		return equalValue{lit}, nil
	case fold && shape == "L*":
		return prefixValue{lit}, nil
	case fold && shape == "*L":
		return suffixValue{lit}, nil
	case fold && shape == "*L*":
		return containsValue{strings.ToLower(lit)}, nil
	}
	var re strings.Builder
	if !caseSensitive {
		re.WriteString("(?i)")
	}
	re.WriteString("(?s)^")
	for _, sg := range segs {
		switch sg.wild {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(sg.lit))
		}
	}
	re.WriteString("$")
	return regexpValue{regexp.MustCompile(re.String())}, nil
}

// unsupportedModifiers are Sigma modifiers rdr refuses, with why.
var unsupportedModifiers = map[string]string{
	"base64":       "rdr's events are not encoded",
	"base64offset": "rdr's events are not encoded",
	"utf16le":      "rdr's events are text, not UTF-16",
	"utf16be":      "rdr's events are text, not UTF-16",
	"utf16":        "rdr's events are text, not UTF-16",
	"wide":         "rdr's events are text, not UTF-16",
	"windash":      "not implemented",
	"expand":       "placeholders are not implemented",
	"minute":       "time-part modifiers are not implemented",
	"hour":         "time-part modifiers are not implemented",
	"day":          "time-part modifiers are not implemented",
	"week":         "time-part modifiers are not implemented",
	"month":        "time-part modifiers are not implemented",
	"year":         "time-part modifiers are not implemented",
}

// compiler compiles one rule's detection, collecting errors.
type compiler struct {
	m     *Mapping
	errs  []*Error
	slots map[anomaly.Field]int // the collection's cache slots, by field
}

// slot returns f's cache slot.
func (c *compiler) slot(f anomaly.Field) int {
	if c.slots == nil {
		return -1
	}
	i, ok := c.slots[f]
	if !ok {
		i = len(c.slots)
		c.slots[f] = i
	}
	return i
}

func (c *compiler) fail(n *node, feature string, unsupported bool, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.line
	}
	c.errs = append(c.errs, &Error{Line: line, Feature: feature, Reason: fmt.Sprintf(format, args...), Unsupported: unsupported})
}

// scalars returns a value's scalars: one, or a list's.
func scalars(n *node) ([]*node, bool) {
	switch n.kind {
	case scalarNode, nullNode:
		return []*node{n}, true
	case listNode:
		for _, it := range n.items {
			if it.kind != scalarNode && it.kind != nullNode {
				return nil, false
			}
		}
		return n.items, true
	}
	return nil, false
}

// fieldCondition compiles "field|modifiers: value(s)".
func (c *compiler) fieldCondition(key string, v *node, feature string) matcher {
	parts := strings.Split(key, "|")
	name, mods := parts[0], parts[1:]
	feature += "." + key
	f, ok := c.m.field(name)
	if !ok {
		c.fail(v, feature, true, "field %q is not in the mapping %s", name, c.m.Name)
		return nil
	}
	vals, ok := scalars(v)
	if !ok {
		c.fail(v, feature, false, "want a value or a list of values, got %s", v.what())
		return nil
	}
	base, all, caseSensitive := "", false, false
	special := ""
	var reFlags string
	for _, mod := range mods {
		switch mod {
		case "contains", "startswith", "endswith":
			if base != "" {
				c.fail(v, feature, false, "modifiers %s and %s together", base, mod)
				return nil
			}
			base = mod
		case "all":
			all = true
		case "cased":
			caseSensitive = true
		case "re", "cidr", "exists", "gt", "gte", "lt", "lte", "fieldref":
			if special != "" {
				c.fail(v, feature, false, "modifiers %s and %s together", special, mod)
				return nil
			}
			special = mod
		case "i", "m", "s":
			if special != "re" {
				c.fail(v, feature, false, "modifier %s applies to re only", mod)
				return nil
			}
			reFlags += mod
		default:
			if why, known := unsupportedModifiers[mod]; known {
				c.fail(v, feature, true, "modifier %s is not supported: %s", mod, why)
			} else {
				c.fail(v, feature, true, "unknown modifier %q", mod)
			}
			return nil
		}
	}
	if special != "" && base != "" {
		c.fail(v, feature, false, "modifiers %s and %s together", base, special)
		return nil
	}
	switch special {
	case "exists":
		if len(vals) != 1 || vals[0].kind != scalarNode || vals[0].isStr || (vals[0].s != "true" && vals[0].s != "false") {
			c.fail(v, feature, false, "exists takes true or false")
			return nil
		}
		return existsMatcher{f: f, slot: c.slot(f), want: vals[0].s == "true"}
	case "cidr":
		m := &cidrMatcher{f: f, slot: c.slot(f)}
		for _, x := range vals {
			p, err := netip.ParsePrefix(x.s)
			if err != nil {
				c.fail(x, feature, false, "cidr: %q is not a CIDR prefix", x.s)
				return nil
			}
			m.prefixes = append(m.prefixes, p.Masked())
		}
		return m
	case "gt", "gte", "lt", "lte":
		m := &numberMatcher{f: f, slot: c.slot(f), op: special}
		for _, x := range vals {
			n, err := strconv.ParseFloat(x.s, 64)
			if err != nil {
				c.fail(x, feature, false, "%s: %q is not a number", special, x.s)
				return nil
			}
			m.x = append(m.x, n)
		}
		return m
	case "fieldref":
		m := &fieldrefMatcher{f: f, cased: caseSensitive}
		for _, x := range vals {
			o, ok := c.m.field(x.s)
			if !ok {
				c.fail(x, feature, true, "fieldref: field %q is not in the mapping %s", x.s, c.m.Name)
				return nil
			}
			m.other = append(m.other, o)
		}
		return m
	}
	fm := &fieldMatcher{f: f, slot: c.slot(f), all: all}
	var nulls []matcher
	for _, x := range vals {
		if x.kind == nullNode {
			if all || special != "" || base != "" {
				c.fail(x, feature, false, "null takes no modifiers")
				return nil
			}
			nulls = append(nulls, nullMatcher{f, c.slot(f)})
			continue
		}
		if special == "re" {
			expr := x.s
			if reFlags != "" {
				expr = "(?" + reFlags + ")" + expr
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				c.fail(x, feature, true, "re: %v (rdr runs Go's RE2 syntax: no backreferences or lookaround)", err)
				return nil
			}
			fm.vals = append(fm.vals, regexpValue{re})
			continue
		}
		vm, err := plainValue(x.s, base, caseSensitive)
		if err != nil {
			c.fail(x, feature, false, "%v", err)
			return nil
		}
		fm.vals = append(fm.vals, vm)
	}
	switch {
	case len(nulls) == 0:
		return fm
	case len(fm.vals) == 0 && len(nulls) == 1:
		return nulls[0]
	case len(fm.vals) == 0:
		return orMatcher(nulls)
	}
	return orMatcher(append(nulls, fm))
}

// searchIdentifier compiles one search identifier's value.
func (c *compiler) searchIdentifier(name string, v *node) matcher {
	feature := "detection." + name
	switch v.kind {
	case mapNode:
		return c.fieldMap(v, feature)
	case listNode:
		maps, plain := 0, 0
		for _, it := range v.items {
			if it.kind == mapNode {
				maps++
			} else {
				plain++
			}
		}
		switch {
		case plain == 0:
			var or orMatcher
			for _, it := range v.items {
				if m := c.fieldMap(it, feature); m != nil {
					or = append(or, m)
				}
			}
			return or
		case maps == 0:
			return c.keywords(v, feature)
		}
		c.fail(v, feature, false, "a list of both field maps and keywords")
		return nil
	case scalarNode:
		return c.keywords(v, feature)
	}
	c.fail(v, feature, false, "want a map of fields, a list of them, or keywords; got %s", v.what())
	return nil
}

func (c *compiler) fieldMap(v *node, feature string) matcher {
	if len(v.keys) == 0 {
		c.fail(v, feature, false, "an empty map")
		return nil
	}
	var and andMatcher
	for i, k := range v.keys {
		if m := c.fieldCondition(k, v.vals[i], feature); m != nil {
			and = append(and, m)
		}
	}
	if len(and) == 1 {
		return and[0]
	}
	return and
}

func (c *compiler) keywords(v *node, feature string) matcher {
	if len(c.m.Keywords) == 0 {
		c.fail(v, feature, true, "keyword search: the mapping %s names no keyword fields", c.m.Name)
		return nil
	}
	vals, _ := scalars(v)
	m := &keywordMatcher{fields: c.m.Keywords}
	for _, f := range c.m.Keywords {
		m.slots = append(m.slots, c.slot(f))
	}
	for _, x := range vals {
		if x.kind == nullNode {
			c.fail(x, feature, false, "a null keyword")
			return nil
		}
		vm, _ := plainValue(x.s, "contains", false)
		m.vals = append(m.vals, vm)
	}
	return m
}

// detection compiles a rule's detection section.
func (c *compiler) detection(d *node) matcher {
	if d == nil || d.kind != mapNode {
		c.fail(d, "detection", false, "is required: a mapping of search identifiers and a condition")
		return nil
	}
	ids := map[string]matcher{}
	var names []string
	var cond *node
	for i, k := range d.keys {
		v := d.vals[i]
		switch k {
		case "condition":
			cond = v
			continue
		case "timeframe":
			c.fail(v, "detection.timeframe", true, "timeframe (with aggregations) is obsolete: use a correlation rule")
			continue
		}
		if m := c.searchIdentifier(k, v); m != nil {
			ids[k] = m
		}
		names = append(names, k)
	}
	if cond == nil {
		c.fail(d, "detection.condition", false, "is required")
		return nil
	}
	var conds []*node
	switch cond.kind {
	case scalarNode:
		conds = []*node{cond}
	case listNode:
		conds = cond.items
	default:
		c.fail(cond, "detection.condition", false, "want an expression, got %s", cond.what())
		return nil
	}
	if len(c.errs) > 0 {
		return nil
	}
	var or orMatcher
	for _, cn := range conds {
		p := &condParser{names: names, ids: ids, node: cn, c: c}
		m := p.parse(cn.s)
		if m == nil {
			return nil
		}
		or = append(or, m)
	}
	if len(or) == 1 {
		return or[0]
	}
	return or
}

// condParser parses a condition: or, and, not, parentheses, "1 of X",
// "all of X" (X a name, a name with wildcards, or "them").
type condParser struct {
	names []string
	ids   map[string]matcher
	node  *node
	c     *compiler
	toks  []string
	pos   int
	bad   bool
}

func (p *condParser) fail(unsupported bool, format string, args ...any) {
	if !p.bad {
		p.c.fail(p.node, "detection.condition", unsupported, format, args...)
	}
	p.bad = true
}

func tokenize(s string) []string {
	var toks []string
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '|':
			toks = append(toks, string(c))
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n()|", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

func (p *condParser) parse(s string) matcher {
	p.toks = tokenize(s)
	if slices.Contains(p.toks, "|") {
		p.fail(true, "aggregations after '|' are obsolete: use a correlation rule")
		return nil
	}
	if len(p.toks) == 0 {
		p.fail(false, "is empty")
		return nil
	}
	m := p.or()
	if !p.bad && p.pos < len(p.toks) {
		p.fail(false, "unexpected %q", p.toks[p.pos])
	}
	if p.bad {
		return nil
	}
	return m
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) or() matcher {
	var or orMatcher
	for {
		or = append(or, p.and())
		if p.bad || !strings.EqualFold(p.peek(), "or") {
			break
		}
		p.pos++
	}
	if len(or) == 1 {
		return or[0]
	}
	return or
}

func (p *condParser) and() matcher {
	var and andMatcher
	for {
		and = append(and, p.not())
		if p.bad || !strings.EqualFold(p.peek(), "and") {
			break
		}
		p.pos++
	}
	if len(and) == 1 {
		return and[0]
	}
	return and
}

func (p *condParser) not() matcher {
	if strings.EqualFold(p.peek(), "not") {
		p.pos++
		m := p.not()
		if p.bad {
			return nil
		}
		return notMatcher{m}
	}
	return p.primary()
}

func (p *condParser) primary() matcher {
	t := p.peek()
	switch {
	case t == "":
		p.fail(false, "ends too soon")
		return nil
	case t == "(":
		p.pos++
		m := p.or()
		if p.bad {
			return nil
		}
		if p.peek() != ")" {
			p.fail(false, "missing ')'")
			return nil
		}
		p.pos++
		return m
	case t == ")", strings.EqualFold(t, "and"), strings.EqualFold(t, "or"):
		p.fail(false, "unexpected %q", t)
		return nil
	}
	if p.pos+1 < len(p.toks) && strings.EqualFold(p.toks[p.pos+1], "of") {
		quant := strings.ToLower(t)
		p.pos += 2
		target := p.peek()
		if target == "" {
			p.fail(false, "%s of what?", quant)
			return nil
		}
		p.pos++
		var group []matcher
		for _, n := range p.names {
			if target == "them" && !strings.HasPrefix(n, "_") || target != "them" && globMatch(target, n) {
				group = append(group, p.ids[n])
			}
		}
		if len(group) == 0 {
			p.fail(false, "%s of %s: no search identifier matches", quant, target)
			return nil
		}
		switch quant {
		case "1", "any":
			return orMatcher(group)
		case "all":
			return andMatcher(group)
		}
		p.fail(true, "%q of: only 1 of and all of are supported", t)
		return nil
	}
	p.pos++
	m, ok := p.ids[t]
	if !ok {
		p.fail(false, "unknown search identifier %q", t)
		return nil
	}
	return m
}

// globMatch matches a name against a pattern with '*' wildcards.
func globMatch(pattern, name string) bool {
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}

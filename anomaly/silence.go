package anomaly

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrInvalidSilence is matched by every [*SilenceError]: what
// [Silence.Validate], [ParseSilenceMatcher], [Silences.Add] and
// [Silences.Restore] return for a silence or matcher they refuse.
var ErrInvalidSilence = errors.New("anomaly: invalid silence")

// ErrSilenceNotFound is returned, wrapped with the ID, by [Silences.Expire]
// for an ID the set does not hold.
var ErrSilenceNotFound = errors.New("anomaly: silence not found")

// SilenceError names the part of a [Silence] that is wrong and why. It
// unwraps to [ErrInvalidSilence].
type SilenceError struct {
	// Field is the JSON name of what is wrong: "matchers",
	// "matchers[1].op", "endsAt", "createdBy", …
	Field string
	// Reason says what is wrong with it.
	Reason string
}

func (e *SilenceError) Error() string {
	return "anomaly: invalid silence: " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalidSilence.
func (e *SilenceError) Unwrap() error { return ErrInvalidSilence }

// The states of a [Silence] at a given time ([Silence.State]).
const (
	SilencePending = "pending" // before StartsAt
	SilenceActive  = "active"  // from StartsAt to just before EndsAt
	SilenceExpired = "expired" // from EndsAt on
)

// The names a [SilenceMatcher] can match.
const (
	MatchRule     = "rule"     // Alert.Rule
	MatchKey      = "key"      // Alert.Key
	MatchGroupBy  = "groupBy"  // Alert.GroupBy
	MatchSeverity = "severity" // Alert.Severity, as its name ("high")
	MatchTag      = "tag"      // Alert.Tags: any of them
)

// The operators of a [SilenceMatcher], as in Alertmanager.
const (
	OpEqual     = "="
	OpNotEqual  = "!="
	OpRegexp    = "=~"
	OpNotRegexp = "!~"
)

// silenceIDMax is the longest ID a silence may be given.
const silenceIDMax = 128

var silenceNames = []string{MatchRule, MatchKey, MatchGroupBy, MatchSeverity, MatchTag}

// Silence mutes the alerts that match all of its Matchers from StartsAt
// (inclusive) to EndsAt (exclusive), as an Alertmanager silence does: a
// silenced alert is still detected and stored, marked with the silence's
// ID (Alert.SilencedBy), and not announced as new. Silences are made by
// people: each says who made it (CreatedBy) and why (Comment).
//
// Silence marshals to JSON with camelCase names:
//
//	{"id":"3f2a…","matchers":[{"name":"rule","op":"=","value":"new-login-ip"}],
//	 "startsAt":"…","endsAt":"…","createdBy":"alice","comment":"VPN migration",
//	 "createdAt":"…"}
//
// A Silence is a plain value; see [Silences] for a set of them that is safe
// for concurrent use.
type Silence struct {
	// ID identifies the silence. [Silences.Add] assigns one (16 random hex
	// digits) when it is empty; one that is given is at most 128 letters,
	// digits, '-', '_' and '.'.
	ID string `json:"id"`
	// Matchers must all match an alert for the silence to mute it. At
	// least one, and at least one that does not match the empty string.
	Matchers []SilenceMatcher `json:"matchers"`
	// StartsAt and EndsAt bound when the silence is active, wall-clock
	// time: [StartsAt, EndsAt). Required; EndsAt after StartsAt.
	StartsAt time.Time `json:"startsAt"`
	EndsAt   time.Time `json:"endsAt"`
	// CreatedBy names who made the silence. Required.
	CreatedBy string `json:"createdBy"`
	// Comment says why. Required.
	Comment string `json:"comment"`
	// CreatedAt is when the silence was added ([Silences.Add] sets it).
	CreatedAt time.Time `json:"createdAt"`
}

// SilenceMatcher matches one property of an alert: Name is what it looks
// at (rule, key, groupBy, severity or tag) and Op how it compares it to
// Value: "=" equal, "!=" not equal, "=~" matches the regular expression
// Value, "!~" does not. Regular expressions are RE2 (Go's regexp) and
// anchored at both ends, as in Alertmanager: rule=~"new" does not match
// "new-login-ip", rule=~"new.*" does.
//
// An alert has several tags, or none: tag="x" and tag=~"x" match when any
// of its tags does; tag!="x" and tag!~"x" are their negations, matching
// when none does. An alert without tags has one empty tag, as
// Alertmanager reads a missing label as "": tag!="x" matches it.
type SilenceMatcher struct {
	Name  string `json:"name"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

// String writes m in Alertmanager's text form, which
// [ParseSilenceMatcher] reads: rule="new-login-ip".
func (m SilenceMatcher) String() string { return m.Name + m.Op + strconv.Quote(m.Value) }

// ParseSilenceMatcher reads one matcher in Alertmanager's (amtool's) text
// form: a name, an operator and a value, the value in double quotes (Go's
// escapes: \" and \\) or, if it holds no spaces, quotes, backslashes, =, !,
// ~, commas or braces, bare:
//
//	rule="new-login-ip"
//	tag=~"attack\\.t1110.*"
//	severity!=low
//
// The matcher is checked as [Silence.Validate] checks it; an error is a
// [*SilenceError] for the field "matcher".
func ParseSilenceMatcher(s string) (SilenceMatcher, error) {
	s = strings.TrimSpace(s)
	bad := func(format string, args ...any) (SilenceMatcher, error) {
		return SilenceMatcher{}, &SilenceError{"matcher", fmt.Sprintf(format, args...)}
	}
	i := 0
	for i < len(s) && (s[i] == '_' || 'a' <= s[i] && s[i] <= 'z' || 'A' <= s[i] && s[i] <= 'Z' || i > 0 && '0' <= s[i] && s[i] <= '9') {
		i++
	}
	if i == 0 {
		return bad("%q does not start with a name (want name=\"value\", e.g. rule=\"new-login-ip\")", s)
	}
	m := SilenceMatcher{Name: s[:i]}
	rest := strings.TrimLeft(s[i:], " \t")
	for _, op := range []string{OpRegexp, OpNotEqual, OpNotRegexp, OpEqual} { // two-byte operators first
		if strings.HasPrefix(rest, op) {
			m.Op, rest = op, strings.TrimLeft(rest[len(op):], " \t")
			break
		}
	}
	if m.Op == "" {
		return bad("%q: no operator after %q (want =, !=, =~ or !~)", s, m.Name)
	}
	switch {
	case strings.HasPrefix(rest, `"`):
		v, err := strconv.Unquote(rest)
		if err != nil {
			return bad("%q: the value %s is not a double-quoted string (escape \" and \\ with a backslash)", s, rest)
		}
		m.Value = v
	case strings.ContainsAny(rest, " \t\"'=!~,{}\\"):
		return bad("%q: the value %s must be double-quoted: a bare value is letters, digits and punctuation other than quotes, \\, =, !, ~, commas and braces", s, rest)
	default:
		m.Value = rest
	}
	if _, err := compileMatcher(m, "matcher"); err != nil {
		return SilenceMatcher{}, err
	}
	return m, nil
}

// Validate returns a [*SilenceError] naming the first thing that is wrong
// with s, checked in this order, or nil:
//
//   - the ID, when set: at most 128 letters, digits, '-', '_' and '.';
//   - Matchers: at least one; each with a known Name and Op, and a Value
//     that compiles for =~ and !~; and, as Alertmanager requires, at least
//     one that does not match the empty string (rule!="x" or rule=~".*"
//     alone would mute almost every alert);
//   - StartsAt and EndsAt set, EndsAt after StartsAt;
//   - CreatedBy and Comment not blank.
func (s *Silence) Validate() error { return s.validate(false) }

// validate is Validate; expired allows EndsAt = StartsAt, as Expire leaves
// a silence expired before it started.
func (s *Silence) validate(expired bool) error {
	if _, err := compileSilence(s); err != nil {
		return err
	}
	switch {
	case s.StartsAt.IsZero():
		return &SilenceError{"startsAt", "is required"}
	case s.EndsAt.IsZero():
		return &SilenceError{"endsAt", "is required"}
	case s.EndsAt.Before(s.StartsAt) || !expired && s.EndsAt.Equal(s.StartsAt):
		return &SilenceError{"endsAt", fmt.Sprintf("must be after startsAt, got startsAt %s and endsAt %s",
			s.StartsAt.UTC().Format(time.RFC3339Nano), s.EndsAt.UTC().Format(time.RFC3339Nano))}
	case strings.TrimSpace(s.CreatedBy) == "":
		return &SilenceError{"createdBy", "is required: say who made the silence"}
	case strings.TrimSpace(s.Comment) == "":
		return &SilenceError{"comment", "is required: say why the alerts are silenced"}
	}
	return nil
}

// State returns where s stands at now: SilencePending before StartsAt,
// SilenceActive from StartsAt until just before EndsAt, SilenceExpired
// from EndsAt on.
func (s Silence) State(now time.Time) string {
	switch {
	case now.Before(s.StartsAt):
		return SilencePending
	case now.Before(s.EndsAt):
		return SilenceActive
	}
	return SilenceExpired
}

// Matches reports whether every matcher of s matches a, whatever the time
// (see State). A matcher that is not valid matches nothing. It compiles
// s's regular expressions on each call: to match many alerts, use a
// [Silences], which compiles them once.
func (s *Silence) Matches(a Alert) bool {
	c, err := compileSilence(s)
	return err == nil && c.matches(&a)
}

// compiledMatcher is a SilenceMatcher ready to match.
type compiledMatcher struct {
	name   string
	negate bool
	value  string         // for = and !=
	re     *regexp.Regexp // for =~ and !~
}

func compileMatcher(m SilenceMatcher, field string) (compiledMatcher, error) {
	c := compiledMatcher{name: m.Name, value: m.Value}
	if !slices.Contains(silenceNames, m.Name) {
		return c, &SilenceError{field + ".name", fmt.Sprintf("unknown name %q (want rule, key, groupBy, severity or tag)", m.Name)}
	}
	switch m.Op {
	case OpEqual:
	case OpNotEqual:
		c.negate = true
	case OpRegexp, OpNotRegexp:
		c.negate = m.Op == OpNotRegexp
		if _, err := regexp.Compile(m.Value); err != nil { // the error names the value as written
			return c, &SilenceError{field + ".value", fmt.Sprintf("bad regular expression %q: %v", m.Value, err)}
		}
		c.re = regexp.MustCompile("^(?:" + m.Value + ")$")
	default:
		return c, &SilenceError{field + ".op", fmt.Sprintf("unknown op %q (want =, !=, =~ or !~)", m.Op)}
	}
	return c, nil
}

// match reports whether v matches, before negation.
func (c *compiledMatcher) match(v string) bool {
	if c.re != nil {
		return c.re.MatchString(v)
	}
	return v == c.value
}

func (c *compiledMatcher) matches(a *Alert) bool {
	var hit bool
	switch c.name {
	case MatchRule:
		hit = c.match(a.Rule)
	case MatchKey:
		hit = c.match(a.Key)
	case MatchGroupBy:
		hit = c.match(a.GroupBy)
	case MatchSeverity:
		hit = c.match(a.Severity.String())
	case MatchTag:
		if len(a.Tags) == 0 {
			hit = c.match("")
		}
		for _, t := range a.Tags {
			if hit = c.match(t); hit {
				break
			}
		}
	}
	return hit != c.negate
}

// compiledSilence is a silence ready to match: its matchers compiled, its
// bounds in Unix ns.
type compiledSilence struct {
	s          Silence
	start, end int64
	matchers   []compiledMatcher
}

// compileSilence checks s's ID and matchers and compiles them.
func compileSilence(s *Silence) (*compiledSilence, error) {
	if !validSilenceID(s.ID) {
		return nil, &SilenceError{"id", fmt.Sprintf("%q: at most %d letters, digits, '-', '_' and '.'", s.ID, silenceIDMax)}
	}
	if len(s.Matchers) == 0 {
		return nil, &SilenceError{"matchers", "at least one is required"}
	}
	c := &compiledSilence{s: *s, start: s.StartsAt.UnixNano(), end: s.EndsAt.UnixNano(), matchers: make([]compiledMatcher, len(s.Matchers))}
	c.s.Matchers = slices.Clone(s.Matchers)
	emptyOnly := true
	for i, m := range s.Matchers {
		cm, err := compileMatcher(m, "matchers["+strconv.Itoa(i)+"]")
		if err != nil {
			return nil, err
		}
		c.matchers[i] = cm
		if cm.match("") == cm.negate { // does not match ""
			emptyOnly = false
		}
	}
	if emptyOnly {
		return nil, &SilenceError{"matchers", `at least one must not match the empty string, as Alertmanager requires ` +
			`(negative matchers and ones like rule=~".*" alone would silence almost every alert)`}
	}
	return c, nil
}

func validSilenceID(id string) bool {
	if len(id) > silenceIDMax {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

func (c *compiledSilence) matches(a *Alert) bool {
	for i := range c.matchers {
		if !c.matchers[i].matches(a) {
			return false
		}
	}
	return true
}

// Silences is a set of silences, safe for concurrent use. Match, which the
// pipeline calls for every alert it emits, reads an immutable snapshot
// without taking a lock: with no silences it costs one atomic load (5 ns),
// and each silence it looks at about 40 ns (50 silences: 2 µs; see
// BenchmarkSilencesMatch). Changes (Add, Expire, Restore)
// are serialized and copy the set, which suits what silences are: a few,
// changed by people now and then.
//
// The set keeps expired silences, for listing, as long as it lives. Times are wall-clock
// times and passed in explicitly. The zero Silences is an empty set ready
// to use; a nil *Silences matches nothing.
type Silences struct {
	mu  sync.Mutex // serializes changes
	cur atomic.Pointer[[]*compiledSilence]
}

// Add validates sil and adds it to the set (replacing a silence with the
// same ID), giving it an ID when it has none (16 random hex digits) and
// CreatedAt now. Besides Validate's rules, EndsAt must be after now: a
// silence that has already ended mutes nothing. Times are stored in UTC.
// It returns the silence as stored.
func (s *Silences) Add(sil Silence, now time.Time) (Silence, error) {
	if sil.ID == "" {
		sil.ID = newSilenceID()
	}
	sil.StartsAt, sil.EndsAt, sil.CreatedAt = sil.StartsAt.UTC(), sil.EndsAt.UTC(), now.UTC()
	if err := sil.Validate(); err != nil {
		return Silence{}, err
	}
	if !sil.EndsAt.After(now) {
		return Silence{}, &SilenceError{"endsAt", fmt.Sprintf("%s is not in the future (now is %s)",
			sil.EndsAt.Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))}
	}
	c, _ := compileSilence(&sil)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replace(c)
	return c.s.clone(), nil
}

// Expire ends the silence id at at: its EndsAt becomes at if it is later
// (a pending silence also gets StartsAt at, so that it never was active);
// a silence that ended before at is left as it is. It returns the silence
// as it is now, or an error wrapping ErrSilenceNotFound.
func (s *Silences) Expire(id string, at time.Time) (Silence, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.list() {
		if c.s.ID != id {
			continue
		}
		if !c.s.EndsAt.After(at) {
			return c.s.clone(), nil
		}
		at = at.UTC()
		n := &compiledSilence{s: c.s, matchers: c.matchers}
		n.s.EndsAt = at
		if n.s.StartsAt.After(at) {
			n.s.StartsAt = at
		}
		n.start, n.end = n.s.StartsAt.UnixNano(), n.s.EndsAt.UnixNano()
		s.replace(n)
		return n.s.clone(), nil
	}
	return Silence{}, fmt.Errorf("%w: %q", ErrSilenceNotFound, id)
}

// Restore loads silences stored earlier (a restart): each replaces the
// silence with its ID, and of several with one ID the last in the slice
// wins. They are taken as they are, CreatedAt and expired ones included
// (an expired silence may end when it starts, as Expire leaves a pending
// one). Silences that do not validate are left out, and the error lists
// them; the others are loaded all the same.
func (s *Silences) Restore(list []Silence) error {
	var errs []error
	compiled := make([]*compiledSilence, 0, len(list))
	for _, sil := range list {
		sil.StartsAt, sil.EndsAt, sil.CreatedAt = sil.StartsAt.UTC(), sil.EndsAt.UTC(), sil.CreatedAt.UTC()
		if sil.ID == "" {
			errs = append(errs, &SilenceError{"id", "is required to restore a silence"})
			continue
		}
		if err := sil.validate(true); err != nil {
			errs = append(errs, fmt.Errorf("silence %s: %w", sil.ID, err))
			continue
		}
		c, _ := compileSilence(&sil)
		compiled = append(compiled, c)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range compiled {
		s.replace(c)
	}
	return errors.Join(errs...)
}

// List returns every silence in the set, sorted as Alertmanager sorts
// them at now: active ones first, the next to end first; then pending
// ones, the next to start first; then expired ones, the latest to have
// ended first; ties by ID. The caller owns the result.
func (s *Silences) List(now time.Time) []Silence {
	list := s.list()
	out := make([]Silence, len(list))
	for i, c := range list {
		out[i] = c.s.clone()
	}
	rank := map[string]int{SilenceActive: 0, SilencePending: 1, SilenceExpired: 2}
	slices.SortFunc(out, func(a, b Silence) int {
		sa, sb := a.State(now), b.State(now)
		if c := cmp.Compare(rank[sa], rank[sb]); c != 0 {
			return c
		}
		var c int
		switch sa {
		case SilenceActive:
			c = a.EndsAt.Compare(b.EndsAt)
		case SilencePending:
			c = a.StartsAt.Compare(b.StartsAt)
		default:
			c = b.EndsAt.Compare(a.EndsAt)
		}
		if c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Get returns the silence id; ok is false when the set does not hold it.
func (s *Silences) Get(id string) (_ Silence, ok bool) {
	for _, c := range s.list() {
		if c.s.ID == id {
			return c.s.clone(), true
		}
	}
	return Silence{}, false
}

// Len returns the number of silences in the set, expired ones included.
func (s *Silences) Len() int { return len(s.list()) }

// Match returns the ID of the first silence, in the order they were
// added, that is active at now and matches a; "" when none does (and for a
// nil *Silences).
func (s *Silences) Match(a Alert, now time.Time) string {
	if s == nil {
		return ""
	}
	p := s.cur.Load()
	if p == nil {
		return ""
	}
	t := now.UnixNano()
	for _, c := range *p {
		if c.start <= t && t < c.end && c.matches(&a) {
			return c.s.ID
		}
	}
	return ""
}

// list returns the current snapshot; it must not be changed.
func (s *Silences) list() []*compiledSilence {
	if p := s.cur.Load(); p != nil {
		return *p
	}
	return nil
}

// replace publishes a copy of the set with c in place of the silence with
// its ID, or added at the end. s.mu must be held.
func (s *Silences) replace(c *compiledSilence) {
	old := s.list()
	next := make([]*compiledSilence, 0, len(old)+1)
	found := false
	for _, o := range old {
		if o.s.ID == c.s.ID {
			o, found = c, true
		}
		next = append(next, o)
	}
	if !found {
		next = append(next, c)
	}
	s.cur.Store(&next)
}

// clone returns s with its own Matchers.
func (s Silence) clone() Silence {
	s.Matchers = slices.Clone(s.Matchers)
	return s
}

// newSilenceID returns 16 random hex digits.
func newSilenceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

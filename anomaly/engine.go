package anomaly

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/rdr-go/rdr"
)

// Rule is one detection rule: which events it looks at, how it groups them,
// the [Detector] that judges them, and how its alerts behave. Rules usually
// come from a rule file ([ParseRules], [DefaultRules]); they can also be
// built in Go.
type Rule struct {
	// Name identifies the rule in alerts and stats. Required; letters,
	// digits, '_', '-' and '.' only; unique within an Engine.
	Name string
	// Description says what the rule is for. Optional.
	Description string
	// Severity is the severity of the rule's alerts. Required.
	Severity rdr.Severity
	// GroupBy is the field whose value is the alert key. Optional; the
	// zero Field is userId. Events without it skip this rule.
	GroupBy Field
	// Filter selects the events the rule looks at. Optional; the zero
	// Filter passes every event.
	Filter Filter
	// Detector judges the events. Required. The Engine owns it: do not use
	// it anywhere else.
	Detector Detector
	// Risk is the risk an alert of this rule adds to its entity when it
	// fires (see [RiskAccumulator]). Optional; default 0: none.
	Risk float64
	// Lifecycle says how the rule's alerts live. Optional; the zero value
	// takes the defaults documented on [Lifecycle].
	Lifecycle Lifecycle
	// Tags label the rule's alerts ([Alert.Tags]): ATT&CK tactics and
	// techniques ("attack.persistence", "attack.t1098"), or any label a
	// team filters by. Optional.
	Tags []string
	// Version identifies the rule's definition: the rule loaders set it to
	// a digest of the rule's text. Saved state is matched to rules by name
	// and by the detector's kind and config; when both the state and the
	// rule carry a Version, it must match too, so that a rule whose
	// definition changed (a filter, say) starts its detector afresh on a
	// reload or a restart while the unchanged rules keep theirs. Optional.
	Version string
	// RiskOnly makes the rule add risk to its entity (see Risk and
	// [RiskAccumulator]) without raising alerts of its own: the Engine
	// keeps the rule's alert state and counts it in [RuleStats] as for
	// any rule, and emits nothing. That is how risk-based alerting keeps
	// queues short: a weak signal (a login from a new address) alerts
	// only when it adds up with others.
	RiskOnly bool
}

var ruleNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Config configures an [Engine]. The zero Config is valid.
type Config struct {
	// Clock is "now" for MaxFuture. Optional; default rdr.SystemClock.
	// Nothing else in the engine reads it: detection runs on event time.
	Clock rdr.Clock
	// MaxFuture: an event more than MaxFuture after the clock is rejected
	// (counted in [Stats.Rejected]), so that one bad timestamp cannot
	// fast-forward event time and expire everything. Optional; default 1h;
	// negative: no limit.
	MaxFuture time.Duration
	// Tick is how often, in event time, Process lets detectors expire their
	// state and report detections that silence makes (a sequence that did
	// not complete). Alerts resolve on time regardless. Optional; default
	// 1s.
	Tick time.Duration
}

// The Config defaults.
const (
	DefaultMaxFuture = time.Hour
	DefaultTick      = time.Second
)

func (c *Config) setDefaults() {
	if c.Clock == nil {
		c.Clock = rdr.SystemClock
	}
	if c.MaxFuture == 0 {
		c.MaxFuture = DefaultMaxFuture
	}
	if c.Tick == 0 {
		c.Tick = DefaultTick
	}
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	if c.Tick < 0 {
		return fmt.Errorf("Tick must not be negative, got %v", c.Tick)
	}
	return nil
}

// Engine runs a set of rules on a stream of events and raises alerts.
//
// Feed it events with Process, and tell it when event time moves on without
// events (from a watermark or a timer) with Advance. Both call emit, on the
// caller's goroutine, for every alert that fires, updates or resolves, in a
// deterministic order: the same events and Advance calls give the same
// alerts, with the same IDs.
//
// An Engine has one owner: Process and Advance must not be called
// concurrently (the Engine does no locking on its hot path), and emit must
// not call back into the Engine; hand the alert on instead. Stats may be
// called from any goroutine at any time.
type Engine struct {
	rules []*ruleRT
	// byType lists, for each event type some rule's Filter.Types names,
	// the rules that may match an event of that type, in order; untyped
	// the rules for every other type (those without Types). Most rules
	// of a large set name their types: an event skips the others at the
	// cost of one map lookup.
	byType  map[string][]*ruleRT
	untyped []*ruleRT
	risk    []*ruleRT // the rules whose detector is a RiskAccumulator
	order   []*ruleRT // the rules in the order their detectors advance: risk last, so it sees what the others detect

	clock     rdr.Clock
	maxFuture int64
	tick      int64

	now         int64 // event time, ns
	nextTick    int64
	futureLimit int64
	due         dueQueue // one entry per alert state, at or before its next due time

	emit   func(Alert)
	ipBuf  []byte
	ipKey  string
	ipDone bool
	keyBuf []byte

	events   atomic.Uint64
	rejected atomic.Uint64
}

// ruleRT is a rule at run time.
type ruleRT struct {
	Rule
	idx       int
	groupBy   string
	fields    []Field
	describer Describer
	acc       RiskAccumulator
	snap      Snapshotter // nil if the detector is not one
	kind      string      // the detector's kind in saved state; "" if it is not a Snapshotter
	snapLen   int         // the length of the detector's state at the last AppendState
	report    func(Detection)
	alerts    map[string]*alertState

	matched, skipped, detections         atomic.Uint64
	fired, resolved, updated, suppressed atomic.Uint64
	firing, keys                         atomic.Int64
}

// NewEngine returns an Engine that runs rules. The Engine takes ownership of
// the rules' detectors. It returns a [*RuleError] (joined, one per problem)
// for rules that cannot work, and an error wrapping "invalid config" for a
// bad cfg.
func NewEngine(rules []Rule, cfg Config) (*Engine, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	e := &Engine{
		clock: cfg.Clock,
		tick:  int64(cfg.Tick),
		ipBuf: make([]byte, 0, 64),
	}
	if cfg.MaxFuture > 0 {
		e.maxFuture = int64(cfg.MaxFuture)
	}
	var errs []error
	seen := make(map[string]bool, len(rules))
	for i, rule := range rules {
		name := rule.Name
		if !ruleNameRE.MatchString(name) {
			name = fmt.Sprintf("#%d", i+1)
		}
		bad := func(field, format string, args ...any) {
			errs = append(errs, &RuleError{Rule: name, Field: field, Reason: fmt.Sprintf(format, args...)})
		}
		switch {
		case rule.Name == "":
			bad("Name", "is required")
		case !ruleNameRE.MatchString(rule.Name):
			bad("Name", "%q: use letters, digits, '_', '-' and '.' only", rule.Name)
		case seen[rule.Name]:
			bad("Name", "is used by more than one rule")
		}
		seen[rule.Name] = true
		if !rule.Severity.Valid() {
			bad("Severity", "is required (low, medium, high or critical)")
		}
		if !rule.GroupBy.valid() {
			bad("GroupBy", "invalid field")
		}
		if err := rule.Filter.validate(); err != nil {
			bad("Filter", "%v", err)
		}
		if rule.Detector == nil {
			bad("Detector", "is required")
		}
		for _, tag := range rule.Tags {
			if !ValidTag(tag) {
				bad("Tags", "%q: a tag is letters, digits and _ - . : / only", tag)
			}
		}
		if rule.Risk < 0 || math.IsNaN(rule.Risk) || math.IsInf(rule.Risk, 0) {
			bad("Risk", "must be a finite number ≥ 0, got %v", rule.Risk)
		}
		if field, err := rule.Lifecycle.validate(); err != nil {
			bad("Lifecycle."+field, "%v", err)
		}
		rule.Lifecycle.setDefaults()
		r := &ruleRT{Rule: rule, idx: i, groupBy: rule.GroupBy.String(), alerts: make(map[string]*alertState)}
		if fr, ok := rule.Detector.(FieldReader); ok {
			for _, f := range fr.Fields() {
				if f != rule.GroupBy && !slices.Contains(r.fields, f) {
					r.fields = append(r.fields, f)
				}
			}
		}
		r.describer, _ = rule.Detector.(Describer)
		if snap, ok := rule.Detector.(Snapshotter); ok {
			r.snap, r.kind = snap, detectorKind(rule.Detector)
			if rule.Version != "" {
				r.kind += kindVersionSep + rule.Version
			}
		}
		if acc, ok := rule.Detector.(RiskAccumulator); ok {
			r.acc = acc
			e.risk = append(e.risk, r)
		}
		r.report = func(d Detection) { e.detect(r, d) }
		e.rules = append(e.rules, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, r := range e.rules {
		if r.acc == nil {
			e.order = append(e.order, r)
		}
	}
	e.order = append(e.order, e.risk...)
	e.byType = map[string][]*ruleRT{}
	for _, r := range e.rules {
		if len(r.Filter.Types) == 0 {
			e.untyped = append(e.untyped, r)
		}
		for _, typ := range r.Filter.Types {
			e.byType[typ] = nil
		}
	}
	for typ := range e.byType {
		for _, r := range e.rules {
			if len(r.Filter.Types) == 0 || slices.Contains(r.Filter.Types, typ) {
				e.byType[typ] = append(e.byType[typ], r)
			}
		}
	}
	return e, nil
}

// Process runs one event through every rule, calling emit for each alert
// that fires, updates or resolves. If the event moves event time on,
// alerts due to resolve before it are resolved first. emit may be nil.
//
// Events may come out of order; detectors take late ones into account as
// far as their windows still reach. An event with a time before 1970 or
// after 2242, more than Config.MaxFuture ahead of the clock, or without a
// valid severity is rejected and counted in [Stats.Rejected]. An event
// without a rule's group-by field (or a field the rule's detector reads)
// skips that rule, counted in [RuleStats.Skipped], and still reaches the
// other rules.
func (e *Engine) Process(ev rdr.Event, emit func(Alert)) {
	e.events.Add(1)
	if !validTime(ev.Time) || !ev.Severity.Valid() {
		e.rejected.Add(1)
		return
	}
	t := ev.Time.UnixNano()
	if e.maxFuture > 0 && t > e.futureLimit {
		e.futureLimit = addSat(e.clock.Now().UnixNano(), e.maxFuture)
		if t > e.futureLimit {
			e.rejected.Add(1)
			return
		}
	}
	e.emit = emit
	if t > e.now {
		e.now = t
	}
	if e.now >= e.nextTick {
		e.advance()
	} else if len(e.due) > 0 && e.now >= e.due[0].at {
		e.resolveDue()
	}
	e.ipDone = false
	rules := e.untyped
	if rs, ok := e.byType[ev.Type]; ok {
		rules = rs
	}
	for _, r := range rules {
		if !r.Filter.Match(&ev) {
			continue
		}
		key, ok := e.key(r.GroupBy, &ev)
		if !ok || !hasFields(r.fields, &ev) {
			r.skipped.Add(1)
			continue
		}
		r.matched.Add(1)
		r.Detector.Observe(ev, key, r.report)
	}
	e.emit = nil
}

// Advance tells the engine that event time has reached now (a watermark,
// or the wall clock when events stop coming): detectors expire state and
// report what silence makes, and alerts whose condition has been clear long
// enough resolve. emit is called for each alert that fires, updates or
// resolves; it may be nil. A now earlier than the latest event or Advance
// changes nothing.
func (e *Engine) Advance(now time.Time, emit func(Alert)) {
	if !validTime(now) {
		return
	}
	if t := now.UnixNano(); t > e.now {
		e.now = t
	}
	e.emit = emit
	e.advance()
	e.emit = nil
}

// advance runs the detectors' Advance, resolves the alerts that are due
// and publishes the key counts.
func (e *Engine) advance() {
	now := time.Unix(0, e.now).UTC()
	for _, r := range e.order {
		r.Detector.Advance(now, r.report)
	}
	e.resolveDue()
	e.nextTick = addSat(floorDiv(e.now, e.tick)*e.tick, e.tick)
	for _, r := range e.rules {
		r.keys.Store(int64(r.Detector.Len()))
	}
}

// resolveDue resolves the alerts whose time has come, in order of their
// resolve time, then rule, then key, and drops cooldowns that are over.
func (e *Engine) resolveDue() {
	for len(e.due) > 0 && e.due[0].at <= e.now {
		d := e.due.pop()
		st := d.st
		switch {
		case st.done:
		case st.resolved:
			if st.coolUntil > d.at {
				e.due.push(dueItem{at: st.coolUntil, r: d.r, st: st})
				continue
			}
			st.done = true
			delete(d.r.alerts, st.alert.Key)
		case st.resolveAt > d.at:
			e.due.push(dueItem{at: st.resolveAt, r: d.r, st: st}) // extended since
		default:
			e.resolve(d.r, st)
			if st.resolved {
				e.due.push(dueItem{at: st.coolUntil, r: d.r, st: st})
			}
		}
	}
}

// detect handles one detection of rule r: the alert lifecycle, then risk.
func (e *Engine) detect(r *ruleRT, d Detection) {
	r.detections.Add(1)
	if d.Time.IsZero() || !validTime(d.Time) {
		d.Time = time.Unix(0, e.now).UTC()
	}
	fired := e.hit(r, d)
	if !fired || r.Risk == 0 || r.acc != nil {
		return
	}
	for _, q := range e.risk {
		var ok bool
		e.keyBuf, ok = q.GroupBy.AppendValue(e.keyBuf[:0], d.Event)
		if !ok {
			continue
		}
		q.acc.AddRisk(bytesView(e.keyBuf), r.Risk, d.Time, d.Event, q.report)
	}
}

// key returns the value of f in ev. For ipAddress it formats the address
// once per event into a buffer the engine reuses: the string is valid only
// until the next event, which is what Detector.Observe promises its key.
func (e *Engine) key(f Field, ev *rdr.Event) (string, bool) {
	switch f.kind {
	case fieldUserID:
		return ev.UserID, ev.UserID != ""
	case fieldIP:
		if !ev.IP.IsValid() {
			return "", false
		}
		if !e.ipDone {
			e.ipBuf = ev.IP.AppendTo(e.ipBuf[:0])
			e.ipKey = bytesView(e.ipBuf)
			e.ipDone = true
		}
		return e.ipKey, true
	}
	return f.Value(*ev)
}

// bytesView returns a string that shares b's memory. The caller must not
// change b while the string is in use.
func bytesView(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func hasFields(fields []Field, ev *rdr.Event) bool {
	for _, f := range fields {
		if !f.has(ev) {
			return false
		}
	}
	return true
}

// Stats counts what an Engine has done. Counters only grow; Firing and Keys
// are gauges.
type Stats struct {
	// Events is the number of events given to Process.
	Events uint64
	// Rejected is how many of them were not processed: a time before 1970,
	// after 2242, or more than Config.MaxFuture ahead of the clock, or an
	// invalid severity.
	Rejected uint64
	// Fired, Updated and Resolved count alert emissions of each kind.
	Fired, Updated, Resolved uint64
	// Suppressed counts detections dropped by a cooldown.
	Suppressed uint64
	// Firing is the number of alerts firing now.
	Firing int
	// TrackedKeys is the number of keys all detectors hold state for, as of
	// the latest tick or Advance.
	TrackedKeys int
	// Rules has one entry per rule, in the order the rules were given.
	Rules []RuleStats
}

// RuleStats counts what one rule has done.
type RuleStats struct {
	// Rule is the rule's name.
	Rule string `json:"rule"`
	// Matched counts events that passed the filter and reached the detector.
	Matched uint64 `json:"matched"`
	// Skipped counts events that passed the filter but lacked the group-by
	// field or a field the detector reads.
	Skipped uint64 `json:"skipped"`
	// Detections counts the detector's reports.
	Detections uint64 `json:"detections"`
	// Fired, Updated, Resolved and Suppressed are as in [Stats].
	Fired      uint64 `json:"fired"`
	Updated    uint64 `json:"updated"`
	Resolved   uint64 `json:"resolved"`
	Suppressed uint64 `json:"suppressed"`
	// Firing is the number of the rule's alerts firing now.
	Firing int `json:"firing"`
	// Keys is the number of keys the detector holds state for, as of the
	// latest tick or Advance.
	Keys int `json:"keys"`
}

// Add adds o's counters and gauges to s (the rule's name is s's): the
// stats of one rule over several engines.
func (s *RuleStats) Add(o RuleStats) {
	s.Matched += o.Matched
	s.Skipped += o.Skipped
	s.Detections += o.Detections
	s.Fired += o.Fired
	s.Updated += o.Updated
	s.Resolved += o.Resolved
	s.Suppressed += o.Suppressed
	s.Firing += o.Firing
	s.Keys += o.Keys
}

// Stats returns the engine's counters. It is safe to call from any
// goroutine, concurrently with Process and Advance.
func (e *Engine) Stats() Stats {
	s := Stats{Events: e.events.Load(), Rejected: e.rejected.Load(), Rules: make([]RuleStats, len(e.rules))}
	for i, r := range e.rules {
		rs := RuleStats{
			Rule:       r.Name,
			Matched:    r.matched.Load(),
			Skipped:    r.skipped.Load(),
			Detections: r.detections.Load(),
			Fired:      r.fired.Load(),
			Updated:    r.updated.Load(),
			Resolved:   r.resolved.Load(),
			Suppressed: r.suppressed.Load(),
			Firing:     int(r.firing.Load()),
			Keys:       int(r.keys.Load()),
		}
		s.Rules[i] = rs
		s.Fired += rs.Fired
		s.Updated += rs.Updated
		s.Resolved += rs.Resolved
		s.Suppressed += rs.Suppressed
		s.Firing += rs.Firing
		s.TrackedKeys += rs.Keys
	}
	return s
}

// dueQueue is a min-heap of alert states by (due time, rule, key), so
// alerts due together resolve in a deterministic order.
type dueQueue = minHeap[dueItem]

type dueItem struct {
	at int64
	r  *ruleRT
	st *alertState
}

func (a dueItem) less(b dueItem) bool {
	return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.r.idx, b.r.idx), strings.Compare(a.st.alert.Key, b.st.alert.Key)) < 0
}

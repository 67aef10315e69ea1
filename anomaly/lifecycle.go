package anomaly

import (
	"fmt"
	"strings"
	"time"

	"github.com/rdr-go/rdr"
)

// Lifecycle says how a rule's alerts live: when they resolve, whether they
// are re-emitted while they fire, and how many events they keep. The zero
// value takes the defaults.
//
// An alert fires on its rule's first detection for a key. Later detections
// for that key update it (Count, LastSeen, Value, Threshold, Events) instead
// of raising another. It resolves once event time has passed the end of the
// condition (the latest [Detection.Until]) plus ResolveAfter; the resolved
// alert is emitted too, with the same ID. After that, a Cooldown may hold
// back new alerts for the key.
type Lifecycle struct {
	// ResolveAfter is how long the condition must stay clear before the
	// alert resolves. Optional; zero means the default, 5m. (To resolve as
	// soon as the condition ends, use 1ns; rule files accept "0s".)
	ResolveAfter time.Duration
	// Cooldown is how long after an alert resolves new detections for the
	// same key are suppressed (counted in [RuleStats.Suppressed]).
	// Optional; default 0, no cooldown.
	Cooldown time.Duration
	// UpdateEvery, when positive, re-emits a firing alert that has gathered
	// new detections, at most once per UpdateEvery of event time, so
	// consumers see its Count and LastSeen grow. Optional; default 0: an
	// alert is emitted only when it fires and when it resolves.
	UpdateEvery time.Duration
	// MaxEvents is how many contributing events an alert keeps: the first
	// MaxEvents that met the condition. Optional; default 5; negative:
	// none.
	MaxEvents int
}

// The lifecycle defaults.
const (
	DefaultResolveAfter = 5 * time.Minute
	DefaultMaxEvents    = 5
)

func (l *Lifecycle) setDefaults() {
	if l.ResolveAfter == 0 {
		l.ResolveAfter = DefaultResolveAfter
	}
	if l.MaxEvents == 0 {
		l.MaxEvents = DefaultMaxEvents
	}
	if l.MaxEvents < 0 {
		l.MaxEvents = 0
	}
}

func (l Lifecycle) validate() (field string, err error) {
	switch {
	case l.ResolveAfter < 0:
		return "ResolveAfter", fmt.Errorf("must not be negative, got %v", l.ResolveAfter)
	case l.Cooldown < 0:
		return "Cooldown", fmt.Errorf("must not be negative, got %v", l.Cooldown)
	case l.UpdateEvery < 0:
		return "UpdateEvery", fmt.Errorf("must not be negative, got %v", l.UpdateEvery)
	}
	return "", nil
}

// alertState is what the engine keeps for one rule and key: the alert
// while it fires, then (with a cooldown) a tombstone until the cooldown
// ends.
type alertState struct {
	alert     Alert
	last      Detection // the latest detection, its Event cloned
	until     int64     // the condition holds until then (ns)
	resolveAt int64     // until + ResolveAfter
	lastEmit  int64     // event time of the latest emission
	resolved  bool      // resolved, kept only for the cooldown
	coolUntil int64
	done      bool // resolved and forgotten: its queue entry is stale
	// checked is how many of alert.Events an AppendState has found to
	// survive rdr's wire format, lastChecked whether it has found last's
	// event to. Kept events are never changed, only appended to, so a
	// snapshot checks each once rather than at every checkpoint (the
	// check decodes the event's JSON again: a third of the cost of saving
	// an alert storm's state).
	checked     int
	lastChecked bool
}

// hit applies one detection of rule r. It reports whether a new alert
// fired.
func (e *Engine) hit(r *ruleRT, d Detection) bool {
	t := d.Time.UnixNano()
	until := t
	if !d.Until.IsZero() && d.Until.UnixNano() > until {
		until = d.Until.UnixNano()
	}
	st := r.alerts[d.Key]
	if st != nil && !st.resolved && t >= st.resolveAt {
		// The alert was due to resolve before this detection (which is
		// late, or came from Advance). Its queue entry stays, and finds
		// it resolved.
		e.resolve(r, st)
		st = r.alerts[d.Key]
	}
	if st != nil && st.resolved {
		if t < st.coolUntil {
			r.suppressed.Add(1)
			return false
		}
		st.done = true
		delete(r.alerts, d.Key)
		st = nil
	}
	ev := d.Event
	hasEvent := ev.Type != "" || !ev.Time.IsZero()
	if hasEvent {
		ev = cloneEvent(ev)
	}
	if st == nil {
		key := strings.Clone(d.Key)
		st = &alertState{until: until, resolveAt: addSat(until, int64(r.Lifecycle.ResolveAfter))}
		st.alert = Alert{
			ID:        alertID(r.Name, key, d.Time),
			Rule:      r.Name,
			GroupBy:   r.groupBy,
			Key:       key,
			Severity:  r.Severity,
			RiskScore: r.Risk,
			Status:    StatusFiring,
			FirstSeen: d.Time.UTC(),
			LastSeen:  d.Time.UTC(),
			Count:     1,
			Value:     d.Value,
			Threshold: d.Threshold,
		}
		if r.acc != nil {
			st.alert.RiskScore = d.Value
		}
		if hasEvent && r.Lifecycle.MaxEvents > 0 {
			st.alert.Events = []rdr.Event{ev}
		}
		d.Key, d.Event = key, ev
		st.last = d
		r.alerts[key] = st
		r.firing.Add(1)
		r.fired.Add(1)
		e.due.push(dueItem{at: st.resolveAt, r: r, st: st})
		e.emitState(r, st)
		return true
	}
	a := &st.alert
	a.Count++
	if d.Time.After(a.LastSeen) {
		a.LastSeen = d.Time.UTC()
	}
	a.Value, a.Threshold = d.Value, d.Threshold
	if r.acc != nil {
		a.RiskScore = d.Value
	}
	if hasEvent && len(a.Events) < r.Lifecycle.MaxEvents {
		a.Events = append(a.Events, ev)
	}
	d.Key, d.Event = a.Key, ev
	st.last, st.lastChecked = d, false
	if until > st.until {
		st.until = until
		st.resolveAt = addSat(until, int64(r.Lifecycle.ResolveAfter))
	}
	if every := int64(r.Lifecycle.UpdateEvery); every > 0 && t-st.lastEmit >= every {
		r.updated.Add(1)
		e.emitState(r, st)
	}
	return false
}

// resolve marks a firing alert resolved and emits it.
func (e *Engine) resolve(r *ruleRT, st *alertState) {
	st.alert.Status = StatusResolved
	st.alert.ResolvedAt = time.Unix(0, st.resolveAt).UTC()
	r.firing.Add(-1)
	r.resolved.Add(1)
	e.emitState(r, st)
	st.alert.Events, st.checked = nil, 0
	st.last, st.lastChecked = Detection{}, false
	if r.Lifecycle.Cooldown > 0 {
		st.resolved = true
		st.coolUntil = addSat(st.resolveAt, int64(r.Lifecycle.Cooldown))
		return
	}
	st.done = true
	delete(r.alerts, st.alert.Key)
}

// emitState hands a copy of the alert to the current emit function.
func (e *Engine) emitState(r *ruleRT, st *alertState) {
	st.lastEmit = st.alert.LastSeen.UnixNano()
	if e.emit == nil || r.RiskOnly {
		return
	}
	a := st.alert
	a.Tags = r.Tags
	a.Events = append([]rdr.Event(nil), a.Events...)
	a.Message = r.message(st.last)
	e.emit(a)
}

// message is "<rule>: <description> for <group-by> <key>".
func (r *ruleRT) message(d Detection) string {
	var what string
	if r.describer != nil {
		what = r.describer.Describe(d)
	} else {
		what = "value " + formatNumber(d.Value) + ", threshold " + formatNumber(d.Threshold)
	}
	return r.Name + ": " + what + " for " + r.groupBy + " " + d.Key
}

// addSat adds without overflowing.
func addSat(a, b int64) int64 {
	if s := a + b; (b > 0) == (s > a) || b == 0 {
		return s
	}
	if b > 0 {
		return 1<<63 - 1
	}
	return -1 << 63
}

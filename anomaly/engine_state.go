package anomaly

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/internal/wire"
)

// The start of an Engine's saved state.
const (
	engineStateMagic   = "rdra"
	engineStateVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli) // never changed after init

// detectorKind names a Snapshotter's kind in saved state: for the built-in
// detectors the kind and the config their state depends on, for others the
// Go type.
func detectorKind(d Detector) string {
	if k, ok := d.(stateKinder); ok {
		return k.stateKind()
	}
	return fmt.Sprintf("%T", d)
}

// kindVersionSep separates a detector's kind from its rule's Version in
// saved state.
const kindVersionSep = "\x00v="

// sameKind reports whether saved state of kind saved fits a rule whose
// detector and version are kind: the same kind and version, or the same
// kind where one side has no version (state saved before rules carried
// one, or a rule built in Go).
func sameKind(kind, saved string) bool {
	if kind == saved {
		return true
	}
	k, kv, _ := strings.Cut(kind, kindVersionSep)
	s, sv, _ := strings.Cut(saved, kindVersionSep)
	return k == s && (kv == "" || sv == "")
}

// AppendState appends the engine's state to b and returns the extended
// buffer: event time, every rule's alerts (firing, and resolved ones still
// in their cooldown) and every rule's detector state, so that
// [Engine.RestoreState] can carry on from it in another Engine, after a
// crash, a restart or a rebalance. Restoring it into an Engine built with
// the same rules and then giving that Engine the input that followed gives
// exactly the alerts this Engine would have given: the same IDs, statuses,
// counts, messages and order.
//
// AppendState must be called from the Engine's owner, like Process; it
// does not change the engine's state. Detectors that do not implement
// [Snapshotter] are saved without their state, and the counters of
// [Engine.Stats] are not saved: they count what one Engine has done.
//
// The events kept in alerts (and by Absence) are saved in rdr's wire
// format (rdr.AppendJSON), and come back with their times in UTC. Events
// decoded by rdr always make the round trip; AppendState returns an error,
// and b as it was, for an event that would not: one built in Go without an
// event type or a user, with invalid UTF-8, an IP address with a zone, or
// metadata that is not compact JSON. It returns an error as well when a
// detector's AppendState does.
//
// # Format
//
// Version 1. Integers are unsigned varints (encoding/binary's Uvarint),
// minimally encoded, or zigzag varints where they may be negative; a
// string is a varint length and its bytes; a float is its IEEE 754 bits, 8
// bytes little-endian; a time is Unix seconds (zigzag) and nanoseconds; an
// event is a varint length and the event as rdr.AppendJSON writes it,
// length 0 for none.
//
//	magic      4 bytes: "rdra"
//	version    1 byte: 1
//	now        event time, ns since the Unix epoch
//	next tick  ns
//	rules      a count, then for each rule in the engine's order:
//	  name       a string
//	  kind       a string: the detector's kind, "" for a detector that is
//	             not a Snapshotter
//	  detector   a string: the detector's AppendState, empty if kind is ""
//	  alerts     a count, then each alert state, keys strictly ascending:
//	             key, ID, group-by (strings), severity (1 byte),
//	             risk score (float), first and last seen (times), count,
//	             value and threshold (floats); the condition's end, the
//	             resolve time and the latest emission (ns); resolved (1
//	             byte, 0 or 1); if resolved the cooldown's end (ns), else
//	             the events (a count, then each event) and the latest
//	             detection: time, until (times), value, threshold
//	             (floats), event
//	checksum   4 bytes: CRC-32C (Castagnoli) of all the bytes before it,
//	           little-endian
//
// An Engine's state has exactly one encoding: the same state gives the
// same bytes.
func (e *Engine) AppendState(b []byte) ([]byte, error) {
	b0 := len(b)
	b = append(b, engineStateMagic...)
	b = append(b, engineStateVersion)
	b = binary.AppendVarint(b, e.now)
	b = binary.AppendVarint(b, e.nextTick)
	b = binary.AppendUvarint(b, uint64(len(e.rules)))
	for _, r := range e.rules {
		b = appendString(b, r.Name)
		b = appendString(b, r.kind)
		if r.snap == nil {
			b = append(b, 0)
		} else {
			// The detector's state goes straight into b, its length in
			// front of it, sized as the last one's.
			var err error
			if b, r.snapLen, err = wire.AppendPart(b, r.snapLen, r.snap.AppendState); err != nil {
				return b[:b0], fmt.Errorf("anomaly: cannot save state: rule %q: detector: %w", r.Name, err)
			}
		}
		var err error
		if b, err = appendAlertStates(b, r); err != nil {
			return b[:b0], fmt.Errorf("anomaly: cannot save state: rule %q: %w", r.Name, err)
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[b0:], castagnoli)), nil
}

func appendAlertStates(b []byte, r *ruleRT) ([]byte, error) {
	keys := make([]string, 0, len(r.alerts))
	for k := range r.alerts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		st := r.alerts[k]
		a := &st.alert
		b = wire.Grow(b, 256+256*len(a.Events)) // about an alert's size: see wire.Grow
		b = appendString(b, a.Key)
		b = appendString(b, a.ID)
		b = appendString(b, a.GroupBy)
		b = append(b, byte(a.Severity))
		b = appendFloat(b, a.RiskScore)
		b = appendTime(b, a.FirstSeen)
		b = appendTime(b, a.LastSeen)
		b = binary.AppendUvarint(b, uint64(a.Count))
		b = appendFloat(b, a.Value)
		b = appendFloat(b, a.Threshold)
		b = binary.AppendVarint(b, st.until)
		b = binary.AppendVarint(b, st.resolveAt)
		b = binary.AppendVarint(b, st.lastEmit)
		b = appendBool(b, st.resolved)
		if st.resolved {
			b = binary.AppendVarint(b, st.coolUntil)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(a.Events)))
		var err error
		for i, ev := range a.Events {
			if b, err = appendEvent(b, ev, i >= st.checked); err != nil {
				return b, fmt.Errorf("alert for %s %q: event %d: %w", a.GroupBy, a.Key, i, err)
			}
		}
		d := &st.last
		b = appendTime(b, d.Time)
		b = appendTime(b, d.Until)
		b = appendFloat(b, d.Value)
		b = appendFloat(b, d.Threshold)
		if b, err = appendEvent(b, d.Event, !st.lastChecked); err != nil {
			return b, fmt.Errorf("alert for %s %q: latest detection: %w", a.GroupBy, a.Key, err)
		}
		st.checked, st.lastChecked = len(a.Events), true
	}
	return b, nil
}

// RestoreState replaces the engine's state with one that
// [Engine.AppendState] wrote, so that it carries on where that Engine left
// off: call it on a freshly built Engine, before the first Process, then
// feed it the input that followed the state. It must be called from the
// Engine's owner, like Process.
//
// The state is matched to the engine's rules by name:
//
//   - a rule in the state but not in the engine is ignored;
//   - every rule of the engine gets the alert states saved for it (none,
//     if the state does not have the rule), whatever its detector;
//   - a rule's detector gets the state saved for it if the detector
//     implements [Snapshotter] and is of the kind that saved it: for the
//     built-in detectors, the same type with the same config where the
//     state depends on it (a Count's window; a Distinct's field, window and
//     MaxValues; a Sequence's Count and window; an Absence's window; a
//     FirstSeen's field, history and MaxValues; a Spike's interval and
//     history; a Risk's half-life; but not thresholds or filters), for
//     other detectors the same Go type. Otherwise, as for a rule the state
//     does not have, the detector keeps its state: it starts empty in a
//     fresh Engine.
//
// The gauges of [Engine.Stats] (Firing, Keys) follow the restored state;
// the counters go on from where this Engine's were. Times restored into
// alerts and their events are in UTC.
//
// Restoring is all or nothing. Input that is not such state — truncated,
// altered (the state carries a checksum), of an unknown version, or with a
// detector state its detector refuses — gets an error wrapping
// [ErrInvalidState] that says what is wrong and where, and the engine is
// left as it was. RestoreState never panics, and does not retain data. It
// checks every count against the bytes left before allocating for it, so
// what it allocates is bounded by len(data) times a detector's largest
// per-key state (for a Sequence, Count times 8 bytes).
func (e *Engine) RestoreState(data []byte) error {
	st, err := e.readState(data)
	if err != nil {
		return err
	}
	// The detectors, each after a copy of its state to go back to, so that
	// a detector that refuses its state leaves every detector as it was.
	type undo struct {
		snap   Snapshotter
		backup []byte
	}
	var undos []undo
	rollback := func(err error) error {
		errs := []error{err}
		for _, u := range undos {
			if rerr := u.snap.RestoreState(u.backup); rerr != nil {
				errs = append(errs, fmt.Errorf("anomaly: could not go back to the detector's state before RestoreState: %w", rerr))
			}
		}
		return errors.Join(errs...)
	}
	for i, r := range e.rules {
		blob := st.rules[i].detector
		if blob == nil {
			continue
		}
		backup, err := r.snap.AppendState(nil)
		if err != nil {
			return rollback(fmt.Errorf("anomaly: cannot restore state: rule %q: the detector's current state cannot be kept to go back to: %w", r.Name, err))
		}
		undos = append(undos, undo{r.snap, backup})
		if err := r.snap.RestoreState(blob); err != nil {
			return rollback(withinState(fmt.Sprintf("rule %q: detector (its state starts at byte %d)", r.Name, st.rules[i].detectorAt), err))
		}
	}
	e.now, e.nextTick, e.futureLimit = st.now, st.nextTick, 0
	e.due = nil
	for i, r := range e.rules {
		rs := &st.rules[i]
		if rs.alerts == nil {
			rs.alerts = make(map[string]*alertState)
		}
		r.alerts = rs.alerts
		firing := 0
		for _, as := range r.alerts {
			at := as.resolveAt
			if as.resolved {
				at = as.coolUntil
			} else {
				firing++
			}
			e.due.push(dueItem{at: at, r: r, st: as})
		}
		r.firing.Store(int64(firing))
		r.keys.Store(int64(r.Detector.Len()))
	}
	return nil
}

// engineState is a decoded state, not yet applied.
type engineState struct {
	now, nextTick int64
	rules         []ruleState // one per rule of the engine, in its order
}

type ruleState struct {
	alerts     map[string]*alertState // nil: none
	detector   []byte                 // the detector's state, nil if it keeps its own
	detectorAt int                    // where it starts in the engine's state
}

// readState decodes and checks data, for the engine's rules, without
// changing the engine.
func (e *Engine) readState(data []byte) (*engineState, error) {
	const header = len(engineStateMagic) + 1
	switch {
	case len(data) < header+4 || string(data[:len(engineStateMagic)]) != engineStateMagic:
		return nil, invalidState("not the saved state of an Engine (it starts %q, want %q)",
			data[:min(len(data), len(engineStateMagic))], engineStateMagic)
	case data[len(engineStateMagic)] != engineStateVersion:
		return nil, invalidState("unsupported version %d (this build reads version %d)", data[len(engineStateMagic)], engineStateVersion)
	}
	body := data[:len(data)-4]
	if sum, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(data[len(body):]); sum != want {
		return nil, invalidState("checksum mismatch: the state is truncated or altered (CRC-32C %08x, want %08x)", sum, want)
	}
	r := newStateReader(body)
	r.Off = header
	st := &engineState{rules: make([]ruleState, len(e.rules))}
	at := r.Off
	st.now = r.Varint("event time")
	st.nextTick = r.Varint("next tick")
	switch {
	case r.Err != nil:
	case st.now < 0 || st.now > maxTime.UnixNano():
		r.Fail(at, "event time %d outside 1970 to 2242", st.now)
	case st.nextTick <= st.now && (st.now != 0 || st.nextTick != 0):
		r.Fail(at, "next tick %d not after the event time %d", st.nextTick, st.now)
	}
	byName := make(map[string]int, len(e.rules))
	for i, r := range e.rules {
		byName[r.Name] = i
	}
	n := r.Count("rules", uint64(len(body)), 4)
	seen := make(map[string]bool, n)
	for range n {
		at := r.Off
		name := r.String("rule name")
		if r.Err == nil && seen[name] {
			r.Fail(at, "rule %q appears twice", name)
		}
		seen[name] = true
		kind := r.String("detector kind")
		at = r.Off
		det := r.Take(r.Uvarint("detector state"), "detector state")
		if r.Err == nil && kind == "" && len(det) != 0 {
			r.Fail(at, "rule %q: a detector state without a kind", name)
		}
		idx, ok := byName[name]
		alerts := readAlertStates(&r, name)
		if r.Err != nil {
			r.Err = withinState(fmt.Sprintf("rule %q", name), r.Err)
			break
		}
		if !ok {
			continue // not a rule of this engine
		}
		rs := &st.rules[idx]
		rs.alerts = alerts
		if er := e.rules[idx]; kind != "" && er.snap != nil && sameKind(er.kind, kind) {
			rs.detector, rs.detectorAt = det, at+wire.UvarintLen(uint64(len(det)))
		}
	}
	r.End()
	if r.Err != nil {
		return nil, r.Err
	}
	return st, nil
}

// readAlertStates reads the alert states of the rule named rule.
func readAlertStates(r *stateReader, rule string) map[string]*alertState {
	n := r.Count("alerts", uint64(r.Rest()), 50)
	if r.Err != nil || n == 0 {
		return nil
	}
	alerts := make(map[string]*alertState, n)
	prev := ""
	for i := range n {
		at := r.Off
		st := readAlertState(r, rule)
		switch {
		case r.Err != nil:
		case i > 0 && st.alert.Key <= prev:
			r.Fail(at, "alert keys not in strictly ascending order: %q after %q", st.alert.Key, prev)
		}
		if r.Err != nil {
			r.Err = withinState(fmt.Sprintf("alert %d of %d", i, n), r.Err)
			return nil
		}
		alerts[st.alert.Key] = st
		prev = st.alert.Key
	}
	return alerts
}

func readAlertState(r *stateReader, rule string) *alertState {
	st := &alertState{}
	a := &st.alert
	a.Rule = rule
	a.Key = r.String("key")
	at := r.Off
	a.ID = r.String("ID")
	if r.Err == nil && !isAlertID(a.ID) {
		r.Fail(at, "ID %q is not 16 hexadecimal digits", a.ID)
	}
	a.GroupBy = r.String("group-by")
	at = r.Off
	a.Severity = rdr.Severity(r.Byte("severity"))
	if r.Err == nil && !a.Severity.Valid() {
		r.Fail(at, "severity %d is not one of 1 to 4", a.Severity)
	}
	a.RiskScore = r.float64("risk score")
	at = r.Off
	a.FirstSeen = r.time("first seen")
	a.LastSeen = r.time("last seen")
	if r.Err == nil && a.LastSeen.Before(a.FirstSeen) {
		r.Fail(at, "last seen %s before first seen %s", a.LastSeen.Format(time.RFC3339Nano), a.FirstSeen.Format(time.RFC3339Nano))
	}
	at = r.Off
	count := r.Uvarint("count")
	if r.Err == nil && (count == 0 || count > 1<<63-1) {
		r.Fail(at, "count %d outside 1 to 2⁶³-1", count)
	}
	a.Count = int64(count)
	a.Value = r.float64("value")
	a.Threshold = r.float64("threshold")
	at = r.Off
	st.until = r.Varint("condition end")
	st.resolveAt = r.Varint("resolve time")
	st.lastEmit = r.Varint("latest emission")
	if r.Err == nil && st.resolveAt < st.until {
		r.Fail(at, "resolve time %d before the condition's end %d", st.resolveAt, st.until)
	}
	st.resolved = r.Bool("resolved")
	if st.resolved {
		at = r.Off
		st.coolUntil = r.Varint("cooldown end")
		if r.Err == nil && st.coolUntil < st.resolveAt {
			r.Fail(at, "cooldown end %d before the resolve time %d", st.coolUntil, st.resolveAt)
		}
		a.Status = StatusResolved
		a.ResolvedAt = time.Unix(0, st.resolveAt).UTC()
		return st
	}
	a.Status = StatusFiring
	n := r.Count("events", uint64(r.Rest()), 1)
	if n > 0 {
		a.Events = make([]rdr.Event, 0, n)
	}
	for i := 0; i < n && r.Err == nil; i++ {
		at := r.Off
		ev := r.event("event")
		if r.Err == nil && ev == (rdr.Event{}) {
			r.Fail(at, "event %d is empty", i)
		}
		a.Events = append(a.Events, ev)
	}
	d := &st.last
	d.Key = a.Key
	d.Time = r.time("latest detection time")
	d.Until = r.time("latest detection until")
	d.Value = r.float64("latest detection value")
	d.Threshold = r.float64("latest detection threshold")
	d.Event = r.event("latest detection event")
	return st
}

func isAlertID(s string) bool {
	return len(s) == 16 && strings.Trim(s, "0123456789abcdef") == ""
}

// Package anomalytest is the conformance suite for anomaly detectors. Every
// built-in detector runs it, and a new detector is done when it passes it
// under -race:
//
//	func TestMyDetectorConformance(t *testing.T) {
//		anomalytest.Run(t, anomalytest.Features{
//			Attack:   func(start time.Time) []rdr.Event { … },
//			Benign:   func(start time.Time) []rdr.Event { … },
//			StateTTL: 2 * time.Minute,
//		}, func() anomaly.Detector { return NewMyDetector(…) })
//	}
//
// Run wraps each new detector in a rule (named "conformance", severity
// high, risk 10, resolve after 1m) inside an [anomaly.Engine], feeds it
// events and checks the alerts and the detector's state.
package anomalytest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Features describes the detector under test: how its rule groups events,
// what makes it fire, what must not, and how long its state lives.
type Features struct {
	// GroupBy is the rule's group-by field. Optional; the zero Field is
	// userId.
	GroupBy anomaly.Field
	// Filter is the rule's filter. Optional; the zero Filter passes every
	// event.
	Filter anomaly.Filter
	// Attack returns events, in time order from start, on which the
	// detector must make at least one detection by the time event time has
	// reached the last event plus StateTTL. Required.
	Attack func(start time.Time) []rdr.Event
	// Benign returns events, in time order from start, on which the
	// detector must make none. Required.
	Benign func(start time.Time) []rdr.Event
	// StateTTL is how long after its last event a key's state must be gone
	// (Len back to 0) and its condition over. Required.
	StateTTL time.Duration
	// Stateless says the detector keeps no per-key state: Len is always 0.
	Stateless bool
	// ConcurrentSafe says the detector is documented as safe for concurrent
	// use; Run then also calls Observe from several goroutines at once.
	ConcurrentSafe bool
}

// Start is the event time the suite's inputs begin at.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const ruleName = "conformance"

// Run runs the conformance suite on detectors made by newDetector, one per
// case. For a detector that implements [anomaly.Snapshotter], it also
// checks that an Engine saved mid-stream and restored into a new Engine
// (with a new detector) carries on with exactly the alerts of an
// uninterrupted run, and that corrupt state is refused with an error
// wrapping [anomaly.ErrInvalidState].
func Run(t *testing.T, f Features, newDetector func() anomaly.Detector) {
	t.Helper()
	require.NotNil(t, f.Attack, "Features.Attack is required")
	require.NotNil(t, f.Benign, "Features.Benign is required")
	require.Positive(t, f.StateTTL, "Features.StateTTL is required")
	attack := f.Attack(Start)
	require.NotEmpty(t, attack, "Features.Attack returned no events")

	t.Run("AttackFires", func(t *testing.T) {
		h := newHarness(t, f, newDetector())
		h.feed(attack)
		h.settle(attack)
		require.NotEmpty(t, h.alerts, "the attack raised no alert")
		assert.Equal(t, anomaly.StatusFiring, h.alerts[0].Status, "the first alert must be a firing one")
		fired, resolved := map[string]int{}, map[string]int{}
		for _, a := range h.alerts {
			switch a.Status {
			case anomaly.StatusFiring:
				fired[a.ID]++
				assert.Zero(t, resolved[a.ID], "alert %s fired again after it resolved", a.ID)
			case anomaly.StatusResolved:
				resolved[a.ID]++
				assert.NotZero(t, fired[a.ID], "alert %s resolved without firing", a.ID)
			}
		}
		for id, n := range fired {
			assert.Equal(t, 1, n, "alert %s fired more than once (dedup per rule and key)", id)
			assert.Equal(t, 1, resolved[id], "alert %s must resolve exactly once when event time moves on by StateTTL", id)
		}
		st := h.eng.Stats()
		assert.Equal(t, uint64(len(fired)), st.Fired)
		assert.Equal(t, uint64(len(fired)), st.Resolved)
		assert.Zero(t, st.Firing)
	})

	t.Run("Deterministic", func(t *testing.T) {
		first := newHarness(t, f, newDetector())
		first.feed(attack)
		first.settle(attack)
		second := newHarness(t, f, newDetector())
		second.feed(attack)
		second.settle(attack)
		require.NotEmpty(t, first.alerts)
		assert.Equal(t, first.alerts, second.alerts, "the same input must give the same alerts")
	})

	t.Run("AlertFieldsFilled", func(t *testing.T) {
		h := newHarness(t, f, newDetector())
		h.feed(attack)
		h.settle(attack)
		require.NotEmpty(t, h.alerts)
		keys := map[string]bool{}
		for _, ev := range attack {
			if v, ok := f.GroupBy.Value(ev); ok {
				keys[v] = true
			}
		}
		last := attack[len(attack)-1].Time
		for i, a := range h.alerts {
			checkAlert(t, fmt.Sprintf("alert %d", i), a, f, keys, Start, last.Add(f.StateTTL))
		}
	})

	t.Run("BenignIsQuiet", func(t *testing.T) {
		benign := f.Benign(Start)
		h := newHarness(t, f, newDetector())
		h.feed(benign)
		if len(benign) > 0 {
			h.settle(benign)
		}
		assert.Empty(t, h.alerts, "the benign input raised alerts")
	})

	t.Run("StateExpires", func(t *testing.T) {
		h := newHarness(t, f, newDetector())
		most := 0
		for _, ev := range attack {
			h.process(ev)
			most = max(most, h.det.Len())
		}
		if f.Stateless {
			assert.Zero(t, most, "a stateless detector must report Len 0")
		} else {
			assert.Positive(t, most, "during the attack the detector must report the keys it holds")
		}
		h.feed(f.Benign(attack[len(attack)-1].Time))
		end := h.now.Add(f.StateTTL)
		h.eng.Advance(end, h.emit)
		assert.Zero(t, h.det.Len(), "state must be gone StateTTL after the last event")
		assert.Zero(t, h.eng.Stats().TrackedKeys)
		// And again, with many keys at once.
		many := manyKeys(attack, f.GroupBy, 500)
		h.feed(shift(many, end.Sub(Start)+time.Second))
		h.eng.Advance(h.now.Add(f.StateTTL), h.emit)
		assert.Zero(t, h.det.Len(), "state for 500 keys must be gone StateTTL after their last event")
	})

	t.Run("KeysAreCopied", func(t *testing.T) {
		// Feed the attack with every string of every event in one buffer,
		// at a different offset each time, and scrub the buffer once the
		// event is processed, as a decoder reusing its buffer would: a
		// detector that keeps a key or a value without copying it sees it
		// change.
		want := newHarness(t, f, newDetector())
		want.feed(attack)
		want.settle(attack)
		h := newHarness(t, f, newDetector())
		buf := make([]byte, 0, 4096)
		for i, ev := range attack {
			buf = append(buf[:0], "#############"[:i%13]...)
			ev, buf = inBuffer(ev, buf)
			h.process(ev)
			scrub := buf[:cap(buf)]
			for j := range scrub {
				scrub[j] = '#'
			}
		}
		h.settle(attack)
		assert.Equal(t, want.alerts, h.alerts, "alerts changed when the event's memory was reused after Process: keys must be cloned before they are kept")
	})

	t.Run("OddAndLateEvents", func(t *testing.T) {
		h := newHarness(t, f, newDetector())
		odd := slices.Clone(attack)
		slices.Reverse(odd) // everything late but the first
		// Valid events, so that they reach the detector, but without an IP
		// address and with metadata that is not JSON.
		for i, ev := range attack {
			ev.IP = rdr.Event{}.IP
			ev.Metadata = ""
			if i%2 == 0 {
				ev.Metadata = `{"bytes":"x","n":[1,{"a":null}],"bad`
			}
			odd = append(odd, ev)
		}
		odd = append(odd,
			rdr.Event{Time: attack[0].Time, Type: "x", UserID: "u", Severity: rdr.SeverityLow},
			rdr.Event{Time: attack[0].Time.Add(-365 * 24 * time.Hour), Type: "x", UserID: "u", Severity: rdr.SeverityLow})
		h.feed(odd)
		h.eng.Advance(h.now.Add(f.StateTTL), h.emit)
		assert.Zero(t, h.det.Len(), "state must be gone StateTTL after the last event, whatever the events were")
		assert.Equal(t, uint64(len(odd)), h.eng.Stats().Events)
		assert.Zero(t, h.eng.Stats().Rejected, "every odd event reached the detector")
	})

	t.Run("IndependentInstancesInParallel", func(t *testing.T) {
		// Detectors must not share mutable state between instances: one
		// Engine per partition, all running at once.
		want := newHarness(t, f, newDetector())
		want.feed(attack)
		want.settle(attack)
		const n = 4
		got := make([][]anomaly.Alert, n)
		hs := make([]*harness, n)
		for i := range hs {
			hs[i] = newHarness(t, f, newDetector())
		}
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				hs[i].feed(attack)
				hs[i].settle(attack)
				got[i] = hs[i].alerts
			})
		}
		wg.Wait()
		for i := range n {
			assert.Equal(t, want.alerts, got[i], "instance %d", i)
		}
	})

	if _, ok := newDetector().(anomaly.Snapshotter); ok {
		t.Run("SnapshotRestore", func(t *testing.T) { testSnapshotRestore(t, f, newDetector) })
		t.Run("CorruptStateRefused", func(t *testing.T) { testCorruptState(t, f, newDetector) })
	}

	if f.ConcurrentSafe {
		t.Run("ConcurrentUse", func(t *testing.T) {
			det := newDetector()
			var mu sync.Mutex
			var count [4]int
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					for _, ev := range attack {
						key, ok := f.GroupBy.Value(ev)
						if !ok || !f.Filter.Match(&ev) {
							continue
						}
						det.Observe(ev, key, func(anomaly.Detection) {
							mu.Lock()
							count[i]++
							mu.Unlock()
						})
					}
					det.Advance(attack[len(attack)-1].Time, func(anomaly.Detection) {})
					_ = det.Len()
				})
			}
			wg.Wait()
			assert.Positive(t, count[0]+count[1]+count[2]+count[3], "no detections from concurrent Observe calls")
		})
	}
}

var idRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

func checkAlert(t *testing.T, name string, a anomaly.Alert, f Features, keys map[string]bool, from, to time.Time) {
	t.Helper()
	assert.Regexp(t, idRE, a.ID, "%s: ID", name)
	assert.Equal(t, ruleName, a.Rule, "%s: Rule", name)
	assert.Equal(t, f.GroupBy.String(), a.GroupBy, "%s: GroupBy", name)
	assert.True(t, keys[a.Key], "%s: Key %q is not a group-by value of the attack", name, a.Key)
	assert.Equal(t, rdr.SeverityHigh, a.Severity, "%s: Severity", name)
	assert.Positive(t, a.RiskScore, "%s: RiskScore", name)
	assert.Contains(t, []anomaly.Status{anomaly.StatusFiring, anomaly.StatusResolved}, a.Status, "%s: Status", name)
	assert.False(t, a.FirstSeen.Before(from) || a.FirstSeen.After(to), "%s: FirstSeen %v outside the attack", name, a.FirstSeen)
	assert.False(t, a.LastSeen.Before(a.FirstSeen) || a.LastSeen.After(to), "%s: LastSeen %v", name, a.LastSeen)
	if a.Status == anomaly.StatusResolved {
		assert.False(t, a.ResolvedAt.Before(a.LastSeen), "%s: ResolvedAt %v before LastSeen %v", name, a.ResolvedAt, a.LastSeen)
	} else {
		assert.True(t, a.ResolvedAt.IsZero(), "%s: ResolvedAt set on a firing alert", name)
	}
	assert.Positive(t, a.Count, "%s: Count", name)
	assert.True(t, a.Value != 0 || a.Threshold != 0, "%s: Value and Threshold both 0", name)
	assert.False(t, math.IsNaN(a.Value) || math.IsInf(a.Value, 0) || math.IsNaN(a.Threshold) || math.IsInf(a.Threshold, 0),
		"%s: Value %v, Threshold %v must be finite", name, a.Value, a.Threshold)
	assert.Contains(t, a.Message, a.Key, "%s: Message %q must name the key", name, a.Message)
	assert.True(t, strings.HasPrefix(a.Message, ruleName+": "), "%s: Message %q must start with the rule", name, a.Message)
	assert.NotEmpty(t, a.Events, "%s: Events", name)
	assert.LessOrEqual(t, len(a.Events), anomaly.DefaultMaxEvents, "%s: Events", name)
	for _, ev := range a.Events {
		v, ok := f.GroupBy.Value(ev)
		assert.True(t, ok && v == a.Key, "%s: contributing event %+v is not about key %q", name, ev, a.Key)
	}
	b, err := json.Marshal(a)
	require.NoError(t, err, "%s: JSON", name)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"id", "rule", "groupBy", "key", "severity", "riskScore", "status", "firstSeen", "lastSeen",
		"count", "value", "threshold", "message", "events"} {
		assert.Contains(t, m, k, "%s: JSON lacks %q: %s", name, k, b)
	}
	var back anomaly.Alert
	require.NoError(t, json.Unmarshal(b, &back), "%s: JSON round trip", name)
	assert.Equal(t, a.ID, back.ID)
	assert.Equal(t, len(a.Events), len(back.Events))
}

// harness runs one detector in an Engine.
type harness struct {
	t      *testing.T
	f      Features
	det    anomaly.Detector
	eng    *anomaly.Engine
	alerts []anomaly.Alert
	now    time.Time
	ttl    time.Duration
	emit   func(anomaly.Alert)
}

const resolveAfter = time.Minute

func newHarness(t *testing.T, f Features, det anomaly.Detector) *harness {
	t.Helper()
	eng, err := anomaly.NewEngine([]anomaly.Rule{{
		Name:      ruleName,
		Severity:  rdr.SeverityHigh,
		GroupBy:   f.GroupBy,
		Filter:    f.Filter,
		Detector:  det,
		Risk:      10,
		Lifecycle: anomaly.Lifecycle{ResolveAfter: resolveAfter},
	}}, anomaly.Config{MaxFuture: -1})
	require.NoError(t, err)
	h := &harness{t: t, f: f, det: det, eng: eng, now: Start, ttl: f.StateTTL}
	h.emit = func(a anomaly.Alert) { h.alerts = append(h.alerts, a) }
	return h
}

func (h *harness) process(ev rdr.Event) {
	if ev.Time.After(h.now) {
		h.now = ev.Time
	}
	h.eng.Process(ev, h.emit)
}

func (h *harness) feed(evs []rdr.Event) {
	for _, ev := range evs {
		h.process(ev)
	}
}

// settle moves event time past the input's end by StateTTL and the resolve
// delay, so every alert resolves.
func (h *harness) settle(evs []rdr.Event) {
	h.t.Helper()
	end := evs[len(evs)-1].Time
	if h.now.After(end) {
		end = h.now
	}
	h.eng.Advance(end.Add(h.ttl+resolveAfter), h.emit)
}

// manyKeys copies evs n times, each copy with its group-by value changed.
func manyKeys(evs []rdr.Event, by anomaly.Field, n int) []rdr.Event {
	out := make([]rdr.Event, 0, n*len(evs))
	for i := range n {
		for _, ev := range evs {
			switch by {
			case anomaly.FieldUserID:
				ev.UserID = fmt.Sprintf("%s-%d", ev.UserID, i)
			case anomaly.FieldIP:
				if ev.IP.IsValid() {
					a := ev.IP.As16()
					a[12], a[13] = byte(i>>8), byte(i)
					ip := netip.AddrFrom16(a)
					if ev.IP.Is4() {
						ip = ip.Unmap()
					}
					ev.IP = ip
				}
			case anomaly.FieldType:
				ev.Type = fmt.Sprintf("%s-%d", ev.Type, i)
			}
			out = append(out, ev)
		}
	}
	return out
}

func shift(evs []rdr.Event, d time.Duration) []rdr.Event {
	out := slices.Clone(evs)
	for i := range out {
		out[i].Time = out[i].Time.Add(d)
	}
	return out
}

// inBuffer rewrites ev's strings to live in buf, and returns the grown
// buffer. The caller overwrites buf after use.
func inBuffer(ev rdr.Event, buf []byte) (rdr.Event, []byte) {
	put := func(s string) string {
		if s == "" {
			return ""
		}
		start := len(buf)
		if cap(buf)-len(buf) < len(s) {
			return s // keep it simple: the buffer never moves
		}
		buf = append(buf, s...)
		b := buf[start:len(buf):len(buf)]
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	ev.Type = put(ev.Type)
	ev.UserID = put(ev.UserID)
	ev.Metadata = rdr.Metadata(put(string(ev.Metadata)))
	return ev, buf
}

// testSnapshotRestore saves the engine mid-stream, restores it into a new
// engine with a new detector, and feeds that the rest: the alerts must be
// those of an uninterrupted run. Once chained (a new engine after each third
// of the stream), then once per cut point.
func testSnapshotRestore(t *testing.T, f Features, newDetector func() anomaly.Detector) {
	for _, stream := range []struct {
		name string
		evs  []rdr.Event
	}{{"Attack", f.Attack(Start)}, {"Benign", f.Benign(Start)}} {
		t.Run(stream.name, func(t *testing.T) {
			evs := stream.evs
			if len(evs) == 0 {
				t.Skip("no events")
			}
			want := newHarness(t, f, newDetector())
			want.feed(evs)
			want.settle(evs)

			h := newHarness(t, f, newDetector())
			from := 0
			for _, cut := range []int{len(evs) / 3, 2 * len(evs) / 3} {
				h.feed(evs[from:cut])
				from = cut
				h = h.restart(newDetector())
			}
			h.feed(evs[from:])
			h.settle(evs)
			require.Equal(t, want.alerts, h.alerts, "alerts after a restore at 1/3 and again at 2/3 of the stream differ from an uninterrupted run's")
			h = h.restart(newDetector()) // and once all is settled
			assert.Zero(t, h.eng.Stats().Firing)

			// Once per cut point, with the uninterrupted run alongside: the
			// restored detector must hold as many keys at every step.
			step := max(1, len(evs)/50)
			for cut := 0; cut <= len(evs); cut += step {
				u := newHarness(t, f, newDetector())
				u.feed(evs[:cut])
				h := u.restart(newDetector())
				for i, ev := range evs[cut:] {
					u.process(ev)
					h.process(ev)
					require.Equal(t, u.det.Len(), h.det.Len(), "Len after event %d of a detector restored after event %d", cut+i, cut)
				}
				u.settle(evs)
				h.settle(evs)
				require.Equal(t, want.alerts, h.alerts, "alerts after a restore after event %d of %d differ from an uninterrupted run's", cut, len(evs))
				require.Equal(t, u.det.Len(), h.det.Len(), "Len at the end of a detector restored after event %d", cut)
			}
		})
	}
}

// restart saves h's engine and restores the state into a new harness with
// det, which carries on with h's alerts. It checks that the new engine's
// gauges and detector match, and that RestoreState did not keep the state
// buffer (it is scrubbed).
func (h *harness) restart(det anomaly.Detector) *harness {
	h.t.Helper()
	state, err := h.eng.AppendState(nil)
	require.NoError(h.t, err, "AppendState")
	again, err := h.eng.AppendState(nil)
	require.NoError(h.t, err, "AppendState")
	require.Equal(h.t, state, again, "AppendState twice in a row must give the same bytes")
	n := newHarness(h.t, Features{GroupBy: h.f.GroupBy, Filter: h.f.Filter, StateTTL: h.ttl}, det)
	require.NoError(h.t, noPanic(func() error { return n.eng.RestoreState(state) }), "RestoreState of the state AppendState wrote")
	for i := range state {
		state[i] = 0xa5
	}
	n.alerts = slices.Clone(h.alerts)
	n.now = h.now
	assert.Equal(h.t, h.eng.Stats().Firing, n.eng.Stats().Firing, "Firing after a restore")
	assert.Equal(h.t, h.det.Len(), det.Len(), "the restored detector's Len")
	return n
}

// testCorruptState checks that truncated and altered state is refused with
// an error wrapping ErrInvalidState, without a panic, by the Engine and by
// the detector, and that what refused it is left usable.
func testCorruptState(t *testing.T, f Features, newDetector func() anomaly.Detector) {
	attack := f.Attack(Start)
	want := newHarness(t, f, newDetector())
	want.feed(attack)
	want.settle(attack)
	h := newHarness(t, f, newDetector())
	h.feed(attack[:max(1, 2*len(attack)/3)])
	state, err := h.eng.AppendState(nil)
	require.NoError(t, err)
	blob, err := h.det.(anomaly.Snapshotter).AppendState(nil)
	require.NoError(t, err)

	// usable checks that a detector (or an engine) that refused state runs
	// the attack as a new one does.
	usable := func(what string, h *harness) {
		t.Helper()
		h.feed(attack)
		h.settle(attack)
		require.Equal(t, want.alerts, h.alerts, "%s: after refusing corrupt state, the attack gives other alerts than on a new one", what)
	}

	engineRefuses := func(what string, data []byte) *harness {
		t.Helper()
		n := newHarness(t, f, newDetector())
		err := noPanic(func() error { return n.eng.RestoreState(data) })
		require.ErrorIs(t, err, anomaly.ErrInvalidState, "Engine.RestoreState of %s", what)
		return n
	}
	for i := range state {
		n := engineRefuses(fmt.Sprintf("the state truncated to %d of %d bytes", i, len(state)), state[:i])
		if i%97 == 0 {
			usable(fmt.Sprintf("engine, state truncated to %d bytes", i), n)
		}
	}
	for i := range state {
		for _, flip := range []byte{0xff, 0x01} {
			bad := slices.Clone(state)
			bad[i] ^= flip
			n := engineRefuses(fmt.Sprintf("the state with byte %d of %d XORed with %#x", i, len(state), flip), bad)
			if i%97 == 0 && flip == 1 {
				usable(fmt.Sprintf("engine, state with byte %d altered", i), n)
			}
		}
	}

	// The detector on its own: truncated state is always refused; altered
	// state may be valid, but it must not make RestoreState panic, and a
	// refused one leaves the detector empty and usable.
	snap := func() (anomaly.Detector, anomaly.Snapshotter) {
		d := newDetector()
		return d, d.(anomaly.Snapshotter)
	}
	for i := range blob {
		d, s := snap()
		err := noPanic(func() error { return s.RestoreState(blob[:i]) })
		require.ErrorIs(t, err, anomaly.ErrInvalidState, "RestoreState of the detector's state truncated to %d of %d bytes", i, len(blob))
		require.Zero(t, d.Len(), "a detector that refused its state must be empty")
		if i == len(blob)/2 {
			usable("detector, state truncated", newHarness(t, f, d))
		}
	}
	for i := range blob {
		for _, flip := range []byte{0xff, 0x01} {
			bad := slices.Clone(blob)
			bad[i] ^= flip
			d, s := snap()
			err := noPanic(func() error { return s.RestoreState(bad) })
			if err == nil {
				// Valid, if different: the detector must still work.
				n := newHarness(t, f, d)
				n.feed(attack)
				n.settle(attack)
				continue
			}
			require.ErrorIs(t, err, anomaly.ErrInvalidState, "RestoreState of the detector's state with byte %d XORed with %#x", i, flip)
			require.Zero(t, d.Len(), "a detector that refused its state must be empty")
		}
	}
}

// noPanic calls fn, turning a panic into an error (that does not wrap
// ErrInvalidState).
func noPanic(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn()
}

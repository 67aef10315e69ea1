package anomaly_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/require"
)

// fuzzRules is the default set plus rules that group by the other fields and
// use every lifecycle option.
const fuzzRules = `
rules:
  - name: distinct-ips-per-app
    type: distinct
    group-by: metadata.app
    timespan: 1m
    condition: {field: ipAddress, gte: 3}
    severity: low
    update-every: 1s
    cooldown: 2m
  - name: burst-per-type
    type: count
    group-by: eventType
    timespan: 10s
    condition: {gte: 4}
    severity: medium
    resolve: 0s
    max-events: 1
  - name: new-app-per-ip
    type: first-seen
    group-by: ipAddress
    field: metadata.app
    history: 1h
    max-values: 2
    severity: low
  - name: seq-per-app
    type: sequence
    group-by: metadata.app
    timespan: 30s
    first: {filter: {severity: [high, critical]}, count: 2}
    then: {filter: {eventType: login_success}}
    severity: high
  - name: absent-per-ip
    type: absence
    group-by: ipAddress
    timespan: 5s
    first: {filter: {eventType: login_failed}}
    then: {filter: {eventType: login_success}}
    severity: low
  - name: spike-per-type
    type: spike
    group-by: eventType
    timespan: 1s
    baseline: {warmup: 2, history: 1m}
    condition: {deviations: 1, min-count: 2}
    severity: low
  - name: ip-risk
    type: risk
    group-by: ipAddress
    half-life: 1m
    points: 7
    condition: {gte: 20}
    severity: medium
`

var (
	fuzzTypes = []string{"login_failed", "login_success", "file_access", "privilege_change", "mfa_challenge", "mfa_success", "", "x\x00y"}
	fuzzUsers = []string{"alice", "bob", "", "\xff\xfe", "carol"}
	fuzzMeta  = []rdr.Metadata{"", `{"app":"vpn"}`, `{"app":"mail","n":1}`, `{"app":"v\u0070n"}`, `{"app":`, `[1,2]`,
		`{"a":{"b":[1,{"c":null}]},"app":true}`, `{"app":"` + "\xff" + `"}`, `nonsense`}
)

// fuzzReader turns bytes into engine calls.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) pick(n int) int { return int(r.byte()) % n }

func (r *fuzzReader) time() time.Time {
	switch r.byte() % 32 {
	case 0:
		return time.Time{}
	case 1:
		return time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	case 2:
		return time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)
	}
	var b [2]byte
	b[0], b[1] = r.byte(), r.byte()
	off := int16(binary.LittleEndian.Uint16(b[:]))
	return t0.Add(time.Duration(off) * 250 * time.Millisecond)
}

func (r *fuzzReader) event() rdr.Event {
	ev := rdr.Event{Time: r.time(), Type: fuzzTypes[r.pick(len(fuzzTypes))], UserID: fuzzUsers[r.pick(len(fuzzUsers))],
		Severity: rdr.Severity(r.pick(6)), Metadata: fuzzMeta[r.pick(len(fuzzMeta))]}
	switch r.byte() % 4 {
	case 1:
		ev.IP = netip.AddrFrom4([4]byte{10, 0, 0, r.byte() % 4})
	case 2:
		ev.IP = netip.MustParseAddr("2001:db8::1")
	case 3:
		ev.IP = netip.MustParseAddr("fe80::1%eth0")
	}
	if n := int(r.byte() % 16); n == 15 && len(r.b) > 0 {
		raw := r.b[:min(8, len(r.b))]
		r.b = r.b[len(raw):]
		ev.UserID = string(raw) // arbitrary bytes
	}
	return ev
}

func FuzzEngine(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x05\x00\x00\x00\x00\x02\x01\x00\x05\x00\x01\x00\x00\x02\x01\x00\x05\x00\x02\x00\x00\x02\x01\x00"))
	f.Add([]byte("\x07\x10\x20\x07\xff\xff\x03\x01\x00\x00\x04\x03\x01\x02\x0f\x41\x42\x43"))
	burst := []byte{}
	for i := range 40 {
		burst = append(burst, 5, byte(i), 0, byte(i%6), byte(i%5), byte(i%6), byte(i%9), byte(i%4), byte(i))
	}
	f.Add(burst)
	extra, err := anomaly.ParseRules("fuzz.yaml", []byte(fuzzRules))
	require.NoError(f, err)
	names := map[string]bool{}
	for _, r := range append(anomaly.DefaultRules(), extra...) {
		names[r.Name] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		extra, err := anomaly.ParseRules("fuzz.yaml", []byte(fuzzRules))
		require.NoError(t, err)
		clock := rdr.NewFakeClock(t0.Add(time.Hour))
		eng, err := anomaly.NewEngine(append(anomaly.DefaultRules(), extra...), anomaly.Config{Clock: clock, MaxFuture: time.Hour})
		require.NoError(t, err)
		fired, resolved := map[string]int{}, map[string]int{}
		emit := func(a anomaly.Alert) {
			_, err := json.Marshal(a)
			require.NoError(t, err, "alert %+v", a)
			require.True(t, names[a.Rule], a.Rule)
			require.True(t, a.Severity.Valid())
			require.Positive(t, a.Count)
			require.False(t, a.LastSeen.Before(a.FirstSeen))
			require.False(t, math.IsNaN(a.Value) || math.IsInf(a.Value, 0) || math.IsNaN(a.RiskScore))
			switch a.Status {
			case anomaly.StatusFiring:
				fired[a.ID]++
			case anomaly.StatusResolved:
				require.Positive(t, fired[a.ID], "resolved before firing: %+v", a)
				resolved[a.ID]++
				require.LessOrEqual(t, resolved[a.ID], fired[a.ID])
			default:
				t.Fatalf("status %v", a.Status)
			}
		}
		r := &fuzzReader{b: data}
		events := uint64(0)
		for len(r.b) > 0 {
			if op := r.byte(); op%8 == 7 {
				eng.Advance(r.time(), emit)
				continue
			}
			eng.Process(r.event(), emit)
			events++
		}
		// A year on, everything has resolved and every key is forgotten.
		eng.Advance(t0.Add(366*24*time.Hour), emit)
		st := eng.Stats()
		require.Equal(t, events, st.Events)
		require.Zero(t, st.Firing)
		require.Equal(t, st.Fired, st.Resolved)
		require.Zero(t, st.TrackedKeys, "%+v", st.Rules)
		require.Len(t, resolved, len(fired), "every alert that fired has resolved")
	})
}

// FuzzRestoreState gives RestoreState arbitrary bytes, as they are and with
// their last four bytes made the checksum of the others (so that the
// decoding behind the checksum is fuzzed too). It must never panic, must
// refuse with ErrInvalidState, and what it accepts must save again to bytes
// that restore into an engine saving the same bytes, and that carries on
// like it.
func FuzzRestoreState(f *testing.F) {
	rules := func(t testing.TB) []anomaly.Rule {
		extra, err := anomaly.ParseRules("fuzz.yaml", []byte(fuzzRules))
		require.NoError(t, err)
		return append(anomaly.DefaultRules(), extra...)
	}
	newEngine := func(t testing.TB) *anomaly.Engine {
		eng, err := anomaly.NewEngine(rules(t), anomaly.Config{MaxFuture: -1})
		require.NoError(t, err)
		return eng
	}
	// Seeds: states of the attack day, for a few users, at a few points.
	var evs []rdr.Event
	for _, ev := range attackDay() {
		switch ev.UserID {
		case "alice", "bob", "carol", "dave", "mallory", "user-000", "user-001":
			evs = append(evs, ev)
		}
	}
	eng := newEngine(f)
	for i, ev := range evs {
		if i%(len(evs)/5) == 0 {
			state, err := eng.AppendState(nil)
			require.NoError(f, err)
			f.Add(state)
		}
		eng.Process(ev, nil)
	}
	f.Add([]byte{})
	f.Add([]byte("rdra\x01"))
	then := []rdr.Event{
		withIP(at(10*time.Minute, "login_failed", "mallory"), "203.0.113.66"),
		withIP(at(10*time.Minute+time.Second, "login_success", "mallory"), "192.0.2.7"),
		withIP(at(10*time.Minute+2*time.Second, "mfa_challenge", "alice"), "10.0.0.1"),
		withSeverity(withIP(at(11*time.Minute, "privilege_change", "carol"), "10.0.0.3"), rdr.SeverityCritical),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inputs := [][]byte{data}
		if len(data) >= 4 {
			body := data[:len(data)-4]
			inputs = append(inputs, binary.LittleEndian.AppendUint32(append([]byte(nil), body...), crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))))
		}
		eng := newEngine(t) // a refused state leaves it as it was: reuse it
		for _, in := range inputs {
			if err := eng.RestoreState(in); err != nil {
				require.ErrorIs(t, err, anomaly.ErrInvalidState)
				continue
			}
			saved, err := eng.AppendState(nil)
			require.NoError(t, err, "saving accepted state")
			again := newEngine(t)
			require.NoError(t, again.RestoreState(saved), "restoring saved state")
			resaved, err := again.AppendState(nil)
			require.NoError(t, err)
			require.Equal(t, saved, resaved, "state restored from saved state saves the same bytes")
			var got1, got2 []anomaly.Alert
			for _, ev := range then {
				eng.Process(ev, func(a anomaly.Alert) { got1 = append(got1, a) })
				again.Process(ev, func(a anomaly.Alert) { got2 = append(got2, a) })
			}
			eng.Advance(t0.Add(24*time.Hour), func(a anomaly.Alert) { got1 = append(got1, a) })
			again.Advance(t0.Add(24*time.Hour), func(a anomaly.Alert) { got2 = append(got2, a) })
			// Compared as printed: a state may hold NaN (a corrupt checkpoint
			// with a valid checksum), which reflect.DeepEqual never equates.
			require.Equal(t, fmt.Sprintf("%+v", got1), fmt.Sprintf("%+v", got2), "the two restored engines carry on alike")
			eng = newEngine(t)
		}
	})
}

package anomaly_test

import (
	"encoding/binary"
	"encoding/json"
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

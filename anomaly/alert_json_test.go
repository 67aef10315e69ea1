package anomaly_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
)

// reflectJSON is how Alert.MarshalJSON encoded before AppendJSON: through
// encoding/json's reflection. AppendJSON must write the same bytes.
func reflectJSON(a anomaly.Alert) ([]byte, error) {
	type plain anomaly.Alert
	p := plain(a)
	if p.Events == nil {
		p.Events = []rdr.Event{}
	}
	p.FirstSeen = p.FirstSeen.UTC()
	p.LastSeen = p.LastSeen.UTC()
	if !p.ResolvedAt.IsZero() {
		p.ResolvedAt = p.ResolvedAt.UTC()
	}
	return json.Marshal(p)
}

// nastyStrings are the strings whose JSON differs between encoders: HTML
// characters, control characters with and without short escapes, invalid
// UTF-8, U+2028 and U+2029, quotes and backslashes.
var nastyStrings = []string{"", "alice", `a<b>&"c\`, "\b\f\n\r\t\x00\x1f\x7f", "bad \xff utf8 \xe2\x28", "line\u2028para\u2029", "ünïcødé 日本", "</script>"}

var nastyMetadata = []rdr.Metadata{"", `{"app":"vpn"}`, `{ "app" : "mail",  "n":[1, 2] }`, `{"html":"<b>&</b>"}`, "{\"sep\":\"\u2028\"}", "{\n\t\"k\":\"v\"\n}"}

func randomAlert(rng *rand.Rand) anomaly.Alert {
	pick := func() string { return nastyStrings[rng.IntN(len(nastyStrings))] }
	num := func() float64 {
		switch rng.IntN(6) {
		case 0:
			return 0
		case 1:
			return float64(rng.IntN(100))
		case 2:
			return rng.Float64() * 1e-7 // 'e' notation, small
		case 3:
			return 3e21 * (1 + rng.Float64()) // 'e' notation, large
		case 4:
			return -rng.Float64() * 1000
		}
		return math.Copysign(0, -1)
	}
	at := time.Date(2026, 12, 2, 10, 0, 0, rng.IntN(1e9), time.FixedZone("x", 3600*rng.IntN(3)))
	a := anomaly.Alert{
		ID: pick(), Rule: pick(), GroupBy: pick(), Key: pick(),
		Severity: rdr.Severity(1 + rng.IntN(4)), RiskScore: num(),
		Status: anomaly.Status(1 + rng.IntN(2)), FirstSeen: at, LastSeen: at.Add(time.Duration(rng.IntN(1e12))),
		Count: rng.Int64N(1 << 40), Value: num(), Threshold: num(), Message: pick(), SilencedBy: pick(),
	}
	if a.Status == anomaly.StatusResolved {
		a.ResolvedAt = a.LastSeen.Add(time.Minute)
	}
	for range rng.IntN(4) {
		a.Tags = append(a.Tags, pick())
	}
	if rng.IntN(4) > 0 {
		a.Events = []rdr.Event{}
		for range rng.IntN(6) {
			ev := rdr.Event{Time: at, Type: pick(), UserID: pick(), Severity: rdr.Severity(1 + rng.IntN(4)), Metadata: nastyMetadata[rng.IntN(len(nastyMetadata))]}
			if rng.IntN(2) == 0 {
				ev.IP = netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(256)), 1})
			} else if rng.IntN(2) == 0 {
				ev.IP = netip.MustParseAddr("2001:db8::1")
			}
			a.Events = append(a.Events, ev)
		}
	}
	return a
}

func TestAlertAppendJSONMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20_000 {
		a := randomAlert(rng)
		want, err := reflectJSON(a)
		require.NoError(t, err)
		got, err := a.AppendJSON([]byte("prefix"))
		require.NoError(t, err)
		require.Equal(t, "prefix"+string(want), string(got), "alert %d: %+v", i, a)
		m, err := json.Marshal(a)
		require.NoError(t, err)
		require.Equal(t, string(want), string(m), "alert %d through json.Marshal", i)
	}
}

func TestAlertAppendJSONRefusesWhatEncodingJSONRefuses(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	good := anomaly.Alert{ID: "a1", Rule: "r", Severity: rdr.SeverityHigh, Status: anomaly.StatusFiring, FirstSeen: at, LastSeen: at}
	for name, tc := range map[string]struct {
		change func(*anomaly.Alert)
		want   string
	}{
		"severity":       {func(a *anomaly.Alert) { a.Severity = 9 }, "anomaly: cannot marshal alert a1: invalid severity 9"},
		"status":         {func(a *anomaly.Alert) { a.Status = 0 }, "anomaly: cannot marshal alert a1: invalid status 0"},
		"NaN":            {func(a *anomaly.Alert) { a.Value = math.NaN() }, "anomaly: cannot marshal alert a1: unsupported value NaN"},
		"infinity":       {func(a *anomaly.Alert) { a.Threshold = math.Inf(1) }, "anomaly: cannot marshal alert a1: unsupported value +Inf"},
		"year":           {func(a *anomaly.Alert) { a.LastSeen = at.AddDate(9000, 0, 0) }, "anomaly: cannot marshal alert a1: time 11026-12-02 10:00:00 +0000 UTC: year outside of range [0,9999]"},
		"event severity": {func(a *anomaly.Alert) { a.Events = []rdr.Event{{Time: at}} }, "anomaly: cannot marshal alert a1: event 0: invalid severity 0"},
		"event metadata": {func(a *anomaly.Alert) { a.Events = []rdr.Event{{Time: at, Severity: 1, Metadata: "{x"}} }, "anomaly: cannot marshal alert a1: event 0: metadata is not JSON"},
	} {
		t.Run(name, func(t *testing.T) {
			a := good
			tc.change(&a)
			_, err := reflectJSON(a)
			require.Error(t, err, "encoding/json refuses it too")
			b, err := a.AppendJSON([]byte("kept"))
			require.EqualError(t, err, tc.want)
			require.Equal(t, "kept", string(b), "b as it was")
		})
	}
}

// BenchmarkAlertJSON encodes an alert as the storm raises them (a
// new-login-ip alert with its five events) through json.Marshal, which is
// what the hub and the alerts topic did, and through AppendJSON.
func BenchmarkAlertJSON(b *testing.B) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)
	a := anomaly.Alert{
		ID: "5f0e3c2a9b1d4e7f", Rule: "new-login-ip", GroupBy: "userId", Key: "u-04211",
		Severity: rdr.SeverityMedium, RiskScore: 10, Status: anomaly.StatusFiring, FirstSeen: at, LastSeen: at.Add(3 * time.Second),
		Count: 5, Value: 5, Threshold: 1, Message: "u-04211 logged in from 5 addresses not seen for them in 30d", Tags: []string{"attack.initial-access"},
	}
	for i := range 5 {
		a.Events = append(a.Events, rdr.Event{Time: at.Add(time.Duration(i) * time.Second), Type: "login_success", UserID: "u-04211",
			IP: netip.AddrFrom4([4]byte{10, 1, 2, byte(i)}), Severity: rdr.SeverityLow, Metadata: rdr.MakeMetadata("app", "vpn", "country", "DE")})
	}
	b.Run("encoding=json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := reflectJSON(a); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding=AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = a.AppendJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

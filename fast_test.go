package rdr

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fastNow = time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC)

const fastSample = `{"timestamp":"2026-11-26T10:00:00.123Z","eventType":"login_failed","userId":"u-1842","ipAddress":"203.0.113.7","severity":"high","metadata":{"app":"vpn","country":"DE"}}`

func fastDecoders(t testing.TB) []*Decoder {
	t.Helper()
	var decs []*Decoder
	for _, l := range []Limits{
		{},
		{MaxStringBytes: 6, MaxMetadataBytes: 20, MaxEventBytes: 150, MaxMetadataDepth: 1},
	} {
		d, err := NewDecoder(DecoderConfig{Limits: l, Clock: NewFakeClock(fastNow)})
		require.NoError(t, err)
		decs = append(decs, d)
	}
	return decs
}

// checkFastPath decodes data with the fast path and, where it accepts, with
// the general path too: both must give the same event and stop at the same
// byte. Where the fast path declines, it returns the zero Event.
func checkFastPath(t testing.TB, d *Decoder, data []byte) bool {
	t.Helper()
	fast, end, ok := d.decodeFast(data, 0, fastNow)
	if !ok {
		if fast != (Event{}) {
			t.Fatalf("declined %q but returned %+v", data, fast)
		}
		return false
	}
	s := scanner{data: data}
	general, err, _ := d.decodeObject(&s, fastNow)
	if err != nil {
		t.Fatalf("fast path accepted %q, general path says %v", data, err)
	}
	if general != fast || s.pos != end {
		t.Fatalf("paths differ on %q:\nfast    %+v (end %d)\ngeneral %+v (end %d)", data, fast, end, general, s.pos)
	}
	return true
}

// FuzzFastPath: for every input the fast path accepts, the general path
// gives the same event.
func FuzzFastPath(f *testing.F) {
	for _, seed := range []string{
		fastSample,
		`{"timestamp":1795687200123,"eventType":"x","userId":"y","severity":"LOW","metadata":{}}`,
		`{"severity":"critical","userId":"u","eventType":"t","timestamp":"2026-11-26T11:00:00+01:00"}`,
		`{"timestamp":"2026-11-26T10:00:00Z","eventType":"t","userId":"u","ipAddress":"2001:db8::1","severity":"low"}`,
		`{"timestamp":"2026-11-26T10:00:00Z","eventType":"t","userId":"u","severity":"low","metadata":{"":"","a\"":"b"}}`,
		`{"timestamp":"2026-11-26T10:00:00Z","eventType":"t","userId":"u","severity":"low","metadata":{"n":1}}`,
		`{"timestamp":"2026-11-26T10:00:00Z","eventType":"t","userId":"u","severity":"low","timestamp":"2026-11-26T10:00:00Z"}`,
		`{"timestamp":9999999999999999,"eventType":"t","userId":"u","severity":"low"}`,
		`{"timestamp":"2026-11-26T10:00:00Z","eventType":"caf` + "\u00e9" + `","userId":"u","severity":"low"}`,
	} {
		f.Add([]byte(seed))
	}
	decs := fastDecoders(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range decs {
			checkFastPath(t, d, data)
		}
	})
}

// The fast path must take what rdr's own producers write, or it is no use.
func TestFastPathTakesTheUsualShape(t *testing.T) {
	d := fastDecoders(t)[0]
	for _, in := range []string{
		fastSample,
		`{"timestamp":1795687200123,"eventType":"login","userId":"u1","ipAddress":"10.0.0.1","severity":"CRITICAL"}`,
		`{"severity":"low","metadata":{},"userId":"u","eventType":"t","timestamp":"2026-11-26T10:00:00Z"}`,
		string(AppendJSON(nil, Event{Time: fastNow.Add(-time.Minute), Type: "privilege_change", UserID: "u-7",
			Severity: SeverityMedium, Metadata: MakeMetadata("from", "user", "to", "root")})),
	} {
		assert.True(t, checkFastPath(t, d, []byte(in)), "fast path declined %s", in)
	}
}

// Everything off the usual shape is left to the general path, which either
// decodes it or names what is wrong — the fast path never answers for it.
func TestFastPathDeclines(t *testing.T) {
	d := fastDecoders(t)[0]
	ok := `"timestamp":"2026-11-26T10:00:00Z","eventType":"t","userId":"u","severity":"low"`
	for _, tc := range []struct{ in, err string }{
		{`{ ` + ok + `}`, ""},
		{`{` + ok + `,"ipAddress":"2001:db8::1"}`, ""},
		{`{` + ok + `,"ipAddress":null}`, ""},
		{`{` + ok + `,"metadata":{"n":1}}`, ""},
		{`{` + ok + `,"metadata":{"a":{"b":"c"}}}`, ""},
		{`{` + ok + `,"metadata":{"a" :"b"}}`, ""},
		{`{` + ok + `,"metadata":null}`, ""},
		{`{` + ok + `,"extra":1}`, ""},
		{`{"timestamp":1795687200123.0,"eventType":"t","userId":"u","severity":"low"}`, `field timestamp: 1795687200123.0 is not an integer number of epoch milliseconds within years 0001-9999`},
		{`{"timestamp":"2026-11-26T10:00:00Z","eventType":"t\u0041","userId":"u","severity":"low"}`, ""},
		{`{"timestamp":"2026-11-26T10:00:00Z","eventType":"caf` + "\u00e9" + `","userId":"u","severity":"low"}`, ""},
		{`{"timestamp":"2026-11-26T10:00:00Z","eventType":"","userId":"u","severity":"low"}`, `field eventType: must not be empty`},
		{`{"timestamp":"2026-11-26T10:00:00Z","eventType":"` + strings.Repeat("x", 257) + `","userId":"u","severity":"low"}`, `field eventType: is 257 bytes long, longer than the limit of 256`},
		{`{"timestamp":"2026-11-26T10:00:00Z","eventType":"t","userId":"u","severity":"urgent"}`, `field severity: "urgent" is not one of low, medium, high, critical`},
		{`{"timestamp":"2026-02-30T10:00:00Z","eventType":"t","userId":"u","severity":"low"}`, `field timestamp: "2026-02-30T10:00:00Z" is not an RFC 3339 time`},
		{`{"timestamp":"2026-11-26T12:00:00Z","eventType":"t","userId":"u","severity":"low"}`, `field timestamp: 2026-11-26T12:00:00Z is 1h59m59s ahead of now, more than the limit of 1h0m0s`},
		{`{"timestamp":0,"eventType":"t","userId":"u","severity":"low"}`, `field timestamp: 1970-01-01T00:00:00Z is 498802h0m1s before now, more than the limit of 720h0m0s`},
		{`{"timestamp":"2026-11-26T10:00:00Z","eventType":"t","severity":"low"}`, `field userId: is missing`},
		{`{` + ok + `,"userId":"v"}`, `field userId: appears more than once`},
		{`{` + ok + `,"ipAddress":"300.1.1.1"}`, `field ipAddress: "300.1.1.1" is not an IPv4 or IPv6 address`},
		{`{` + ok + `,}`, `malformed JSON at byte 82: unexpected '}', want a string`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			assert.False(t, checkFastPath(t, d, []byte(tc.in)), "fast path took it")
			_, err := d.DecodeEvent([]byte(tc.in))
			if tc.err == "" {
				assert.NoError(t, err)
			} else {
				assert.EqualError(t, err, "rdr: invalid event: "+tc.err)
			}
		})
	}
}

// plainEnd reads eight bytes at a time; it must stop exactly where the
// byte-by-byte table does, whatever byte stops it and wherever that is.
func TestPlainEnd(t *testing.T) {
	slow := func(b []byte, i int) int {
		for i < len(b) && plain[b[i]] {
			i++
		}
		return i
	}
	for n := 0; n <= 20; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("a", n))
				b[pos] = byte(c)
				// A second stopper after the first must not matter.
				if pos+2 < n {
					b[pos+2] = '"'
				}
				for start := 0; start <= 2 && start <= n; start++ {
					if got, want := plainEnd(b, start), slow(b, start); got != want {
						t.Fatalf("plainEnd(%q, %d) = %d, want %d", b, start, got, want)
					}
				}
			}
		}
	}
}

// timeOK's shortcut in whole seconds must agree with checkTime to the
// nanosecond, next to each limit and for limits that are not whole seconds.
func TestTimeOKAgreesWithCheckTime(t *testing.T) {
	nows := []time.Time{fastNow, fastNow.Add(999_999_999), time.Unix(-5, 1).UTC(), time.Unix(0, 0).UTC()}
	limits := []time.Duration{-1, time.Nanosecond, time.Second - 1, time.Second, time.Second + 1, 90*time.Second + 500*time.Millisecond, time.Hour}
	steps := []time.Duration{0, 1, -1, 2, -2, time.Millisecond, -time.Millisecond, time.Second - 1, -(time.Second - 1),
		time.Second, -time.Second, time.Second + 1, -(time.Second + 1), 3 * time.Second / 2, -3 * time.Second / 2}
	n := 0
	for _, now := range nows {
		for _, future := range limits {
			for _, past := range limits {
				d := &Decoder{limits: Limits{MaxFuture: future, MaxPast: past}}
				for _, edge := range []time.Time{now, now.Add(max(future, 0)), now.Add(-max(past, 0))} {
					for _, step := range steps {
						ts := edge.Add(step)
						want := d.checkTime(ts, now) == ""
						if got := d.timeOK(ts, now); got != want {
							t.Fatalf("now %v, future %v, past %v, t %v: timeOK %v, checkTime says %v", now, future, past, ts, got, want)
						}
						n++
					}
				}
			}
		}
	}
	t.Logf("%d cases", n)
}

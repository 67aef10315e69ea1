package rdr_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
)

var now = time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC)

func newDecoder(t testing.TB, limits rdr.Limits) *rdr.Decoder {
	t.Helper()
	dec, err := rdr.NewDecoder(rdr.DecoderConfig{Limits: limits, Clock: rdr.NewFakeClock(now)})
	require.NoError(t, err)
	return dec
}

func TestDecodeEvent(t *testing.T) {
	dec := newDecoder(t, rdr.Limits{})
	ev, err := dec.DecodeEvent(sampleEvent)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 11, 26, 10, 0, 0, 123e6, time.UTC), ev.Time)
	assert.Equal(t, "login_failed", ev.Type)
	assert.Equal(t, "u-1842", ev.UserID)
	assert.Equal(t, netip.MustParseAddr("203.0.113.7"), ev.IP)
	assert.Equal(t, rdr.SeverityHigh, ev.Severity)
	assert.Equal(t, rdr.Metadata(`{"app":"vpn","country":"DE"}`), ev.Metadata)
}

func TestDecodeEventForms(t *testing.T) {
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want rdr.Event
	}{
		{
			name: "epoch milliseconds, IPv6, upper-case severity, no metadata",
			in:   `{"timestamp":1795687200123,"eventType":"login","userId":"u1","ipAddress":"2001:db8::1","severity":"CRITICAL"}`,
			want: rdr.Event{Time: base.Add(123 * time.Millisecond), Type: "login", UserID: "u1", IP: netip.MustParseAddr("2001:db8::1"), Severity: rdr.SeverityCritical},
		},
		{
			name: "offset, nanoseconds, escapes, spaces, unknown field skipped",
			in: "{ \"timestamp\" : \"2026-11-26T11:00:00.000000001+01:00\",\n \"eventType\":\"file\\u005faccess\", \"userId\":\"caf\\u00e9 \\\"x\\\"\"," +
				" \"extra\": [1, {\"a\": null}], \"severity\":\"Low\", \"metadata\": { \"path\" : \"/etc/shadow\", \"n\" : [ 1 , 2 ] } }",
			want: rdr.Event{Time: base.Add(time.Nanosecond), Type: "file_access", UserID: `café "x"`, Severity: rdr.SeverityLow,
				Metadata: `{"path":"/etc/shadow","n":[1,2]}`},
		},
		{
			name: "null ipAddress and metadata, empty metadata object",
			in:   `{"timestamp":"2026-11-26T10:00:00Z","eventType":"t","userId":"u","ipAddress":null,"severity":"medium","metadata":{}}`,
			want: rdr.Event{Time: base, Type: "t", UserID: "u", Severity: rdr.SeverityMedium},
		},
		{
			name: "lower-case t and z, surrogate pair",
			in:   `{"timestamp":"2026-11-26t10:00:00z","eventType":"\ud83d\ude00","userId":"u","severity":"low"}`,
			want: rdr.Event{Time: base, Type: "😀", UserID: "u", Severity: rdr.SeverityLow},
		},
	}
	dec := newDecoder(t, rdr.Limits{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dec.DecodeEvent([]byte(tt.in))
			require.NoError(t, err)
			assert.True(t, tt.want.Time.Equal(got.Time), "time %v, want %v", got.Time, tt.want.Time)
			got.Time = tt.want.Time
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDecodeEventErrors(t *testing.T) {
	const ok = `"timestamp":"2026-11-26T10:00:00Z","eventType":"t","userId":"u","severity":"low"`
	tests := []struct {
		name, in, field, reason string
	}{
		{"missing timestamp", `{"eventType":"t","userId":"u","severity":"low"}`, "timestamp", "is missing"},
		{"missing userId", `{"timestamp":"2026-11-26T10:00:00Z","eventType":"t","severity":"low"}`, "userId", "is missing"},
		{"missing eventType", `{"timestamp":"2026-11-26T10:00:00Z","userId":"u","severity":"low"}`, "eventType", "is missing"},
		{"missing severity", `{"timestamp":"2026-11-26T10:00:00Z","eventType":"t","userId":"u"}`, "severity", "is missing"},
		{"empty userId", `{"timestamp":"2026-11-26T10:00:00Z","eventType":"t","userId":"","severity":"low"}`, "userId", "must not be empty"},
		{"userId a number", `{"timestamp":"2026-11-26T10:00:00Z","eventType":"t","userId":42,"severity":"low"}`, "userId", "must be a string, got a number"},
		{"eventType null", `{"timestamp":"2026-11-26T10:00:00Z","eventType":null,"userId":"u","severity":"low"}`, "eventType", "must be a string, got null"},
		{"bad severity", `{` + ok[:len(ok)-len(`"severity":"low"`)] + `"severity":"urgent"}`, "severity", `"urgent" is not one of low, medium, high, critical`},
		{"bad ip", `{` + ok + `,"ipAddress":"300.1.2.3"}`, "ipAddress", `"300.1.2.3" is not an IPv4 or IPv6 address`},
		{"ip with zone", `{` + ok + `,"ipAddress":"fe80::1%eth0"}`, "ipAddress", `"fe80::1%eth0" is not an IPv4 or IPv6 address`},
		{"ip a bool", `{` + ok + `,"ipAddress":true}`, "ipAddress", "must be a string, got a boolean"},
		{"bad timestamp text", `{"timestamp":"yesterday","eventType":"t","userId":"u","severity":"low"}`, "timestamp", `"yesterday" is not an RFC 3339 time`},
		{"February 30", `{"timestamp":"2026-02-30T10:00:00Z","eventType":"t","userId":"u","severity":"low"}`, "timestamp", `"2026-02-30T10:00:00Z" is not an RFC 3339 time`},
		{"no zone", `{"timestamp":"2026-11-26T10:00:00","eventType":"t","userId":"u","severity":"low"}`, "timestamp", `"2026-11-26T10:00:00" is not an RFC 3339 time`},
		{"fractional millis", `{"timestamp":1795687200123.5,"eventType":"t","userId":"u","severity":"low"}`, "timestamp", "1795687200123.5 is not an integer number of epoch milliseconds within years 0001-9999"},
		{"timestamp object", `{"timestamp":{},"eventType":"t","userId":"u","severity":"low"}`, "timestamp", "must be an RFC 3339 string or integer epoch milliseconds, got an object"},
		{"too far in the future", `{"timestamp":"2026-11-26T12:00:01Z","eventType":"t","userId":"u","severity":"low"}`, "timestamp", "2026-11-26T12:00:01Z is 2h0m0s ahead of now, more than the limit of 1h0m0s"},
		{"too far in the past", `{"timestamp":"2026-10-01T10:00:00Z","eventType":"t","userId":"u","severity":"low"}`, "timestamp", "2026-10-01T10:00:00Z is 1344h0m1s before now, more than the limit of 720h0m0s"},
		{"metadata an array", `{` + ok + `,"metadata":[1]}`, "metadata", "must be a JSON object, got an array"},
		{"metadata too deep", `{` + ok + `,"metadata":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{}}}}}}}}}}`, "metadata", "nests deeper than the limit of 8"},
		{"metadata too large", `{` + ok + `,"metadata":{"a":"` + strings.Repeat("x", 9000) + `"}}`, "metadata", "is 9008 bytes, larger than the limit of 8192"},
		{"userId too long", `{"timestamp":"2026-11-26T10:00:00Z","eventType":"t","userId":"` + strings.Repeat("u", 257) + `","severity":"low"}`, "userId", "is 257 bytes long, longer than the limit of 256"},
		{"duplicate field", `{` + ok + `,"userId":"v"}`, "userId", "appears more than once"},
		{"first of several problems", `{"timestamp":"x","eventType":"","userId":"u","severity":"low"}`, "timestamp", `"x" is not an RFC 3339 time`},
		{"not an object", `[1]`, "", "malformed JSON at byte 0: unexpected '[', want '{'"},
		{"truncated", `{"timestamp":"2026-11-26T10:00:00Z","eventType":"t"`, "", "malformed JSON at byte 51: unexpected end of input, want ',' or '}'"},
		{"trailing data", `{` + ok + `} x`, "", "malformed JSON at byte 83: unexpected data after the event"},
		{"control character", "{\"timestamp\":\"2026-11-26T10:00:00Z\",\"eventType\":\"a\x01\"}", "", "malformed JSON at byte 50: control character in string"},
		{"invalid UTF-8", "{\"timestamp\":\"2026-11-26T10:00:00Z\",\"eventType\":\"\xff\"}", "", "malformed JSON at byte 49: string is not valid UTF-8"},
		{"bad escape", `{"eventType":"\x"}`, "", `malformed JSON at byte 14: bad escape 'x'`},
		{"empty", ``, "", "malformed JSON at byte 0: unexpected end of input, want '{'"},
	}
	dec := newDecoder(t, rdr.Limits{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dec.DecodeEvent([]byte(tt.in))
			require.Error(t, err)
			assert.ErrorIs(t, err, rdr.ErrInvalidEvent)
			var ie *rdr.InvalidEventError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, tt.field, ie.Field)
			assert.Equal(t, tt.reason, ie.Reason)
		})
	}
}

func TestDecodeEventTooLarge(t *testing.T) {
	dec := newDecoder(t, rdr.Limits{MaxEventBytes: 100})
	_, err := dec.DecodeEvent(sampleEvent)
	assert.EqualError(t, err, "rdr: invalid event: event is 169 bytes, larger than the limit of 100")
}

func TestDecodeEventLimitsOff(t *testing.T) {
	dec := newDecoder(t, rdr.Limits{MaxFuture: -1, MaxPast: -1})
	ev, err := dec.DecodeEvent([]byte(`{"timestamp":0,"eventType":"t","userId":"u","severity":"low"}`))
	require.NoError(t, err)
	assert.Equal(t, time.Unix(0, 0).UTC(), ev.Time)
}

func TestNewDecoderInvalidConfig(t *testing.T) {
	_, err := rdr.NewDecoder(rdr.DecoderConfig{Limits: rdr.Limits{MaxStringBytes: -1, MaxEventBytes: 1 << 20, MaxBatchBytes: 1 << 10}})
	assert.EqualError(t, err, "invalid config: MaxStringBytes must not be negative, got -1\nMaxBatchBytes (1024) must be at least MaxEventBytes (1048576)")
}

type item struct {
	ev  rdr.Event
	err string
	raw string
}

func collect(dec *rdr.Decoder, in string) []item {
	var out []item
	for ev, err := range dec.Events([]byte(in)) {
		if err != nil {
			out = append(out, item{err: err.Error(), raw: string(err.(*rdr.ItemError).Raw)})
			continue
		}
		out = append(out, item{ev: ev})
	}
	return out
}

func ev(user string) rdr.Event {
	return rdr.Event{Time: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), Type: "login", UserID: user, Severity: rdr.SeverityLow}
}

func line(user string) string {
	return `{"timestamp":"2026-11-26T10:00:00Z","eventType":"login","userId":"` + user + `","severity":"low"}`
}

func TestEventsBatches(t *testing.T) {
	bad := `{"timestamp":"2026-11-26T10:00:00Z","eventType":"login","userId":"","severity":"low"}`
	tests := []struct {
		name string
		in   string
		want []item
	}{
		{"one event", line("a"), []item{{ev: ev("a")}}},
		{"array", "[" + line("a") + ", " + line("b") + "]", []item{{ev: ev("a")}, {ev: ev("b")}}},
		{"empty array", " [ ] ", nil},
		{"array with a bad event and a non-object",
			"[" + line("a") + "," + bad + ", 42, " + line("b") + "]",
			[]item{{ev: ev("a")}, {err: "item 1: rdr: invalid event: field userId: must not be empty", raw: bad},
				{err: "item 2: rdr: invalid event: not a JSON object", raw: "42"}, {ev: ev("b")}}},
		{"array broken off", "[" + line("a") + "," + line("b")[:20],
			[]item{{ev: ev("a")}, {err: "item 1: rdr: invalid event: malformed JSON at byte 108: unexpected end of input in string", raw: line("b")[:20]}}},
		{"ndjson with blank lines, CRLF and a malformed line",
			line("a") + "\r\n\n" + `{"timestamp":` + "\n" + bad + "\n" + line("b") + "\n",
			[]item{{ev: ev("a")}, {err: "item 1: rdr: invalid event: malformed JSON at byte 13: unexpected end of input, want a value", raw: `{"timestamp":`},
				{err: "item 2: rdr: invalid event: field userId: must not be empty", raw: bad}, {ev: ev("b")}}},
		{"empty", "  \n", []item{{err: "item 0: rdr: invalid event: empty input, want an event, an array of events or NDJSON", raw: "  \n"}}},
		{"garbage", "hello", []item{{err: "item 0: rdr: invalid event: malformed JSON at byte 0: unexpected 'h', want an event, an array of events or NDJSON", raw: "hello"}}},
	}
	dec := newDecoder(t, rdr.Limits{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, collect(dec, tt.in))
		})
	}
}

func TestEventsBatchLimits(t *testing.T) {
	dec := newDecoder(t, rdr.Limits{MaxBatchEvents: 2})
	got := collect(dec, "["+line("a")+","+line("b")+","+line("c")+"]")
	assert.Equal(t, []item{{ev: ev("a")}, {ev: ev("b")}, {err: "item 2: rdr: invalid event: batch holds more than 2 events", raw: line("c") + "]"}}, got)
	got = collect(dec, line("a")+"\n"+line("b")+"\n"+line("c"))
	assert.Equal(t, []item{{ev: ev("a")}, {ev: ev("b")}, {err: "item 2: rdr: invalid event: batch holds more than 2 events", raw: line("c")}}, got)

	dec = newDecoder(t, rdr.Limits{MaxBatchBytes: 100, MaxEventBytes: 100})
	got = collect(dec, "["+line("a")+"]")
	assert.Equal(t, []item{{ev: ev("a")}}, got)
	in := "[" + line("a") + "," + line("b") + "]"
	got = collect(dec, in)
	assert.Equal(t, []item{{err: "item 0: rdr: invalid event: batch is 175 bytes, larger than the limit of 100", raw: in}}, got)
}

func TestEventsStopEarly(t *testing.T) {
	dec := newDecoder(t, rdr.Limits{})
	n := 0
	for range dec.Events([]byte("[" + line("a") + "," + line("b") + "," + line("c") + "]")) {
		n++
		if n == 2 {
			break
		}
	}
	assert.Equal(t, 2, n)
}

func TestItemErrorUnwraps(t *testing.T) {
	dec := newDecoder(t, rdr.Limits{})
	for _, err := range dec.Events([]byte(`[{"timestamp":"2026-11-26T10:00:00Z"}]`)) {
		var itemErr *rdr.ItemError
		require.ErrorAs(t, err, &itemErr)
		assert.Equal(t, 0, itemErr.Index)
		var ie *rdr.InvalidEventError
		require.ErrorAs(t, err, &ie)
		assert.Equal(t, "eventType", ie.Field)
		assert.True(t, errors.Is(err, rdr.ErrInvalidEvent))
	}
}

func TestEventsDoNotAliasInput(t *testing.T) {
	dec := newDecoder(t, rdr.Limits{})
	in := []byte("[" + line("a") + "]")
	var got []rdr.Event
	for ev, err := range dec.Events(in) {
		require.NoError(t, err)
		got = append(got, ev)
	}
	for i := range in {
		in[i] = 'x'
	}
	assert.Equal(t, []rdr.Event{ev("a")}, got)
}

// A wrong-typed field is read past however deeply it nests (within a
// generous bound), whichever field it is: the item gets its error and the
// batch goes on.
func TestBatchGoesOnPastDeepWrongTypedFields(t *testing.T) {
	dec := newDecoder(t, rdr.Limits{})
	deep := strings.Repeat("[", 20) + strings.Repeat("]", 20)
	ok := `{"timestamp":"2026-11-26T10:00:00Z","eventType":"t","userId":"u","severity":"low"}`
	for _, field := range []string{"userId", "eventType", "timestamp", "severity", "ipAddress", "extra"} {
		bad := `{"timestamp":"2026-11-26T10:00:00Z","eventType":"t","userId":"u","severity":"low","` + field + `":` + deep + `}`
		bad = strings.Replace(bad, `"`+field+`":"`, `"x-`+field+`":"`, 1) // the good spelling of the field becomes an unknown one
		var errs []string
		n := 0
		for ev, err := range dec.Events([]byte("[" + bad + "," + ok + "]")) {
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			n++
			assert.Equal(t, "u", ev.UserID)
		}
		if field == "extra" { // an unknown field is skipped: both events are good
			assert.Equal(t, 2, n)
			assert.Empty(t, errs)
			continue
		}
		assert.Equal(t, 1, n, "%s: the good event after the bad one", field)
		want := "must be a string, got an array"
		if field == "timestamp" {
			want = "must be an RFC 3339 string or integer epoch milliseconds, got an array"
		}
		assert.Equal(t, []string{"item 0: rdr: invalid event: field " + field + ": " + want}, errs, field)
	}
}

// TestOneIsEventsOfOne: One decodes exactly what Events yields for one
// plain event on one line, and declines everything else.
func TestOneIsEventsOfOne(t *testing.T) {
	dec := newDecoder(t, rdr.Limits{MaxEventBytes: 300, MaxBatchBytes: 400})
	ev := `{"timestamp":"2026-11-26T09:59:00Z","eventType":"login_failed","userId":"alice","ipAddress":"10.0.0.1","severity":"medium","metadata":{"app":"vpn"}}`
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{ev, true},
		{"  " + ev + " \r\n", true},
		{`{"timestamp":"2026-11-26T09:59:00Z","eventType":"login_failed","userId":"al\u0069ce","severity":"low"}`, false}, // an escape: the fast path declines, Events decodes it
		{"[" + ev + "]", false},
		{ev + "\n" + ev, false},
		{`{"timestamp":"2026-11-26T09:59:00Z","eventType":"login_failed"}`, false}, // no userId: invalid
		{`{"timestamp":"2026-11-26T09:59:00Z",` + "\n" + `"eventType":"login_failed","userId":"bob","severity":"low"}`, false},
		{ev + strings.Repeat(" ", 400), false}, // over MaxBatchBytes
		{"", false},
		{"null", false},
	} {
		var yielded []rdr.Event
		var errs int
		for e, err := range dec.Events([]byte(tc.in)) {
			if err != nil {
				errs++
				continue
			}
			yielded = append(yielded, e)
		}
		got, ok := dec.One([]byte(tc.in))
		require.Equal(t, tc.want, ok, "%q", tc.in)
		if ok {
			require.Equal(t, []rdr.Event{got}, yielded, "%q", tc.in)
			require.Zero(t, errs)
		}
	}
}

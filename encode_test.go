package rdr_test

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
)

func TestRoundTrip(t *testing.T) {
	dec := newDecoder(t, rdr.Limits{})
	for _, in := range []string{
		string(sampleEvent),
		`{"timestamp":"2026-11-26T10:00:00Z","eventType":"privilege_change","userId":"admin \"root\"\\","severity":"critical"}`,
		`{"timestamp":"2026-11-26T10:00:00.000000001Z","eventType":"line\nbreak\u2028","userId":"é","ipAddress":"2001:db8::7","severity":"medium","metadata":{"a":{"b":[1,2.5,true,null]},"c":"\"q\""}}`,
	} {
		ev, err := dec.DecodeEvent([]byte(in))
		require.NoError(t, err)
		out := rdr.AppendJSON(nil, ev)
		assert.Equal(t, in, string(out))
		again, err := dec.DecodeEvent(out)
		require.NoError(t, err)
		assert.Equal(t, ev, again)
	}
}

func TestEncodeNormalises(t *testing.T) {
	dec := newDecoder(t, rdr.Limits{})
	ev, err := dec.DecodeEvent([]byte(`{"timestamp":1795687200123,"eventType":"t","userId":"u","severity":"HIGH","metadata":{ "k" : "v" }}`))
	require.NoError(t, err)
	assert.Equal(t, `{"timestamp":"2026-11-26T10:00:00.123Z","eventType":"t","userId":"u","severity":"high","metadata":{"k":"v"}}`, string(rdr.AppendJSON(nil, ev)))
}

func TestEventJSONInsideOtherDocuments(t *testing.T) {
	type envelope struct {
		Events []rdr.Event `json:"events"`
	}
	in := envelope{Events: []rdr.Event{{
		Time: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), Type: "login", UserID: "u", IP: netip.MustParseAddr("10.0.0.1"),
		Severity: rdr.SeverityLow, Metadata: rdr.MakeMetadata("app", "vpn"),
	}}}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.Equal(t, `{"events":[{"timestamp":"2020-01-02T03:04:05Z","eventType":"login","userId":"u","ipAddress":"10.0.0.1","severity":"low","metadata":{"app":"vpn"}}]}`, string(b))
	var out envelope
	require.NoError(t, json.Unmarshal(b, &out)) // old timestamps are fine: no clock here
	assert.Equal(t, in, out)

	err = json.Unmarshal([]byte(`{"events":[{"timestamp":"2020-01-02T03:04:05Z"}]}`), &out)
	assert.ErrorIs(t, err, rdr.ErrInvalidEvent)

	_, err = json.Marshal(rdr.Event{})
	assert.ErrorContains(t, err, "rdr: cannot marshal event with invalid severity 0")
}

func TestMetadata(t *testing.T) {
	m := rdr.Metadata(`{"app":"vpn","n":42,"nested":{"a":[1,2]},"esc":"a\"b","t":true,"nil":null,"k\u0065y":"unicode key"}`)
	tests := []struct {
		key, want string
		ok        bool
	}{
		{"app", "vpn", true},
		{"n", "42", true},
		{"nested", `{"a":[1,2]}`, true},
		{"esc", `a"b`, true},
		{"t", "true", true},
		{"nil", "null", true},
		{"key", "unicode key", true},
		{"missing", "", false},
		{"a", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, ok := m.Lookup(tt.key)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
	_, ok := rdr.Metadata("").Lookup("app")
	assert.False(t, ok)
	_, ok = rdr.Metadata(`{"app":`).Lookup("app")
	assert.False(t, ok)

	all, err := m.Map()
	require.NoError(t, err)
	assert.Equal(t, "vpn", all["app"])
	assert.Equal(t, float64(42), all["n"])

	assert.Equal(t, rdr.Metadata(`{"app":"vpn","q":"\"\n"}`), rdr.MakeMetadata("app", "vpn", "q", "\"\n"))
	assert.Equal(t, rdr.Metadata(""), rdr.MakeMetadata("lonely"))
}

func TestMetadataLookupDoesNotAllocate(t *testing.T) {
	m := rdr.MakeMetadata("app", "vpn", "country", "DE")
	allocs := testing.AllocsPerRun(100, func() {
		if v, _ := m.Lookup("country"); v != "DE" {
			t.Fatal(v)
		}
	})
	assert.Equal(t, 0.0, allocs)
}

func TestSeverity(t *testing.T) {
	for i, name := range []string{"low", "Medium", "HIGH", "critical"} {
		s, err := rdr.ParseSeverity(name)
		require.NoError(t, err)
		assert.Equal(t, rdr.SeverityLow+rdr.Severity(i), s, name)
		text, err := s.MarshalText()
		require.NoError(t, err)
		var back rdr.Severity
		require.NoError(t, back.UnmarshalText(text))
		assert.Equal(t, s, back)
	}
	assert.True(t, rdr.SeverityLow < rdr.SeverityMedium && rdr.SeverityHigh < rdr.SeverityCritical)
	_, err := rdr.ParseSeverity("urgent")
	assert.EqualError(t, err, `rdr: unknown severity "urgent" (want low, medium, high or critical)`)
	for _, name := range []string{"", "lo", "lox", "hihg", "criticaL ", "mediun", "critica1", "info"} {
		_, err := rdr.ParseSeverity(name)
		assert.Error(t, err, name)
	}
	assert.Equal(t, "Severity(9)", rdr.Severity(9).String())
	assert.False(t, rdr.Severity(0).Valid())
}

func TestFakeClock(t *testing.T) {
	c := rdr.NewFakeClock(now)
	assert.Equal(t, now, c.Now())
	assert.Equal(t, now.Add(time.Second), c.Advance(time.Second))
	c.Set(now)
	assert.Equal(t, now, c.Now())

	var zero rdr.FakeClock // usable without NewFakeClock
	assert.True(t, zero.Now().IsZero())
	assert.Equal(t, time.Time{}.Add(time.Hour), zero.Advance(time.Hour))
	assert.Equal(t, time.Time{}.Add(time.Hour), zero.Now())
}

// TestTimestampsAgreeWithTimeParse checks the hand-written RFC 3339 parser
// against the standard library on valid and invalid inputs.
func TestTimestampsAgreeWithTimeParse(t *testing.T) {
	dec := newDecoder(t, rdr.Limits{MaxFuture: -1, MaxPast: -1})
	for _, ts := range []string{
		"2026-11-26T10:00:00Z", "2026-11-26T10:00:00.1Z", "2026-11-26T10:00:00.123456789Z",
		"2026-11-26T10:00:00.5-07:30", "2024-02-29T23:59:59+14:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
		"2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T10:60:00Z", "2026-11-26T10:00:60Z",
		"2026-11-26T10:00:00.Z", "2026-11-26T10:00:00.1234567891Z", "2026-11-26T10:00:00+25:00", "2026-11-26T10:00:00+0100",
		"2026-11-26 10:00:00Z", "2026-11-2610:00:00Z", "+026-11-26T10:00:00Z", "2026-11-26T10:00:00ZZ",
		"0000-01-01T00:00:00Z", "0000-03-01T00:00:00Z", "1969-12-31T23:59:59.999Z", "2000-02-29T12:00:00Z", "2100-02-29T12:00:00Z", "1600-03-01T00:00:00-01:00",
	} {
		want, stdErr := time.Parse(time.RFC3339Nano, ts)
		got, err := dec.DecodeEvent([]byte(`{"timestamp":"` + ts + `","eventType":"t","userId":"u","severity":"low"}`))
		if ts == "2026-11-26 10:00:00Z" { // RFC 3339 allows a space; time.Parse does not
			require.NoError(t, err)
			continue
		}
		if stdErr != nil {
			assert.Error(t, err, ts)
			continue
		}
		if assert.NoError(t, err, ts) {
			assert.True(t, want.Equal(got.Time), "%s: got %v want %v", ts, got.Time, want)
		}
	}
}

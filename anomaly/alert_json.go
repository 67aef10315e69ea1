package anomaly

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/rdr-go/rdr"
)

// AppendJSON appends the alert's JSON to b, byte for byte what
// [Alert.MarshalJSON] and json.Marshal write, and returns the extended
// buffer. It writes straight into b, without encoding/json's reflection and
// its second pass over the output, which made an alert storm's encoding
// (once for the alerts topic, once for the live hub) cost more than its
// detection. It fails, leaving b as it was, for what json.Marshal
// refuses: an invalid severity or status, a time outside years 0 to 9999,
// a NaN or infinite number, an event with an invalid severity or metadata
// that is not JSON.
func (a Alert) AppendJSON(b []byte) ([]byte, error) {
	b0 := len(b)
	fail := func(err error) ([]byte, error) {
		return b[:b0], fmt.Errorf("anomaly: cannot marshal alert %s: %w", a.ID, err)
	}
	if !a.Severity.Valid() {
		return fail(fmt.Errorf("invalid severity %d", uint8(a.Severity)))
	}
	if a.Status != StatusFiring && a.Status != StatusResolved {
		return fail(fmt.Errorf("invalid status %d", uint8(a.Status)))
	}
	b = append(b, `{"id":`...)
	b = appendJSONString(b, a.ID)
	b = append(b, `,"rule":`...)
	b = appendJSONString(b, a.Rule)
	b = append(b, `,"groupBy":`...)
	b = appendJSONString(b, a.GroupBy)
	b = append(b, `,"key":`...)
	b = appendJSONString(b, a.Key)
	b = append(b, `,"severity":"`...)
	b = append(b, a.Severity.String()...)
	b = append(b, `","riskScore":`...)
	var err error
	if b, err = appendJSONNumber(b, a.RiskScore); err != nil {
		return fail(err)
	}
	b = append(b, `,"status":"`...)
	b = append(b, a.Status.String()...)
	b = append(b, `","firstSeen":`...)
	if b, err = appendJSONTime(b, a.FirstSeen); err != nil {
		return fail(err)
	}
	b = append(b, `,"lastSeen":`...)
	if b, err = appendJSONTime(b, a.LastSeen); err != nil {
		return fail(err)
	}
	if !a.ResolvedAt.IsZero() {
		b = append(b, `,"resolvedAt":`...)
		if b, err = appendJSONTime(b, a.ResolvedAt); err != nil {
			return fail(err)
		}
	}
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, a.Count, 10)
	b = append(b, `,"value":`...)
	if b, err = appendJSONNumber(b, a.Value); err != nil {
		return fail(err)
	}
	b = append(b, `,"threshold":`...)
	if b, err = appendJSONNumber(b, a.Threshold); err != nil {
		return fail(err)
	}
	b = append(b, `,"message":`...)
	b = appendJSONString(b, a.Message)
	b = append(b, `,"events":[`...)
	for i, ev := range a.Events {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendJSONEvent(b, ev); err != nil {
			return fail(fmt.Errorf("event %d: %w", i, err))
		}
	}
	b = append(b, ']')
	if len(a.Tags) > 0 {
		b = append(b, `,"tags":[`...)
		for i, t := range a.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, t)
		}
		b = append(b, ']')
	}
	if a.SilencedBy != "" {
		b = append(b, `,"silencedBy":`...)
		b = appendJSONString(b, a.SilencedBy)
	}
	return append(b, '}'), nil
}

// appendJSONEvent appends ev in rdr's wire format as json.Marshal writes
// it inside another value: compacted, with <, >, &, U+2028 and U+2029
// escaped. rdr.AppendJSON already writes everything but the metadata so
// (apart from those HTML characters), so only an event whose bytes hold
// one of them, or whitespace, takes encoding/json's path.
func appendJSONEvent(b []byte, ev rdr.Event) ([]byte, error) {
	if !ev.Severity.Valid() {
		return b, fmt.Errorf("invalid severity %d", uint8(ev.Severity))
	}
	if m := ev.Metadata; m != "" && !json.Valid([]byte(m)) {
		return b, fmt.Errorf("metadata is not JSON")
	}
	at := len(b)
	b = rdr.AppendJSON(b, ev)
	for _, c := range b[at:] {
		switch c {
		case ' ', '\t', '\n', '\r', '<', '>', '&', 0xE2: // 0xE2: U+2028 and U+2029 begin with it
			var c bytes.Buffer
			if err := json.Compact(&c, b[at:]); err != nil {
				return b[:at], err
			}
			b = b[:at]
			var h bytes.Buffer
			json.HTMLEscape(&h, c.Bytes())
			return append(b, h.Bytes()...), nil
		}
	}
	return b, nil
}

// appendJSONTime appends t in UTC as time.Time's MarshalJSON does.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return b, fmt.Errorf("time %v: year outside of range [0,9999]", t)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendJSONNumber appends f as encoding/json writes a float64 (as ES6 does).
func appendJSONNumber(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, fmt.Errorf("unsupported value %v", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const jsonHex = "0123456789abcdef"

// appendJSONString appends s as encoding/json writes a string with HTML
// escaping (json.Marshal's default): <, >, & and the control characters as
// \u00XX (but \b, \f, \n, \r, \t), invalid UTF-8 as U+FFFD, U+2028 and
// U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', jsonHex[c>>4], jsonHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', jsonHex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

package rdr

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the wire JSON of e to dst and returns the extended
// buffer. The timestamp is written in UTC as RFC 3339 with as many fraction
// digits as needed; ipAddress and metadata are left out when e has none.
// Decoding the result gives e back.
func AppendJSON(dst []byte, e Event) []byte {
	dst = append(dst, `{"timestamp":"`...)
	dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","eventType":`...)
	dst = appendJSONString(dst, e.Type)
	dst = append(dst, `,"userId":`...)
	dst = appendJSONString(dst, e.UserID)
	if e.IP.IsValid() {
		dst = append(dst, `,"ipAddress":"`...)
		dst = e.IP.AppendTo(dst)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"severity":"`...)
	if e.Severity.Valid() {
		dst = append(dst, severityNames[e.Severity]...)
	}
	dst = append(dst, '"')
	if e.Metadata != "" {
		dst = append(dst, `,"metadata":`...)
		dst = append(dst, e.Metadata...)
	}
	return append(dst, '}')
}

// MarshalJSON writes e in the wire format, as AppendJSON does.
func (e Event) MarshalJSON() ([]byte, error) {
	if !e.Severity.Valid() {
		return nil, fmt.Errorf("rdr: cannot marshal event with invalid severity %d", uint8(e.Severity))
	}
	return AppendJSON(nil, e), nil
}

// unmarshalDecoder is what UnmarshalJSON uses: the default limits, without
// the time limits, since encoding/json has no clock to give. It is never
// changed after init.
var unmarshalDecoder = &Decoder{limits: func() Limits {
	l := Limits{MaxFuture: -1, MaxPast: -1}
	l.setDefaults()
	return l
}(), clock: SystemClock}

// UnmarshalJSON decodes one event in the wire format with the default
// [Limits] (the time limits excepted), so an Event can sit inside other
// JSON documents. Use a [Decoder] for input from the outside.
func (e *Event) UnmarshalJSON(data []byte) error {
	ev, err := unmarshalDecoder.DecodeEvent(data)
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD; U+2028 and U+2029 are escaped so the output is safe in
// JavaScript too.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

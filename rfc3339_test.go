package rdr

import (
	"regexp"
	"testing"
	"time"
)

// offsetOutOfRange tells a numeric offset whose hours or minutes RFC 3339
// does not allow (time.Parse takes minutes up to 99).
func offsetOutOfRange(s string) bool {
	n := len(s)
	if n < 6 || (s[n-6] != '+' && s[n-6] != '-') {
		return false
	}
	return s[n-5:n-3] > "23" || s[n-2:] > "59"
}

// strictRFC3339 is the grammar of RFC 3339 section 5.6. time.Parse is more
// lenient in places (a one-digit hour, for one); the parser need not be.
var strictRFC3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}([.,]\d+)?([Zz]|[+-]\d{2}:\d{2})$`)

// FuzzParseRFC3339 checks the hand-written parser against time.Parse. The
// parser takes a little more than time.Parse does, all of it RFC 3339: a
// lower-case 't' or 'z', a space between date and time, and a comma before
// the fraction. Where time.Parse is more lenient than RFC 3339, the parser
// may refuse.
func FuzzParseRFC3339(f *testing.F) {
	for _, s := range []string{
		"2026-11-26T10:00:00Z", "2026-11-26T10:00:00.123456789+01:00", "2024-02-29T23:59:59-23:59",
		"2023-02-29T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999999Z", "2026-11-26t10:00:00z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseRFC3339([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, s)
		if err == nil && !ok && strictRFC3339.MatchString(s) && !offsetOutOfRange(s) {
			t.Fatalf("parseRFC3339(%q) refused what time.Parse takes (%v)", s, want)
		}
		if err == nil && ok && !got.Equal(want) {
			t.Fatalf("parseRFC3339(%q) = %v, time.Parse says %v", s, got, want)
		}
		if ok && !strictRFC3339.MatchString(s) {
			t.Fatalf("parseRFC3339(%q) took what RFC 3339 does not allow", s)
		}
		if ok && err != nil {
			std := []byte(s)
			if len(std) > 10 && (std[10] == 't' || std[10] == ' ') {
				std[10] = 'T'
			}
			if len(std) > 19 && std[19] == ',' {
				std[19] = '.'
			}
			if n := len(std); std[n-1] == 'z' {
				std[n-1] = 'Z'
			}
			want, err := time.Parse(time.RFC3339Nano, string(std))
			if err != nil || !got.Equal(want) {
				t.Fatalf("parseRFC3339(%q) = %v, time.Parse refuses it (%v) and takes %q as %v, %v", s, got, err, std, want, err)
			}
		}
		if ok && got.Location() != time.UTC {
			t.Fatalf("parseRFC3339(%q) is in %v, want UTC", s, got.Location())
		}
	})
}

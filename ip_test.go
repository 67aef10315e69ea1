package rdr

import (
	"net/netip"
	"testing"
)

// The IPv4 fast path must agree with netip.ParseAddr wherever it answers.
func TestParseIPv4AgreesWithNetip(t *testing.T) {
	for _, in := range []string{
		"0.0.0.0", "255.255.255.255", "203.0.113.7", "10.0.0.1", "1.2.3.4",
		"256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "", "a.b.c.d",
		"1.2.3.4 ", "00.0.0.0", "0.0.0.00", "1234.1.1.1", "::1", "2001:db8::1", "::ffff:1.2.3.4",
	} {
		got, ok := parseIPv4([]byte(in))
		want, err := netip.ParseAddr(in)
		if ok && (err != nil || got != want) {
			t.Errorf("parseIPv4(%q) = %v, netip says %v, %v", in, got, want, err)
		}
		if !ok && err == nil && want.Is4() {
			t.Errorf("parseIPv4(%q) refused an IPv4 address netip accepts", in)
		}
	}
}

func FuzzParseIPv4(f *testing.F) {
	f.Add("203.0.113.7")
	f.Add("01.2.3.4")
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := parseIPv4([]byte(in))
		want, err := netip.ParseAddr(in)
		if ok && (err != nil || got != want) {
			t.Fatalf("parseIPv4(%q) = %v, netip says %v, %v", in, got, want, err)
		}
		if !ok && err == nil && want.Is4() {
			t.Fatalf("parseIPv4(%q) refused an IPv4 address netip accepts", in)
		}
	})
}

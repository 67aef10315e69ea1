package anomaly_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilterMatch(t *testing.T) {
	ev := withIP(withSeverity(at(0, "login_failed", "alice"), rdr.SeverityHigh), "10.1.2.3")
	ev.Metadata = rdr.MakeMetadata("app", "vpn", "country", "DE")
	tests := []struct {
		name string
		f    anomaly.Filter
		want bool
	}{
		{"zero filter", anomaly.Filter{}, true},
		{"type", anomaly.Filter{Types: []string{"login_success", "login_failed"}}, true},
		{"other type", anomaly.Filter{Types: []string{"login_success"}}, false},
		{"severity list", anomaly.Filter{Severities: []rdr.Severity{rdr.SeverityCritical}}, false},
		{"min severity", anomaly.Filter{MinSeverity: rdr.SeverityHigh}, true},
		{"min severity above", anomaly.Filter{MinSeverity: rdr.SeverityCritical}, false},
		{"user", anomaly.Filter{Users: []string{"bob", "alice"}}, true},
		{"network", anomaly.Filter{Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, true},
		{"other network", anomaly.Filter{Networks: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}}, false},
		{"metadata value", anomaly.Filter{Metadata: []anomaly.MetadataMatch{{Key: "country", Values: []string{"FR", "DE"}}}}, true},
		{"metadata other value", anomaly.Filter{Metadata: []anomaly.MetadataMatch{{Key: "app", Values: []string{"mail"}}}}, false},
		{"metadata present", anomaly.Filter{Metadata: []anomaly.MetadataMatch{{Key: "app"}}}, true},
		{"metadata absent", anomaly.Filter{Metadata: []anomaly.MetadataMatch{{Key: "device"}}}, false},
		{"not", anomaly.Filter{Types: []string{"login_failed"}, Not: &anomaly.Filter{Users: []string{"alice"}}}, false},
		{"not other", anomaly.Filter{Not: &anomaly.Filter{Users: []string{"bob"}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.f.Match(&ev))
		})
	}
	mapped := withIP(ev, "::ffff:10.1.2.3")
	f := anomaly.Filter{Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	assert.True(t, f.Match(&mapped), "IPv4-mapped IPv6 addresses match IPv4 prefixes")
	noIP := at(0, "login_failed", "alice")
	assert.False(t, f.Match(&noIP), "an event without an IP matches no network")
}

func TestParseField(t *testing.T) {
	for _, s := range []string{"userId", "ipAddress", "eventType", "severity", "metadata.app"} {
		f, err := anomaly.ParseField(s)
		require.NoError(t, err)
		assert.Equal(t, s, f.String())
	}
	_, err := anomaly.ParseField("metadata.")
	assert.EqualError(t, err, `unknown field "metadata." (want userId, ipAddress, eventType, severity, metadata.KEY, or several of them joined by commas)`)
	ev := withIP(withSeverity(at(0, "x", "u"), rdr.SeverityCritical), "2001:db8::1")
	ev.Metadata = rdr.MakeMetadata("app", "vpn")
	for _, tt := range []struct {
		f    anomaly.Field
		want string
	}{{anomaly.FieldUserID, "u"}, {anomaly.FieldIP, "2001:db8::1"}, {anomaly.FieldType, "x"}, {anomaly.FieldSeverity, "critical"},
		{anomaly.MetadataField("app"), "vpn"}} {
		v, ok := tt.f.Value(ev)
		assert.True(t, ok)
		assert.Equal(t, tt.want, v)
		b, ok := tt.f.AppendValue([]byte(">"), ev)
		assert.True(t, ok)
		assert.Equal(t, ">"+tt.want, string(b))
	}
	_, ok := anomaly.FieldIP.Value(at(0, "x", "u"))
	assert.False(t, ok)
	_, ok = anomaly.MetadataField("app").Value(at(0, "x", "u"))
	assert.False(t, ok)
}

func TestTableExpiry(t *testing.T) {
	type s struct{ n int }
	tab := anomaly.NewTable[s](time.Minute)
	tab.Advance(t0)
	tab.Put("a").n = 1
	tab.Put("b").n = 2
	tab.Advance(t0.Add(61 * time.Second)) // next generation: both still kept
	assert.Equal(t, 2, tab.Len())
	require.NotNil(t, tab.Get("a")) // a is used in this generation
	tab.Advance(t0.Add(121 * time.Second))
	assert.Equal(t, 1, tab.Len(), "b, unused for two generations, is gone")
	assert.Nil(t, tab.Get("b"))
	assert.Equal(t, 1, tab.Get("a").n)
	tab.Delete("a")
	assert.Zero(t, tab.Len())
	tab.Advance(t0) // time does not go back
	assert.Panics(t, func() { anomaly.NewTable[s](0) })
}

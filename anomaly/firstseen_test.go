package anomaly_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func firstSeenRule(t *testing.T, cfg anomaly.FirstSeenConfig) anomaly.Rule {
	t.Helper()
	det, err := anomaly.NewFirstSeen(cfg)
	require.NoError(t, err)
	return rule("new-ip", det, nil)
}

func login(d time.Duration, user, ip string) rdr.Event {
	return withIP(at(d, "login_success", user), ip)
}

func TestFirstSeen(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name string
		cfg  anomaly.FirstSeenConfig
		in   []rdr.Event
		want []brief
	}{
		{"a key's first value is learned silently", anomaly.FirstSeenConfig{Field: anomaly.FieldIP},
			[]rdr.Event{login(0, "frank", "192.0.2.1"), login(time.Minute, "frank", "192.0.2.1")}, []brief{}},
		{"a new value alerts; more new values update the alert", anomaly.FirstSeenConfig{Field: anomaly.FieldIP},
			[]rdr.Event{login(0, "frank", "192.0.2.1"), login(30*time.Second, "frank", "192.0.2.2"), login(50*time.Second, "frank", "192.0.2.3"),
				login(60*time.Second, "frank", "192.0.2.2")}, []brief{
				{Rule: "new-ip", Key: "frank", Status: firing, Count: 1, Value: 0, Threshold: 1, FirstSeen: 30 * time.Second, LastSeen: 30 * time.Second},
				{Rule: "new-ip", Key: "frank", Status: resolved, Count: 2, Value: 0, Threshold: 1, FirstSeen: 30 * time.Second, LastSeen: 50 * time.Second, ResolvedAt: 110 * time.Second},
			}},
		{"AlertNewKeys: the very first value alerts", anomaly.FirstSeenConfig{Field: anomaly.FieldIP, AlertNewKeys: true},
			[]rdr.Event{login(0, "frank", "192.0.2.1"), login(time.Minute, "frank", "192.0.2.1")}, []brief{
				{Rule: "new-ip", Key: "frank", Status: firing, Count: 1, Value: 0, Threshold: 1},
				{Rule: "new-ip", Key: "frank", Status: resolved, Count: 1, Value: 0, Threshold: 1, ResolvedAt: time.Minute},
			}},
		{"a value unused for History is new again", anomaly.FirstSeenConfig{Field: anomaly.FieldIP, History: 7 * day},
			[]rdr.Event{login(0, "frank", "192.0.2.1"), login(5*day, "frank", "192.0.2.2"), login(8*day, "frank", "192.0.2.2"), login(8*day, "frank", "192.0.2.1")}, []brief{
				{Rule: "new-ip", Key: "frank", Status: firing, Count: 1, Value: 0, Threshold: 1, FirstSeen: 5 * day, LastSeen: 5 * day},
				{Rule: "new-ip", Key: "frank", Status: resolved, Count: 1, Value: 0, Threshold: 1, FirstSeen: 5 * day, LastSeen: 5 * day, ResolvedAt: 5*day + time.Minute},
				{Rule: "new-ip", Key: "frank", Status: firing, Count: 1, Value: 0, Threshold: 1, FirstSeen: 8 * day, LastSeen: 8 * day},
				{Rule: "new-ip", Key: "frank", Status: resolved, Count: 1, Value: 0, Threshold: 1, FirstSeen: 8 * day, LastSeen: 8 * day, ResolvedAt: 8*day + time.Minute},
			}},
		{"a key with nothing left in History learns again", anomaly.FirstSeenConfig{Field: anomaly.FieldIP, History: 7 * day},
			[]rdr.Event{login(0, "frank", "192.0.2.1"), login(8*day, "frank", "192.0.2.2")}, []brief{}},
		{"Warmup: nothing during the learning period", anomaly.FirstSeenConfig{Field: anomaly.FieldIP, Warmup: time.Hour},
			[]rdr.Event{login(0, "frank", "192.0.2.1"), login(time.Minute, "frank", "192.0.2.2"), login(time.Hour, "frank", "192.0.2.3")}, []brief{
				{Rule: "new-ip", Key: "frank", Status: firing, Count: 1, Value: 0, Threshold: 1, FirstSeen: time.Hour, LastSeen: time.Hour},
				{Rule: "new-ip", Key: "frank", Status: resolved, Count: 1, Value: 0, Threshold: 1, FirstSeen: time.Hour, LastSeen: time.Hour, ResolvedAt: time.Hour + time.Minute},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := run(t, []anomaly.Rule{firstSeenRule(t, tt.cfg)}, tt.in, 10*time.Minute)
			assert.Equal(t, tt.want, briefs(got))
		})
	}
}

func TestFirstSeenMaxValuesForgetsTheOldest(t *testing.T) {
	cfg := anomaly.FirstSeenConfig{Field: anomaly.FieldIP, MaxValues: 3}
	var in []rdr.Event
	for i := range 4 { // .1 learned; .2, .3 alert; .4 alerts and pushes out .1
		in = append(in, login(time.Duration(i)*10*time.Second, "frank", fmt.Sprintf("192.0.2.%d", i+1)))
	}
	in = append(in, login(40*time.Second, "frank", "192.0.2.4"), login(50*time.Second, "frank", "192.0.2.1"))
	got, _ := run(t, []anomaly.Rule{firstSeenRule(t, cfg)}, in, 10*time.Minute)
	assert.Equal(t, []brief{
		{Rule: "new-ip", Key: "frank", Status: firing, Count: 1, Value: 0, Threshold: 1, FirstSeen: 10 * time.Second, LastSeen: 10 * time.Second},
		// .2, .3, .4, and .1 again, forgotten when .4 came.
		{Rule: "new-ip", Key: "frank", Status: resolved, Count: 4, Value: 0, Threshold: 1, FirstSeen: 10 * time.Second, LastSeen: 50 * time.Second, ResolvedAt: 110 * time.Second},
	}, briefs(got))
}

func TestFirstSeenMessageNamesTheValue(t *testing.T) {
	got, _ := run(t, []anomaly.Rule{firstSeenRule(t, anomaly.FirstSeenConfig{Field: anomaly.FieldIP})},
		[]rdr.Event{login(0, "frank", "192.0.2.1"), login(time.Minute, "frank", "2001:db8::7")}, 0)
	require.Len(t, got, 1)
	assert.Equal(t, "new-ip: new ipAddress 2001:db8::7 (not seen in 30d) for userId frank", got[0].Message)
}

func TestNewFirstSeenErrors(t *testing.T) {
	_, err := anomaly.NewFirstSeen(anomaly.FirstSeenConfig{History: -time.Hour})
	assert.EqualError(t, err, "invalid config: History must be positive, got -1h0m0s")
	_, err = anomaly.NewFirstSeen(anomaly.FirstSeenConfig{MaxValues: -1})
	assert.EqualError(t, err, "invalid config: MaxValues must be at least 1, got -1")
}

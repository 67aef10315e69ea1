package traffic_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/examples/internal/traffic"
)

func take(g *traffic.Generator, n int) []rdr.Event {
	out := make([]rdr.Event, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

func TestGeneratorIsReproducibleAndOrdered(t *testing.T) {
	cfg := traffic.Config{Seed: 7, Rate: 100, AttackEvery: 10 * time.Second}
	a := take(traffic.New(cfg), 5000)
	b := take(traffic.New(cfg), 5000)
	assert.Equal(t, a, b)
	for i := 1; i < len(a); i++ {
		require.False(t, a[i].Time.Before(a[i-1].Time), "event %d goes back in time", i)
	}
	c := take(traffic.New(traffic.Config{Seed: 8, Rate: 100}), 5000)
	assert.NotEqual(t, a, c)
}

func TestGeneratorInjectsEveryKindWithTruth(t *testing.T) {
	g := traffic.New(traffic.Config{Seed: 1, Rate: 100, AttackEvery: 10 * time.Second})
	var evs []rdr.Event // 75 s of traffic: attacks at 10 s … 70 s, the sixth lasting 10 s
	for ev := g.Next(); ev.Time.Before(time.Date(2026, 11, 26, 10, 1, 15, 0, time.UTC)); ev = g.Next() {
		evs = append(evs, ev)
	}
	truth := g.Truth()
	require.Len(t, truth, len(traffic.AllKinds)+1) // the cycle starts again at 70 s
	assert.Equal(t, traffic.BruteForce, truth[6].Kind)
	truth = truth[:6]
	for i, a := range truth {
		assert.Equal(t, traffic.AllKinds[i], a.Kind)
		assert.Equal(t, time.Date(2026, 11, 26, 10, 0, 10*(i+1), 0, time.UTC), a.Start)
	}
	count := map[traffic.Kind]int{}
	for _, a := range truth {
		for _, ev := range evs {
			if (ev.UserID == a.Key || ev.IP.String() == a.Key) && !ev.Time.Before(a.Start) && !ev.Time.After(a.End) && ev.IP.As4()[0] == 203 ||
				a.Kind == traffic.PrivilegeChange && ev.Type == "privilege_change" && ev.UserID == a.Key ||
				a.Kind == traffic.VolumeSpike && ev.UserID == a.Key && ev.Type == "file_access" && !ev.Time.Before(a.Start) && !ev.Time.After(a.End) {
				count[a.Kind]++
			}
		}
	}
	// The spike's user also has benign file accesses in that time.
	assert.GreaterOrEqual(t, count[traffic.VolumeSpike], truth[5].Events)
	delete(count, traffic.VolumeSpike)
	assert.Equal(t, map[traffic.Kind]int{
		traffic.BruteForce: 8, traffic.BruteForceSuccess: 9, traffic.CredentialStuffing: 30,
		traffic.NewIP: 1, traffic.PrivilegeChange: 1,
	}, count)
	assert.Equal(t, 400, truth[5].Events)
}

func TestEveryMFAChallengeIsAnswered(t *testing.T) {
	open := map[string]int{}
	for _, ev := range take(traffic.New(traffic.Config{Seed: 4, AttackEvery: -1}), 20_000) {
		switch ev.Type {
		case "mfa_challenge":
			open[ev.UserID]++
		case "mfa_success":
			open[ev.UserID]--
			require.GreaterOrEqual(t, open[ev.UserID], 0, "mfa_success before its challenge")
		}
	}
	pending := 0
	for _, n := range open {
		pending += n
	}
	// 200 events/s, 6% challenges, answered within 5 s: at most ~60 open.
	assert.LessOrEqual(t, pending, 70, "only the last 5 s of challenges may still be open")
}

func TestBenignTrafficHasNoPrivilegeChangesOrCriticalEvents(t *testing.T) {
	for _, ev := range take(traffic.New(traffic.Config{Seed: 3, AttackEvery: -1}), 50_000) {
		require.NotEqual(t, "privilege_change", ev.Type)
		require.Less(t, ev.Severity, rdr.SeverityHigh)
		require.Equal(t, byte(10), ev.IP.As4()[0])
	}
}

func TestInvalidRecords(t *testing.T) {
	dec, err := rdr.NewDecoder(rdr.DecoderConfig{Limits: rdr.Limits{MaxPast: -1, MaxFuture: -1}})
	require.NoError(t, err)
	g := traffic.New(traffic.Config{Seed: 1, InvalidEvery: 5})
	invalid := 0
	for range 100 {
		rec := g.NextRecord()
		_, err := dec.DecodeEvent(rec.JSON)
		if rec.Invalid == "" {
			require.NoError(t, err)
			continue
		}
		invalid++
		require.ErrorIs(t, err, rdr.ErrInvalidEvent, "record %s", rec.JSON)
		var ie *rdr.InvalidEventError
		require.ErrorAs(t, err, &ie)
		if rec.Invalid != "malformed" {
			assert.Equal(t, rec.Invalid, ie.Field)
		}
	}
	assert.Equal(t, 20, invalid)
}

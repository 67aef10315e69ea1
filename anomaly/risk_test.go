package anomaly_test

import (
	"math"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// riskRules: a failed-login burst adds 40 to the user, a high event 70; the
// user's risk alerts at 100 and halves every hour.
func riskRules(t *testing.T, points float64) []anomaly.Rule {
	t.Helper()
	burst := countRule(t, anomaly.Lifecycle{})
	burst.Risk = 40
	floor, err := anomaly.NewSeverityFloor(anomaly.SeverityConfig{Min: rdr.SeverityHigh})
	require.NoError(t, err)
	fl := rule("floor", floor, nil)
	fl.Risk = 70
	risk, err := anomaly.NewRisk(anomaly.RiskConfig{Threshold: 100, HalfLife: time.Hour, Points: points})
	require.NoError(t, err)
	rr := rule("risk", risk, nil)
	rr.Filter = anomaly.Filter{Types: []string{"privilege_change"}}
	return []anomaly.Rule{burst, fl, rr}
}

func TestRiskAddsUpAlerts(t *testing.T) {
	in := append(repeat(at(0, "login_failed", "kim"), 5, time.Second), // burst fires at 4s: +40
		withSeverity(at(10*time.Second, "file_access", "kim"), rdr.SeverityHigh)) // floor fires at 10s: +70
	got, _ := run(t, riskRules(t, 0), in, 0)
	require.Len(t, got, 3)
	assert.Equal(t, []string{"burst", "floor", "risk"}, []string{got[0].Rule, got[1].Rule, got[2].Rule})
	want := 40*math.Exp2(-6.0/3600) + 70
	r := got[2]
	assert.InDelta(t, want, r.Value, 1e-9)
	assert.InDelta(t, want, r.RiskScore, 1e-9, "a risk alert's score is the entity's risk")
	assert.Equal(t, float64(100), r.Threshold)
	assert.Equal(t, "kim", r.Key)
	assert.Equal(t, 10*time.Second, r.FirstSeen.Sub(t0))
	assert.Equal(t, float64(40), got[0].RiskScore, "other alerts carry their rule's risk")
}

func TestRiskFades(t *testing.T) {
	// +40, then +70 two hours later: 40/4 + 70 = 80, under 100.
	in := append(repeat(at(0, "login_failed", "kim"), 5, time.Second),
		withSeverity(at(2*time.Hour+4*time.Second, "file_access", "kim"), rdr.SeverityHigh))
	got, _ := run(t, riskRules(t, 0), in, 0)
	for _, a := range got {
		assert.NotEqual(t, "risk", a.Rule)
	}
}

func TestRiskPointsPerEvent(t *testing.T) {
	// Each privilege_change adds 30, 1s apart: the fourth reaches 100 (a
	// little less than 120, faded over 3s).
	sum := func(n int) float64 { // the risk right after the n-th event
		s := 0.0
		for i := range n {
			s += 30 * math.Exp2(-float64(n-1-i)/3600)
		}
		return s
	}
	for _, tt := range []struct {
		name  string
		n     int
		count int64
	}{{"N-1 events: under the threshold", 3, 0}, {"N events fire", 4, 1}, {"N+10 events: one alert, count updated", 14, 11}} {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := run(t, riskRules(t, 30), repeat(at(0, "privilege_change", "kim"), tt.n, time.Second), 4*time.Hour) // 420 fades under 100 in about 2h
			if tt.count == 0 {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 2)
			assert.Equal(t, "risk", got[0].Rule)
			assert.Equal(t, firing, got[0].Status)
			assert.Equal(t, 3*time.Second, got[0].FirstSeen.Sub(t0))
			assert.InDelta(t, sum(4), got[0].Value, 1e-9)
			assert.Equal(t, resolved, got[1].Status)
			assert.Equal(t, tt.count, got[1].Count)
			assert.InDelta(t, sum(tt.n), got[1].Value, 1e-9)
		})
	}
	assert.Less(t, sum(3), 100.0)
}

func TestRiskResolvesWhenFaded(t *testing.T) {
	// 120 fades below 100 after 1h·log2(1.2) ≈ 15m47.7s; resolve 1m later.
	got, _ := run(t, riskRules(t, 120), []rdr.Event{at(0, "privilege_change", "kim")}, 2*time.Hour)
	require.Len(t, got, 2)
	assert.Equal(t, resolved, got[1].Status)
	wantAt := time.Duration(float64(time.Hour)*math.Log2(1.2)) + time.Minute
	assert.Equal(t, wantAt, got[1].ResolvedAt.Sub(t0))
}

func TestNewRiskErrors(t *testing.T) {
	_, err := anomaly.NewRisk(anomaly.RiskConfig{})
	assert.EqualError(t, err, "invalid config: Threshold must be positive, got 0")
	_, err = anomaly.NewRisk(anomaly.RiskConfig{Threshold: 1, Points: -1})
	assert.EqualError(t, err, "invalid config: Points must not be negative, got -1")
}

package anomaly_test

import (
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func spikeRule(t *testing.T) anomaly.Rule {
	t.Helper()
	det, err := anomaly.NewSpike(anomaly.SpikeConfig{Interval: time.Minute, Warmup: 10, Deviations: 3, MinCount: 10, History: time.Hour})
	require.NoError(t, err)
	return rule("spike", det, nil)
}

// baseline is n minutes of 4 file_access a minute for hank: mean 4, no
// variance, so σ floors at √4 = 2 and the threshold is 4 + 3·2 = 10.
func baseline(minutes int) []rdr.Event {
	return repeat(at(0, "file_access", "hank"), 4*minutes, 15*time.Second)
}

func TestSpikeBoundaries(t *testing.T) {
	burst := func(n int) []rdr.Event { return repeat(at(10*time.Minute, "file_access", "hank"), n, time.Second) }
	tests := []struct {
		name string
		n    int
		want []brief
	}{
		{"N-1 events in a minute raise nothing", 9, []brief{}},
		{"N events fire", 10, []brief{
			{Rule: "spike", Key: "hank", Status: firing, Count: 1, Value: 10, Threshold: 10, FirstSeen: 10*time.Minute + 9*time.Second, LastSeen: 10*time.Minute + 9*time.Second},
			// The spike's minute ends at 11m; resolve 1m later.
			{Rule: "spike", Key: "hank", Status: resolved, Count: 1, Value: 10, Threshold: 10, FirstSeen: 10*time.Minute + 9*time.Second, LastSeen: 10*time.Minute + 9*time.Second, ResolvedAt: 12 * time.Minute},
		}},
		{"N+10 events: one alert, count updated", 20, []brief{
			{Rule: "spike", Key: "hank", Status: firing, Count: 1, Value: 10, Threshold: 10, FirstSeen: 10*time.Minute + 9*time.Second, LastSeen: 10*time.Minute + 9*time.Second},
			{Rule: "spike", Key: "hank", Status: resolved, Count: 11, Value: 20, Threshold: 10, FirstSeen: 10*time.Minute + 9*time.Second, LastSeen: 10*time.Minute + 19*time.Second, ResolvedAt: 12 * time.Minute},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := run(t, []anomaly.Rule{spikeRule(t)}, append(baseline(10), burst(tt.n)...), 10*time.Minute)
			assert.Equal(t, tt.want, briefs(got))
		})
	}
}

func TestSpikeWarmup(t *testing.T) {
	// Nine minutes of history: one short of the warm-up.
	in := append(baseline(9), repeat(at(9*time.Minute, "file_access", "hank"), 50, time.Second)...)
	got, _ := run(t, []anomaly.Rule{spikeRule(t)}, in, 10*time.Minute)
	assert.Empty(t, got)
}

func TestSpikeMinCount(t *testing.T) {
	// One event every 2 minutes: the statistical threshold is under 4, but
	// nine events are under MinCount.
	quiet := repeat(at(0, "file_access", "hank"), 6, 2*time.Minute)
	got, _ := run(t, []anomaly.Rule{spikeRule(t)}, append(quiet, repeat(at(12*time.Minute, "file_access", "hank"), 9, time.Second)...), 10*time.Minute)
	assert.Empty(t, got)
	got, _ = run(t, []anomaly.Rule{spikeRule(t)}, append(quiet, repeat(at(12*time.Minute, "file_access", "hank"), 10, time.Second)...), 10*time.Minute)
	require.Len(t, got, 2)
	assert.Equal(t, float64(10), got[0].Value)
	assert.Less(t, got[0].Threshold, float64(4))
}

func TestSpikeSteadyHighRateIsNotASpike(t *testing.T) {
	// 60 a minute for an hour: far above MinCount, but it is the baseline.
	got, _ := run(t, []anomaly.Rule{spikeRule(t)}, repeat(at(0, "file_access", "hank"), 3600, time.Second), 10*time.Minute)
	assert.Empty(t, got)
}

func TestSpikeIgnoresEventsForClosedIntervals(t *testing.T) {
	in := append(baseline(10), at(10*time.Minute, "file_access", "hank"))
	in = append(in, repeat(at(9*time.Minute, "file_access", "hank"), 30, time.Second)...) // late: minute 9 is in the baseline
	got, eng := run(t, []anomaly.Rule{spikeRule(t)}, in, 10*time.Minute)
	assert.Empty(t, got)
	assert.Equal(t, uint64(len(in)), eng.Stats().Rules[0].Matched)
}

func TestNewSpikeErrors(t *testing.T) {
	_, err := anomaly.NewSpike(anomaly.SpikeConfig{Alpha: 1.5})
	assert.EqualError(t, err, "invalid config: Alpha must be in (0, 1], got 1.5")
	_, err = anomaly.NewSpike(anomaly.SpikeConfig{Interval: time.Minute, History: time.Second})
	assert.EqualError(t, err, "invalid config: History must be between Interval and 100000×Interval, got 1s")
	s, err := anomaly.NewSpike(anomaly.SpikeConfig{})
	require.NoError(t, err, "the zero SpikeConfig takes the defaults")
	assert.Zero(t, s.Len())
}

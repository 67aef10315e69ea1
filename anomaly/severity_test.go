package anomaly_test

import (
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSeverityFloor(t *testing.T) {
	det, err := anomaly.NewSeverityFloor(anomaly.SeverityConfig{Min: rdr.SeverityHigh})
	require.NoError(t, err)
	in := []rdr.Event{
		withSeverity(at(0, "file_access", "jane"), rdr.SeverityMedium), // under the floor
		withSeverity(at(10*time.Second, "file_access", "jane"), rdr.SeverityHigh),
		withSeverity(at(20*time.Second, "privilege_change", "jane"), rdr.SeverityCritical),
		withSeverity(at(25*time.Second, "file_access", "joe"), rdr.SeverityHigh),
	}
	got, eng := run(t, []anomaly.Rule{rule("floor", det, nil)}, in, 10*time.Minute)
	assert.Equal(t, []brief{
		{Rule: "floor", Key: "jane", Status: firing, Count: 1, Value: 3, Threshold: 3, FirstSeen: 10 * time.Second, LastSeen: 10 * time.Second},
		{Rule: "floor", Key: "joe", Status: firing, Count: 1, Value: 3, Threshold: 3, FirstSeen: 25 * time.Second, LastSeen: 25 * time.Second},
		{Rule: "floor", Key: "jane", Status: resolved, Count: 2, Value: 4, Threshold: 3, FirstSeen: 10 * time.Second, LastSeen: 20 * time.Second, ResolvedAt: 80 * time.Second},
		{Rule: "floor", Key: "joe", Status: resolved, Count: 1, Value: 3, Threshold: 3, FirstSeen: 25 * time.Second, LastSeen: 25 * time.Second, ResolvedAt: 85 * time.Second},
	}, briefs(got))
	assert.Equal(t, "floor: high event file_access (floor high) for userId jane", got[0].Message)
	assert.Len(t, got[2].Events, 2)
	assert.Zero(t, eng.Stats().TrackedKeys)
}

func TestNewSeverityFloorErrors(t *testing.T) {
	_, err := anomaly.NewSeverityFloor(anomaly.SeverityConfig{})
	assert.EqualError(t, err, "invalid config: Min must be a severity (low, medium, high or critical), got 0")
}

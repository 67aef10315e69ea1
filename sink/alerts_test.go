package sink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sink"
	"github.com/rdr-go/rdr/sink/sinktest"
)

// recentAlertsInput is three alerts, one written twice (fired and
// silenced with ATT&CK tags, then resolved and no longer silenced), one
// with hostile text in every string (tags and silence included), one too
// old.
func recentAlertsInput(since time.Time) []anomaly.Alert {
	fired := anomaly.Alert{
		ID: "a1", Rule: "failed-login-burst", GroupBy: "userId", Key: "u-1842", Severity: rdr.SeverityMedium,
		RiskScore: 15, Status: anomaly.StatusFiring, FirstSeen: since.Add(time.Minute), LastSeen: since.Add(time.Minute),
		Count: 1, Value: 5, Threshold: 5, Message: "5 failed logins",
		Events: []rdr.Event{{Time: since.Add(time.Minute), Type: "login_failed", UserID: "u-1842", Severity: rdr.SeverityLow}},
		Tags:   []string{"attack.credential-access", "attack.t1110"}, SilencedBy: "3f2a5b7c9d0e1f20",
	}
	resolved := fired
	resolved.Status, resolved.Count, resolved.LastSeen = anomaly.StatusResolved, 3, since.Add(90*time.Second)
	resolved.SilencedBy = "" // the silence ended: the later write clears the mark
	resolved.ResolvedAt, resolved.Value = since.Add(3*time.Minute), 7
	hostile := anomaly.Alert{
		ID: "id with, = spaces", Rule: `rule,with=tag "chars"`, GroupBy: "ipAddress", Key: "203.0.113.7 \"x\" \\ \n|> drop()",
		Severity: rdr.SeverityCritical, RiskScore: 40.5, Status: anomaly.StatusFiring,
		FirstSeen: since.Add(2 * time.Minute), LastSeen: since.Add(2*time.Minute + 123456789), Count: 2,
		Value: 21, Threshold: 20, Message: `") |> drop(columns: ["_value"]) // ` + "\u00e9\n",
		Tags:       []string{"[not json", "with,comma", "", "nul\x00", `quote"back\slash`},
		SilencedBy: "~b64:looks encoded \x00\n\"",
	}
	old := fired
	old.ID, old.FirstSeen, old.LastSeen = "old", since.Add(-time.Second), since.Add(-time.Second)
	return []anomaly.Alert{fired, hostile, old, resolved}
}

// writeAlertsInput writes recentAlertsInput to st, acknowledging the first
// alert between its firing and its resolution, and returns the input.
func writeAlertsInput(t *testing.T, st interface {
	sink.Sink
	sink.AlertStore
}, since time.Time) []anomaly.Alert {
	t.Helper()
	ctx := context.Background()
	input := recentAlertsInput(since)
	for i, a := range input {
		require.NoError(t, st.WriteAlert(ctx, a))
		if i == 0 {
			require.NoError(t, st.AckAlert(ctx, a, since.Add(100*time.Second+123)))
		}
	}
	return input
}

// The InfluxDB sink lists stored alerts as the memory store does (less the
// contributing events, which InfluxDB does not keep), hostile text,
// acknowledgements and all.
func TestRecentAlertsInfluxMatchesMemory(t *testing.T) {
	forEachInflux(t, func(t *testing.T, e influxEnv) {
		influx := newInfluxClosed(t, influxConfig(e, newBucket(t, e)))
		mem, err := sink.NewMemory(sink.MemoryConfig{})
		require.NoError(t, err)
		ctx := context.Background()
		since := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
		writeAlertsInput(t, influx, since)
		writeAlertsInput(t, mem, since)
		require.NoError(t, influx.Flush(ctx))

		want, err := mem.RecentAlerts(ctx, since, 0)
		require.NoError(t, err)
		require.Len(t, want, 2)
		assert.Equal(t, []string{"id with, = spaces", "a1"}, []string{want[0].ID, want[1].ID})
		assert.Equal(t, anomaly.StatusResolved, want[1].Status, "the latest state")
		assert.Equal(t, since.Add(100*time.Second+123), want[1].AckedAt, "the ack outlives the later write")
		assert.Equal(t, []string{"attack.credential-access", "attack.t1110"}, want[1].Tags)
		assert.Empty(t, want[1].SilencedBy, "not silenced at its latest write")
		assert.Equal(t, "~b64:looks encoded \x00\n\"", want[0].SilencedBy)
		for i := range want {
			want[i].Events = nil
		}
		got, err := influx.RecentAlerts(ctx, since, 0)
		require.NoError(t, err)
		assert.Equal(t, want, got)

		got, err = influx.RecentAlerts(ctx, since, 1)
		require.NoError(t, err)
		assert.Equal(t, want[:1], got)
	})
}

func TestRecentAlertsMemory(t *testing.T) {
	mem, err := sink.NewMemory(sink.MemoryConfig{})
	require.NoError(t, err)
	ctx := context.Background()
	since := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	input := writeAlertsInput(t, mem, since)
	got, err := mem.RecentAlerts(ctx, since, 0)
	require.NoError(t, err)
	assert.Equal(t, []sink.StoredAlert{{Alert: input[1]}, {Alert: input[3], AckedAt: since.Add(100*time.Second + 123)}}, got,
		"newest first, the latest state, none before since")
	got, err = mem.RecentAlerts(ctx, since, 1)
	require.NoError(t, err)
	assert.Equal(t, []sink.StoredAlert{{Alert: input[1]}}, got)
	got, err = mem.RecentAlerts(ctx, since.Add(-time.Hour), 0)
	require.NoError(t, err)
	assert.Len(t, got, 3)
	assert.EqualError(t, mem.AckAlert(ctx, anomaly.Alert{ID: "nope"}, since), `sink: memory: no stored alert "nope" to acknowledge`)
}

// rdr_alerts tags each point with the alert's id (README, Storage: "Series
// per alert"), and InfluxDB 1.8 takes at most 100,000 values of a tag key
// in a database by default (max-values-per-tag): the alerts past it are
// refused. The server checks the limit as a write request starts (one that
// starts below it is taken whole), so the first 100,000 are flushed before
// the rest. The sink counts every refused point, with the server's reason;
// none is lost without a count.
func TestInfluxAlertsPastTheTagValueLimitAreCounted(t *testing.T) {
	forEachInflux(t, func(t *testing.T, env influxEnv) {
		if env.Name != "influxdb-1.8" {
			t.Skip("the limit is InfluxDB 1.8's default")
		}
		ctx := context.Background()
		cfg := influxConfig(env, newBucket(t, env))
		cfg.FlushInterval = time.Hour // the last 10 go out in the last Flush, not before it
		s := newInfluxClosed(t, cfg)
		write := func(from, to int) {
			for i := from; i < to; i++ {
				require.NoError(t, s.WriteAlert(ctx, sinktest.Alert("r", fmt.Sprintf("k%d", i), i)))
			}
		}
		write(0, 100_000)
		require.NoError(t, s.Flush(ctx))
		write(100_000, 100_010)
		err := s.Flush(ctx)
		require.ErrorIs(t, err, sink.ErrRejected)
		assert.ErrorContains(t, err, "10 points: 400 Bad Request: partial write: max-values-per-tag limit exceeded (100000/100000)")
		st := s.Stats()
		assert.Equal(t, uint64(100_000), st.Written)
		assert.Equal(t, uint64(10), st.Rejected)
		assert.Contains(t, st.LastError, "max-values-per-tag limit exceeded (100000/100000)")
	})
}

package sink_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sink"
)

// silenceStore is a sink that keeps silences.
type silenceStore interface {
	sink.Sink
	sink.SilenceStore
}

// silencesInput is what writeSilences writes: a silence made and then
// expired (two writes), one with hostile text in every string, and one
// expired before it started (StartsAt = EndsAt, as Silences.Expire leaves
// a pending one).
func silencesInput(t0 time.Time) (writes, want []anomaly.Silence) {
	made := anomaly.Silence{
		ID: "3f2a5b7c9d0e1f20",
		Matchers: []anomaly.SilenceMatcher{
			{Name: "rule", Op: "=", Value: "new-login-ip"},
			{Name: "tag", Op: "=~", Value: `attack\.t1110.*`},
		},
		StartsAt: t0, EndsAt: t0.Add(2 * time.Hour), CreatedBy: "alice", Comment: "VPN migration",
		CreatedAt: t0.Add(-time.Second),
	}
	expired := made
	expired.Matchers = append([]anomaly.SilenceMatcher(nil), made.Matchers...)
	expired.EndsAt = t0.Add(10*time.Minute + 123)
	hostile := anomaly.Silence{
		ID: "id with, = spaces \"and\" \\ ~b64:",
		Matchers: []anomaly.SilenceMatcher{
			{Name: "key", Op: "!~", Value: "a\"b\\c\n' OR ''='$f0\x00"},
			{Name: "key", Op: "=", Value: "é"},
		},
		StartsAt: t0.Add(time.Minute), EndsAt: t0.Add(time.Hour),
		CreatedBy: "~b64:bob \x00\x7f", Comment: "line one\nline two\t\"quoted\" \\ |> drop() ' OR ''='",
		CreatedAt: t0,
	}
	never := made
	never.ID, never.StartsAt, never.EndsAt, never.CreatedAt = "never-active", t0.Add(time.Minute), t0.Add(time.Minute), t0.Add(time.Minute)
	return []anomaly.Silence{made, hostile, expired, never}, []anomaly.Silence{expired, hostile, never}
}

func writeSilences(t *testing.T, st silenceStore, writes []anomaly.Silence) {
	t.Helper()
	for _, s := range writes {
		require.NoError(t, st.WriteSilence(context.Background(), s))
	}
}

// Silences written to InfluxDB read back as the memory store gives them:
// the latest write of each ID, hostile text and all, on every server; a
// new sink on the same bucket (a restarted dashboard) reads them too.
func TestSilencesInfluxMatchesMemory(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	writes, want := silencesInput(t0)
	mem, err := sink.NewMemory(sink.MemoryConfig{})
	require.NoError(t, err)
	writeSilences(t, mem, writes)
	got, err := mem.Silences(context.Background())
	require.NoError(t, err)
	require.Equal(t, want, got, "memory: the latest write of each, by CreatedAt")

	forEachInflux(t, func(t *testing.T, e influxEnv) {
		cfg := influxConfig(e, newBucket(t, e))
		influx := newInfluxClosed(t, cfg)
		empty, err := influx.Silences(context.Background())
		require.NoError(t, err)
		assert.Empty(t, empty, "none stored yet")
		writeSilences(t, influx, writes)
		got, err := influx.Silences(context.Background())
		require.NoError(t, err)
		assert.Equal(t, want, got)
		require.NoError(t, influx.Close())

		again := newInfluxClosed(t, cfg)
		got, err = again.Silences(context.Background())
		require.NoError(t, err)
		assert.Equal(t, want, got, "after a restart")

		// A later write, by another sink, wins; the alerts table beside it
		// is unaffected (3.x: each table keeps its own tag set).
		extended := want[0]
		extended.EndsAt, extended.Comment = t0.Add(5*time.Hour), "extended"
		require.NoError(t, again.WriteSilence(context.Background(), extended))
		require.NoError(t, again.WriteAlert(context.Background(), anomaly.Alert{ID: "a1", Rule: "new-login-ip", Severity: rdr.SeverityLow,
			Status: anomaly.StatusFiring, FirstSeen: t0, SilencedBy: extended.ID, Tags: []string{"attack.t1078"}}))
		require.NoError(t, again.Flush(context.Background()))
		got, err = again.Silences(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []anomaly.Silence{extended, want[1], want[2]}, got)
		alerts, err := again.RecentAlerts(context.Background(), t0, 0)
		require.NoError(t, err)
		require.Len(t, alerts, 1)
		assert.Equal(t, extended.ID, alerts[0].SilencedBy)
		assert.Equal(t, []string{"attack.t1078"}, alerts[0].Tags)
	})
}

// A silence without an ID is refused, and a closed store refuses writes.
func TestWriteSilenceRefuses(t *testing.T) {
	mem, err := sink.NewMemory(sink.MemoryConfig{})
	require.NoError(t, err)
	// Nothing listens here: a refused silence must not be sent.
	influx := newInflux(t, sink.InfluxConfig{URL: "http://127.0.0.1:1", Bucket: "rdr"})
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	_, want := silencesInput(t0)
	for name, st := range map[string]silenceStore{"memory": mem, "influx": influx} {
		t.Run(name, func(t *testing.T) {
			noID := want[0]
			noID.ID = ""
			err := st.WriteSilence(context.Background(), noID)
			assert.ErrorIs(t, err, anomaly.ErrInvalidSilence)
			assert.EqualError(t, err, "anomaly: invalid silence: ID is empty: stores keep silences by ID")
			require.NoError(t, st.Close())
			assert.ErrorIs(t, st.WriteSilence(context.Background(), want[0]), sink.ErrClosed)
		})
	}
	_, err = influx.Silences(context.Background())
	assert.ErrorIs(t, err, sink.ErrClosed)
	got, err := mem.Silences(context.Background())
	require.NoError(t, err)
	assert.Empty(t, got, "nothing was written")
}

// A silence that InfluxDB cannot take is an error at once, not a point
// left in the buffer.
func TestInfluxWriteSilenceIsSynchronous(t *testing.T) {
	influx := newInfluxClosed(t, sink.InfluxConfig{URL: "http://127.0.0.1:1", Bucket: "rdr", RequestTimeout: 2 * time.Second})
	_, want := silencesInput(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	err := influx.WriteSilence(context.Background(), want[0])
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sink: influx silence 3f2a5b7c9d0e1f20: ")
	assert.Zero(t, influx.Stats().Pending, "nothing buffered")
}

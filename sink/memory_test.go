package sink_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/sink"
	"github.com/rdr-go/rdr/sink/sinktest"
)

func newMemory(t *testing.T, cfg sink.MemoryConfig) *sink.Memory {
	t.Helper()
	m, err := sink.NewMemory(cfg)
	require.NoError(t, err)
	return m
}

func TestMemoryConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Features{}, func(t *testing.T) sinktest.Instance {
		return sinktest.Instance{Sink: newMemory(t, sink.MemoryConfig{})}
	})
}

func TestNewMemoryInvalidConfig(t *testing.T) {
	_, err := sink.NewMemory(sink.MemoryConfig{MaxWindows: -1, MaxAlerts: -2})
	assert.ErrorIs(t, err, sink.ErrInvalidConfig)
	assert.EqualError(t, err, "sink: invalid config: MaxWindows must not be negative, got -1\nMaxAlerts must not be negative, got -2")
	m := newMemory(t, sink.MemoryConfig{})
	assert.Equal(t, sink.MemoryConfig{MaxWindows: 3600, MaxAlerts: 10000}, m.Config())
}

// The ring keeps the latest MaxWindows windows; a rewrite of a kept window
// replaces it in place and does not evict anything.
func TestMemoryEvictsOldestWindows(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t, sink.MemoryConfig{MaxWindows: 3})
	for i := range 5 {
		require.NoError(t, m.WriteWindow(ctx, sinktest.Window(i, map[string]uint64{"login": uint64(i + 1)})))
	}
	up := sinktest.Window(3, map[string]uint64{"login": 40})
	up.Update = true
	require.NoError(t, m.WriteWindow(ctx, up))
	h, err := m.History(ctx, sink.Query{Metric: sink.MetricEvents, Start: sinktest.Base, Stop: sinktest.Base.Add(5 * time.Second), Interval: time.Second})
	require.NoError(t, err)
	require.Len(t, h.Series, 1)
	var got []float64
	for _, p := range h.Series[0].Points {
		got = append(got, p.V)
	}
	assert.Equal(t, []float64{0, 0, 3, 40, 5}, got)
}

func TestMemoryAlertsBoundedLatestState(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t, sink.MemoryConfig{MaxAlerts: 2})
	a := sinktest.Alert("r", "alice", 0)
	require.NoError(t, m.WriteAlert(ctx, a))
	require.NoError(t, m.WriteAlert(ctx, sinktest.Alert("r", "bob", 1)))
	a.Count = 9
	require.NoError(t, m.WriteAlert(ctx, a)) // update in place
	require.NoError(t, m.WriteAlert(ctx, sinktest.Alert("r", "carol", 2)))
	got := m.Alerts(0)
	require.Len(t, got, 2)
	assert.Equal(t, "r/carol/2", got[0].ID)
	assert.Equal(t, "r/bob/1", got[1].ID, "alice was first written longest ago and is evicted")
	assert.Len(t, m.Alerts(1), 1)
}

// Readers (the dashboard's handlers) run alongside the pipeline's writes.
func TestMemoryConcurrentReadWrite(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t, sink.MemoryConfig{MaxWindows: 100})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				assert.NoError(t, m.WriteWindow(ctx, sinktest.Window(g*1000+i, map[string]uint64{fmt.Sprint(g): 1})))
				assert.NoError(t, m.WriteAlert(ctx, sinktest.Alert("r", fmt.Sprint(g), i)))
			}
		})
		wg.Go(func() {
			for range 50 {
				_, err := m.History(ctx, sink.Query{Metric: sink.MetricEvents, GroupBy: sink.ByEventType,
					Start: sinktest.Base, Stop: sinktest.Base.Add(time.Hour), Interval: time.Minute})
				assert.NoError(t, err)
				m.Alerts(10)
			}
		})
	}
	wg.Wait()
	h, err := m.History(ctx, sink.Query{Metric: sink.MetricEvents, Start: sinktest.Base, Stop: sinktest.Base.Add(2 * time.Hour), Interval: 2 * time.Hour})
	require.NoError(t, err)
	assert.Equal(t, 100.0, h.Series[0].Points[0].V, "exactly the last MaxWindows windows are kept")
}

// Alert finds one stored alert by ID, its latest state and its
// acknowledgement.
func TestMemoryAlertByID(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t, sink.MemoryConfig{MaxAlerts: 2})
	a := sinktest.Alert("spike", "bob", 0)
	require.NoError(t, m.WriteAlert(ctx, a))
	_, ok := m.Alert("nope")
	assert.False(t, ok)
	got, ok := m.Alert(a.ID)
	require.True(t, ok)
	assert.Equal(t, sink.StoredAlert{Alert: a}, got)
	a.Count = 3
	require.NoError(t, m.WriteAlert(ctx, a))
	at := sinktest.Base.Add(time.Minute)
	require.NoError(t, m.AckAlert(ctx, a, at))
	got, _ = m.Alert(a.ID)
	assert.Equal(t, sink.StoredAlert{Alert: a, AckedAt: at}, got)
	assert.Equal(t, at, m.AckedAt(a.ID))
	assert.True(t, m.AckedAt("nope").IsZero())
	for i := 1; i <= 2; i++ { // evicts a
		require.NoError(t, m.WriteAlert(ctx, sinktest.Alert("spike", "bob", i)))
	}
	_, ok = m.Alert(a.ID)
	assert.False(t, ok, "evicted")
}

package sink_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/sink"
	"github.com/rdr-go/rdr/sink/sinktest"
)

func TestInfluxConformance(t *testing.T) {
	forEachInflux(t, func(t *testing.T, env influxEnv) {
		sinktest.Run(t, sinktest.Features{}, func(t *testing.T) sinktest.Instance {
			bucket := newBucket(t, env)
			s := newInflux(t, influxConfig(env, bucket))
			// A second sink on the same bucket reads after s is closed.
			reader := newInfluxClosed(t, influxConfig(env, bucket))
			return sinktest.Instance{Sink: s, Reader: reader}
		})
	})
}

// Processors that scale out write partial results of the same windows with
// their own writer tags: history adds them up, and a rewrite by one writer
// replaces only its own part.
func TestInfluxWritersAddUp(t *testing.T) {
	forEachInflux(t, func(t *testing.T, env influxEnv) {
		bucket := newBucket(t, env)
		ctx := context.Background()
		cfgA, cfgB := influxConfig(env, bucket), influxConfig(env, bucket)
		cfgA.Writer, cfgB.Writer = "proc-a", "proc-b"
		a, b := newInfluxClosed(t, cfgA), newInfluxClosed(t, cfgB)
		for i := range 3 {
			require.NoError(t, a.WriteWindow(ctx, sinktest.Window(i, map[string]uint64{"login": 2, "login_failed": 1})))
			require.NoError(t, b.WriteWindow(ctx, sinktest.Window(i, map[string]uint64{"login": 5})))
		}
		up := sinktest.Window(1, map[string]uint64{"login": 3, "login_failed": 1})
		up.Update = true
		require.NoError(t, a.WriteWindow(ctx, up))
		require.NoError(t, a.Flush(ctx))
		require.NoError(t, b.Flush(ctx))

		q := sink.Query{Metric: sink.MetricEvents, GroupBy: sink.ByEventType, Start: sinktest.Base, Stop: sinktest.Base.Add(3 * time.Second), Interval: time.Second}
		h, err := a.History(ctx, q)
		require.NoError(t, err)
		require.Len(t, h.Series, 2)
		assert.Equal(t, "login", h.Series[0].Key)
		assert.Equal(t, []float64{7, 8, 7}, values(h.Series[0]))
		assert.Equal(t, []float64{1, 1, 1}, values(h.Series[1]))

		q.Metric, q.GroupBy = sink.MetricActiveUsers, ""
		h, err = b.History(ctx, q)
		require.NoError(t, err)
		require.Len(t, h.Series, 1)
		assert.Equal(t, []float64{3, 3, 3}, values(h.Series[0]), "active users add up over writers (each user lives on one processor)")
	})
}

func values(s sink.Series) []float64 {
	out := make([]float64, len(s.Points))
	for i, p := range s.Points {
		out[i] = p.V
	}
	return out
}

// InfluxDB 3 fixes a table's tags at its first write: windows with and
// without a partition go to one table with one tag set, and add up.
func TestInfluxOneTagSetPerTable(t *testing.T) {
	forEachInflux(t, func(t *testing.T, env influxEnv) {
		ctx := context.Background()
		s := newInfluxClosed(t, influxConfig(env, newBucket(t, env)))
		plain := sinktest.Window(0, map[string]uint64{"login": 2})
		part := sinktest.Window(0, map[string]uint64{"login": 5})
		part.Partition = "3"
		require.NoError(t, s.WriteWindow(ctx, plain))
		require.NoError(t, s.Flush(ctx))
		require.NoError(t, s.WriteWindow(ctx, part))
		require.NoError(t, s.Flush(ctx))
		assert.Zero(t, s.Stats().Rejected)
		h, err := s.History(ctx, sink.Query{Metric: sink.MetricEvents, GroupBy: sink.ByEventType,
			Start: sinktest.Base, Stop: sinktest.Base.Add(time.Second), Interval: time.Second})
		require.NoError(t, err)
		require.Len(t, h.Series, 1)
		assert.Equal(t, []float64{7}, values(h.Series[0]))
	})
}

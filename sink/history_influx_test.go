package sink_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sink"
	"github.com/rdr-go/rdr/sink/sinktest"
)

// The same data written to the memory store and to InfluxDB gives the same
// history, for every metric, grouping, filter and interval.
func TestHistoryInfluxEqualsMemory(t *testing.T) {
	forEachInflux(t, func(t *testing.T, env influxEnv) {
		ctx := context.Background()
		mem := newMemory(t, sink.MemoryConfig{MaxWindows: 5000})
		influx := newInfluxClosed(t, influxConfig(env, newBucket(t, env)))

		rng := rand.New(rand.NewPCG(1, 2))
		types := []string{"login", "login_failed", "logout", "password_reset", `") |> drop(columns: ["_value"]) //`, `a\b`}
		rules := []string{"brute-force", "credential-stuffing", "impossible-travel", `x" or "1"=="1`}
		const windows = 1800 // 30 minutes of 1-second windows
		for i := range windows {
			if rng.IntN(10) == 0 {
				continue // a quiet second: no window
			}
			byType := map[string]uint64{}
			for _, typ := range types {
				if rng.IntN(3) > 0 {
					byType[typ] = uint64(rng.IntN(20))
				}
			}
			w := sinktest.Window(i, byType)
			w.Metrics.ActiveUsers = uint64(rng.IntN(50))
			w.Metrics.BySeverity[rdr.SeverityMedium] = uint64(rng.IntN(5))
			w.Metrics.BySeverity[rdr.SeverityCritical] = uint64(rng.IntN(2))
			for _, s := range []sink.Sink{mem, influx} {
				require.NoError(t, s.WriteWindow(ctx, w))
			}
		}
		for i := range 150 {
			a := sinktest.Alert(rules[rng.IntN(len(rules))], fmt.Sprintf("u-%d", i), 0)
			a.ID = fmt.Sprintf("alert-%d", i)
			a.FirstSeen = sinktest.Base.Add(time.Duration(rng.Int64N(int64(windows * time.Second))))
			a.Severity = rdr.Severity(1 + rng.IntN(4))
			for _, s := range []sink.Sink{mem, influx} {
				require.NoError(t, s.WriteAlert(ctx, a))
			}
			if i%3 == 0 { // updated, then resolved: still one alert
				a.Count, a.Status, a.ResolvedAt = 4, anomaly.StatusResolved, a.FirstSeen.Add(time.Minute)
				for _, s := range []sink.Sink{mem, influx} {
					require.NoError(t, s.WriteAlert(ctx, a))
				}
			}
		}
		require.NoError(t, influx.Flush(ctx))

		base := sinktest.Base
		q := func(metric, groupBy string, start, stop, every time.Duration, filter ...string) sink.Query {
			qq := sink.Query{Metric: metric, GroupBy: groupBy, Start: base.Add(start), Stop: base.Add(stop), Interval: every}
			if len(filter) == 2 {
				qq.Filter = map[string]string{filter[0]: filter[1]}
			}
			return qq
		}
		const m = time.Minute
		for _, query := range []sink.Query{
			q(sink.MetricEvents, "", 0, 30*m, m),
			q(sink.MetricEvents, sink.ByEventType, 0, 30*m, m),
			q(sink.MetricEvents, sink.ByEventType, 0, 30*m, 5*m, sink.ByEventType, types[4]),
			q(sink.MetricEvents, "", 0, 30*m, 10*m, sink.ByEventType, `a\b`),
			q(sink.MetricEvents, sink.BySeverity, 0, 30*m, 5*m),
			q(sink.MetricEvents, sink.ByEventType, 7*time.Second, 29*m+3*time.Second, 13*time.Second), // nothing aligned
			q(sink.MetricEvents, "", -10*m, 40*m, m),                                                  // beyond the data
			q(sink.MetricEvents, sink.ByEventType, 100*time.Second, 400*time.Second, time.Second),
			q(sink.MetricActiveUsers, "", 0, 30*m, m),
			q(sink.MetricActiveUsers, "", 3*time.Second, 30*m, 7*time.Second),
			q(sink.MetricActiveUsers, "", 0, 10*m, time.Second),
			q(sink.MetricAlerts, "", 0, 30*m, m),
			q(sink.MetricAlerts, sink.ByRule, 0, 30*m, m),
			q(sink.MetricAlerts, sink.BySeverity, 11*time.Second, 30*m, 17*time.Second),
			q(sink.MetricAlerts, sink.ByRule, 0, 30*m, 10*m, sink.ByRule, rules[3]),
			q(sink.MetricAlerts, sink.BySeverity, 0, 30*m, 30*m, sink.BySeverity, "critical"),
			q(sink.MetricAlerts, sink.ByRule, 0, 30*m, 30*m, sink.ByRule, "no-such-rule"),
		} {
			want, err := mem.History(ctx, query)
			require.NoError(t, err)
			for _, bind := range bindModes(env) {
				sink.SetBind(influx, bind)
				got, err := influx.History(ctx, query)
				require.NoError(t, err)
				assert.Equal(t, want, got, "bind %v: %s by %q, %s from %s to %s, filter %q", bind, query.Metric, query.GroupBy, query.Interval,
					query.Start.Sub(base), query.Stop.Sub(base), query.Filter)
			}
			if query.Filter["rule"] != "no-such-rule" && query.Start.Before(base.Add(30*m)) {
				assert.NotEmpty(t, want.Series, "query with data: %+v", query)
			}
		}
	})
}

// With RollUp, two processors' sinks (partitions 0–1 and 2) write two hours
// of windows; history over whole minutes is read from the 1-minute
// roll-ups, and equals the memory store's on the same windows, for every
// metric, grouping and filter. Minutes written after the last roll-up are
// read from the windows.
func TestHistoryRollUpEqualsMemory(t *testing.T) {
	forEachInflux(t, func(t *testing.T, env influxEnv) {
		ctx := context.Background()
		mem := newMemory(t, sink.MemoryConfig{MaxWindows: 30000})
		bucket := newBucket(t, env)
		cfgA, cfgB := influxConfig(env, bucket), influxConfig(env, bucket)
		cfgA.RollUp, cfgB.RollUp = true, true
		a, b := newInfluxClosed(t, cfgA), newInfluxClosed(t, cfgB)
		rng := rand.New(rand.NewPCG(3, 4))
		types := []string{"login", "login_failed", "file_access", `x' OR 'a'='a`, `a\b`}
		const windows = 7200 // two hours of 1-second windows
		for i := range windows {
			for p := range 3 {
				if rng.IntN(8) == 0 {
					continue
				}
				byType := map[string]uint64{}
				for _, typ := range types {
					if rng.IntN(3) > 0 {
						byType[typ] = uint64(1 + rng.IntN(20))
					}
				}
				w := sinktest.Window(i, byType)
				w.Partition = fmt.Sprint(p)
				w.Metrics.ActiveUsers = uint64(rng.IntN(40))
				w.Metrics.BySeverity[rdr.SeverityHigh] = uint64(rng.IntN(4))
				require.NoError(t, mem.WriteWindow(ctx, w))
				s := a
				if p == 2 {
					s = b
				}
				require.NoError(t, s.WriteWindow(ctx, w))
			}
		}
		require.NoError(t, a.RollUpNow(ctx))
		require.NoError(t, b.RollUpNow(ctx))
		require.NoError(t, a.RollUpNow(ctx)) // a's last pass saw b's last windows

		base := sinktest.Base
		const m = time.Minute
		q := func(metric, groupBy string, start, stop, every time.Duration, filter ...string) sink.Query {
			qq := sink.Query{Metric: metric, GroupBy: groupBy, Start: base.Add(start), Stop: base.Add(stop), Interval: every}
			if len(filter) == 2 {
				qq.Filter = map[string]string{filter[0]: filter[1]}
			}
			return qq
		}
		queries := []sink.Query{
			q(sink.MetricEvents, "", 0, 120*m, m),
			q(sink.MetricEvents, sink.ByEventType, 0, 120*m, 5*m),
			q(sink.MetricEvents, "", -60*m, 180*m, 15*m, sink.ByEventType, types[3]),
			q(sink.MetricEvents, sink.ByEventType, 0, 120*m, 10*m, sink.ByEventType, `a\b`),
			q(sink.MetricEvents, sink.BySeverity, 0, 120*m, 30*m),
			q(sink.MetricActiveUsers, "", 0, 120*m, m),
			q(sink.MetricActiveUsers, "", 0, 120*m, 20*m),
			q(sink.MetricEvents, sink.ByEventType, 7*time.Second, 119*m, 13*time.Second), // not whole minutes: the windows
		}
		for _, query := range queries {
			want, err := mem.History(ctx, query)
			require.NoError(t, err)
			require.NotEmpty(t, want.Series)
			for _, s := range []*sink.Influx{a, b} {
				got, err := s.History(ctx, query)
				require.NoError(t, err)
				assert.Equal(t, want, got, "%s by %q, %s from %s to %s, filter %q", query.Metric, query.GroupBy, query.Interval,
					query.Start.Sub(base), query.Stop.Sub(base), query.Filter)
			}
		}
		// The roll-ups are there: 120 minutes, one point each.
		noRollUp := newInfluxClosed(t, influxConfig(env, bucket))
		raw, err := noRollUp.History(ctx, queries[0])
		require.NoError(t, err)
		assert.Equal(t, raw, mustHistory(t, a, queries[0]))
		assert.Equal(t, 120, countPoints(t, env, bucket, "rdr_window_1m"))

		// A window written after the roll-ups is in the answer at once.
		late := sinktest.Window(30, map[string]uint64{"login": 1000})
		late.Partition = "9"
		require.NoError(t, mem.WriteWindow(ctx, late))
		require.NoError(t, a.WriteWindow(ctx, late))
		require.NoError(t, a.Flush(ctx))
		want, err := mem.History(ctx, queries[1])
		require.NoError(t, err)
		assert.Equal(t, want, mustHistory(t, a, queries[1]))
	})
}

func mustHistory(t *testing.T, s *sink.Influx, q sink.Query) sink.History {
	t.Helper()
	h, err := s.History(context.Background(), q)
	require.NoError(t, err)
	return h
}

// A RollUp sink that starts where nothing was rolled up yet catches up
// from the oldest window, not a week back: on 3 minutes of windows it
// sends 6 queries (the newest roll-up, the newest and the oldest window,
// then one run of 3 statements), where a week of empty minutes took 506.
func TestRollUpCatchUpOnANewBucketStartsAtTheOldestWindow(t *testing.T) {
	forEachInflux(t, func(t *testing.T, env influxEnv) {
		ctx := context.Background()
		bucket := newBucket(t, env)
		plain := newInflux(t, influxConfig(env, bucket))
		for i := range 180 { // minutes 0–2
			require.NoError(t, plain.WriteWindow(ctx, sinktest.Window(i, map[string]uint64{"login": 1})))
		}
		require.NoError(t, plain.Close())
		rolling := influxConfig(env, bucket)
		rolling.RollUp = true
		s := newInfluxClosed(t, rolling)
		require.Eventually(t, func() bool { return countPoints(t, env, bucket, "rdr_window_1m") == 3 }, 20*time.Second, 50*time.Millisecond,
			"the new sink rolls minutes 0–2 up")
		time.Sleep(1500 * time.Millisecond) // a pass more: nothing left to roll
		assert.Equal(t, uint64(6), sink.Queries(s))
	})
}

// A processor that stops before rolling its last minutes up leaves windows
// without roll-ups: a reader uses the roll-ups only up to the newest one,
// and the next RollUp sink to start rolls the rest up.
func TestHistoryRollUpCatchesUpAfterAStop(t *testing.T) {
	forEachInflux(t, func(t *testing.T, env influxEnv) {
		ctx := context.Background()
		mem := newMemory(t, sink.MemoryConfig{MaxWindows: 5000})
		bucket := newBucket(t, env)
		rolling := influxConfig(env, bucket)
		rolling.RollUp = true
		write := func(s *sink.Influx, from, to int) {
			for i := from; i < to; i++ {
				w := sinktest.Window(i, map[string]uint64{"login": uint64(i%7 + 1), "login_failed": uint64(i % 3)})
				require.NoError(t, mem.WriteWindow(ctx, w))
				require.NoError(t, s.WriteWindow(ctx, w))
			}
			require.NoError(t, s.Flush(ctx))
		}
		first := newInflux(t, rolling)
		write(first, 0, 600) // minutes 0–9, rolled up
		require.NoError(t, first.Close())
		stopped := newInfluxClosed(t, influxConfig(env, bucket))
		write(stopped, 600, 1200) // minutes 10–19, never rolled up
		require.Equal(t, 10, countPoints(t, env, bucket, "rdr_window_1m"))

		q := sink.Query{Metric: sink.MetricEvents, GroupBy: sink.ByEventType, Start: sinktest.Base, Stop: sinktest.Base.Add(20 * time.Minute), Interval: time.Minute}
		want, err := mem.History(ctx, q)
		require.NoError(t, err)
		next := newInfluxClosed(t, rolling)
		assert.Equal(t, want, mustHistory(t, next, q), "before the catch-up")
		require.Eventually(t, func() bool { return countPoints(t, env, bucket, "rdr_window_1m") == 20 }, 20*time.Second, 50*time.Millisecond,
			"the new sink rolls minutes 10–19 up")
		assert.Equal(t, want, mustHistory(t, next, q), "after the catch-up")
	})
}

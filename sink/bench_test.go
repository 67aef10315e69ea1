package sink_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/rdr-go/rdr/sink"
	"github.com/rdr-go/rdr/sink/sinktest"
)

// benchWindows are 1-second windows with eight event types each: nine
// points per window for the InfluxDB sink.
func benchWindows(n int) []sink.WindowResult {
	ws := make([]sink.WindowResult, n)
	for i := range ws {
		byType := make(map[string]uint64, 8)
		for j := range 8 {
			byType[fmt.Sprintf("event_type_%d", j)] = uint64(i%100 + j)
		}
		ws[i] = sinktest.Window(i, byType)
	}
	return ws
}

// BenchmarkInfluxSink measures window results written through the sink to
// the real server, including the final flush: points/s and allocations per
// point (encoding, batching, gzip and HTTP included).
func BenchmarkInfluxSink(b *testing.B) {
	env := requireInflux(b)
	s := newInfluxClosed(b, influxConfig(env, newBucket(b, env)))
	ws := benchWindows(4096)
	ctx := context.Background()
	points := 0
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	start := time.Now()
	i := 0
	for b.Loop() {
		w := &ws[i%len(ws)]
		w.End = sinktest.Base.Add(time.Duration(i+1) * time.Second) // a new window every time
		if err := s.WriteWindow(ctx, *w); err != nil {
			b.Fatal(err)
		}
		points += 1 + len(w.Metrics.ByType)
		i++
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(points)/elapsed.Seconds(), "points/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(points), "allocs/point")
}

func BenchmarkMemoryWriteWindow(b *testing.B) {
	m, err := sink.NewMemory(sink.MemoryConfig{})
	if err != nil {
		b.Fatal(err)
	}
	ws := benchWindows(4096)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w := &ws[i%len(ws)]
		w.End = sinktest.Base.Add(time.Duration(i+1) * time.Second)
		if err := m.WriteWindow(ctx, *w); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkMemoryHistory(b *testing.B) {
	m, err := sink.NewMemory(sink.MemoryConfig{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, w := range benchWindows(3600) {
		if err := m.WriteWindow(ctx, w); err != nil {
			b.Fatal(err)
		}
	}
	q := sink.Query{Metric: sink.MetricEvents, GroupBy: sink.ByEventType, Start: sinktest.Base, Stop: sinktest.Base.Add(time.Hour), Interval: time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.History(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

// historyBench is the data BenchmarkHistory reads, written once per server
// and process: 30 days of 10-second windows from 2 partitions, 8 event
// types with a daily rhythm, with the 1-minute roll-ups (2 × 259,200
// windows, 4.67M window points, 43,200 roll-up minutes). The default
// 1-second windows would be ten times the points for the raw reads; the
// roll-ups are the same either way. The bucket is left for the process's
// other runs (scripts/services.sh stop drops the data).
var historyBench = map[string]string{}

const historyBenchDays = 30

func historyBenchBucket(b *testing.B, env influxEnv) string {
	if bucket, ok := historyBench[env.URL]; ok {
		return bucket
	}
	name := fmt.Sprintf("rdr_history_bench_%d", time.Now().UnixNano()%1e9)
	bucket := name
	if env.v1() {
		influxQL(b, env, fmt.Sprintf("CREATE DATABASE %q", name))
		bucket = name + "/autogen"
	} else {
		bucket = newBucketNoCleanup(b, env, name)
	}
	cfg := influxConfig(env, bucket)
	cfg.RollUp = true
	s := newInflux(b, cfg)
	ctx := context.Background()
	start := time.Now()
	const step = 10 * time.Second
	n := int(historyBenchDays * 24 * time.Hour / step)
	types := make([]string, 8)
	for j := range types {
		types[j] = fmt.Sprintf("event_type_%d", j)
	}
	for i := range n {
		hour := (i * int(step/time.Second) / 3600) % 24
		busy := uint64(1 + 10*(1+hour%12)) // a daily rhythm
		for p := range 2 {
			byType := make(map[string]uint64, len(types))
			for j, typ := range types {
				byType[typ] = busy*uint64(j+1) + uint64((i+p)%7)
			}
			w := sinktest.Window(0, byType)
			w.Start = sinktest.Base.Add(time.Duration(i) * step)
			w.End = w.Start.Add(step)
			w.Partition = fmt.Sprint(p)
			w.Metrics.ActiveUsers = busy + uint64(i%13)
			if err := s.WriteWindow(ctx, w); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.RollUpNow(ctx); err != nil { // every minute rolled up
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: wrote %d windows (%d points) and %d roll-up minutes in %s", env.Name, 2*n, 2*n*9, n*int(step)/int(time.Minute),
		time.Since(start).Round(time.Second))
	historyBench[env.URL] = bucket
	return bucket
}

// BenchmarkHistory reads a day and 30 days of history from the real
// servers, from the windows (RollUp off) and from the 1-minute roll-ups:
// events per type (9 series) and active users, ns per query and the points
// the answer holds.
func BenchmarkHistory(b *testing.B) {
	for _, srv := range []struct {
		name string
		env  func(testing.TB) influxEnv
	}{{"influxdb-1.8", requireInflux}, {"influxdb-2", requireInflux2}} {
		b.Run(srv.name, func(b *testing.B) {
			env := srv.env(b)
			bucket := historyBenchBucket(b, env)
			end := sinktest.Base.Add(historyBenchDays * 24 * time.Hour)
			for _, tc := range []struct {
				name     string
				span     time.Duration
				interval time.Duration
			}{{"24h-by-1m", 24 * time.Hour, time.Minute}, {"30d-by-1h", historyBenchDays * 24 * time.Hour, time.Hour}} {
				for _, metric := range []string{sink.MetricEvents, sink.MetricActiveUsers} {
					for _, rolled := range []bool{false, true} {
						source := "windows"
						if rolled {
							source = "rollups"
						}
						b.Run(fmt.Sprintf("%s/%s/%s", tc.name, metric, source), func(b *testing.B) {
							cfg := influxConfig(env, bucket)
							cfg.RollUp = rolled
							s := newInfluxClosed(b, cfg)
							q := sink.Query{Metric: metric, Start: end.Add(-tc.span), Stop: end, Interval: tc.interval}
							if metric == sink.MetricEvents {
								q.GroupBy = sink.ByEventType
							}
							ctx := context.Background()
							points := 0
							b.ReportAllocs()
							for b.Loop() {
								h, err := s.History(ctx, q)
								if err != nil {
									b.Fatal(err)
								}
								points = 0
								for _, sr := range h.Series {
									points += len(sr.Points)
								}
							}
							b.ReportMetric(float64(points), "points/op")
						})
					}
				}
			}
		})
	}
}

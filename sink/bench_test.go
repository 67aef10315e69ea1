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

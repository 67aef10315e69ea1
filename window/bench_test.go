package window_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/rdr-go/rdr/window"
)

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "user-" + strconv.Itoa(i)
	}
	return keys
}

func benchWindows(b *testing.B, a window.Assigner) *window.Windows[string, int, int] {
	b.Helper()
	w, err := window.New[string](window.Config[int, int]{
		Assigner: a,
		Add:      func(n *int, v int) { *n += v },
		Merge:    func(dst *int, src int) { *dst += src },
	})
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// BenchmarkTumblingAdd adds items to 1000 open windows (the hot path).
func BenchmarkTumblingAdd(b *testing.B) {
	keys := benchKeys(1000)
	w := benchWindows(b, window.Tumbling(time.Minute))
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, k := range keys {
		w.Add(k, t0, 1)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := w.Add(keys[i%len(keys)], t0.Add(time.Duration(i%60_000)*time.Millisecond), 1); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkHoppingAdd adds items to open 1-minute windows sliding by 10s:
// six windows per item.
func BenchmarkHoppingAdd(b *testing.B) {
	keys := benchKeys(1000)
	w := benchWindows(b, window.Hopping(time.Minute, 10*time.Second))
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, k := range keys {
		w.Add(k, t0, 1)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := w.Add(keys[i%len(keys)], t0.Add(time.Duration(i%10_000)*time.Millisecond), 1); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSessionAdd extends 1000 open sessions, one item at a time.
func BenchmarkSessionAdd(b *testing.B) {
	keys := benchKeys(1000)
	w := benchWindows(b, window.Session(time.Minute))
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := w.Add(keys[i%len(keys)], t0.Add(time.Duration(i/100)*time.Millisecond), 1); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAdvance opens one tumbling window for each of 1000 keys, then
// fires and frees them all with one Advance. One op is 1000 windows.
func BenchmarkAdvance(b *testing.B) {
	keys := benchKeys(1000)
	w := benchWindows(b, window.Tumbling(time.Second))
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var sum int
	emit := func(r window.Result[string, int]) { sum += r.State }
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		start := t0.Add(time.Duration(i) * time.Second)
		for _, k := range keys {
			w.Add(k, start, 1)
		}
		w.Advance(start.Add(time.Second-time.Millisecond), emit)
		i++
	}
	if sum != i*len(keys) {
		b.Fatalf("emitted %d, want %d", sum, i*len(keys))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*len(keys)), "ns/window")
}

func BenchmarkWatermarksObserve(b *testing.B) {
	w, err := window.NewWatermarks(window.WatermarkConfig{OutOfOrderness: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w.Observe(i%12, t0.Add(time.Duration(i)*time.Millisecond))
		i++
	}
}

func BenchmarkWatermarksCurrent(b *testing.B) {
	clock := &fakeClock{}
	w, err := window.NewWatermarks(window.WatermarkConfig{IdleTimeout: time.Minute, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for p := range 12 {
		w.Observe(p, t0)
	}
	b.ReportAllocs()
	for b.Loop() {
		w.Current()
	}
}

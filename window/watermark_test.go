package window_test

import (
	"sync"
	"testing"
	"time"

	"github.com/rdr-go/rdr/window"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newWatermarks(t *testing.T, cfg window.WatermarkConfig) *window.Watermarks {
	t.Helper()
	w, err := window.NewWatermarks(cfg)
	require.NoError(t, err)
	return w
}

// current returns the overall watermark in epoch ms, or "none".
func current(w *window.Watermarks) any {
	wm := w.Current()
	if wm.IsZero() {
		return "none"
	}
	return wm.UnixMilli()
}

func TestWatermarksBoundedOutOfOrderness(t *testing.T) {
	w := newWatermarks(t, window.WatermarkConfig{OutOfOrderness: 5 * time.Millisecond})
	assert.Equal(t, "none", current(w))
	for _, s := range []struct {
		event, want int64
	}{
		{100, 94}, // 100 − 5 − 1
		{90, 94},  // an older event does not move it back
		{110, 104},
		{104, 104},
	} {
		w.Observe(0, at(s.event))
		assert.Equal(t, s.want, current(w), "after event at %d", s.event)
	}
	assert.Equal(t, time.UTC, w.Current().Location())
}

func TestWatermarksMinimumOverSources(t *testing.T) {
	w := newWatermarks(t, window.WatermarkConfig{})
	w.Observe(0, at(100))
	assert.Equal(t, int64(99), current(w))
	w.Observe(1, at(50))
	assert.Equal(t, int64(99), current(w), "a slower new source does not pull it back")
	w.Observe(0, at(300))
	assert.Equal(t, int64(99), current(w), "held back by source 1 at 49")
	w.Observe(1, at(200))
	assert.Equal(t, int64(199), current(w))
	w.Observe(1, at(400))
	assert.Equal(t, int64(299), current(w))
}

func TestWatermarksIdleSource(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	w := newWatermarks(t, window.WatermarkConfig{IdleTimeout: 10 * time.Second, Clock: clock})
	w.Observe(0, at(100))
	w.Observe(1, at(50))
	assert.Equal(t, int64(49), current(w))

	clock.Advance(9 * time.Second)
	w.Observe(0, at(300))
	assert.Equal(t, int64(49), current(w), "source 1 has been silent 9s: still holds it back")

	clock.Advance(time.Second)
	assert.Equal(t, int64(299), current(w), "source 1 silent for the idle timeout: no longer holds it back")

	w.Observe(1, at(60)) // back, but behind: the watermark does not go back
	assert.Equal(t, int64(299), current(w))
	w.Observe(0, at(500))
	assert.Equal(t, int64(299), current(w), "source 1 (at 59) is active again and holds it")
	w.Observe(1, at(450))
	assert.Equal(t, int64(449), current(w))
}

func TestWatermarksAllIdleUsesMaximum(t *testing.T) {
	clock := &fakeClock{}
	w := newWatermarks(t, window.WatermarkConfig{IdleTimeout: time.Minute, Clock: clock})
	w.Observe(0, at(100))
	w.Observe(1, at(50))
	w.Observe(2, at(70))
	assert.Equal(t, int64(49), current(w))
	clock.Advance(time.Minute)
	assert.Equal(t, int64(99), current(w))
}

func TestWatermarksRegisterAndRemove(t *testing.T) {
	clock := &fakeClock{}
	w := newWatermarks(t, window.WatermarkConfig{IdleTimeout: time.Minute, Clock: clock})
	w.Register(1) // assigned, nothing delivered yet
	w.Observe(0, at(100))
	assert.Equal(t, "none", current(w), "a registered source without events holds it back")
	w.Register(0) // already known: no change
	assert.Equal(t, "none", current(w))
	clock.Advance(time.Minute)
	w.Observe(0, at(100))
	assert.Equal(t, int64(99), current(w), "until it goes idle")

	w.Observe(1, at(10))
	w.Observe(0, at(200))
	assert.Equal(t, int64(99), current(w))
	w.Remove(1)
	w.Remove(7) // unknown: no-op
	assert.Equal(t, int64(199), current(w))
	w.Remove(0)
	assert.Equal(t, int64(199), current(w), "no sources left: it stays")
	w.Observe(3, at(150))
	assert.Equal(t, int64(199), current(w))
}

func TestWatermarksSet(t *testing.T) {
	w := newWatermarks(t, window.WatermarkConfig{OutOfOrderness: 10 * time.Millisecond})
	w.Set(0, at(500))
	assert.Equal(t, int64(500), current(w))
	w.Observe(0, at(100))
	assert.Equal(t, int64(500), current(w))
	w.Set(0, at(400))
	assert.Equal(t, int64(500), current(w), "a source's watermark never goes back")
	w.Observe(0, at(600))
	assert.Equal(t, int64(589), current(w))
}

func TestWatermarksMonotonic(t *testing.T) {
	clock := &fakeClock{}
	w := newWatermarks(t, window.WatermarkConfig{IdleTimeout: time.Second, Clock: clock})
	ops := []func(){
		func() { w.Observe(0, at(1000)) },
		func() { clock.Advance(2 * time.Second); w.Observe(1, at(10)) }, // 0 idle, 1 active and behind
		func() { w.Observe(0, at(5)) },                                  // 0 active again
		func() { w.Set(2, at(-50)) },
		func() { w.Remove(0) },
		func() { clock.Advance(time.Hour) },
	}
	prev := w.Current()
	for i, op := range ops {
		op()
		now := w.Current()
		assert.False(t, now.Before(prev), "op %d: %v after %v", i, now, prev)
		prev = now
	}
	assert.Equal(t, int64(999), prev.UnixMilli())
}

func TestWatermarksConcurrentUse(t *testing.T) {
	w := newWatermarks(t, window.WatermarkConfig{})
	for p := range 4 {
		w.Register(p)
	}
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				w.Observe(p, at(int64(p*10_000+i)))
				w.Current()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(998), current(w)) // source 0's last event is 999
}

func TestWatermarkConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  window.WatermarkConfig
		want string
	}{
		{"negative bound", window.WatermarkConfig{OutOfOrderness: -time.Second},
			"window: invalid config: OutOfOrderness must not be negative, got -1s"},
		{"sub-millisecond bound", window.WatermarkConfig{OutOfOrderness: time.Microsecond},
			"window: invalid config: OutOfOrderness 1µs is not a whole number of milliseconds"},
		{"negative idle timeout", window.WatermarkConfig{IdleTimeout: -time.Second},
			"window: invalid config: IdleTimeout must not be negative, got -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := window.NewWatermarks(tc.cfg)
			assert.Nil(t, w)
			assert.ErrorIs(t, err, window.ErrInvalidConfig)
			assert.EqualError(t, err, tc.want)
		})
	}
}

func TestWatermarksDefaultClock(t *testing.T) {
	w := newWatermarks(t, window.WatermarkConfig{IdleTimeout: time.Hour})
	w.Observe(0, at(100))
	w.Observe(1, at(50))
	assert.Equal(t, int64(49), current(w), "the wall clock has not moved an hour")
}

func TestWatermarksOutOfRangeTimes(t *testing.T) {
	w := newWatermarks(t, window.WatermarkConfig{})
	w.Observe(0, time.Date(-300_000_000, 1, 1, 0, 0, 0, 0, time.UTC))
	assert.Less(t, current(w).(int64), int64(-4e18))
	w.Set(0, time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC))
	assert.Equal(t, int64(1<<62), current(w))
}

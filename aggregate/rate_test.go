package aggregate_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/aggregate"
)

func TestRate(t *testing.T) {
	r, err := aggregate.NewRate(t0, t0.Add(10*time.Second))
	require.NoError(t, err)
	for range 25 {
		r.Inc()
	}
	r.Add(5)
	assert.Equal(t, uint64(30), r.Count())
	assert.Equal(t, 3.0, r.PerSecond())
	start, end := r.Span()
	assert.Equal(t, t0, start)
	assert.Equal(t, t0.Add(10*time.Second), end)

	r.Reset()
	assert.Equal(t, uint64(0), r.Count())
	assert.Equal(t, 0.0, r.PerSecond(), "no span: rate 0")
}

func TestRateMerge(t *testing.T) {
	mk := func(from, to time.Duration, n uint64) *aggregate.Rate {
		r, err := aggregate.NewRate(t0.Add(from), t0.Add(to))
		require.NoError(t, err)
		r.Add(n)
		return r
	}
	t.Run("same window from two processors", func(t *testing.T) {
		a := mk(0, time.Minute, 600)
		a.Merge(mk(0, time.Minute, 300))
		assert.Equal(t, uint64(900), a.Count())
		assert.Equal(t, 15.0, a.PerSecond())
	})
	t.Run("consecutive windows", func(t *testing.T) {
		a := mk(time.Second, 2*time.Second, 10)
		a.Merge(mk(0, time.Second, 30))
		assert.Equal(t, 20.0, a.PerSecond())
		start, end := a.Span()
		assert.Equal(t, t0, start)
		assert.Equal(t, t0.Add(2*time.Second), end)
	})
	t.Run("a gap counts as time without events", func(t *testing.T) {
		a := mk(0, time.Second, 10)
		a.Merge(mk(3*time.Second, 4*time.Second, 10))
		assert.Equal(t, 5.0, a.PerSecond())
	})
	t.Run("into a rate without span", func(t *testing.T) {
		var a aggregate.Rate
		a.Add(1)
		a.Merge(mk(0, 2*time.Second, 9))
		a.Merge(nil)
		assert.Equal(t, 5.0, a.PerSecond())
	})
}

func TestNewRateInvalidSpan(t *testing.T) {
	_, err := aggregate.NewRate(t0, t0)
	require.Error(t, err)
	assert.True(t, errors.Is(err, aggregate.ErrInvalidConfig))
	assert.Equal(t, "aggregate: invalid config: rate span end 2026-11-26T10:00:00Z is not after start 2026-11-26T10:00:00Z", err.Error())

	var r aggregate.Rate
	require.NoError(t, r.SetSpan(t0, t0.Add(time.Second)))
	require.Error(t, r.SetSpan(t0, t0.Add(-time.Second)))
	start, _ := r.Span()
	assert.Equal(t, t0, start, "a failed SetSpan changes nothing")
}

func ExampleNewRate() {
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	r, err := aggregate.NewRate(start, start.Add(time.Minute))
	if err != nil {
		fmt.Println(err)
		return
	}
	r.Add(1500)
	fmt.Printf("%.0f events/s\n", r.PerSecond())
	// Output: 25 events/s
}

func BenchmarkRateInc(b *testing.B) {
	r, err := aggregate.NewRate(t0, t0.Add(time.Second))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		r.Inc()
	}
}

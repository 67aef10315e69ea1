package aggregate_test

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/aggregate"
)

func keys(prefix string, from, to int) []string {
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, prefix+strconv.Itoa(i))
	}
	return out
}

func newDistinct(t testing.TB, threshold int, ks ...[]string) *aggregate.Distinct {
	t.Helper()
	d, err := aggregate.NewDistinct(aggregate.DistinctConfig{Threshold: threshold})
	require.NoError(t, err)
	for _, k := range ks {
		for _, s := range k {
			d.Add(s)
		}
	}
	return d
}

func TestDistinctExactUpToThreshold(t *testing.T) {
	d := newDistinct(t, 1000)
	assert.Equal(t, uint64(0), d.Count())
	for range 3 { // repeats do not count
		for _, k := range keys("u-", 0, 1000) {
			d.Add(k)
		}
	}
	assert.True(t, d.Exact())
	assert.Equal(t, uint64(1000), d.Count())

	d.Add("u-1000") // 1001 > threshold: the sketch takes over
	assert.False(t, d.Exact())
	assert.InDelta(t, 1001, float64(d.Count()), 1001*3*aggregate.DistinctStdError)
}

func TestDistinctZeroValueUsesDefaultThreshold(t *testing.T) {
	var d aggregate.Distinct
	for _, k := range keys("u-", 0, aggregate.DefaultDistinctThreshold) {
		d.Add(k)
	}
	assert.True(t, d.Exact())
	assert.Equal(t, uint64(aggregate.DefaultDistinctThreshold), d.Count())
	d.Add("one more")
	assert.False(t, d.Exact())
}

// TestDistinctMillionKeys checks the documented error bound: one million
// distinct keys are estimated within three standard errors (2.4%).
func TestDistinctMillionKeys(t *testing.T) {
	const n = 1_000_000
	d := newDistinct(t, 0)
	buf := make([]byte, 0, 16)
	for i := range n {
		buf = strconv.AppendInt(append(buf[:0], "user-"...), int64(i), 10)
		d.Add(string(buf))
	}
	got := float64(d.Count())
	relErr := (got - n) / n
	t.Logf("estimate %.0f for %d keys: relative error %+.3f%% (standard error %.2f%%)", got, n, 100*relErr, 100*aggregate.DistinctStdError)
	assert.LessOrEqual(t, math.Abs(relErr), 3*aggregate.DistinctStdError)
}

// TestDistinctErrorAcrossKeySets checks the hash and sketch on 20 disjoint
// key sets of 100 000 keys: every estimate within three standard errors,
// and the root-mean-square error near one standard error.
func TestDistinctErrorAcrossKeySets(t *testing.T) {
	const n, sets = 100_000, 20
	var sumSq float64
	for s := range sets {
		d := newDistinct(t, 0)
		buf := make([]byte, 0, 32)
		for i := range n {
			buf = strconv.AppendInt(append(buf[:0], "set"...), int64(s), 10)
			buf = strconv.AppendInt(append(buf, '/'), int64(i*7919), 16)
			d.Add(string(buf))
		}
		relErr := (float64(d.Count()) - n) / n
		sumSq += relErr * relErr
		assert.LessOrEqual(t, math.Abs(relErr), 3*aggregate.DistinctStdError, "key set %d", s)
	}
	rms := math.Sqrt(sumSq / sets)
	t.Logf("RMS relative error over %d key sets: %.3f%% (standard error %.2f%%)", sets, 100*rms, 100*aggregate.DistinctStdError)
	assert.LessOrEqual(t, rms, 1.5*aggregate.DistinctStdError)
}

// TestDistinctMergeEqualsUnion checks merge(A, B) against one Distinct fed
// A ∪ B: equal counts, exact or not, in every combination of phases.
func TestDistinctMergeEqualsUnion(t *testing.T) {
	const threshold = 1000
	cases := []struct {
		name      string
		a, b      []string
		wantExact bool
	}{
		{"both exact, union exact", keys("u-", 0, 600), keys("u-", 300, 900), true},
		{"both exact, union past threshold", keys("u-", 0, 700), keys("u-", 500, 1200), false},
		{"sketch and exact", keys("u-", 0, 5000), keys("u-", 4000, 4500), false},
		{"exact and sketch", keys("u-", 0, 10), keys("u-", 0, 20_000), false},
		{"both sketches", keys("u-", 0, 30_000), keys("u-", 20_000, 60_000), false},
		{"empty and exact", nil, keys("u-", 0, 10), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newDistinct(t, threshold, tc.a)
			b := newDistinct(t, threshold, tc.b)
			union := newDistinct(t, threshold, tc.a, tc.b)
			a.Merge(b)
			assert.Equal(t, tc.wantExact, a.Exact())
			assert.Equal(t, union.Exact(), a.Exact())
			assert.Equal(t, union.Count(), a.Count())
			if tc.wantExact {
				assert.Equal(t, uint64(len(dedup(tc.a, tc.b))), a.Count())
			}
		})
	}
}

func dedup(lists ...[]string) map[string]bool {
	m := map[string]bool{}
	for _, l := range lists {
		for _, k := range l {
			m[k] = true
		}
	}
	return m
}

func TestDistinctMergeNilAndSelf(t *testing.T) {
	d := newDistinct(t, 10, keys("u-", 0, 5))
	d.Merge(nil)
	d.Merge(d)
	assert.Equal(t, uint64(5), d.Count(), "a union with itself is itself")
}

func TestDistinctReset(t *testing.T) {
	d := newDistinct(t, 10, keys("u-", 0, 100))
	require.False(t, d.Exact())
	d.Reset()
	assert.True(t, d.Exact())
	assert.Equal(t, uint64(0), d.Count())
	for _, k := range keys("v-", 0, 7) {
		d.Add(k)
	}
	assert.Equal(t, uint64(7), d.Count())
	allocs := testing.AllocsPerRun(10, d.Reset)
	assert.Zero(t, allocs, "Reset allocates nothing")
}

func TestDistinctAddDoesNotAllocate(t *testing.T) {
	ks := keys("u-", 0, 10_000)
	d := newDistinct(t, 100, ks[:200])
	require.False(t, d.Exact())
	i := 0
	allocs := testing.AllocsPerRun(5000, func() {
		d.Add(ks[i%len(ks)])
		i++
	})
	assert.Zero(t, allocs)
}

func TestNewDistinctInvalidConfig(t *testing.T) {
	for _, th := range []int{-1, aggregate.MaxDistinctThreshold + 1} {
		_, err := aggregate.NewDistinct(aggregate.DistinctConfig{Threshold: th})
		require.Error(t, err)
		assert.True(t, errors.Is(err, aggregate.ErrInvalidConfig))
		assert.Equal(t, fmt.Sprintf("aggregate: invalid config: Threshold must be between 0 (default) and 16777216, got %d", th), err.Error())
	}
}

// TestHashStringPinned pins the distinct-count hash: changing it would make
// sketches built by different versions disagree when merged.
func TestHashStringPinned(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
	}{
		{"", 0x409638ee2bde459},
		{"a", 0x28d2053309d28531},
		{"ab", 0xbc9ce12eaf0083ec},
		{"abc", 0x2a4f1d7cb516c72},
		{"u-1842", 0x8c823bf60dc5817e},
		{"login_failed", 0xeab3679a9e2ce32a},
		{"0123456789abcdef", 0xc304e72c387cd229},
		{"0123456789abcdefg", 0xb496f8f306600195},
		{strings.Repeat("x", 100), 0x1586cf9c6e8af471},
	} {
		assert.Equal(t, tc.want, aggregate.HashString(tc.in), "hash of %q", tc.in)
	}
}

func ExampleNewDistinct() {
	d, err := aggregate.NewDistinct(aggregate.DistinctConfig{Threshold: 1000})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, u := range []string{"u-1", "u-2", "u-1", "u-3", "u-2"} {
		d.Add(u)
	}
	fmt.Println(d.Count(), d.Exact())

	other, _ := aggregate.NewDistinct(aggregate.DistinctConfig{Threshold: 1000})
	other.Add("u-3")
	other.Add("u-4")
	d.Merge(other) // another processor's users
	fmt.Println(d.Count())
	// Output:
	// 3 true
	// 4
}

func BenchmarkDistinctAdd(b *testing.B) {
	ks := keys("u-", 0, 1<<16)
	for _, bc := range []struct {
		name      string
		threshold int
	}{{"exact", len(ks)}, {"sketch", 100}} {
		b.Run(bc.name, func(b *testing.B) {
			d := newDistinct(b, bc.threshold, ks)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				d.Add(ks[i&(len(ks)-1)])
			}
		})
	}
}

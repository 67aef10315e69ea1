package aggregate_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/aggregate"
)

func newTopK[K comparable](t testing.TB, capacity int) *aggregate.TopK[K] {
	t.Helper()
	tk, err := aggregate.NewTopK[K](capacity)
	require.NoError(t, err)
	return tk
}

func TestTopKExactBelowCapacity(t *testing.T) {
	tk := newTopK[string](t, 10)
	for _, u := range strings.Fields("u-3 u-1 u-2 u-1 u-3 u-9 u-1 u-2 u-3") {
		tk.Add(u)
	}
	tk.AddN("u-7", 2)
	// Count descending, then key ascending: u-1 and u-3 tie at 3, u-2 and
	// u-7 at 2.
	assert.Equal(t, []aggregate.Item[string]{
		{Key: "u-1", Count: 3},
		{Key: "u-3", Count: 3},
		{Key: "u-2", Count: 2},
		{Key: "u-7", Count: 2},
		{Key: "u-9", Count: 1},
	}, tk.Top(10, strings.Compare))
	assert.Equal(t, uint64(0), tk.Min(), "not full: every count exact")
	assert.Equal(t, uint64(11), tk.Total())
	assert.Equal(t, 5, tk.Len())
	it, ok := tk.Get("u-3")
	assert.True(t, ok)
	assert.Equal(t, aggregate.Item[string]{Key: "u-3", Count: 3}, it)
	_, ok = tk.Get("u-4")
	assert.False(t, ok)
}

func TestTopKEviction(t *testing.T) {
	tk := newTopK[string](t, 2)
	tk.AddN("a", 5)
	tk.AddN("b", 2)
	tk.Add("c") // replaces b (the minimum, 2): c gets 2+1 with error 2
	assert.Equal(t, []aggregate.Item[string]{
		{Key: "a", Count: 5},
		{Key: "c", Count: 3, Error: 2},
	}, tk.Top(2, strings.Compare))
	assert.Equal(t, uint64(3), tk.Min())
	_, ok := tk.Get("b")
	assert.False(t, ok)
}

// checkGuarantee checks the Space-Saving guarantee of tk against the true
// counts: every key above N/m is reported, every count overestimates by at
// most its Error <= Min <= N/m, and Count-Error is a lower bound.
func checkGuarantee[K comparable](t *testing.T, tk *aggregate.TopK[K], truth map[K]uint64) {
	t.Helper()
	var n uint64
	for _, c := range truth {
		n += c
	}
	require.Equal(t, n, tk.Total())
	bound := n / uint64(tk.Capacity())
	assert.LessOrEqual(t, tk.Min(), bound, "Min <= N/m")
	reported := map[K]aggregate.Item[K]{}
	for _, it := range tk.Top(tk.Capacity(), nil) {
		reported[it.Key] = it
		f := truth[it.Key]
		assert.GreaterOrEqual(t, it.Count, f, "count of %v is an upper bound", it.Key)
		assert.LessOrEqual(t, it.Count-f, bound, "overestimate of %v within N/m", it.Key)
		assert.LessOrEqual(t, it.Error, tk.Min(), "error of %v within Min", it.Key)
		assert.LessOrEqual(t, it.Count-it.Error, f, "Count-Error of %v is a lower bound", it.Key)
	}
	heavy := 0
	for k, f := range truth {
		if f > tk.Min() {
			heavy++
			_, ok := reported[k]
			assert.True(t, ok, "%v with count %d > Min %d (N/m = %d) must be reported", k, f, tk.Min(), bound)
		}
	}
	t.Logf("N=%d m=%d N/m=%d Min=%d keys=%d above Min=%d", n, tk.Capacity(), bound, tk.Min(), len(truth), heavy)
	assert.Positive(t, heavy, "the stream must have heavy hitters for the check to mean something")
}

func TestTopKGuarantee(t *testing.T) {
	w := newWorkload(100_000, 10_000)
	zipf := w.events(200_000, 3)
	cases := []struct {
		name   string
		stream func(add func(string))
	}{
		{"zipf users", func(add func(string)) {
			for _, e := range zipf {
				add(e.UserID)
			}
		}},
		{"zipf IPs as text", func(add func(string)) {
			for _, e := range zipf {
				add(e.IP.String())
			}
		}},
		{"heavy keys hidden in a round robin", func(add func(string)) {
			for i := range 100_000 {
				add(fmt.Sprintf("k-%d", i%5000))
				if i%10 == 0 {
					add(fmt.Sprintf("heavy-%d", i%7))
				}
			}
		}},
		{"heavy keys last", func(add func(string)) {
			for i := range 50_000 {
				add(fmt.Sprintf("k-%d", i))
			}
			for i := range 20_000 {
				add(fmt.Sprintf("late-%d", i%4))
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tk := newTopK[string](t, 100)
			truth := map[string]uint64{}
			tc.stream(func(k string) {
				tk.Add(k)
				truth[k]++
			})
			checkGuarantee(t, tk, truth)
		})
	}
}

// TestTopKMergeBound splits streams between summaries, merges them and
// checks the merged summary against the true counts of the union with
// N = N_A + N_B, also after merges of merges.
func TestTopKMergeBound(t *testing.T) {
	w := newWorkload(100_000, 10_000)
	// Different seeds: the parts have different heavy hitters' ranks.
	parts := [][]netip.Addr{}
	for seed := range uint64(4) {
		var ips []netip.Addr
		for _, e := range w.events(50_000, 10+seed) {
			ips = append(ips, e.IP)
		}
		if seed == 3 { // a part where one IP floods
			for range 40_000 {
				ips = append(ips, netip.MustParseAddr("192.0.2.66"))
			}
		}
		parts = append(parts, ips)
	}
	truth := map[netip.Addr]uint64{}
	sums := make([]*aggregate.TopK[netip.Addr], len(parts))
	for i, ips := range parts {
		sums[i] = newTopK[netip.Addr](t, 64)
		for _, ip := range ips {
			sums[i].Add(ip)
			truth[ip]++
		}
	}
	// ((A+B) + (C+D)): merged summaries merge again.
	sums[0].Merge(sums[1])
	sums[2].Merge(sums[3])
	sums[0].Merge(sums[2])
	checkGuarantee(t, sums[0], truth)

	top := sums[0].Top(1, netip.Addr.Compare)
	assert.Equal(t, netip.MustParseAddr("192.0.2.66"), top[0].Key)
	assert.Equal(t, uint64(40_000), truth[top[0].Key])
	assert.GreaterOrEqual(t, top[0].Count, uint64(40_000))
}

// TestTopKMergeAllBound checks the n-way merge (what Series.Metrics does
// over its windows) against the true counts of the union, and against
// pairwise merging when every key fits.
func TestTopKMergeAllBound(t *testing.T) {
	w := newWorkload(100_000, 10_000)
	truth := map[string]uint64{}
	var sums []*aggregate.TopK[string]
	for seed := range uint64(8) {
		tk := newTopK[string](t, 50)
		for _, e := range w.events(20_000, 100+seed) {
			tk.Add(e.UserID)
			truth[e.UserID]++
		}
		sums = append(sums, tk)
	}
	merged := newTopK[string](t, 50)
	merged.Add("stale") // replaced, not merged into
	aggregate.MergeAll(merged, sums...)
	checkGuarantee(t, merged, truth)

	a, b := newTopK[string](t, 10), newTopK[string](t, 10)
	a.AddN("x", 3)
	a.AddN("y", 1)
	b.AddN("y", 2)
	b.AddN("z", 5)
	all := newTopK[string](t, 10)
	aggregate.MergeAll(all, a, b, nil)
	a.Merge(b)
	assert.Equal(t, a.Top(10, strings.Compare), all.Top(10, strings.Compare))
	assert.Equal(t, []aggregate.Item[string]{{Key: "z", Count: 5}, {Key: "x", Count: 3}, {Key: "y", Count: 3}}, all.Top(10, strings.Compare))
	assert.Equal(t, uint64(11), all.Total())
}

// TestTopKMergeExactWhenSmall: with fewer keys than the capacity, merging
// is exact and equals the summary of the union.
func TestTopKMergeExactWhenSmall(t *testing.T) {
	a, b, union := newTopK[string](t, 10), newTopK[string](t, 10), newTopK[string](t, 10)
	for i, u := range strings.Fields("u-1 u-2 u-1 u-3 u-2 u-1 u-4 u-4 u-4 u-4") {
		if i%2 == 0 {
			a.Add(u)
		} else {
			b.Add(u)
		}
		union.Add(u)
	}
	a.Merge(b)
	assert.Equal(t, union.Top(10, strings.Compare), a.Top(10, strings.Compare))
	assert.Equal(t, []aggregate.Item[string]{
		{Key: "u-4", Count: 4}, {Key: "u-1", Count: 3}, {Key: "u-2", Count: 2}, {Key: "u-3", Count: 1},
	}, a.Top(10, strings.Compare))
	assert.Equal(t, uint64(10), a.Total())

	a.Merge(a)
	assert.Equal(t, aggregate.Item[string]{Key: "u-4", Count: 8}, a.Top(1, nil)[0], "self-merge doubles")
	a.Merge(nil)
	assert.Equal(t, uint64(20), a.Total())
}

func TestTopKClonesStringKeys(t *testing.T) {
	key := string([]byte("u-1842,login"))[:6]
	tk := newTopK[string](t, 4)
	tk.Add(key)
	it := tk.Top(1, nil)[0]
	assert.Equal(t, "u-1842", it.Key)
	assert.NotSame(t, unsafe.StringData(key), unsafe.StringData(it.Key))
}

func TestTopKZeroValueAndReset(t *testing.T) {
	var tk aggregate.TopK[string]
	assert.Equal(t, aggregate.DefaultTopKCapacity, tk.Capacity())
	for i := range 150 {
		tk.Add(fmt.Sprint(i))
	}
	assert.Equal(t, 100, tk.Len())
	assert.Equal(t, uint64(1), tk.Min())
	tk.Reset()
	assert.Equal(t, 0, tk.Len())
	assert.Equal(t, uint64(0), tk.Total())
	tk.Add("x")
	assert.Equal(t, []aggregate.Item[string]{{Key: "x", Count: 1}}, tk.Top(5, nil))
}

func TestNewTopKInvalid(t *testing.T) {
	for _, c := range []int{-1, aggregate.MaxTopKCapacity + 1} {
		_, err := aggregate.NewTopK[string](c)
		require.Error(t, err)
		assert.True(t, errors.Is(err, aggregate.ErrInvalidConfig))
		assert.Equal(t, fmt.Sprintf("aggregate: invalid config: top-K capacity must be between 1 and 65536, got %d", c), err.Error())
	}
	tk, err := aggregate.NewTopK[string](0)
	require.NoError(t, err)
	assert.Equal(t, aggregate.DefaultTopKCapacity, tk.Capacity())
}

func ExampleNewTopK() {
	tk, err := aggregate.NewTopK[string](50) // report the top 5 with error <= N/50
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, u := range strings.Fields("alice bob alice carol alice bob dave") {
		tk.Add(u)
	}
	for _, it := range tk.Top(3, strings.Compare) {
		fmt.Printf("%s %d (error <= %d)\n", it.Key, it.Count, it.Error)
	}
	// Output:
	// alice 3 (error <= 0)
	// bob 2 (error <= 0)
	// carol 1 (error <= 0)
}

func BenchmarkTopKAdd(b *testing.B) {
	const n = 1 << 16
	events := newWorkload(100_000, 10_000).events(n, 1)
	b.Run("string", func(b *testing.B) {
		tk := newTopK[string](b, 100)
		for _, e := range events {
			tk.Add(e.UserID)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			tk.Add(events[i&(n-1)].UserID)
		}
	})
	b.Run("netip.Addr", func(b *testing.B) {
		tk := newTopK[netip.Addr](b, 100)
		for _, e := range events {
			tk.Add(e.IP)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			tk.Add(events[i&(n-1)].IP)
		}
	})
}

func BenchmarkTopKMerge(b *testing.B) {
	events := newWorkload(100_000, 10_000).events(1<<16, 1)
	x, y := newTopK[string](b, 100), newTopK[string](b, 100)
	for i, e := range events {
		if i%2 == 0 {
			x.Add(e.UserID)
		} else {
			y.Add(e.UserID)
		}
	}
	dst := newTopK[string](b, 100)
	b.ReportAllocs()
	for b.Loop() {
		dst.Reset()
		dst.Merge(x)
		dst.Merge(y)
	}
}

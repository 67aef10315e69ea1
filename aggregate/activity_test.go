package aggregate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/aggregate"
)

func TestActivity(t *testing.T) {
	var a aggregate.Activity
	a.Add("u-1", t0.Add(5*time.Second))
	a.Add("u-2", t0.Add(1*time.Second))
	a.Add("u-1", t0.Add(2*time.Second)) // out of order: becomes first seen
	a.Add("u-1", t0.Add(9*time.Second))

	u1, ok := a.Get("u-1")
	assert.True(t, ok)
	assert.Equal(t, aggregate.UserActivity{Count: 3, FirstSeen: t0.Add(2 * time.Second), LastSeen: t0.Add(9 * time.Second)}, u1)
	u2, ok := a.Get("u-2")
	assert.True(t, ok)
	assert.Equal(t, aggregate.UserActivity{Count: 1, FirstSeen: t0.Add(time.Second), LastSeen: t0.Add(time.Second)}, u2)
	_, ok = a.Get("u-3")
	assert.False(t, ok)
	assert.Equal(t, 2, a.Len())

	assert.Equal(t, []aggregate.Item[string]{{Key: "u-1", Count: 3}, {Key: "u-2", Count: 1}}, a.Top(5))

	var order []string
	for id, act := range a.All() {
		order = append(order, fmt.Sprintf("%s:%d", id, act.Count))
	}
	assert.Equal(t, []string{"u-1:3", "u-2:1"}, order)
}

func TestActivityTimesAreUTC(t *testing.T) {
	var a aggregate.Activity
	paris := time.FixedZone("CET", 3600)
	a.Add("u", t0.In(paris))
	got, _ := a.Get("u")
	assert.Equal(t, time.UTC, got.FirstSeen.Location())
	assert.True(t, got.FirstSeen.Equal(t0))
}

func TestActivityMergeEqualsUnion(t *testing.T) {
	events := newWorkload(1000, 10).events(20_000, 5)
	var parts [4]aggregate.Activity
	var whole aggregate.Activity
	for i, e := range events {
		parts[i%4].Add(e.UserID, e.Time)
		whole.Add(e.UserID, e.Time)
	}
	var merged aggregate.Activity
	for i := range parts {
		merged.Merge(&parts[i])
	}
	assert.Equal(t, whole.Len(), merged.Len())
	for id, want := range whole.All() {
		got, ok := merged.Get(id)
		assert.True(t, ok)
		assert.Equal(t, want, got, "user %s", id)
	}

	u := events[0].UserID
	before, _ := merged.Get(u)
	merged.Merge(&merged)
	after, _ := merged.Get(u)
	assert.Equal(t, 2*before.Count, after.Count, "self-merge doubles counts")
	assert.Equal(t, before.FirstSeen, after.FirstSeen)
}

func TestActivityClonesIDsAndResets(t *testing.T) {
	id := string([]byte("u-1842,login"))[:6]
	var a aggregate.Activity
	a.Add(id, t0)
	for got := range a.All() {
		assert.Equal(t, "u-1842", got)
		assert.NotSame(t, unsafe.StringData(id), unsafe.StringData(got))
	}
	a.Reset()
	assert.Equal(t, 0, a.Len())
	_, ok := a.Get("u-1842")
	assert.False(t, ok)
	assert.Zero(t, testing.AllocsPerRun(10, a.Reset))
}

func TestUserActivityMerge(t *testing.T) {
	a := aggregate.UserActivity{}
	a.Merge(aggregate.UserActivity{Count: 2, FirstSeen: t0.Add(time.Second), LastSeen: t0.Add(2 * time.Second)})
	a.Merge(aggregate.UserActivity{Count: 1, FirstSeen: t0, LastSeen: t0})
	a.Merge(aggregate.UserActivity{})
	assert.Equal(t, aggregate.UserActivity{Count: 3, FirstSeen: t0, LastSeen: t0.Add(2 * time.Second)}, a)
}

func ExampleActivity() {
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var a aggregate.Activity
	a.Add("u-1842", start.Add(30*time.Second))
	a.Add("u-1842", start.Add(10*time.Second))
	a.Add("u-7", start)
	u, _ := a.Get("u-1842")
	fmt.Println(u.Count, u.FirstSeen.Format(time.TimeOnly), u.LastSeen.Format(time.TimeOnly))
	// Output: 2 10:00:10 10:00:30
}

func BenchmarkActivityAdd(b *testing.B) {
	const n = 1 << 16
	events := newWorkload(100_000, 10_000).events(n, 1)
	var a aggregate.Activity
	for _, e := range events {
		a.Add(e.UserID, e.Time)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		e := &events[i&(n-1)]
		a.Add(e.UserID, e.Time)
	}
}

// TestActivityTable checks the user table through growth, with IDs short
// enough to be stored inline, exactly at the limit, and longer.
func TestActivityTable(t *testing.T) {
	var a aggregate.Activity
	ids := make([]string, 0, 20_000)
	for i := range 20_000 {
		id := fmt.Sprintf("%d-%s", i, strings.Repeat("x", i%45))
		ids = append(ids, id)
	}
	ids = append(ids, "", strings.Repeat("y", 19), strings.Repeat("y", 20))
	for round := range 3 {
		for i, id := range ids {
			if round == 2 && i%2 == 1 {
				continue
			}
			a.Add(id, t0.Add(time.Duration(round)*time.Second))
		}
	}
	require.Equal(t, len(ids), a.Len())
	for i, id := range ids {
		got, ok := a.Get(id)
		require.True(t, ok, "user %q", id)
		want := aggregate.UserActivity{Count: 3, FirstSeen: t0, LastSeen: t0.Add(2 * time.Second)}
		if i%2 == 1 {
			want = aggregate.UserActivity{Count: 2, FirstSeen: t0, LastSeen: t0.Add(time.Second)}
		}
		require.Equal(t, want, got, "user %q", id)
	}
	for _, id := range []string{"x", strings.Repeat("y", 18), strings.Repeat("y", 21), "0-x"} {
		_, ok := a.Get(id)
		assert.False(t, ok, "user %q was never added", id)
	}
}

package aggregate_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
)

func TestCountsByTypes(t *testing.T) {
	c := aggregate.NewCountsBy[string]()
	for _, typ := range []string{"login", "login_failed", "login", "logout", "login_failed", "login", "api_call"} {
		c.Add(typ)
	}
	c.AddN("api_call", 2)

	assert.Equal(t, uint64(3), c.Get("login"))
	assert.Equal(t, uint64(2), c.Get("login_failed"))
	assert.Equal(t, uint64(3), c.Get("api_call"))
	assert.Equal(t, uint64(0), c.Get("never"))
	assert.Equal(t, 4, c.Len())
	assert.Equal(t, uint64(9), c.Total())

	// Count descending, then key ascending: api_call and login tie at 3.
	assert.Equal(t, []aggregate.Item[string]{
		{Key: "api_call", Count: 3},
		{Key: "login", Count: 3},
		{Key: "login_failed", Count: 2},
		{Key: "logout", Count: 1},
	}, c.Top(10, strings.Compare))
	assert.Equal(t, []aggregate.Item[string]{{Key: "api_call", Count: 3}, {Key: "login", Count: 3}}, c.Top(2, strings.Compare))
	assert.Empty(t, c.Top(0, strings.Compare))
	// Without compare, ties keep first-insertion order: login came first.
	assert.Equal(t, "login", c.Top(1, nil)[0].Key)

	var order []string
	for k := range c.All() {
		order = append(order, k)
	}
	assert.Equal(t, []string{"login", "login_failed", "logout", "api_call"}, order, "All yields in first-insertion order")
}

func TestCountsByIPKeys(t *testing.T) {
	var c aggregate.CountsBy[netip.Addr] // zero value is ready
	a := netip.MustParseAddr("203.0.113.7")
	b := netip.MustParseAddr("2001:db8::1")
	d := netip.MustParseAddr("198.51.100.1")
	for _, ip := range []netip.Addr{a, b, a, d, b, a} {
		c.Add(ip)
	}
	assert.Equal(t, []aggregate.Item[netip.Addr]{
		{Key: a, Count: 3},
		{Key: b, Count: 2},
		{Key: d, Count: 1},
	}, c.Top(3, netip.Addr.Compare))
	assert.Equal(t, uint64(2), c.Get(b))
	// Now b and d tie at 2: ties go by address order, IPv4 before IPv6.
	c.Add(d)
	assert.Equal(t, []aggregate.Item[netip.Addr]{
		{Key: a, Count: 3},
		{Key: d, Count: 2},
		{Key: b, Count: 2},
	}, c.Top(3, netip.Addr.Compare))
}

// TestCountsByClonesKeys checks that a stored key does not share memory
// with the caller's string (decoded events share one buffer).
func TestCountsByClonesKeys(t *testing.T) {
	buf := []byte("login_failed,u-1,u-2")
	key := string(buf)[:12] // a substring, like a decoded field
	var c aggregate.CountsBy[string]
	c.Add(key)
	for k := range c.All() {
		assert.Equal(t, "login_failed", k)
		assert.NotSame(t, unsafe.StringData(key), unsafe.StringData(k), "key must be cloned")
	}
}

func TestCountsByMergeEqualsUnion(t *testing.T) {
	events := newWorkload(500, 50).events(10_000, 7)
	var parts [3]aggregate.CountsBy[string]
	var whole aggregate.CountsBy[string]
	for i, e := range events {
		parts[i%3].Add(e.UserID)
		whole.Add(e.UserID)
	}
	var merged aggregate.CountsBy[string]
	for i := range parts {
		merged.Merge(&parts[i])
	}
	assert.Equal(t, whole.Top(whole.Len(), strings.Compare), merged.Top(merged.Len(), strings.Compare))
	assert.Equal(t, uint64(10_000), merged.Total())

	merged.Merge(&merged)
	assert.Equal(t, 2*whole.Get(events[0].UserID), merged.Get(events[0].UserID), "self-merge doubles")
	assert.Equal(t, uint64(20_000), merged.Total())
}

func TestCountsByReset(t *testing.T) {
	var c aggregate.CountsBy[string]
	c.Add("a")
	c.Add("b")
	c.Reset()
	assert.Equal(t, 0, c.Len())
	assert.Equal(t, uint64(0), c.Total())
	assert.Equal(t, uint64(0), c.Get("a"))
	c.Add("b")
	assert.Equal(t, []aggregate.Item[string]{{Key: "b", Count: 1}}, c.Top(5, strings.Compare))
}

func TestBySeverity(t *testing.T) {
	var b aggregate.BySeverity
	for _, s := range []rdr.Severity{rdr.SeverityLow, rdr.SeverityHigh, rdr.SeverityLow, rdr.SeverityCritical} {
		b.Add(s)
	}
	b.AddN(rdr.SeverityMedium, 5)
	assert.Equal(t, aggregate.BySeverity{0, 2, 5, 1, 1}, b)
	assert.Equal(t, uint64(9), b.Total())
	assert.Equal(t, uint64(2), b.Get(rdr.SeverityLow))

	got, err := json.Marshal(b)
	require.NoError(t, err)
	assert.Equal(t, `{"low":2,"medium":5,"high":1,"critical":1}`, string(got))

	b.Add(0)   // not set
	b.Add(200) // out of range: must not panic
	assert.Equal(t, uint64(2), b.Get(0))
	got, err = json.Marshal(b)
	require.NoError(t, err)
	assert.Equal(t, `{"low":2,"medium":5,"high":1,"critical":1,"unknown":2}`, string(got))

	var back aggregate.BySeverity
	require.NoError(t, json.Unmarshal(got, &back))
	assert.Equal(t, b, back, "JSON round trip")

	other := aggregate.BySeverity{0, 1, 1, 1, 1}
	b.Merge(&other)
	assert.Equal(t, aggregate.BySeverity{2, 3, 6, 2, 2}, b)
	b.Reset()
	assert.Equal(t, aggregate.BySeverity{}, b)
}

func TestBySeverityUnmarshalErrors(t *testing.T) {
	var b aggregate.BySeverity
	err := json.Unmarshal([]byte(`{"low":1,"severe":2}`), &b)
	require.Error(t, err)
	assert.Equal(t, `aggregate: bySeverity: rdr: unknown severity "severe" (want low, medium, high or critical)`, err.Error())
	err = json.Unmarshal([]byte(`{"low":-1}`), &b)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aggregate: bySeverity: ")
	assert.Equal(t, aggregate.BySeverity{}, b, "unchanged on error")
}

func ExampleCountsBy() {
	var byType aggregate.CountsBy[string]
	for _, typ := range []string{"login", "login_failed", "login_failed", "logout", "login"} {
		byType.Add(typ)
	}
	for _, it := range byType.Top(2, strings.Compare) {
		fmt.Println(it.Key, it.Count)
	}
	// Output:
	// login 2
	// login_failed 2
}

func ExampleBySeverity() {
	var b aggregate.BySeverity
	b.Add(rdr.SeverityHigh)
	b.Add(rdr.SeverityLow)
	b.Add(rdr.SeverityHigh)
	out, _ := json.Marshal(b)
	fmt.Println(string(out))
	// Output: {"low":1,"medium":0,"high":2,"critical":0}
}

func BenchmarkCountsByAdd(b *testing.B) {
	const n = 1 << 16
	events := newWorkload(100_000, 10_000).events(n, 1)
	var c aggregate.CountsBy[string]
	for _, e := range events {
		c.Add(e.UserID)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c.Add(events[i&(n-1)].UserID)
	}
}

func BenchmarkBySeverityAdd(b *testing.B) {
	var c aggregate.BySeverity
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.Add(rdr.Severity(i&3 + 1))
	}
}

package aggregate_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rdr-go/rdr/aggregate"
)

func TestCount(t *testing.T) {
	var c aggregate.Count
	assert.Equal(t, uint64(0), c.Value(), "zero value")
	c.Inc()
	c.Inc()
	c.Add(40)
	assert.Equal(t, uint64(42), c.Value())

	var other aggregate.Count
	other.Add(8)
	c.Merge(&other)
	c.Merge(nil)
	assert.Equal(t, uint64(50), c.Value(), "merge adds")
	assert.Equal(t, uint64(8), other.Value(), "merge leaves other unchanged")

	c.Reset()
	assert.Equal(t, uint64(0), c.Value())
}

// TestCountMergeEqualsUnion splits a stream over three processors and
// checks that merging their counts gives the count of the whole stream.
func TestCountMergeEqualsUnion(t *testing.T) {
	var parts [3]aggregate.Count
	var whole aggregate.Count
	for i := range 1000 {
		parts[i%3].Inc()
		whole.Inc()
	}
	var merged aggregate.Count
	for i := range parts {
		merged.Merge(&parts[i])
	}
	assert.Equal(t, whole.Value(), merged.Value())
	assert.Equal(t, uint64(1000), merged.Value())
}

func ExampleCount() {
	var a, b aggregate.Count // partial counts of two processors
	a.Inc()
	a.Inc()
	b.Add(3)
	a.Merge(&b)
	fmt.Println(a.Value())
	// Output: 5
}

func BenchmarkCountInc(b *testing.B) {
	var c aggregate.Count
	b.ReportAllocs()
	for b.Loop() {
		c.Inc()
	}
	if c.Value() == 0 {
		b.Fatal("nothing counted")
	}
}

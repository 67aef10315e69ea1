package aggregate

// Count counts events. The zero value is an empty count, ready to use.
// Partial counts from several processors add up exactly with [Count.Merge].
//
// A Count is not safe for concurrent use; the goroutine that adds to it owns it.
type Count struct {
	n uint64
}

// Inc adds one.
func (c *Count) Inc() { c.n++ }

// Add adds n.
func (c *Count) Add(n uint64) { c.n += n }

// Value returns the count.
func (c *Count) Value() uint64 { return c.n }

// Merge adds other's count to c. A nil other is an empty count.
func (c *Count) Merge(other *Count) {
	if other != nil {
		c.n += other.n
	}
}

// Reset sets the count back to zero.
func (c *Count) Reset() { c.n = 0 }

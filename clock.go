package rdr

import (
	"sync"
	"sync/atomic"
	"time"
)

// Clock tells the current time. Every rdr component that needs "now" — to
// judge a timestamp too far in the future, to notice an idle partition, to
// expire state — asks a Clock instead of calling time.Now, so that tests can
// drive time by hand. Implementations must be safe for concurrent use.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real wall clock.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// FakeClock is a Clock that only moves when told to. It is safe for
// concurrent use; reading it takes no lock.
type FakeClock struct {
	mu  sync.Mutex // serialises the writers
	now atomic.Pointer[time.Time]
}

// NewFakeClock returns a FakeClock that reads t until it is moved.
func NewFakeClock(t time.Time) *FakeClock {
	c := &FakeClock{}
	c.now.Store(&t)
	return c
}

// Now returns the clock's current time (the zero time for a zero FakeClock).
func (c *FakeClock) Now() time.Time {
	if t := c.now.Load(); t != nil {
		return *t
	}
	return time.Time{}
}

// Set moves the clock to t (forwards or backwards).
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now.Store(&t)
	c.mu.Unlock()
}

// Advance moves the clock forward by d and returns the new time.
func (c *FakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.Now().Add(d)
	c.now.Store(&t)
	return t
}

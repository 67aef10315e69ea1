package window_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rdr-go/rdr/window"
	"github.com/stretchr/testify/require"
)

// at returns the instant ms milliseconds after the Unix epoch.
func at(ms int64) time.Time { return time.UnixMilli(ms) }

func count(n *int, _ int) { *n++ }

// recorder collects emitted results as "key [start,end) state" lines, with
// " update" appended to updates; times are epoch milliseconds.
type recorder struct{ got []string }

func (r *recorder) emit(res window.Result[string, int]) {
	line := fmt.Sprintf("%s [%d,%d) %d", res.Key, res.Window.Start.UnixMilli(), res.Window.End.UnixMilli(), res.State)
	if res.Update {
		line += " update"
	}
	r.got = append(r.got, line)
}

// take returns what was recorded since the last take.
func (r *recorder) take() []string {
	got := r.got
	r.got = nil
	return got
}

func newCounter(t *testing.T, cfg window.Config[int, int]) *window.Windows[string, int, int] {
	t.Helper()
	cfg.Add = count
	cfg.Merge = func(dst *int, src int) { *dst += src }
	w, err := window.New[string](cfg)
	require.NoError(t, err)
	return w
}

// fakeClock is a Clock moved by hand (the window tests do not import rdr).
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

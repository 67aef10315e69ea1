package window_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/rdr-go/rdr/window"
	"github.com/stretchr/testify/assert"
)

func TestAssignerAppendWindows(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name     string
		assigner window.Assigner
		at       int64
		want     []string
	}{
		{"tumbling", window.Tumbling(2000 * ms), 1999, []string{"[0,2000)"}},
		{"tumbling on a boundary", window.Tumbling(2000 * ms), 2000, []string{"[2000,4000)"}},
		{"tumbling before the epoch", window.Tumbling(2000 * ms), -1, []string{"[-2000,0)"}},
		{"hopping", window.Hopping(10*ms, 5*ms), 12, []string{"[10,20)", "[5,15)"}},
		{"hopping on a boundary", window.Hopping(10*ms, 5*ms), 10, []string{"[10,20)", "[5,15)"}},
		{"hopping uneven", window.Hopping(10*ms, 4*ms), 9, []string{"[8,18)", "[4,14)", "[0,10)"}},
		{"hopping uneven, fewer", window.Hopping(10*ms, 4*ms), 11, []string{"[8,18)", "[4,14)"}},
		{"hopping before the epoch", window.Hopping(10*ms, 5*ms), -3, []string{"[-5,5)", "[-10,0)"}},
		{"hopping equal to tumbling", window.Hopping(10*ms, 10*ms), 3, []string{"[0,10)"}},
		{"session", window.Session(5 * ms), 7, []string{"[7,12)"}},
		{"invalid", window.Tumbling(0), 7, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, w := range tc.assigner.AppendWindows(nil, at(tc.at)) {
				got = append(got, "["+itoa(w.Start.UnixMilli())+","+itoa(w.End.UnixMilli())+")")
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestAssignerString(t *testing.T) {
	assert.Equal(t, "tumbling(1s)", window.Tumbling(time.Second).String())
	assert.Equal(t, "hopping(1m0s, 10s)", window.Hopping(time.Minute, 10*time.Second).String())
	assert.Equal(t, "session(30s)", window.Session(30*time.Second).String())
	assert.Equal(t, "none", window.Assigner{}.String())
}

func TestAssignerValidate(t *testing.T) {
	assert.NoError(t, window.Tumbling(time.Second).Validate())
	assert.NoError(t, window.Hopping(65536*time.Millisecond, time.Millisecond).Validate())
	err := window.Hopping(65537*time.Millisecond, time.Millisecond).Validate()
	assert.ErrorIs(t, err, window.ErrInvalidConfig)
	assert.EqualError(t, err, "window: invalid config: hopping size 1m5.537s / slide 1ms puts each item in 65537 windows, more than 65536")
	assert.EqualError(t, window.Assigner{}.Validate(), "window: invalid config: no assigner: use Tumbling, Hopping or Session")
}

func TestWindowString(t *testing.T) {
	w := window.Window{Start: at(0).UTC(), End: at(1500).UTC()}
	assert.Equal(t, "[1970-01-01T00:00:00.000Z, 1970-01-01T00:00:01.500Z)", w.String())
	assert.Equal(t, at(1499).UTC(), w.MaxTimestamp())
}

// Align is the start of the tumbling window holding t, before the epoch too.
func TestAlign(t *testing.T) {
	for _, tc := range []struct{ t, size, want int64 }{
		{0, 1000, 0}, {999, 1000, 0}, {1000, 1000, 1000}, {1500, 1000, 1000}, {-1, 1000, -1000}, {-1000, 1000, -1000}, {-1001, 1000, -2000},
	} {
		assert.Equal(t, tc.want, window.Align(tc.t, tc.size), "%d by %d", tc.t, tc.size)
	}
}

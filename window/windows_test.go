package window_test

import (
	"testing"
	"time"

	"github.com/rdr-go/rdr/window"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tumbling 2000 ms windows, lateness 0, watermarks set explicitly.
func TestTumblingExplicitWatermarks(t *testing.T) {
	w := newCounter(t, window.Config[int, int]{Assigner: window.Tumbling(2000 * time.Millisecond)})
	wms, err := window.NewWatermarks(window.WatermarkConfig{})
	require.NoError(t, err)
	var r recorder
	step := func(event int64, wm int64) []string {
		t.Helper()
		if event >= 0 {
			st, err := w.Add("k", at(event), 1)
			require.NoError(t, err)
			require.Equal(t, window.StatusAccepted, st, "event at %d", event)
		}
		wms.Set(0, at(wm))
		w.Advance(wms.Current(), r.emit)
		return r.take()
	}

	assert.Empty(t, step(1000, 1985))
	assert.Equal(t, []string{"k [0,2000) 2"}, step(1980, 1999))

	st, err := w.Add("k", at(1998), 1)
	require.NoError(t, err)
	assert.Equal(t, window.StatusLate, st)
	assert.Equal(t, uint64(1), w.Stats().Late)

	assert.Equal(t, []string{"k [2000,4000) 1"}, step(2001, 3999))
	assert.Equal(t, window.Stats{
		Watermark: at(3999).UTC(), Added: 3, Fired: 2, Late: 1,
	}, w.Stats())
}

// Tumbling 2 ms windows, out-of-orderness 0, lateness 1 ms, watermark from
// the tracker after each event.
func TestTumblingLatenessUpdates(t *testing.T) {
	w := newCounter(t, window.Config[int, int]{
		Assigner:        window.Tumbling(2 * time.Millisecond),
		AllowedLateness: time.Millisecond,
	})
	wms, err := window.NewWatermarks(window.WatermarkConfig{})
	require.NoError(t, err)

	steps := []struct {
		event  int64
		status window.Status
		wm     int64
		emits  []string
	}{
		{0, window.StatusAccepted, -1, nil},
		{1, window.StatusAccepted, 0, nil},
		{2, window.StatusAccepted, 1, []string{"k [0,2) 2"}},
		{1, window.StatusUpdate, 1, []string{"k [0,2) 3 update"}},
		{0, window.StatusUpdate, 1, []string{"k [0,2) 4 update"}},
		{5, window.StatusAccepted, 4, []string{"k [2,4) 1"}},
		{0, window.StatusLate, 4, nil},
	}
	var r recorder
	final := map[string]string{}
	for i, s := range steps {
		st, err := w.Add("k", at(s.event), 1)
		require.NoError(t, err)
		assert.Equal(t, s.status, st, "step %d: event at %d", i, s.event)
		wms.Observe(0, at(s.event))
		require.Equal(t, s.wm, wms.Current().UnixMilli(), "step %d", i)
		w.Advance(wms.Current(), r.emit)
		got := r.take()
		assert.Equal(t, s.emits, got, "step %d", i)
		for _, line := range got {
			final[line[2:7]] = line
		}
	}
	assert.Equal(t, map[string]string{"[0,2)": "k [0,2) 4 update", "[2,4)": "k [2,4) 1"}, final)
	assert.Equal(t, window.Stats{
		Watermark: at(4).UTC(), OpenWindows: 1, Keys: 1, Added: 6, Fired: 2, Updates: 2, Late: 1,
	}, w.Stats())

	w.Flush(r.emit)
	assert.Equal(t, []string{"k [4,6) 1"}, r.take())
	assert.Equal(t, 0, w.Stats().OpenWindows)
}

// Session windows, gap 5 ms, out-of-orderness 0, lateness 0.
func TestSessionMerging(t *testing.T) {
	w := newCounter(t, window.Config[int, int]{Assigner: window.Session(5 * time.Millisecond)})
	wms, err := window.NewWatermarks(window.WatermarkConfig{})
	require.NoError(t, err)

	steps := []struct {
		key    string
		event  int64
		status window.Status
		emits  []string
	}{
		{"k1", 0, window.StatusAccepted, nil},
		{"k1", 5, window.StatusAccepted, nil}, // [5,10) touches [0,5): merged
		{"k1", 1, window.StatusAccepted, nil},
		{"k2", 11, window.StatusAccepted, []string{"k1 [0,10) 3"}},
		{"k1", 5, window.StatusLate, nil},
	}
	var r recorder
	for i, s := range steps {
		st, err := w.Add(s.key, at(s.event), 1)
		require.NoError(t, err)
		assert.Equal(t, s.status, st, "step %d", i)
		wms.Observe(0, at(s.event))
		w.Advance(wms.Current(), r.emit)
		assert.Equal(t, s.emits, r.take(), "step %d", i)
	}
	assert.Equal(t, window.Stats{
		Watermark: at(10).UTC(), OpenWindows: 1, Keys: 1, Added: 4, Fired: 1, Late: 1,
	}, w.Stats())
	w.Flush(r.emit)
	assert.Equal(t, []string{"k2 [11,16) 1"}, r.take())
	assert.Equal(t, 0, w.Stats().Keys)
}

func TestSessionBridgeAndGrowth(t *testing.T) {
	t.Run("an item bridging two sessions merges them", func(t *testing.T) {
		w := newCounter(t, window.Config[int, int]{Assigner: window.Session(10 * time.Millisecond)})
		for _, ms := range []int64{0, 2, 30, 31} {
			_, err := w.Add("k", at(ms), 1)
			require.NoError(t, err)
		}
		assert.Equal(t, 2, w.Stats().OpenWindows)
		st, err := w.Add("k", at(16), 1) // [16,26) touches [0,12)? no: 12 < 16; touches [30,41)? no
		require.NoError(t, err)
		assert.Equal(t, window.StatusAccepted, st)
		assert.Equal(t, 3, w.Stats().OpenWindows)
		_, err = w.Add("k", at(12), 1) // [12,22) touches [0,12) and [16,26), and [30,41)? no
		require.NoError(t, err)
		_, err = w.Add("k", at(20), 1) // [20,30) touches [0,26) and [30,41)
		require.NoError(t, err)
		assert.Equal(t, 1, w.Stats().OpenWindows)
		var r recorder
		w.Advance(at(39), r.emit)
		assert.Empty(t, r.take())
		w.Advance(at(40), r.emit)
		assert.Equal(t, []string{"k [0,41) 7"}, r.take())
	})

	t.Run("a fired session that grows past the watermark fires again as an update", func(t *testing.T) {
		w := newCounter(t, window.Config[int, int]{
			Assigner:        window.Session(10 * time.Millisecond),
			AllowedLateness: 100 * time.Millisecond,
		})
		var r recorder
		_, err := w.Add("k", at(0), 1)
		require.NoError(t, err)
		w.Advance(at(9), r.emit)
		assert.Equal(t, []string{"k [0,10) 1"}, r.take())

		st, err := w.Add("k", at(5), 1) // inside the fired session
		require.NoError(t, err)
		assert.Equal(t, window.StatusUpdate, st)
		st, err = w.Add("k", at(8), 1) // grows it to [0,18): no longer complete
		require.NoError(t, err)
		assert.Equal(t, window.StatusUpdate, st)
		w.Advance(at(16), r.emit)
		assert.Empty(t, r.take())
		w.Advance(at(17), r.emit)
		assert.Equal(t, []string{"k [0,18) 3 update"}, r.take())
		assert.Equal(t, window.Stats{
			Watermark: at(17).UTC(), OpenWindows: 1, Keys: 1, Added: 3, Fired: 1, Updates: 1,
		}, w.Stats())
		w.Advance(at(117), r.emit)
		assert.Equal(t, 0, w.Stats().OpenWindows)
	})

	t.Run("an item joining a fired and an open session", func(t *testing.T) {
		w := newCounter(t, window.Config[int, int]{
			Assigner:        window.Session(10 * time.Millisecond),
			AllowedLateness: 100 * time.Millisecond,
		})
		var r recorder
		for _, ms := range []int64{0, 25} {
			_, err := w.Add("k", at(ms), 1)
			require.NoError(t, err)
		}
		w.Advance(at(20), r.emit)
		assert.Equal(t, []string{"k [0,10) 1"}, r.take())
		st, err := w.Add("k", at(12), 1) // [12,22): touches neither
		require.NoError(t, err)
		assert.Equal(t, window.StatusAccepted, st)
		st, err = w.Add("k", at(9), 1) // [9,19) joins [0,10) and [12,22)
		require.NoError(t, err)
		assert.Equal(t, window.StatusUpdate, st)
		w.Advance(at(21), r.emit)
		assert.Equal(t, []string{"k [0,22) 3 update"}, r.take())
		w.Flush(r.emit)
		assert.Equal(t, []string{"k [25,35) 1"}, r.take())
	})
}

func TestHoppingWindows(t *testing.T) {
	w := newCounter(t, window.Config[int, int]{Assigner: window.Hopping(10*time.Millisecond, 5*time.Millisecond)})
	for _, e := range []struct {
		key string
		ms  int64
	}{{"a", 3}, {"b", 6}, {"a", 7}, {"a", 12}} {
		st, err := w.Add(e.key, at(e.ms), 1)
		require.NoError(t, err)
		require.Equal(t, window.StatusAccepted, st)
	}
	assert.Equal(t, 6, w.Stats().OpenWindows)
	assert.Equal(t, 2, w.Stats().Keys)
	var r recorder
	w.Advance(at(30), r.emit)
	assert.Equal(t, []string{
		"a [-5,5) 1",
		"a [0,10) 2",
		"b [0,10) 1",
		"b [5,15) 1", // b opened [5,15) before a did
		"a [5,15) 2",
		"a [10,20) 1",
	}, r.take())
	assert.Equal(t, 0, w.Stats().OpenWindows)
	assert.Equal(t, 0, w.Stats().Keys)
}

func TestHoppingPartlyLate(t *testing.T) {
	w := newCounter(t, window.Config[int, int]{Assigner: window.Hopping(10*time.Millisecond, 5*time.Millisecond)})
	var r recorder
	w.Advance(at(9), r.emit)
	st, err := w.Add("a", at(7), 1) // [0,10) is late, [5,15) is not
	require.NoError(t, err)
	assert.Equal(t, window.StatusAccepted, st)
	st, err = w.Add("a", at(4), 1) // [0,10) and [-5,5) are both late
	require.NoError(t, err)
	assert.Equal(t, window.StatusLate, st)
	w.Flush(r.emit)
	assert.Equal(t, []string{"a [5,15) 1"}, r.take())
	assert.Equal(t, uint64(1), w.Stats().Late)
}

func TestAdvanceOrder(t *testing.T) {
	w := newCounter(t, window.Config[int, int]{
		Assigner:        window.Tumbling(10 * time.Millisecond),
		AllowedLateness: 50 * time.Millisecond,
	})
	var r recorder
	for _, e := range []struct {
		key string
		ms  int64
	}{{"c", 15}, {"b", 5}, {"a", 25}, {"a", 5}, {"c", 6}} {
		_, err := w.Add(e.key, at(e.ms), 1)
		require.NoError(t, err)
	}
	w.Advance(at(29), r.emit)
	assert.Equal(t, []string{"b [0,10) 1", "a [0,10) 1", "c [0,10) 1", "c [10,20) 1", "a [20,30) 1"}, r.take())

	// Updates in several fired windows come out in the same order, whatever
	// the order of the late items; a key new to a fired window is not an
	// update.
	for _, e := range []struct {
		key    string
		ms     int64
		status window.Status
	}{{"a", 21, window.StatusUpdate}, {"c", 1, window.StatusUpdate}, {"d", 2, window.StatusAccepted}, {"b", 3, window.StatusUpdate}} {
		st, err := w.Add(e.key, at(e.ms), 1)
		require.NoError(t, err)
		assert.Equal(t, e.status, st, "%s@%d", e.key, e.ms)
	}
	w.Advance(at(29), r.emit) // the watermark need not move
	assert.Equal(t, []string{"b [0,10) 2 update", "c [0,10) 2 update", "d [0,10) 1", "a [20,30) 2 update"}, r.take())
	w.Advance(at(29), r.emit)
	assert.Empty(t, r.take())
}

func TestWatermarkNeverGoesBack(t *testing.T) {
	w := newCounter(t, window.Config[int, int]{Assigner: window.Tumbling(10 * time.Millisecond)})
	assert.True(t, w.Watermark().IsZero())
	var r recorder
	w.Advance(at(15), r.emit)
	w.Advance(at(3), r.emit)
	assert.Equal(t, at(15).UTC(), w.Watermark())
	st, err := w.Add("a", at(5), 1)
	require.NoError(t, err)
	assert.Equal(t, window.StatusLate, st)
}

func TestMaxWindows(t *testing.T) {
	t.Run("tumbling", func(t *testing.T) {
		w := newCounter(t, window.Config[int, int]{Assigner: window.Tumbling(10 * time.Millisecond), MaxWindows: 2})
		for _, k := range []string{"a", "b"} {
			_, err := w.Add(k, at(0), 1)
			require.NoError(t, err)
		}
		st, err := w.Add("c", at(0), 1)
		assert.ErrorIs(t, err, window.ErrFull)
		assert.Equal(t, window.StatusRejected, st)
		st, err = w.Add("a", at(5), 1) // an open window still takes items
		require.NoError(t, err)
		assert.Equal(t, window.StatusAccepted, st)
		assert.Equal(t, window.Stats{OpenWindows: 2, Keys: 2, Added: 3, Full: 1}, w.Stats())

		var r recorder
		w.Advance(at(9), r.emit)
		assert.Equal(t, []string{"a [0,10) 2", "b [0,10) 1"}, r.take())
		_, err = w.Add("c", at(10), 1) // room again once freed
		require.NoError(t, err)
	})
	t.Run("hopping adds to all windows or none", func(t *testing.T) {
		w := newCounter(t, window.Config[int, int]{Assigner: window.Hopping(10*time.Millisecond, 5*time.Millisecond), MaxWindows: 3})
		_, err := w.Add("a", at(7), 1)
		require.NoError(t, err)
		_, err = w.Add("b", at(7), 1)
		assert.ErrorIs(t, err, window.ErrFull)
		assert.Equal(t, 2, w.Stats().OpenWindows)
		_, err = w.Add("a", at(12), 1) // [5,15) is open, [10,20) is new: 3 windows
		require.NoError(t, err)
		assert.Equal(t, window.Stats{OpenWindows: 3, Keys: 1, Added: 2, Full: 1}, w.Stats())
	})
	t.Run("session", func(t *testing.T) {
		w := newCounter(t, window.Config[int, int]{Assigner: window.Session(10 * time.Millisecond), MaxWindows: 1})
		_, err := w.Add("a", at(0), 1)
		require.NoError(t, err)
		_, err = w.Add("b", at(0), 1)
		assert.ErrorIs(t, err, window.ErrFull)
		_, err = w.Add("a", at(3), 1) // extends the open session
		require.NoError(t, err)
		assert.Equal(t, window.Stats{OpenWindows: 1, Keys: 1, Added: 2, Full: 1}, w.Stats())
	})
	t.Run("default", func(t *testing.T) {
		if testing.Short() {
			t.Skip("opens 1<<20 windows")
		}
		w := newCounter(t, window.Config[int, int]{Assigner: window.Tumbling(time.Millisecond)})
		for i := range window.DefaultMaxWindows {
			_, err := w.Add("k", at(int64(i)), 1)
			require.NoError(t, err)
		}
		_, err := w.Add("k", at(-1), 1)
		assert.ErrorIs(t, err, window.ErrFull)
	})
}

func TestStateFreedAfterLateness(t *testing.T) {
	for _, tc := range []struct {
		name     string
		assigner window.Assigner
	}{
		{"tumbling", window.Tumbling(10 * time.Millisecond)},
		{"hopping", window.Hopping(10*time.Millisecond, 10*time.Millisecond)},
		{"session", window.Session(10 * time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newCounter(t, window.Config[int, int]{Assigner: tc.assigner, AllowedLateness: 20 * time.Millisecond})
			var r recorder
			for _, k := range []string{"a", "b"} {
				_, err := w.Add(k, at(0), 1)
				require.NoError(t, err)
			}
			w.Advance(at(9), r.emit)
			assert.Equal(t, []string{"a [0,10) 1", "b [0,10) 1"}, r.take())
			w.Advance(at(28), r.emit) // within lateness: kept for updates
			assert.Equal(t, 2, w.Stats().OpenWindows)
			w.Advance(at(29), r.emit)
			assert.Empty(t, r.take())
			assert.Equal(t, 0, w.Stats().OpenWindows)
			assert.Equal(t, 0, w.Stats().Keys)
			st, err := w.Add("a", at(-5), 1) // its (first) window ends at 0 or 5
			require.NoError(t, err)
			assert.Equal(t, window.StatusLate, st)
		})
	}
}

func TestFlush(t *testing.T) {
	w := newCounter(t, window.Config[int, int]{
		Assigner:        window.Tumbling(10 * time.Millisecond),
		AllowedLateness: time.Second,
	})
	var r recorder
	for _, ms := range []int64{1, 12, 25} {
		_, err := w.Add("a", at(ms), 1)
		require.NoError(t, err)
	}
	w.Advance(at(9), r.emit)
	assert.Equal(t, []string{"a [0,10) 1"}, r.take())
	_, err := w.Add("a", at(2), 1)
	require.NoError(t, err)
	w.Flush(r.emit)
	assert.Equal(t, []string{"a [0,10) 2 update", "a [10,20) 1", "a [20,30) 1"}, r.take())
	assert.Equal(t, window.Stats{Watermark: at(9).UTC(), Added: 4, Fired: 3, Updates: 1}, w.Stats())
	w.Flush(r.emit)
	assert.Empty(t, r.take())
}

func TestInitAndMillisecondResolution(t *testing.T) {
	w, err := window.New[int](window.Config[time.Duration, []time.Duration]{
		Assigner: window.Tumbling(time.Second),
		Init:     func() []time.Duration { return make([]time.Duration, 0, 4) },
		Add:      func(s *[]time.Duration, d time.Duration) { *s = append(*s, d) },
	})
	require.NoError(t, err)
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	_, err = w.Add(7, t0.Add(999*time.Millisecond+999*time.Microsecond), 1)
	require.NoError(t, err)
	_, err = w.Add(7, t0.Add(-time.Nanosecond), 2) // previous window
	require.NoError(t, err)
	var got []window.Result[int, []time.Duration]
	w.Flush(func(r window.Result[int, []time.Duration]) { got = append(got, r) })
	require.Len(t, got, 2)
	assert.Equal(t, "[2026-11-26T08:59:59.000Z, 2026-11-26T09:00:00.000Z)", got[0].Window.String())
	assert.Equal(t, []time.Duration{2}, got[0].State)
	assert.Equal(t, "[2026-11-26T09:00:00.000Z, 2026-11-26T09:00:01.000Z)", got[1].Window.String())
	assert.Equal(t, []time.Duration{1}, got[1].State)
	assert.Equal(t, 4, cap(got[1].State))
	assert.Equal(t, time.Date(2026, 11, 26, 9, 0, 0, 999e6, time.UTC), got[1].Window.MaxTimestamp())
}

func TestAddTimeRange(t *testing.T) {
	w := newCounter(t, window.Config[int, int]{Assigner: window.Tumbling(time.Second)})
	far := time.Date(200_000_000, 1, 1, 0, 0, 0, 0, time.UTC)
	st, err := w.Add("a", far, 1)
	assert.ErrorIs(t, err, window.ErrTimeRange)
	assert.Equal(t, window.StatusRejected, st)
	_, err = w.Add("a", time.Time{}, 1) // year 1 is fine
	require.NoError(t, err)
}

func TestNewValidation(t *testing.T) {
	add := func(*int, int) {}
	for _, tc := range []struct {
		name string
		cfg  window.Config[int, int]
		want string
	}{
		{"no assigner", window.Config[int, int]{Add: add},
			"window: invalid config: Assigner: no assigner: use Tumbling, Hopping or Session"},
		{"zero size", window.Config[int, int]{Assigner: window.Tumbling(0), Add: add},
			"window: invalid config: Assigner: tumbling size must be positive, got 0s"},
		{"sub-millisecond size", window.Config[int, int]{Assigner: window.Tumbling(1500 * time.Microsecond), Add: add},
			"window: invalid config: Assigner: tumbling size 1.5ms is not a whole number of milliseconds"},
		{"negative hopping size", window.Config[int, int]{Assigner: window.Hopping(-time.Second, time.Second), Add: add},
			"window: invalid config: Assigner: hopping size must be positive, got -1s"},
		{"zero slide", window.Config[int, int]{Assigner: window.Hopping(time.Second, 0), Add: add},
			"window: invalid config: Assigner: hopping slide must be positive, got 0s"},
		{"slide longer than size", window.Config[int, int]{Assigner: window.Hopping(time.Second, 2*time.Second), Add: add},
			"window: invalid config: Assigner: hopping slide 2s is longer than size 1s (items would fall between windows)"},
		{"too many hops", window.Config[int, int]{Assigner: window.Hopping(time.Hour, time.Millisecond), Add: add},
			"window: invalid config: Assigner: hopping size 1h0m0s / slide 1ms puts each item in 3600000 windows, more than 65536"},
		{"negative gap", window.Config[int, int]{Assigner: window.Session(-time.Second), Add: add, Merge: func(*int, int) {}},
			"window: invalid config: Assigner: session gap must be positive, got -1s"},
		{"negative lateness", window.Config[int, int]{Assigner: window.Tumbling(time.Second), AllowedLateness: -time.Millisecond, Add: add},
			"window: invalid config: AllowedLateness must not be negative, got -1ms"},
		{"sub-millisecond lateness", window.Config[int, int]{Assigner: window.Tumbling(time.Second), AllowedLateness: time.Microsecond, Add: add},
			"window: invalid config: AllowedLateness 1µs is not a whole number of milliseconds"},
		{"negative max", window.Config[int, int]{Assigner: window.Tumbling(time.Second), MaxWindows: -1, Add: add},
			"window: invalid config: MaxWindows must be between 0 (default 1048576) and 2147483647, got -1"},
		{"no add", window.Config[int, int]{Assigner: window.Tumbling(time.Second)},
			"window: invalid config: Add is required"},
		{"session without merge", window.Config[int, int]{Assigner: window.Session(time.Second), Add: add},
			"window: invalid config: Merge is required for session windows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := window.New[string](tc.cfg)
			require.Error(t, err)
			assert.Nil(t, w)
			assert.ErrorIs(t, err, window.ErrInvalidConfig)
			assert.EqualError(t, err, tc.want)
			assert.EqualError(t, tc.cfg.Validate(), tc.want)
		})
	}
}

func TestStatusString(t *testing.T) {
	for st, want := range map[window.Status]string{
		window.StatusRejected: "rejected",
		window.StatusAccepted: "accepted",
		window.StatusUpdate:   "update",
		window.StatusLate:     "late",
		window.Status(9):      "Status(9)",
	} {
		assert.Equal(t, want, st.String())
	}
}

func TestAdvanceOutOfRange(t *testing.T) {
	w := newCounter(t, window.Config[int, int]{Assigner: window.Tumbling(time.Second)})
	_, err := w.Add("a", at(0), 1)
	require.NoError(t, err)
	var r recorder
	w.Advance(time.Date(-300_000_000, 1, 1, 0, 0, 0, 0, time.UTC), r.emit)
	assert.Empty(t, r.take())
	w.Advance(time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC), r.emit)
	assert.Equal(t, []string{"a [0,1000) 1"}, r.take())
	st, err := w.Add("a", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 1)
	require.NoError(t, err)
	assert.Equal(t, window.StatusLate, st)
}

// Free gets each window's state once, when the Windows lets go of it: after
// its allowed lateness, on Flush, and (sessions) when merged into another.
func TestFreeGetsEachStateOnce(t *testing.T) {
	var freed []int
	free := func(n int) { freed = append(freed, n) }
	var r recorder

	w := newCounter(t, window.Config[int, int]{Assigner: window.Tumbling(10 * time.Millisecond), AllowedLateness: 10 * time.Millisecond, Free: free})
	for _, e := range []struct {
		key string
		ms  int64
	}{{"a", 1}, {"a", 2}, {"b", 3}, {"a", 15}} {
		_, err := w.Add(e.key, at(e.ms), 1)
		require.NoError(t, err)
	}
	w.Advance(at(18), r.emit)
	assert.Equal(t, []string{"a [0,10) 2", "b [0,10) 1"}, r.take())
	assert.Empty(t, freed, "within the allowed lateness a window is kept")
	w.Advance(at(19), r.emit)
	assert.Equal(t, []string{"a [10,20) 1"}, r.take())
	assert.ElementsMatch(t, []int{2, 1}, freed)
	freed = nil
	w.Flush(r.emit)
	assert.Equal(t, []int{1}, freed)

	freed = nil
	s := newCounter(t, window.Config[int, int]{Assigner: window.Session(10 * time.Millisecond), Free: free})
	for _, ms := range []int64{0, 1, 20, 10} { // 10 bridges [0,11) and [20,30)
		_, err := s.Add("a", at(ms), 1)
		require.NoError(t, err)
	}
	assert.Equal(t, []int{1}, freed, "the later session, merged into the first")
	s.Flush(r.emit)
	assert.Equal(t, []string{"a [0,30) 4"}, r.take())
	assert.Equal(t, []int{1, 4}, freed)
}

package window_test

import (
	"fmt"
	"time"

	"github.com/rdr-go/rdr/window"
)

// Count failed logins per user per minute, with 30 seconds of allowed
// lateness.
func ExampleNew() {
	w, err := window.New[string](window.Config[string, int]{
		Assigner:        window.Tumbling(time.Minute),
		AllowedLateness: 30 * time.Second,
		Add:             func(n *int, _ string) { *n++ },
	})
	if err != nil {
		panic(err)
	}
	print := func(r window.Result[string, int]) {
		fmt.Println(r.Key, r.Window, r.State, "update:", r.Update)
	}
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

	w.Add("u-1", t0.Add(5*time.Second), "login_failed")
	w.Add("u-2", t0.Add(20*time.Second), "login_failed")
	w.Add("u-1", t0.Add(59*time.Second), "login_failed")
	w.Add("u-1", t0.Add(61*time.Second), "login_failed")

	// The watermark reaches 10:00:59.999, the first minute's last instant.
	w.Advance(t0.Add(time.Minute-time.Millisecond), print)

	// Within the allowed lateness: an update, emitted at the next Advance.
	st, _ := w.Add("u-2", t0.Add(40*time.Second), "login_failed")
	fmt.Println(st)
	w.Advance(t0.Add(time.Minute+10*time.Second), print)

	// Past it: late, for the caller's late-data output.
	w.Advance(t0.Add(90*time.Second), print)
	st, _ = w.Add("u-2", t0.Add(45*time.Second), "login_failed")
	fmt.Println(st)

	w.Flush(print)
	fmt.Printf("%+v\n", w.Stats())
	// Output:
	// u-1 [2026-11-26T10:00:00.000Z, 2026-11-26T10:01:00.000Z) 2 update: false
	// u-2 [2026-11-26T10:00:00.000Z, 2026-11-26T10:01:00.000Z) 1 update: false
	// update
	// u-2 [2026-11-26T10:00:00.000Z, 2026-11-26T10:01:00.000Z) 2 update: true
	// late
	// u-1 [2026-11-26T10:01:00.000Z, 2026-11-26T10:02:00.000Z) 1 update: false
	// {Watermark:2026-11-26 10:01:30 +0000 UTC OpenWindows:0 Keys:0 Added:5 Fired:3 Updates:1 Late:1 Full:0}
}

// Per-user sessions that close after 5 minutes without activity.
func ExampleSession() {
	w, err := window.New[string](window.Config[time.Time, []time.Time]{
		Assigner: window.Session(5 * time.Minute),
		Add:      func(s *[]time.Time, t time.Time) { *s = append(*s, t) },
		Merge:    func(dst *[]time.Time, src []time.Time) { *dst = append(*dst, src...) },
	})
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	// Minutes after 10:00. The item at 8 touches the sessions [0, 8) and
	// [12, 17) and merges them; the one at 30 starts a new session.
	for _, m := range []time.Duration{0, 3, 12, 30, 8} {
		t := t0.Add(m * time.Minute)
		w.Add("u-1", t, t)
	}
	w.Flush(func(r window.Result[string, []time.Time]) {
		fmt.Println(r.Key, r.Window, "events:", len(r.State))
	})
	// Output:
	// u-1 [2026-11-26T10:00:00.000Z, 2026-11-26T10:17:00.000Z) events: 4
	// u-1 [2026-11-26T10:30:00.000Z, 2026-11-26T10:35:00.000Z) events: 1
}

// Two Kafka partitions; partition 1 stalls and, after the idle timeout,
// stops holding the watermark back.
func ExampleWatermarks() {
	clock := &fakeClock{now: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	wm, err := window.NewWatermarks(window.WatermarkConfig{
		OutOfOrderness: 2 * time.Second,
		IdleTimeout:    time.Minute,
		Clock:          clock, // rdr.SystemClock in production
	})
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	fmt.Println("none yet:", wm.Current().IsZero())

	wm.Observe(0, t0.Add(10*time.Second))
	wm.Observe(1, t0.Add(5*time.Second))
	fmt.Println(wm.Current().Format(time.TimeOnly + ".000")) // 5s − 2s − 1ms

	clock.Advance(30 * time.Second)
	wm.Observe(0, t0.Add(40*time.Second))
	fmt.Println(wm.Current().Format(time.TimeOnly + ".000")) // partition 1 holds it

	clock.Advance(30 * time.Second)
	fmt.Println(wm.Current().Format(time.TimeOnly + ".000")) // partition 1 idle
	// Output:
	// none yet: true
	// 09:00:02.999
	// 09:00:02.999
	// 09:00:37.999
}

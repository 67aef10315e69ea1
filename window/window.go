package window

import (
	"fmt"
	"math"
	"time"
)

// Window is the half-open event-time interval [Start, End): it holds the
// instants t with Start <= t < End. Its last instant, at millisecond
// resolution, is End − 1ms ([Window.MaxTimestamp]); the window fires when the
// watermark reaches it.
//
// Windows handed out by this package are in UTC and have whole-millisecond
// bounds.
type Window struct {
	Start, End time.Time
}

// MaxTimestamp returns the window's last instant, End − 1ms. A window fires
// when the watermark reaches MaxTimestamp, and takes no more items once the
// watermark has reached MaxTimestamp + AllowedLateness.
func (w Window) MaxTimestamp() time.Time { return w.End.Add(-time.Millisecond) }

// String formats the window as "[start, end)" with RFC 3339 millisecond
// timestamps.
func (w Window) String() string {
	const layout = "2006-01-02T15:04:05.000Z07:00"
	return "[" + w.Start.Format(layout) + ", " + w.End.Format(layout) + ")"
}

type kind uint8

const (
	kindNone kind = iota
	kindTumbling
	kindHopping
	kindSession
)

// MaxHopWindows is the most windows one item may belong to with a [Hopping]
// assigner: size/slide, rounded up, must not exceed it.
const MaxHopWindows = 1 << 16

// Assigner says which windows an item belongs to. Make one with [Tumbling],
// [Hopping] or [Session]; the zero Assigner is invalid. Sizes are checked by
// [Assigner.Validate] (and so by [New]): they must be positive whole numbers
// of milliseconds.
//
// An Assigner is a small value, safe to copy and to use concurrently.
type Assigner struct {
	kind        kind
	size, slide time.Duration
}

// Tumbling returns an assigner of fixed, non-overlapping windows of the
// given size, aligned to the Unix epoch: [0, size), [size, 2·size), … Each
// item belongs to exactly one window.
func Tumbling(size time.Duration) Assigner {
	return Assigner{kind: kindTumbling, size: size}
}

// Hopping returns an assigner of fixed windows of the given size that start
// every slide (Flink's sliding windows), aligned to the Unix epoch: [k·slide,
// k·slide+size). An item belongs to every window that contains it, about
// size/slide of them. slide must not be longer than size (no item may fall
// between windows), and size/slide must not exceed [MaxHopWindows].
func Hopping(size, slide time.Duration) Assigner {
	return Assigner{kind: kindHopping, size: size, slide: slide}
}

// Session returns an assigner of per-key session windows: an item at t opens
// the window [t, t+gap), and the windows of one key that overlap or touch
// (Flink's rule: [a, b) and [b, c) merge into [a, c)) are merged into one. A
// session therefore ends once gap passes without items for its key.
// Session windows need Config.Merge.
func Session(gap time.Duration) Assigner {
	return Assigner{kind: kindSession, size: gap}
}

// Validate reports whether the assigner is usable. The error matches
// [ErrInvalidConfig] and says what is wrong.
func (a Assigner) Validate() error {
	if p := a.problem(); p != "" {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, p)
	}
	return nil
}

func (a Assigner) problem() string {
	switch a.kind {
	case kindTumbling:
		return checkMillis("tumbling size", a.size)
	case kindHopping:
		if p := checkMillis("hopping size", a.size); p != "" {
			return p
		}
		if p := checkMillis("hopping slide", a.slide); p != "" {
			return p
		}
		if a.slide > a.size {
			return fmt.Sprintf("hopping slide %v is longer than size %v (items would fall between windows)", a.slide, a.size)
		}
		if n := (a.size + a.slide - 1) / a.slide; n > MaxHopWindows {
			return fmt.Sprintf("hopping size %v / slide %v puts each item in %d windows, more than %d", a.size, a.slide, n, MaxHopWindows)
		}
		return ""
	case kindSession:
		return checkMillis("session gap", a.size)
	default:
		return "no assigner: use Tumbling, Hopping or Session"
	}
}

// checkMillis checks that d is a positive whole number of milliseconds.
func checkMillis(what string, d time.Duration) string {
	if d <= 0 {
		return fmt.Sprintf("%s must be positive, got %v", what, d)
	}
	if d%time.Millisecond != 0 {
		return fmt.Sprintf("%s %v is not a whole number of milliseconds", what, d)
	}
	return ""
}

// String describes the assigner, e.g. "tumbling(1s)", "hopping(1m0s, 10s)",
// "session(30s)".
func (a Assigner) String() string {
	switch a.kind {
	case kindTumbling:
		return fmt.Sprintf("tumbling(%v)", a.size)
	case kindHopping:
		return fmt.Sprintf("hopping(%v, %v)", a.size, a.slide)
	case kindSession:
		return fmt.Sprintf("session(%v)", a.size)
	default:
		return "none"
	}
}

// AppendWindows appends the windows an item at t belongs to and returns the
// extended slice: one window for Tumbling, every window containing t (latest
// start first) for Hopping, and [t, t+gap) — before any merging — for
// Session. It appends nothing for an invalid assigner. t is rounded down to the
// millisecond.
func (a Assigner) AppendWindows(dst []Window, t time.Time) []Window {
	if a.problem() != "" {
		return dst
	}
	ms := clampMillis(t)
	size := a.size.Milliseconds()
	switch a.kind {
	case kindTumbling:
		start := Align(ms, size)
		return append(dst, Window{Start: toTime(start), End: toTime(start + size)})
	case kindHopping:
		slide := a.slide.Milliseconds()
		for start := ms - floorMod(ms, slide); start > ms-size; start -= slide {
			dst = append(dst, Window{Start: toTime(start), End: toTime(start + size)})
		}
		return dst
	default: // kindSession
		return append(dst, Window{Start: toTime(ms), End: toTime(ms + size)})
	}
}

// Time is handled internally as int64 milliseconds since the Unix epoch.
// maxMillis bounds the event times accepted so that adding any
// time.Duration (at most ~9.2e12 ms) to them cannot overflow.
const (
	maxMillis   = 1 << 62
	maxSeconds  = maxMillis / 1000
	noWatermark = math.MinInt64
)

// millis converts t to epoch milliseconds (rounding down), or reports false
// when t is outside ±maxMillis.
func millis(t time.Time) (int64, bool) {
	if s := t.Unix(); s > maxSeconds || s < -maxSeconds {
		return 0, false
	}
	return t.UnixMilli(), true
}

// clampMillis is millis with out-of-range times moved to the nearest bound.
func clampMillis(t time.Time) int64 {
	switch s := t.Unix(); {
	case s > maxSeconds:
		return maxMillis
	case s < -maxSeconds:
		return -maxMillis
	}
	return t.UnixMilli()
}

func toTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// watermarkTime converts an internal watermark to the public form, where the
// zero time.Time means "no watermark yet".
func watermarkTime(ms int64) time.Time {
	if ms == noWatermark {
		return time.Time{}
	}
	return toTime(ms)
}

// Align returns the start of the window of length size that holds t, as
// [Tumbling] aligns them (to the Unix epoch; times before it too), with t
// and size in the same unit (nanoseconds, milliseconds…). size must be
// positive. Every package that needs a window's start uses it, so that
// they all agree with the windows.
func Align(t, size int64) int64 { return t - floorMod(t, size) }

func floorMod(a, b int64) int64 {
	r := a % b
	if r < 0 {
		r += b
	}
	return r
}

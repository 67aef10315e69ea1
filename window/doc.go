// Package window groups a stream of timestamped items into event-time
// windows per key and decides, from watermarks, when each window is complete
// — with the conventions of Apache Flink.
//
// Use it when results must follow event time (when something happened), not
// arrival time: counts per second or per minute, sliding rates, per-user
// sessions. Items may arrive out of order and late; a watermark says how far
// event time has progressed, and the allowed lateness says how long a
// finished window still takes corrections. The package is generic and
// depends on the standard library only.
//
// # Windows
//
// A [Window] is the half-open interval [Start, End). An [Assigner] says
// which windows an item belongs to:
//
//   - [Tumbling](size): fixed, non-overlapping windows aligned to the Unix
//     epoch, [0, size), [size, 2·size), …; one per item.
//   - [Hopping](size, slide): windows of length size starting every slide;
//     an item is in about size/slide of them.
//   - [Session](gap): per key, [t, t+gap) for an item at t; windows of one
//     key that overlap or touch are merged, so a session ends after gap
//     without items.
//
// # Keyed state
//
// [Windows] holds a state S per key and window, folded from items T by the
// functions in [Config] (Init, Add, and Merge for sessions). [Windows.Add]
// puts an item in its windows and returns a [Status]; [Windows.Advance]
// takes a new watermark and emits each window that is complete as a
// [Result]; [Windows.Flush] emits whatever is left at the end of the stream.
// Results come in a deterministic order: window end, then start, then the
// order in which the key's window was opened.
//
// Memory is bounded: at most Config.MaxWindows windows are open (past that,
// Add returns [ErrFull] and counts it), and a window is freed as soon as the
// watermark passes its allowed lateness. Adding to an open window does not
// allocate.
//
// # Watermarks
//
// [Watermarks] derives the watermark from the events of several sources
// (Kafka partitions, say): bounded out-of-orderness per source, the minimum
// over the active sources overall, and an idle timeout, measured with an
// injected [Clock], after which a silent source stops holding it back. The
// overall watermark never goes backwards. The zero time.Time stands for
// "no watermark yet".
//
// # Late data and updates
//
// Nothing is dropped silently. An item that arrives after its window fired
// but within Config.AllowedLateness updates the window, which is emitted
// again with Result.Update set (Add says [StatusUpdate]); a sink that keys
// results by window overwrites the earlier one. An item later than that is
// not added: Add says [StatusLate], counts it in [Stats], and the caller
// sends it to a late-data output.
//
// # Checkpoints
//
// [Windows.AppendState] writes what a Windows holds — its open windows
// with their states (encoded by a function the caller gives, such as
// aggregate's Set.AppendState), which have fired and which changed since,
// the watermark and the counters — and [Windows.RestoreState] loads it
// into a freshly built Windows of the same Assigner and AllowedLateness.
// Checkpoint with the input position (a Kafka offset), restore after a
// restart or a rebalance, and replay the input from that position: the
// results are the same windows, in the same order, with the same Update
// flags and states, and the same [Stats], as a run without the restart.
// Restoring is all or nothing; a bad checkpoint gets [ErrInvalidState].
//
// # Time resolution and Flink's conventions
//
// Times are handled in whole milliseconds since the Unix epoch, rounded down;
// finer parts are dropped. As in Flink, for a window [start, end):
//
//   - it fires when the watermark reaches end − 1ms ([Window.MaxTimestamp]);
//   - an item for it is late, and its state is freed, once the watermark has
//     reached end − 1ms + AllowedLateness;
//   - a bounded-out-of-orderness watermark is the highest event time seen
//     − the bound − 1ms;
//   - session windows [a, b) and [b, c) intersect and merge into [a, c).
//
// # Concurrency
//
// A [Windows] belongs to one goroutine, like a Flink operator; it is not
// safe for concurrent use. A [Watermarks] is safe for concurrent use.
package window

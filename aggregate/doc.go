// Package aggregate computes what rdr reports about a window of security
// events — the seed's getMetrics(timeRange) — with mergeable aggregators:
// partial results from several processors, or from consecutive windows,
// combine exactly (counts) or within a stated bound (sketches).
//
// Use a [Set] as the state of one window: [Set.Add] each event, [Set.Merge]
// partial Sets, [Set.Reset] to reuse one, and [Set.Metrics] for the
// snapshot ([Metrics], with its JSON form). Use a [Series] to keep the last
// few minutes of one-second windows and answer [Series.Metrics] for any
// range of them.
//
// # Aggregators
//
// Each aggregator has Add, Merge and Reset, and can be used on its own:
//
//   - [Count]: events, exact.
//   - [CountsBy]: count per key (event type, user, netip.Addr), exact;
//     [BySeverity]: count per severity, a [rdr.NumSeverities]uint64 array.
//   - [Distinct]: distinct keys, exact up to a threshold, then a HyperLogLog
//     sketch with a relative standard error of 0.81% ([DistinctStdError]).
//   - [TopK]: the heaviest keys in bounded memory (Space-Saving); a count
//     overestimates by at most N/capacity, and merging keeps that bound.
//   - [Rate]: events per second over a span of time.
//   - [Activity]: per-user event count, first and last seen, exact.
//
// # Merging
//
// Merge(A, B) gives the result of aggregating A's and B's events together:
// exactly for Count, CountsBy, BySeverity, Rate, Activity and Distinct below
// its threshold; with the same registers as a sketch fed both streams for
// Distinct above it; and with the bound stated on [TopK] for TopK. The
// package's tests check each one against aggregating the union directly.
//
// # Scale-out
//
// Processors in one consumer group each see some partitions, hence some
// users. Each one sends its partial [Set] of every window with
// [Set.MarshalBinary], a compact, versioned, bounded binary form (about
// 10 KiB for a busy one-second window); [Set.UnmarshalBinary] refuses
// anything else with [ErrCorrupt]. A [Global] combines the decoded
// partials: [Global.Put] stores each source's window, replacing an earlier
// emission of it, and [Global.Metrics] answers like [Series.Metrics] with
// the numbers one processor fed every event would report (exactly, or
// within the bounds above).
//
// # Checkpoints
//
// A processor that restarts resumes its open windows from a checkpoint:
// [Set.AppendState] writes a Set's full state and [Set.RestoreState] reads
// it back, so that the restored Set, fed the events that follow, gives
// exactly what the original would have (Metrics, User, MarshalBinary,
// merges). Unlike the partial encoding, which leaves out what grows with
// the traffic because it crosses the network once a window, the state
// keeps the per-user and per-IP tables and the top-K summaries as laid out
// in memory (about 130 KiB for a busy one-second window of 10,000 users);
// the two are not interchangeable.
// [Set.RestoreState] refuses anything else with [ErrInvalidState]. With
// the window package's Windows.AppendState, the states of all open windows
// go into one checkpoint.
//
// # Keys and memory
//
// Decoded events share one allocation for their strings, so every string
// key an aggregator keeps (user IDs, event types) is cloned with
// strings.Clone when first inserted; aggregators never pin a decoded
// buffer. A Set costs about 100 bytes per distinct user (ID included) and
// about 70 per distinct IP: one million users in one Set take about 100 MiB
// of heap (a test holds it under 256 MiB).
//
// # Concurrency
//
// Aggregators and Sets are not safe for concurrent use: each belongs to the
// goroutine that adds to it (in the pipeline, to the window that holds it),
// and a snapshot (Metrics) is a plain value handed to others. [Series] and
// [Global] are the exceptions: a mutex guards each, so a pipeline can add
// to it while HTTP handlers read metrics from it.
package aggregate

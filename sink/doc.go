// Package sink stores what the pipeline computes — window results and
// alerts — and reads it back as history.
//
// A [Sink] takes closed windows ([WindowResult]) and alerts
// (anomaly.Alert). Use [NewInflux] to store them in InfluxDB, [NewMemory]
// to keep recent ones in memory (the embedded mode, tests), [NewPublisher]
// to send alerts to any Watermill publisher (a Kafka topic), and
// [NewWebhook] to POST alerts to a URL. Optional abilities are small
// interfaces found by type assertion: [Flusher], [HistoryReader] and
// [AlertStore].
//
// Every sink passes the conformance suite in package sinktest; a new sink
// is done when it does too:
//
//	sinktest.Run(t, sinktest.Features{}, func(t *testing.T) sinktest.Instance { … })
//
// # History
//
// A [HistoryReader] answers a [Query]: a metric ("events", "activeUsers",
// "alerts") over [Start, Stop) in intervals, optionally grouped by a tag
// (eventType, severity, rule) and filtered on exact tag values. The
// [Influx] sink answers with Flux, the [Memory] store natively; on the same
// data both give the same [History], point for point. Every series has one
// point per interval, at the interval's start; an interval without data is
// 0. Filter values are user input: they reach Flux only as escaped string
// literals and match byte for byte. Queries are bounded (at least
// MinInterval per point, at most MaxQueryPoints points); a bad one gets a
// [*QueryError] naming the parameter.
//
// # InfluxDB schema
//
// Window results are points timestamped at the window's end (nanosecond
// precision) and tagged with the input partition that produced them
// (WindowResult.Partition, omitted when "") and the writer, so re-writing
// a window (a replay, a late update, another processor taking the
// partition over) overwrites its points instead of adding to them; points
// of different partitions or writers add up.
//
//	measurement  tags                          fields (integers unless noted)
//	rdr_window   partition, writer             total, active_users, low, medium, high,
//	                                           critical, unknown (only when not 0),
//	                                           update (bool)
//	rdr_events   eventType, partition, writer  count
//	rdr_alerts   id, rule, severity        status ("firing"|"resolved"), key, group_by,
//	                                       message (strings); count, last_seen,
//	                                       resolved_at (Unix ns, 0 while firing);
//	                                       value, threshold, risk_score (floats);
//	                                       acked_at (Unix ns, once acknowledged)
//
// An alert is one point per alert ID, timestamped at its FirstSeen: its
// updates and its resolution overwrite that point, so counting points
// counts alerts. Severity is the rule's and does not change over an alert's
// life. AckAlert writes acked_at alone to the same point; InfluxDB merges
// fields, so the alert's later writes keep it.
//
// Summing active_users over partitions and writers is exact because Kafka
// keys events by userId: each user lives on one partition. The
// activeUsers history is, per interval, the largest per-window sum (with
// an interval equal to the window length, each window's distinct users).
//
// Tag values that line protocol cannot carry faithfully — empty, with a
// backslash or a control character, not UTF-8, or starting with "~b64:" —
// are stored as "~b64:" followed by their unpadded base64url encoding;
// History decodes them, and encodes filter values the same way. Everything
// else (quotes, spaces, commas, "|>", non-ASCII) is stored as it is. NaN
// and infinite floats are left out; integers above 2⁶³−1 are clamped.
//
// Against InfluxDB 1.8 use the v2 compatibility API: Bucket
// "database/retention-policy" (e.g. "rdr/autogen"), Token "user:password"
// (anything when auth is off), Org ignored; Flux must be enabled
// (flux-enabled = true). Against 2.x: Org, Bucket and an API token.
//
// # Writes, batching and outages
//
// The [Influx] sink encodes each write into line protocol at once, in a
// buffer bounded by MaxPending points, and returns. One goroutine sends the
// buffer in batches of BatchSize points, gzip-compressed, at least every
// FlushInterval (200 ms by default, so a live view stays fresh), through
// the client's blocking write API. It does not use the client's
// asynchronous WriteAPI, whose retry buffer drops the oldest batches when
// it overflows or a batch expires and whose writes never block: the sink
// owns its buffer so that it can block instead of drop. A failed request
// (network error, timeout, 408, 429, 5xx) is retried with exponential
// backoff and jitter until it succeeds; meanwhile the buffer fills, and
// once it is full writes wait — backpressure — until there is room or their
// context ends ([ErrBackpressure]): the pipeline pauses instead of losing
// data. Other answers (400, 401, 404) are not retried; those points are
// counted as rejected ([ErrRejected]). Every failure shows in Stats and, if
// a Logger is set, in the log.
//
// # Concurrency and ownership
//
// Every type here is safe for concurrent use. Sinks do not keep the values
// passed to them. Close flushes, waits for the goroutines the sink started,
// and is safe to call twice.
package sink

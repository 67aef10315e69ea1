// Package sink stores what the pipeline computes — window results and
// alerts — and reads it back as history.
//
// A [Sink] takes closed windows ([WindowResult]) and alerts
// (anomaly.Alert). Use [NewInflux] to store them in InfluxDB, [NewMemory]
// to keep recent ones in memory (the embedded mode, tests), [NewPublisher]
// to send alerts to any Watermill publisher (a Kafka topic), and
// [NewWebhook] to POST alerts to a URL. Optional abilities are small
// interfaces found by type assertion: [Flusher], [HistoryReader],
// [AlertStore] and [SilenceStore].
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
// [Influx] sink answers with InfluxQL over the v1 /query endpoint (the one
// query path InfluxDB 1.8, 2.x and 3.x all serve), the [Memory] store
// natively; on the same data both give the same [History], point for
// point. Every series has one point per interval, at the interval's start;
// an interval without data is 0. Filter values are user input: they reach
// a query only as bound parameters (1.8, 2.x) or escaped string literals
// (3.x, which does not bind them), and match byte for byte; identifiers
// are the package's own constants. Queries are bounded (at least
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
//	                                       message, tags, silenced_by (strings); count,
//	                                       last_seen, resolved_at (Unix ns, 0 while
//	                                       firing); value, threshold, risk_score
//	                                       (floats); acked_at (Unix ns, once acknowledged)
//	rdr_silence  id                        matchers (JSON), created_by, comment (strings);
//	                                       starts_at, ends_at, created_at (Unix ns)
//
// An alert is one point per alert ID, timestamped at its FirstSeen: its
// updates and its resolution overwrite that point, so counting points
// counts alerts. Severity is the rule's and does not change over an alert's
// life. AckAlert writes acked_at alone to the same point; InfluxDB merges
// fields, so the alert's later writes keep it.
//
// An alert's tags are joined by commas ("attack.credential-access,attack.t1110"),
// or written as a JSON array when a tag is empty, holds a comma or a
// control character, or the first starts with "["; silenced_by is the
// silence that matched the alert's latest write, "" for none.
//
// A silence is one point per write ([Influx.WriteSilence]: made, expired),
// timestamped when it was written; Silences reads the latest point of each
// ID. Silence points share the bucket's retention: with one shorter than a
// silence's life, the silence is forgotten.
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
// The partition tag is always written ("~b64:", the encoding of "", when the
// input is not partitioned): InfluxDB 3 fixes a table's tags at its first
// write and refuses points with another tag. Windows written by a version
// before this one carry no partition tag when the input was not
// partitioned, so re-writing such a window (a replay) now adds a point
// beside the old one instead of replacing it.
//
// # Roll-ups
//
// With InfluxConfig.RollUp, the sink also keeps 1-minute roll-ups:
//
//	measurement    tags                          fields
//	rdr_window_1m  writer ("rollup")             the rdr_window fields but update, summed over
//	                                             partitions and writers; active_users is the
//	                                             minute's largest window (summed over them)
//	rdr_events_1m  eventType, writer ("rollup")  count, summed over partitions and writers
//
// Roll-up points are timestamped at the minute's end, like a 1-minute window.
//
// About a second after a minute's windows have been sent, the sink reads the
// minute back (all writers' and partitions' windows stored by then) and
// writes its roll-up, replacing the last one; a sink that starts rolls up
// what a stopped one left (from 10 minutes before the newest roll-up to the
// newest window, at most 7 days). History whose Start and Interval are whole
// minutes reads the roll-ups up to the newest one or the first minute this
// sink has not rolled up yet, and the windows after it: the same answer, from
// 1,440 points per series a day instead of one per window. Not guaranteed:
// with several sinks rolling the same minute at once, a roll-up read before
// another sink's windows were stored can be written last (until that minute
// is written again).
//
// Retention: windows and roll-ups share the sink's bucket, so one retention
// covers both; set it for the longest history the dashboard should show.
// The windows are most of the size: with 1-second windows a day is 86,400
// points per partition and event type, its roll-ups 1,440 per event type.
// A sink with RollUp off writes no roll-ups and reads only windows.
//
// # Servers
//
// Against InfluxDB 1.8 (tested on 1.8.10): Bucket "database/retention-policy"
// (e.g. "rdr/autogen"), Token "user:password" (anything when auth is off),
// Org ignored; Flux is not needed. Against 2.x (tested on 2.7.12): Org,
// Bucket and an API token; history reads through the bucket's DBRP mapping
// (2.7 gives every bucket the virtual mapping "bucket/autogen"). Against 3.x
// (Core, Enterprise): Bucket is the database, Token a database token; tested
// only against a fake that follows 3.x's documented write and v1 query APIs,
// not against a 3.x server.
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

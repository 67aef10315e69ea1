// Package pipeline wires rdr's packages into a running system on Watermill:
// a [Processor] owns a message.Router that decodes the input (one event, a
// JSON array or NDJSON per message), keeps one task per input partition
// (its windows, aggregates, detection state and watermark), and sends
// window results and alerts to sinks, live messages to a [Broadcaster],
// and alerts, dead letters, late events and window partials to a Watermill
// publisher. A [GlobalView] merges the partials of every processor in a
// consumer group.
//
// Any Watermill Pub/Sub works; the Kafka helpers ([NewKafkaSubscriber],
// [NewKafkaViewSubscriber], [NewKafkaPublisher], [NewKafkaCheckpoints], [CreateTopic],
// [CreateCheckpointTopic], [PartitionBatches], [PartitionOf]) configure
// Sarama for this use. See ExampleNew for a processor in one function.
//
// # Tasks
//
// State is split by input partition, as Kafka Streams splits it into
// tasks: a task holds the windows, aggregates and detector state of one
// partition's events, its watermark (the partition's newest event time
// minus OutOfOrderness), and the offset of its next message. Tasks apply
// in parallel, on as many cores as there are partitions held; what must
// be global — the live metrics, [Processor.Metrics] — is merged from the
// tasks' window results, as a [GlobalView] merges processors. Window
// results are per partition: a sink stores them under the partition
// ([sink.WindowResult].Partition), so whichever processor re-writes
// partition 3's window writes the same point.
//
// Per-user rules see all of a user's events when the input is keyed by
// user: producers partition by userId as Kafka's Java client does
// ([PartitionOf], murmur2; kcat: -X partitioner=murmur2_random). Rules
// grouped by another field (password-spraying, by IP) need
// Config.RepartitionTopic: input tasks forward the events those rules
// need, keyed by that field, and tasks of the repartition topic run them,
// so every value's events meet in one task wherever it runs (without it
// each task judges them on its own partition's events). For an input not
// keyed by user, Config.UnkeyedInput sends every rule that way.
//
// # Late events and idleness
//
// An event too late for its window (past the window's end plus
// AllowedLateness, by its task's watermark) is counted, sent to the late
// topic, and still run through detection on its own event time: windows
// may refuse it, detection does not.
//
// An idle partition's watermark follows the wall clock, so that the last
// windows fire when traffic stops. Idle means that the source has nothing
// more: nothing arrived for IdleTimeout, and a subscriber that can tell
// ([EndReporter]: [KafkaSubscriber] asks the broker for the high-water
// marks every 500 ms; [Queue] knows its own) said since the last message
// that the partition ends where the task stands. Cut off from the broker,
// rebalancing, or blocked on a sink, a task holds its watermark. For
// replays use DisableIdleAdvance. For an in-process input keep to [Queue]:
// Watermill's GoChannel lets a later Publish overtake an earlier one.
//
// # Checkpoints and exact recovery
//
// With Config.Checkpoints (for Kafka, [KafkaCheckpoints]: a compacted
// topic) and a [PartitionedSubscriber] ([KafkaSubscriber]), every
// CheckpointInterval, when a partition is revoked and when the processor
// stops, each task is checkpointed in this order:
//
//  1. Under the task's lock, its state S and the offset k of its next
//     message are taken together: S is exactly the effect of the
//     partition's messages before k.
//  2. Everything the task produced before — window results, alerts, dead
//     letters, late events, partials — has been handed to the sinks and
//     publishers (a task's outputs go out in order, so this is waiting for
//     the outputs collected before step 1), and the sinks are flushed
//     (sink.Flusher): those outputs are durable.
//  3. The checkpoint (S, k) is saved.
//  4. Offset k is committed for the consumer group (for monitoring; the
//     checkpoint's offset is what a restore resumes from).
//
// A processor that is assigned the partition loads the latest checkpoint,
// restores S and reads from k on; without a checkpoint it starts empty
// from the group's offset. Why that is exact, whenever a crash comes:
//
//   - Before step 3 completes, the previous checkpoint (S′, j) with j ≤ k is
//     in force: messages j…k−1 are applied again to S′, producing again
//     the outputs they produced. Window results replace the same points
//     (same partition, same window), alerts the same alerts (the engine is
//     deterministic: same events, same alert IDs and states); the outputs of
//     messages before j were durable at step 2 of that checkpoint.
//   - After step 3, restoring (S, k) needs nothing before k.
//   - Input is never skipped: the group's offset is never ahead of a saved
//     checkpoint (step 4 follows step 3), and a restore starts at the
//     checkpoint's offset, reading past anything before it.
//   - A sink that cannot flush (InfluxDB down) fails step 2: no checkpoint,
//     no commit, and a crash then replays from the last good checkpoint.
//
// What is replayed is produced again: a consumer of the alerts, dead-letter
// and late topics sees duplicates after a crash. Their message UUIDs are
// stable (an alert state's "<id>-<status>-<count>", a dead letter's or late
// event's "TOPIC/PARTITION@OFFSET/KIND INDEX"), so consumers drop them by
// UUID. The repartition topic's records name their source partition,
// offset and item, and a repartition task, whose checkpoint holds the last
// position applied per source partition, reads past a replay's duplicates:
// its rules see each event once, in the order of the topic. At a graceful
// stop, each task's open windows are fired to the sinks
// after its checkpoint: their partial results are visible, and the next
// owner, restoring the windows still open, overwrites them with the
// complete ones.
//
// Not covered: the live view (WebSocket) and the processor's counters
// start anew with the process; a checkpoint that cannot be restored (of
// another version, or damaged) is logged and counted, and that partition
// starts empty from the group's offset; state whose checkpoint was never
// saved (CheckpointInterval of it at most) is rebuilt by replay, not lost.
//
// # Where things are
//
// One file per job:
//
//	processor.go       the Processor: New, Run, Close and the shutdown order
//	config.go          Config, its defaults and validation; Partition (how a
//	                   message's partition and offset are read: Kafka's by default)
//	apply.go           each message to its partition's task, in order
//	task.go            a task: its windows, detectors and state (snapshot, restore)
//	watermark.go       event time: idle partitions and the processor's watermark
//	emit.go            outputs of a task, in order: sinks, hub, side messages
//	live.go            the live view: metrics published to the Broadcaster
//	assign.go          partitions assigned (restored) and revoked (checkpointed)
//	checkpoint.go      checkpoints: the store interface and the save-then-commit order
//	kafkacheckpoint.go checkpoints in a compacted Kafka topic
//	kafka.go           Sarama settings, topics, the Kafka publisher and partitioner
//	kafkasub.go        the Kafka subscriber: one partition's messages in order
//	ends.go            whether a partition is at its end (EndReporter)
//	queue.go           Queue, the ordered, bounded in-process input
//	sidelog.go         SideLog: the newest dead letters and late events, counted
//	global.go          GlobalView: the merge of every processor's partials
//	stats.go           counters and MetricsReader
//	metrics.go         Prometheus metrics
//	errors.go          the errors to match with errors.Is
package pipeline

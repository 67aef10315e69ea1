// Package pipeline wires rdr's packages into a running system on Watermill:
// a [Processor] owns a message.Router that decodes the input (one event, a
// JSON array or NDJSON per message), keeps per-partition watermarks, adds
// events to tumbling event-time windows, runs the detection rules, and
// sends window results and alerts to sinks, live messages to a
// [Broadcaster], and alerts, dead letters, late events and window partials
// to a Watermill publisher. A [GlobalView] merges the partials of every
// processor in a consumer group.
//
// Any Watermill Pub/Sub works; the Kafka helpers ([NewKafkaSubscriber],
// [NewKafkaPublisher], [CreateTopic], [PartitionBatches], [PartitionOf])
// configure Sarama for this use. See ExampleNew for a processor in one
// function, and the README's "Delivery guarantees" for what a stop or a
// crash does to the results.
package pipeline

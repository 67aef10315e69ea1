// Package benchmarks holds rdr's end-to-end benchmarks: real Apache Kafka →
// pipeline.Processor (default rules, live hub) → InfluxDB, measured for
// throughput and for latency from produce to WebSocket delivery.
//
// They need the services of scripts/services.sh and skip without them:
//
//	scripts/services.sh start all
//	eval "$(scripts/services.sh env)"
//	go test -run '^$' -bench . -benchtime 1x ./benchmarks
//	go test -run '^$' -bench EndToEnd -benchtime 1x ./benchmarks -rdr.events 500000
//
// Each iteration of BenchmarkEndToEnd pre-produces rdr.events events (not
// timed) into a fresh 6-partition topic, NDJSON-batched about 1,000 events a
// record the way pipeline.PartitionBatches does, and then times a Processor
// from its start until it has applied every event and closed, which flushes
// the last windows to InfluxDB. BenchmarkLatency sends rdr.latency-rate
// events a second (20,000) for rdr.latency-for, after one second of
// warm-up, while the processor runs, one event a record (records=1) and
// the events of each 10 ms in one record a partition (records=batched),
// and measures, for the events the processor samples to the
// hub's events topic, the time from produce (the event's timestamp) to
// receipt by a WebSocket client.
//
// BenchmarkSuite measures what users run: the reference app's wiring
// (default rules, live hub, partials read back by a GlobalView, a
// repartition topic, checkpoints every 5 s, InfluxDB with roll-ups) on a
// backlog of rdr.suite-events events (300,000), for records of one event
// and of 500, with quiet traffic and with an alert storm (5,000 users, a
// random address per event). It reports events/s, CPU per event,
// allocs/event, the alert messages per 100 events and the events lost to
// lateness:
//
//	go test -run '^$' -bench Suite -benchtime 1x ./benchmarks -rdr.suite-events 300000
//
// -rdr.suite-cpuprofile FILE writes a CPU profile of each sub-benchmark's
// timed part (the processor, not the producer); -rdr.suite-memprofile FILE
// writes allocation profiles at its start and end, for pprof -diff_base.
//
// The side-by-side with Telegraf and Flink is benchmarks/peers/run.sh (its
// README says how each peer is built and configured): the reference app,
// not a benchmark function, on one topic shared with the peers.
package benchmarks

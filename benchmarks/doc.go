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
// the last windows to InfluxDB. BenchmarkLatency sends 20,000 events a
// second for rdr.latency-for, after one second of warm-up, while the
// processor runs, and measures, for the events the processor samples to the
// hub's events topic, the time from produce (the event's timestamp) to
// receipt by a WebSocket client.
package benchmarks

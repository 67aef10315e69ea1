package benchmarks_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/pipeline"
)

// BenchmarkCheckpointMillionKeys saves the detection state of the default
// rules holding 1,000,000 users (each with a login from an address and a
// privilege change: first-seen, count and risk state) to a compacted
// Kafka topic and loads and restores it, as a processor does when it
// checkpoints a task and when another takes the partition over. It reports
// the checkpoint's size and each step's time.
func BenchmarkCheckpointMillionKeys(b *testing.B) {
	s := needServices(b)
	const users = 1_000_000
	engine, err := anomaly.NewEngine(anomaly.DefaultRules(), anomaly.Config{MaxFuture: -1})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i := range users {
		at := t0.Add(time.Duration(i) * time.Microsecond)
		user := fmt.Sprintf("u-%07d", i)
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		engine.Process(rdr.Event{Time: at, Type: "login_failed", UserID: user, IP: ip, Severity: rdr.SeverityMedium}, nil)
		engine.Process(rdr.Event{Time: at, Type: "login_success", UserID: user, IP: ip, Severity: rdr.SeverityLow}, nil)
	}
	engine.Advance(t0.Add(users*time.Microsecond), nil)
	b.Logf("tracked keys: %d", engine.Stats().TrackedKeys)

	kc := pipeline.KafkaConfig{Brokers: s.brokers, ConsumerGroup: "bench-cp"}
	topic := uniqueName("rdr-bench-cp")
	if err := pipeline.CreateCheckpointTopic(kc, topic, 1); err != nil {
		b.Fatal(err)
	}
	store, err := pipeline.NewKafkaCheckpoints(pipeline.KafkaCheckpointsConfig{Kafka: kc, Topic: topic})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	var size int
	var encode, save, load, restore time.Duration
	b.ReportAllocs()
	for i := range b.N {
		start := time.Now()
		state, err := engine.AppendState(nil)
		if err != nil {
			b.Fatal(err)
		}
		encode += time.Since(start)
		size = len(state)

		start = time.Now()
		if err := store.Save(ctx, pipeline.Checkpoint{Topic: "in", Partition: 0, Offset: int64(i), State: state}); err != nil {
			b.Fatal(err)
		}
		save += time.Since(start)

		start = time.Now()
		cp, ok, err := store.Load(ctx, "in", 0)
		if err != nil || !ok || cp.Offset != int64(i) {
			b.Fatalf("load: %v %v %d", err, ok, cp.Offset)
		}
		load += time.Since(start)

		start = time.Now()
		fresh, err := anomaly.NewEngine(anomaly.DefaultRules(), anomaly.Config{MaxFuture: -1})
		if err != nil {
			b.Fatal(err)
		}
		if err := fresh.RestoreState(cp.State); err != nil {
			b.Fatal(err)
		}
		restore += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(float64(size), "state-bytes")
	b.ReportMetric(float64(size)/users, "bytes/user")
	b.ReportMetric(encode.Seconds()/n, "encode-s")
	b.ReportMetric(save.Seconds()/n, "save-s")
	b.ReportMetric(load.Seconds()/n, "load-s")
	b.ReportMetric(restore.Seconds()/n, "restore-s")
}

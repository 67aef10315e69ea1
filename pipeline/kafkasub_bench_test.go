package pipeline

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rdr-go/rdr"
)

// BenchmarkKafkaSubscriberBacklog reads a backlog of 200,000 records of one
// event each (rdr's publisher's records: snappy, Watermill headers, keyed by
// user, 6 partitions) from a real broker (RDR_KAFKA_BROKERS) with a
// KafkaSubscriber delivering batches as the processor takes them, each
// acknowledged at once: the input's share of the processor's cost, without
// the processing. It reports records/s and the bytes and allocations per
// record, with sarama's MaxDecompressedBatchSize as this package sets it
// (decompressedBatchLimit) and as sarama leaves it (0: unbounded, its
// snappy decoding regrows the batch chunk by chunk).
func BenchmarkKafkaSubscriberBacklog(b *testing.B) {
	brokers := os.Getenv("RDR_KAFKA_BROKERS")
	if brokers == "" {
		b.Skip(`RDR_KAFKA_BROKERS not set: run scripts/services.sh start kafka; eval "$(scripts/services.sh env)"`)
	}
	const records = 200_000
	cfg := KafkaConfig{Brokers: strings.Split(brokers, ",")}
	topic := fmt.Sprintf("rdr-bench-sub-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	if err := CreateTopic(cfg, topic, 6); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { deleteTopic(cfg, topic) })
	fillOnePerRecord(b, cfg, topic, records)

	saved := sarama.MaxDecompressedBatchSize
	defer func() { sarama.MaxDecompressedBatchSize = saved }()
	for _, limit := range []int32{decompressedBatchLimit, 0} {
		name := "limit=1GiB"
		if limit == 0 {
			name = "limit=none"
		}
		b.Run(name, func(b *testing.B) {
			// No sarama client of this process is running between the
			// sub-benchmarks: each iteration's subscriber is closed.
			sarama.MaxDecompressedBatchSize = limit
			b.StopTimer()
			var elapsed time.Duration
			var mallocs, bytes uint64
			for i := range b.N {
				d, m, by := readBacklog(b, cfg, topic, fmt.Sprintf("%s-%s-%d", topic, name, i), records)
				elapsed, mallocs, bytes = elapsed+d, mallocs+m, bytes+by
			}
			total := float64(records * b.N)
			b.ReportMetric(total/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(mallocs)/total, "allocs/record")
			b.ReportMetric(float64(bytes)/total, "B/record")
		})
	}
}

// fillOnePerRecord produces n records of one event each to topic, as
// rdr's publisher writes them, a produce request of 3,000 at a time.
func fillOnePerRecord(b *testing.B, cfg KafkaConfig, topic string, n int) {
	b.Helper()
	pub, err := NewKafkaPublisher(cfg, watermill.NopLogger{})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	t0 := time.Now().Add(-time.Hour).UTC()
	msgs := make([]*message.Message, 0, 3000)
	for i := range n {
		ev := rdr.Event{Time: t0.Add(time.Duration(i) * time.Millisecond), Type: "login_success",
			UserID: fmt.Sprintf("u-%05d", i%5000), Severity: rdr.SeverityLow}
		m := message.NewMessage(watermill.NewShortUUID(), rdr.AppendJSON(nil, ev))
		m.Metadata.Set(MetaPartitionKey, ev.UserID)
		msgs = append(msgs, m)
		if len(msgs) == cap(msgs) || i == n-1 {
			if err := pub.Publish(topic, msgs...); err != nil {
				b.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
}

// readBacklog reads n records of topic with a new consumer group, acking
// each batch as it comes, and returns the time from Subscribe to the last
// and the allocations and bytes allocated meanwhile.
func readBacklog(b *testing.B, cfg KafkaConfig, topic, group string, n int) (time.Duration, uint64, uint64) {
	b.Helper()
	cfg.ConsumerGroup = group
	sub, err := NewKafkaSubscriber(cfg, watermill.NopLogger{})
	if err != nil {
		b.Fatal(err)
	}
	sub.setBatchMax(DefaultBatchRecords)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.StartTimer()
	t0 := time.Now()
	ch, err := sub.Subscribe(ctx, topic)
	if err != nil {
		b.Fatal(err)
	}
	got := 0
	for got < n {
		select {
		case m := <-ch:
			got += len(messageRecords(m).records)
			m.Ack()
		case <-ctx.Done():
			b.Fatalf("read %d of %d records", got, n)
		}
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	if err := sub.Close(); err != nil {
		b.Fatal(err)
	}
	return elapsed, after.Mallocs - before.Mallocs, after.TotalAlloc - before.TotalAlloc
}

func deleteTopic(cfg KafkaConfig, topic string) {
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_6_0_0
	if admin, err := sarama.NewClusterAdmin(cfg.Brokers, sc); err == nil {
		_ = admin.DeleteTopic(topic)
		_ = admin.Close()
	}
}

func TestDecompressionLimitIsSet(t *testing.T) {
	// What makes sarama decode snappy batches into a pooled buffer (see
	// decompressedBatchLimit); a program's own value would be kept.
	if sarama.MaxDecompressedBatchSize != decompressedBatchLimit {
		t.Fatalf("sarama.MaxDecompressedBatchSize = %d, want %d", sarama.MaxDecompressedBatchSize, decompressedBatchLimit)
	}
}

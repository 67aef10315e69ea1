// Command fill pre-fills one Kafka topic for the peer benchmark
// (benchmarks/peers/run.sh): N rdr events, one event per record, keyed by
// userId and put on the partition Kafka's Java client would choose
// (pipeline.PartitionOf), with the traffic shape of the benchmark suite's
// alert storm (stormMaker in benchmarks/suite_bench_test.go): 5,000 users,
// 8 event types, severity low or medium, a random 10.x.y.z address per
// event, event times spread evenly over the last N/20,000 seconds ending
// 10 s before now.
//
// It prints the truth to check the peers against, one fact a line:
//
//	type TYPE COUNT    (one line per event type)
//	users COUNT        distinct userIds
//	total N            records the broker acknowledged (= the sum of the partitions' end offsets)
//	first RFC3339      first and last event time
//	last RFC3339
//	seconds S          how long producing took
//
// fill -delete a,b,c deletes those topics instead (the harness's clean-up).
package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/pipeline"
)

var kinds = []string{"login_success", "login_failed", "logout", "file_access", "file_delete", "api_call", "password_reset", "mfa_challenge"}

var apps = []rdr.Metadata{rdr.MakeMetadata("app", "vpn"), rdr.MakeMetadata("app", "mail"), rdr.MakeMetadata("app", "crm"), rdr.MakeMetadata("app", "git")}

const users = 5000

func main() {
	brokers := flag.String("brokers", os.Getenv("RDR_KAFKA_BROKERS"), "comma-separated Kafka brokers (RDR_KAFKA_BROKERS)")
	topic := flag.String("topic", "", "topic to create and fill (must not exist yet)")
	partitions := flag.Int("partitions", 6, "partitions of the topic")
	extra := flag.String("extra-topics", "", "comma-separated further topics to create with the same partition count (e.g. TOPIC.partials)")
	events := flag.Int("events", 1_000_000, "events to produce")
	seed := flag.Uint64("seed", 7, "random seed")
	del := flag.String("delete", "", "comma-separated topics to delete, then exit")
	flag.Parse()
	if err := run(strings.Split(*brokers, ","), *topic, int32(*partitions), *extra, *events, *seed, *del); err != nil {
		fmt.Fprintln(os.Stderr, "fill:", err)
		os.Exit(1)
	}
}

func config() *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "rdr-peers-fill"
	c.Version = sarama.V3_6_0_0
	return c
}

func run(brokers []string, topic string, partitions int32, extra string, n int, seed uint64, del string) error {
	if len(brokers) == 0 || brokers[0] == "" {
		return errors.New("no brokers: set -brokers or RDR_KAFKA_BROKERS")
	}
	if del != "" {
		return deleteTopics(brokers, strings.Split(del, ","))
	}
	if topic == "" || n <= 0 || partitions <= 0 {
		return errors.New("-topic, -events > 0 and -partitions > 0 are required")
	}
	if err := createTopics(brokers, topic, extra, partitions); err != nil {
		return err
	}
	return fill(brokers, topic, partitions, n, seed)
}

func createTopics(brokers []string, topic, extra string, partitions int32) error {
	admin, err := sarama.NewClusterAdmin(brokers, config())
	if err != nil {
		return fmt.Errorf("connecting to Kafka: %w", err)
	}
	defer admin.Close()
	// The input topic must be new: a refill would double the counts.
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false); err != nil {
		return fmt.Errorf("creating %s: %w", topic, err)
	}
	for _, t := range strings.Split(extra, ",") {
		if t == "" {
			continue
		}
		err := admin.CreateTopic(t, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("creating %s: %w", t, err)
		}
	}
	return nil
}

func deleteTopics(brokers, topics []string) error {
	admin, err := sarama.NewClusterAdmin(brokers, config())
	if err != nil {
		return fmt.Errorf("connecting to Kafka: %w", err)
	}
	defer admin.Close()
	var errs []error
	for _, t := range topics {
		if t == "" {
			continue
		}
		if err := admin.DeleteTopic(t); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("deleting %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

func fill(brokers []string, topic string, partitions int32, n int, seed uint64) error {
	c := config()
	c.Producer.RequiredAcks = sarama.WaitForAll
	// Idempotent: a retried batch is not written twice, so the counts
	// printed are exactly what the topic holds (checked below as well).
	c.Producer.Idempotent = true
	c.Net.MaxOpenRequests = 1
	c.Producer.Retry.Max = 10
	c.Producer.Compression = sarama.CompressionSnappy // as rdr's own publisher
	c.Producer.Flush.Bytes = 1 << 20
	c.Producer.Flush.Frequency = 10 * time.Millisecond
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.ChannelBufferSize = 16384
	p, err := sarama.NewAsyncProducer(brokers, c)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	var acked, failed int
	var firstErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range p.Successes() {
			acked++
		}
	}()
	go func() {
		defer wg.Done()
		for e := range p.Errors() {
			failed++
			if firstErr == nil {
				firstErr = e.Err
			}
		}
	}()

	rng := rand.New(rand.NewPCG(seed, seed+1))
	step := time.Second / 20_000
	start := time.Now().UTC().Add(-time.Duration(n)*step - 10*time.Second)
	perType := make(map[string]int, len(kinds))
	seen := make([]bool, users)
	t0 := time.Now()
	var last time.Time
	for i := range n {
		t := start.Add(time.Duration(i) * step)
		u := rng.IntN(users)
		ev := rdr.Event{
			Time: t, Type: kinds[rng.IntN(len(kinds))], UserID: fmt.Sprintf("u-%05d", u),
			Severity: rdr.Severity(1 + rng.IntN(2)),
			IP:       netip.AddrFrom4([4]byte{10, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}),
			Metadata: apps[u%len(apps)],
		}
		perType[ev.Type]++
		seen[u] = true
		last = t
		p.Input() <- &sarama.ProducerMessage{
			Topic: topic, Partition: pipeline.PartitionOf(ev.UserID, partitions),
			Key: sarama.StringEncoder(ev.UserID), Value: sarama.ByteEncoder(rdr.AppendJSON(nil, ev)),
		}
	}
	p.AsyncClose()
	wg.Wait()
	elapsed := time.Since(t0)
	if failed > 0 {
		return fmt.Errorf("%d of %d records not acknowledged, first error: %w", failed, n, firstErr)
	}
	if acked != n {
		return fmt.Errorf("%d of %d records acknowledged", acked, n)
	}
	stored, err := endOffsets(brokers, topic)
	if err != nil {
		return err
	}
	if stored != int64(n) {
		return fmt.Errorf("topic %s holds %d records, want %d", topic, stored, n)
	}

	types := make([]string, 0, len(perType))
	for k := range perType {
		types = append(types, k)
	}
	sort.Strings(types)
	for _, k := range types {
		fmt.Printf("type %s %d\n", k, perType[k])
	}
	distinct := 0
	for _, s := range seen {
		if s {
			distinct++
		}
	}
	fmt.Printf("users %d\n", distinct)
	fmt.Printf("total %d\n", n)
	fmt.Printf("first %s\n", start.Format(time.RFC3339Nano))
	fmt.Printf("last %s\n", last.Format(time.RFC3339Nano))
	fmt.Printf("seconds %.2f\n", elapsed.Seconds())
	return nil
}

// endOffsets sums the newest offsets of topic's partitions: the records
// it holds, as the topic is new and nothing is deleted.
func endOffsets(brokers []string, topic string) (int64, error) {
	client, err := sarama.NewClient(brokers, config())
	if err != nil {
		return 0, fmt.Errorf("connecting to Kafka: %w", err)
	}
	defer client.Close()
	ps, err := client.Partitions(topic)
	if err != nil {
		return 0, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	var sum int64
	for _, part := range ps {
		o, err := client.GetOffset(topic, part, sarama.OffsetNewest)
		if err != nil {
			return 0, fmt.Errorf("end offset of %s/%d: %w", topic, part, err)
		}
		sum += o
	}
	return sum, nil
}

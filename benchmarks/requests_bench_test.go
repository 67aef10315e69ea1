package benchmarks_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rdr-go/rdr/pipeline"
)

// BenchmarkBrokerRequest measures what one send through rdr's
// KafkaPublisher (a produce request, acks=all, to a 6-partition topic)
// costs the broker in CPU, for sends of 6, 60 and 600 small messages: the
// figure behind sending a turn's side outputs in one request
// (MultiPublisher). It needs RDR_KAFKA_PID (scripts/services.sh env sets
// it): broker-cpu-us/send is the broker process's CPU over the loop.
func BenchmarkBrokerRequest(b *testing.B) {
	s := needServices(b)
	if _, ok := processBusy("RDR_KAFKA_PID"); !ok {
		b.Skip("RDR_KAFKA_PID not set: the broker's CPU cannot be read")
	}
	for _, n := range []int{6, 60, 600} {
		b.Run("messages="+strconv.Itoa(n), func(b *testing.B) {
			topic := s.newTopic(b, partitions)
			pub, err := pipeline.NewKafkaPublisher(pipeline.KafkaConfig{Brokers: s.brokers}, watermill.NopLogger{})
			if err != nil {
				b.Fatal(err)
			}
			defer pub.Close()
			payload := bytes.Repeat([]byte("x"), 200)
			msgs := make([]*message.Message, n)
			send := func() {
				for i := range msgs {
					msgs[i] = message.NewMessage(watermill.NewUUID(), payload)
					msgs[i].Metadata.Set(pipeline.MetaPartitionKey, "u-"+strconv.Itoa(i))
				}
				if err := pub.Publish(topic, msgs...); err != nil {
					b.Fatal(err)
				}
			}
			send() // metadata and connections
			k0, _ := processBusy("RDR_KAFKA_PID")
			b.ResetTimer()
			for b.Loop() {
				send()
			}
			b.StopTimer()
			k1, _ := processBusy("RDR_KAFKA_PID")
			if got := pub.Stats().Sends; got != uint64(b.N)+1 {
				b.Fatalf("%d sends, want %d", got, b.N+1)
			}
			b.ReportMetric(float64((k1-k0).Microseconds())/float64(b.N), "broker-cpu-us/send")
		})
	}
}

// BenchmarkInfluxRequest measures what one line-protocol write request
// (over a kept-alive connection, as the sink's) costs InfluxDB in CPU, for
// 10 and 1,000 points a request on one series, and 10 points on a new
// series each (as rdr_alerts writes each alert, tagged with its id). It needs RDR_INFLUX_PID: influxd-cpu-us/request is
// the server's CPU over the loop.
func BenchmarkInfluxRequest(b *testing.B) {
	s := needServices(b)
	if _, ok := processBusy("RDR_INFLUX_PID"); !ok {
		b.Skip("RDR_INFLUX_PID not set: InfluxDB's CPU cannot be read")
	}
	for _, series := range []string{"one", "new"} {
		for _, n := range []int{10, 1000} {
			if series == "new" && n == 1000 {
				continue // a database takes 1,000,000 series at most (max-series-per-database): 1,000 requests of it
			}
			b.Run(fmt.Sprintf("series=%s/points=%d", series, n), func(b *testing.B) {
				bucket := s.newBucket(b)
				u := s.influxURL + "/api/v2/write?" + url.Values{"bucket": {bucket}, "org": {s.org}, "precision": {"ns"}}.Encode()
				var body bytes.Buffer
				seq := 0
				write := func() {
					body.Reset()
					for range n {
						seq++
						tag := "id=same"
						if series == "new" {
							// InfluxDB 1.8 takes at most 100,000 values of
							// one tag key in a database (max-values-per-tag):
							// a key of its own every 90,000.
							tag = fmt.Sprintf("id%d=a%d", seq/90_000, seq)
						}
						fmt.Fprintf(&body, "probe,%s,rule=r v=%di %d\n", tag, seq, time.Unix(1_700_000_000, 0).UnixNano()+int64(seq))
					}
					req, err := http.NewRequest(http.MethodPost, u, &body)
					if err != nil {
						b.Fatal(err)
					}
					req.Header.Set("Authorization", "Token "+s.token)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					msg, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusNoContent {
						b.Fatalf("write: %s: %s", resp.Status, msg)
					}
				}
				write()
				i0, _ := processBusy("RDR_INFLUX_PID")
				b.ResetTimer()
				for b.Loop() {
					write()
				}
				b.StopTimer()
				i1, _ := processBusy("RDR_INFLUX_PID")
				b.ReportMetric(float64((i1-i0).Microseconds())/float64(b.N), "influxd-cpu-us/request")
			})
		}
	}
}

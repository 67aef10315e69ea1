package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/examples/internal/servicetest"
	"github.com/rdr-go/rdr/pipeline"
)

// Two dashboards in one consumer group on real Kafka: each processes its
// own partitions, /api/metrics answers for the whole group on both (the
// global view merges the partials every processor publishes), and
// ?scope=local answers for the one processor — the two local answers add up
// to the global one. Needs RDR_KAFKA_BROKERS (scripts/services.sh).
func TestKafkaGlobalViewAndLocalScope(t *testing.T) {
	brokers := os.Getenv("RDR_KAFKA_BROKERS")
	if brokers == "" {
		t.Skip(`RDR_KAFKA_BROKERS not set: run scripts/services.sh start kafka; eval "$(scripts/services.sh env)"`)
	}
	topic := fmt.Sprintf("rdr-dash-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	kc := pipeline.KafkaConfig{Brokers: strings.Split(brokers, ",")}
	require.NoError(t, pipeline.CreateTopic(kc, topic, 6))
	for _, side := range []string{".dlq", ".late", ".partials"} {
		require.NoError(t, pipeline.CreateTopic(kc, topic+side, 1))
	}
	kafka := func(instance string) func(*options) {
		return func(o *options) {
			o.kafkaBrokers, o.kafkaGroup, o.topic, o.partialsTopic, o.instance = brokers, topic, topic, topic+".partials", instance
			o.maxBody = 1 << 20
		}
	}
	a := server(t, kafka("a"))
	b := server(t, kafka("b"))
	servicetest.WaitAssigned(t, kc.Brokers, topic, topic, 2)

	// 600 events of 60 users, a second or two old; each user's events go
	// to one partition, so each user is counted by one processor.
	const users, perUser = 60, 10
	at := time.Now().Add(-2 * time.Second)
	var body []string
	for i := range users * perUser {
		body = append(body, ev("login_success", fmt.Sprintf("dash-user-%d", i%users), at.Add(time.Duration(i)*time.Millisecond)))
	}
	code, reply := do(t, http.MethodPost, a+"/api/events", "["+strings.Join(body, ",")+"]")
	require.Equal(t, http.StatusOK, code, "%v", reply)
	require.EqualValues(t, users*perUser, reply["accepted"])

	metrics := func(base, scope string) (total, active float64) {
		_, m := do(t, http.MethodGet, base+"/api/metrics?range=5m"+scope, "")
		total, _ = m["totalEvents"].(float64)
		active, _ = m["activeUsers"].(float64)
		return total, active
	}
	waitFor(t, func() bool {
		ta, _ := metrics(a, "")
		tb, _ := metrics(b, "")
		return ta == users*perUser && tb == users*perUser
	})
	for _, base := range []string{a, b} {
		total, active := metrics(base, "")
		assert.Equal(t, float64(users*perUser), total, "global total on %s", base)
		assert.Equal(t, float64(users), active, "global active users on %s", base)
	}
	totalA, activeA := metrics(a, "&scope=local")
	totalB, activeB := metrics(b, "&scope=local")
	t.Logf("local: a %v events of %v users, b %v events of %v users", totalA, activeA, totalB, activeB)
	assert.Equal(t, float64(users*perUser), totalA+totalB, "local totals add up to the global one")
	assert.Equal(t, float64(users), activeA+activeB, "each user is counted by one processor")
	assert.Positive(t, totalA, "a processed some partitions")
	assert.Positive(t, totalB, "b processed some partitions")
}

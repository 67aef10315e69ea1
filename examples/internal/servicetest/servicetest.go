// Package servicetest has helpers for the examples' integration tests
// against the real Kafka and InfluxDB servers of scripts/services.sh.
package servicetest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"
)

// WaitAssigned waits until consumer group group is stable with n members,
// each holding partitions of topic: from then on nothing is rebalanced
// while a test produces.
func WaitAssigned(t testing.TB, brokers []string, group, topic string, n int) {
	t.Helper()
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_6_0_0
	admin, err := sarama.NewClusterAdmin(brokers, sc)
	require.NoError(t, err)
	defer admin.Close()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		groups, err := admin.DescribeConsumerGroups([]string{group})
		require.NoError(t, err)
		assigned := 0
		if len(groups) == 1 && groups[0].State == "Stable" {
			for _, m := range groups[0].Members {
				if a, err := m.GetMemberAssignment(); err == nil && len(a.Topics[topic]) > 0 {
					assigned++
				}
			}
		}
		if assigned == n {
			return
		}
		if len(groups) == 1 {
			last = fmt.Sprintf("state %s, %d members, %d assigned", groups[0].State, len(groups[0].Members), assigned)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("consumer group %s: want %d members with partitions, have %s", group, n, last)
}

var dbSeq atomic.Int64

// InfluxDatabase makes a fresh database on the InfluxDB 1.8 server at
// influxURL for one test, drops it at cleanup, and returns its name.
func InfluxDatabase(t testing.TB, influxURL, token, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9, dbSeq.Add(1))
	InfluxQL(t, influxURL, token, fmt.Sprintf("CREATE DATABASE %q", name))
	t.Cleanup(func() { InfluxQL(t, influxURL, token, fmt.Sprintf("DROP DATABASE %q", name)) })
	return name
}

// InfluxQL runs one InfluxQL statement on the InfluxDB 1.8 server at
// influxURL; token is "user:password" (any works with auth off).
func InfluxQL(t testing.TB, influxURL, token, stmt string) {
	t.Helper()
	form := url.Values{"q": {stmt}}
	if u, p, ok := strings.Cut(token, ":"); ok {
		form.Set("u", u)
		form.Set("p", p)
	}
	client := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Post(influxURL+"/query", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err, stmt)
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", stmt, body.String())
}

// Package kafkatest has helpers for the examples' integration tests against
// a real Kafka broker.
package kafkatest

import (
	"fmt"
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

package aggregate_test

import (
	"encoding/json"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
)

func TestMetricsJSON(t *testing.T) {
	s := newSet(t, aggregate.SetConfig{TopN: 2})
	require.NoError(t, s.SetSpan(t0, t0.Add(10*time.Second)))
	for _, e := range tenEvents() {
		s.Add(e)
	}
	m := s.Metrics()
	got, err := json.Marshal(m)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"from": "2026-11-26T10:00:00Z",
		"to": "2026-11-26T10:00:10Z",
		"totalEvents": 10,
		"eventsPerSecond": 1,
		"activeUsers": 4,
		"topEventTypes": [{"key":"login","count":4},{"key":"login_failed","count":4}],
		"bySeverity": {"low":4,"medium":2,"high":3,"critical":1},
		"topUsers": [{"key":"u-2","count":4},{"key":"u-1","count":3}],
		"topIPs": [{"key":"10.0.0.1","count":4},{"key":"10.0.0.2","count":3}],
		"byType": {"api_call":1,"login":4,"login_failed":4,"logout":1}
	}`, string(got))
	// Field order is part of the documented form.
	assert.Regexp(t, `^\{"from":.*"to":.*"totalEvents":.*"eventsPerSecond":.*"activeUsers":.*"topEventTypes":.*"bySeverity":\{"low":4,"medium":2,"high":3,"critical":1\},"topUsers":.*"topIPs":.*"byType":.*\}$`, string(got))

	var back aggregate.Metrics
	require.NoError(t, json.Unmarshal(got, &back))
	assert.Equal(t, m, back, "JSON round trip")
}

func TestMetricsJSONEmpty(t *testing.T) {
	got, err := json.Marshal(newSet(t, aggregate.SetConfig{}).Metrics())
	require.NoError(t, err)
	assert.Equal(t, `{"totalEvents":0,"eventsPerSecond":0,"activeUsers":0,"topEventTypes":[],`+
		`"bySeverity":{"low":0,"medium":0,"high":0,"critical":0},"topUsers":[],"topIPs":[],"byType":{}}`, string(got))
}

func ExampleSet_Metrics() {
	s, _ := aggregate.NewSet(aggregate.SetConfig{TopN: 2})
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	_ = s.SetSpan(start, start.Add(2*time.Second))
	ips := []string{"203.0.113.7", "198.51.100.1"}
	for i, user := range []string{"u-1842", "u-7", "u-1842", "u-1842"} {
		e := rdr.Event{
			Time:     start.Add(time.Duration(i) * 100 * time.Millisecond),
			Type:     "login_failed",
			UserID:   user,
			IP:       netip.MustParseAddr(ips[i%2]),
			Severity: rdr.SeverityHigh,
		}
		if user == "u-7" {
			e.Type, e.Severity = "login", rdr.SeverityLow
		}
		s.Add(e)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s.Metrics())
	// Output:
	// {
	//   "from": "2026-11-26T10:00:00Z",
	//   "to": "2026-11-26T10:00:02Z",
	//   "totalEvents": 4,
	//   "eventsPerSecond": 2,
	//   "activeUsers": 2,
	//   "topEventTypes": [
	//     {
	//       "key": "login_failed",
	//       "count": 3
	//     },
	//     {
	//       "key": "login",
	//       "count": 1
	//     }
	//   ],
	//   "bySeverity": {
	//     "low": 1,
	//     "medium": 0,
	//     "high": 3,
	//     "critical": 0
	//   },
	//   "topUsers": [
	//     {
	//       "key": "u-1842",
	//       "count": 3
	//     },
	//     {
	//       "key": "u-7",
	//       "count": 1
	//     }
	//   ],
	//   "topIPs": [
	//     {
	//       "key": "198.51.100.1",
	//       "count": 2
	//     },
	//     {
	//       "key": "203.0.113.7",
	//       "count": 2
	//     }
	//   ],
	//   "byType": {
	//     "login": 1,
	//     "login_failed": 3
	//   }
	// }
}

func BenchmarkSetMetrics(b *testing.B) {
	s := newSet(b, aggregate.SetConfig{})
	for _, e := range newWorkload(100_000, 10_000).events(1<<16, 1) {
		s.Add(e)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Metrics()
	}
}

package sink_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/sink"
	"github.com/rdr-go/rdr/sink/sinktest"
)

func TestFluxStringEscapes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`login_failed`, `"login_failed"`},
		{`") |> drop(columns: ["_value"]) //`, `"\") |> drop(columns: [\"_value\"]) //"`},
		{`a\`, `"a\\"`},
		{`\"`, `"\\\""`},
		{"line\nbreak\r\t", `"line\x0abreak\x0d\x09"`},
		{"${r._value}", `"\x24{r._value}"`},
		{"nul\x00del\x7f", `"nul\x00del\x7f"`},
		{"bad\xffutf8", `"bad\xffutf8"`},
		{"ünïcödé ✓", `"ünïcödé ✓"`},
	} {
		assert.Equal(t, tc.want, sink.FluxString(tc.in), "%q", tc.in)
	}
}

// The Flux History sends for a hostile filter: the value is one string
// literal, the query's structure is fixed.
func TestBuildFluxHostileFilter(t *testing.T) {
	q := sink.Query{
		Metric: sink.MetricEvents, GroupBy: sink.ByEventType,
		Start: sinktest.Base.Add(7 * time.Second), Stop: sinktest.Base.Add(time.Hour), Interval: time.Minute,
		Filter: map[string]string{sink.ByEventType: `") |> drop(columns: ["_value"]) //`},
	}
	assert.Equal(t, `from(bucket: "rdr/autogen")
  |> range(start: 2026-11-26T10:00:07.000000001Z, stop: 2026-11-26T11:00:00.000000001Z)
  |> filter(fn: (r) => r._measurement == "rdr_events" and (r._field == "count"))
  |> filter(fn: (r) => r["eventType"] == "\") |> drop(columns: [\"_value\"]) //")
  |> timeShift(duration: -7000000001ns)
  |> window(every: 60000000000ns)
  |> group(columns: ["_start", "eventType"])
  |> sum()
`, sink.BuildFlux("rdr/autogen", q))

	q = sink.Query{
		Metric: sink.MetricAlerts, GroupBy: sink.ByRule,
		Start: sinktest.Base, Stop: sinktest.Base.Add(time.Hour), Interval: time.Minute,
		Filter: map[string]string{sink.BySeverity: "high", sink.ByRule: "a\\b\nc"},
	}
	assert.Equal(t, `from(bucket: "rdr/autogen")
  |> range(start: 2026-11-26T10:00:00Z, stop: 2026-11-26T11:00:00Z)
  |> filter(fn: (r) => r._measurement == "rdr_alerts" and (r._field == "count"))
  |> filter(fn: (r) => r["rule"] == "~b64:YVxiCmM")
  |> filter(fn: (r) => r["severity"] == "high")
  |> window(every: 60000000000ns)
  |> group(columns: ["_start", "rule"])
  |> count()
`, sink.BuildFlux("rdr/autogen", q), "values line protocol cannot carry are stored, and matched, base64-encoded")
}

func TestTagEncodingRoundTrip(t *testing.T) {
	for _, v := range append(sinktest.Hostile, "", "login_failed", "\xff\xfe", "~b64:") {
		enc := sink.EncodeTag(v)
		assert.Equal(t, v, sink.DecodeTag(enc), "%q via %q", v, enc)
	}
	assert.Equal(t, `") |> drop(columns: ["_value"]) //`, sink.EncodeTag(`") |> drop(columns: ["_value"]) //`), "stored as it is")
	assert.Equal(t, "~b64:YVw", sink.EncodeTag(`a\`))
	assert.Equal(t, "~b64:", sink.EncodeTag(""))
	assert.Equal(t, "~b64:fmI2NDp4", sink.EncodeTag("~b64:x"), "a value that looks encoded is encoded too")
}

// Every hostile value, written as a Flux literal by FluxString, reaches the
// real Flux engine as exactly that value: the query returns it as a column.
func TestFluxStringRoundTripOnServer(t *testing.T) {
	env := requireInflux(t)
	bucket := newBucket(t, env)
	ctx := context.Background()
	s := newInfluxClosed(t, influxConfig(env, bucket))
	require.NoError(t, s.WriteWindow(ctx, sinktest.Window(0, map[string]uint64{"login": 1})))
	require.NoError(t, s.Flush(ctx))

	c := influxdb2.NewClient(env.URL, env.Token)
	defer c.Close()
	values := append([]string{"nul\x00", "del\x7f", "${", "$", `\x41`, `\n`}, sinktest.Hostile...)
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n  |> range(start: 2026-11-26T00:00:00Z, stop: 2026-11-27T00:00:00Z)\n", sink.FluxString(bucket))
	b.WriteString("  |> filter(fn: (r) => r._measurement == \"rdr_window\" and r._field == \"total\")\n  |> map(fn: (r) => ({")
	for i, v := range values {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "v%d: %s", i, sink.FluxString(v))
	}
	b.WriteString("}))\n")
	res, err := c.QueryAPI(env.Org).Query(ctx, b.String())
	require.NoError(t, err, b.String())
	defer res.Close()
	require.True(t, res.Next(), "one row: %v", res.Err())
	for i, v := range values {
		assert.Equal(t, v, res.Record().ValueByKey(fmt.Sprintf("v%d", i)), "value %d", i)
	}
	assert.False(t, res.Next())
	require.NoError(t, res.Err())
}

func TestQueryValidate(t *testing.T) {
	ok := sink.Query{Metric: sink.MetricEvents, Start: sinktest.Base, Stop: sinktest.Base.Add(time.Hour), Interval: time.Minute}
	require.NoError(t, ok.Validate())
	for _, tc := range []struct {
		name   string
		mutate func(*sink.Query)
		want   string
	}{
		{"unknown metric", func(q *sink.Query) { q.Metric = "users" },
			`sink: invalid query: Metric: unknown metric "users" (want events, activeUsers or alerts)`},
		{"group not allowed", func(q *sink.Query) { q.Metric = sink.MetricActiveUsers; q.GroupBy = sink.ByEventType },
			`sink: invalid query: GroupBy: activeUsers cannot be grouped by "eventType" (want "")`},
		{"alerts by event type", func(q *sink.Query) { q.Metric = sink.MetricAlerts; q.GroupBy = sink.ByEventType },
			`sink: invalid query: GroupBy: alerts cannot be grouped by "eventType" (want "", "rule", "severity")`},
		{"no start", func(q *sink.Query) { q.Start = time.Time{} }, `sink: invalid query: Start: is required`},
		{"no stop", func(q *sink.Query) { q.Stop = time.Time{} }, `sink: invalid query: Stop: is required`},
		{"empty range", func(q *sink.Query) { q.Stop = q.Start },
			`sink: invalid query: Stop: must be after Start, got Start 2026-11-26T10:00:00Z and Stop 2026-11-26T10:00:00Z`},
		{"interval", func(q *sink.Query) { q.Interval = 500 * time.Millisecond },
			`sink: invalid query: Interval: must be at least 1s, got 500ms`},
		{"too many points", func(q *sink.Query) { q.Interval = time.Second; q.Stop = q.Start.Add(3 * time.Hour) },
			`sink: invalid query: Interval: 1s over 3h0m0s gives 10800 points, more than the maximum 10000`},
		{"filter key", func(q *sink.Query) { q.Filter = map[string]string{"userId": "u-1"} },
			`sink: invalid query: Filter[userId]: events cannot be filtered on "userId" (want "eventType")`},
		{"no filter on active users", func(q *sink.Query) { q.Metric = sink.MetricActiveUsers; q.Filter = map[string]string{"eventType": "x"} },
			`sink: invalid query: Filter[eventType]: activeUsers takes no filter`},
		{"event type with severity", func(q *sink.Query) { q.GroupBy = sink.BySeverity; q.Filter = map[string]string{"eventType": "x"} },
			`sink: invalid query: Filter[eventType]: events by severity cannot be filtered on eventType (severities are not stored per event type)`},
		{"long value", func(q *sink.Query) { q.Filter = map[string]string{"eventType": strings.Repeat("x", 5000)} },
			`sink: invalid query: Filter[eventType]: value is 5000 bytes, more than the maximum 4096`},
		{"invalid UTF-8", func(q *sink.Query) { q.Filter = map[string]string{"eventType": "a\xffb"} },
			`sink: invalid query: Filter[eventType]: value is not valid UTF-8`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := ok
			tc.mutate(&q)
			err := q.Validate()
			assert.EqualError(t, err, tc.want)
			assert.ErrorIs(t, err, sink.ErrInvalidQuery)
		})
	}
}

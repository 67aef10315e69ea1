package sink_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/sink"
	"github.com/rdr-go/rdr/sink/sinktest"
)

func TestInfluxQLStringEscapes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`login_failed`, `'login_failed'`},
		{`' OR 1=1 --`, `'\' OR 1=1 --'`},
		{`a\`, `'a\\'`},
		{`\'`, `'\\\''`},
		{"line\nbreak", `'line\nbreak'`},
		{`x" GROUP BY *`, `'x" GROUP BY *'`},
		{"ünïcödé ✓", `'ünïcödé ✓'`},
	} {
		assert.Equal(t, tc.want, sink.InfluxQLString(tc.in), "%q", tc.in)
	}
}

// The InfluxQL History sends for a hostile filter: the value is one bound
// parameter or one string literal, the query's structure is fixed.
func TestBuildInfluxQLHostileFilter(t *testing.T) {
	q := sink.Query{
		Metric: sink.MetricEvents, GroupBy: sink.ByEventType,
		Start: sinktest.Base.Add(7 * time.Second), Stop: sinktest.Base.Add(time.Hour), Interval: time.Minute,
		Filter: map[string]string{sink.ByEventType: `x' OR "eventType" != 'x`},
	}
	stmt, params := sink.BuildInfluxQL(q, false)
	assert.Equal(t, `SELECT sum("count") AS "v" FROM "rdr_events" WHERE time > '2026-11-26T10:00:07Z' AND time <= '2026-11-26T11:00:00Z'`+
		` AND "eventType" = 'x\' OR "eventType" != \'x' GROUP BY time(60000000000ns, 7000000001ns), "eventType" fill(none)`, stmt)
	assert.Nil(t, params)
	stmt, params = sink.BuildInfluxQL(q, true)
	assert.Equal(t, `SELECT sum("count") AS "v" FROM "rdr_events" WHERE time > '2026-11-26T10:00:07Z' AND time <= '2026-11-26T11:00:00Z'`+
		` AND "eventType" = $f0 GROUP BY time(60000000000ns, 7000000001ns), "eventType" fill(none)`, stmt)
	assert.Equal(t, map[string]string{"f0": `x' OR "eventType" != 'x`}, params)

	q = sink.Query{
		Metric: sink.MetricAlerts, GroupBy: sink.ByRule,
		Start: sinktest.Base, Stop: sinktest.Base.Add(time.Hour), Interval: time.Minute,
		Filter: map[string]string{sink.BySeverity: "high", sink.ByRule: "a\\b\nc"},
	}
	stmt, _ = sink.BuildInfluxQL(q, false)
	assert.Equal(t, `SELECT count("count") AS "v" FROM "rdr_alerts" WHERE time >= '2026-11-26T10:00:00Z' AND time < '2026-11-26T11:00:00Z'`+
		` AND "rule" = '~b64:YVxiCmM' AND "severity" = 'high' GROUP BY time(60000000000ns, 0ns), "rule" fill(none)`, stmt,
		"values line protocol cannot carry are stored, and matched, base64-encoded")

	q = sink.Query{Metric: sink.MetricActiveUsers, Start: sinktest.Base, Stop: sinktest.Base.Add(time.Hour), Interval: time.Minute}
	stmt, _ = sink.BuildInfluxQL(q, false)
	assert.Equal(t, `SELECT max("s") AS "v" FROM (SELECT sum("active_users") AS "s" FROM "rdr_window"`+
		` WHERE time > '2026-11-26T10:00:00Z' AND time <= '2026-11-26T11:00:00Z' GROUP BY time(1ns) fill(none))`+
		` WHERE time > '2026-11-26T10:00:00Z' AND time <= '2026-11-26T11:00:00Z' GROUP BY time(60000000000ns, 1ns) fill(none)`, stmt)
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

// Every hostile value, stored as an event type, is found again by a filter
// on exactly that value — bound or written as a literal — and no other
// filter value finds it: on each real server.
func TestInfluxQLHostileFilterOnServer(t *testing.T) {
	forEachInflux(t, func(t *testing.T, env influxEnv) {
		ctx := context.Background()
		s := newInfluxClosed(t, influxConfig(env, newBucket(t, env)))
		values := append([]string{"nul\x00", "del\x7f", "$f0", "$", `\x41`, `\n`, `'`, `\'`, `''`, "x' OR 'a'='a"}, sinktest.Hostile...)
		byType := map[string]uint64{}
		for i, v := range values {
			byType[v] = uint64(i + 1)
		}
		require.NoError(t, s.WriteWindow(ctx, sinktest.Window(0, byType)))
		require.NoError(t, s.Flush(ctx))
		assert.Equal(t, env.binds, sink.Binds(ctx, s), "the sink binds parameters on 1.8 and 2.x, not on 3.x")
		for _, bind := range []bool{true, false} {
			if bind && !env.binds {
				continue
			}
			sink.SetBind(s, bind)
			for i, v := range values {
				h, err := s.History(ctx, sink.Query{Metric: sink.MetricEvents, Start: sinktest.Base, Stop: sinktest.Base.Add(time.Minute),
					Interval: time.Minute, Filter: map[string]string{sink.ByEventType: v}})
				require.NoError(t, err, "bind %v, value %q", bind, v)
				require.Len(t, h.Series, 1, "bind %v, value %q", bind, v)
				assert.Equal(t, float64(i+1), h.Series[0].Points[0].V, "bind %v, value %q", bind, v)
			}
			h, err := s.History(ctx, sink.Query{Metric: sink.MetricEvents, Start: sinktest.Base, Stop: sinktest.Base.Add(time.Minute),
				Interval: time.Minute, Filter: map[string]string{sink.ByEventType: "' OR ''='"}})
			require.NoError(t, err)
			assert.Empty(t, h.Series, "bind %v: an injection finds nothing", bind)
		}
	})
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

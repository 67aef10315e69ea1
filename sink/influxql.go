package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// History and RecentAlerts read with InfluxQL over the v1 /query endpoint:
// the one query path that InfluxDB 1.8, 2.x (through its DBRP mappings;
// since 2.7 every bucket has the virtual mapping "bucket/autogen") and 3.x
// (its v1 compatibility API) all serve. Flux is not used: InfluxDB 3 does
// not run it.
//
// What the three servers differ in, and how the reader copes:
//   - Bound parameters ($name in the query, a JSON "params" field) work on
//     1.8 and 2.x; 3.x's v1 /query does not read them (its source:
//     "Currently not supporting parameterized queries", influxdb#24805). The
//     reader asks /ping for the version once and binds filter values where
//     the server supports it, else writes them as escaped string literals.
//     Either way a value is one literal: tag values that line protocol
//     cannot carry (backslashes, control characters) are stored and matched
//     base64-encoded, so a literal never holds more than quotes to escape.
//   - 3.x reads the query's parameters from the URL only: every query is a
//     GET with its parameters in the URL.
//   - 3.x answers GROUP BY tag results with the tag as a column of each row
//     instead of a series' "tags" object: the reader takes either.

// influxQLString returns s as an InfluxQL string literal: quotes and
// backslashes are escaped with a backslash, a newline as \n (the only
// escapes InfluxQL's scanner knows; it refuses a raw newline in a string).
func influxQLString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// influxQLIdent returns name as a double-quoted InfluxQL identifier. Only
// the package's own measurement, tag and field names reach it.
func influxQLIdent(name string) string { return strconv.Quote(name) }

func influxQLTime(t time.Time) string { return "'" + t.UTC().Format(time.RFC3339Nano) + "'" }

func influxQLDuration(d time.Duration) string { return strconv.FormatInt(int64(d), 10) + "ns" }

// influxQLPlan is an InfluxQL query for a validated Query and how to read
// its rows.
type influxQLPlan struct {
	stmt   string
	params map[string]string // bound values, nil when written as literals
	// keyTag is the tag naming each row's group, "" for an ungrouped query
	// or one whose groups are columns.
	keyTag string
	// columns lists the value columns; with more than one, each column is
	// a group (events by severity), else the group is keyTag's value or
	// the metric.
	columns []string
	// origin is the start of the first GROUP BY time bucket: rows' times
	// are origin + k·Interval for interval k.
	origin time.Time
}

// buildInfluxQL writes the InfluxQL query for q (already validated). With
// bind, filter values are bound parameters; otherwise escaped literals.
//
// Windows are stored at their end and belong to the interval of their last
// instant, so the query reads (Start, Stop] in buckets that start 1 ns after
// each interval's start: a point at End lies in bucket k exactly when
// Start + k·Interval < End ≤ Start + (k+1)·Interval. Alerts are stored at
// their FirstSeen and read over [Start, Stop) in buckets aligned to Start.
// Points of several writers and partitions in one bucket are summed.
//
// With rolled, windows are read from the 1-minute roll-ups (see rollup.go):
// the same query on other measurements.
func buildInfluxQL(q Query, bind, rolled bool) influxQLPlan {
	start, stop, every := q.Start.UTC(), q.Stop.UTC(), q.Interval
	measWindow, measEvents := measWindow, measEvents
	if rolled {
		measWindow, measEvents = measWindowRollUp, measEventsRollUp
	}
	plan := influxQLPlan{columns: []string{"v"}}
	where := fmt.Sprintf("time > %s AND time <= %s", influxQLTime(start), influxQLTime(stop))
	plan.origin = start.Add(time.Nanosecond)
	if q.Metric == MetricAlerts {
		where = fmt.Sprintf("time >= %s AND time < %s", influxQLTime(start), influxQLTime(stop))
		plan.origin = start
	}
	off := time.Duration(((plan.origin.UnixNano() % int64(every)) + int64(every)) % int64(every))
	groupTime := fmt.Sprintf("time(%s, %s)", influxQLDuration(every), influxQLDuration(off))

	var filters strings.Builder
	for i, k := range sortedKeys(q.Filter) {
		v := encodeTag(q.Filter[k])
		fmt.Fprintf(&filters, " AND %s = ", influxQLIdent(k))
		if bind {
			name := "f" + strconv.Itoa(i)
			if plan.params == nil {
				plan.params = map[string]string{}
			}
			plan.params[name] = v
			filters.WriteString("$" + name)
		} else {
			filters.WriteString(influxQLString(v))
		}
	}

	var sel, from string
	switch {
	case q.Metric == MetricActiveUsers:
		// Summed over writers and partitions per window end, then the
		// largest window per interval.
		from = fmt.Sprintf(`(SELECT sum(%s) AS "s" FROM %s WHERE %s GROUP BY time(1ns) fill(none))`,
			influxQLIdent(fieldActiveUsers), influxQLIdent(measWindow), where)
		sel = `max("s") AS "v"`
	case q.Metric == MetricAlerts:
		from, sel = influxQLIdent(measAlerts), fmt.Sprintf(`count(%s) AS "v"`, influxQLIdent(fieldCount))
		switch q.GroupBy {
		case ByRule:
			plan.keyTag = tagRule
		case BySeverity:
			plan.keyTag = tagSeverity
		}
	case q.GroupBy == BySeverity:
		from, plan.columns = influxQLIdent(measWindow), []string{"low", "medium", "high", "critical", fieldUnknown}
		cols := make([]string, len(plan.columns))
		for i, c := range plan.columns {
			cols[i] = fmt.Sprintf("sum(%s) AS %s", influxQLIdent(c), influxQLIdent(c))
		}
		sel = strings.Join(cols, ", ")
	case q.GroupBy == ByEventType || hasKey(q.Filter, ByEventType):
		from, sel = influxQLIdent(measEvents), fmt.Sprintf(`sum(%s) AS "v"`, influxQLIdent(fieldCount))
		if q.GroupBy == ByEventType {
			plan.keyTag = tagEventType
		}
	default:
		from, sel = influxQLIdent(measWindow), fmt.Sprintf(`sum(%s) AS "v"`, influxQLIdent(fieldTotal))
	}
	group := groupTime
	if plan.keyTag != "" {
		group += ", " + influxQLIdent(plan.keyTag)
	}
	plan.stmt = fmt.Sprintf("SELECT %s FROM %s WHERE %s%s GROUP BY %s fill(none)", sel, from, where, filters.String(), group)
	return plan
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// influxQLResponse is the JSON answer of /query (epoch=ns).
type influxQLResponse struct {
	Results []struct {
		Series []influxQLSeries `json:"series"`
		Error  string           `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

type influxQLSeries struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// column returns the index of name in the series' columns, or -1.
func (s *influxQLSeries) column(name string) int {
	for i, c := range s.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// tag returns the value of tag for row: from the series' tags (1.8, 2.x)
// or from the row's column of that name (3.x).
func (s *influxQLSeries) tag(tag string, row []any) (string, bool) {
	if v, ok := s.Tags[tag]; ok {
		return v, true
	}
	if i := s.column(tag); i >= 0 && i < len(row) {
		v, ok := row[i].(string)
		return v, ok
	}
	return "", false
}

// influxQLQuerier runs InfluxQL queries on one server.
type influxQLQuerier struct {
	base   string // URL without the trailing slash
	token  string
	db, rp string
	http   *http.Client
	// bind: 0 not yet known, 1 the server binds parameters, 2 it does not.
	bind atomic.Int32
	// queries counts the queries sent (for the tests).
	queries atomic.Uint64
}

// newInfluxQLQuerier maps the sink's Bucket onto /query's db and rp:
// "db/rp" (1.8, or a 2.x DBRP mapping) or a bucket or database name (2.x's
// virtual "bucket/autogen" mapping, 3.x).
func newInfluxQLQuerier(cfg InfluxConfig, hc *http.Client) *influxQLQuerier {
	db, rp, _ := strings.Cut(cfg.Bucket, "/")
	return &influxQLQuerier{base: strings.TrimRight(cfg.URL, "/"), token: cfg.Token, db: db, rp: rp, http: hc}
}

func (c *influxQLQuerier) authorize(req *http.Request) {
	if c.token != "" {
		req.Header.Set("Authorization", "Token "+c.token)
	}
}

// binds reports whether the server binds query parameters, asking /ping
// for its version the first time: 1.x and 2.x do, 3.x (and anything that
// does not say) does not. A failed /ping is asked again next time.
func (c *influxQLQuerier) binds(ctx context.Context) bool {
	switch c.bind.Load() {
	case 1:
		return true
	case 2:
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/ping", nil)
	if err != nil {
		return false
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return false
	}
	v := strings.TrimPrefix(resp.Header.Get("X-Influxdb-Version"), "v")
	if strings.HasPrefix(v, "1.") || strings.HasPrefix(v, "2.") {
		c.bind.Store(1)
		return true
	}
	c.bind.Store(2)
	return false
}

// query runs one SELECT and returns its series.
func (c *influxQLQuerier) query(ctx context.Context, stmt string, params map[string]string) ([]influxQLSeries, error) {
	c.queries.Add(1)
	form := url.Values{"db": {c.db}, "q": {stmt}, "epoch": {"ns"}}
	if c.rp != "" {
		form.Set("rp", c.rp)
	}
	if params != nil {
		p, err := json.Marshal(params)
		if err != nil {
			return nil, err
		}
		form.Set("params", string(p))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/query?"+form.Encode(), nil)
	if err != nil {
		return nil, err
	}
	c.authorize(req)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out influxQLResponse
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	derr := dec.Decode(&out)
	switch {
	case resp.StatusCode != http.StatusOK && out.Error != "":
		return nil, fmt.Errorf("%s: %s", resp.Status, out.Error)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s from /query", resp.Status)
	case derr != nil:
		return nil, fmt.Errorf("reading the /query answer: %w", derr)
	case out.Error != "":
		return nil, errors.New(out.Error)
	case len(out.Results) == 0:
		return nil, nil
	case out.Results[0].Error != "":
		return nil, errors.New(out.Results[0].Error)
	}
	return out.Results[0].Series, nil
}

// historyFrom runs q's plan on the windows (or, rolled, on the roll-ups)
// and gathers its rows into a History.
func (c *influxQLQuerier) historyFrom(ctx context.Context, q Query, rolled bool) (History, error) {
	plan := buildInfluxQL(q, c.binds(ctx), rolled)
	series, err := c.query(ctx, plan.stmt, plan.params)
	if err != nil {
		return History{}, fmt.Errorf("sink: influx history: %w", err)
	}
	b := newHistBuilder(q)
	every := int64(q.Interval)
	for si := range series {
		s := &series[si]
		ti := s.column("time")
		if ti < 0 {
			return History{}, fmt.Errorf("sink: influx history: series %q without a time column", s.Name)
		}
		cols := make([]int, len(plan.columns))
		for i, name := range plan.columns {
			cols[i] = s.column(name)
		}
		for _, row := range s.Values {
			ns, err := jsonInt(row, ti)
			if err != nil {
				return History{}, fmt.Errorf("sink: influx history: time: %w", err)
			}
			d := ns - plan.origin.UnixNano()
			if d < 0 || d%every != 0 {
				return History{}, fmt.Errorf("sink: influx history: row at %d ns is not on a bucket of the query", ns)
			}
			i := int(d / every)
			key := q.Metric
			if plan.keyTag != "" {
				k, ok := s.tag(plan.keyTag, row)
				if !ok {
					return History{}, fmt.Errorf("sink: influx history: row without its %s tag", plan.keyTag)
				}
				key = decodeTag(k)
			}
			for ci, col := range cols {
				if col < 0 || col >= len(row) || row[col] == nil {
					continue // a field with no points in the bucket
				}
				v, err := jsonFloat(row[col])
				if err != nil {
					return History{}, fmt.Errorf("sink: influx history: %s: %w", plan.columns[ci], err)
				}
				if len(plan.columns) > 1 {
					key = plan.columns[ci]
				}
				b.add(key, i, v)
			}
		}
	}
	return b.history(), nil
}

// newest returns the time of the newest point of measurement (Unix ns), 0
// if it has none.
func (c *influxQLQuerier) newest(ctx context.Context, measurement string) (int64, error) {
	return c.newestBefore(ctx, measurement, time.Time{})
}

// oldest returns the time of the oldest point of measurement (Unix ns), 0
// if it has none.
func (c *influxQLQuerier) oldest(ctx context.Context, measurement string) (int64, error) {
	return c.edge(ctx, "first", measurement, time.Time{})
}

// newestBefore is newest among the points before until (any when zero).
func (c *influxQLQuerier) newestBefore(ctx context.Context, measurement string, until time.Time) (int64, error) {
	return c.edge(ctx, "last", measurement, until)
}

// edge returns the time of the point that selector (first or last) picks
// among measurement's points before until (any when zero), 0 if none.
func (c *influxQLQuerier) edge(ctx context.Context, selector, measurement string, until time.Time) (int64, error) {
	stmt := fmt.Sprintf("SELECT %s(%s) FROM %s", selector, influxQLIdent(fieldTotal), influxQLIdent(measurement))
	if !until.IsZero() {
		stmt += " WHERE time < " + influxQLTime(until)
	}
	series, err := c.query(ctx, stmt, nil)
	if err != nil {
		return 0, fmt.Errorf("sink: influx newest %s: %w", measurement, err)
	}
	if len(series) == 0 || len(series[0].Values) == 0 {
		return 0, nil
	}
	return jsonInt(series[0].Values[0], series[0].column("time"))
}

// alertIntFields are the integer fields of rdr_alerts; its other numbers
// are floats.
var alertIntFields = map[string]bool{fieldCount: true, "last_seen": true, "resolved_at": true, fieldAckedAt: true}

// recentAlerts reads every rdr_alerts point with time in [since, until).
func (c *influxQLQuerier) recentAlerts(ctx context.Context, since, until time.Time) ([]StoredAlert, error) {
	stmt := fmt.Sprintf("SELECT * FROM %s WHERE time >= %s AND time < %s",
		influxQLIdent(measAlerts), influxQLTime(since), influxQLTime(until))
	series, err := c.query(ctx, stmt, nil)
	if err != nil {
		return nil, fmt.Errorf("sink: influx alerts: %w", err)
	}
	var out []StoredAlert
	for si := range series {
		s := &series[si]
		for _, row := range s.Values {
			rec := make(map[string]any, len(s.Columns)+len(s.Tags))
			for k, v := range s.Tags {
				rec[k] = v
			}
			var first int64
			for i, col := range s.Columns {
				if i >= len(row) || row[i] == nil {
					continue
				}
				switch v := row[i].(type) {
				case json.Number:
					if col == "time" || alertIntFields[col] {
						n, err := v.Int64()
						if err != nil {
							return nil, fmt.Errorf("sink: influx alerts: %s: %w", col, err)
						}
						rec[col] = n
					} else {
						f, err := v.Float64()
						if err != nil {
							return nil, fmt.Errorf("sink: influx alerts: %s: %w", col, err)
						}
						rec[col] = f
					}
				default:
					rec[col] = v
				}
			}
			first, _ = rec["time"].(int64)
			a, err := alertFromRecord(rec)
			if err != nil {
				return nil, fmt.Errorf("sink: influx alerts: %w", err)
			}
			a.FirstSeen = time.Unix(0, first).UTC()
			out = append(out, a)
		}
	}
	return out, nil
}

func jsonInt(row []any, i int) (int64, error) {
	if i >= len(row) {
		return 0, errors.New("missing")
	}
	switch v := row[i].(type) {
	case json.Number:
		return v.Int64()
	default:
		return 0, fmt.Errorf("not an integer: %v", row[i])
	}
}

func jsonFloat(v any) (float64, error) {
	if n, ok := v.(json.Number); ok {
		return n.Float64()
	}
	return 0, fmt.Errorf("not a number: %v", v)
}

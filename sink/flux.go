package sink

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/influxdata/influxdb-client-go/v2/api"
)

// appendFluxString appends s as a Flux string literal. Every character that
// means something inside one is escaped: the quote and the backslash with a
// backslash, '$' as \x24 (so "${" never starts an interpolation), control
// characters and bytes that are not UTF-8 as \xNN. Everything else is copied
// as it is, so the literal always denotes exactly s.
func appendFluxString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, '\\', 'x', hex[c>>4], hex[c&0xf])
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '$' || c < 0x20 || c == 0x7f:
			dst = append(dst, '\\', 'x', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}

// fluxString returns s as a Flux string literal; see appendFluxString.
func fluxString(s string) string { return string(appendFluxString(nil, s)) }

func fluxTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func fluxDuration(d time.Duration) string { return strconv.FormatInt(int64(d), 10) + "ns" }

// fluxPlan is a Flux query for a validated Query and how to read its rows.
type fluxPlan struct {
	flux string
	// keyColumn holds the group's key ("" for an ungrouped query).
	keyColumn string
	// decode is true when keyColumn is a tag (stored with encodeTag).
	decode bool
	// aligned is the start of the first Flux window: rows' _start are
	// aligned + k·Interval, which is Start + k·Interval in the query.
	aligned time.Time
}

// buildFlux writes the Flux query for q (already validated) on bucket.
//
// Windows are stored at their end, so the query reads (Start, Stop] and
// moves every point 1 ns back, to the window's last instant. Flux windows
// are aligned to the epoch; moving the points back by Start mod Interval as
// well makes them aligned to Start (window's offset is not used: Flux 0.65
// in InfluxDB 1.8 loses the first window with it). Points of several
// writers in the same interval are summed.
func buildFlux(bucket string, q Query) fluxPlan {
	start, stop, every := q.Start.UTC(), q.Stop.UTC(), q.Interval
	off := time.Duration(((start.UnixNano() % int64(every)) + int64(every)) % int64(every))
	shift := off
	if q.Metric != MetricAlerts {
		shift++ // from the window end to its last instant
		start, stop = start.Add(time.Nanosecond), stop.Add(time.Nanosecond)
	}
	plan := fluxPlan{aligned: q.Start.UTC().Add(-off)}

	var b strings.Builder
	b.WriteString("from(bucket: ")
	b.WriteString(fluxString(bucket))
	fmt.Fprintf(&b, ")\n  |> range(start: %s, stop: %s)\n", fluxTime(start), fluxTime(stop))

	meas, fields := measWindow, []string{fieldTotal}
	switch {
	case q.Metric == MetricActiveUsers:
		fields = []string{fieldActiveUsers}
	case q.Metric == MetricAlerts:
		meas, fields = measAlerts, []string{fieldCount}
	case q.GroupBy == BySeverity:
		fields = []string{"low", "medium", "high", "critical", fieldUnknown}
	case q.GroupBy == ByEventType || hasKey(q.Filter, ByEventType):
		meas, fields = measEvents, []string{fieldCount}
	}
	fmt.Fprintf(&b, "  |> filter(fn: (r) => r._measurement == %s and (", fluxString(meas))
	for i, f := range fields {
		if i > 0 {
			b.WriteString(" or ")
		}
		fmt.Fprintf(&b, "r._field == %s", fluxString(f))
	}
	b.WriteString("))\n")
	for _, k := range sortedKeys(q.Filter) {
		fmt.Fprintf(&b, "  |> filter(fn: (r) => r[%s] == %s)\n", fluxString(k), fluxString(encodeTag(q.Filter[k])))
	}
	if shift != 0 {
		fmt.Fprintf(&b, "  |> timeShift(duration: -%s)\n", fluxDuration(shift))
	}

	switch q.GroupBy {
	case "":
	case BySeverity:
		if q.Metric == MetricAlerts {
			plan.keyColumn, plan.decode = tagSeverity, true
		} else {
			plan.keyColumn = "_field"
		}
	default:
		plan.keyColumn, plan.decode = q.GroupBy, true
	}
	window := fluxDuration(every)
	switch q.Metric {
	case MetricActiveUsers:
		// Sum over writers per window, then the largest window per interval.
		b.WriteString("  |> group(columns: [\"_time\", \"_start\", \"_stop\"])\n  |> sum()\n")
		b.WriteString("  |> group(columns: [\"_start\", \"_stop\"])\n")
		fmt.Fprintf(&b, "  |> window(every: %s)\n  |> max()\n", window)
	default:
		fmt.Fprintf(&b, "  |> window(every: %s)\n", window)
		b.WriteString("  |> group(columns: [\"_start\"")
		if plan.keyColumn != "" {
			b.WriteString(", ")
			b.WriteString(fluxString(plan.keyColumn))
		}
		b.WriteString("])\n")
		if q.Metric == MetricAlerts {
			b.WriteString("  |> count()\n")
		} else {
			b.WriteString("  |> sum()\n")
		}
	}
	plan.flux = b.String()
	return plan
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// readFlux turns the rows of a plan's result into a History.
func readFlux(res *api.QueryTableResult, q Query, plan fluxPlan) (History, error) {
	b := newHistBuilder(q)
	for res.Next() {
		rec := res.Record()
		i := int(rec.Start().Sub(plan.aligned) / q.Interval)
		key := q.Metric
		if plan.keyColumn != "" {
			k, ok := rec.ValueByKey(plan.keyColumn).(string)
			if !ok {
				return History{}, fmt.Errorf("sink: influx history: row without %s column", plan.keyColumn)
			}
			if plan.decode {
				k = decodeTag(k)
			}
			key = k
		}
		var v float64
		switch x := rec.Value().(type) {
		case int64:
			v = float64(x)
		case uint64:
			v = float64(x)
		case float64:
			v = x
		case nil:
			continue
		default:
			return History{}, fmt.Errorf("sink: influx history: unexpected value %v (%T)", x, x)
		}
		b.add(key, i, v)
	}
	if err := res.Err(); err != nil {
		return History{}, fmt.Errorf("sink: influx history: %w", err)
	}
	return b.history(), nil
}

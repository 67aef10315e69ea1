package sink

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/aggregate"
	"github.com/rdr-go/rdr/anomaly"
)

// Measurements, tags and fields of the InfluxDB schema (see the package
// documentation).
const (
	measWindow = "rdr_window"
	measEvents = "rdr_events"
	measAlerts = "rdr_alerts"

	tagWriter    = "writer"
	tagPartition = "partition"
	tagEventType = "eventType"
	tagRule      = "rule"
	tagSeverity  = "severity"
	tagID        = "id"

	fieldCount       = "count"
	fieldAckedAt     = "acked_at"
	fieldTotal       = "total"
	fieldActiveUsers = "active_users"
	fieldUnknown     = "unknown"
)

// encodedTagPrefix marks a tag value stored in base64 because line protocol
// cannot carry it faithfully.
const encodedTagPrefix = "~b64:"

var tagEncoding = base64.RawURLEncoding

// tagPlain reports whether line protocol (1.8 and 2.x) stores v as it is,
// once ',', '=' and ' ' are escaped: not empty, valid UTF-8, without control
// characters or backslashes (a backslash before ',', '=', ' ' or at the end
// is read as an escape), and not looking like an encoded value.
func tagPlain(v string) bool {
	if v == "" || !utf8.ValidString(v) || strings.HasPrefix(v, encodedTagPrefix) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// encodeTag returns the form in which v is stored as a tag value.
func encodeTag(v string) string {
	if tagPlain(v) {
		return v
	}
	return encodedTagPrefix + tagEncoding.EncodeToString([]byte(v))
}

// decodeTag reverses encodeTag. A value that does not decode is returned as
// it is.
func decodeTag(v string) string {
	rest, ok := strings.CutPrefix(v, encodedTagPrefix)
	if !ok {
		return v
	}
	b, err := tagEncoding.DecodeString(rest)
	if err != nil {
		return v
	}
	return string(b)
}

// appendTag appends ",key=value" with value encoded and escaped.
func appendTag(dst []byte, key, v string) []byte {
	dst = append(dst, ',')
	dst = append(dst, key...)
	dst = append(dst, '=')
	if !tagPlain(v) {
		dst = append(dst, encodedTagPrefix...)
		return tagEncoding.AppendEncode(dst, []byte(v))
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case ',', '=', ' ':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// fieldWriter appends the field set of one line, adding the separators.
type fieldWriter struct {
	b     []byte
	first bool
}

func (f *fieldWriter) key(k string) {
	if f.first {
		f.b = append(f.b, ' ')
		f.first = false
	} else {
		f.b = append(f.b, ',')
	}
	f.b = append(f.b, k...)
	f.b = append(f.b, '=')
}

func (f *fieldWriter) uint(k string, v uint64) {
	f.key(k)
	f.b = strconv.AppendUint(f.b, min(v, math.MaxInt64), 10) // clamped: InfluxDB integers are int64
	f.b = append(f.b, 'i')
}

func (f *fieldWriter) int(k string, v int64) {
	f.key(k)
	f.b = strconv.AppendInt(f.b, v, 10)
	f.b = append(f.b, 'i')
}

// float writes v; NaN and ±Inf, which InfluxDB cannot store, are left out.
func (f *fieldWriter) float(k string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	f.key(k)
	f.b = strconv.AppendFloat(f.b, v, 'g', -1, 64)
}

func (f *fieldWriter) bool(k string, v bool) {
	f.key(k)
	f.b = strconv.AppendBool(f.b, v)
}

func (f *fieldWriter) string(k, v string) {
	f.key(k)
	f.b = append(f.b, '"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '"', '\\':
			f.b = append(f.b, '\\', c)
		default:
			f.b = append(f.b, c)
		}
	}
	f.b = append(f.b, '"')
}

// counts writes the count fields of an rdr_window point (and of its
// roll-up): active_users, one per severity (unknown only when not 0) and
// total.
func (f *fieldWriter) counts(active uint64, sev *aggregate.BySeverity, total uint64) {
	f.uint(fieldActiveUsers, active)
	for s := rdr.SeverityLow; s <= rdr.SeverityCritical; s++ {
		f.uint(s.String(), sev[s])
	}
	if sev[0] != 0 {
		f.uint(fieldUnknown, sev[0])
	}
	f.uint(fieldTotal, total)
}

func appendTimestamp(dst []byte, ns int64) []byte {
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, ns, 10)
	return append(dst, '\n')
}

// appendWindow appends the lines of one window: one rdr_window point and one
// rdr_events point per event type, all at the window's end.
func appendWindow(dst []byte, writer string, w *WindowResult) []byte {
	ts := w.End.UnixNano()
	m := &w.Metrics
	dst = append(dst, measWindow...)
	dst = appendWindowTags(dst, writer, w.Partition)
	f := fieldWriter{b: dst, first: true}
	f.counts(m.ActiveUsers, &m.BySeverity, m.TotalEvents)
	f.bool("update", w.Update)
	dst = appendTimestamp(f.b, ts)
	for typ, n := range m.ByType {
		dst = append(dst, measEvents...)
		dst = appendTag(dst, tagEventType, typ)
		dst = appendWindowTags(dst, writer, w.Partition)
		f = fieldWriter{b: dst, first: true}
		f.uint(fieldCount, n)
		dst = appendTimestamp(f.b, ts)
	}
	return dst
}

// appendWindowTags appends a window point's identity: the partition and the
// writer (tags go in key order). The partition tag is always there, "" as
// its encoding "~b64:", because InfluxDB 3 fixes a table's tags at its
// first write and refuses a point with another tag.
func appendWindowTags(dst []byte, writer, partition string) []byte {
	dst = appendTag(dst, tagPartition, partition)
	return appendTag(dst, tagWriter, writer)
}

// appendAlert appends the rdr_alerts point of one alert, at its FirstSeen.
func appendAlert(dst []byte, a *anomaly.Alert) []byte {
	dst = append(dst, measAlerts...)
	dst = appendTag(dst, tagID, a.ID)
	dst = appendTag(dst, tagRule, a.Rule)
	dst = appendTag(dst, tagSeverity, a.Severity.String())
	f := fieldWriter{b: dst, first: true}
	f.int(fieldCount, a.Count)
	f.string("group_by", a.GroupBy)
	f.string("key", a.Key)
	f.int("last_seen", unixNano(a.LastSeen))
	f.string("message", a.Message)
	f.int("resolved_at", unixNano(a.ResolvedAt))
	f.float("risk_score", a.RiskScore)
	f.string(fieldAlertSilenced, encodeField(a.SilencedBy)) // always: a later write that is not silenced clears it
	f.string("status", a.Status.String())
	f.string(fieldAlertTags, encodeAlertTags(a.Tags))
	f.float("threshold", a.Threshold)
	f.float("value", a.Value)
	return appendTimestamp(f.b, a.FirstSeen.UnixNano())
}

// appendAck appends a point with a's tags and time and only the field
// acked_at: InfluxDB merges it into a's rdr_alerts point.
func appendAck(dst []byte, a *anomaly.Alert, at time.Time) []byte {
	dst = append(dst, measAlerts...)
	dst = appendTag(dst, tagID, a.ID)
	dst = appendTag(dst, tagRule, a.Rule)
	dst = appendTag(dst, tagSeverity, a.Severity.String())
	f := fieldWriter{b: dst, first: true}
	f.int(fieldAckedAt, unixNano(at))
	return appendTimestamp(f.b, a.FirstSeen.UnixNano())
}

// unixNano is t in Unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// windowPoints is the number of points appendWindow writes for w.
func windowPoints(w *WindowResult) int { return 1 + len(w.Metrics.ByType) }

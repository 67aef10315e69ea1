package sink

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by WriteWindow, WriteAlert, Flush and (for the
// InfluxDB sink) History once Close has been called.
var ErrClosed = errors.New("sink: closed")

// ErrInvalidConfig is returned, wrapped with the setting that is wrong, by
// [NewInflux], [NewMemory], [NewPublisher] and [NewWebhook].
var ErrInvalidConfig = errors.New("sink: invalid config")

// ErrInvalidWindow is returned, wrapped with what is wrong, by WriteWindow
// for a [WindowResult] that cannot be stored (End not after Start, a zero
// time). Nothing is written.
var ErrInvalidWindow = errors.New("sink: invalid window")

// ErrInvalidAlert is returned, wrapped with what is wrong, by WriteAlert for
// an alert that cannot be stored (no ID or rule, an invalid status, a zero
// FirstSeen). Nothing is written.
var ErrInvalidAlert = errors.New("sink: invalid alert")

// ErrBackpressure is returned by the [Influx] sink's writes when its buffer
// stayed full (InfluxDB is down or slower than the stream) until the write's
// context ended. The error also wraps the context's error. Nothing of the
// write was buffered: the caller should pause (stop consuming, keep its
// offsets) and write again later. The sink never drops points to make room.
var ErrBackpressure = errors.New("sink: backpressure: buffer full")

// ErrRejected is returned by [Influx.Flush] when the server refused points
// for good (a 4xx answer other than 408 and 429: bad request, unauthorized,
// bucket not found). Such batches are not retried; they are counted in
// [InfluxStats.Rejected] and logged.
var ErrRejected = errors.New("sink: points rejected by the server")

// ErrDropped is returned by [Webhook.WriteAlert] when its queue is full: the
// alert is not sent (the webhook never blocks detection). Each drop is
// counted in [WebhookStats.Dropped] and logged; the caller may ignore it.
var ErrDropped = errors.New("sink: alert dropped: webhook queue full")

// ErrInvalidQuery is matched by every [*QueryError], the error that
// [Query.Validate] and History return for a query they refuse.
var ErrInvalidQuery = errors.New("sink: invalid query")

// QueryError names the [Query] parameter that is wrong and why. It unwraps to
// [ErrInvalidQuery].
type QueryError struct {
	// Param is the parameter: "Metric", "GroupBy", "Start", "Stop",
	// "Interval" or "Filter[key]".
	Param string
	// Reason says what is wrong with it.
	Reason string
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("sink: invalid query: %s: %s", e.Param, e.Reason)
}

// Unwrap returns ErrInvalidQuery.
func (e *QueryError) Unwrap() error { return ErrInvalidQuery }

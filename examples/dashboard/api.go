package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/pipeline"
	"github.com/rdr-go/rdr/sink"
)

// api serves the dashboard's HTTP API.
type api struct {
	dec        *rdr.Decoder
	proc       *pipeline.Processor
	metrics    pipeline.MetricsReader // the processor, or the global view of its group
	alerts     *alerts
	history    sink.HistoryReader
	input      inputFunc         // the input topic's
	side       *pipeline.SideLog // the dead letters and late events, kept and counted
	topic      string
	dlqTopic   string
	lateTopic  string
	maxBody    int64
	partitions int32 // of the input topic
	clock      rdr.Clock
	window     time.Duration
	accepted   atomic.Uint64
	rejected   atomic.Uint64
	dlqErrors  atomic.Uint64 // dead letters of POST /api/events not published (they are in the SideLog)
	ready      func() bool
}

func (a *api) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/events", a.postEvents)
	mux.HandleFunc("GET /api/metrics", a.getMetrics)
	mux.HandleFunc("GET /api/history", a.getHistory)
	mux.HandleFunc("GET /api/alerts", a.getAlerts)
	mux.HandleFunc("POST /api/alerts/{id}/ack", a.ackAlert)
	mux.HandleFunc("GET /api/users/{id}", a.getUser)
	mux.HandleFunc("GET /api/deadletters", a.getRefused(a.dlqTopic))
	mux.HandleFunc("GET /api/late", a.getRefused(a.lateTopic))
	mux.HandleFunc("GET /api/health", a.getHealth)
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready() {
			writeError(w, http.StatusServiceUnavailable, "processor not running yet")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// itemError is one refused event in a POST /api/events reply.
type itemError struct {
	Index  int    `json:"index"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

type ingestReply struct {
	Accepted int         `json:"accepted"`
	Rejected int         `json:"rejected"`
	Errors   []itemError `json:"errors"`
}

// postEvents takes one event, a JSON array or NDJSON. The valid events are
// handed to the input topic, one message per partition; the invalid ones
// are listed in the reply and sent to the dead-letter topic.
//
//   - 200: the valid events are accepted: with Kafka, the broker has them;
//     embedded, they are queued, in order, for the processor. Each will be
//     counted: in a window, as late, or (never here) as invalid.
//   - 400: no valid event in the body (each refusal is listed).
//   - 413: the body is larger than -max-body; nothing was accepted.
//   - 503 with Retry-After: the input cannot take the events now (the
//     embedded queue is full, or Kafka did not acknowledge them); nothing
//     was accepted or dead-lettered: send the same body again later.
func (a *api) postEvents(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than the limit of %d bytes", a.maxBody))
			return
		}
		writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	reply, err := a.ingest(r.Context(), body, false)
	if err != nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	status := http.StatusOK
	if reply.Accepted == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, reply)
}

// ingest decodes body and hands its valid events to the input (waiting
// for room if wait), then records its invalid ones as dead letters. An
// error means nothing was accepted nor recorded.
func (a *api) ingest(ctx context.Context, body []byte, wait bool) (ingestReply, error) {
	reply := ingestReply{Errors: []itemError{}}
	var good []rdr.Event
	var dlq []*message.Message
	for ev, err := range a.dec.Events(body) {
		if err != nil {
			m := pipeline.DeadLetter(watermill.NewUUID(), err, nil)
			ie := itemError{Reason: m.Metadata.Get(pipeline.MetaError), Field: m.Metadata.Get(pipeline.MetaField)}
			ie.Index, _ = strconv.Atoi(m.Metadata.Get(pipeline.MetaItem)) // 0 for the body as a whole
			// An item of the body, not the body as a whole: a dead letter.
			if errors.As(err, new(*rdr.ItemError)) {
				m.Metadata.Set(pipeline.MetaSourceTopic, "http")
				dlq = append(dlq, m)
			}
			reply.Errors = append(reply.Errors, ie)
			reply.Rejected++
			continue
		}
		good = append(good, ev)
		reply.Accepted++
	}
	if reply.Accepted > 0 {
		// One message per partition, each user on their own partition.
		if err := a.input(ctx, wait, pipeline.PartitionBatches(good, a.partitions)...); err != nil {
			if errors.Is(err, pipeline.ErrQueueFull) {
				return ingestReply{}, fmt.Errorf("the input queue is full (%s): retry later", err)
			}
			return ingestReply{}, fmt.Errorf("publishing events: %w", err)
		}
		a.accepted.Add(uint64(reply.Accepted))
	}
	a.rejected.Add(uint64(reply.Rejected))
	if len(dlq) > 0 {
		// The events are in: a dead-letter topic that fails now must not
		// make the client send them again. The SideLog has them either way.
		if err := a.side.Publish(a.dlqTopic, dlq...); err != nil {
			a.dlqErrors.Add(1)
		}
	}
	return reply, nil
}

// getRefused serves the newest kept messages of a side topic (dead
// letters or late events): ?limit=N (default 100).
func (a *api) getRefused(topic string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		limit := 100
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: %q is not a positive integer", v))
				return
			}
			limit = n
		}
		total, kept, items := a.side.Records(topic, limit)
		writeJSON(w, http.StatusOK, map[string]any{"total": total, "kept": kept, "items": items})
	}
}

// getHealth says whether the sinks keep up, and how many events were
// refused.
func (a *api) getHealth(w http.ResponseWriter, _ *http.Request) {
	sinks := a.proc.SinkHealth()
	if sinks == nil {
		sinks = []sink.Health{}
	}
	degraded := false
	for _, h := range sinks {
		degraded = degraded || h.Degraded
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"degraded": degraded, "sinks": sinks,
		"deadLetters": a.side.Total(a.dlqTopic), "late": a.side.Total(a.lateTopic),
	})
}

// parseRange reads "range" (a Go duration or 15m/1h/24h) or "start"/"stop"
// (RFC 3339). Without either it uses def up to now.
func (a *api) parseRange(r *http.Request, def time.Duration, now time.Time) (time.Time, time.Time, error) {
	q := r.URL.Query()
	if s, e := q.Get("start"), q.Get("stop"); s != "" || e != "" {
		start, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("start: %q is not an RFC 3339 time", s)
		}
		stop := now
		if e != "" {
			if stop, err = time.Parse(time.RFC3339Nano, e); err != nil {
				return time.Time{}, time.Time{}, fmt.Errorf("stop: %q is not an RFC 3339 time", e)
			}
		}
		if !stop.After(start) {
			return time.Time{}, time.Time{}, errors.New("stop must be after start")
		}
		return start, stop, nil
	}
	d := def
	if v := q.Get("range"); v != "" {
		var err error
		if d, err = rdr.ParseDuration(v); err != nil || d <= 0 {
			return time.Time{}, time.Time{}, fmt.Errorf("range: %q is not a positive duration like 5m, 1h or 24h", v)
		}
	}
	return now.Add(-d), now, nil
}

// now is the end of the last window the processor fired, or the clock
// before any did.
func (a *api) now() time.Time {
	wm := a.proc.Stats().Watermark
	if wm.IsZero() {
		return a.clock.Now()
	}
	return wm.Add(time.Millisecond).Truncate(a.window)
}

func (a *api) getMetrics(w http.ResponseWriter, r *http.Request) {
	from, to, err := a.parseRange(r, 5*time.Minute, a.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var src pipeline.MetricsReader = a.metrics
	if r.URL.Query().Get("scope") == "local" {
		src = a.proc
	}
	m, err := src.Metrics(from, to)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (a *api) getHistory(w http.ResponseWriter, r *http.Request) {
	start, stop, err := a.parseRange(r, time.Hour, a.clock.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	query := sink.Query{Metric: q.Get("metric"), GroupBy: q.Get("groupBy"), Start: start, Stop: stop}
	if query.Metric == "" {
		query.Metric = sink.MetricEvents
	}
	if v := q.Get("interval"); v != "" {
		if query.Interval, err = rdr.ParseDuration(v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("interval: %q is not a duration", v))
			return
		}
	} else {
		query.Interval = defaultInterval(stop.Sub(start))
	}
	for _, tag := range []string{"eventType", "severity", "rule"} {
		if v := q.Get(tag); v != "" {
			if query.Filter == nil {
				query.Filter = map[string]string{}
			}
			query.Filter[tag] = v
		}
	}
	// Align to the interval so that repeated polls return the same buckets.
	query.Start = query.Start.Truncate(query.Interval)
	h, err := a.history.History(r.Context(), query)
	if err != nil {
		if errors.Is(err, sink.ErrInvalidQuery) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, historyReply{
		Metric: h.Query.Metric, GroupBy: h.Query.GroupBy, Start: h.Query.Start.UTC(), Stop: h.Query.Stop.UTC(),
		Interval: h.Query.Interval.String(), Series: h.Series,
	})
}

// historyReply is GET /api/history's answer: the query as run, then one
// series per group, points stamped with their interval's start.
type historyReply struct {
	Metric   string        `json:"metric"`
	GroupBy  string        `json:"groupBy"`
	Start    time.Time     `json:"start"`
	Stop     time.Time     `json:"stop"`
	Interval string        `json:"interval"`
	Series   []sink.Series `json:"series"`
}

// defaultInterval gives about 60 points, in round steps.
func defaultInterval(span time.Duration) time.Duration {
	for _, d := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour} {
		if span/d <= 60 {
			return d
		}
	}
	return 6 * time.Hour
}

func (a *api) getAlerts(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	switch status {
	case "", "all", "firing", "resolved":
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("status: %q is not one of firing, resolved, all", status))
		return
	}
	silenced, err := silencedFilter(r.URL.Query().Get("silenced"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	list, err := a.alerts.listWhere(r.Context(), status, r.URL.Query().Get("key"), silenced)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": list})
}

func (a *api) ackAlert(w http.ResponseWriter, r *http.Request) {
	v, ok, err := a.alerts.ack(r.Context(), r.PathValue("id"))
	switch {
	case !ok:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no alert with id %q", r.PathValue("id")))
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "not acknowledged: storing the acknowledgement failed: "+err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]any{"alert": v})
	}
}

func (a *api) getUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	now := a.now()
	from, to, err := a.parseRange(r, 5*time.Minute, now)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	act, err := a.proc.User(id, from, to)
	alerts, lerr := a.alerts.list(r.Context(), "all", id)
	if lerr != nil {
		writeError(w, http.StatusInternalServerError, lerr.Error())
		return
	}
	if err != nil || (act.Count == 0 && len(alerts) == 0) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no activity for user %q between %s and %s", id, from.Format(time.RFC3339), to.Format(time.RFC3339)))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"userId": id, "count": act.Count, "firstSeen": omitZero(act.FirstSeen), "lastSeen": omitZero(act.LastSeen), "alerts": alerts,
	})
}

func omitZero(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

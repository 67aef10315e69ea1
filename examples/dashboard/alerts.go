package main

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/pipeline"
	"github.com/rdr-go/rdr/sink"
)

// maxListedAlerts is the most alerts GET /api/alerts answers, the newest.
const maxListedAlerts = 1000

// alerts is what the API shows of alerts and how it acknowledges them: the
// memory store (a sink the processor writes alerts to, and the alert store
// of embedded mode) holds their latest state and acknowledgement; durable,
// when set (InfluxDB), keeps acknowledgements across restarts and is
// written first.
type alerts struct {
	mem     *sink.Memory
	durable sink.AlertStore // nil: the process only
	clock   rdr.Clock
}

// alertView is an alert as the API shows it.
type alertView struct {
	anomaly.Alert
	Acked   bool
	AckedAt time.Time
}

func viewOf(s sink.StoredAlert) alertView {
	return alertView{Alert: s.Alert, Acked: !s.AckedAt.IsZero(), AckedAt: s.AckedAt}
}

// AppendJSON writes the alert's JSON with "acked" (and "ackedAt" once
// acknowledged) spliced into its object. alertView must define it: the
// AppendJSON it would inherit from the embedded anomaly.Alert is what the
// live hub calls (broadcast.JSONAppender), and it leaves the
// acknowledgement out.
func (v alertView) AppendJSON(b []byte) ([]byte, error) {
	start := len(b)
	b, err := v.Alert.AppendJSON(b)
	if err != nil {
		return b[:start], err
	}
	b = append(b[:len(b)-1], `,"acked":`...)
	b = strconv.AppendBool(b, v.Acked)
	if !v.AckedAt.IsZero() {
		at, err := v.AckedAt.UTC().MarshalJSON()
		if err != nil {
			return b[:start], err
		}
		b = append(append(b, `,"ackedAt":`...), at...)
	}
	return append(b, '}'), nil
}

func (v alertView) MarshalJSON() ([]byte, error) { return v.AppendJSON(nil) }

// restore adds alerts stored before a restart, given newest first (as
// sink.AlertStore returns them), with their acknowledgements.
func (a *alerts) restore(ctx context.Context, stored []sink.StoredAlert) error {
	for _, s := range slices.Backward(stored) {
		if err := a.mem.WriteAlert(ctx, s.Alert); err != nil {
			return err
		}
		if !s.AckedAt.IsZero() {
			if err := a.mem.AckAlert(ctx, s.Alert, s.AckedAt); err != nil {
				return err
			}
		}
	}
	return nil
}

// list returns up to maxListedAlerts alerts, newest first, filtered by
// status ("" or "all": every one) and key ("": any).
func (a *alerts) list(ctx context.Context, status, key string) ([]alertView, error) {
	return a.listWhere(ctx, status, key, nil)
}

// listWhere is list, keeping only the alerts keep accepts (nil: all).
func (a *alerts) listWhere(ctx context.Context, status, key string, keep func(*anomaly.Alert) bool) ([]alertView, error) {
	stored, err := a.mem.RecentAlerts(ctx, time.Time{}, 0)
	if err != nil {
		return nil, err
	}
	out := []alertView{}
	for _, s := range stored {
		if (status == "" || status == "all" || s.Status.String() == status) && (key == "" || s.Key == key) && (keep == nil || keep(&s.Alert)) {
			if out = append(out, viewOf(s)); len(out) == maxListedAlerts {
				break
			}
		}
	}
	return out, nil
}

// ack acknowledges alert id, first in the durable store (when there is
// one), so that the acknowledgement outlives the process: if that fails,
// the alert stays unacknowledged. ok is false for an unknown id.
func (a *alerts) ack(ctx context.Context, id string) (_ alertView, ok bool, _ error) {
	s, ok := a.mem.Alert(id)
	if !ok || !s.AckedAt.IsZero() {
		return viewOf(s), ok, nil
	}
	at := a.clock.Now()
	if a.durable != nil {
		if err := a.durable.AckAlert(ctx, s.Alert, at); err != nil {
			return alertView{}, true, err
		}
	}
	if err := a.mem.AckAlert(ctx, s.Alert, at); err != nil {
		// Evicted meanwhile (the store is bounded): acknowledged all the same.
		return alertView{Alert: s.Alert, Acked: true, AckedAt: at}, true, nil
	}
	s.AckedAt = at
	return viewOf(s), true, nil
}

// view is alert with its acknowledgement, for the live view.
func (a *alerts) view(alert anomaly.Alert) alertView {
	at := a.mem.AckedAt(alert.ID)
	return alertView{Alert: alert, Acked: !at.IsZero(), AckedAt: at}
}

// ackingHub sends alerts to the live view with their ack state.
type ackingHub struct {
	pipeline.Broadcaster
	alerts *alerts
}

func (h ackingHub) Publish(topic string, data any) error {
	if a, ok := data.(anomaly.Alert); ok && topic == pipeline.TopicAlerts {
		data = h.alerts.view(a)
	}
	return h.Broadcaster.Publish(topic, data)
}

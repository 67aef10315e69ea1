package main

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/pipeline"
	"github.com/rdr-go/rdr/sink"
)

// alertBook keeps the latest state of every recent alert and whether an
// analyst acknowledged it. It is a sink (the processor writes alerts to it)
// and it decorates the alerts the processor broadcasts with their ack
// state. Safe for concurrent use.
type alertBook struct {
	mu     sync.Mutex
	max    int
	byID   map[string]*alertView
	order  []string // ids, oldest first
	clock  func() time.Time
	closed bool
}

// alertView is an alert as the API shows it.
type alertView struct {
	anomaly.Alert
	Acked   bool
	AckedAt time.Time
}

func (v alertView) MarshalJSON() ([]byte, error) {
	b, err := v.Alert.MarshalJSON()
	if err != nil {
		return nil, err
	}
	extra, err := json.Marshal(struct {
		Acked   bool      `json:"acked"`
		AckedAt time.Time `json:"ackedAt,omitzero"`
	}{v.Acked, v.AckedAt.UTC()})
	if err != nil {
		return nil, err
	}
	// Splice {"acked":…} into the alert's object.
	return append(append(b[:len(b)-1], ','), extra[1:]...), nil
}

func newAlertBook(max int, clock func() time.Time) *alertBook {
	return &alertBook{max: max, byID: map[string]*alertView{}, clock: clock}
}

func (b *alertBook) WriteWindow(context.Context, sink.WindowResult) error { return nil }

func (b *alertBook) WriteAlert(_ context.Context, a anomaly.Alert) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return sink.ErrClosed
	}
	if v, ok := b.byID[a.ID]; ok {
		v.Alert = a
		return nil
	}
	b.byID[a.ID] = &alertView{Alert: a}
	b.order = append(b.order, a.ID)
	if len(b.order) > b.max {
		delete(b.byID, b.order[0])
		b.order = b.order[1:]
	}
	return nil
}

// restore adds alerts stored before a restart, given newest first (as
// sink.AlertStore returns them), with their acknowledgements.
func (b *alertBook) restore(alerts []sink.StoredAlert) {
	for _, a := range slices.Backward(alerts) {
		_ = b.WriteAlert(context.Background(), a.Alert)
		if !a.AckedAt.IsZero() {
			b.mu.Lock()
			if v, ok := b.byID[a.ID]; ok {
				v.Acked, v.AckedAt = true, a.AckedAt
			}
			b.mu.Unlock()
		}
	}
}

func (b *alertBook) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// list returns alerts newest first, filtered by status ("" or "all": every
// one) and key ("": any).
func (b *alertBook) list(status, key string) []alertView {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []alertView{}
	for _, id := range slices.Backward(b.order) {
		v := b.byID[id]
		if (status == "" || status == "all" || v.Status.String() == status) && (key == "" || v.Key == key) {
			out = append(out, *v)
		}
	}
	return out
}

// ack acknowledges alert id, first handing it to store (when not nil) so
// that the acknowledgement outlives the process; if store fails, the alert
// stays unacknowledged. ok is false for an unknown id.
func (b *alertBook) ack(ctx context.Context, id string, store sink.AlertStore) (_ alertView, ok bool, _ error) {
	b.mu.Lock()
	v, ok := b.byID[id]
	if !ok || v.Acked {
		defer b.mu.Unlock()
		if !ok {
			return alertView{}, false, nil
		}
		return *v, true, nil
	}
	snapshot, at := v.Alert, b.clock()
	b.mu.Unlock()
	if store != nil {
		if err := store.AckAlert(ctx, snapshot, at); err != nil {
			return alertView{}, true, err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok = b.byID[id]; !ok { // dropped meanwhile, as the book is bounded
		return alertView{Alert: snapshot, Acked: true, AckedAt: at}, true, nil
	}
	if !v.Acked {
		v.Acked, v.AckedAt = true, at
	}
	return *v, true, nil
}

func (b *alertBook) view(a anomaly.Alert) alertView {
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok := b.byID[a.ID]; ok {
		return alertView{Alert: a, Acked: v.Acked, AckedAt: v.AckedAt}
	}
	return alertView{Alert: a}
}

// ackingHub sends alerts to the live view with their ack state.
type ackingHub struct {
	pipeline.Broadcaster
	book *alertBook
}

func (h ackingHub) Publish(topic string, data any) error {
	if a, ok := data.(anomaly.Alert); ok && topic == pipeline.TopicAlerts {
		data = h.book.view(a)
	}
	return h.Broadcaster.Publish(topic, data)
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/broadcast"
	"github.com/rdr-go/rdr/sink"
)

// failingStore is an AlertStore whose acknowledgements fail until told
// otherwise, and that records those that succeed.
type failingStore struct {
	fail  bool
	acked map[string]time.Time
}

func (s *failingStore) RecentAlerts(context.Context, time.Time, int) ([]sink.StoredAlert, error) {
	return nil, nil
}

func (s *failingStore) AckAlert(_ context.Context, a anomaly.Alert, at time.Time) error {
	if s.fail {
		return errors.New("InfluxDB unreachable")
	}
	s.acked[a.ID] = at
	return nil
}

// An acknowledgement that cannot be stored is not made: the alert stays
// unacknowledged here too, and the next try can succeed.
func TestAckIsStoredOrNotMade(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	mem, err := sink.NewMemory(sink.MemoryConfig{})
	require.NoError(t, err)
	store := &failingStore{fail: true, acked: map[string]time.Time{}}
	book := &alerts{mem: mem, durable: store, clock: rdr.NewFakeClock(now)}
	require.NoError(t, mem.WriteAlert(ctx, anomaly.Alert{ID: "a1", Rule: "r", Key: "k", Status: anomaly.StatusFiring, FirstSeen: now}))

	_, ok, err := book.ack(ctx, "a1")
	assert.True(t, ok)
	assert.EqualError(t, err, "InfluxDB unreachable")
	list, err := book.list(ctx, "all", "")
	require.NoError(t, err)
	assert.False(t, list[0].Acked, "not acknowledged when it could not be stored")

	store.fail = false
	v, ok, err := book.ack(ctx, "a1")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.True(t, v.Acked)
	assert.Equal(t, now, v.AckedAt)
	assert.Equal(t, map[string]time.Time{"a1": now}, store.acked)
	assert.True(t, book.view(v.Alert).Acked, "the live view shows it acknowledged")

	_, ok, err = book.ack(ctx, "nope")
	assert.False(t, ok)
	assert.NoError(t, err)
}

// Alerts restored after a restart keep their acknowledgements, and the list
// filters by status and key, newest first.
func TestAlertsRestoreAndList(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	mem, err := sink.NewMemory(sink.MemoryConfig{})
	require.NoError(t, err)
	book := &alerts{mem: mem, clock: rdr.NewFakeClock(now)}
	a1 := anomaly.Alert{ID: "a1", Rule: "r", Key: "bob", Status: anomaly.StatusResolved, FirstSeen: now.Add(-2 * time.Minute)}
	a2 := anomaly.Alert{ID: "a2", Rule: "r", Key: "eve", Status: anomaly.StatusFiring, FirstSeen: now.Add(-time.Minute)}
	require.NoError(t, book.restore(ctx, []sink.StoredAlert{{Alert: a2}, {Alert: a1, AckedAt: now.Add(-90 * time.Second)}}))
	all, err := book.list(ctx, "", "")
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, []string{"a2", "a1"}, []string{all[0].ID, all[1].ID})
	assert.True(t, all[1].Acked)
	firing, err := book.list(ctx, "firing", "")
	require.NoError(t, err)
	assert.Equal(t, []alertView{{Alert: a2}}, firing)
	bob, err := book.list(ctx, "all", "bob")
	require.NoError(t, err)
	require.Len(t, bob, 1)
	assert.Equal(t, "a1", bob[0].ID)
}

// An alert as the API and the live view show it: the alert's own JSON with
// "acked" (and "ackedAt", in UTC, once acknowledged) added; the same bytes
// through MarshalJSON (the API) and AppendJSON (what the live hub calls,
// appending to its envelope); an alert that cannot be encoded leaves the
// buffer as it was.
func TestAlertViewJSON(t *testing.T) {
	a := anomaly.Alert{
		ID: "a1", Rule: "failed-login-burst", GroupBy: "userId", Key: "mallory", Severity: rdr.SeverityHigh,
		Status: anomaly.StatusFiring, FirstSeen: time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC),
		LastSeen: time.Date(2026, 12, 3, 11, 0, 2, 0, time.UTC), Count: 3, Value: 8, Threshold: 5,
		Events: []rdr.Event{{Time: time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC), Type: "login_failed", UserID: "mallory", Severity: rdr.SeverityMedium}},
	}
	base, err := json.Marshal(a)
	require.NoError(t, err)
	for _, at := range []time.Time{{}, time.Date(2026, 12, 3, 13, 0, 0, 5, time.FixedZone("CET", 3600))} {
		v := alertView{Alert: a, Acked: !at.IsZero(), AckedAt: at}
		var want map[string]any
		require.NoError(t, json.Unmarshal(base, &want))
		want["acked"] = !at.IsZero()
		if !at.IsZero() {
			want["ackedAt"] = "2026-12-03T12:00:00.000000005Z"
		}
		wantJSON, err := json.Marshal(want)
		require.NoError(t, err)
		api, err := json.Marshal(v)
		require.NoError(t, err)
		assert.JSONEq(t, string(wantJSON), string(api))
		ja, ok := any(v).(broadcast.JSONAppender)
		require.True(t, ok, "the live hub would encode alertView as the embedded Alert")
		live, err := ja.AppendJSON([]byte(`{"data":`))
		require.NoError(t, err)
		assert.Equal(t, `{"data":`+string(api), string(live))
	}
	bad := alertView{Alert: a, Acked: true, AckedAt: time.Now()}
	bad.Value = math.NaN()
	out, err := bad.AppendJSON([]byte("head"))
	require.Error(t, err)
	assert.Equal(t, "head", string(out))
}

package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
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

package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	book := newAlertBook(10, func() time.Time { return now })
	require.NoError(t, book.WriteAlert(context.Background(), anomaly.Alert{ID: "a1", Rule: "r", Key: "k", Status: anomaly.StatusFiring, FirstSeen: now}))
	store := &failingStore{fail: true, acked: map[string]time.Time{}}

	_, ok, err := book.ack(context.Background(), "a1", store)
	assert.True(t, ok)
	assert.EqualError(t, err, "InfluxDB unreachable")
	assert.False(t, book.list("all", "")[0].Acked, "not acknowledged when it could not be stored")

	store.fail = false
	v, ok, err := book.ack(context.Background(), "a1", store)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.True(t, v.Acked)
	assert.Equal(t, now, v.AckedAt)
	assert.Equal(t, map[string]time.Time{"a1": now}, store.acked)

	_, ok, err = book.ack(context.Background(), "nope", store)
	assert.False(t, ok)
	assert.NoError(t, err)
}

package pipeline

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
)

// sprayBatch applies, as one batch of input partition 0, the failed logins
// from one address of users from to to-1 at offsets from to to-1, and
// returns the repartition records it made.
func sprayBatch(t *testing.T, in *task, t0 time.Time, from, to int) *outputs {
	t.Helper()
	var out outputs
	in.mu.Lock()
	defer in.mu.Unlock()
	for i := from; i < to; i++ {
		ev := rdr.Event{Time: t0.Add(time.Duration(i) * time.Second), Type: "login_failed", UserID: fmt.Sprintf("u%02d", i),
			IP: netip.MustParseAddr("203.0.113.9"), Severity: rdr.SeverityMedium}
		in.applyInput(&input{payload: rdr.AppendJSON(nil, ev), partition: 0, offset: int64(i), hasOffset: true}, &out)
	}
	in.flushRekeyed(&out)
	return &out
}

// byIPProcessor is a processor with one re-keyed rule that counts
// (a count sees an event applied twice; a distinct count does not):
// three or more failed logins from one address within an hour.
func byIPProcessor(t *testing.T) *Processor {
	t.Helper()
	rules, err := anomaly.ParseRules("by-ip.yaml", []byte(`rules:
  - name: failures-by-ip
    type: count
    filter:
      eventType: login_failed
    group-by: ipAddress
    timespan: 1h
    condition:
      gte: 3
    severity: medium
`))
	require.NoError(t, err)
	ps := gochannel.NewGoChannel(gochannel.Config{}, nil)
	t.Cleanup(func() { ps.Close() })
	p, err := New(Config{
		Subscriber: ps, Publisher: ps, RepartitionTopic: "in.repartition", RepartitionSubscriber: ps,
		Rules: func() ([]anomaly.Rule, error) { return rules, nil },
		Clock: rdr.NewFakeClock(time.Date(2026, 11, 26, 10, 5, 0, 0, time.UTC)),
	})
	require.NoError(t, err)
	return p
}

// applyRekeyedRecords applies repartition records to rk and returns the
// failures-by-ip alert last emitted.
func applyRekeyedRecords(t *testing.T, rk *task, recs *outputs) (last anomaly.Alert, out outputs) {
	t.Helper()
	rk.mu.Lock()
	defer rk.mu.Unlock()
	for _, m := range recs.rekeyed {
		rk.applyInput(&input{payload: m.Payload, md: m.Metadata}, &out)
	}
	for _, a := range out.alerts {
		if a.Rule == "failures-by-ip" {
			last = a
		}
	}
	return last, out
}

// The events of a batch bound for one repartition partition travel in one
// record with their positions, and a replayed batch that overlaps what the
// repartition task applied re-applies none of it: the alert's detections
// count as in a run without the replay.
func TestRepartitionRecordsApplyEachEventOnce(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	run := func(t *testing.T, batches [][2]int) (anomaly.Alert, int, uint64) {
		p := byIPProcessor(t)
		p.rekeyPartitions = 3
		rk, err := p.newTask("in.repartition", PartitionOf("203.0.113.9", 3))
		require.NoError(t, err)
		var alert anomaly.Alert
		records := 0
		for _, b := range batches {
			// A fresh input task each time: restored from a checkpoint
			// older than what the repartition task has applied.
			in, err := p.newTask(p.cfg.Topic, 0)
			require.NoError(t, err)
			out := sprayBatch(t, in, t0, b[0], b[1])
			require.Len(t, out.rekeyed, 1, "one address, one partition: one record")
			m := out.rekeyed[0]
			assert.Equal(t, "203.0.113.9", m.Metadata.Get(MetaPartitionKey))
			assert.Equal(t, strings.Count(string(m.Payload), "\n"), strings.Count(m.Metadata.Get(MetaPositions), ",")+1)
			if a, _ := applyRekeyedRecords(t, rk, out); a.Rule != "" {
				alert = a
			}
			records++
		}
		rk.mu.Lock()
		defer rk.mu.Unlock()
		return alert, records, rk.byField["ipAddress"].Stats().Rules[0].Matched
	}
	straight, _, want := run(t, [][2]int{{0, 40}})
	replayed, n, got := run(t, [][2]int{{0, 30}, {10, 40}, {0, 40}})
	require.Equal(t, 3, n)
	require.Equal(t, "failures-by-ip", straight.Rule)
	assert.Equal(t, straight.ID, replayed.ID)
	assert.Equal(t, uint64(40), want)
	assert.Equal(t, want, got, "events the re-keyed rule saw: each once, though 100 were forwarded")
}

// A repartition record whose positions do not match its events is dead-
// lettered, named, and changes no state.
func TestRepartitionRecordWithBadPositionsIsDeadLettered(t *testing.T) {
	p := fuzzProcessor(t)
	p.rekeyPartitions = 3
	rk, err := p.newTask("in.repartition", 0)
	require.NoError(t, err)
	for _, c := range []struct{ positions, offset, want string }{
		{"0.0,1.0", "1", "record of 1 events with 2 positions"}, // one event in the record
		{"1.0,0.0", "0", `position "0.0" does not follow 1.0`},
		{"0.0,x", "0", `position "x" is not OFFSET.ITEM`},
		{"0.0", "7", `bad positions "0.0": the last is not 7.0`}, // the last position is not MetaOffset.MetaItem
	} {
		in, err := p.newTask(p.cfg.Topic, 0)
		require.NoError(t, err)
		out := sprayBatch(t, in, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), 0, 1)
		require.Len(t, out.rekeyed, 1)
		m := out.rekeyed[0]
		m.Metadata.Set(MetaPositions, c.positions)
		m.Metadata.Set(MetaOffset, c.offset)
		before := p.stats.invalid.Load()
		rk.mu.Lock()
		var got outputs
		rk.applyInput(&input{payload: m.Payload, md: m.Metadata}, &got)
		rk.mu.Unlock()
		require.Len(t, got.dlq, 1, c.positions)
		assert.Contains(t, got.dlq[0].Metadata.Get(MetaError), c.want)
		assert.Equal(t, before+1, p.stats.invalid.Load())
	}
}

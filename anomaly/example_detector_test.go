package anomaly_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/anomaly/anomalytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file is the "Writing a detector" walkthrough of the package
// documentation, as code that runs.

// LargeTransfer detects a user moving at least limit bytes (metadata field
// "bytes") within a window that starts at their first transfer.
type LargeTransfer struct {
	limit  float64
	window time.Duration
	keys   *anomaly.Table[transferState]
}

type transferState struct {
	start time.Time // the window's start
	total float64
}

var bytesField = anomaly.MetadataField("bytes")

func NewLargeTransfer(limit float64, window time.Duration) *LargeTransfer {
	return &LargeTransfer{limit: limit, window: window, keys: anomaly.NewTable[transferState](window)}
}

// Fields says the detector reads metadata.bytes: the Engine skips (and
// counts) events without it.
func (d *LargeTransfer) Fields() []anomaly.Field { return []anomaly.Field{bytesField} }

func (d *LargeTransfer) Observe(ev rdr.Event, key string, report func(anomaly.Detection)) {
	d.keys.Advance(ev.Time)
	v, _ := bytesField.Value(ev)
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 {
		return
	}
	st := d.keys.Get(key) // key is valid only during the call: Table keeps a hash of it
	if st == nil || ev.Time.Sub(st.start) >= d.window {
		st = d.keys.Put(key)
		st.start = ev.Time
	}
	st.total += n
	if st.total >= d.limit {
		report(anomaly.Detection{Key: key, Time: ev.Time, Until: st.start.Add(d.window),
			Value: st.total, Threshold: d.limit, Event: ev})
	}
}

func (d *LargeTransfer) Advance(now time.Time, _ func(anomaly.Detection)) { d.keys.Advance(now) }

func (d *LargeTransfer) Len() int { return d.keys.Len() }

func (d *LargeTransfer) Describe(det anomaly.Detection) string {
	return fmt.Sprintf("%.0f bytes in %v", det.Value, d.window)
}

func transfer(at time.Time, user string, bytes int) rdr.Event {
	return rdr.Event{Time: at, Type: "file_download", UserID: user, Severity: rdr.SeverityLow,
		Metadata: rdr.MakeMetadata("bytes", strconv.Itoa(bytes))}
}

func TestLargeTransferConformance(t *testing.T) {
	anomalytest.Run(t, anomalytest.Features{
		Attack: func(start time.Time) []rdr.Event { // 3 GB in 30 seconds
			var evs []rdr.Event
			for i := range 3 {
				evs = append(evs, transfer(start.Add(time.Duration(i)*15*time.Second), "mallory", 1e9))
			}
			return evs
		},
		Benign: func(start time.Time) []rdr.Event { // a few KB now and then
			var evs []rdr.Event
			for i := range 30 {
				evs = append(evs, transfer(start.Add(time.Duration(i)*10*time.Second), "alice", 4096))
			}
			return evs
		},
		StateTTL: 2 * time.Minute, // state gone within 2×window
	}, func() anomaly.Detector { return NewLargeTransfer(1e9, time.Minute) })
}

func TestLargeTransfer(t *testing.T) {
	r := anomaly.Rule{Name: "large-transfer", Severity: rdr.SeverityHigh, Detector: NewLargeTransfer(1e9, time.Minute), Risk: 30}
	in := []rdr.Event{
		transfer(t0, "mallory", 6e8),
		transfer(t0.Add(30*time.Second), "mallory", 3e8),                                                     // 900 MB: not yet
		transfer(t0.Add(40*time.Second), "mallory", 1e8),                                                     // 1 GB: fires
		transfer(t0.Add(50*time.Second), "mallory", 5e8),                                                     // 1.5 GB: updates
		transfer(t0.Add(2*time.Minute), "mallory", 9e8),                                                      // a new window
		{Time: t0.Add(3 * time.Minute), Type: "file_download", UserID: "mallory", Severity: rdr.SeverityLow}, // no bytes: skipped
	}
	got, eng := run(t, []anomaly.Rule{r}, in, 10*time.Minute)
	assert.Equal(t, []brief{
		{Rule: "large-transfer", Key: "mallory", Status: firing, Count: 1, Value: 1e9, Threshold: 1e9, FirstSeen: 40 * time.Second, LastSeen: 40 * time.Second},
		// The window that made it ends at 1m; the default resolve delay is 5m.
		{Rule: "large-transfer", Key: "mallory", Status: resolved, Count: 2, Value: 1.5e9, Threshold: 1e9, FirstSeen: 40 * time.Second, LastSeen: 50 * time.Second, ResolvedAt: 6 * time.Minute},
	}, briefs(got))
	require.Len(t, got, 2)
	assert.Equal(t, "large-transfer: 1000000000 bytes in 1m0s for userId mallory", got[0].Message)
	assert.Equal(t, uint64(1), eng.Stats().Rules[0].Skipped)
}

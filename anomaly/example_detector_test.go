package anomaly_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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

// AppendState and RestoreState let an Engine save and restore the
// detector's state with its own (anomaly.Snapshotter): a version byte and
// the window, then the Table, each key with its window's start and total.
func (d *LargeTransfer) AppendState(b []byte) ([]byte, error) {
	b = append(b, 1) // the version
	b = binary.AppendVarint(b, int64(d.window))
	return d.keys.AppendState(b, func(b []byte, st *transferState) []byte {
		b = binary.AppendVarint(b, st.start.UnixNano())
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(st.total))
	}), nil
}

func (d *LargeTransfer) RestoreState(data []byte) error {
	err := d.restore(data)
	if err != nil {
		d.keys = anomaly.NewTable[transferState](d.window) // empty, as Snapshotter wants
	}
	return err
}

func (d *LargeTransfer) restore(data []byte) error {
	if len(data) == 0 || data[0] != 1 {
		return fmt.Errorf("%w: large transfer: not version 1", anomaly.ErrInvalidState)
	}
	window, n := binary.Varint(data[1:])
	if n <= 0 || time.Duration(window) != d.window {
		return fmt.Errorf("%w: large transfer: saved with another window", anomaly.ErrInvalidState)
	}
	rest, err := d.keys.RestoreState(data[1+n:], func(data []byte, st *transferState) (int, error) {
		start, n := binary.Varint(data)
		if n <= 0 || len(data) < n+8 {
			return 0, errors.New("truncated")
		}
		st.start = time.Unix(0, start).UTC()
		st.total = math.Float64frombits(binary.LittleEndian.Uint64(data[n:]))
		return n + 8, nil
	})
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%w: large transfer: %d bytes after the end", anomaly.ErrInvalidState, len(rest))
	}
	return err
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

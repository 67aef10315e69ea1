package anomalytest_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/anomaly/anomalytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// broken is a detector with one deliberate flaw, chosen by kind: it fires
// when a key has 3 events within a minute.
type broken struct {
	kind string
	last time.Time
	keys map[string][]time.Time
}

func (b *broken) Observe(ev rdr.Event, key string, report func(anomaly.Detection)) {
	b.last = ev.Time
	if b.kind == "trusts-metadata" && !json.Valid([]byte(ev.Metadata)) && ev.Metadata != "" {
		panic("broken detector: metadata is not JSON")
	}
	if b.kind == "noisy" {
		report(anomaly.Detection{Key: key, Time: ev.Time, Value: 1, Threshold: 1, Event: ev})
		return
	}
	k := key
	if b.kind != "keeps-keys" {
		k = string([]byte(key)) // a copy
	}
	b.keys[k] = append(b.keys[k], ev.Time)
	n := 0
	for _, t := range b.keys[k] {
		if ev.Time.Sub(t) < time.Minute {
			n++
		}
	}
	if n >= 3 {
		d := anomaly.Detection{Key: key, Time: ev.Time, Value: float64(n), Threshold: 3, Event: ev}
		if b.kind == "random" {
			d.Value = rand.Float64() + 1
		}
		if b.kind == "no-events" {
			d.Event = rdr.Event{}
		}
		report(d)
	}
}

func (b *broken) Advance(now time.Time, _ func(anomaly.Detection)) {
	if b.kind == "never-forgets" {
		return
	}
	for k, ts := range b.keys {
		if now.Sub(ts[len(ts)-1]) >= time.Minute {
			delete(b.keys, k)
		}
	}
}

func (b *broken) Len() int { return len(b.keys) }

// snapshotting is broken with a Snapshotter, itself broken by kind.
type snapshotting struct{ *broken }

func (s snapshotting) AppendState(b []byte) ([]byte, error) {
	j, err := json.Marshal(s.keys)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

func (s snapshotting) RestoreState(data []byte) error {
	switch s.kind {
	case "restore-forgets":
		return nil
	case "restore-panics":
		if !json.Valid(data) {
			panic("broken detector: state is not JSON")
		}
	}
	keys := map[string][]time.Time{}
	if err := json.Unmarshal(data, &keys); err != nil {
		if s.kind == "restore-accepts-anything" {
			return nil
		}
		clear(s.keys)
		return fmt.Errorf("%w: %v", anomaly.ErrInvalidState, err)
	}
	clear(s.keys)
	maps.Copy(s.keys, keys)
	return nil
}

func newBroken(kind string) anomaly.Detector {
	b := &broken{kind: kind, keys: map[string][]time.Time{}}
	if strings.HasPrefix(kind, "restore-") || kind == "snapshots" {
		return snapshotting{b}
	}
	return b
}

var features = anomalytest.Features{
	Attack: func(start time.Time) []rdr.Event {
		var evs []rdr.Event
		for i := range 4 {
			evs = append(evs, rdr.Event{Time: start.Add(time.Duration(i) * time.Second), Type: "x", UserID: "alice", Severity: rdr.SeverityLow})
		}
		return evs
	},
	Benign: func(start time.Time) []rdr.Event {
		return []rdr.Event{{Time: start, Type: "x", UserID: "bob", Severity: rdr.SeverityLow}}
	},
	StateTTL: 2 * time.Minute,
}

// TestBrokenDetector runs the suite on one broken detector, in a child
// process started by TestSuiteCatchesBrokenDetectors.
func TestBrokenDetector(t *testing.T) {
	kind := os.Getenv("ANOMALYTEST_BROKEN")
	if kind == "" {
		t.Skip("run by TestSuiteCatchesBrokenDetectors")
	}
	anomalytest.Run(t, features, func() anomaly.Detector { return newBroken(kind) })
}

func TestSuitePassesACorrectDetector(t *testing.T) {
	anomalytest.Run(t, features, func() anomaly.Detector { return newBroken("none") })
}

func TestSuitePassesACorrectSnapshotter(t *testing.T) {
	anomalytest.Run(t, features, func() anomaly.Detector { return newBroken("snapshots") })
}

func TestSuiteCatchesBrokenDetectors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, tt := range []struct{ kind, want string }{
		{"never-forgets", "state must be gone StateTTL after the last event"},
		{"keeps-keys", "keys must be cloned before they are kept"},
		{"random", "the same input must give the same alerts"},
		{"noisy", "the benign input raised alerts"},
		{"no-events", "alert 0: Events"},
		{"trusts-metadata", "metadata is not JSON"},
		{"restore-forgets", "alerts after a restore at 1/3 and again at 2/3 of the stream differ"},
		{"restore-panics", "panic: broken detector: state is not JSON"},
		{"restore-accepts-anything", "RestoreState of the detector's state truncated to 0"},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenDetector$", "-test.count=1")
			cmd.Env = append(os.Environ(), "ANOMALYTEST_BROKEN="+tt.kind)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite passed a detector that %s:\n%s", tt.kind, out)
			assert.Contains(t, string(out), tt.want)
		})
	}
}

package anomaly_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// opaque hides a detector's Snapshotter.
type opaque struct{ anomaly.Detector }

// picky is a Snapshotter whose state is want, and which restores nothing
// else.
type picky struct {
	anomaly.Detector
	want string
}

func (p *picky) AppendState(b []byte) ([]byte, error) { return append(b, p.want...), nil }

func (p *picky) RestoreState(data []byte) error {
	if string(data) != p.want {
		return anomaly.ErrInvalidState
	}
	return nil
}

func countRuleNamed(t *testing.T, name string, window time.Duration) anomaly.Rule {
	t.Helper()
	det, err := anomaly.NewCount(anomaly.CountConfig{Window: window, Threshold: 2})
	return rule(name, det, err)
}

func TestRestoreMatchesRulesByName(t *testing.T) {
	saved, err := anomaly.NewEngine([]anomaly.Rule{
		countRuleNamed(t, "same", time.Minute),
		countRuleNamed(t, "gone", time.Minute),
		countRuleNamed(t, "changed", time.Minute),
		{Name: "opaque", Severity: rdr.SeverityHigh, Detector: opaque{must(anomaly.NewCount(anomaly.CountConfig{Window: time.Minute, Threshold: 2}))},
			Lifecycle: anomaly.Lifecycle{ResolveAfter: time.Minute}},
	}, anomaly.Config{MaxFuture: -1})
	require.NoError(t, err)
	for _, ev := range repeat(at(0, "login_failed", "alice"), 2, time.Second) {
		saved.Process(ev, nil)
	}
	require.Equal(t, 4, saved.Stats().Firing)
	state, err := saved.AppendState(nil)
	require.NoError(t, err)

	eng, err := anomaly.NewEngine([]anomaly.Rule{
		countRuleNamed(t, "new", time.Minute),
		countRuleNamed(t, "changed", 2*time.Minute), // another window: its detector starts empty
		{Name: "opaque", Severity: rdr.SeverityHigh, Detector: opaque{must(anomaly.NewCount(anomaly.CountConfig{Window: time.Minute, Threshold: 2}))},
			Lifecycle: anomaly.Lifecycle{ResolveAfter: time.Minute}},
		countRuleNamed(t, "same", time.Minute),
	}, anomaly.Config{MaxFuture: -1})
	require.NoError(t, err)
	require.NoError(t, eng.RestoreState(state))
	st := eng.Stats()
	assert.Equal(t, []int{0, 1, 1, 1}, []int{st.Rules[0].Firing, st.Rules[1].Firing, st.Rules[2].Firing, st.Rules[3].Firing},
		"every rule gets its alerts, whatever its detector")
	assert.Equal(t, []int{0, 0, 0, 1}, []int{st.Rules[0].Keys, st.Rules[1].Keys, st.Rules[2].Keys, st.Rules[3].Keys},
		"only the detector of the same kind and config gets its state")

	var got []anomaly.Alert
	emit := func(a anomaly.Alert) { got = append(got, a) }
	eng.Process(at(2*time.Second, "login_failed", "alice"), emit)
	eng.Advance(t0.Add(time.Hour), emit)
	// "same" counts the third event with the two before the restore and
	// detects it; the others' detectors saw one event.
	assert.Equal(t, []brief{
		{Rule: "changed", Key: "alice", Status: resolved, Count: 1, Value: 2, Threshold: 2, FirstSeen: time.Second, LastSeen: time.Second, ResolvedAt: 2 * time.Minute},
		{Rule: "opaque", Key: "alice", Status: resolved, Count: 1, Value: 2, Threshold: 2, FirstSeen: time.Second, LastSeen: time.Second, ResolvedAt: 2 * time.Minute},
		{Rule: "same", Key: "alice", Status: resolved, Count: 2, Value: 3, Threshold: 2, FirstSeen: time.Second, LastSeen: 2 * time.Second, ResolvedAt: 2 * time.Minute},
	}, briefs(got))
	require.Len(t, got, 3)
	assert.Equal(t, got[2].ID, func() string {
		var first []anomaly.Alert
		saved.Process(at(2*time.Second, "login_failed", "alice"), func(a anomaly.Alert) { first = append(first, a) })
		saved.Advance(t0.Add(time.Hour), func(a anomaly.Alert) { first = append(first, a) })
		return first[0].ID
	}(), "the restored alert keeps its ID")
}

func TestRestoreIsAllOrNothing(t *testing.T) {
	newEngine := func(want string) *anomaly.Engine {
		eng, err := anomaly.NewEngine([]anomaly.Rule{
			countRuleNamed(t, "count", time.Minute),
			{Name: "picky", Severity: rdr.SeverityLow, Detector: &picky{Detector: must(anomaly.NewSeverityFloor(anomaly.SeverityConfig{Min: rdr.SeverityHigh})), want: want}},
		}, anomaly.Config{MaxFuture: -1})
		require.NoError(t, err)
		return eng
	}
	saved := newEngine("ok")
	for _, ev := range repeat(at(0, "login_failed", "alice"), 3, time.Second) {
		saved.Process(ev, nil)
	}
	state, err := saved.AppendState(nil)
	require.NoError(t, err)

	// An engine with state of its own, whose picky detector refuses the
	// saved one after the count detector took its own.
	eng := newEngine("something else")
	eng.Process(at(time.Hour, "login_failed", "bob"), nil)
	eng.Process(at(time.Hour, "login_failed", "bob"), nil)
	before, err := eng.AppendState(nil)
	require.NoError(t, err)
	err = eng.RestoreState(state)
	require.ErrorIs(t, err, anomaly.ErrInvalidState)
	assert.EqualError(t, err, `anomaly: invalid state: rule "picky": detector (its state starts at byte 558)`)
	assert.Equal(t, "ok", string(state[558:560]))
	after, err := eng.AppendState(nil)
	require.NoError(t, err)
	assert.Equal(t, before, after, "a refused state leaves the engine as it was")
	assert.Equal(t, 1, eng.Stats().Firing)

	restored := newEngine("ok")
	require.NoError(t, restored.RestoreState(state))
	assert.Equal(t, 1, restored.Stats().Firing)
}

func TestRestoreRefusesWhatIsNotState(t *testing.T) {
	eng, err := anomaly.NewEngine(anomaly.DefaultRules(), anomaly.Config{MaxFuture: -1})
	require.NoError(t, err)
	state, err := eng.AppendState(nil)
	require.NoError(t, err)
	resum := func(b []byte) []byte {
		body := b[:len(b)-4]
		return binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	}
	version2 := bytes.Clone(state)
	version2[4] = 2
	trailing := resum(append(append(bytes.Clone(state[:len(state)-4]), 0), state[len(state)-4:]...))
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"nothing", nil, `anomaly: invalid state: not the saved state of an Engine (it starts "", want "rdra")`},
		{"something else", []byte(`{"rules":[]}`), `anomaly: invalid state: not the saved state of an Engine (it starts "{\"ru", want "rdra")`},
		{"a newer version", version2, `anomaly: invalid state: unsupported version 2 (this build reads version 1)`},
		{"altered", append(bytes.Clone(state[:len(state)-1]), state[len(state)-1]^1), "anomaly: invalid state: checksum mismatch: the state is truncated or altered"},
		{"a byte too many, with its checksum", trailing, "anomaly: invalid state: 1 bytes after the end (at byte "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := eng.RestoreState(tt.data)
			require.ErrorIs(t, err, anomaly.ErrInvalidState)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestAppendStateRefusesEventsItCannotKeep(t *testing.T) {
	eng, err := anomaly.NewEngine([]anomaly.Rule{countBy(t, "by-ip", anomaly.FieldIP, 1)}, anomaly.Config{MaxFuture: -1})
	require.NoError(t, err)
	// No user: fine for a rule grouped by IP, but not an event rdr's wire
	// format can hold.
	eng.Process(withIP(at(0, "login_failed", ""), "192.0.2.1"), nil)
	b := []byte("prefix")
	out, err := eng.AppendState(b)
	assert.EqualError(t, err, `anomaly: cannot save state: rule "by-ip": alert for ipAddress "192.0.2.1": event 0: `+
		`the event cannot be saved: rdr's wire format refuses it: rdr: invalid event: field userId: must not be empty`)
	assert.Equal(t, []byte("prefix"), out)
}

func TestAppendStateChecksEventsKeptSinceTheLastSave(t *testing.T) {
	// AppendState checks each kept event once (alertState.checked): an
	// event an alert keeps after a save is checked at the next one.
	eng, err := anomaly.NewEngine([]anomaly.Rule{countBy(t, "by-ip", anomaly.FieldIP, 1)}, anomaly.Config{MaxFuture: -1})
	require.NoError(t, err)
	eng.Process(withIP(at(0, "login_failed", "alice"), "192.0.2.1"), nil)
	first, err := eng.AppendState(nil)
	require.NoError(t, err)
	again, err := eng.AppendState(nil)
	require.NoError(t, err)
	assert.Equal(t, first, again, "a state saved twice, the second time unchecked, gives the same bytes")

	eng.Process(withIP(at(time.Second, "login_failed", ""), "192.0.2.1"), nil)
	for range 2 { // a failed save checks again
		out, err := eng.AppendState([]byte("prefix"))
		assert.EqualError(t, err, `anomaly: cannot save state: rule "by-ip": alert for ipAddress "192.0.2.1": event 1: `+
			`the event cannot be saved: rdr's wire format refuses it: rdr: invalid event: field userId: must not be empty`)
		assert.Equal(t, []byte("prefix"), out)
	}
}

func TestAppendStateChecksTheLatestDetectionSinceTheLastSave(t *testing.T) {
	eng, err := anomaly.NewEngine([]anomaly.Rule{countBy(t, "by-ip", anomaly.FieldIP, 1)}, anomaly.Config{MaxFuture: -1})
	require.NoError(t, err)
	for i := range anomaly.DefaultMaxEvents { // the alert keeps these five, no more
		eng.Process(withIP(at(time.Duration(i)*time.Second, "login_failed", "alice"), "192.0.2.1"), nil)
	}
	_, err = eng.AppendState(nil)
	require.NoError(t, err)
	eng.Process(withIP(at(anomaly.DefaultMaxEvents*time.Second, "login_failed", ""), "192.0.2.1"), nil)
	_, err = eng.AppendState(nil)
	assert.EqualError(t, err, `anomaly: cannot save state: rule "by-ip": alert for ipAddress "192.0.2.1": latest detection: `+
		`the event cannot be saved: rdr's wire format refuses it: rdr: invalid event: field userId: must not be empty`)
}

func TestAlertEventsOfEverySizeComeBack(t *testing.T) {
	// The kept events' JSON goes into the state with its length in front,
	// in room for two bytes: events whose length takes one byte (under 128)
	// or three (16 KiB and more) move. All come back as they were.
	small := withIP(at(0, "login_failed", "al"), "192.0.2.1")
	mid := withIP(at(time.Second, "login_failed", "al"), "192.0.2.1")
	mid.Metadata = rdr.MakeMetadata("host", "web-1")
	big := withIP(at(2*time.Second, "login_failed", "al"), "192.0.2.1")
	big.Metadata = rdr.MakeMetadata("blob", strings.Repeat("x", 20_000))
	require.Less(t, len(rdr.AppendJSON(nil, small)), 128)
	require.GreaterOrEqual(t, len(rdr.AppendJSON(nil, mid)), 128)
	require.GreaterOrEqual(t, len(rdr.AppendJSON(nil, big)), 16384)

	newEngine := func() *anomaly.Engine {
		eng, err := anomaly.NewEngine([]anomaly.Rule{countBy(t, "by-ip", anomaly.FieldIP, 1)}, anomaly.Config{MaxFuture: -1})
		require.NoError(t, err)
		return eng
	}
	eng := newEngine()
	for _, ev := range []rdr.Event{small, mid, big} {
		eng.Process(ev, nil)
	}
	state, err := eng.AppendState(nil)
	require.NoError(t, err)
	back := newEngine()
	require.NoError(t, back.RestoreState(state))
	again, err := back.AppendState(nil)
	require.NoError(t, err)
	assert.Equal(t, state, again, "a restored engine saves the same bytes")

	var want, got []anomaly.Alert
	eng.Advance(t0.Add(time.Hour), func(a anomaly.Alert) { want = append(want, a) })
	back.Advance(t0.Add(time.Hour), func(a anomaly.Alert) { got = append(got, a) })
	require.Len(t, got, 1)
	require.Equal(t, want, got)
	assert.Equal(t, []rdr.Event{small, mid, big}, got[0].Events)
}

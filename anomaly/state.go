package anomaly

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/internal/wire"
)

// This file holds what saving and restoring state share: the error type,
// a strict reader, and the encodings of strings, times, floats and events.
// Integers are unsigned varints (encoding/binary's Uvarint), minimally
// encoded, or zigzag varints where they may be negative; a string is a
// varint length and its bytes; a float is its IEEE 754 bits, 8 bytes
// little-endian.

// stateError is an error about state that cannot be restored. It wraps
// ErrInvalidState, and its message says where the problem is, from the
// outside in: `anomaly: invalid state: rule "x": detector: key 3: …`.
type stateError struct {
	msg   string
	cause error // an error from elsewhere (a detector, the event decoder), or nil
}

func (e *stateError) Error() string { return ErrInvalidState.Error() + ": " + e.msg }

func (e *stateError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrInvalidState, e.cause}
	}
	return []error{ErrInvalidState}
}

// invalidState returns a *stateError with the formatted message.
func invalidState(format string, args ...any) error {
	return &stateError{msg: fmt.Sprintf(format, args...)}
}

// withinState puts err, about a part of the state, in context: the result
// wraps ErrInvalidState, and err too if it came from elsewhere.
func withinState(context string, err error) error {
	if se, ok := err.(*stateError); ok {
		return &stateError{msg: context + ": " + se.msg, cause: se.cause}
	}
	msg := err.Error()
	if errors.Is(err, ErrInvalidState) {
		if msg == ErrInvalidState.Error() {
			return &stateError{msg: context, cause: err}
		}
		msg = strings.TrimPrefix(msg, ErrInvalidState.Error()+": ")
	}
	return &stateError{msg: context + ": " + msg, cause: err}
}

// stateReader reads encoded state: a wire.Reader whose errors are
// *stateError, with the encodings of times, events and the detectors'
// deltas and values.
type stateReader struct{ wire.Reader }

func newStateReader(data []byte) stateReader {
	return stateReader{wire.Reader{Data: data, Invalid: func(msg string) error { return &stateError{msg: msg} }}}
}

// failWith records err, from elsewhere, in context.
func (r *stateReader) failWith(at int, context string, err error) {
	if r.Err == nil {
		r.Err = withinState(fmt.Sprintf("%s (at byte %d)", context, at), err)
	}
}

func (r *stateReader) float64(what string) float64 { return math.Float64frombits(r.Uint64(what)) }

// time reads a time written by appendTime, in UTC.
func (r *stateReader) time(what string) time.Time {
	at := r.Off
	sec := r.Varint(what)
	nsec := r.Uvarint(what)
	if r.Err == nil && nsec >= 1e9 {
		r.Fail(at, "%s: %d nanoseconds, at most 999999999", what, nsec)
	}
	if r.Err != nil {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// event reads an event written by appendEvent; length 0 is the zero Event.
func (r *stateReader) event(what string) rdr.Event {
	at := r.Off
	n := r.Uvarint(what)
	if n == 0 || r.Err != nil {
		return rdr.Event{}
	}
	b := r.Take(n, what)
	if r.Err != nil {
		return rdr.Event{}
	}
	ev, err := stateEvents.DecodeEvent(b)
	if err != nil {
		r.failWith(at, what, err)
		return rdr.Event{}
	}
	if !bytes.Equal(rdr.AppendJSON(nil, ev), b) {
		r.Fail(at, "%s: not in the form rdr.AppendJSON writes", what)
		return rdr.Event{}
	}
	return ev
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendFloat(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// appendTime appends t as Unix seconds (a zigzag varint) and nanoseconds:
// any time, the zero Time included, comes back as the same instant in UTC.
func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// Events are kept in rdr's wire format, as rdr.AppendJSON writes them, and
// read back with a Decoder whose limits are off: the state holds only
// events that make the round trip, so these limits refuse nothing that
// appendEvent wrote.
const (
	maxStateEventBytes = 1 << 30
	maxStateEventDepth = 512
)

// stateEvents decodes the events in saved state. It is never changed after
// init (a Decoder is immutable).
var stateEvents = func() *rdr.Decoder {
	d, err := rdr.NewDecoder(rdr.DecoderConfig{Limits: rdr.Limits{
		MaxEventBytes:    maxStateEventBytes,
		MaxBatchBytes:    maxStateEventBytes,
		MaxStringBytes:   maxStateEventBytes,
		MaxMetadataBytes: maxStateEventBytes,
		MaxMetadataDepth: maxStateEventDepth,
		MaxFuture:        -1,
		MaxPast:          -1,
	}})
	if err != nil {
		panic(err)
	}
	return d
}()

// appendEvent appends ev as a varint length and its wire JSON
// (rdr.AppendJSON), or the zero Event as length 0. It returns an error for an event that would not come back as it
// is: one that rdr's decoder refuses (no event type or user, a time outside
// the years 0 to 9999, an IP address with a zone, metadata nested deeper
// than 512) or changes (invalid UTF-8, metadata with spaces or {}). Events
// decoded by rdr and kept by the Engine always come back. The time comes
// back in UTC. Only with check does it find out, by decoding the JSON
// again: without, the caller knows that ev came back before.
func appendEvent(b []byte, ev rdr.Event, check bool) ([]byte, error) {
	if ev == (rdr.Event{}) {
		return append(b, 0), nil
	}
	// The JSON goes straight into b, after room for a length of one byte
	// more than most events take (see wire.Prefix).
	at := len(b)
	b = rdr.AppendJSON(append(b, 0, 0), ev)
	j := b[at+2:]
	if !check {
		return wire.Prefix(b, at, 2), nil
	}
	back, err := stateEvents.DecodeEvent(j)
	if err != nil {
		return b[:at], fmt.Errorf("the event cannot be saved: rdr's wire format refuses it: %w", err)
	}
	ev.Time = ev.Time.UTC()
	if back != ev {
		field := "metadata"
		switch {
		case back.Time != ev.Time:
			field = "timestamp"
		case back.Type != ev.Type:
			field = "eventType"
		case back.UserID != ev.UserID:
			field = "userId"
		case back.IP != ev.IP:
			field = "ipAddress"
		case back.Severity != ev.Severity:
			field = "severity"
		}
		return b[:at], fmt.Errorf("the event cannot be saved: its %s does not survive rdr's wire format", field)
	}
	return wire.Prefix(b, at, 2), nil
}

// detectorStateVersion is the first byte of every built-in detector's saved
// state. The detector's kind follows it: see stateKind.
const detectorStateVersion = 1

// stateKinder is implemented by the built-in detectors: stateKind names the
// detector and the parts of its config that its state depends on ("count
// window=1m0s"). State saved by one detector restores only into a detector
// of the same kind; the Engine also uses it to tell which rules' state it
// can restore.
type stateKinder interface {
	stateKind() string
}

func appendStateHeader(b []byte, kind string) []byte {
	b = append(b, detectorStateVersion)
	return appendString(b, kind)
}

// header reads what appendStateHeader wrote, and fails unless it is for a
// detector of this kind.
func (r *stateReader) header(kind string) {
	if len(r.Data) == 0 {
		r.Fail(0, "empty input")
		return
	}
	if v := r.Byte("version"); v != detectorStateVersion {
		r.Fail(0, "unsupported version %d (this build reads version %d)", v, detectorStateVersion)
		return
	}
	at := r.Off
	if k := r.String("detector kind"); r.Err == nil && k != kind {
		r.Fail(at, "saved by a detector of another kind or config, %q; this one is %q", k, kind)
	}
}

// finish ends the reading of a detector's state: it fails if bytes are
// left, and on failure calls reset, which empties the detector.
func (r *stateReader) finish(reset func()) error {
	r.End()
	if r.Err != nil {
		reset()
		return r.Err
	}
	return nil
}

// appendDelta appends t relative to ref as a zigzag varint. The
// arithmetic wraps, so any t comes back exactly from readDelta with the
// same ref, and times near ref take few bytes.
func appendDelta(b []byte, t, ref int64) []byte {
	return binary.AppendVarint(b, int64(uint64(t)-uint64(ref)))
}

func (r *stateReader) delta(what string, ref int64) int64 {
	return int64(uint64(ref) + uint64(r.Varint(what)))
}

// appendAge appends ref - t for a t at or before ref, as a uvarint.
func appendAge(b []byte, t, ref int64) []byte {
	return binary.AppendUvarint(b, uint64(ref)-uint64(t))
}

// age reads a time written by appendAge, and fails unless it is at or
// before ref.
func (r *stateReader) age(what string, ref int64) int64 {
	at := r.Off
	t := int64(uint64(ref) - r.Uvarint(what))
	if r.Err == nil && t > ref {
		r.Fail(at, "%s: before the earliest time", what)
	}
	return t
}

// appendValues appends a value set of Distinct or FirstSeen: a count, then
// each value's hash and its time relative to ref.
func appendValues(b []byte, vals []seenValue, ref int64) []byte {
	b = binary.AppendUvarint(b, uint64(len(vals)))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint64(b, v.h)
		b = appendDelta(b, v.t, ref)
	}
	return b
}

// values reads what appendValues wrote: at most limit values, with distinct
// hashes, into buf (reused when it is large enough).
func (r *stateReader) values(limit int, ref int64, buf []seenValue) []seenValue {
	at := r.Off
	n := r.Count("values", uint64(limit), 9)
	if r.Err != nil {
		return nil
	}
	vals := buf[:0]
	if cap(vals) < n {
		vals = make([]seenValue, 0, n)
	}
	for range n {
		h := r.Uint64("value hash")
		t := r.delta("value time", ref)
		vals = append(vals, seenValue{h, t})
	}
	if r.Err == nil && hasDuplicate(vals) {
		r.Fail(at, "values: a hash appears twice")
	}
	return vals
}

func hasDuplicate(vals []seenValue) bool {
	if len(vals) <= 32 {
		for i, v := range vals {
			for _, w := range vals[:i] {
				if v.h == w.h {
					return true
				}
			}
		}
		return false
	}
	hs := make([]uint64, len(vals))
	for i, v := range vals {
		hs[i] = v.h
	}
	slices.Sort(hs)
	for i := 1; i < len(hs); i++ {
		if hs[i] == hs[i-1] {
			return true
		}
	}
	return false
}

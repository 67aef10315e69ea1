package anomaly

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/rdr-go/rdr"
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

// stateReader reads encoded state. The first error sticks: later reads
// return zero values, so decoding code checks r.err only where it must
// stop. Errors give the offset in data.
type stateReader struct {
	data []byte
	off  int
	err  error
}

func (r *stateReader) fail(at int, format string, args ...any) {
	if r.err == nil {
		r.err = &stateError{msg: fmt.Sprintf(format, args...) + fmt.Sprintf(" (at byte %d)", at)}
	}
}

// failWith records err, from elsewhere, in context.
func (r *stateReader) failWith(at int, context string, err error) {
	if r.err == nil {
		r.err = withinState(fmt.Sprintf("%s (at byte %d)", context, at), err)
	}
}

func (r *stateReader) rest() int { return len(r.data) - r.off }

// end fails if bytes are left.
func (r *stateReader) end() {
	if r.err == nil && r.rest() != 0 {
		r.fail(r.off, "%d bytes after the end", r.rest())
	}
}

func (r *stateReader) byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if r.rest() == 0 {
		r.fail(r.off, "%s: truncated", what)
		return 0
	}
	r.off++
	return r.data[r.off-1]
}

// bool reads a byte that must be 0 or 1.
func (r *stateReader) bool(what string) bool {
	at := r.off
	switch b := r.byte(what); b {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail(at, "%s: %d, want 0 or 1", what, b)
		return false
	}
}

// take returns the next n bytes, or nil when fewer are left.
func (r *stateReader) take(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(r.rest()) {
		r.fail(r.off, "%s: truncated (%d bytes needed, %d left)", what, n, r.rest())
		return nil
	}
	b := r.data[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return b
}

func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

func (r *stateReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.data[r.off:])
	switch {
	case n == 0:
		r.fail(r.off, "%s: truncated", what)
	case n < 0:
		r.fail(r.off, "%s: varint overflows 64 bits", what)
	case n != uvarintLen(v):
		r.fail(r.off, "%s: varint not minimally encoded", what)
	default:
		r.off += n
		return v
	}
	return 0
}

// varint reads a zigzag varint, minimal like every uvarint.
func (r *stateReader) varint(what string) int64 {
	u := r.uvarint(what)
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// uintMax reads a uvarint that must be at most limit.
func (r *stateReader) uintMax(what string, limit uint64) uint64 {
	at := r.off
	v := r.uvarint(what)
	if r.err == nil && v > limit {
		r.fail(at, "%s: %d, at most %d allowed", what, v, limit)
		return 0
	}
	return v
}

// count reads an entry count of at most limit, each entry taking at least
// minBytes, and checks that they can fit in the bytes left: nothing is
// allocated for entries the input cannot hold.
func (r *stateReader) count(what string, limit uint64, minBytes int) int {
	at := r.off
	n := r.uvarint(what)
	switch {
	case r.err != nil:
		return 0
	case n > limit:
		r.fail(at, "%s: %d entries, at most %d allowed", what, n, limit)
		return 0
	case n > uint64(r.rest())/uint64(minBytes):
		r.fail(at, "%s: truncated (%d entries cannot fit in %d bytes)", what, n, r.rest())
		return 0
	}
	return int(n)
}

func (r *stateReader) uint64(what string) uint64 {
	b := r.take(8, what)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (r *stateReader) float64(what string) float64 { return math.Float64frombits(r.uint64(what)) }

func (r *stateReader) string(what string) string {
	at := r.off
	n := r.uvarint(what)
	if r.err == nil && n > uint64(r.rest()) {
		r.fail(at, "%s: truncated (%d bytes needed, %d left)", what, n, r.rest())
	}
	return string(r.take(n, what))
}

// time reads a time written by appendTime, in UTC.
func (r *stateReader) time(what string) time.Time {
	at := r.off
	sec := r.varint(what)
	nsec := r.uvarint(what)
	if r.err == nil && nsec >= 1e9 {
		r.fail(at, "%s: %d nanoseconds, at most 999999999", what, nsec)
	}
	if r.err != nil {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// event reads an event written by appendEvent; length 0 is the zero Event.
func (r *stateReader) event(what string) rdr.Event {
	at := r.off
	n := r.uvarint(what)
	if n == 0 || r.err != nil {
		return rdr.Event{}
	}
	b := r.take(n, what)
	if r.err != nil {
		return rdr.Event{}
	}
	ev, err := stateEvents.DecodeEvent(b)
	if err != nil {
		r.failWith(at, what, err)
		return rdr.Event{}
	}
	if !bytes.Equal(rdr.AppendJSON(nil, ev), b) {
		r.fail(at, "%s: not in the form rdr.AppendJSON writes", what)
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
// (rdr.AppendJSON), or the zero Event as length 0. scratch is a buffer to
// reuse. It returns an error for an event that would not come back as it
// is: one that rdr's decoder refuses (no event type or user, a time outside
// the years 0 to 9999, an IP address with a zone, metadata nested deeper
// than 512) or changes (invalid UTF-8, metadata with spaces or {}). Events
// decoded by rdr and kept by the Engine always come back. The time comes
// back in UTC.
func appendEvent(b []byte, ev rdr.Event, scratch *[]byte) ([]byte, error) {
	if ev == (rdr.Event{}) {
		return append(b, 0), nil
	}
	j := rdr.AppendJSON((*scratch)[:0], ev)
	*scratch = j
	back, err := stateEvents.DecodeEvent(j)
	if err != nil {
		return b, fmt.Errorf("the event cannot be saved: rdr's wire format refuses it: %w", err)
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
		return b, fmt.Errorf("the event cannot be saved: its %s does not survive rdr's wire format", field)
	}
	b = binary.AppendUvarint(b, uint64(len(j)))
	return append(b, j...), nil
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
	if len(r.data) == 0 {
		r.fail(0, "empty input")
		return
	}
	if v := r.byte("version"); v != detectorStateVersion {
		r.fail(0, "unsupported version %d (this build reads version %d)", v, detectorStateVersion)
		return
	}
	at := r.off
	if k := r.string("detector kind"); r.err == nil && k != kind {
		r.fail(at, "saved by a detector of another kind or config, %q; this one is %q", k, kind)
	}
}

// finish ends the reading of a detector's state: it fails if bytes are
// left, and on failure calls reset, which empties the detector.
func (r *stateReader) finish(reset func()) error {
	r.end()
	if r.err != nil {
		reset()
		return r.err
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
	return int64(uint64(ref) + uint64(r.varint(what)))
}

// appendAge appends ref - t for a t at or before ref, as a uvarint.
func appendAge(b []byte, t, ref int64) []byte {
	return binary.AppendUvarint(b, uint64(ref)-uint64(t))
}

// age reads a time written by appendAge, and fails unless it is at or
// before ref.
func (r *stateReader) age(what string, ref int64) int64 {
	at := r.off
	t := int64(uint64(ref) - r.uvarint(what))
	if r.err == nil && t > ref {
		r.fail(at, "%s: before the earliest time", what)
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
	at := r.off
	n := r.count("values", uint64(limit), 9)
	if r.err != nil {
		return nil
	}
	vals := buf[:0]
	if cap(vals) < n {
		vals = make([]seenValue, 0, n)
	}
	for range n {
		h := r.uint64("value hash")
		t := r.delta("value time", ref)
		vals = append(vals, seenValue{h, t})
	}
	if r.err == nil && hasDuplicate(vals) {
		r.fail(at, "values: a hash appears twice")
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

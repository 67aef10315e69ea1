// Package wire reads the strict binary formats in which rdr saves state
// (detector, window and aggregate state, window partials): little-endian
// fixed-width integers, minimally encoded varints, and counts checked
// against the bytes left before anything is allocated for them.
package wire

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Reader reads one encoded value. The first error sticks: later reads
// return zero values, so decoding code checks Err only where it must
// stop. Error messages name what was being read and the offset in Data.
type Reader struct {
	Data []byte
	Off  int
	Err  error
	// Invalid makes the error for malformed input from its message (which
	// ends with the offset): each package wraps its own sentinel error.
	Invalid func(msg string) error
}

// Fail records a malformed input at offset at, unless an error is
// recorded already.
func (r *Reader) Fail(at int, format string, args ...any) {
	if r.Err == nil {
		r.Err = r.Invalid(fmt.Sprintf(format, args...) + fmt.Sprintf(" (at byte %d)", at))
	}
}

// Rest is the number of bytes not read yet.
func (r *Reader) Rest() int { return len(r.Data) - r.Off }

// End fails if bytes are left.
func (r *Reader) End() {
	if r.Err == nil && r.Rest() != 0 {
		r.Fail(r.Off, "%d bytes after the end", r.Rest())
	}
}

// Byte reads one byte.
func (r *Reader) Byte(what string) byte {
	if r.Err != nil {
		return 0
	}
	if r.Rest() == 0 {
		r.Fail(r.Off, "%s: truncated", what)
		return 0
	}
	r.Off++
	return r.Data[r.Off-1]
}

// Bool reads a byte that must be 0 or 1.
func (r *Reader) Bool(what string) bool {
	at := r.Off
	switch b := r.Byte(what); b {
	case 0:
		return false
	case 1:
		return true
	default:
		r.Fail(at, "%s: %d, want 0 or 1", what, b)
		return false
	}
}

// Take returns the next n bytes (sharing Data's memory), or nil when fewer
// are left.
func (r *Reader) Take(n uint64, what string) []byte {
	if r.Err != nil {
		return nil
	}
	if n > uint64(r.Rest()) {
		r.Fail(r.Off, "%s: truncated (%d bytes needed, %d left)", what, n, r.Rest())
		return nil
	}
	b := r.Data[r.Off : r.Off+int(n) : r.Off+int(n)]
	r.Off += int(n)
	return b
}

// UvarintLen is the length of v's minimal uvarint encoding.
func UvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

// Uvarint reads a minimally encoded uvarint.
func (r *Reader) Uvarint(what string) uint64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.Data[r.Off:])
	switch {
	case n == 0:
		r.Fail(r.Off, "%s: truncated", what)
	case n < 0:
		r.Fail(r.Off, "%s: varint overflows 64 bits", what)
	case n != UvarintLen(v):
		r.Fail(r.Off, "%s: varint not minimally encoded", what)
	default:
		r.Off += n
		return v
	}
	return 0
}

// Varint reads a zigzag varint, minimal like every uvarint.
func (r *Reader) Varint(what string) int64 {
	u := r.Uvarint(what)
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// UintMax reads a uvarint that must be at most limit.
func (r *Reader) UintMax(what string, limit uint64) uint64 {
	at := r.Off
	v := r.Uvarint(what)
	if r.Err == nil && v > limit {
		r.Fail(at, "%s: %d, at most %d allowed", what, v, limit)
		return 0
	}
	return v
}

// Count reads an entry count of at most limit, each entry taking at least
// minBytes (≥ 1), and checks that they can fit in the bytes left: nothing
// is allocated for entries the input cannot hold.
func (r *Reader) Count(what string, limit uint64, minBytes int) int {
	at := r.Off
	n := r.Uvarint(what)
	switch {
	case r.Err != nil:
		return 0
	case n > limit:
		r.Fail(at, "%s: %d entries, at most %d allowed", what, n, limit)
		return 0
	case n > uint64(r.Rest())/uint64(minBytes):
		r.Fail(at, "%s: truncated (%d entries cannot fit in %d bytes)", what, n, r.Rest())
		return 0
	}
	return int(n)
}

// Uint32 reads a little-endian uint32.
func (r *Reader) Uint32(what string) uint32 {
	if b := r.Take(4, what); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

// Uint64 reads a little-endian uint64.
func (r *Reader) Uint64(what string) uint64 {
	if b := r.Take(8, what); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// String reads a uvarint length and that many bytes, copied.
func (r *Reader) String(what string) string {
	at := r.Off
	n := r.Uvarint(what)
	if r.Err == nil && n > uint64(r.Rest()) {
		r.Fail(at, "%s: truncated (%d bytes needed, %d left)", what, n, r.Rest())
	}
	return string(r.Take(n, what))
}

package wire

import "encoding/binary"

// Prefix puts the uvarint length of a part appended straight into b in
// front of it, for a part whose length was not known before it was
// written: b[at:at+room] is room left for the length, the part is
// b[at+room:]. The part moves only when its length takes other than room
// bytes; a caller that guessed the length's size right (room =
// UvarintLen(guess)) copies nothing.
func Prefix(b []byte, at, room int) []byte {
	n := len(b) - at - room
	k := UvarintLen(uint64(n))
	switch {
	case k > room:
		b = append(b, make([]byte, k-room)...)
		copy(b[at+k:], b[at+room:at+room+n])
	case k < room:
		copy(b[at+k:], b[at+room:])
		b = b[:at+k+n]
	}
	binary.PutUvarint(b[at:], uint64(n))
	return b
}

// AppendPart appends a length-prefixed part that write appends straight
// into b, and returns b and the part's length. guess is the length the
// part is expected to have (the last one's, say): with the right size of
// length the part is not moved (see Prefix). On an error it returns b as
// it was.
func AppendPart(b []byte, guess int, write func([]byte) ([]byte, error)) ([]byte, int, error) {
	at, room := len(b), UvarintLen(uint64(guess))
	out, err := write(append(b, make([]byte, room)...))
	if err != nil {
		return b, 0, err
	}
	n := len(out) - at - room
	return Prefix(out, at, room), n, nil
}

// Grow returns b with room for n more bytes, doubling its capacity when
// it has to grow. A state of megabytes appended piece by piece grew by a
// quarter at a time (append's rule for large slices): copied five times
// over, in fresh memory each time. Call it before each piece.
func Grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), max(2*cap(b), len(b)+n, 4096))
	copy(nb, b)
	return nb
}

package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// badInput is the error the tests' readers make.
type badInput struct{ msg string }

func (e *badInput) Error() string { return e.msg }

func reader(b ...byte) *Reader {
	return &Reader{Data: b, Invalid: func(msg string) error { return &badInput{msg} }}
}

// Every malformed input is refused with what was read and where; the
// first error sticks and later reads return zero values.
func TestReaderRefusesMalformedInput(t *testing.T) {
	for _, tt := range []struct {
		name string
		read func(r *Reader)
		data []byte
		want string
	}{
		{"truncated byte", func(r *Reader) { r.Byte("kind") }, nil, "kind: truncated (at byte 0)"},
		{"bool not 0 or 1", func(r *Reader) { r.Bool("flag") }, []byte{2}, "flag: 2, want 0 or 1 (at byte 0)"},
		{"non-minimal varint", func(r *Reader) { r.Uvarint("n") }, []byte{0x80, 0x00}, "n: varint not minimally encoded (at byte 0)"},
		{"varint overflow", func(r *Reader) { r.Uvarint("n") }, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "n: varint overflows 64 bits (at byte 0)"},
		{"over the limit", func(r *Reader) { r.UintMax("n", 3) }, []byte{4}, "n: 4, at most 3 allowed (at byte 0)"},
		{"more entries than bytes", func(r *Reader) { r.Count("keys", 1<<62, 8) }, []byte{2, 0, 0, 0, 0, 0, 0, 0, 0}, "keys: truncated (2 entries cannot fit in 8 bytes) (at byte 0)"},
		{"a count whose n*minBytes overflows", func(r *Reader) { r.Count("keys", 1<<63, 1<<20) }, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40}, "keys: truncated (4611686018427387904 entries cannot fit in 0 bytes) (at byte 0)"},
		{"string past the end", func(r *Reader) { r.String("name") }, []byte{5, 'a'}, "name: truncated (5 bytes needed, 1 left) (at byte 0)"},
		{"short uint64", func(r *Reader) { r.Uint64("sum") }, []byte{1, 2, 3}, "sum: truncated (8 bytes needed, 3 left) (at byte 0)"},
		{"bytes left", func(r *Reader) { r.Byte("kind"); r.End() }, []byte{1, 2}, "1 bytes after the end (at byte 1)"},
		{"first error sticks", func(r *Reader) { r.Bool("a"); r.Bool("b") }, []byte{9, 9}, "a: 9, want 0 or 1 (at byte 0)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := reader(tt.data...)
			tt.read(r)
			var bad *badInput
			if !errors.As(r.Err, &bad) {
				t.Fatalf("err = %v, want one made by Invalid", r.Err)
			}
			if bad.msg != tt.want {
				t.Fatalf("message %q, want %q", bad.msg, tt.want)
			}
			if v := r.Uvarint("after"); v != 0 {
				t.Fatalf("a read after an error returned %d", v)
			}
		})
	}
}

// Well-formed input reads back what was written.
func TestReaderReadsValues(t *testing.T) {
	r := reader(1, 0x96, 0x01, 3, 3, 'a', 'b', 'c', 2, 0, 0, 0)
	if !r.Bool("b") || r.Uvarint("u") != 150 || r.Varint("v") != -2 || r.String("s") != "abc" || r.Uint32("w") != 2 {
		t.Fatalf("wrong values, err %v", r.Err)
	}
	r.End()
	if r.Err != nil {
		t.Fatal(r.Err)
	}
}

func TestPrefixPutsTheLengthInFront(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 300, 16383, 16384, 70000} {
		part := make([]byte, n)
		for i := range part {
			part[i] = byte(i*7 + 1)
		}
		want := binary.AppendUvarint([]byte("head"), uint64(n))
		want = append(want, part...)
		for room := range 5 {
			b := append([]byte("head"), make([]byte, room)...)
			b = append(b, part...)
			got := Prefix(b, 4, room)
			if !bytes.Equal(got, want) {
				t.Fatalf("n=%d room=%d: got %d bytes, want %d", n, room, len(got), len(want))
			}
		}
	}
}

func TestGrowDoubles(t *testing.T) {
	b := Grow(nil, 10)
	if len(b) != 0 || cap(b) < 10 {
		t.Fatalf("Grow(nil, 10): len %d cap %d", len(b), cap(b))
	}
	b = append(b, "abc"...)
	if g := Grow(b, cap(b)-3); &g[0] != &b[0] {
		t.Fatal("Grow moved a buffer that had room")
	}
	c := cap(b)
	g := Grow(b, c)
	if string(g) != "abc" || cap(g) < 2*c {
		t.Fatalf("Grow(b, %d) = %q cap %d, want \"abc\" and cap >= %d", c, g, cap(g), 2*c)
	}
}

func TestAppendPartPrefixesWhatWriteAppends(t *testing.T) {
	for _, guess := range []int{0, 5, 300, 20000} {
		for _, n := range []int{0, 100, 200, 17000} {
			part := bytes.Repeat([]byte{'p'}, n)
			b, got, err := AppendPart([]byte("head"), guess, func(b []byte) ([]byte, error) { return append(b, part...), nil })
			want := append(binary.AppendUvarint([]byte("head"), uint64(n)), part...)
			if err != nil || got != n || !bytes.Equal(b, want) {
				t.Fatalf("guess %d, part %d: %d bytes, length %d, err %v", guess, n, len(b), got, err)
			}
		}
	}
	fail := errors.New("no")
	b, n, err := AppendPart([]byte("head"), 10, func(b []byte) ([]byte, error) { return append(b, "junk"...), fail })
	if string(b) != "head" || n != 0 || err != fail {
		t.Fatalf("a failed write: %q, %d, %v; want \"head\", 0 and its error", b, n, err)
	}
}

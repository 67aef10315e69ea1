package anomaly_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A state of one number, saved as a uvarint.
func appendNumber(b []byte, s *uint64) []byte { return binary.AppendUvarint(b, *s) }

func readNumber(data []byte, s *uint64) (int, error) {
	v, n := binary.Uvarint(data)
	if n <= 0 {
		return 0, errors.New("bad number")
	}
	*s = v
	return n, nil
}

func TestTableSaveRestore(t *testing.T) {
	tab := anomaly.NewTable[uint64](time.Minute)
	tab.Advance(t0)
	*tab.Put("old") = 1
	*tab.Put("kept") = 2
	tab.Advance(t0.Add(time.Minute))
	require.NotNil(t, tab.Get("kept")) // used in this generation
	*tab.Put("new") = 3
	state := tab.AppendState(nil, appendNumber)

	back := anomaly.NewTable[uint64](time.Minute)
	*back.Put("to be replaced") = 9
	rest, err := back.RestoreState(append(state, "more"...), readNumber)
	require.NoError(t, err)
	assert.Equal(t, []byte("more"), rest, "RestoreState returns what follows the table")
	assert.Equal(t, 3, back.Len())
	assert.Equal(t, state, back.AppendState(nil, appendNumber), "a restored table saves to the same bytes")

	// The keys' ages came back: the next generation drops "old", which was
	// last used two generations before it.
	for _, tt := range []*anomaly.Table[uint64]{tab, back} {
		tt.Advance(t0.Add(2 * time.Minute))
		assert.Equal(t, 2, tt.Len())
		assert.Nil(t, tt.Get("old"))
		assert.Equal(t, uint64(2), *tt.Get("kept"), "the restored seed hashes the keys as before")
		assert.Equal(t, uint64(3), *tt.Get("new"))
		assert.Nil(t, tt.Get("to be replaced"))
	}
}

func TestTableRestoreRefuses(t *testing.T) {
	tab := anomaly.NewTable[uint64](time.Minute)
	tab.Advance(t0)
	*tab.Put("a") = 1
	*tab.Put("b") = 300
	state := tab.AppendState(nil, appendNumber)
	for _, tt := range []struct {
		name string
		data []byte
		ttl  time.Duration
		read func([]byte, *uint64) (int, error)
		want string
	}{
		{"empty", nil, time.Minute, readNumber, "anomaly: invalid state: table version: truncated (at byte 0)"},
		{"another TTL", state, time.Hour, readNumber, "anomaly: invalid state: table: saved with TTL 1m0s, this table's is 1h0m0s (at byte 9)"},
		{"truncated", state[:len(state)-1], time.Minute, readNumber, "anomaly: invalid state: key 1 of 2: state (at byte "},
		{"a state it refuses", state, time.Minute, func([]byte, *uint64) (int, error) { return 0, errors.New("no") },
			"anomaly: invalid state: key 0 of 2: state (at byte 30): no"},
		{"a state that claims too much", state, time.Minute, func(d []byte, _ *uint64) (int, error) { return len(d) + 1, nil },
			"anomaly: invalid state: key 0 of 2: state: readState used "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			back := anomaly.NewTable[uint64](tt.ttl)
			*back.Put("x") = 1
			_, err := back.RestoreState(tt.data, tt.read)
			require.ErrorIs(t, err, anomaly.ErrInvalidState)
			assert.Contains(t, err.Error(), tt.want)
			assert.Zero(t, back.Len(), "a table that refused its state is empty")
		})
	}
}

// A saved table must restore in any later version and on any platform, so
// a key's hash for a given seed must never change. Keys of every length the
// hash treats apart.
func TestTableHashIsStable(t *testing.T) {
	for _, tt := range []struct {
		key  string
		hash uint64
	}{
		{"", 0xf51a8e88fec8ec5a},
		{"a", 0xda6dac373e4d592f},
		{"ab", 0x692c927a781d5a29},
		{"abc", 0xe8d398b56154b685},
		{"abcd", 0xa687c0435ebb1b23},
		{"abcdefg", 0xc02bbeade52966de},
		{"abcdefgh", 0xb72d0197bb7a316a},
		{"abcdefghijklmnop", 0x0ca32ebdeaccbd52},
		{strings.Repeat("x", 17), 0x8c9e6e55ef903f10},
		{strings.Repeat("y", 48), 0xd203acfb5e575192},
		{strings.Repeat("z", 49), 0x7ab54abf709c5e39},
		{strings.Repeat("w", 100), 0xad1b45c6862d579e},
	} {
		state := []byte{1}                                                  // version
		state = binary.LittleEndian.AppendUint64(state, 0x0123456789abcdef) // seed
		state = binary.AppendUvarint(state, uint64(time.Minute))            // ttl
		state = append(state, 0, 0, 1)                                      // not started, generation 0, 1 key
		state = binary.LittleEndian.AppendUint64(state, tt.hash)
		state = append(state, 0, 42) // age 0, state 42
		tab := anomaly.NewTable[uint64](time.Minute)
		_, err := tab.RestoreState(state, readNumber)
		require.NoError(t, err)
		if s := tab.Get(tt.key); assert.NotNil(t, s, "key %q", tt.key) {
			assert.Equal(t, uint64(42), *s)
		}
		assert.Nil(t, tab.Get(tt.key+"!"))
	}
}

// Similar keys of every length land on different hashes, and two tables
// (two seeds) hash them differently.
func TestTableKeysSpread(t *testing.T) {
	a, b := anomaly.NewTable[uint64](time.Minute), anomaly.NewTable[uint64](time.Minute)
	n := 0
	for l := range 70 {
		for i := range 2000 {
			k := fmt.Sprintf("%0*d", l, i)
			if a.Get(k) == nil {
				*a.Put(k) = 1
				*b.Put(k) = 1
				n++
			}
		}
	}
	assert.Equal(t, n, a.Len(), "no two keys share a hash")
	sa, sb := a.AppendState(nil, appendNumber), b.AppendState(nil, appendNumber)
	assert.NotEqual(t, sa[9:], sb[9:], "another seed, other hashes")
}

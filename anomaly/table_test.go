package anomaly_test

import (
	"encoding/binary"
	"errors"
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

package rdr_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
)

func TestParseDuration(t *testing.T) {
	const day = 24 * time.Hour
	for in, want := range map[string]time.Duration{
		"0s": 0, "300ms": 300 * time.Millisecond, "1.5h": 90 * time.Minute, "2h45m": 2*time.Hour + 45*time.Minute,
		"-5s": -5 * time.Second, "7d": 7 * day, "1d12h": day + 12*time.Hour, "20d5m": 20*day + 5*time.Minute,
		"0d": 0, "36500d": 36500 * day,
	} {
		got, err := rdr.ParseDuration(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "d", "7", "x", "1.5d", "-1d", "+1d", "1d-5m", "1d+5m", "36501d", "1d1d", "5m1d", "7 d", "1w"} {
		_, err := rdr.ParseDuration(in)
		assert.EqualError(t, err, `rdr: invalid duration "`+in+`" (want a duration like 30s, 5m, 1h30m or 7d)`, in)
	}
}

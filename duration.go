package rdr

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxDurationDays is the most days ParseDuration takes (100 years).
const MaxDurationDays = 100 * 365

// ParseDuration reads the one duration syntax of rdr — rule files, the rule
// tester, the dashboard's flags, environment variables and API — Go's
// (time.ParseDuration: "300ms", "1.5h", "2h45m", "-5s") with whole days in
// front: "7d", "1d12h", "20d5m". Days cannot be negative or more than
// MaxDurationDays, and a negative Go part cannot follow them. The error
// names the input and the syntax.
func ParseDuration(s string) (time.Duration, error) {
	bad := func() (time.Duration, error) {
		return 0, fmt.Errorf("rdr: invalid duration %q (want a duration like 30s, 5m, 1h30m or 7d)", s)
	}
	rest := s
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n < 0 || n > MaxDurationDays || (i > 0 && s[0] == '+') {
			return bad()
		}
		days = time.Duration(n) * 24 * time.Hour
		if rest = s[i+1:]; rest == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(rest)
	if err != nil || (days > 0 && d < 0) || (rest != s && (rest[0] == '-' || rest[0] == '+')) {
		return bad()
	}
	return days + d, nil
}

// DurationValue is a flag.Value of ParseDuration's syntax, so that a
// command's duration flags read as its rule files do:
//
//	d := 10 * time.Second // the default
//	fs.Var((*rdr.DurationValue)(&d), "lateness", "allowed lateness, e.g. 30s or 1d")
type DurationValue time.Duration

func (d *DurationValue) String() string { return time.Duration(*d).String() }

// Set parses s with ParseDuration.
func (d *DurationValue) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = DurationValue(v)
	return nil
}

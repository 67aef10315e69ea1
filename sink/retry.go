package sink

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// What the sinks that deliver over HTTP ([Influx], [Webhook]) share: which
// answers are worth another try, how long to wait before it, and which URLs
// they take.

// retryableStatus reports whether an HTTP answer with this status may
// succeed if sent again: a timeout (408), too many requests (429) or a
// server error (5xx). Other answers will be the same next time.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// backoff is the wait before retry number attempt (0 for the first retry):
// first doubled attempt times, capped at max, then drawn between half and
// all of it, so that senders that failed together do not retry together.
func backoff(first, max time.Duration, attempt int) time.Duration {
	d := first << min(attempt, 30)
	if d <= 0 || d > max {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

// checkHTTPURL returns an error naming setting when raw is not an http or
// https URL with a host.
func checkHTTPURL(setting, raw string) error {
	if raw == "" {
		return fmt.Errorf("%s is required", setting)
	}
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s must be an http or https URL, got %q", setting, raw)
	}
	return nil
}

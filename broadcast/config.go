package broadcast

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/rdr-go/rdr"
)

// Defaults used by [NewHub] for zero fields of [Config].
const (
	DefaultQueueSize    = 128
	DefaultMaxLag       = 10 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultPingInterval = 30 * time.Second
	DefaultPingTimeout  = 10 * time.Second
	DefaultCloseTimeout = 3 * time.Second
	DefaultReadLimit    = 4096
)

// Config configures a [Hub]. The zero value is valid: same-origin browsers
// only, no token, the defaults below.
type Config struct {
	// Token, when not empty, is the bearer token every client must present,
	// either in an "Authorization: Bearer <token>" header or, for browsers
	// (which cannot set headers on a WebSocket), in an access_token query
	// parameter. A missing or wrong token gets 401 Unauthorized before the
	// upgrade, so no data. Tokens are compared in constant time. Optional;
	// default "" (no authentication). Prefer the header where you can: query
	// strings end up in access logs.
	Token string

	// OriginPatterns lists the host patterns of the web origins allowed to
	// connect besides the request's own host (see
	// websocket.AcceptOptions.OriginPatterns: path.Match patterns such as
	// "dashboard.example.com" or "localhost:*"; a pattern with "://" is
	// matched against scheme://host). A browser from any other origin gets
	// 403 Forbidden. Requests without an Origin header (non-browser
	// clients) are always allowed. Optional; default none (same origin
	// only).
	OriginPatterns []string

	// QueueSize is the most messages waiting for one client. When it is
	// full, the topic's policy applies (see the package documentation):
	// metrics are coalesced, events dropped and counted, and a client that
	// cannot take an alert is disconnected. The queue grows on demand, so an
	// idle client costs little. Optional; default [DefaultQueueSize].
	QueueSize int

	// MaxLag is how long a client may stay behind — from the first message
	// that did not fit in its queue until its queue next runs empty —
	// before it is disconnected. It is measured with Now, when a message
	// is published. Optional; default [DefaultMaxLag]; negative means never
	// disconnect for lag alone.
	MaxLag time.Duration

	// WriteTimeout is the longest one message (or ping) may take to write
	// to a client's connection; a client that stalls longer is
	// disconnected. Optional; default [DefaultWriteTimeout].
	WriteTimeout time.Duration

	// PingInterval is how often the hub pings each client; a client that
	// does not answer within PingTimeout is disconnected. Optional;
	// default [DefaultPingInterval]; negative disables keepalive pings.
	PingInterval time.Duration

	// PingTimeout is how long a ping waits for its pong. Optional; default
	// [DefaultPingTimeout].
	PingTimeout time.Duration

	// CloseTimeout bounds, per client, what [Hub.Close] waits for: the
	// client's queued messages to be written and the close handshake to
	// finish. After it the connection is cut. Optional; default
	// [DefaultCloseTimeout].
	CloseTimeout time.Duration

	// ReadLimit is the largest message, in bytes, a client may send (its
	// messages are subscribe requests, a few dozen bytes). A bigger one
	// closes the connection with status 1009 (message too big). Optional;
	// default [DefaultReadLimit].
	ReadLimit int64

	// MaxClients is the most clients connected at once; more get 503
	// Service Unavailable. Optional; default 0 (no limit).
	MaxClients int

	// Clock tells the time for the "ts" field of envelopes and for
	// measuring MaxLag. Optional; default rdr.SystemClock. Network timeouts
	// (WriteTimeout, pings, CloseTimeout) always run on real timers.
	Clock rdr.Clock
}

func (c *Config) setDefaults() {
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.MaxLag == 0 {
		c.MaxLag = DefaultMaxLag
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.ReadLimit == 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.Clock == nil {
		c.Clock = rdr.SystemClock
	}
}

// Validate reports every field of c that is out of range, in one error
// matching [ErrInvalidConfig]. Zero fields are valid (they take defaults).
func (c Config) Validate() error {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	if c.QueueSize < 0 {
		bad("QueueSize must not be negative, got %d", c.QueueSize)
	}
	if c.WriteTimeout < 0 {
		bad("WriteTimeout must not be negative, got %v", c.WriteTimeout)
	}
	if c.PingTimeout < 0 {
		bad("PingTimeout must not be negative, got %v", c.PingTimeout)
	}
	if c.CloseTimeout < 0 {
		bad("CloseTimeout must not be negative, got %v", c.CloseTimeout)
	}
	if c.ReadLimit < 0 {
		bad("ReadLimit must not be negative, got %d", c.ReadLimit)
	}
	if c.MaxClients < 0 {
		bad("MaxClients must not be negative, got %d", c.MaxClients)
	}
	if strings.ContainsAny(c.Token, " \t\r\n") {
		bad("Token must not contain spaces or line breaks")
	}
	for i, p := range c.OriginPatterns {
		if p == "" {
			bad("OriginPatterns[%d] is empty", i)
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			bad("OriginPatterns[%d] %q is not a valid pattern: %v", i, p, err)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
}

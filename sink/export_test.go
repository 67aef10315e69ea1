package sink

import "context"

// Internals exported to the external tests.
var (
	InfluxQLString = influxQLString
	EncodeTag      = encodeTag
	DecodeTag      = decodeTag
)

// BuildInfluxQL returns the InfluxQL statement and bound parameters
// History sends for q.
func BuildInfluxQL(q Query, bind bool) (string, map[string]string) {
	p := buildInfluxQL(q, bind, false)
	return p.stmt, p.params
}

// Queries returns the number of InfluxQL queries s has sent.
func Queries(s *Influx) uint64 { return s.reader.queries.Load() }

// Binds reports whether s binds filter values on its server (asking it
// the first time).
func Binds(ctx context.Context, s *Influx) bool { return s.reader.binds(ctx) }

// SetBind makes s bind filter values (true) or write them as literals
// (false), whatever its server's version.
func SetBind(s *Influx, bind bool) {
	if bind {
		s.reader.bind.Store(1)
	} else {
		s.reader.bind.Store(2)
	}
}

// The shared retry rules of the HTTP sinks.
var (
	RetryableStatus = retryableStatus
	Backoff         = backoff
)

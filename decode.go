package rdr

import (
	"bytes"
	"fmt"
	"iter"
	"net/netip"
	"strconv"
	"time"
	"unsafe"
)

// DecoderConfig configures a [Decoder]. The zero value is valid.
type DecoderConfig struct {
	// Limits bound what is accepted. Optional; zero fields take the
	// defaults documented on [Limits].
	Limits Limits
	// Clock is what "now" means for Limits.MaxFuture and Limits.MaxPast.
	// Optional; default SystemClock.
	Clock Clock
}

// Decoder turns wire bytes into events. A Decoder is immutable once made, so
// it is safe for concurrent use.
type Decoder struct {
	limits Limits
	clock  Clock
}

// NewDecoder returns a Decoder for cfg, with defaults filled in.
func NewDecoder(cfg DecoderConfig) (*Decoder, error) {
	cfg.Limits.setDefaults()
	if cfg.Clock == nil {
		cfg.Clock = SystemClock
	}
	if err := cfg.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	return &Decoder{limits: cfg.Limits, clock: cfg.Clock}, nil
}

// Limits returns the limits in force, defaults filled in.
func (d *Decoder) Limits() Limits { return d.limits }

// DecodeEvent decodes exactly one event: a JSON object, optionally with
// spaces around it. Anything wrong gives an [*InvalidEventError] that names
// the field and the reason.
func (d *Decoder) DecodeEvent(data []byte) (Event, error) {
	return d.decodeEvent(data, d.now())
}

// now reads the clock, unless no limit needs it.
func (d *Decoder) now() time.Time {
	if d.limits.MaxFuture < 0 && d.limits.MaxPast < 0 {
		return time.Time{}
	}
	return d.clock.Now()
}

// decodeEvent is DecodeEvent with "now" read once per batch by the caller:
// the fast path, and the general one where it declines.
func (d *Decoder) decodeEvent(data []byte, now time.Time) (Event, error) {
	if len(data) > d.limits.MaxEventBytes {
		return Event{}, &InvalidEventError{Reason: tooLarge("event", len(data), d.limits.MaxEventBytes)}
	}
	if ev, end, ok := d.decodeFast(data, 0, now); ok && onlySpace(data[end:]) {
		return ev, nil
	}
	s := scanner{data: data}
	ev, err, _ := d.decodeObject(&s, now)
	if err != nil {
		return Event{}, err
	}
	if s.peek() != 0 || s.pos < len(data) {
		return Event{}, s.errorf("unexpected data after the event").invalid()
	}
	return ev, nil
}

// Events decodes one event, a JSON array of events, or NDJSON (one event per
// line; blank lines are skipped), and yields each item in order: the event
// and a nil error, or a zero Event and an [*ItemError] giving the item's
// index and what is wrong with it. A bad item does not stop the others.
//
// Input that is wrong as a whole — too large, not JSON, an array that breaks
// off — yields one *ItemError (Index is the item where reading stopped) and
// ends the sequence; items before it were yielded already.
//
// The yielded events do not share memory with data, which may be reused
// once the loop is done.
func (d *Decoder) Events(data []byte) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		d.events(data, yield)
	}
}

func (d *Decoder) events(data []byte, yield func(Event, error) bool) {
	if len(data) > d.limits.MaxBatchBytes {
		yield(Event{}, &ItemError{Index: 0, Err: &InvalidEventError{Reason: tooLarge("batch", len(data), d.limits.MaxBatchBytes)}, Raw: data})
		return
	}
	s := scanner{data: data}
	c := s.peek()
	if s.pos >= len(data) {
		yield(Event{}, &ItemError{Index: 0, Err: &InvalidEventError{Reason: "empty input, want an event, an array of events or NDJSON"}, Raw: data})
		return
	}
	switch c {
	case '[':
		d.array(&s, d.now(), yield)
	case '{':
		// One object, or the first line of NDJSON. One event on one line
		// (a string holds no raw newline) takes the fast path at once.
		now := d.now()
		if ev, ok := d.one(data, s.pos, now); ok {
			yield(ev, nil)
			return
		}
		start := s.pos
		if err := s.skipValue(0, skipDepth); err == nil && s.peek() == 0 && s.pos >= len(data) {
			ev, err := d.decodeEvent(data[start:s.pos], now)
			yield(ev, itemError(0, err, data))
			return
		}
		d.lines(data, now, yield)
	default:
		yield(Event{}, &ItemError{Index: 0, Err: s.errorf("unexpected " + quoteByte(data[s.pos]) + ", want an event, an array of events or NDJSON").invalid(), Raw: data})
	}
}

// One decodes data when it holds one event on one line, as most Kafka
// records do, and reports whether it did: the event is what Events yields
// for such data, without the iterator (whose closures are allocated each
// call). It is Events' fast path, and declines (ok false) what that path
// leaves to the full decoder: an array, NDJSON, an invalid event, a string
// with escapes, …; give such data to Events.
func (d *Decoder) One(data []byte) (ev Event, ok bool) {
	if len(data) > d.limits.MaxBatchBytes {
		return Event{}, false
	}
	s := scanner{data: data}
	if s.peek() != '{' {
		return Event{}, false
	}
	return d.one(data, s.pos, d.now())
}

// one is the fast path of Events for data holding one event on one line,
// the event starting at start.
func (d *Decoder) one(data []byte, start int, now time.Time) (Event, bool) {
	if bytes.IndexByte(bytes.TrimRight(data, " \t\r\n"), '\n') >= 0 {
		return Event{}, false
	}
	if ev, end, ok := d.decodeFast(data, start, now); ok && onlySpace(data[end:]) {
		return ev, true
	}
	return Event{}, false
}

func onlySpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

func itemError(i int, err error, raw []byte) error {
	if err == nil {
		return nil
	}
	return &ItemError{Index: i, Err: err, Raw: raw}
}

func (d *Decoder) array(s *scanner, now time.Time, yield func(Event, error) bool) {
	s.pos++ // '['
	if s.peek() == ']' {
		s.pos++
		if s.peek() != 0 || s.pos < len(s.data) {
			yield(Event{}, &ItemError{Index: 0, Err: s.errorf("unexpected data after the array").invalid(), Raw: s.data[s.pos:]})
		}
		return
	}
	for i := 0; ; i++ {
		s.peek()
		start := s.pos
		if i >= d.limits.MaxBatchEvents {
			yield(Event{}, &ItemError{Index: i, Err: &InvalidEventError{Reason: fmt.Sprintf("batch holds more than %d events", d.limits.MaxBatchEvents)}, Raw: s.data[start:]})
			return
		}
		var ev Event
		var err error
		if fev, end, ok := d.decodeFast(s.data, start, now); ok {
			ev, s.pos = fev, end
		} else if s.peek() == '{' {
			var ierr *InvalidEventError
			var malformed bool
			ev, ierr, malformed = d.decodeObject(s, now)
			if malformed {
				yield(Event{}, &ItemError{Index: i, Err: ierr, Raw: s.data[start:]})
				return
			}
			if ierr == nil && s.pos-start > d.limits.MaxEventBytes {
				ev, ierr = Event{}, &InvalidEventError{Reason: tooLarge("event", s.pos-start, d.limits.MaxEventBytes)}
			}
			if ierr != nil {
				err = ierr
			}
		} else {
			if serr := s.skipValue(0, skipDepth); serr != nil {
				yield(Event{}, &ItemError{Index: i, Err: serr.invalid(), Raw: s.data[start:]})
				return
			}
			err = &InvalidEventError{Reason: "not a JSON object"}
		}
		if !yield(ev, itemError(i, err, s.data[start:s.pos])) {
			return
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			if s.peek() != 0 || s.pos < len(s.data) {
				yield(Event{}, &ItemError{Index: i + 1, Err: s.errorf("unexpected data after the array").invalid(), Raw: s.data[s.pos:]})
			}
			return
		default:
			yield(Event{}, &ItemError{Index: i + 1, Err: s.errorf("want ',' or ']' after an array item").invalid(), Raw: s.data[s.pos:]})
			return
		}
	}
}

func (d *Decoder) lines(data []byte, now time.Time, yield func(Event, error) bool) {
	i := 0
	for len(data) > 0 {
		line := data
		if j := bytes.IndexByte(data, '\n'); j >= 0 {
			line, data = data[:j], data[j+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if i >= d.limits.MaxBatchEvents {
			yield(Event{}, &ItemError{Index: i, Err: &InvalidEventError{Reason: fmt.Sprintf("batch holds more than %d events", d.limits.MaxBatchEvents)}, Raw: line})
			return
		}
		ev, err := d.decodeEvent(line, now)
		if !yield(ev, itemError(i, err, line)) {
			return
		}
		i++
	}
}

func tooLarge(what string, n, limit int) string {
	return fmt.Sprintf("%s is %d bytes, larger than the limit of %d", what, n, limit)
}

// skipDepth is how deeply nested a value the decoder reads past — an
// unknown field, a field of the wrong type, metadata nested too deep, an
// array item that is not an object — to report it and go on with the
// batch. It bounds the work hostile nesting can cause.
const skipDepth = 512

// The wire names of the fields.
const (
	fieldTimestamp = "timestamp"
	fieldEventType = "eventType"
	fieldUserID    = "userId"
	fieldIPAddress = "ipAddress"
	fieldSeverity  = "severity"
	fieldMetadata  = "metadata"
)

// Bits for the fields seen in one object.
const (
	seenTimestamp = 1 << iota
	seenEventType
	seenUserID
	seenIPAddress
	seenSeverity
	seenMetadata
)

// decodeObject reads one event object. A wrong field does not stop the
// reading: the object is read to its end so that a batch can go on, and the
// first problem found is returned. For malformed JSON, malformed is true and
// the scanner is left where it stopped.
func (d *Decoder) decodeObject(s *scanner, now time.Time) (ev Event, _ *InvalidEventError, malformed bool) {
	var (
		typ, user, md str
		seen          int
		firstErr      *InvalidEventError
	)
	fail := func(field, reason string) {
		if firstErr == nil {
			firstErr = &InvalidEventError{Field: field, Reason: reason}
		}
	}
	bad := func(err *syntaxError) (Event, *InvalidEventError, bool) {
		return Event{}, err.invalid(), true
	}
	if err := s.expect('{'); err != nil {
		return bad(err)
	}
	if s.peek() == '}' {
		s.pos++
	} else {
		for {
			bit, field, ok := s.knownKey()
			if !ok {
				key, err := s.scanString()
				if err != nil {
					return bad(err)
				}
				if err := s.expect(':'); err != nil {
					return bad(err)
				}
				name := s.data[key.start:key.end]
				if key.esc {
					name = appendUnescaped(nil, name)
				}
				bit, field = fieldBit(name)
			}
			if bit != 0 && seen&bit != 0 {
				fail(field, "appears more than once")
			}
			seen |= bit
			if s.peek(); s.pos >= len(s.data) {
				return bad(s.errorf("unexpected end of input, want a value"))
			}
			switch bit {
			case seenTimestamp:
				t, reason, err := d.timestamp(s)
				if err != nil {
					return bad(err)
				}
				if reason != "" {
					fail(field, reason)
				}
				ev.Time = t
			case seenEventType, seenUserID:
				v, reason, err := d.name(s)
				if err != nil {
					return bad(err)
				}
				if reason != "" {
					fail(field, reason)
				}
				if bit == seenEventType {
					typ = v
				} else {
					user = v
				}
			case seenIPAddress:
				ip, reason, err := ipAddress(s)
				if err != nil {
					return bad(err)
				}
				if reason != "" {
					fail(field, reason)
				}
				ev.IP = ip
			case seenSeverity:
				sev, reason, err := severity(s)
				if err != nil {
					return bad(err)
				}
				if reason != "" {
					fail(field, reason)
				}
				ev.Severity = sev
			case seenMetadata:
				v, reason, err := d.metadata(s)
				if err != nil {
					return bad(err)
				}
				if reason != "" {
					fail(field, reason)
				}
				md = v
			default:
				if err := s.skipValue(1, skipDepth); err != nil {
					return bad(err)
				}
			}
			c := s.peek()
			if c == ',' {
				s.pos++
				continue
			}
			if c == '}' {
				s.pos++
				break
			}
			if s.pos >= len(s.data) {
				return bad(s.errorf("unexpected end of input, want ',' or '}'"))
			}
			return bad(s.errorf("unexpected " + quoteByte(c) + ", want ',' or '}'"))
		}
	}
	if firstErr != nil {
		return Event{}, firstErr, false
	}
	for _, f := range [...]struct {
		bit  int
		name string
	}{{seenTimestamp, fieldTimestamp}, {seenEventType, fieldEventType}, {seenUserID, fieldUserID}, {seenSeverity, fieldSeverity}} {
		if seen&f.bit == 0 {
			return Event{}, &InvalidEventError{Field: f.name, Reason: "is missing"}, false
		}
	}
	if reason := d.checkTime(ev.Time, now); reason != "" {
		return Event{}, &InvalidEventError{Field: fieldTimestamp, Reason: reason}, false
	}

	// One allocation holds every string of the event.
	buf := make([]byte, 0, typ.len()+user.len()+md.len())
	buf = appendString(buf, s.data, typ)
	n1 := len(buf)
	buf = appendString(buf, s.data, user)
	n2 := len(buf)
	if md.esc {
		buf = appendCompact(buf, s.data[md.start:md.end])
	} else {
		buf = append(buf, s.data[md.start:md.end]...)
	}
	if n1 > d.limits.MaxStringBytes {
		return Event{}, &InvalidEventError{Field: fieldEventType, Reason: tooLong(n1, d.limits.MaxStringBytes)}, false
	}
	if n2-n1 > d.limits.MaxStringBytes {
		return Event{}, &InvalidEventError{Field: fieldUserID, Reason: tooLong(n2-n1, d.limits.MaxStringBytes)}, false
	}
	ev.Type, ev.UserID, ev.Metadata = splitStrings(buf, n1, n2-n1)
	return ev, nil, false
}

// splitStrings cuts the one buffer of an event into its type (the first n1
// bytes), user (the next n2) and metadata (the rest), without copying.
func splitStrings(buf []byte, n1, n2 int) (typ, user string, md Metadata) {
	typ = unsafe.String(&buf[0], n1)
	user = unsafe.String(&buf[n1], n2)
	if len(buf) > n1+n2 {
		md = Metadata(unsafe.String(&buf[n1+n2], len(buf)-n1-n2))
	}
	return typ, user, md
}

func tooLong(n, limit int) string {
	return fmt.Sprintf("is %d bytes long, longer than the limit of %d", n, limit)
}

func appendString(dst, data []byte, t str) []byte {
	if t.esc {
		return appendUnescaped(dst, data[t.start:t.end])
	}
	return append(dst, data[t.start:t.end]...)
}

// knownKey is the fast path for the usual spelling of a field name:
// `"timestamp":` and the like, without spaces or escapes. It consumes the
// name and the colon when they are there; otherwise it consumes nothing
// and the caller reads the key the general way.
func (s *scanner) knownKey() (int, string, bool) {
	d, i := s.data, s.pos
	if i+3 >= len(d) || d[i] != '"' {
		return 0, "", false
	}
	var name string
	var bit int
	switch d[i+1] {
	case 't':
		name, bit = fieldTimestamp, seenTimestamp
	case 'e':
		name, bit = fieldEventType, seenEventType
	case 'u':
		name, bit = fieldUserID, seenUserID
	case 'i':
		name, bit = fieldIPAddress, seenIPAddress
	case 's':
		name, bit = fieldSeverity, seenSeverity
	case 'm':
		name, bit = fieldMetadata, seenMetadata
	default:
		return 0, "", false
	}
	end := i + 1 + len(name)
	if end+1 >= len(d) || d[end] != '"' || d[end+1] != ':' || string(d[i+1:end]) != name {
		return 0, "", false
	}
	s.pos = end + 2
	return bit, name, true
}

func fieldBit(name []byte) (int, string) {
	switch string(name) {
	case fieldTimestamp:
		return seenTimestamp, fieldTimestamp
	case fieldEventType:
		return seenEventType, fieldEventType
	case fieldUserID:
		return seenUserID, fieldUserID
	case fieldIPAddress:
		return seenIPAddress, fieldIPAddress
	case fieldSeverity:
		return seenSeverity, fieldSeverity
	case fieldMetadata:
		return seenMetadata, fieldMetadata
	}
	return 0, ""
}

// kind names the JSON type of the value at the scanner, for error reasons.
func kind(c byte) string {
	switch {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	default:
		return "a number"
	}
}

// name reads eventType or userId: a non-empty string.
func (d *Decoder) name(s *scanner) (str, string, *syntaxError) {
	if c := s.data[s.pos]; c != '"' {
		return str{}, "must be a string, got " + kind(c), s.skipValue(1, skipDepth)
	}
	t, err := s.scanString()
	if err != nil {
		return str{}, "", err
	}
	if t.len() == 0 {
		return str{}, "must not be empty", nil
	}
	if t.len() > 6*d.limits.MaxStringBytes { // even fully escaped it is too long
		return str{}, tooLong(t.len(), d.limits.MaxStringBytes), nil
	}
	return t, "", nil
}

func (d *Decoder) timestamp(s *scanner) (time.Time, string, *syntaxError) {
	switch c := s.data[s.pos]; {
	case c == '"':
		t, err := s.scanString()
		if err != nil {
			return time.Time{}, "", err
		}
		v := s.data[t.start:t.end]
		if t.esc {
			v = appendUnescaped(nil, v)
		}
		ts, ok := parseRFC3339(v)
		if !ok {
			return time.Time{}, fmt.Sprintf("%q is not an RFC 3339 time", truncate(v)), nil
		}
		return ts, "", nil
	case c == '-' || ('0' <= c && c <= '9'):
		num, err := s.scanNumber()
		if err != nil {
			return time.Time{}, "", err
		}
		ms, perr := strconv.ParseInt(unsafe.String(unsafe.SliceData(num), len(num)), 10, 64)
		if perr != nil || ms < minEpochMillis || ms > maxEpochMillis {
			return time.Time{}, fmt.Sprintf("%s is not an integer number of epoch milliseconds within years 0001-9999", truncate(num)), nil
		}
		return time.UnixMilli(ms).UTC(), "", nil
	default:
		return time.Time{}, "must be an RFC 3339 string or integer epoch milliseconds, got " + kind(c), s.skipValue(1, skipDepth)
	}
}

// The epoch milliseconds of 0001-01-01 and 9999-12-31T23:59:59.999Z.
const (
	minEpochMillis = -62135596800000
	maxEpochMillis = 253402300799999
)

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

func (d *Decoder) checkTime(t, now time.Time) string {
	// The usual case, an event inside the limits, costs two comparisons.
	if (d.limits.MaxFuture < 0 || !t.After(now.Add(d.limits.MaxFuture))) &&
		(d.limits.MaxPast < 0 || !t.Before(now.Add(-d.limits.MaxPast))) {
		return ""
	}
	if ahead := t.Sub(now); d.limits.MaxFuture >= 0 && ahead > d.limits.MaxFuture {
		return fmt.Sprintf("%s is %s ahead of now, more than the limit of %s", t.Format(time.RFC3339Nano), ahead.Round(time.Millisecond), d.limits.MaxFuture)
	}
	return fmt.Sprintf("%s is %s before now, more than the limit of %s", t.Format(time.RFC3339Nano), now.Sub(t).Round(time.Second), d.limits.MaxPast)
}

func ipAddress(s *scanner) (netip.Addr, string, *syntaxError) {
	switch c := s.data[s.pos]; c {
	case '"':
	case 'n':
		return netip.Addr{}, "", s.scanLiteral("null")
	default:
		return netip.Addr{}, "must be a string, got " + kind(c), s.skipValue(1, skipDepth)
	}
	t, err := s.scanString()
	if err != nil {
		return netip.Addr{}, "", err
	}
	v := s.data[t.start:t.end]
	if t.esc {
		v = appendUnescaped(nil, v)
	}
	if len(v) > 64 {
		return netip.Addr{}, fmt.Sprintf("%q is not an IP address", truncate(v)), nil
	}
	if ip, ok := parseIPv4(v); ok {
		return ip, "", nil
	}
	ip, perr := netip.ParseAddr(unsafe.String(unsafe.SliceData(v), len(v)))
	if perr != nil || ip.Zone() != "" {
		return netip.Addr{}, fmt.Sprintf("%q is not an IPv4 or IPv6 address", truncate(v)), nil
	}
	return ip, "", nil
}

func severity(s *scanner) (Severity, string, *syntaxError) {
	if c := s.data[s.pos]; c != '"' {
		return 0, "must be a string, got " + kind(c), s.skipValue(1, skipDepth)
	}
	t, err := s.scanString()
	if err != nil {
		return 0, "", err
	}
	v := s.data[t.start:t.end]
	if t.esc {
		v = appendUnescaped(nil, v)
	}
	sev, ok := parseSeverity(v)
	if !ok {
		return 0, fmt.Sprintf("%q is not one of low, medium, high, critical", truncate(v)), nil
	}
	return sev, "", nil
}

// metadata reads the metadata object (or null) and returns its span.
func (d *Decoder) metadata(s *scanner) (str, string, *syntaxError) {
	switch c := s.data[s.pos]; c {
	case '{':
	case 'n':
		return str{}, "", s.scanLiteral("null")
	default:
		return str{}, "must be a JSON object, got " + kind(c), s.skipValue(1, skipDepth)
	}
	start := s.pos
	s.spaced = false
	// The event object is depth 1 and metadata depth 2 when seen from the
	// event; count from the metadata object so MaxMetadataDepth is about it.
	if err := s.skipValue(0, d.limits.MaxMetadataDepth); err != nil {
		if err.reason == "nested deeper than "+strconv.Itoa(d.limits.MaxMetadataDepth) {
			// Read past it so a batch can go on, with a generous bound.
			s.pos = start
			if err2 := s.skipValue(0, skipDepth); err2 != nil {
				return str{}, "", err2
			}
			return str{}, fmt.Sprintf("nests deeper than the limit of %d", d.limits.MaxMetadataDepth), nil
		}
		return str{}, "", err
	}
	t := str{start: start, end: s.pos}
	if t.len() > d.limits.MaxMetadataBytes {
		return str{}, fmt.Sprintf("is %d bytes, larger than the limit of %d", t.len(), d.limits.MaxMetadataBytes), nil
	}
	if t.len() == 2 { // {}
		return str{}, "", nil
	}
	t.esc = s.spaced // here: needs compacting
	return t, "", nil
}

// parseIPv4 is a fast path for the common case, dotted-decimal IPv4 with
// the same rules as netip.ParseAddr (four fields of 0-255, no leading
// zeros). Anything else is left to netip.ParseAddr.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	i := 0
	for f := range ip {
		if f > 0 {
			if i >= len(b) || b[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		if i >= len(b) || b[i]-'0' > 9 {
			return netip.Addr{}, false
		}
		v := uint(b[i] - '0')
		i++
		if v != 0 { // a field that starts with 0 is just "0"
			for n := 1; n < 3 && i < len(b) && b[i]-'0' <= 9; n++ {
				v = v*10 + uint(b[i]-'0')
				i++
			}
			if v > 255 {
				return netip.Addr{}, false
			}
		}
		ip[f] = byte(v)
	}
	if i != len(b) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

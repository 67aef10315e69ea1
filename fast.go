package rdr

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"time"
)

// The fast path. Nearly every event on the wire comes from a program that
// writes the same compact shape: no spaces, no escapes, only the known
// fields, a flat metadata object of strings, an IPv4 address. decodeFast
// reads exactly that shape in one pass, with the position in a local, and
// declines anything else — including every invalid event — so that errors
// and unusual input always go through the general path (decodeObject). For
// every input it accepts, the general path gives the same event;
// FuzzFastPath checks that.

// requiredFields are the fields an event must have.
const requiredFields = seenTimestamp | seenEventType | seenUserID | seenSeverity

// decodeFast decodes the object that starts at data[start] and returns the
// event and the index just after it. ok is false when the object is not in
// the plain shape or is not a valid event.
func (d *Decoder) decodeFast(data []byte, start int, now time.Time) (ev Event, end int, ok bool) {
	i := start
	if i >= len(data) || data[i] != '{' {
		return Event{}, 0, false
	}
	i++
	var (
		typ, user, md str
		t             time.Time
		ip            netip.Addr
		sev           Severity
		seen          int
	)
	for {
		bit, n := fastKey(data, i)
		if bit == 0 || seen&bit != 0 {
			return Event{}, 0, false
		}
		seen |= bit
		i += n
		if i >= len(data) {
			return Event{}, 0, false
		}
		switch bit {
		case seenTimestamp:
			if data[i] == '"' {
				j := plainEnd(data, i+1)
				if j >= len(data) || data[j] != '"' {
					return Event{}, 0, false
				}
				var ok bool
				if t, ok = parseRFC3339(data[i+1 : j]); !ok {
					return Event{}, 0, false
				}
				i = j + 1
				break
			}
			// Epoch milliseconds: plain digits, no sign, fraction or exponent.
			if data[i] < '1' || data[i] > '9' {
				return Event{}, 0, false
			}
			ms := int64(0)
			j := i
			for ; j < len(data) && j-i < 16 && '0' <= data[j] && data[j] <= '9'; j++ {
				ms = ms*10 + int64(data[j]-'0')
			}
			if ms > maxEpochMillis || j >= len(data) || (data[j] != ',' && data[j] != '}') {
				return Event{}, 0, false
			}
			t, i = time.UnixMilli(ms).UTC(), j
		case seenEventType, seenUserID:
			v, ok := fastString(data, i)
			if !ok || v.len() == 0 || v.len() > d.limits.MaxStringBytes {
				return Event{}, 0, false
			}
			if bit == seenEventType {
				typ = v
			} else {
				user = v
			}
			i = v.end + 1
		case seenIPAddress:
			v, ok := fastString(data, i)
			if !ok {
				return Event{}, 0, false
			}
			if ip, ok = parseIPv4(data[v.start:v.end]); !ok {
				return Event{}, 0, false
			}
			i = v.end + 1
		case seenSeverity:
			v, ok := fastString(data, i)
			if !ok {
				return Event{}, 0, false
			}
			if sev, ok = parseSeverity(data[v.start:v.end]); !ok {
				return Event{}, 0, false
			}
			i = v.end + 1
		case seenMetadata:
			j, ok := fastMetadata(data, i)
			if !ok || j-i > d.limits.MaxMetadataBytes {
				return Event{}, 0, false
			}
			if j-i > 2 { // not {}
				md = str{start: i, end: j}
			}
			i = j
		}
		if i >= len(data) {
			return Event{}, 0, false
		}
		if data[i] == ',' {
			i++
			continue
		}
		if data[i] != '}' {
			return Event{}, 0, false
		}
		i++
		break
	}
	if seen&requiredFields != requiredFields || i-start > d.limits.MaxEventBytes || !d.timeOK(t, now) {
		return Event{}, 0, false
	}
	// One allocation holds every string of the event.
	buf := make([]byte, 0, typ.len()+user.len()+md.len())
	buf = append(buf, data[typ.start:typ.end]...)
	buf = append(buf, data[user.start:user.end]...)
	buf = append(buf, data[md.start:md.end]...)
	ev = Event{Time: t, IP: ip, Severity: sev}
	ev.Type, ev.UserID, ev.Metadata = splitStrings(buf, typ.len(), user.len())
	return ev, i, true
}

// fastKey reads a known field name and its colon, `"timestamp":` and the
// like, at data[i]. It returns the field's bit and the length read, or 0.
// Each name is compared as two overlapping machine words.
func fastKey(data []byte, i int) (bit, n int) {
	if len(data)-i < 12 || data[i] != '"' {
		return 0, 0
	}
	var k *fastKeyWords
	switch data[i+1] {
	case 't':
		k = &keyTimestamp
	case 'e':
		k = &keyEventType
	case 'u':
		k = &keyUserID
	case 'i':
		k = &keyIPAddress
	case 's':
		k = &keySeverity
	case 'm':
		k = &keyMetadata
	default:
		return 0, 0
	}
	if binary.LittleEndian.Uint64(data[i:]) != k.head || binary.LittleEndian.Uint32(data[i+k.n-4:]) != k.tail {
		return 0, 0
	}
	return k.bit, k.n
}

// fastKeyWords is a field name with its quotes and colon, as the first
// eight bytes and the last four (the two overlap for names under 12).
type fastKeyWords struct {
	head   uint64
	tail   uint32
	n, bit int
}

func makeKeyWords(name string, bit int) fastKeyWords {
	b := []byte(`"` + name + `":`)
	return fastKeyWords{
		head: binary.LittleEndian.Uint64(b),
		tail: binary.LittleEndian.Uint32(b[len(b)-4:]),
		n:    len(b),
		bit:  bit,
	}
}

var (
	keyTimestamp = makeKeyWords(fieldTimestamp, seenTimestamp)
	keyEventType = makeKeyWords(fieldEventType, seenEventType)
	keyUserID    = makeKeyWords(fieldUserID, seenUserID)
	keyIPAddress = makeKeyWords(fieldIPAddress, seenIPAddress)
	keySeverity  = makeKeyWords(fieldSeverity, seenSeverity)
	keyMetadata  = makeKeyWords(fieldMetadata, seenMetadata)
)

// plainEnd returns the index of the first byte from i on that is not plain
// (see the table), or len(data). It looks at eight bytes at a time: a byte
// is not plain when it is below 0x20, at or above 0x80, '"' or '\\'. The
// tests for a zero or small byte below are exact for the lowest such byte,
// which is the one wanted.
func plainEnd(data []byte, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for len(data)-i >= 8 {
		w := binary.LittleEndian.Uint64(data[i:])
		q := w ^ ('"' * ones)
		b := w ^ ('\\' * ones)
		m := ((w - 0x20*ones) & ^w) | ((q - ones) & ^q) | ((b - ones) & ^b) | w
		if m &= highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < len(data) && plain[data[i]] {
		i++
	}
	return i
}

// fastString reads a string of plain bytes at data[i]: its text is
// data[t.start:t.end] and its closing quote is at t.end.
func fastString(data []byte, i int) (t str, ok bool) {
	if data[i] != '"' {
		return str{}, false
	}
	j := plainEnd(data, i+1)
	if j >= len(data) || data[j] != '"' {
		return str{}, false
	}
	return str{start: i + 1, end: j}, true
}

// fastMetadata reads a flat object of plain strings, {"k":"v",...} or {},
// at data[i] and returns the index after it.
func fastMetadata(data []byte, i int) (int, bool) {
	if data[i] != '{' {
		return 0, false
	}
	i++
	if i < len(data) && data[i] == '}' {
		return i + 1, true
	}
	for {
		// "key":"value"
		if i >= len(data) || data[i] != '"' {
			return 0, false
		}
		j := plainEnd(data, i+1)
		if len(data)-j < 3 || data[j] != '"' || data[j+1] != ':' || data[j+2] != '"' {
			return 0, false
		}
		j = plainEnd(data, j+3)
		if len(data)-j < 2 || data[j] != '"' {
			return 0, false
		}
		i = j + 2
		switch data[j+1] {
		case ',':
		case '}':
			return i, true
		default:
			return 0, false
		}
	}
}

// timeOK is checkTime(t, now) == "", but first tries whole Unix seconds,
// which settles every timestamp more than a second or two inside the
// limits; only those near a limit take the exact comparison.
func (d *Decoder) timeOK(t, now time.Time) bool {
	ts, ns := t.Unix(), now.Unix()
	// t lies in [ts, ts+1) and now in [ns, ns+1). With F and P the whole
	// seconds in MaxFuture and MaxPast (rounded down):
	// t < ts+1 <= ns+F <= now+MaxFuture when ts <= ns+F-1, and
	// t >= ts >= ns+1-P > now-MaxPast when ts >= ns+1-P.
	if (d.limits.MaxFuture < 0 || ts <= ns+int64(d.limits.MaxFuture/time.Second)-1) &&
		(d.limits.MaxPast < 0 || ts >= ns+1-int64(d.limits.MaxPast/time.Second)) {
		return true
	}
	return d.checkTime(t, now) == ""
}

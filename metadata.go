package rdr

import (
	"encoding/json"
	"unsafe"
)

// Metadata is an event's optional extra attributes, kept as the compact JSON
// object that arrived ("" when there was none). It is decoded only when asked:
// most events pass through rdr without anyone looking inside.
type Metadata string

// MakeMetadata builds Metadata from key/value string pairs, in the order
// given: MakeMetadata("app", "vpn", "country", "DE") is
// {"app":"vpn","country":"DE"}. A trailing key without a value is ignored.
func MakeMetadata(pairs ...string) Metadata {
	if len(pairs) < 2 {
		return ""
	}
	b := []byte{'{'}
	for i := 0; i+1 < len(pairs); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, pairs[i])
		b = append(b, ':')
		b = appendJSONString(b, pairs[i+1])
	}
	b = append(b, '}')
	return Metadata(unsafe.String(unsafe.SliceData(b), len(b)))
}

// Lookup returns the value of a top-level key as text: a string value
// unescaped and without its quotes, any other value (number, boolean, null,
// object, array) as its JSON text. ok is false when the key is absent or the
// metadata is not a well-formed object. Lookup does not allocate unless the
// value holds escapes.
func (m Metadata) Lookup(key string) (value string, ok bool) {
	if m == "" {
		return "", false
	}
	data := unsafe.Slice(unsafe.StringData(string(m)), len(m))
	s := scanner{data: data}
	if s.expect('{') != nil {
		return "", false
	}
	if s.peek() == '}' {
		return "", false
	}
	for {
		k, err := s.scanString()
		if err != nil || s.expect(':') != nil {
			return "", false
		}
		match := !k.esc && string(data[k.start:k.end]) == key ||
			k.esc && string(appendUnescaped(nil, data[k.start:k.end])) == key
		s.peek()
		if match {
			if s.pos < len(data) && data[s.pos] == '"' {
				v, err := s.scanString()
				if err != nil {
					return "", false
				}
				if v.esc {
					return string(appendUnescaped(nil, data[v.start:v.end])), true
				}
				return string(m[v.start:v.end]), true
			}
			start := s.pos
			if s.skipValue(0, 64) != nil {
				return "", false
			}
			return string(m[start:s.pos]), true
		}
		if s.skipValue(0, 64) != nil {
			return "", false
		}
		switch s.peek() {
		case ',':
			s.pos++
		default:
			return "", false
		}
	}
}

// Map decodes the whole object. It returns an empty map for empty Metadata.
func (m Metadata) Map() (map[string]any, error) {
	out := map[string]any{}
	if m == "" {
		return out, nil
	}
	if err := json.Unmarshal([]byte(m), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// MarshalJSON writes the object as it is, or null when empty.
func (m Metadata) MarshalJSON() ([]byte, error) {
	if m == "" {
		return []byte("null"), nil
	}
	return []byte(m), nil
}

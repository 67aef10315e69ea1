package rdr

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a small, allocation-free JSON reader over one input. It checks
// the grammar as it goes; its methods return a *syntaxError (never a panic)
// when the input breaks it.
type scanner struct {
	data []byte
	pos  int
	// spaced is set whenever skipSpace skips something, so a caller can
	// tell whether a value it read needs compacting.
	spaced bool
}

// plain marks the bytes that may stand in a JSON string as they are and
// need no further look: printable ASCII other than '"' and '\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// syntaxError is malformed JSON: after it, the scanner cannot find the
// start of the next item, so a batch stops there.
type syntaxError struct {
	pos    int
	reason string
}

func (s *scanner) errorf(reason string) *syntaxError {
	return &syntaxError{pos: s.pos, reason: reason}
}

func (e *syntaxError) invalid() *InvalidEventError {
	return &InvalidEventError{Reason: "malformed JSON at byte " + strconv.Itoa(e.pos) + ": " + e.reason}
}

func (s *scanner) skipSpace() {
	d, i := s.data, s.pos
	if i < len(d) && d[i] > ' ' { // the common case: no space at all
		return
	}
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	if i != s.pos {
		s.pos, s.spaced = i, true
	}
}

// peek returns the next non-space byte without consuming it, or 0 at the end.
// It is small enough to be inlined; spaces take the slow path.
func (s *scanner) peek() byte {
	if s.pos < len(s.data) && s.data[s.pos] > ' ' {
		return s.data[s.pos]
	}
	return s.peekSpace()
}

func (s *scanner) peekSpace() byte {
	s.skipSpace()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) expect(c byte) *syntaxError {
	if s.peek() != c {
		if s.pos >= len(s.data) {
			return s.errorf("unexpected end of input, want '" + string(c) + "'")
		}
		return s.errorf("unexpected " + quoteByte(s.data[s.pos]) + ", want '" + string(c) + "'")
	}
	s.pos++
	return nil
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(c) + "'"
	}
	return "byte 0x" + strconv.FormatUint(uint64(c), 16)
}

// str is a JSON string as found in the input: data[start:end] is the text
// between the quotes, still escaped when esc is set.
type str struct {
	start, end int
	esc        bool
}

func (t str) len() int { return t.end - t.start }

// scanString reads a string; the scanner must be at its opening quote.
func (s *scanner) scanString() (str, *syntaxError) {
	if s.peek() != '"' {
		if s.pos >= len(s.data) {
			return str{}, s.errorf("unexpected end of input, want a string")
		}
		return str{}, s.errorf("unexpected " + quoteByte(s.data[s.pos]) + ", want a string")
	}
	d := s.data
	i := s.pos + 1
	t := str{start: i}
	ascii := true
	for {
		i = plainEnd(d, i)
		if i >= len(d) {
			break
		}
		switch c := d[i]; {
		case c == '"':
			t.end = i
			s.pos = i + 1
			if !ascii && !utf8.Valid(d[t.start:t.end]) {
				return str{}, &syntaxError{pos: t.start, reason: "string is not valid UTF-8"}
			}
			return t, nil
		case c == '\\':
			t.esc = true
			s.pos = i
			if i+1 >= len(d) {
				s.pos++
				return str{}, s.errorf("unexpected end of input in string escape")
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) {
					return str{}, s.errorf("short \\u escape")
				}
				for _, h := range d[i+2 : i+6] {
					if unhex(h) < 0 {
						return str{}, s.errorf("bad hex digit in \\u escape")
					}
				}
				i += 6
			default:
				return str{}, s.errorf("bad escape " + quoteByte(d[i+1]))
			}
		case c < 0x20:
			s.pos = i
			return str{}, s.errorf("control character in string")
		default: // non-ASCII
			ascii = false
			i++
		}
	}
	s.pos = len(d)
	return str{}, s.errorf("unexpected end of input in string")
}

func unhex(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// appendUnescaped appends the text of a string that scanString accepted,
// with its escapes resolved. Lone surrogates become U+FFFD, as in
// encoding/json.
func appendUnescaped(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch src[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(src[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 <= len(src) && src[i] == '\\' && src[i+1] == 'u' {
					if d := utf16.DecodeRune(r, hex4(src[i+2:])); d != utf8.RuneError {
						r2 = d
						i += 6
					}
				}
				r = r2
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, src[i+1])
		}
		i += 2
	}
	return dst
}

func hex4(b []byte) rune {
	return unhex(b[0])<<12 | unhex(b[1])<<8 | unhex(b[2])<<4 | unhex(b[3])
}

// scanNumber reads a JSON number and returns its text.
func (s *scanner) scanNumber() ([]byte, *syntaxError) {
	start := s.pos
	d := s.data
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return nil, s.errorf("bad number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		if i == j {
			s.pos = i
			return nil, s.errorf("bad number: no digits after '.'")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		if i == j {
			s.pos = i
			return nil, s.errorf("bad number: no digits in exponent")
		}
	}
	s.pos = i
	return d[start:i], nil
}

func (s *scanner) scanLiteral(lit string) *syntaxError {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return s.errorf("bad literal, want " + lit)
	}
	s.pos += len(lit)
	return nil
}

// skipValue reads any JSON value. depth counts the containers around it;
// past maxDepth it gives up, which bounds the work for hostile nesting.
func (s *scanner) skipValue(depth, maxDepth int) *syntaxError {
	switch c := s.peek(); {
	case c == '"':
		_, err := s.scanString()
		return err
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return s.errorf("nested deeper than " + strconv.Itoa(maxDepth))
		}
		return s.skipContainer(depth+1, maxDepth)
	case c == '-' || ('0' <= c && c <= '9'):
		_, err := s.scanNumber()
		return err
	case c == 't':
		return s.scanLiteral("true")
	case c == 'f':
		return s.scanLiteral("false")
	case c == 'n':
		return s.scanLiteral("null")
	case c == 0 && s.pos >= len(s.data):
		return s.errorf("unexpected end of input, want a value")
	default:
		return s.errorf("unexpected " + quoteByte(c) + ", want a value")
	}
}

func (s *scanner) skipContainer(depth, maxDepth int) *syntaxError {
	open := s.data[s.pos]
	s.pos++
	closing := byte('}')
	if open == '[' {
		closing = ']'
	}
	if s.peek() == closing {
		s.pos++
		return nil
	}
	for {
		if open == '{' {
			if _, err := s.scanString(); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
		}
		if err := s.skipValue(depth, maxDepth); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case closing:
			s.pos++
			return nil
		default:
			if s.pos >= len(s.data) {
				return s.errorf("unexpected end of input, want ',' or '" + string(closing) + "'")
			}
			return s.errorf("unexpected " + quoteByte(s.data[s.pos]) + ", want ',' or '" + string(closing) + "'")
		}
	}
}

// appendCompact appends JSON that skipValue accepted, without the spaces
// between tokens.
func appendCompact(dst, src []byte) []byte {
	inString := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inString {
			dst = append(dst, c)
			switch c {
			case '\\':
				i++
				dst = append(dst, src[i])
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
		case '"':
			inString = true
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

package normalize

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file walks JSON text that readFrame (validate.go) has already
// checked: it finds where values begin and end without building anything or
// checking again, so that the nested objects of a frame are read in one
// light pass instead of a reflective decode. Every index is bounds-checked
// all the same, so that input that is not valid JSON can never make it
// panic.

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index just past the JSON string that starts with the
// quote at b[i].
func stringEnd(b []byte, i int) int {
	i++
	for i < len(b) {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		q := i + j
		// The quote closes the string unless an odd run of backslashes
		// escapes it.
		n := 0
		for k := q - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
	return len(b)
}

// valueEnd returns the index just past the JSON value that starts at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return len(b)
	}
}

// members iterates over the members of a JSON object.
type members struct {
	b []byte
	i int
}

// newMembers starts an iteration over obj, which must begin with '{'.
func newMembers(obj []byte) members { return members{b: obj, i: 1} }

// next returns the next member: its name as it stands between the quotes
// (escapes not decoded) and its raw value. ok is false at the end.
func (m *members) next() (name, value []byte, ok bool) {
	b := m.b
	i := skipSpace(b, m.i)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		return nil, nil, false
	}
	end := stringEnd(b, i)
	if end-1 <= i {
		return nil, nil, false
	}
	name = b[i+1 : end-1]
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return nil, nil, false
	}
	i = skipSpace(b, i+1)
	if i >= len(b) {
		return nil, nil, false
	}
	end = valueEnd(b, i)
	m.i = end
	return name, b[i:end:end], true
}

// elements returns the elements of the JSON array arr, each capped so that
// an append to one cannot overwrite the input.
func elements(arr []byte) []json.RawMessage {
	if len(arr) == 0 || arr[0] != '[' {
		return nil
	}
	n := 0
	for i := skipSpace(arr, 1); ; n++ {
		_, next, ok := nextElement(arr, i)
		if !ok {
			break
		}
		i = next
	}
	if n == 0 {
		return nil
	}
	out := make([]json.RawMessage, 0, n)
	for i := skipSpace(arr, 1); len(out) < n; {
		v, next, ok := nextElement(arr, i)
		if !ok {
			break
		}
		out = append(out, v)
		i = next
	}
	return out
}

// nextElement returns the array element at arr[i] and the index of the one
// after it; ok is false at the end of the array.
func nextElement(arr []byte, i int) (value []byte, next int, ok bool) {
	if i >= len(arr) || arr[i] == ']' {
		return nil, i, false
	}
	end := valueEnd(arr, i)
	if end <= i {
		return nil, i, false
	}
	next = skipSpace(arr, end)
	if next < len(arr) && arr[next] == ',' {
		next = skipSpace(arr, next+1)
	}
	return arr[i:end:end], next, true
}

// unquote decodes the body of a JSON string (the bytes between the quotes)
// as encoding/json does: escapes are decoded, and invalid UTF-8 and unpaired
// surrogates become U+FFFD.
func unquote(s []byte) string {
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return string(s)
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			i = unescape(&sb, s, i)
		case c < utf8.RuneSelf:
			sb.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			sb.WriteRune(r)
			i += size
		}
	}
	return sb.String()
}

// unescape writes the escape sequence at s[i] to sb and returns the index
// past it.
func unescape(sb *strings.Builder, s []byte, i int) int {
	if i+1 >= len(s) {
		return len(s)
	}
	switch c := s[i+1]; c {
	case 'b':
		sb.WriteByte('\b')
	case 'f':
		sb.WriteByte('\f')
	case 'n':
		sb.WriteByte('\n')
	case 'r':
		sb.WriteByte('\r')
	case 't':
		sb.WriteByte('\t')
	case 'u':
		r := hex4(s, i+2)
		if r < 0 {
			return len(s)
		}
		i += 6
		if utf16.IsSurrogate(r) {
			r2 := rune(-1)
			if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
				r2 = hex4(s, i+2)
			}
			if d := utf16.DecodeRune(r, r2); d != unicode.ReplacementChar {
				sb.WriteRune(d)
				return i + 6
			}
			r = unicode.ReplacementChar
		}
		sb.WriteRune(r)
		return i
	default: // '"', '\\', '/'
		sb.WriteByte(c)
	}
	return i + 2
}

// hex4 reads the four hex digits at s[i:], or returns -1.
func hex4(s []byte, i int) rune {
	if i+4 > len(s) {
		return -1
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

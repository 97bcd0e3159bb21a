package normalize

// This file reads a frame in one pass that both checks it and records the
// members of its top-level object. The grammar is RFC 8259's, as
// encoding/json's json.Valid applies it: strings may hold any byte but a
// control character (below 0x20), so invalid UTF-8 passes; escapes are the
// eight single-character ones and \u with four hex digits; numbers have no
// leading zeros, no bare dot and no empty exponent; white space is space,
// tab, CR and LF; arrays and objects nest at most maxDepth deep. Once a frame
// has passed, the nested objects the normalizer reads are known to be valid,
// and the light walkers of scan.go read them without checking again.

// maxDepth is the deepest nesting of arrays and objects encoding/json
// accepts; the top-level object or array is at depth 1.
const maxDepth = 10000

// readFrame checks that raw is one JSON value with nothing but white space
// around it and records the members of the top-level object in f. It
// returns ErrMalformed when raw is not valid JSON, ErrNotObject when it is
// valid but not an object, and nil otherwise.
func (f *fields) readFrame(raw []byte) error {
	start := skipSpace(raw, 0)
	isObject := start < len(raw) && raw[start] == '{'
	var end int
	if isObject {
		end = f.readObject(raw, start)
	} else {
		end = checkValue(raw, start, 0)
	}
	if end < 0 || skipSpace(raw, end) != len(raw) {
		return ErrMalformed
	}
	if !isObject {
		return ErrNotObject
	}
	return nil
}

// readObject checks the object that opens at b[i], at depth 1, and records
// its members; a later duplicate replaces an earlier one. It returns the
// index just past the object, or -1 when the object is not valid.
func (f *fields) readObject(b []byte, i int) int {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		nameEnd := checkString(b, i)
		if nameEnd < 0 {
			return -1
		}
		name := b[i+1 : nameEnd-1]
		i = skipSpace(b, nameEnd)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		i = skipSpace(b, i+1)
		end := checkValue(b, i, 1)
		if end < 0 {
			return -1
		}
		f.set(memberName(name), b[i:end:end])
		i = skipSpace(b, end)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

// checkValue returns the index just past the JSON value that starts at
// b[i], or -1 when b[i:] does not start with a valid value. depth is the
// number of arrays and objects the value is inside. Nested arrays and
// objects are checked with an explicit stack, not by recursion, so deep
// nesting costs no goroutine stack.
func checkValue(b []byte, i, depth int) int {
	var buf [32]byte
	// open holds the closing bracket of every array and object entered
	// and not yet closed, innermost last.
	open := buf[:0]
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return -1
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth+len(open)+1 > maxDepth {
				return -1
			}
			closer := c + 2 // '{'+2 is '}', '['+2 is ']'
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == closer {
				i++ // empty: a whole value, handled below
				break
			}
			open = append(open, closer)
			if c == '{' {
				if i = checkName(b, i); i < 0 {
					return -1
				}
			}
			continue
		case '"':
			i = checkString(b, i)
		case 't':
			i = checkLiteral(b, i, "true")
		case 'f':
			i = checkLiteral(b, i, "false")
		case 'n':
			i = checkLiteral(b, i, "null")
		default:
			i = checkNumber(b, i)
		}
		if i < 0 {
			return -1
		}
		// A value ends at b[i]: close the containers it completes, then
		// move on to the next element or member.
		for {
			if len(open) == 0 {
				return i
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			closer := open[len(open)-1]
			if b[i] == closer {
				open = open[:len(open)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return -1
			}
			i = skipSpace(b, i+1)
			if closer == '}' {
				if i = checkName(b, i); i < 0 {
					return -1
				}
			}
			break
		}
	}
}

// checkName checks a member name and its colon at b[i] and returns the index
// of the member's value, or -1.
func checkName(b []byte, i int) int {
	i = checkString(b, i)
	if i < 0 {
		return -1
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1)
}

// checkString returns the index just past the JSON string that starts at
// b[i], or -1.
func checkString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i = checkEscape(b, i); i < 0 {
				return -1
			}
		case c < 0x20:
			return -1
		default:
			i++
		}
	}
	return -1
}

// checkEscape returns the index just past the escape sequence at b[i] (a
// backslash), or -1.
func checkEscape(b []byte, i int) int {
	if i+1 >= len(b) {
		return -1
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2
	case 'u':
		if hex4(b, i+2) < 0 {
			return -1
		}
		return i + 6
	}
	return -1
}

// checkLiteral returns the index just past lit (true, false or null) at
// b[i], or -1.
func checkLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// checkNumber returns the index just past the JSON number at b[i], or -1:
// an optional minus, an integer part without leading zeros, an optional
// fraction and an optional exponent, each with at least one digit.
func checkNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		end := skipDigits(b, i)
		if end == i {
			return -1
		}
		i = end
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		end := skipDigits(b, i)
		if end == i {
			return -1
		}
		i = end
	}
	return i
}

// skipDigits returns the index past the run of decimal digits at b[i].
func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

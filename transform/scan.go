package transform

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// scanClass classifies bytes for the scanner's hot loops.
var (
	// strPlain marks bytes that may stand in a JSON string as they are.
	strPlain [256]bool
	// space marks JSON's insignificant whitespace.
	space [256]bool
)

func init() {
	for c := 0x20; c < 256; c++ {
		strPlain[c] = c != '"' && c != '\\'
	}
	for _, c := range []byte{' ', '\t', '\n', '\r'} {
		space[c] = true
	}
}

// ScanJSON checks in one pass that b is exactly one JSON value, nested at
// most maxDepth levels, with every number within float64's range. spaced
// reports whether b holds whitespace outside strings, so a caller can keep
// an already compact document as it is. It allocates nothing on success.
func ScanJSON(b []byte, maxDepth int) (spaced bool, err error) {
	// The open containers, one bit each (1 = object), on the stack for
	// ordinary depths.
	var small [4]uint64
	stack := small[:]
	if maxDepth > len(small)*64 {
		stack = make([]uint64, (maxDepth+63)/64)
	}
	depth := 0
	i, n := 0, len(b)
	ws := func() {
		for i < n && space[b[i]] {
			i++
			spaced = true
		}
	}
	ws()
value:
	if i >= n {
		return spaced, syntaxError(b)
	}
	switch c := b[i]; {
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return spaced, fmt.Errorf("%w: more than %d levels at byte %d", ErrTooDeep, maxDepth, i)
		}
		if c == '{' {
			stack[depth/64] |= 1 << (depth % 64)
		} else {
			stack[depth/64] &^= 1 << (depth % 64)
		}
		depth++
		i++
		ws()
		if c == '{' {
			if i < n && b[i] == '}' {
				i++
				depth--
				goto after
			}
			goto key
		}
		if i < n && b[i] == ']' {
			i++
			depth--
			goto after
		}
		goto value
	case c == '"':
		if i = scanString(b, i); i < 0 {
			return spaced, syntaxError(b)
		}
	case c == '-' || '0' <= c && c <= '9':
		j, ok := scanNumber(b, i)
		if !ok {
			return spaced, syntaxError(b)
		}
		i = j
	case c == 't':
		if !hasWord(b, i, "true") {
			return spaced, syntaxError(b)
		}
		i += 4
	case c == 'f':
		if !hasWord(b, i, "false") {
			return spaced, syntaxError(b)
		}
		i += 5
	case c == 'n':
		if !hasWord(b, i, "null") {
			return spaced, syntaxError(b)
		}
		i += 4
	default:
		return spaced, syntaxError(b)
	}
after:
	ws()
	if depth == 0 {
		if i != n {
			return spaced, syntaxError(b)
		}
		return spaced, nil
	}
	if i >= n {
		return spaced, syntaxError(b)
	}
	if stack[(depth-1)/64]&(1<<((depth-1)%64)) != 0 {
		switch b[i] {
		case ',':
			i++
			ws()
			goto key
		case '}':
			i++
			depth--
			goto after
		}
		return spaced, syntaxError(b)
	}
	switch b[i] {
	case ',':
		i++
		ws()
		goto value
	case ']':
		i++
		depth--
		goto after
	}
	return spaced, syntaxError(b)
key:
	if i >= n || b[i] != '"' {
		return spaced, syntaxError(b)
	}
	if i = scanString(b, i); i < 0 {
		return spaced, syntaxError(b)
	}
	ws()
	if i >= n || b[i] != ':' {
		return spaced, syntaxError(b)
	}
	i++
	ws()
	goto value
}

// scanString returns the index just past the string starting at b[i], or
// -1 when it is malformed.
func scanString(b []byte, i int) int {
	i++
	for i < len(b) {
		c := b[i]
		if strPlain[c] {
			i++
			continue
		}
		switch c {
		case '"':
			return i + 1
		case '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return -1
				}
				i += 6
			default:
				return -1
			}
		default:
			return -1 // a control character
		}
	}
	return -1
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func hasWord(b []byte, i int, w string) bool {
	return i+len(w) <= len(b) && string(b[i:i+len(w)]) == w
}

// scanNumber returns the index past the number at b[i]. A number beyond
// float64 (1e400) is valid JSON that no decoder here can hold, so it is
// refused now rather than when an expression reads it.
func scanNumber(b []byte, i int) (int, bool) {
	start := i
	if b[i] == '-' {
		i++
	}
	digits := func() int {
		s := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i - s
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return i, false
	}
	long := i-start > 300
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		long = true
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, false
		}
	}
	if long {
		if f, err := strconv.ParseFloat(string(b[start:i]), 64); err != nil && math.IsInf(f, 0) {
			return i, false
		}
	}
	return i, true
}

// syntaxError describes why b is not JSON. It runs only on the error path,
// so it may take its time.
func syntaxError(b []byte) error {
	return errors.New("invalid JSON: " + jsonSyntaxDetail(b))
}

// Compact appends b to dst without whitespace outside strings. b must be
// valid JSON (ScanJSON accepted it).
func Compact(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case space[c]:
			i++
		case c == '"':
			j := scanString(b, i)
			if j < 0 {
				j = len(b)
			}
			dst = append(dst, b[i:j]...)
			i = j
		default:
			j := i + 1
			for j < len(b) && !space[b[j]] && b[j] != '"' {
				j++
			}
			dst = append(dst, b[i:j]...)
			i = j
		}
	}
	return dst
}

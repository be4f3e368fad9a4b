package transform

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// scanClass classifies bytes for the scanner's hot loops.
var (
	// strPlain marks bytes that may stand in a JSON string as they are,
	// for input already scanned (UTF-8 was checked then).
	strPlain [256]bool
	// strASCII is strPlain without the bytes from 0x80, which the scanner
	// checks as UTF-8.
	strASCII [256]bool
	// space marks JSON's insignificant whitespace.
	space [256]bool
)

func init() {
	for c := 0x20; c < 256; c++ {
		strPlain[c] = c != '"' && c != '\\'
		strASCII[c] = strPlain[c] && c < utf8.RuneSelf
	}
	for _, c := range []byte{' ', '\t', '\n', '\r'} {
		space[c] = true
	}
}

// ScanFlags says what Scan found that Compact changes.
type ScanFlags uint8

const (
	// Spaced: whitespace outside strings.
	Spaced ScanFlags = 1 << iota
	// BadUTF8: a string holds bytes that are not UTF-8.
	BadUTF8
	// LoneSurrogate: a string holds a \u escape of a surrogate that is not
	// half of a pair (a high one followed by a low one).
	LoneSurrogate
)

// Scan checks in one pass that b is exactly one JSON value, nested at most
// maxDepth levels, with every number within float64's range, and reports
// what Compact would change: whitespace outside strings, invalid UTF-8 and
// lone surrogate escapes inside them. b is accepted with those (they are
// the backend's mistakes, not syntax errors); a caller with flags != 0
// rewrites b with Compact, and may keep b as it is otherwise. Multi-byte
// UTF-8 is checked only where a byte from 0x80 appears, so ASCII costs
// nothing more. It allocates nothing on success.
func Scan(b []byte, maxDepth int) (flags ScanFlags, err error) {
	// The open containers, one bit each (1 = object), on the stack for
	// ordinary depths.
	var small [4]uint64
	stack := small[:]
	if maxDepth > len(small)*64 {
		stack = make([]uint64, (maxDepth+63)/64)
	}
	depth := 0
	i, n := 0, len(b)
	spaced := false
	ws := func() {
		for i < n && space[b[i]] {
			i++
			spaced = true
		}
	}
	ws()
value:
	if i >= n {
		return flags, syntaxError(b)
	}
	switch c := b[i]; {
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return flags, fmt.Errorf("%w: more than %d levels at byte %d", ErrTooDeep, maxDepth, i)
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
		var f ScanFlags
		if i, f = scanStringFlags(b, i); i < 0 {
			return flags, syntaxError(b)
		}
		flags |= f
	case c == '-' || '0' <= c && c <= '9':
		j, ok := scanNumber(b, i)
		if !ok {
			return flags, syntaxError(b)
		}
		i = j
	case c == 't':
		if !hasWord(b, i, "true") {
			return flags, syntaxError(b)
		}
		i += 4
	case c == 'f':
		if !hasWord(b, i, "false") {
			return flags, syntaxError(b)
		}
		i += 5
	case c == 'n':
		if !hasWord(b, i, "null") {
			return flags, syntaxError(b)
		}
		i += 4
	default:
		return flags, syntaxError(b)
	}
after:
	ws()
	if depth == 0 {
		if i != n {
			return flags, syntaxError(b)
		}
		if spaced {
			flags |= Spaced
		}
		return flags, nil
	}
	if i >= n {
		return flags, syntaxError(b)
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
		return flags, syntaxError(b)
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
	return flags, syntaxError(b)
key:
	if i >= n || b[i] != '"' {
		return flags, syntaxError(b)
	}
	var f ScanFlags
	if i, f = scanStringFlags(b, i); i < 0 {
		return flags, syntaxError(b)
	}
	flags |= f
	ws()
	if i >= n || b[i] != ':' {
		return flags, syntaxError(b)
	}
	i++
	ws()
	goto value
}

// ScanJSON is Scan that says only whether b needs rewriting with Compact
// (rewrite is Scan's flags != 0): a caller keeps an already compact, clean
// document as it is.
func ScanJSON(b []byte, maxDepth int) (rewrite bool, err error) {
	flags, err := Scan(b, maxDepth)
	return flags != 0, err
}

// scanStringFlags returns the index just past the string starting at b[i],
// or -1 when it is malformed, and what in it Compact rewrites. Plain ASCII
// up to the closing quote, the common case, is read inline.
func scanStringFlags(b []byte, i int) (int, ScanFlags) {
	i++
	for i < len(b) && strASCII[b[i]] {
		i++
	}
	if i < len(b) && b[i] == '"' {
		return i + 1, 0
	}
	return scanStringRest(b, i)
}

// scanStringRest is scanStringFlags from b[i] on, past the plain start.
func scanStringRest(b []byte, i int) (int, ScanFlags) {
	var flags ScanFlags
	for i < len(b) {
		c := b[i]
		if strASCII[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			return i + 1, flags
		case c == '\\':
			if i+1 >= len(b) {
				return -1, flags
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return -1, flags
				}
				n, lone := surrogateEscape(b, i)
				if lone {
					flags |= LoneSurrogate
				}
				i += n
			default:
				return -1, flags
			}
		case c >= utf8.RuneSelf:
			if r, size := utf8.DecodeRune(b[i:]); r == utf8.RuneError && size == 1 {
				flags |= BadUTF8
				i++
			} else {
				i += size
			}
		default:
			return -1, flags // a control character
		}
	}
	return -1, flags
}

// surrogateEscape looks at the \uXXXX escape at b[i] (its four hex digits
// checked): n is 12 for a valid surrogate pair, which stays as it is, else
// 6; lone is true for a surrogate that is not half of a pair. A high
// surrogate followed by anything but a low one is lone, and what follows
// it is looked at on its own.
func surrogateEscape(b []byte, i int) (n int, lone bool) {
	switch surrogateKind(b[i+2], b[i+3]) {
	case 0:
		return 6, false
	case 'h':
		if i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' && surrogateKind(b[i+8], b[i+9]) == 'l' &&
			isHex(b[i+10]) && isHex(b[i+11]) {
			return 12, false
		}
	}
	return 6, true
}

// surrogateKind says from the first two hex digits of a \u escape whether
// it is a high surrogate (D800-DBFF: 'h'), a low one (DC00-DFFF: 'l') or
// neither (0).
func surrogateKind(h0, h1 byte) byte {
	if h0 != 'd' && h0 != 'D' {
		return 0
	}
	switch h1 {
	case '8', '9', 'a', 'b', 'A', 'B':
		return 'h'
	case 'c', 'd', 'e', 'f', 'C', 'D', 'E', 'F':
		return 'l'
	}
	return 0
}

// scanString returns the index just past the string starting at b[i], or
// -1 when it is malformed. Bytes from 0x80 are taken as they are: it serves
// input that Scan has seen.
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

// Compact appends b to dst rewritten as the gateway writes JSON: without
// whitespace outside strings, and with every invalid UTF-8 byte and every
// lone surrogate escape in a string replaced by U+FFFD, written as its
// three UTF-8 bytes (EF BF BD). Invalid UTF-8 is replaced byte by byte, as
// utf8.DecodeRune and encoding/json read it: each byte that does not start
// a valid sequence (a stray continuation byte, C0, C1, F5-FF, an overlong
// form, an encoded surrogate ED A0 80, a sequence cut short) is one U+FFFD,
// so "\xed\xa0\x80" becomes three. These are the strings DecodeJSON gives
// for the same bytes, so spliced and decoded values agree. Everything else
// is copied as it is (escapes, valid surrogate pairs, key order). b must be
// valid JSON (Scan accepted it).
func Compact(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case space[c]:
			i++
		case c == '"':
			dst, i = appendCleanString(dst, b, i)
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

// appendCleanString appends the string at b[i] with its invalid UTF-8 and
// lone surrogate escapes replaced by U+FFFD, and returns the index past it.
func appendCleanString(dst, b []byte, i int) ([]byte, int) {
	start := i
	i++
	for i < len(b) {
		c := b[i]
		if strASCII[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			return append(dst, b[start:i+1]...), i + 1
		case c == '\\':
			if i+6 <= len(b) && b[i+1] == 'u' {
				n, lone := surrogateEscape(b, i)
				if lone {
					dst = append(dst, b[start:i]...)
					dst = append(dst, "\uFFFD"...)
					start = i + n
				}
				i += n
				continue
			}
			i += 2
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, b[start:i]...)
				dst = append(dst, "\uFFFD"...)
				start = i + 1
			}
			i += size
		default:
			i++ // a control character: not in scanned input
		}
	}
	return append(dst, b[start:]...), len(b)
}

package transform

// The reversible encoding of JSON keys as XML names (_xHHHH_ escapes; see
// "Key escapes" on XMLCodec): appendXMLName writes a key as a name,
// decodeXMLName reads it back.

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// decodeXMLName undoes the key escapes: _xHHHH_ and _xHHHHHHHH_ become
// the character, and the whole name _x_ is the empty key.
func decodeXMLName(s string) string {
	if s == "_x_" {
		return ""
	}
	i := strings.Index(s, "_x")
	if i < 0 {
		return s
	}
	var b []byte
	last := 0
	for ; i+1 < len(s); i++ {
		if s[i] != '_' || s[i+1] != 'x' {
			continue
		}
		r, n := xmlEscapeAt(s[i:])
		if n == 0 {
			continue
		}
		if b == nil {
			b = make([]byte, 0, len(s))
		}
		b = append(b, s[last:i]...)
		b = utf8.AppendRune(b, r)
		i += n - 1
		last = i + 1
	}
	if b == nil {
		return s
	}
	return string(append(b, s[last:]...))
}

// xmlEscapeAt decodes an escape _xHHHH_ or _xHHHHHHHH_ at the start of s,
// returning the rune and the escape's length, or n == 0.
func xmlEscapeAt(s string) (r rune, n int) {
	for _, digits := range [2]int{4, 8} {
		if len(s) < digits+3 || s[digits+2] != '_' {
			continue
		}
		v, ok := parseHex(s[2 : 2+digits])
		if ok && utf8.ValidRune(rune(v)) {
			return rune(v), digits + 3
		}
	}
	return 0, 0
}

func parseHex(s string) (uint32, bool) {
	var v uint32
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint32(c)
	}
	return v, true
}

// appendXMLName appends key as an XML name, escaping what is not allowed;
// with keepPrefix a key "prefix:local" keeps its colon.
func appendXMLName(dst, key []byte, keepPrefix bool) []byte {
	if len(key) == 0 {
		return append(dst, "_x_"...)
	}
	if keepPrefix {
		if c := bytes.IndexByte(key, ':'); c > 0 && c < len(key)-1 && bytes.IndexByte(key[c+1:], ':') < 0 {
			dst = appendNCName(dst, key[:c])
			dst = append(dst, ':')
			return appendNCName(dst, key[c+1:])
		}
	}
	return appendNCName(dst, key)
}

// appendNCName appends s as a name without colons, escaping characters that
// are not name characters (or not allowed first), colons, and "_" that
// starts what would read as an escape.
func appendNCName(dst, s []byte) []byte {
	if string(s) == "_x_" {
		return append(dst, "_x005F_x_"...)
	}
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(s[i:])
		}
		ok := false
		switch {
		case r == '_':
			ok = !(i+6 <= len(s) && s[i+1] == 'x' && isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]))
		case r == ':':
		case r < utf8.RuneSelf:
			ok = 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' ||
				i > 0 && ('0' <= r && r <= '9' || r == '-' || r == '.')
		case r == utf8.RuneError && size == 1:
			r = utf8.RuneError
		default:
			// Non-ASCII characters are always escaped: which of them may
			// stand in a name differs between XML editions and readers,
			// and the escape reads back the same everywhere.
		}
		if ok {
			dst = append(dst, s[i:i+size]...)
		} else {
			dst = appendXMLEscape(dst, r)
		}
		i += size
	}
	return dst
}

func appendXMLEscape(dst []byte, r rune) []byte {
	const hex = "0123456789ABCDEF"
	digits := 4
	if r > 0xFFFF {
		digits = 8
	}
	dst = append(dst, '_', 'x')
	for shift := (digits - 1) * 4; shift >= 0; shift -= 4 {
		dst = append(dst, hex[(r>>shift)&0xF])
	}
	return append(dst, '_')
}

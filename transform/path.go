package transform

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// PathPart is one piece of a path template: literal text, or an expression
// written as ${...}. Offset is the byte offset of the expression's first
// character within the template, for error positions.
type PathPart struct {
	Literal string
	Expr    string
	Offset  int
}

// PathError is a malformed path template; Offset is a byte offset into it.
type PathError struct {
	Offset  int
	Message string
}

func (e *PathError) Error() string { return e.Message }

// ParsePath splits a backend path template such as "/carts/${params.id}/items"
// into literal and expression parts. Literal text must start with "/" and may
// not hold "?" or "#": query parameters belong in the call's query object.
func ParsePath(tmpl string) ([]PathPart, error) {
	if !strings.HasPrefix(tmpl, "/") {
		return nil, &PathError{0, `path must start with "/"`}
	}
	var parts []PathPart
	lit := strings.Builder{}
	for i := 0; i < len(tmpl); {
		c := tmpl[i]
		if c == '$' && i+1 < len(tmpl) && tmpl[i+1] == '{' {
			end, err := closeBrace(tmpl, i+2)
			if err != nil {
				return nil, err
			}
			src := tmpl[i+2 : end]
			if strings.TrimSpace(src) == "" {
				return nil, &PathError{i, "empty ${} in path"}
			}
			if lit.Len() > 0 {
				parts = append(parts, PathPart{Literal: lit.String()})
				lit.Reset()
			}
			parts = append(parts, PathPart{Expr: src, Offset: i + 2})
			i = end + 1
			continue
		}
		switch {
		case c == '?' || c == '#':
			return nil, &PathError{i, fmt.Sprintf("%q is not allowed in a path; put query parameters in \"query\"", c)}
		case c < 0x21 || c == 0x7f:
			return nil, &PathError{i, "control characters and spaces are not allowed in a path"}
		}
		lit.WriteByte(c)
		i++
	}
	if lit.Len() > 0 {
		parts = append(parts, PathPart{Literal: lit.String()})
	}
	return parts, nil
}

// closeBrace finds the "}" that closes an expression starting at i, skipping
// nested braces and quoted strings.
func closeBrace(s string, i int) (int, error) {
	start := i - 2
	depth := 0
	for ; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\'', '`':
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && c != '`' {
					j++
				}
			}
			if j >= len(s) {
				return 0, &PathError{i, "unterminated string in ${...}"}
			}
			i = j
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return i, nil
			}
			depth--
		}
	}
	return 0, &PathError{start, "unclosed ${ in path"}
}

// ErrNilSegment is returned when a nil value is interpolated into a path: the
// backend cannot be addressed.
var ErrNilSegment = errors.New("nil value in path")

// ErrEmptySegment is returned when an empty string is interpolated into a
// path: "/carts/${query.cart}" with an empty value would address "/carts/",
// another resource.
var ErrEmptySegment = errors.New("empty value in path")

// AppendSegment appends v, formatted and percent-encoded as exactly one path
// segment: every byte but ALPHA, DIGIT, "-", "_", "." and "~" is encoded, and
// the values "." and ".." become "%2E" and "%2E%2E", so no value can leave its
// segment, add a query or inject a header.
func AppendSegment(dst []byte, v any) ([]byte, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return dst, ErrNilSegment
	case string:
		s = x
	case float64:
		b, err := AppendFloat(nil, x)
		if err != nil {
			return dst, err
		}
		s = string(b)
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case bool:
		s = strconv.FormatBool(x)
	default:
		return dst, fmt.Errorf("%s cannot be a path segment", kindName(v))
	}
	if s == "" {
		return dst, ErrEmptySegment
	}
	if s == "." || s == ".." {
		for range s {
			dst = append(dst, "%2E"...)
		}
		return dst, nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&0xF])
	}
	return dst, nil
}

const upperHex = "0123456789ABCDEF"

// Stringify formats a scalar the way it is sent in a query parameter or a
// header: strings as is, numbers in shortest decimal form, booleans as
// true/false. ok is false for nil, objects and lists.
func Stringify(v any) (s string, ok bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		b, err := AppendFloat(nil, x)
		if err != nil {
			return "", false
		}
		return string(b), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

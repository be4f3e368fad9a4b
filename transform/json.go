package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"unicode/utf8"
)

// ErrTooDeep is returned when a document nests deeper than the allowed depth.
var ErrTooDeep = errors.New("nesting too deep")

// CheckJSON reports whether b is one valid JSON value nested at most maxDepth
// levels deep, refusing numbers beyond float64. It reads b once and allocates
// nothing on success, so it is safe to run on untrusted input before any
// decoder sees it. Like Scan, it accepts invalid UTF-8 and lone surrogate
// escapes in strings, which decoding and Compact turn into U+FFFD.
func CheckJSON(b []byte, maxDepth int) error {
	_, err := ScanJSON(b, maxDepth)
	return err
}

func jsonSyntaxDetail(b []byte) string {
	var v any
	err := json.Unmarshal(b, &v)
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	if err != nil {
		return err.Error()
	}
	return "malformed"
}

// NonFiniteError is returned when a value to encode is NaN or ±Inf, which JSON
// cannot hold.
type NonFiniteError struct{ Value float64 }

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("%v cannot be written as JSON", e.Value)
}

// AppendJSON appends the JSON encoding of v to dst. Maps are written with
// their keys sorted, so output is deterministic; numbers are written in their
// shortest decimal form without exponent for magnitudes below 1e21.
func AppendJSON(dst []byte, v any) ([]byte, error) {
	return (*Encoder)(nil).Append(dst, v)
}

// Encoder writes values as JSON like AppendJSON, and splices the original
// bytes of every object and list that came unchanged from a document
// decoded with spans (DecodeSpans): data passed through expressions keeps
// the backend's key order, and costs a copy instead of an encoding. A
// number that came unchanged from such a document is written as it was
// spelled there (12345678901234567890, 1.50); any other float64, the
// result of arithmetic included, is written by AppendFloat. A nil *Encoder
// is AppendJSON.
type Encoder struct {
	spans   []*Spans
	nums    bool // some table has numbers
	pending []func() (*Spans, bool)
}

// NewEncoder returns an encoder that splices from the given span tables;
// nil tables are skipped.
func NewEncoder(spans ...*Spans) *Encoder {
	e := &Encoder{}
	for _, s := range spans {
		e.Add(s)
	}
	return e
}

// Add adds a span table, which must be complete (its Decode call
// returned).
func (e *Encoder) Add(s *Spans) {
	if s != nil {
		e.spans = append(e.spans, s)
		e.nums = e.nums || len(s.nums) > 0
	}
}

// AddPending adds a table that may not be complete yet, such as that of a
// result decoded on first read, perhaps by the expressions this encoder
// writes: before each value it is given to write, the encoder calls get
// until get reports done, then adds the table get returns (nil for none).
// get may be called from the encoder's goroutine only, and must return a
// complete table.
func (e *Encoder) AddPending(get func() (s *Spans, done bool)) {
	e.pending = append(e.pending, get)
}

func (e *Encoder) poll() {
	kept := e.pending[:0]
	for _, get := range e.pending {
		if s, done := get(); done {
			e.Add(s)
		} else {
			kept = append(kept, get)
		}
	}
	clear(e.pending[len(kept):])
	e.pending = kept
}

// NumberText returns the text a number v had in a document of the
// encoder's tables when v passed unchanged from there (what Append writes
// for it), for writing it elsewhere: a path segment, a query value.
func (e *Encoder) NumberText(v any) ([]byte, bool) {
	if _, ok := v.(float64); !ok || e == nil {
		return nil, false
	}
	if len(e.pending) > 0 {
		e.poll()
	}
	if e.nums {
		for _, s := range e.spans {
			if b, ok := s.number(v); ok {
				return b, true
			}
		}
	}
	return nil, false
}

// AddNumbers adds only the numbers of a span table: objects and lists of
// that document are encoded (keys sorted) rather than spliced, and its
// numbers keep their spelling.
func (e *Encoder) AddNumbers(s *Spans) {
	if s != nil && len(s.nums) > 0 {
		e.Add(&Spans{raw: s.raw, nums: s.nums})
	}
}

func (e *Encoder) raw(v any) ([]byte, bool) {
	if e == nil {
		return nil, false
	}
	for _, s := range e.spans {
		if b, ok := s.Lookup(v); ok {
			return b, true
		}
	}
	return nil, false
}

// Append appends the JSON encoding of v to dst.
func (e *Encoder) Append(dst []byte, v any) ([]byte, error) {
	if e != nil && len(e.pending) > 0 {
		e.poll()
	}
	return e.append(dst, v)
}

func (e *Encoder) append(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return AppendString(dst, x), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case float64:
		if e != nil && e.nums {
			for _, s := range e.spans {
				if b, ok := s.number(v); ok {
					return append(dst, b...), nil
				}
			}
		}
		return AppendFloat(dst, x)
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float32:
		return AppendFloat(dst, float64(x))
	case json.RawMessage:
		return append(dst, x...), nil
	case RawJSON:
		return append(dst, x...), nil
	case []any:
		if raw, ok := e.raw(x); ok {
			return append(dst, raw...), nil
		}
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = e.append(dst, el); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		if raw, ok := e.raw(x); ok {
			return append(dst, raw...), nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = e.append(dst, x[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case []string:
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, s)
		}
		return append(dst, ']'), nil
	}
	return e.appendReflect(dst, reflect.ValueOf(v))
}

// appendReflect covers the less common shapes expressions can produce
// ([]int, map[string]string, ...) without falling back to encoding/json, whose
// float formatting and NaN handling differ from ours.
func (e *Encoder) appendReflect(dst []byte, rv reflect.Value) ([]byte, error) {
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = e.append(dst, rv.Index(i).Interface()); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		keys := make([]string, 0, rv.Len())
		for _, k := range rv.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = e.append(dst, rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())).Interface()); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(dst, rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return AppendFloat(dst, rv.Float())
	case reflect.String:
		return AppendString(dst, rv.String()), nil
	case reflect.Bool:
		return e.append(dst, rv.Bool())
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		return e.append(dst, rv.Elem().Interface())
	}
	b, err := json.Marshal(rv.Interface())
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// AppendFloat writes f in its shortest decimal form: 28, 10.5, 100000000.
func AppendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, &NonFiniteError{f}
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64), nil
	}
	abs := math.Abs(f)
	if abs < 1e21 && abs >= 1e-6 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64), nil
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64), nil
}

// RawJSON is a value that is already valid JSON; encoders splice it as is.
type RawJSON []byte

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Each invalid UTF-8 byte becomes
// U+FFFD, written as its UTF-8 bytes as Compact writes it in backend
// bodies, and <, >, & are escaped so a body is safe to embed in HTML.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

package transform

import (
	"cmp"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Spans remembers, for one decoded document, the bytes each object and
// list came from, so an Encoder can write them back as they were. Keys are
// the identity of the Go value (the map, or the slice's array and length),
// which is stable while the value is alive and never shared between two
// decoded containers. Empty containers are not recorded: they encode the
// same either way.
//
// It also remembers the text of each number that AppendFloat would not
// write back the same (12345678901234567890, 1.50, 1E5, -0.0, a 300-digit
// integer), keyed by the identity of the float64 the decoder boxed for it:
// each such number gets an allocation of its own, so two numbers of one
// value spelled differently ({"a":1.50,"b":1.5}) are told apart, and a
// number is found only where it passed unchanged, never where arithmetic
// happened to give the same value. A Spans is written once, while
// decoding, and only read after.
type Spans struct {
	raw []byte
	// entries in decoding order. Recording is the hot part (every container
	// of every decoded body) and lookups are few (only containers that are
	// written out), so a slice scanned on lookup beats a map, up to a few
	// entries; past them the first lookup sorts the slice by key once and
	// later ones search it (a list of 300,000 objects, filtered, would
	// otherwise scan it for each object written).
	entries   []spanEntry
	entryOnce sync.Once

	// nums are the numbers not in canonical form, in decoding order; most
	// documents have none. Past a few, lookups go through numIdx, built on
	// the first (tables are shared by encoders in several goroutines).
	nums    []numEntry
	numOnce sync.Once
	numIdx  map[unsafe.Pointer]span
}

type numEntry struct {
	p unsafe.Pointer // the boxed float64's data
	span
}

type spanEntry struct {
	k spanKey
	span
}

type spanKey struct {
	p unsafe.Pointer
	n int // the slice's length; -1 for a map
}

type span struct{ from, to int32 }

func keyOf(v any) (spanKey, bool) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return spanKey{}, false
		}
		return spanKey{*(*unsafe.Pointer)(unsafe.Pointer(&x)), -1}, true
	case []any:
		if len(x) == 0 {
			return spanKey{}, false
		}
		return spanKey{unsafe.Pointer(unsafe.SliceData(x)), len(x)}, true
	}
	return spanKey{}, false
}

// Lookup returns the original bytes of v when v is an object or list this
// document decoded to, unchanged, or a number it decoded whose text is not
// the canonical spelling of its value.
func (s *Spans) Lookup(v any) ([]byte, bool) {
	if s == nil {
		return nil, false
	}
	if _, isNum := v.(float64); isNum {
		return s.number(v)
	}
	if len(s.entries) == 0 {
		return nil, false
	}
	k, ok := keyOf(v)
	if !ok {
		return nil, false
	}
	if len(s.entries) <= linearEntries {
		for i := range s.entries {
			if e := &s.entries[i]; e.k == k {
				return s.raw[e.from:e.to], true
			}
		}
		return nil, false
	}
	s.entryOnce.Do(func() { slices.SortFunc(s.entries, func(a, b spanEntry) int { return compareKeys(a.k, b.k) }) })
	i, found := slices.BinarySearchFunc(s.entries, k, func(e spanEntry, k spanKey) int { return compareKeys(e.k, k) })
	if !found {
		return nil, false
	}
	e := &s.entries[i]
	return s.raw[e.from:e.to], true
}

// linearEntries is how many entries a table scans before it sorts them.
const linearEntries = 16

// compareKeys orders span keys: no two containers alive at once share one.
func compareKeys(a, b spanKey) int {
	switch {
	case uintptr(a.p) < uintptr(b.p):
		return -1
	case uintptr(a.p) > uintptr(b.p):
		return 1
	}
	return cmp.Compare(a.n, b.n)
}

// linearNums is how many numbers a table scans before it indexes them.
const linearNums = 8

// number returns the text of the number v when this document decoded it.
func (s *Spans) number(v any) ([]byte, bool) {
	if len(s.nums) == 0 {
		return nil, false
	}
	p := dataWord(v)
	if len(s.nums) <= linearNums {
		for i := range s.nums {
			if e := &s.nums[i]; e.p == p {
				return s.raw[e.from:e.to], true
			}
		}
		return nil, false
	}
	s.numOnce.Do(func() {
		s.numIdx = make(map[unsafe.Pointer]span, len(s.nums))
		for _, e := range s.nums {
			s.numIdx[e.p] = e.span
		}
	})
	if sp, ok := s.numIdx[p]; ok {
		return s.raw[sp.from:sp.to], true
	}
	return nil, false
}

// eface is the layout of an interface value holding a non-pointer type.
type eface struct{ typ, data unsafe.Pointer }

func dataWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).data }

var float64Type = func() unsafe.Pointer {
	var v any = 1.5
	return (*eface)(unsafe.Pointer(&v)).typ
}()

// freshFloat boxes f in an allocation of its own. any(f) would share one
// static box among all zeros (and a few denormals), which would make two
// spellings of zero indistinguishable.
func freshFloat(f float64) (any, unsafe.Pointer) {
	p := new(float64)
	*p = f
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = float64Type, unsafe.Pointer(p)
	return v, unsafe.Pointer(p)
}

// errMalformed is returned by the decoder for input ScanJSON would refuse;
// callers scan first, so it means a bug rather than bad input.
var errMalformed = errors.New("malformed JSON")

type decoder struct {
	b       []byte
	i       int
	spans   *Spans
	budget  *Budget
	pending int64 // bytes charged here, not yet taken from budget
	scratch []any // list elements being read, shared by nested lists
	names   [64]string
	sizes   [8]int // members of the last object at each depth, a size hint
	depth   int
}

// name returns key b as a string, allocating only the first time a key is
// seen: lists of objects repeat the same keys in every element. The cache
// is direct-mapped on the key's length and ends; a collision only costs an
// allocation.
func (d *decoder) name(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	slot := (len(b)*31 + int(b[0])*7 + int(b[len(b)-1])) & 63
	if s := d.names[slot]; s == string(b) {
		return s
	}
	s := string(b)
	d.names[slot] = s
	return s
}

// DecodeJSON decodes a document into the values expressions see:
// map[string]any, []any, float64, string, bool and nil. An empty or blank
// body is nil. Duplicate keys: the last wins. b should have passed
// ScanJSON; anything else is an error, never a panic.
func DecodeJSON(b []byte) (any, error) {
	d := decoder{b: b}
	return d.document(nil)
}

// DecodeSpans is DecodeJSON that also records where each object and list
// came from, and the text of each number not in canonical form. b must be
// rewritten (Scan reported no flags, or Compact made it so) for the spliced
// bytes to match what the encoder writes: compact, valid UTF-8, no lone
// surrogate escapes.
func DecodeSpans(b []byte) (any, *Spans, error) {
	s := &Spans{raw: b}
	d := decoder{b: b, spans: s}
	v, err := d.document(nil)
	return v, s, err
}

// DecodeKeys decodes only the given members of a top-level object: an
// expression that reads cart.items and cart.total never pays for the rest.
// A key whose use is not Whole holds a list whose elements are decoded with
// only the keys in Elems. Partial objects and lists are not recorded in the
// spans (they are not what the backend wrote); the values they hold are. A
// document that is not an object is decoded whole.
func DecodeKeys(b []byte, keys map[string]*KeyUse) (any, *Spans, error) {
	s := &Spans{raw: b}
	d := decoder{b: b, spans: s}
	v, err := d.document(keys)
	return v, s, err
}

// document decodes the whole input; keys, when not nil, are the only
// members of a top-level object to decode.
func (d *decoder) document(keys map[string]*KeyUse) (any, error) {
	d.space()
	if d.i == len(d.b) {
		return nil, nil
	}
	v, err := d.value(keys)
	if err != nil {
		return nil, err
	}
	if err := d.settle(); err != nil {
		return nil, err
	}
	d.space()
	if d.i != len(d.b) {
		return nil, errMalformed
	}
	return v, nil
}

func (d *decoder) space() {
	for d.i < len(d.b) && space[d.b[d.i]] {
		d.i++
	}
}

// value decodes the value at d.i. keys, when not nil, is the only members
// to decode if the value is an object (the object is then partial).
func (d *decoder) value(keys map[string]*KeyUse) (any, error) {
	if d.i >= len(d.b) {
		return nil, errMalformed
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(keys)
	case c == '[':
		return d.array(nil)
	case c == '"':
		return d.str()
	case c == 't':
		if !hasWord(d.b, d.i, "true") {
			return nil, errMalformed
		}
		d.i += 4
		return true, nil
	case c == 'f':
		if !hasWord(d.b, d.i, "false") {
			return nil, errMalformed
		}
		d.i += 5
		return false, nil
	case c == 'n':
		if !hasWord(d.b, d.i, "null") {
			return nil, errMalformed
		}
		d.i += 4
		return nil, nil
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	}
	return nil, errMalformed
}

func (d *decoder) record(v any, from int) {
	if d.spans == nil || d.i > math.MaxInt32 {
		return // past what 32-bit offsets hold: written canonically instead
	}
	if k, ok := keyOf(v); ok {
		d.spans.entries = grown(d, d.spans.entries)
		d.spans.entries = append(d.spans.entries, spanEntry{k, span{int32(from), int32(d.i)}})
	}
}

// object decodes the object at d.i: only the members in keys when keys is
// not nil (a partial object, not recorded in the spans), else all of them.
func (d *decoder) object(keys map[string]*KeyUse) (any, error) {
	partial := keys != nil
	from := d.i
	d.i++
	hint := 0
	if d.depth < len(d.sizes) {
		hint = d.sizes[d.depth] // siblings in a list tend to have one shape
	}
	d.depth++
	defer func() { d.depth-- }()
	m := make(map[string]any, hint)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, d.charge(mapCost(0))
	}
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, errMalformed
		}
		var k any
		if j := plainEnd(d.b, d.i+1); j < len(d.b) && d.b[j] == '"' {
			k = d.name(d.b[d.i+1 : j])
			d.i = j + 1
		} else {
			var err error
			if k, err = d.str(); err != nil {
				return nil, err
			}
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, errMalformed
		}
		d.i++
		d.space()
		if use := keys[k.(string)]; partial && use == nil {
			if d.i = skipValue(d.b, d.i); d.i < 0 {
				return nil, errMalformed
			}
		} else {
			var v any
			var err error
			if partial && !use.Whole {
				v, err = d.elements(use.Elems)
			} else {
				v, err = d.value(nil)
			}
			if err != nil {
				return nil, err
			}
			m[k.(string)] = v
		}
		d.space()
		if d.i >= len(d.b) {
			return nil, errMalformed
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			continue
		case '}':
			d.i++
			if !partial {
				d.record(m, from)
			}
			if err := d.charge(mapCost(len(m))); err != nil {
				return nil, err
			}
			if d.depth-1 < len(d.sizes) {
				d.sizes[d.depth-1] = len(m)
			}
			return m, nil
		}
		return nil, errMalformed
	}
}

// elements decodes a list whose element objects are read only by the
// given keys. Anything else (not a list, elements that are not objects) is
// decoded whole, so an expression fails on it exactly as it would have.
func (d *decoder) elements(keys []string) (any, error) {
	if d.i >= len(d.b) || d.b[d.i] != '[' {
		return d.value(nil)
	}
	if len(keys) == 0 {
		return d.placeholders()
	}
	elem := make(map[string]*KeyUse, len(keys))
	for _, k := range keys {
		elem[k] = &KeyUse{Whole: true}
	}
	return d.array(elem)
}

// placeholders stands for a list whose elements nothing reads (len(xs),
// count(xs, true)): a list of as many empty values, which take no memory,
// so the elements are skipped, never decoded.
func (d *decoder) placeholders() (any, error) {
	d.i++
	n := 0
	for {
		d.space()
		if d.i >= len(d.b) {
			return nil, errMalformed
		}
		if d.b[d.i] == ']' && n == 0 {
			d.i++
			break
		}
		if d.i = skipValue(d.b, d.i); d.i < 0 {
			return nil, errMalformed
		}
		n++
		d.space()
		if d.i >= len(d.b) {
			return nil, errMalformed
		}
		if d.b[d.i] == ']' {
			d.i++
			break
		}
		if d.b[d.i] != ',' {
			return nil, errMalformed
		}
		d.i++
	}
	return make([]struct{}, n), d.charge(sliceCost(0))
}

// array decodes the list at d.i. With elem not nil, element objects are
// decoded with only those members, and the list, being partial, is not
// recorded in the spans.
func (d *decoder) array(elem map[string]*KeyUse) (any, error) {
	from := d.i
	d.i++
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return []any{}, d.charge(sliceCost(0))
	}
	base := len(d.scratch)
	defer func() { clear(d.scratch[base:]); d.scratch = d.scratch[:base] }()
	for {
		d.space()
		v, err := d.value(elem)
		if err != nil {
			return nil, err
		}
		d.scratch = grown(d, d.scratch)
		d.scratch = append(d.scratch, v)
		d.space()
		if d.i >= len(d.b) {
			return nil, errMalformed
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			continue
		case ']':
			d.i++
			l := make([]any, len(d.scratch)-base) // exact size: appends by expressions copy
			copy(l, d.scratch[base:])
			if elem == nil {
				d.record(l, from)
			}
			return l, d.charge(sliceCost(len(l)))
		}
		return nil, errMalformed
	}
}

// plainEnd returns the index of the first byte from i that is not plain
// ASCII string content.
func plainEnd(b []byte, i int) int {
	for i < len(b) && strPlain[b[i]] && b[i] < utf8.RuneSelf {
		i++
	}
	return i
}

// str decodes the string at d.i. Escapes are decoded; invalid UTF-8 and
// lone surrogates become U+FFFD, as encoding/json does.
func (d *decoder) str() (any, error) {
	s, j, ok := unquote(d.b, d.i)
	if !ok {
		return nil, errMalformed
	}
	d.i = j
	return s, d.charge(stringCost(len(s)))
}

// unquote decodes the string starting at b[i] and returns the index past it.
func unquote(b []byte, i int) (string, int, bool) {
	start := i + 1
	j := plainEnd(b, start)
	if j < len(b) && b[j] == '"' {
		return string(b[start:j]), j + 1, true // the common case: nothing to unescape
	}
	end := scanString(b, i)
	if end < 0 {
		return "", i, false
	}
	return string(appendUnescaped(nil, b[start:end-1])), end, true
}

// appendUnescaped appends the content of a JSON string that ScanJSON
// accepted (between its quotes), unescaped. Invalid UTF-8 and unpaired
// surrogates become U+FFFD, as encoding/json does.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			switch s[i+1] {
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
				r, n, ok := hex4(s, i)
				if !ok {
					return append(dst, "\uFFFD"...)
				}
				if utf16.IsSurrogate(r) {
					if r2, n2, ok := hex4(s, i+n); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							i += n + n2
							continue
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				i += n
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

func hex4(b []byte, i int) (rune, int, bool) {
	if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return 0, 0, false
	}
	var r rune
	for _, c := range b[i+2 : i+6] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c-'a') + 10
		case 'A' <= c && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, 0, false
		}
	}
	return r, 6, true
}

func (d *decoder) number() (any, error) {
	j, ok := scanNumber(d.b, d.i)
	if !ok {
		return nil, errMalformed
	}
	if err := d.charge(numberCost); err != nil {
		return nil, err
	}
	from := d.i
	tok := d.b[d.i:j]
	d.i = j
	f, simple, ok := numberValue(tok)
	switch {
	case !ok:
		return nil, errMalformed
	case simple:
		return f, nil // a small integer is written back as it was spelled
	}
	if d.spans != nil && d.i <= math.MaxInt32 && !canonicalText(tok) {
		var buf [32]byte
		if out, _ := AppendFloat(buf[:0], f); string(out) != string(tok) {
			v, p := freshFloat(f)
			d.spans.nums = append(d.spans.nums, numEntry{p, span{int32(from), int32(d.i)}})
			return v, nil
		}
	}
	return f, nil
}

// numberValue is the value of the JSON number tok (Scan accepted it) as
// decoding gives it: small integers without strconv (simple), -0 as
// encoding/json, an underflow as zero; ok is false for a number out of
// float64's range, which decoding refuses.
func numberValue(tok []byte) (f float64, simple, ok bool) {
	if len(tok) <= 15 {
		neg := tok[0] == '-'
		digits := tok
		if neg {
			digits = tok[1:]
		}
		n, simple := int64(0), len(digits) > 0
		for _, c := range digits {
			if c < '0' || c > '9' {
				simple = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if simple {
			if neg {
				if n == 0 {
					return math.Copysign(0, -1), true, true // -0, as encoding/json
				}
				n = -n
			}
			return float64(n), true, true
		}
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		if ne, ok := errors.AsType[*strconv.NumError](err); !ok || ne.Err != strconv.ErrRange || f != 0 {
			return 0, false, false
		}
		// underflow is zero, as in encoding/json
	}
	return f, false, true
}

// CanonicalNumber reports whether raw, a JSON number (Scan accepted it),
// is written the way AppendFloat writes its value, so that no document's
// table is needed to write it as it is: true for 28, 10.5, -0; false for
// 12345678901234567890, 1.50, 1E5.
func CanonicalNumber(raw []byte) bool {
	if len(raw) == 0 {
		return false
	}
	if canonicalText(raw) {
		return true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil && f != 0 {
		return false
	}
	var buf [32]byte
	out, _ := AppendFloat(buf[:0], f)
	return string(out) == string(raw)
}

// canonicalText reports cases where the text of a number alone shows that
// AppendFloat writes its value back digit for digit, so the decoder need
// not check: an integer of at most 15 digits (below 2^53, held exactly),
// or a decimal without exponent of at most 15 significant digits, no
// trailing zero in its fraction and a magnitude from 1e-6 (AppendFloat's
// plain range), since float64 holds every decimal of 15 digits apart from
// its neighbours. false means "look closer", not "not canonical".
func canonicalText(tok []byte) bool {
	i := 0
	if tok[0] == '-' {
		i++
	}
	intFrom := i
	for i < len(tok) && '0' <= tok[i] && tok[i] <= '9' {
		i++
	}
	intDigits := i - intFrom
	if i == len(tok) {
		return intDigits <= 15
	}
	if tok[i] != '.' {
		return false
	}
	frac := tok[i+1:]
	for _, c := range frac {
		if c < '0' || c > '9' {
			return false // an exponent
		}
	}
	if len(frac) == 0 || frac[len(frac)-1] == '0' {
		return false
	}
	sig := intDigits + len(frac)
	if intDigits == 1 && tok[intFrom] == '0' {
		z := 0
		for z < len(frac) && frac[z] == '0' {
			z++
		}
		if z > 5 {
			return false // below 1e-6: AppendFloat writes an exponent
		}
		sig = len(frac) - z
	}
	return sig <= 15
}

// skipValue returns the index past the value starting at b[i], or -1.
func skipValue(b []byte, i int) int { return skipWith(b, i, scanString) }

// skipWith is skipValue with str passing over each string (from its
// opening quote to past its closing one, or -1): scanString checks the
// string, skipFast's skipString only finds its end.
func skipWith(b []byte, i int, str func([]byte, int) int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return str(b, i)
	case c == '{' || c == '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = str(b, i); i < 0 {
					return -1
				}
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
		return -1
	default: // a number or a literal
		j := i
		for j < len(b) && !space[b[j]] && b[j] != ',' && b[j] != '}' && b[j] != ']' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// Lookup finds the value at path (object keys, from the top) in a compact
// document that ScanJSON accepted, without decoding anything. With several
// members of one name, the last counts, as in DecodeJSON. found is false
// when the last key is missing (the value is then null); ok is false when
// the path meets something that is not an object, or a missing key before
// its end, where an expression would fail: the caller must then evaluate
// the expression instead.
func Lookup(b []byte, path []string) (raw []byte, found, ok bool) {
	i := 0
	for n, key := range path {
		if i >= len(b) || b[i] != '{' {
			return nil, false, false
		}
		i++
		at := -1
		for i < len(b) && b[i] != '}' {
			k, j, good := unquote(b, i)
			if !good || j >= len(b) || b[j] != ':' {
				return nil, false, false
			}
			v := j + 1
			end := skipValue(b, v)
			if end < 0 {
				return nil, false, false
			}
			if k == key {
				at = v
			}
			i = end
			if i < len(b) && b[i] == ',' {
				i++
			}
		}
		if at < 0 {
			// Missing: null at the end of the path; before it, reading on
			// from null is an expression error, so the caller evaluates.
			return nil, false, n == len(path)-1
		}
		i = at
	}
	end := skipValue(b, i)
	if end < 0 {
		return nil, false, false
	}
	return b[i:end], true, true
}

// Budget bounds the memory that decoded values (the maps, lists, strings
// and numbers expressions see) may take, across every document one request
// decodes. A nil *Budget bounds nothing. Safe for concurrent use: calls
// decode their answers in their own goroutines.
type Budget struct {
	left  atomic.Int64
	limit int64
	// parent, when set, is the process's budget: what this one takes is
	// taken from it too, and given back by Release.
	parent *Budget
	taken  atomic.Int64
}

// NewBudget is a budget of limit bytes, drawn also from parent when that
// is not nil.
func NewBudget(limit int64, parent *Budget) *Budget {
	b := &Budget{limit: limit, parent: parent}
	b.left.Store(limit)
	return b
}

// Release gives back to the parent what b took from it: call it once the
// values b counted are no longer referenced (the request has ended).
func (b *Budget) Release() {
	if b == nil || b.parent == nil {
		return
	}
	b.parent.left.Add(b.taken.Swap(0))
}

// InUse is how many bytes are taken from b now.
func (b *Budget) InUse() int64 { return b.limit - b.left.Load() }

// Limit is the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// ErrBudget is decoding that would take the request's decoded data over
// its Budget; ErrBusy, over its parent's (the process's).
var (
	ErrBudget = errors.New("the decoded data would pass the request's limit")
	ErrBusy   = errors.New("the decoded data would pass the process's limit")
)

// DecodeSpans is DecodeSpans within the budget.
func (b *Budget) DecodeSpans(doc []byte) (any, *Spans, error) {
	s := &Spans{raw: doc}
	d := decoder{b: doc, spans: s, budget: b}
	v, err := d.document(nil)
	return v, s, err
}

// DecodeKeys is DecodeKeys within the budget.
func (b *Budget) DecodeKeys(doc []byte, keys map[string]*KeyUse) (any, *Spans, error) {
	s := &Spans{raw: doc}
	d := decoder{b: doc, spans: s, budget: b}
	v, err := d.document(keys)
	return v, s, err
}

// Take counts n bytes the caller holds for the request (a body, say)
// against b and its parent, as decoding does: ErrBudget or ErrBusy when
// that passes either.
func (b *Budget) Take(n int64) error {
	if b == nil {
		return nil
	}
	d := decoder{budget: b, pending: n}
	return d.settle()
}

// chargeBatch is how many bytes a decoder counts before it takes them from
// the shared budget: one atomic operation per batch, not per value.
const chargeBatch = 64 << 10

// charge counts n bytes of decoded values against the budget.
func (d *decoder) charge(n int64) error {
	if d.budget == nil {
		return nil
	}
	d.pending += n
	if d.pending < chargeBatch {
		return nil
	}
	return d.settle()
}

// settle takes what is counted from the budget.
func (d *decoder) settle() error {
	if d.budget == nil || d.pending == 0 {
		return nil
	}
	n := d.pending
	d.pending = 0
	b := d.budget
	if b.left.Add(-n) < 0 {
		return ErrBudget
	}
	if b.parent != nil {
		b.taken.Add(n)
		if b.parent.left.Add(-n) < 0 {
			return ErrBusy
		}
	}
	return nil
}

// What decoded values cost, as the Go runtime lays them out (64-bit): an
// estimate that errs high, so the budget holds in real memory.
const (
	numberCost = 8  // a boxed float64
	ifaceCost  = 16 // a slot holding any value
)

// mapCost is a map[string]any of n entries: its header, and groups of 8
// slots of a string key and an any value, kept at most 7/8 full.
func mapCost(n int) int64 {
	slots := 8
	for slots*7/8 < n {
		slots *= 2
	}
	return 48 + int64(slots)*(16+ifaceCost) + int64(slots)
}

// sliceCost is a boxed []any of n elements.
func sliceCost(n int) int64 { return 24 + int64(n)*ifaceCost }

// stringCost is a boxed string of n bytes.
func stringCost(n int) int64 { return 16 + int64(n) }

// grown is grow(s) with what its backing array grows by counted against
// the budget: the spans and the buffer of the list being read take about a
// fifth as much again as the values, for a long list of small objects.
// (The old array is garbage, which the default of the process's budget
// leaves room for.) Counted when the next value is.
func grown[T any](d *decoder, s []T) []T {
	if len(s) < cap(s) {
		return s
	}
	was := cap(s)
	s = grow(s)
	if d.budget != nil {
		d.pending += int64(cap(s)-was) * int64(unsafe.Sizeof(*new(T)))
	}
	return s
}

// grow makes room for one more element of s, doubling its capacity when it
// is full: append grows large slices by a quarter at a time, which on the
// way to a list of 300,000 allocates several times the final size.
func grow[T any](s []T) []T {
	if len(s) < cap(s) {
		return s
	}
	return slices.Grow(s, max(cap(s), 8))
}

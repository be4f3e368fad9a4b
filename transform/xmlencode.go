package transform

// JSON -> XML.
//
// The encoder walks JSON bytes (validated and depth-checked by CheckJSON
// first) with the package's JSON tokenizer (skipValue, scanString), so the
// key order of the JSON given is the element order of the XML written. Go
// values are first written as JSON by AppendJSON (map keys sorted) and then
// take the same path.

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"
)

type xmlEncoder struct {
	c     *XMLCodec
	src   []byte
	dst   []byte
	start int
	key   []byte   // scratch: the current unquoted key
	text  []byte   // scratch: the current unquoted string value
	names [][]byte // per-depth: encoded element names
	attrs []int    // offsets in dst of the current element's attribute names
	raw   []byte   // AppendJSON output for Go values
	// The members of the open objects that are not attributes, found while
	// writing the attributes, so each object is walked once.
	members []xmlMember
	// With Namespaces "keep": the prefixes declared in scope, the element
	// names written with a colon escaped (per depth), the namespace-expanded
	// names of the current element's attributes, and scratch.
	ns    xmlNamespaces
	alt   [][]byte
	exp   xmlByteSet
	extra []byte
}

// xmlMember is an object member: key content src[k0:k1] (between the
// quotes) and value src[v0:v1].
type xmlMember struct{ k0, k1, v0, v1 int }

var xmlEncoderPool = sync.Pool{New: func() any { return new(xmlEncoder) }}

// errXMLOutput stops writing once MaxBytes is passed.
var errXMLOutput = errors.New("output limit")

// JSONToXML writes v as XML inside a root element named root and appends it
// to dst. v is raw JSON (RawJSON, json.RawMessage or []byte; walked in its
// own key order, never re-sorted) or a Go value as AppendJSON takes (maps
// are written with sorted keys). root is escaped like any key; with root ""
// v must be an object of exactly one member, which names the root. On error
// dst is returned unchanged. Errors: invalid JSON, ErrTooDeep, ErrXMLTooLarge,
// *NonFiniteError, a number too large for float64 in non-integer form, and
// a bad root.
func (c *XMLCodec) JSONToXML(dst []byte, v any, root string) ([]byte, error) {
	e := xmlEncoderPool.Get().(*xmlEncoder)
	defer e.release()
	e.c = c
	raw, err := asJSON(e.raw[:0], v)
	if err != nil {
		return dst, err
	}
	if !isRaw(v) {
		e.raw = raw // keep the buffer for the next use
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("null")
	}
	if err := CheckJSON(raw, c.maxDepth); err != nil {
		return dst, err
	}
	e.src, e.dst, e.start = raw, dst, len(dst)
	i := skipSpace(raw, 0)
	if root != "" {
		e.names = growNames(e.names, 1)
		e.names[0] = appendXMLName(e.names[0][:0], []byte(root), c.keepNS)
		err = e.element(0, i, skipValue(raw, i))
	} else {
		err = e.rootFromValue(i)
	}
	out := e.dst
	e.dst = nil
	if err == nil && c.maxBytes > 0 && len(out)-len(dst) > c.maxBytes {
		err = errXMLOutput
	}
	if err == errXMLOutput {
		return dst, fmt.Errorf("%w: more than %d bytes", ErrXMLTooLarge, c.maxBytes)
	}
	if err != nil {
		return dst, err
	}
	return out, nil
}

func (e *xmlEncoder) release() {
	e.c, e.src, e.dst = nil, nil, nil
	e.members = e.members[:0]
	e.ns.release()
	e.exp.reset()
	if cap(e.raw) > 1<<20 || cap(e.text) > 1<<20 || cap(e.key) > 1<<16 || len(e.names) > 256 || cap(e.members) > 1<<12 {
		return
	}
	xmlEncoderPool.Put(e)
}

func growNames(names [][]byte, n int) [][]byte {
	for len(names) < n {
		names = append(names, nil)
	}
	return names
}

// rootFromValue writes an object of exactly one member as the document.
func (e *xmlEncoder) rootFromValue(i int) error {
	b := e.src
	if b[i] != '{' {
		return errors.New(`XML root: without a root name the value must be an object with one key`)
	}
	it := walkJSON(b, i)
	k0, k1, v0, v1, ok := it.member()
	if !ok {
		return errors.New(`XML root: without a root name the value must be an object with one key, not {}`)
	}
	if _, _, _, _, more := it.member(); more {
		return errors.New(`XML root: without a root name the value must be an object with one key`)
	}
	e.key = appendUnescaped(e.key[:0], b[k0:k1])
	if c := b[v0]; c != '{' && c != '[' && (bytes.HasPrefix(e.key, []byte(e.c.attrPrefix)) || string(e.key) == e.c.textKey) {
		return fmt.Errorf("XML root: %q would be an attribute or text, not an element", e.key)
	}
	if b[v0] == '[' {
		arr := walkJSON(b, v0)
		a0, a1, ok := arr.item()
		if !ok {
			return errors.New("XML root: the root key holds an empty array")
		}
		if _, _, more := arr.item(); more {
			return errors.New("XML root: the root key holds an array of more than one item")
		}
		v0, v1 = a0, a1
	}
	e.names = growNames(e.names, 1)
	e.names[0] = appendXMLName(e.names[0][:0], e.key, e.c.keepNS)
	return e.element(0, v0, v1)
}

// element writes the JSON value src[i:end] as an element named
// names[depth].
func (e *xmlEncoder) element(depth, i, end int) error {
	b := e.src
	name := e.names[depth]
	if e.c.maxBytes > 0 && len(e.dst)-e.start > e.c.maxBytes {
		return errXMLOutput
	}
	if e.c.keepNS {
		defer e.ns.pop(depth - 1)
		if b[i] == '{' {
			e.declare(depth, i)
		}
		name = e.elementNameNS(depth, name)
	}
	e.dst = append(e.dst, '<')
	e.dst = append(e.dst, name...)
	switch b[i] {
	case 'n':
		e.dst = append(e.dst, '/', '>')
		return nil
	case '"':
		e.dst = append(e.dst, '>')
		e.dst = e.appendText(e.dst, b[i+1:end-1], false)
	case 't', 'f':
		e.dst = append(e.dst, '>')
		if b[i] == 't' {
			e.dst = append(e.dst, "true"...)
		} else {
			e.dst = append(e.dst, "false"...)
		}
	case '[':
		names := growNames(e.names, depth+2)
		e.names = names
		e.names[depth+1] = append(e.names[depth+1][:0], xmlItemName...)
		it := walkJSON(b, i)
		empty := true
		for {
			v0, v1, ok := it.item()
			if !ok {
				break
			}
			if empty {
				e.dst = append(e.dst, '>')
				empty = false
			}
			if err := e.element(depth+1, v0, v1); err != nil {
				return err
			}
		}
		if empty {
			e.dst = append(e.dst, '/', '>')
			return nil
		}
	case '{':
		empty, err := e.object(depth, i)
		if err != nil {
			return err
		}
		if empty {
			e.dst = append(e.dst, '/', '>')
			return nil
		}
	default:
		e.dst = append(e.dst, '>')
		var err error
		if e.dst, err = appendXMLNumber(e.dst, b[i:end]); err != nil {
			return err
		}
	}
	e.dst = append(e.dst, '<', '/')
	e.dst = append(e.dst, name...)
	e.dst = append(e.dst, '>')
	return nil
}

// isAttr reports whether member key k with a value starting with v is an
// attribute.
func (e *xmlEncoder) isAttr(k []byte, v byte) bool {
	return v != '{' && v != '[' && bytes.HasPrefix(k, []byte(e.c.attrPrefix))
}

// object writes the attributes and content of the object at src[i] after
// the element name already written, and reports whether it had no content
// (the caller then closes the tag with "/>"; otherwise ">" is written).
func (e *xmlEncoder) object(depth, i int) (empty bool, err error) {
	b := e.src
	c := e.c
	e.attrs = e.attrs[:0]
	var seen map[string]struct{}
	if c.keepNS {
		e.exp.reset()
	}
	base := len(e.members)
	it := walkJSON(b, i)
	for {
		k0, k1, v0, v1, ok := it.member()
		if !ok {
			break
		}
		e.key = appendUnescaped(e.key[:0], b[k0:k1])
		if !e.isAttr(e.key, b[v0]) {
			e.members = append(e.members, xmlMember{k0, k1, v0, v1})
			continue
		}
		// The attribute's name, escaped, then a check against the ones
		// already written: with duplicate keys the first wins.
		nameStart := len(e.dst)
		e.dst = append(e.dst, ' ')
		an := e.key[len(c.attrPrefix):]
		switch {
		case c.keepNS:
			e.dst = e.appendAttrNameNS(e.dst, an, v0, v1)
		case string(an) == "xmlns":
			e.dst = append(e.dst, "_x0078_mlns"...)
		default:
			e.dst = appendXMLName(e.dst, an, false)
		}
		if e.seenAttr(&seen, nameStart+1) {
			e.dst = e.dst[:nameStart]
			continue
		}
		e.dst = append(e.dst, '=', '"')
		switch b[v0] {
		case 'n':
		case '"':
			e.dst = e.appendText(e.dst, b[v0+1:v1-1], true)
		case 't', 'f':
			e.dst = append(e.dst, b[v0:v1]...)
		default:
			if e.dst, err = appendXMLNumber(e.dst, b[v0:v1]); err != nil {
				return false, err
			}
		}
		e.dst = append(e.dst, '"')
	}
	empty = true
	open := func() {
		if empty {
			e.dst = append(e.dst, '>')
			empty = false
		}
	}
	for m, end := base, len(e.members); m < end; m++ {
		k0, k1, v0, v1 := e.members[m].k0, e.members[m].k1, e.members[m].v0, e.members[m].v1
		e.key = appendUnescaped(e.key[:0], b[k0:k1])
		if v := b[v0]; v != '{' && v != '[' && string(e.key) == c.textKey {
			switch v {
			case 'n':
			case '"':
				if v1-v0 > 2 {
					open()
					e.dst = e.appendText(e.dst, b[v0+1:v1-1], false)
				}
			case 't', 'f':
				open()
				e.dst = append(e.dst, b[v0:v1]...)
			default:
				open()
				if e.dst, err = appendXMLNumber(e.dst, b[v0:v1]); err != nil {
					return false, err
				}
			}
			continue
		}
		e.names = growNames(e.names, depth+2)
		e.names[depth+1] = appendXMLName(e.names[depth+1][:0], e.key, c.keepNS)
		if b[v0] == '[' {
			arr := walkJSON(b, v0)
			for {
				a0, a1, ok := arr.item()
				if !ok {
					break
				}
				open()
				if err := e.element(depth+1, a0, a1); err != nil {
					return false, err
				}
			}
			continue
		}
		open()
		if err := e.element(depth+1, v0, v1); err != nil {
			return false, err
		}
	}
	e.members = e.members[:base] // on error, release empties it
	return empty, nil
}

// seenAttr reports whether the attribute name just written at dst[at:] was
// already written for this element, and records it if not. Past
// xmlIndexAfter names the lookup uses *seen, a map.
func (e *xmlEncoder) seenAttr(seen *map[string]struct{}, at int) bool {
	name := e.dst[at:]
	if *seen != nil {
		if _, ok := (*seen)[string(name)]; ok {
			return true
		}
		(*seen)[string(name)] = struct{}{}
		return false
	}
	for k := 0; k < len(e.attrs); k += 2 {
		if bytes.Equal(e.dst[e.attrs[k]:e.attrs[k+1]], name) {
			return true
		}
	}
	e.attrs = append(e.attrs, at, len(e.dst))
	if len(e.attrs) > 2*xmlIndexAfter {
		*seen = make(map[string]struct{}, 4*xmlIndexAfter)
		for k := 0; k < len(e.attrs); k += 2 {
			(*seen)[string(e.dst[e.attrs[k]:e.attrs[k+1]])] = struct{}{}
		}
	}
	return false
}

// appendText appends the JSON string content s (between the quotes, maybe
// with escapes) escaped as XML text or an attribute value.
func (e *xmlEncoder) appendText(dst, s []byte, attr bool) []byte {
	if bytes.IndexByte(s, '\\') >= 0 {
		e.text = appendUnescaped(e.text[:0], s)
		s = e.text
	}
	return appendXMLEscaped(dst, s, attr)
}

// appendXMLEscaped escapes s (UTF-8, maybe invalid) as XML character data.
func appendXMLEscaped(dst, s []byte, attr bool) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			var esc string
			switch {
			case c == '&':
				esc = "&amp;"
			case c == '<':
				esc = "&lt;"
			case c == '>':
				esc = "&gt;"
			case c == '"' && attr:
				esc = "&quot;"
			case c == '\r':
				esc = "&#xD;"
			case c == '\n' && attr:
				esc = "&#xA;"
			case c == '\t' && attr:
				esc = "&#x9;"
			case c < 0x20 && c != '\n' && c != '\t':
				esc = "\uFFFD"
			default:
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, esc...)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// appendXMLNumber writes the JSON number literal n in plain decimal form
// with its digits.
func appendXMLNumber(dst, n []byte) ([]byte, error) {
	if !bytes.ContainsAny(n, ".eE") {
		if string(n) == "-0" {
			return append(dst, '0'), nil
		}
		return append(dst, n...), nil
	}
	if out, ok := appendPlainDecimal(dst, n); ok {
		return out, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return dst, fmt.Errorf("the number %s cannot be written as a decimal: %w", n, err)
	}
	if f == 0 {
		return append(dst, '0'), nil
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64), nil
}

// maxAddedZeros bounds the zeros an exponent may add to a plain decimal
// (float64's range needs at most 324).
const maxAddedZeros = 330

// appendPlainDecimal writes the JSON number literal n, which has a fraction
// or an exponent, as a plain decimal with exactly its digits: the point
// moved by the exponent, leading zeros of the integer part and trailing
// zeros of the fraction dropped, zero as 0. ok is false when that would add
// more than maxAddedZeros zeros.
func appendPlainDecimal(dst, n []byte) ([]byte, bool) {
	i := 0
	neg := n[0] == '-'
	if neg {
		i++
	}
	intFrom := i
	for i < len(n) && '0' <= n[i] && n[i] <= '9' {
		i++
	}
	intTo := i
	fracFrom, fracTo := i, i
	if i < len(n) && n[i] == '.' {
		i++
		fracFrom = i
		for i < len(n) && '0' <= n[i] && n[i] <= '9' {
			i++
		}
		fracTo = i
	}
	exp := 0
	if i < len(n) && (n[i] == 'e' || n[i] == 'E') {
		i++
		expNeg := false
		if i < len(n) && (n[i] == '+' || n[i] == '-') {
			expNeg = n[i] == '-'
			i++
		}
		if len(n)-i > 6 {
			return dst, false
		}
		for ; i < len(n); i++ {
			exp = exp*10 + int(n[i]-'0')
		}
		if expNeg {
			exp = -exp
		}
	}
	// The digits, integer part then fraction, as one run: digit k.
	nInt, total := intTo-intFrom, intTo-intFrom+fracTo-fracFrom
	digit := func(k int) byte {
		if k < nInt {
			return n[intFrom+k]
		}
		return n[fracFrom+k-nInt]
	}
	first, last := -1, -1 // the first and last digit that is not 0
	for k := 0; k < total; k++ {
		if digit(k) != '0' {
			if first < 0 {
				first = k
			}
			last = k
		}
	}
	if first < 0 {
		return append(dst, '0'), true
	}
	point := nInt + exp // the point stands before digit point
	var zeros int
	switch {
	case point <= first:
		zeros = first - point
	case point > last:
		zeros = point - last - 1
	}
	if zeros > maxAddedZeros {
		return dst, false
	}
	if neg {
		dst = append(dst, '-')
	}
	switch {
	case point <= first: // 0.000ddd
		dst = append(dst, '0', '.')
		for range zeros {
			dst = append(dst, '0')
		}
		for k := first; k <= last; k++ {
			dst = append(dst, digit(k))
		}
	case point > last: // ddd000
		for k := first; k <= last; k++ {
			dst = append(dst, digit(k))
		}
		for range zeros {
			dst = append(dst, '0')
		}
	default: // ddd.ddd
		for k := first; k <= last; k++ {
			if k == point {
				dst = append(dst, '.')
			}
			dst = append(dst, digit(k))
		}
	}
	return dst, true
}

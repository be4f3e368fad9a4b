package transform

// XML -> JSON.
//
// The document is read with the package's own byte-level tokenizer
// (xmlscan.go) rather than with encoding/xml: encoding/xml decodes into
// values that lose document order unless walked token by token, and its
// RawToken spent most of the time in per-byte reads and allocated for every
// token. The tokenizer hands out slices of the input and checks that the
// document is well-formed XML 1.0 with namespaces (xmlscan.go and xmlns.go
// list the rules). The decode loop is flat, with no recursion: it keeps its own
// explicit element stack (checked against MaxDepth before each push),
// matches end tags itself, and builds a compact index-based tree (nodes and
// per-element key groups in two slices), which is then written as JSON in
// document order. Writing recurses, but only as deep as the tree the depth
// check let through. XMLOptions.Lists paths are looked up as each element
// opens.
//
// Hostile input: the tokenizer expands only character references and the
// five predefined entities and never fetches anything; it refuses every
// <!...> declaration (ErrDTD) other than comments and CDATA sections, so
// neither billion-laughs expansion nor XXE can happen. Depth is checked
// before each element is pushed, so a 100,000-deep document stops after
// MaxDepth elements. MaxBytes is checked before parsing (and documents over
// 1 GiB are always refused). Memory is linear in the input: the tree costs
// 16 bytes per element, attribute or text plus 40 per distinct key of an
// element; the peak heap measured 10-25 times the input size (10 MB of
// <a b="" c=""/> peaked near 220 MB, measured when encoding/xml still made
// garbage for every token), so bound the input with MaxBytes or before the
// call. A document that is not well-formed (invalid UTF-8, characters XML
// does not allow, unknown entities, mismatched or missing end tags, a
// truncated document, namespace errors) is ErrInvalidXML.

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// xmlNode is an element, an attribute value or a text member. Scalars (and
// elements with neither attributes nor children) have group -1 and their
// text at arena[off:end]; other elements list their keys from group.
type xmlNode struct {
	off, end int32 // offsets in the arena; documents are at most maxXMLInput bytes
	group    int32 // first key group, -1 for a scalar
	next     int32 // next node under the same key, -1 at the end
}

// xmlGroup is one key of an element: all its members, in order.
type xmlGroup struct {
	key         string
	first, last int32
	next        int32 // next key of the same element
	n           int32
	list        bool
	elem        bool // made by an element (not an attribute or text)
}

// xmlFrame is an open element.
type xmlFrame struct {
	name       []byte // as written, to match the end tag
	node       int32
	last       int32 // last key group, -1 when none
	ngroups    int
	index      map[string]int32
	pathLen    int
	runStart   int   // current text run: arena[runStart:]
	mixedStart int   // this element's joined mixed text: mixed[mixedStart:]
	textNode   int32 // TextKey member of mixed content, -1 when none
	child      bool
}

type xmlState struct {
	c      *XMLCodec
	nodes  []xmlNode
	groups []xmlGroup
	frames []xmlFrame
	arena  []byte
	mixed  []byte
	path   []byte
	sc     xmlScanner

	// Keys made from names, kept across documents while the codec's
	// keepNS and attrPrefix stay the same.
	ekeys     map[string]string // element name as written -> key
	akeys     map[string]string // attribute name as written -> key ("" to leave out)
	keyKeep   bool
	keyPrefix string
}

var xmlStatePool = sync.Pool{New: func() any { return new(xmlState) }}

// XMLToJSON converts the XML document b to JSON and appends it to dst. On
// error dst is returned unchanged. Errors: ErrXMLTooLarge, ErrTooDeep,
// ErrDTD, or one wrapping ErrInvalidXML with the line number.
//
// The document must be well-formed XML 1.0 with namespaces (xmlscan.go and
// xmlns.go list the rules). Accepted encodings: UTF-8, with or without a
// byte order mark, and US-ASCII when the XML declaration names it; UTF-16
// and every other encoding are refused by name.
func (c *XMLCodec) XMLToJSON(dst, b []byte) ([]byte, error) {
	if limit := c.maxBytes; limit > 0 && len(b) > limit || len(b) > maxXMLInput {
		if limit <= 0 {
			limit = maxXMLInput
		}
		return dst, fmt.Errorf("%w: %d bytes, the limit is %d", ErrXMLTooLarge, len(b), limit)
	}
	st := xmlStatePool.Get().(*xmlState)
	st.c = c
	out, err := st.decode(dst, b)
	st.release()
	if err != nil {
		return dst, err
	}
	return out, nil
}

func (st *xmlState) release() {
	st.c = nil
	for i := range st.frames {
		st.frames[i] = xmlFrame{}
	}
	clear(st.groups) // drop key strings
	if cap(st.arena) > 1<<20 || cap(st.nodes) > 1<<16 || cap(st.groups) > 1<<16 || cap(st.frames) > 1<<10 {
		return // let a huge document's buffers go
	}
	xmlStatePool.Put(st)
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func (st *xmlState) decode(dst, b []byte) ([]byte, error) {
	b = st.begin(b)
	sc := &st.sc
	sc.reset(b)
	defer sc.release()
	if err := sc.encoding(); err != nil {
		return dst, err
	}
	for {
		tok, err := sc.next()
		if err != nil {
			return dst, err
		}
		switch tok {
		case xmlTokStart:
			if err := st.checkStart(sc.name, sc.attrs, sc.line(sc.pos)); err != nil {
				return dst, err
			}
			st.start(sc.name, sc.attrs)
			if sc.empty {
				st.end()
			}
		case xmlTokEnd:
			if err := st.checkEnd(sc.name.raw, sc.line(sc.pos)); err != nil {
				return dst, err
			}
			st.end()
		case xmlTokText:
			if len(st.frames) == 1 {
				if !isXMLSpace(sc.text) {
					return dst, fmt.Errorf("%w: line %d: text outside the root element", ErrInvalidXML, sc.line(sc.pos))
				}
				continue
			}
			st.arena = append(st.arena, sc.text...)
		case xmlTokEOF:
			return st.finish(dst, sc.line(sc.pos))
		}
	}
}

// begin readies st for the document b and returns it without its byte
// order mark.
func (st *xmlState) begin(b []byte) []byte {
	b = bytes.TrimPrefix(b, utf8BOM)
	st.nodes = append(st.nodes[:0], xmlNode{group: -1, next: -1})
	st.groups = st.groups[:0]
	st.frames = append(st.frames[:0], xmlFrame{node: 0, last: -1, textNode: -1})
	st.arena = st.arena[:0]
	st.mixed = st.mixed[:0]
	st.path = st.path[:0]
	if c := st.c; c.keepNS != st.keyKeep || c.attrPrefix != st.keyPrefix {
		clear(st.ekeys)
		clear(st.akeys)
		st.keyKeep, st.keyPrefix = c.keepNS, c.attrPrefix
	}
	return b
}

// checkStart checks a start tag read at line before it is opened.
func (st *xmlState) checkStart(name xmlQName, attrs []xmlAttr, line int) error {
	if len(st.frames) == 1 && st.nodes[0].group >= 0 {
		return fmt.Errorf("%w: line %d: a second root element <%s>", ErrInvalidXML, line, qname(name.raw))
	}
	if len(st.frames) > st.c.maxDepth {
		return fmt.Errorf("%w: more than %d levels of XML elements (line %d)", ErrTooDeep, st.c.maxDepth, line)
	}
	if n, dup := dupAttr(attrs); dup {
		return fmt.Errorf("%w: line %d: attribute %s repeated in <%s>", ErrInvalidXML, line, qname(n), qname(name.raw))
	}
	return nil
}

// checkEnd checks an end tag read at line before the top element is closed.
func (st *xmlState) checkEnd(name []byte, line int) error {
	top := &st.frames[len(st.frames)-1]
	if len(st.frames) == 1 {
		return fmt.Errorf("%w: line %d: unexpected end tag </%s>", ErrInvalidXML, line, qname(name))
	}
	if !bytes.Equal(name, top.name) {
		return fmt.Errorf("%w: line %d: element <%s> closed by </%s>", ErrInvalidXML, line, qname(top.name), qname(name))
	}
	return nil
}

// finish checks the end of the document, at line, and writes the JSON.
func (st *xmlState) finish(dst []byte, line int) ([]byte, error) {
	if len(st.frames) > 1 {
		return dst, fmt.Errorf("%w: line %d: unexpected end of document, <%s> is not closed", ErrInvalidXML, line, qname(st.frames[len(st.frames)-1].name))
	}
	if st.nodes[0].group < 0 {
		return dst, fmt.Errorf("%w: no root element", ErrInvalidXML)
	}
	text := string(st.arena)
	return st.write(dst, 0, text), nil
}

// qname is a name as written, for error messages, clipped.
func qname(raw []byte) string {
	return clipXML(string(raw[:min(len(raw), 80)]), 64)
}

// clipXML cuts s to at most n bytes at a character boundary, so errors that
// quote a hostile document stay short.
func clipXML(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// start opens the element name, with attrs, under the top frame.
func (st *xmlState) start(name xmlQName, attrs []xmlAttr) {
	c := st.c
	key := st.elemKey(name)
	parent := &st.frames[len(st.frames)-1]
	if parent.node != 0 {
		parent.child = true
		st.finishRun(parent)
	}
	node := st.newNode()
	list := false
	pathLen := 0
	if c.lists != nil {
		// The path of this element, unless its parent's is already longer
		// than any listed path (then no descendant can match either).
		pathLen = parent.pathLen
		if pathLen <= c.listsLen {
			st.path = st.path[:pathLen]
			if len(st.path) > 0 {
				st.path = append(st.path, '.')
			}
			st.path = append(st.path, key...)
			pathLen = len(st.path)
			_, list = c.lists[string(st.path)]
		}
	}
	st.member(parent, key, node, list, true)
	st.frames = append(st.frames, xmlFrame{name: name.raw, node: node, last: -1, pathLen: pathLen, mixedStart: len(st.mixed), textNode: -1})
	f := &st.frames[len(st.frames)-1]
	for i := range attrs {
		a := &attrs[i]
		akey := st.attrKey(a.name)
		if akey == "" {
			continue // a namespace declaration, with "strip"
		}
		if st.find(f, akey) >= 0 {
			continue // names that differ only in a stripped prefix: the first wins
		}
		an := st.newNode()
		st.nodes[an].off = int32(len(st.arena))
		st.arena = append(st.arena, a.val...)
		st.nodes[an].end = int32(len(st.arena))
		st.member(f, akey, an, false, false)
	}
	f.runStart = len(st.arena)
}

// xmlKeyCache bounds the names remembered per state: at most this many,
// each at most xmlKeyCacheName bytes long.
const (
	xmlKeyCache     = 512
	xmlKeyCacheName = 64
)

// elemKey is the JSON key of an element name, made once per name.
func (st *xmlState) elemKey(n xmlQName) string {
	if k, ok := st.ekeys[string(n.raw)]; ok {
		return k
	}
	var k string
	if st.c.keepNS && n.colon >= 0 {
		k = decodeXMLName(string(n.space())) + ":" + decodeXMLName(string(n.local()))
	} else {
		k = decodeXMLName(string(n.local()))
	}
	st.ekeys = cacheKey(st.ekeys, n.raw, k)
	return k
}

// attrKey is AttrPrefix + the attribute's key, or "" for a namespace
// declaration that "strip" leaves out; made once per name.
func (st *xmlState) attrKey(n xmlQName) string {
	if k, ok := st.akeys[string(n.raw)]; ok {
		return k
	}
	c := st.c
	var k string
	switch {
	case c.keepNS && n.colon >= 0:
		k = c.attrPrefix + decodeXMLName(string(n.space())) + ":" + decodeXMLName(string(n.local()))
	case c.keepNS:
		k = c.attrPrefix + decodeXMLName(string(n.local()))
	case string(n.space()) == "xmlns" || n.colon < 0 && string(n.raw) == "xmlns":
		k = ""
	default:
		k = c.attrPrefix + decodeXMLName(string(n.local()))
	}
	st.akeys = cacheKey(st.akeys, n.raw, k)
	return k
}

func cacheKey(m map[string]string, name []byte, key string) map[string]string {
	if len(name) > xmlKeyCacheName {
		return m
	}
	if m == nil {
		m = make(map[string]string)
	} else if len(m) >= xmlKeyCache {
		clear(m)
	}
	m[string(name)] = key
	return m
}

// end closes the top element.
func (st *xmlState) end() {
	f := &st.frames[len(st.frames)-1]
	if f.child {
		st.finishRun(f)
		if f.textNode >= 0 {
			n := &st.nodes[f.textNode]
			n.off = int32(len(st.arena))
			st.arena = append(st.arena, st.mixed[f.mixedStart:]...)
			n.end = int32(len(st.arena))
		}
		st.mixed = st.mixed[:f.mixedStart]
	} else if st.nodes[f.node].group < 0 {
		n := &st.nodes[f.node]
		n.off, n.end = int32(f.runStart), int32(len(st.arena))
	} else if len(st.arena) > f.runStart {
		tn := st.newNode()
		st.nodes[tn].off, st.nodes[tn].end = int32(f.runStart), int32(len(st.arena))
		st.member(f, st.c.textKey, tn, false, false)
	}
	*f = xmlFrame{}
	st.frames = st.frames[:len(st.frames)-1]
	st.frames[len(st.frames)-1].runStart = len(st.arena)
}

// finishRun ends the text run of f, which has child elements: the run is
// trimmed and, when not empty, added to f's mixed text.
func (st *xmlState) finishRun(f *xmlFrame) {
	run := trimXMLSpace(st.arena[f.runStart:])
	if len(run) > 0 {
		if f.textNode < 0 {
			f.textNode = st.newNode()
			st.member(f, st.c.textKey, f.textNode, false, false)
		} else {
			st.mixed = append(st.mixed, ' ')
		}
		st.mixed = append(st.mixed, run...)
	}
	st.arena = st.arena[:f.runStart]
}

func (st *xmlState) newNode() int32 {
	st.nodes = append(st.nodes, xmlNode{group: -1, next: -1})
	return int32(len(st.nodes) - 1)
}

// member adds node under key to the element of f; elem tells an element
// from an attribute value or text.
func (st *xmlState) member(f *xmlFrame, key string, node int32, list, elem bool) {
	if g := st.find(f, key); g >= 0 {
		gr := &st.groups[g]
		st.nodes[gr.last].next = node
		gr.last = node
		gr.n++
		return
	}
	g := int32(len(st.groups))
	st.groups = append(st.groups, xmlGroup{key: key, first: node, last: node, next: -1, n: 1, list: list, elem: elem})
	if f.last < 0 {
		st.nodes[f.node].group = g
	} else {
		st.groups[f.last].next = g
	}
	f.last = g
	f.ngroups++
	switch {
	case f.index != nil:
		f.index[key] = g
	case f.ngroups > xmlIndexAfter:
		f.index = make(map[string]int32, 2*xmlIndexAfter)
		for i := st.nodes[f.node].group; i >= 0; i = st.groups[i].next {
			f.index[st.groups[i].key] = i
		}
	}
}

// find returns the key group of f's element named key, or -1.
func (st *xmlState) find(f *xmlFrame, key string) int32 {
	if f.index != nil {
		if g, ok := f.index[key]; ok {
			return g
		}
		return -1
	}
	for g := st.nodes[f.node].group; g >= 0; g = st.groups[g].next {
		if st.groups[g].key == key {
			return g
		}
	}
	return -1
}

// dupAttr returns the first attribute name that attrs holds twice.
func dupAttr(attrs []xmlAttr) ([]byte, bool) {
	if len(attrs) <= xmlIndexAfter {
		for i := 1; i < len(attrs); i++ {
			for j := 0; j < i; j++ {
				if bytes.Equal(attrs[i].name.raw, attrs[j].name.raw) {
					return attrs[i].name.raw, true
				}
			}
		}
		return nil, false
	}
	seen := make(map[string]struct{}, len(attrs))
	for _, a := range attrs {
		if _, ok := seen[string(a.name.raw)]; ok {
			return a.name.raw, true
		}
		seen[string(a.name.raw)] = struct{}{}
	}
	return nil, false
}

// write appends node n as JSON; text is the arena as a string.
func (st *xmlState) write(dst []byte, n int32, text string) []byte {
	node := st.nodes[n]
	if node.group < 0 {
		return st.scalar(dst, node, text)
	}
	dst = append(dst, '{')
	for g := node.group; g >= 0; g = st.groups[g].next {
		gr := &st.groups[g]
		if g != node.group {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, gr.key)
		dst = append(dst, ':')
		// One member is a plain value, unless Lists says otherwise, or it is
		// an element whose key reads as an attribute or text (an element
		// named _x0040_id or _x0023_text) and whose value is a string:
		// written plainly, JSONToXML would make it an attribute or text, so
		// it is kept in an array, which JSONToXML writes as an element again.
		if gr.n == 1 && !gr.list && !(gr.elem && st.nodes[gr.first].group < 0 && st.c.special(gr.key)) {
			dst = st.write(dst, gr.first, text)
			continue
		}
		dst = append(dst, '[')
		for m := gr.first; m >= 0; m = st.nodes[m].next {
			if m != gr.first {
				dst = append(dst, ',')
			}
			dst = st.write(dst, m, text)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// special reports whether JSONToXML writes a string under key as an
// attribute or text.
func (c *XMLCodec) special(key string) bool {
	return key == c.textKey || strings.HasPrefix(key, c.attrPrefix)
}

// scalar appends the text of node n (text is the arena as a string) as a
// JSON string or, with Cast, maybe as a number or a boolean.
func (st *xmlState) scalar(dst []byte, n xmlNode, text string) []byte {
	s := text[n.off:n.end]
	if st.c.cast && (s == "true" || s == "false" || isCanonicalNumber(st.arena[n.off:n.end])) {
		return append(dst, s...)
	}
	return AppendString(dst, s)
}

// isCanonicalNumber reports whether b is a JSON number (scanNumber's
// grammar) written exactly as appendXMLNumber writes it and read back as
// the same float64, so casting it loses nothing.
func isCanonicalNumber(b []byte) bool {
	if len(b) == 0 || len(b) > 400 {
		return false
	}
	if c := b[0]; c != '-' && (c < '0' || c > '9') {
		return false
	}
	if end, ok := scanNumber(b, 0); !ok || end != len(b) {
		return false
	}
	if !bytes.ContainsAny(b, ".eE") {
		// An integer literal is written back as is (the grammar has
		// already refused leading zeros); it must still read back as
		// exactly this integer.
		if string(b) == "-0" {
			return false
		}
		if len(b) <= 15 {
			return true // |n| < 10^15 < 2^53: a float64 holds it exactly
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f == 0 {
		return false
	}
	var buf [64]byte
	return string(strconv.AppendFloat(buf[:0], f, 'f', -1, 64)) == string(b)
}

// isXMLSpaceByte reports whether c is XML whitespace (the scanner's class).
func isXMLSpaceByte(c byte) bool { return xmlClass[c]&xcSpace != 0 }

func isXMLSpace(b []byte) bool {
	for _, c := range b {
		if !isXMLSpaceByte(c) {
			return false
		}
	}
	return true
}

func trimXMLSpace(b []byte) []byte {
	for len(b) > 0 && isXMLSpaceByte(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isXMLSpaceByte(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

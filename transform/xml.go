package transform

// XML <-> JSON conversion.
//
// # Implementation
//
// The decoder reads the document with its own byte-level tokenizer
// (xmlscan.go) rather than with mxj or encoding/xml: mxj keeps its settings
// (attribute prefix, casting, escaping) in process-wide globals, so two
// endpoints with different options would race; it decodes into Go maps,
// which lose document order; it recurses once per nesting level; and it has
// no way to say "this path is always a list". encoding/xml's RawToken did
// the job but spent most of the time in per-byte reads and allocated for
// every token; the tokenizer accepts what RawToken accepts in Strict mode
// (FuzzXMLScanner holds the two against each other; xmlscan.go lists the
// differences) and hands out slices of the input. The decode loop is flat,
// with no recursion and no namespace bookkeeping; this file keeps its own
// explicit element stack (checked against MaxDepth before each push),
// matches end tags itself, and builds a compact index-based tree (nodes and
// per-element key groups in two slices), which is then written as JSON in
// document order. Writing recurses, but only as deep as the tree the depth
// check let through.
//
// The encoder walks JSON bytes (validated and depth-checked by CheckJSON
// first) with a small in-place tokenizer, so the key order of the JSON given
// is the element order of the XML written. Go values are first written as
// JSON by AppendJSON (map keys sorted) and then take the same path.
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
// call.
// Invalid UTF-8, illegal
// characters, unknown entities, mismatched or missing end tags and
// truncated documents are all ErrInvalidXML.
//
// mxj stays in go.mod only until nothing else imports it.
//
// The conventions are documented on XMLCodec.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// ErrDTD is returned for XML that declares a document type (or any other
// <!...> declaration): DTDs and entities are never processed, so internal
// entity expansion ("billion laughs") and external entities (XXE) cannot
// happen.
var ErrDTD = errors.New("XML with a DOCTYPE declaration is not accepted")

// ErrInvalidXML wraps every error about a malformed XML document: syntax
// errors, unclosed or mismatched elements, a truncated document, invalid
// UTF-8, unknown entities, text outside the root element.
var ErrInvalidXML = errors.New("invalid XML")

// ErrXMLTooLarge is returned when an XML document to read, or the XML
// written, is larger than XMLOptions.MaxBytes.
var ErrXMLTooLarge = errors.New("XML document too large")

const (
	// DefaultXMLMaxDepth is the element nesting allowed when
	// XMLOptions.MaxDepth is 0.
	DefaultXMLMaxDepth = 64
	// MaxXMLDepth is the ceiling on XMLOptions.MaxDepth.
	MaxXMLDepth = 10000

	// maxXMLInput is the largest document XMLToJSON reads whatever MaxBytes
	// says, so that offsets fit in 32 bits (text is held at most twice).
	maxXMLInput = 1 << 30

	// xmlItemName names the elements an array is written as when it is not
	// the value of an object member.
	xmlItemName = "item"
	// xmlIndexAfter is the number of distinct keys in one element past which
	// key lookups use a map instead of a linear scan.
	xmlIndexAfter = 16
)

// XMLOptions configure XML <-> JSON conversion. The zero value is the
// default: no forced lists, no casting, "@" attributes, "#text" text,
// prefixes stripped, depth DefaultXMLMaxDepth, no size limit.
type XMLOptions struct {
	// Lists are element paths that are always arrays, even with one element
	// (or none seen in one parent: then the key is simply absent). A path is
	// the dotted list of JSON keys from the root element down:
	// "inventory.item" for <inventory><item/></inventory>. Keys are matched
	// after namespace handling and name decoding, so with "strip"
	// <s:Envelope><s:Body> is "Envelope.Body". Matching is exact; there is no
	// wildcard. An element name that itself holds "." is matched as written
	// ("a.b.c" also matches <a><b.c/></a>).
	Lists []string
	// Cast turns text into JSON numbers and booleans where that loses
	// nothing: "true" and "false" (exactly) become booleans, and text that
	// is a JSON number already written in its canonical form becomes a
	// number. Canonical means the text is what JSONToXML would write for
	// that number: "0", "-3", "28", "10.5", "0.001". Anything else stays a
	// string: "01234" and "007" (leading zeros, e.g. zip codes), "+1", "1.0",
	// "1.50", "1e5", ".5", " 3" (whitespace), "-0", "NaN", "0x1F", and
	// integers too long for a float64 to hold exactly
	// ("12345678901234567890"), so casting never changes a value's digits.
	// Empty text stays "". Cast applies to element text, TextKey members and
	// attribute values.
	Cast bool
	// AttrPrefix marks attribute keys. Default "@". It must not start with a
	// letter or digit (that would make element names look like attributes).
	AttrPrefix string
	// TextKey is the key of an element's text when the element also has
	// attributes or child elements. Default "#text". It must not start with
	// AttrPrefix. (A child element whose key is TextKey, or starts with
	// AttrPrefix, and whose value is a string is kept in a one-item array, so
	// that it is not taken for text or an attribute when written back.)
	TextKey string
	// Namespaces is "strip" (default) or "keep"; see XMLCodec.
	Namespaces string
	// MaxDepth bounds element nesting in XMLToJSON (ErrTooDeep) and JSON
	// nesting in JSONToXML. 0 means DefaultXMLMaxDepth; at most MaxXMLDepth.
	MaxDepth int
	// MaxBytes bounds the XML document XMLToJSON reads and the XML
	// JSONToXML writes (ErrXMLTooLarge). 0 means no limit (XMLToJSON still
	// refuses documents over 1 GiB); the caller is then expected to have
	// bounded the input. XMLToJSON's peak memory is 10-25 times its input;
	// JSONToXML's output can be much larger than its input, since a long key
	// is written twice for every item of an array under it.
	MaxBytes int
}

// XMLCodec is a compiled, immutable set of XMLOptions, safe for concurrent
// use. Build it once when a spec loads and reuse it for every request.
//
// # XML to JSON
//
//   - The result is an object with one key, the root element:
//     <inventory>...</inventory> becomes {"inventory": ...}.
//   - An element with neither attributes nor child elements is its text, a
//     string ("" when empty: <a/>, <a></a>). With Cast it may be a number
//     or a boolean instead (see XMLOptions.Cast).
//   - Otherwise it is an object: attributes first, as AttrPrefix+name
//     ("@id"), then child elements and text, in document order of first
//     appearance (keys are never sorted). Repeated child names become one
//     key holding an array, at the position of the first; a single child is
//     a plain value unless its path is in XMLOptions.Lists, and then it is
//     always an array.
//   - The text of an element without child elements is kept exactly,
//     whitespace included; beside attributes it is the TextKey member
//     ("#text"), left out when empty.
//   - Mixed content (text beside child elements): each run of text between
//     tags is trimmed of XML whitespace, empty runs are dropped, and the
//     rest are joined with one space into the TextKey member, placed where
//     the first non-empty run was. So pretty-printing whitespace between
//     child elements disappears, and which children the text sat between is
//     not kept: <p>The <b>best</b> cup</p> is {"#text": "The cup", "b": "best"}.
//   - CDATA sections are text. Comments and processing instructions are
//     dropped. Character references and the five predefined entities are
//     expanded; any other entity reference is an error. A DOCTYPE is
//     ErrDTD: no DTD, entity declaration or external entity is ever read.
//   - Namespaces "strip" (default): prefixes are dropped from element and
//     attribute names and xmlns declarations are left out, so soap:Envelope
//     is "Envelope" and xml:lang is "@lang". "keep": names are
//     "prefix:local" as written and declarations stay as attributes
//     ("@xmlns:soap", "@xmlns"). Namespace URIs are never resolved: the
//     prefix is what the document wrote.
//   - Names are decoded from the key escapes below (_x0020_ is a space).
//   - Keys are unique within an object. Child elements whose keys collide
//     (a:item and b:item once prefixes are stripped) join one array, and so
//     do an attribute and an element with the same key. Attributes whose
//     keys collide (a:id and b:id, stripped) keep the first. An attribute
//     written twice in one tag is an error: that is not well-formed XML.
//   - An element whose key reads as an attribute or as the TextKey (only
//     escaped names such as _x0040_id or _x0023_text can) and whose value is
//     a string is always put in an array, so that JSONToXML makes it an
//     element again rather than an attribute or text.
//   - Depth: MaxDepth counts elements, the root being 1. The JSON written
//     can nest about twice as deep (an object and an array per level).
//
// # JSON to XML
//
//   - The value is written inside one root element named by the root
//     argument. With root "" the value must be an object with exactly one
//     key, which names the root, so XML -> JSON -> XML needs no name.
//   - An object's members become child elements in the order given. A member
//     whose key starts with AttrPrefix and whose value is a string, number,
//     boolean or null is an attribute (null: an empty one); a TextKey member
//     with such a value is text, written where it stands among the children.
//     Attribute and text members whose value is an object or array are
//     written as elements (their names escaped, _x0040_id), so nothing is
//     lost. Of duplicate attribute keys in one object the first wins.
//   - An array under a key is that element repeated, once per item; an empty
//     array writes nothing. An array anywhere else (the root value, an item
//     of another array) is written as <item> children of its element.
//   - null is an empty element <a/>; "" is <a></a>; {} is <a/>.
//   - Numbers are written in plain decimal form, never with an exponent,
//     with the digits of the JSON literal, however many: an integer digit
//     for digit; any other number with its point moved by its exponent and
//     the zeros that carry no digit dropped (1e8 -> 100000000, 10.50 ->
//     10.5, 1e-7 -> 0.0000001, 0.1000000000000000055511151231257827 as it
//     is); every zero as 0. Only an exponent that would add more than 330
//     zeros (1e-400) gives the float64's shortest decimal instead (0).
//     Booleans are true and false.
//   - Text and attribute values are escaped: & < > always, " in attributes,
//     CR as &#xD;, and in attributes TAB and LF as &#x9; and &#xA;, so a
//     reader's line-end and attribute-value normalization gives the same
//     string back. Characters XML 1.0 cannot hold at all (U+0000-U+001F other
//     than TAB, LF and CR; U+FFFE; U+FFFF) and invalid UTF-8 become U+FFFD.
//   - No XML declaration and no indentation are written.
//
// # Key escapes
//
// A JSON key that is not an XML name is written with each offending
// character as _xHHHH_ (four upper-case hex digits of the code point), or
// _xHHHHHHHH_ beyond U+FFFF, as XML Schema mappings and .NET's
// XmlConvert.EncodeName do: "order id" -> order_x0020_id, "2fa" ->
// _x0032_fa, "price$" -> price_x0024_, "😀" -> _x0001F600_. A "_" followed
// by "x" and four hex digits is itself escaped (_x0041_ -> _x005F_x0041_),
// so text in a key is never mistaken for an escape, and the empty key is
// _x_. The colon is escaped too (a:b -> a_x003A_b), except with Namespaces
// "keep", where a key prefix:local (one colon, neither side empty) keeps it.
// With "strip", an attribute named exactly xmlns is escaped (_x0078_mlns),
// since a reader would take it for a declaration. Names are written in ASCII
// only (letters, digits, "_", "-", "."), so every XML reader takes them;
// any other character is escaped. XMLToJSON decodes these escapes in every name, so
// JSON -> XML -> JSON gives every key back.
//
// # Round trips
//
// JSON -> XML -> JSON gives the value back, keys and order included, except:
// numbers and booleans come back as strings unless Cast is on (then numbers
// in canonical form come back as numbers); null and {} come back as ""; an
// empty array disappears; an array of one item comes back as the item
// unless its path is in Lists (or its key reads as an attribute or text);
// text beside child elements is trimmed; nested arrays come back as objects
// of "item" lists; an object holding nothing but a TextKey string comes
// back as that string; attributes come first in their object; characters
// XML cannot hold come back as U+FFFD.
//
// XML -> JSON -> XML gives an equivalent document (same elements,
// attributes and text, children of one name grouped where the first stood)
// except for mixed content, comments and processing instructions, and, with
// "strip", prefixes and namespace declarations.
type XMLCodec struct {
	lists      map[string]struct{}
	listsLen   int // the longest of lists
	cast       bool
	keepNS     bool
	attrPrefix string
	textKey    string
	maxDepth   int
	maxBytes   int
}

// NewXMLCodec checks o and compiles it. Errors name the offending option, so
// they can be reported against the spec.
func NewXMLCodec(o XMLOptions) (*XMLCodec, error) {
	c := &XMLCodec{cast: o.Cast, attrPrefix: o.AttrPrefix, textKey: o.TextKey, maxDepth: o.MaxDepth, maxBytes: o.MaxBytes}
	switch o.Namespaces {
	case "", "strip":
	case "keep":
		c.keepNS = true
	default:
		return nil, fmt.Errorf(`xml namespaces must be "strip" or "keep", not %q`, o.Namespaces)
	}
	if c.attrPrefix == "" {
		c.attrPrefix = "@"
	}
	if r, _ := utf8.DecodeRuneInString(c.attrPrefix); unicode.IsLetter(r) || unicode.IsDigit(r) || r == utf8.RuneError {
		return nil, fmt.Errorf("xml attr_prefix %q must not start with a letter or digit", c.attrPrefix)
	}
	if c.textKey == "" {
		c.textKey = "#text"
	}
	if strings.HasPrefix(c.textKey, c.attrPrefix) {
		return nil, fmt.Errorf("xml text_key %q must not start with attr_prefix %q", c.textKey, c.attrPrefix)
	}
	switch {
	case o.MaxDepth < 0:
		return nil, fmt.Errorf("xml max depth %d is negative", o.MaxDepth)
	case o.MaxDepth == 0:
		c.maxDepth = DefaultXMLMaxDepth
	case o.MaxDepth > MaxXMLDepth:
		c.maxDepth = MaxXMLDepth
	}
	if o.MaxBytes < 0 {
		return nil, fmt.Errorf("xml max bytes %d is negative", o.MaxBytes)
	}
	for i, p := range o.Lists {
		if p == "" || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.Contains(p, "..") {
			return nil, fmt.Errorf("xml lists[%d]: %q is not a dotted path such as \"inventory.item\"", i, p)
		}
		if c.lists == nil {
			c.lists = make(map[string]struct{}, len(o.Lists))
		}
		c.lists[p] = struct{}{}
		c.listsLen = max(c.listsLen, len(p))
	}
	return c, nil
}

// CheckXML is a cheap pre-check that needs no parser: it bounds the element
// nesting of b by maxDepth (ErrTooDeep) and rejects <!DOCTYPE and other
// declarations (ErrDTD). It skips comments, CDATA sections, processing
// instructions and quoted attribute values, so it counts exactly the
// elements a parser would see, and it never lets stray end tags lower the
// count below zero. It does not check well-formedness: XMLToJSON does that
// (and checks depth and DTDs itself, so calling CheckXML first is optional).
// maxDepth <= 0 means DefaultXMLMaxDepth.
func CheckXML(b []byte, maxDepth int) error {
	if maxDepth <= 0 {
		maxDepth = DefaultXMLMaxDepth
	}
	depth := 0
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			return nil
		}
		i += j
		rest := b[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			i = skipPast(b, i+4, "-->")
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			i = skipPast(b, i+9, "]]>")
		case bytes.HasPrefix(rest, []byte("<?")):
			i = skipPast(b, i+2, "?>")
		case bytes.HasPrefix(rest, []byte("<!")):
			return ErrDTD
		case bytes.HasPrefix(rest, []byte("</")):
			if depth > 0 {
				depth--
			}
			i = skipPast(b, i+2, ">")
		default:
			k := i + 1
			for k < len(b) && b[k] != '>' {
				if q := b[k]; q == '"' || q == '\'' {
					e := bytes.IndexByte(b[k+1:], q)
					if e < 0 {
						return nil
					}
					k += e + 1
				}
				k++
			}
			if k >= len(b) {
				return nil
			}
			if b[k-1] != '/' {
				depth++
				if depth > maxDepth {
					return fmt.Errorf("%w: more than %d levels at byte %d", ErrTooDeep, maxDepth, i)
				}
			}
			i = k + 1
		}
	}
	return nil
}

// skipPast returns the index just past the first end at or after i, or
// len(b) when there is none.
func skipPast(b []byte, i int, end string) int {
	if i > len(b) {
		return len(b)
	}
	k := bytes.Index(b[i:], []byte(end))
	if k < 0 {
		return len(b)
	}
	return i + k + len(end)
}

// XMLToJSON converts an XML document to JSON bytes with the default options
// (no lists, no cast, "@" attributes, "#text", prefixes stripped) and at most
// maxDepth levels of element nesting (<= 0: DefaultXMLMaxDepth).
func XMLToJSON(b []byte, maxDepth int) ([]byte, error) {
	c := XMLCodec{attrPrefix: "@", textKey: "#text", maxDepth: maxDepth}
	if maxDepth <= 0 {
		c.maxDepth = DefaultXMLMaxDepth
	} else if maxDepth > MaxXMLDepth {
		c.maxDepth = MaxXMLDepth
	}
	return c.XMLToJSON(nil, b)
}

// JSONToXML converts v to XML inside a root element named root (see
// XMLCodec for "" and for the conventions) and appends it to dst,
// compiling opts on each call; use NewXMLCodec and XMLCodec.JSONToXML when
// the options are fixed. On error dst is returned unchanged.
func JSONToXML(dst []byte, v any, root string, opts XMLOptions) ([]byte, error) {
	c, err := NewXMLCodec(opts)
	if err != nil {
		return dst, err
	}
	return c.JSONToXML(dst, v, root)
}

// ---------------------------------------------------------------------------
// XML -> JSON

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
// Accepted encodings: UTF-8 (with or without a byte order mark), and
// US-ASCII or ISO-8859-1 when the XML declaration names them. Others are an
// error.
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
		return appendXMLScalar(dst, text[node.off:node.end], st.c.cast)
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

func appendXMLScalar(dst []byte, s string, cast bool) []byte {
	if cast && (s == "true" || s == "false" || isCanonicalNumber(s)) {
		return append(dst, s...)
	}
	return AppendString(dst, s)
}

// isCanonicalNumber reports whether s is a JSON number written exactly as
// formatXMLNumber writes it, so casting it loses nothing.
func isCanonicalNumber(s string) bool {
	if s == "" || len(s) > 400 || !isJSONNumber(s) {
		return false
	}
	if strings.IndexAny(s, ".eE") < 0 {
		// An integer literal is written back as is; it must still read back
		// as exactly this integer.
		if s == "-0" || len(s) > 1 && s[0] == '0' {
			return false
		}
		if len(s) <= 15 {
			return true // |n| < 10^15 < 2^53: a float64 holds it exactly
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f == 0 {
		return false
	}
	var buf [64]byte
	return string(strconv.AppendFloat(buf[:0], f, 'f', -1, 64)) == s
}

// isJSONNumber reports whether s matches the JSON number grammar.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return false
	}
	switch {
	case s[i] == '0':
		i++
	case '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(s)
}

func isXMLSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

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

func isHexByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// ---------------------------------------------------------------------------
// JSON -> XML

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
}

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
	var raw []byte
	switch x := v.(type) {
	case RawJSON:
		raw = x
	case json.RawMessage:
		raw = x
	case []byte:
		raw = x
	default:
		var err error
		if e.raw, err = AppendJSON(e.raw[:0], v); err != nil {
			return dst, err
		}
		raw = e.raw
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("null")
	}
	if err := CheckJSON(raw, c.maxDepth); err != nil {
		return dst, err
	}
	e.src, e.dst, e.start = raw, dst, len(dst)
	i := skipJSONSpace(raw, 0)
	var err error
	if root != "" {
		e.names = growNames(e.names, 1)
		e.names[0] = appendXMLName(e.names[0][:0], []byte(root), c.keepNS)
		err = e.element(0, i)
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
	if cap(e.raw) > 1<<20 || cap(e.text) > 1<<20 || cap(e.key) > 1<<16 || len(e.names) > 256 {
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
	it := jsonIter{b: b, i: i + 1}
	k0, k1, v0, _, ok := it.member()
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
		arr := jsonIter{b: b, i: v0 + 1}
		a0, _, ok := arr.value()
		if !ok {
			return errors.New("XML root: the root key holds an empty array")
		}
		if _, _, more := arr.value(); more {
			return errors.New("XML root: the root key holds an array of more than one item")
		}
		v0 = a0
	}
	e.names = growNames(e.names, 1)
	e.names[0] = appendXMLName(e.names[0][:0], e.key, e.c.keepNS)
	return e.element(0, v0)
}

// element writes the JSON value at src[i] as an element named names[depth].
func (e *xmlEncoder) element(depth, i int) error {
	b := e.src
	name := e.names[depth]
	if e.c.maxBytes > 0 && len(e.dst)-e.start > e.c.maxBytes {
		return errXMLOutput
	}
	e.dst = append(e.dst, '<')
	e.dst = append(e.dst, name...)
	switch b[i] {
	case 'n':
		e.dst = append(e.dst, '/', '>')
		return nil
	case '"':
		end := jsonStringEnd(b, i)
		e.dst = append(e.dst, '>')
		e.dst = e.appendText(e.dst, b[i+1:end], false)
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
		it := jsonIter{b: b, i: i + 1}
		empty := true
		for {
			v0, _, ok := it.value()
			if !ok {
				break
			}
			if empty {
				e.dst = append(e.dst, '>')
				empty = false
			}
			if err := e.element(depth+1, v0); err != nil {
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
		end := skipJSONValue(b, i)
		if e.dst, err = appendXMLNumber(e.dst, b[i:end]); err != nil {
			return err
		}
	}
	e.dst = append(e.dst, '<', '/')
	e.dst = append(e.dst, e.names[depth]...)
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
	it := jsonIter{b: b, i: i + 1}
	for {
		k0, k1, v0, v1, ok := it.member()
		if !ok {
			break
		}
		e.key = appendUnescaped(e.key[:0], b[k0:k1])
		if !e.isAttr(e.key, b[v0]) {
			continue
		}
		// The attribute's name, escaped, then a check against the ones
		// already written: with duplicate keys the first wins.
		nameStart := len(e.dst)
		e.dst = append(e.dst, ' ')
		an := e.key[len(c.attrPrefix):]
		if !c.keepNS && string(an) == "xmlns" {
			e.dst = append(e.dst, "_x0078_mlns"...)
		} else {
			e.dst = appendXMLName(e.dst, an, c.keepNS)
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
	it = jsonIter{b: b, i: i + 1}
	for {
		k0, k1, v0, v1, ok := it.member()
		if !ok {
			break
		}
		e.key = appendUnescaped(e.key[:0], b[k0:k1])
		if e.isAttr(e.key, b[v0]) {
			continue
		}
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
			arr := jsonIter{b: b, i: v0 + 1}
			for {
				a0, _, ok := arr.value()
				if !ok {
					break
				}
				open()
				if err := e.element(depth+1, a0); err != nil {
					return false, err
				}
			}
			continue
		}
		open()
		if err := e.element(depth+1, v0); err != nil {
			return false, err
		}
	}
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
	if bytes.IndexAny(n, ".eE") < 0 {
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
			ok = !(i+6 <= len(s) && s[i+1] == 'x' && isHexByte(s[i+2]) && isHexByte(s[i+3]) && isHexByte(s[i+4]) && isHexByte(s[i+5]))
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

// ---------------------------------------------------------------------------
// A minimal tokenizer for JSON that CheckJSON has already accepted.

type jsonIter struct {
	b []byte
	i int
}

// member reads the next object member: key content b[k0:k1] (between the
// quotes) and value b[v0:v1]. ok is false at the closing brace.
func (it *jsonIter) member() (k0, k1, v0, v1 int, ok bool) {
	b := it.b
	i := skipJSONSpace(b, it.i)
	if b[i] == '}' {
		it.i = i
		return 0, 0, 0, 0, false
	}
	k0 = i + 1
	k1 = jsonStringEnd(b, i)
	i = skipJSONSpace(b, k1+1) + 1 // ':'
	v0 = skipJSONSpace(b, i)
	v1 = skipJSONValue(b, v0)
	i = skipJSONSpace(b, v1)
	if b[i] == ',' {
		i++
	}
	it.i = i
	return k0, k1, v0, v1, true
}

// value reads the next array item b[v0:v1]; ok is false at the closing
// bracket.
func (it *jsonIter) value() (v0, v1 int, ok bool) {
	b := it.b
	i := skipJSONSpace(b, it.i)
	if b[i] == ']' {
		it.i = i
		return 0, 0, false
	}
	v0 = i
	v1 = skipJSONValue(b, v0)
	i = skipJSONSpace(b, v1)
	if b[i] == ',' {
		i++
	}
	it.i = i
	return v0, v1, true
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// jsonStringEnd returns the index of the quote closing the string that
// opens at b[i].
func jsonStringEnd(b []byte, i int) int {
	for j := i + 1; ; j++ {
		switch b[j] {
		case '"':
			return j
		case '\\':
			j++
		}
	}
}

// skipJSONValue returns the index just past the value starting at b[i].
func skipJSONValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return jsonStringEnd(b, i) + 1
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = jsonStringEnd(b, i)
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// ---------------------------------------------------------------------------
// Form encoding

// EncodeForm writes v as an application/x-www-form-urlencoded body, for
// `encode: form`. v must be an object (a Go map or raw JSON as JSONToXML
// takes) whose values are strings, numbers, booleans, null or lists of
// those:
//   - fields are written in the object's order (sorted keys for Go maps);
//   - a string is sent as is, a number in shortest decimal form as in XML
//     (1e8 -> 100000000), a boolean as true/false;
//   - null leaves the field out, and so do null list items;
//   - a list repeats the field, one per item (tags=a&tags=b); an empty list
//     sends nothing;
//   - a nested object, or a list holding an object or a list, is an error:
//     there is no standard for nesting in forms. Spell out bracket names in
//     the spec instead, e.g. {"metadata[order]": "..."};
//   - keys and values are escaped as url.QueryEscape does (space is "+").
//
// nil (or JSON null) gives "". Anything other than an object is an error.
func EncodeForm(v any) (string, error) {
	var raw []byte
	switch x := v.(type) {
	case nil:
		return "", nil
	case RawJSON:
		raw = x
	case json.RawMessage:
		raw = x
	case []byte:
		raw = x
	default:
		var err error
		if raw, err = AppendJSON(nil, v); err != nil {
			return "", err
		}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return "", nil
	}
	if err := CheckJSON(raw, 3); err != nil {
		if errors.Is(err, ErrTooDeep) {
			return "", errors.New("form encoding takes a flat object: nested objects and lists of lists cannot be sent as a form")
		}
		return "", err
	}
	i := skipJSONSpace(raw, 0)
	switch raw[i] {
	case 'n':
		return "", nil
	case '{':
	default:
		return "", errors.New("form encoding takes an object")
	}
	var out, key, val []byte
	add := func(v0, v1 int) error {
		switch raw[v0] {
		case 'n':
			return nil
		case '{', '[':
			return fmt.Errorf("form encoding: field %q holds an object or a nested list; only strings, numbers, booleans and lists of them can be sent", key)
		case '"':
			val = appendUnescaped(val[:0], raw[v0+1:v1-1])
		case 't', 'f':
			val = append(val[:0], raw[v0:v1]...)
		default:
			var err error
			if val, err = appendXMLNumber(val[:0], raw[v0:v1]); err != nil {
				return err
			}
		}
		if len(out) > 0 {
			out = append(out, '&')
		}
		out = append(out, url.QueryEscape(string(key))...)
		out = append(out, '=')
		out = append(out, url.QueryEscape(string(val))...)
		return nil
	}
	it := jsonIter{b: raw, i: i + 1}
	for {
		k0, k1, v0, v1, ok := it.member()
		if !ok {
			break
		}
		key = appendUnescaped(key[:0], raw[k0:k1])
		if raw[v0] != '[' {
			if err := add(v0, v1); err != nil {
				return "", err
			}
			continue
		}
		arr := jsonIter{b: raw, i: v0 + 1}
		for {
			a0, a1, ok := arr.value()
			if !ok {
				break
			}
			if err := add(a0, a1); err != nil {
				return "", err
			}
		}
	}
	return string(out), nil
}

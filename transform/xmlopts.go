package transform

// XML <-> JSON conversion: the options, the compiled codec and its errors.
// The conventions are documented on XMLCodec. The work is split by concern:
//
//   - xmlscan.go reads XML bytes into tokens and checks well-formedness;
//   - xmldecode.go turns those tokens into JSON (XMLCodec.XMLToJSON);
//   - xmlencode.go writes JSON as XML (XMLCodec.JSONToXML);
//   - xmlname.go is the reversible _xHHHH_ encoding of keys as XML names;
//   - form.go writes JSON as a form body (EncodeForm).

import (
	"errors"
	"fmt"
	"strings"
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
//   - The document must be well-formed XML 1.0 with namespaces, in UTF-8
//     (or US-ASCII); anything else is ErrInvalidXML (xmlscan.go and
//     xmlns.go list the rules). A version 1.x declaration is read as 1.0.
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
// "keep", where a key prefix:local (one colon, neither side empty) keeps it
// as long as the XML stays namespace-well-formed: the prefix is xml or is
// declared by an @xmlns:prefix member of that object or an enclosing one,
// and is not xmlns (xmlns.go has the details). With "strip", an attribute
// named exactly xmlns is escaped (_x0078_mlns), since a reader would take
// it for a declaration; with "keep", so is one whose value is a reserved
// namespace name. Names are written in ASCII only (letters, digits, "_",
// "-", "."), so every XML reader takes them; any other character is
// escaped. XMLToJSON decodes these escapes in every name, so JSON -> XML ->
// JSON gives every key back.
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

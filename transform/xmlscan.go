package transform

// A byte-level XML tokenizer for XMLToJSON, which also checks that the
// document is well-formed.
//
// It reads the document in place (no io.Reader, no per-byte calls) and
// hands the decode loop start tags, end tags and character data; comments,
// processing instructions and the XML declaration are dealt with here.
// Names are slices of the input, attribute values and text are slices of the
// input too unless they hold a reference or a CR (then they are rewritten
// into buffers the scanner reuses), so a document costs no allocation per
// token.
//
// It accepts only documents that are well-formed XML 1.0 (fifth edition)
// and namespace-well-formed (Namespaces in XML 1.0, xmlns.go), in UTF-8, and
// refuses the rest with ErrInvalidXML and a message saying what is wrong:
//
//   - The XML declaration, when there is one, comes first: only a UTF-8
//     byte order mark may stand before it, not even whitespace or a
//     comment. It holds version, then maybe encoding, then maybe
//     standalone, each after whitespace, in lower case, quoted with
//     matching quotes. Any version 1.x is read as XML 1.0 (as the fifth
//     edition says); other versions are refused. The encoding must be
//     UTF-8 or US-ASCII (in any case; a US-ASCII document holds no byte
//     above 0x7F); UTF-16 (by byte order mark, by declaration, or by NUL
//     bytes between the first characters) and every other encoding are
//     refused by name. standalone is yes or no.
//   - A processing instruction's target is a name without a colon, not xml
//     in any case, followed by whitespace or "?>".
//   - Text, attribute values, CDATA sections, comments and processing
//     instructions hold only XML characters: no C0 control other than tab,
//     LF and CR, no U+FFFE or U+FFFF, no invalid UTF-8 (which includes
//     encoded surrogates). Comments hold no "--" and do not end with "-".
//     Character references name XML characters: &#x0;, &#1;, &#xD800; and
//     &#x110000; are errors. Only the five predefined entities exist.
//   - Names follow the fifth edition's NameStartChar and NameChar.
//     Attributes are separated by whitespace.
//   - Outside the root element there is only whitespace, comments and
//     processing instructions: no text, reference or CDATA section, and no
//     second root element.
//   - Any <!...> declaration other than a comment or a CDATA section is
//     ErrDTD as soon as "<!" and its first letter are read.
//
// Like encoding/xml (and unlike the XML specification) it does not
// normalize whitespace in attribute values. FuzzXMLScanner holds it against
// encoding/xml's Decoder.RawToken, where both accept a document.

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

type xmlTok uint8

const (
	xmlTokEOF   xmlTok = iota
	xmlTokStart        // sc.name, sc.attrs, sc.empty
	xmlTokEnd          // sc.name
	xmlTokText         // sc.text (character data or a CDATA section)
)

// xmlQName is an element or attribute name as written.
type xmlQName struct {
	raw   []byte // prefix:local
	colon int    // index in raw of the colon after the prefix, -1 when none
}

// space is the prefix ("" when none), local the rest.
func (n xmlQName) space() []byte {
	if n.colon < 0 {
		return nil
	}
	return n.raw[:n.colon]
}

func (n xmlQName) local() []byte {
	return n.raw[n.colon+1:]
}

type xmlAttr struct {
	name xmlQName
	val  []byte
}

type xmlScanner struct {
	b     []byte // the document
	pos   int
	depth int // open elements

	// line counts newlines forward from its last answer, so asking for the
	// line of every tag costs one pass over the document in all.
	lineAt, lineNum int

	name  xmlQName
	attrs []xmlAttr
	empty bool   // the start tag was <name/>
	text  []byte // the text token

	vals  []byte // rewritten attribute values
	voffs []int  // per attribute: offsets in vals, or -1 (value is in b)
	buf   []byte // rewritten text

	ns xmlNamespaces
}

func (sc *xmlScanner) reset(b []byte) {
	sc.b, sc.pos, sc.depth = b, 0, 0
	sc.lineAt, sc.lineNum = 0, 1
	sc.name = xmlQName{}
	sc.text = nil
	clear(sc.attrs)
	sc.attrs = sc.attrs[:0]
	sc.ns.reset()
}

// release drops the references into the document and lets huge buffers go.
func (sc *xmlScanner) release() {
	sc.b, sc.text, sc.name = nil, nil, xmlQName{}
	clear(sc.attrs)
	sc.attrs = sc.attrs[:0]
	if cap(sc.vals) > 1<<16 {
		sc.vals = nil
	}
	if cap(sc.buf) > 1<<16 {
		sc.buf = nil
	}
	if cap(sc.attrs) > 1<<10 {
		sc.attrs, sc.voffs = nil, nil
	}
	sc.ns.release()
}

// line is the line number of b[at].
func (sc *xmlScanner) line(at int) int {
	at = min(at, len(sc.b))
	if at < sc.lineAt {
		return 1 + bytes.Count(sc.b[:at], []byte{'\n'})
	}
	sc.lineNum += bytes.Count(sc.b[sc.lineAt:at], []byte{'\n'})
	sc.lineAt = at
	return sc.lineNum
}

// syntax is a syntax error at b[at].
func (sc *xmlScanner) syntax(at int, msg string) error {
	return fmt.Errorf("%w: line %d: %s", ErrInvalidXML, sc.line(at), clipXML(strings.ToValidUTF8(msg, "\uFFFD"), 200))
}

func (sc *xmlScanner) eof() error {
	return sc.syntax(len(sc.b), "unexpected EOF")
}

// encoding refuses documents in an encoding other than UTF-8 that can be
// told from their first bytes (a byte order mark, or NUL bytes around the
// first character), so they are not reported as invalid UTF-8.
func (sc *xmlScanner) encoding() error {
	b := sc.b
	switch {
	case len(b) >= 4 && (b[0] == 0 && b[1] == 0 || b[1] == 0 && b[2] == 0 && b[3] == 0 ||
		b[0] == 0xFF && b[1] == 0xFE && b[2] == 0 && b[3] == 0):
		return fmt.Errorf("%w: UTF-32 is not supported; only UTF-8 (or US-ASCII) is read", ErrInvalidXML)
	case len(b) >= 2 && (b[0] == 0xFE && b[1] == 0xFF || b[0] == 0xFF && b[1] == 0xFE || b[0] == 0 || b[1] == 0):
		return fmt.Errorf("%w: UTF-16 is not supported; only UTF-8 (or US-ASCII) is read", ErrInvalidXML)
	}
	return nil
}

// Byte classes.
const (
	xcNameStart = 1 << iota // ASCII name start: letter, '_', ':'
	xcName                  // ASCII name character
	xcText                  // plain in text: no action needed
	xcAttr                  // plain in attribute values
	xcSpace
)

var xmlClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_', c == ':':
			t[c] |= xcNameStart | xcName
		case '0' <= c && c <= '9', c == '-', c == '.':
			t[c] |= xcName
		}
		if c >= 0x20 && c < 0x80 || c == '\t' || c == '\n' {
			switch c {
			case '<', '&':
			case ']':
				t[c] |= xcAttr
			case '"', '\'':
				t[c] |= xcText
			default:
				t[c] |= xcText | xcAttr
			}
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			t[c] |= xcSpace
		}
	}
	return t
}()

func (sc *xmlScanner) skipSpace() {
	for sc.pos < len(sc.b) && xmlClass[sc.b[sc.pos]]&xcSpace != 0 {
		sc.pos++
	}
}

// next reads the next token.
func (sc *xmlScanner) next() (xmlTok, error) {
	b := sc.b
	for {
		start := sc.pos
		if start >= len(b) {
			return xmlTokEOF, nil
		}
		if b[start] != '<' {
			if sc.depth == 0 {
				if err := sc.outside(); err != nil {
					return 0, err
				}
				continue
			}
			return xmlTokText, sc.chars(0)
		}
		if start+1 >= len(b) {
			return 0, sc.eof()
		}
		switch b[start+1] {
		case '/':
			sc.pos = start + 2
			if err := sc.qname(&sc.name, "expected element name after </"); err != nil {
				return 0, err
			}
			sc.skipSpace()
			if sc.pos >= len(b) {
				return 0, sc.eof()
			}
			if b[sc.pos] != '>' {
				return 0, sc.syntax(sc.pos, "invalid characters between </"+string(sc.name.raw)+" and >")
			}
			sc.pos++
			if sc.depth > 0 {
				sc.depth--
				sc.ns.pop(sc.depth)
			}
			return xmlTokEnd, nil
		case '?':
			if err := sc.procInst(); err != nil {
				return 0, err
			}
		case '!':
			cdata, err := sc.bang()
			if err != nil || cdata {
				return xmlTokText, err
			}
		default:
			sc.pos = start + 1
			if err := sc.startTag(); err != nil {
				return 0, err
			}
			if err := sc.namespaces(start); err != nil {
				return 0, err
			}
			if sc.empty {
				sc.ns.pop(sc.depth)
			} else {
				sc.depth++
			}
			return xmlTokStart, nil
		}
	}
}

// outside reads what is not markup outside the root element: it may only
// be whitespace.
func (sc *xmlScanner) outside() error {
	sc.skipSpace()
	switch {
	case sc.pos >= len(sc.b) || sc.b[sc.pos] == '<':
		return nil
	case sc.b[sc.pos] == '&':
		return sc.syntax(sc.pos, "a character or entity reference outside the root element")
	}
	return sc.syntax(sc.pos, "text outside the root element")
}

// readName reads a name at pos: ASCII name characters and any byte >= 0x80,
// then checked against the fifth edition's NameStartChar and NameChar. ok
// is false (with err nil) when no name character is at pos.
func (sc *xmlScanner) readName() (name []byte, ok bool, err error) {
	b := sc.b
	start := sc.pos
	i := start
	ascii := true
	for i < len(b) {
		c := b[i]
		if c >= utf8.RuneSelf {
			ascii = false
		} else if xmlClass[c]&xcName == 0 {
			break
		}
		i++
	}
	if i >= len(b) {
		sc.pos = i
		return nil, false, sc.eof()
	}
	if i == start {
		return nil, false, nil
	}
	sc.pos = i
	name = b[start:i]
	if c := name[0]; c < utf8.RuneSelf && xmlClass[c]&xcNameStart == 0 || !ascii && !validName(name) {
		return nil, false, sc.syntax(start, fmt.Sprintf("invalid XML name %q", clipXML(string(name), 64)))
	}
	return name, true, nil
}

// validName reports whether s, holding bytes >= 0x80, is a name: valid
// UTF-8, a NameStartChar, then NameChars.
func validName(s []byte) bool {
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			if r, size = utf8.DecodeRune(s[i:]); r == utf8.RuneError && size == 1 {
				return false
			}
		}
		if i == 0 && !isNameStartRune(r) || !isNameRune(r) {
			return false
		}
		i += size
	}
	return true
}

// isNameStartRune is XML 1.0 (fifth edition) NameStartChar.
func isNameStartRune(r rune) bool {
	if r < utf8.RuneSelf {
		return xmlClass[r]&xcNameStart != 0
	}
	switch {
	case r >= 0xC0 && r <= 0xD6, r >= 0xD8 && r <= 0xF6, r >= 0xF8 && r <= 0x2FF,
		r >= 0x370 && r <= 0x37D, r >= 0x37F && r <= 0x1FFF, r == 0x200C, r == 0x200D,
		r >= 0x2070 && r <= 0x218F, r >= 0x2C00 && r <= 0x2FEF, r >= 0x3001 && r <= 0xD7FF,
		r >= 0xF900 && r <= 0xFDCF, r >= 0xFDF0 && r <= 0xFFFD, r >= 0x10000 && r <= 0xEFFFF:
		return true
	}
	return false
}

// isNameRune is XML 1.0 (fifth edition) NameChar.
func isNameRune(r rune) bool {
	if r < utf8.RuneSelf {
		return xmlClass[r]&xcName != 0
	}
	return isNameStartRune(r) || r == 0xB7 || r >= 0x300 && r <= 0x36F || r == 0x203F || r == 0x2040
}

// qname reads an element or attribute name: a name with at most one colon,
// with a name on either side of it.
func (sc *xmlScanner) qname(n *xmlQName, missing string) error {
	start := sc.pos
	name, ok, err := sc.readName()
	if err != nil {
		return err
	}
	if !ok {
		return sc.syntax(start, missing)
	}
	n.raw, n.colon = name, -1
	if c := bytes.IndexByte(name, ':'); c >= 0 {
		switch {
		case bytes.IndexByte(name[c+1:], ':') >= 0:
			return sc.syntax(start, fmt.Sprintf("the name %s has more than one colon", clipXML(string(name), 64)))
		case c == 0:
			return sc.syntax(start, fmt.Sprintf("the name %s has an empty namespace prefix", clipXML(string(name), 64)))
		case c == len(name)-1:
			return sc.syntax(start, fmt.Sprintf("the name %s has an empty local part", clipXML(string(name), 64)))
		}
		if !validNCNameStart(name[c+1:]) {
			return sc.syntax(start, fmt.Sprintf("the local part of %s does not start as a name", clipXML(string(name), 64)))
		}
		n.colon = c
	}
	return nil
}

// validNCNameStart reports whether the local part s of a prefixed name
// starts with a NameStartChar (the whole name was checked as a Name, so
// only its first character needs a look).
func validNCNameStart(s []byte) bool {
	r, size := rune(s[0]), 1
	if r >= utf8.RuneSelf {
		r, size = utf8.DecodeRune(s)
	}
	return !(r == utf8.RuneError && size == 1) && isNameStartRune(r)
}

// startTag reads a start tag from its name on.
func (sc *xmlScanner) startTag() error {
	b := sc.b
	if err := sc.qname(&sc.name, "expected element name after <"); err != nil {
		return err
	}
	sc.attrs = sc.attrs[:0]
	sc.voffs = sc.voffs[:0]
	sc.vals = sc.vals[:0]
	sc.empty = false
	for {
		before := sc.pos
		sc.skipSpace()
		if sc.pos >= len(b) {
			return sc.eof()
		}
		switch b[sc.pos] {
		case '/':
			sc.pos++
			if sc.pos >= len(b) {
				return sc.eof()
			}
			if b[sc.pos] != '>' {
				return sc.syntax(sc.pos, "expected /> in element")
			}
			sc.empty = true
			sc.pos++
			sc.fixVals()
			return nil
		case '>':
			sc.pos++
			sc.fixVals()
			return nil
		}
		if sc.pos == before {
			if len(sc.attrs) > 0 {
				return sc.syntax(sc.pos, "attributes must be separated by whitespace")
			}
			return sc.syntax(sc.pos, "expected whitespace, /> or > after the element name")
		}
		var a xmlAttr
		if err := sc.qname(&a.name, "expected attribute name in element"); err != nil {
			return err
		}
		sc.skipSpace()
		if sc.pos >= len(b) {
			return sc.eof()
		}
		if b[sc.pos] != '=' {
			return sc.syntax(sc.pos, "attribute name without = in element")
		}
		sc.pos++
		sc.skipSpace()
		if sc.pos >= len(b) {
			return sc.eof()
		}
		q := b[sc.pos]
		if q != '"' && q != '\'' {
			return sc.syntax(sc.pos, "unquoted or missing attribute value in element")
		}
		sc.pos++
		if err := sc.chars(q); err != nil {
			return err
		}
		a.val = sc.text
		sc.attrs = append(sc.attrs, a)
	}
}

// fixVals points the values rewritten into vals at their final place (vals
// may have moved while it grew).
func (sc *xmlScanner) fixVals() {
	for i, off := range sc.voffs {
		if off >= 0 {
			n := len(sc.attrs[i].val)
			sc.attrs[i].val = sc.vals[off : off+n : off+n]
		}
	}
}

// chars reads character data from pos into sc.text: text up to '<' or the
// end (quote 0), or an attribute value up to quote, which is consumed.
// References are expanded, CR LF and CR become LF, and the characters are
// checked. For attribute values it also records where the value is (voffs).
func (sc *xmlScanner) chars(quote byte) error {
	b := sc.b
	start := sc.pos
	var plain uint8 = xcText
	if quote != 0 {
		plain = xcAttr
	}
	// out is nil while the text is b[start:i] as it stands.
	var out []byte
	if quote == 0 {
		out = sc.buf[:0]
	} else {
		out = sc.vals
	}
	outStart := len(out)
	rewritten := false
	from := start // b[from:i] is still to be copied when rewritten
	i := start
	for i < len(b) {
		c := b[i]
		if xmlClass[c]&plain != 0 {
			i++
			continue
		}
		switch {
		case c == quote && quote != 0:
			goto done
		case c == '<':
			if quote != 0 {
				return sc.syntax(i, "unescaped < in an attribute value")
			}
			goto done
		case c == ']':
			// Only text gets here.
			if i+2 < len(b) && b[i+1] == ']' && b[i+2] == '>' {
				return sc.syntax(i+2, "unescaped ]]> in text")
			}
			i++
		case c == '"' || c == '\'':
			i++ // the other quote
		case c == '\r':
			out = append(out, b[from:i]...)
			out = append(out, '\n')
			rewritten = true
			i++
			if i < len(b) && b[i] == '\n' {
				i++
			}
			from = i
		case c == '&':
			out = append(out, b[from:i]...)
			rewritten = true
			var err error
			if out, i, err = sc.reference(out, i); err != nil {
				return err
			}
			from = i
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF {
				return sc.badChar(i, where(quote))
			}
			i += size
		default:
			return sc.badChar(i, where(quote))
		}
	}
	if quote != 0 {
		return sc.eof()
	}
done:
	end := i
	if quote != 0 {
		i++ // the quote
	}
	sc.pos = i
	if !rewritten {
		sc.text = b[start:end:end]
		if quote != 0 {
			sc.voffs = append(sc.voffs, -1)
		} else {
			sc.buf = out
		}
		return nil
	}
	out = append(out, b[from:end]...)
	sc.text = out[outStart:]
	if quote != 0 {
		sc.vals = out
		sc.voffs = append(sc.voffs, outStart)
	} else {
		sc.buf = out
	}
	return nil
}

// where names what chars reads, for errors.
func where(quote byte) string {
	if quote == 0 {
		return "text"
	}
	return "an attribute value"
}

// badChar describes the character at b[i], which is not an XML character,
// found in where. It runs only on the error path.
func (sc *xmlScanner) badChar(i int, where string) error {
	b := sc.b
	c := b[i]
	if c < utf8.RuneSelf {
		return sc.syntax(i, fmt.Sprintf("illegal character %U in %s", rune(c), where))
	}
	r, size := utf8.DecodeRune(b[i:])
	switch {
	case r == utf8.RuneError && size == 1 && c == 0xED && i+2 < len(b) && b[i+1] >= 0xA0 && b[i+1] <= 0xBF && b[i+2]&0xC0 == 0x80:
		s := rune(0xD000) | rune(b[i+1]&0x3F)<<6 | rune(b[i+2]&0x3F)
		return sc.syntax(i, fmt.Sprintf("invalid UTF-8 in %s: an encoded surrogate (%U) is not a character", where, s))
	case r == utf8.RuneError && size == 1:
		return sc.syntax(i, fmt.Sprintf("invalid UTF-8 in %s", where))
	}
	return sc.syntax(i, fmt.Sprintf("illegal character %U in %s", r, where))
}

// checkChars checks that b[i:end], a comment's or a processing
// instruction's content, holds only XML characters.
func (sc *xmlScanner) checkChars(i, end int, where string) error {
	b := sc.b
	for i < end {
		c := b[i]
		switch {
		case c >= 0x20 && c < utf8.RuneSelf || c == '\t' || c == '\n' || c == '\r':
			i++
		case c < utf8.RuneSelf:
			return sc.badChar(i, where)
		default:
			r, size := utf8.DecodeRune(b[i:end])
			if r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF {
				return sc.badChar(i, where)
			}
			i += size
		}
	}
	return nil
}

// reference expands the reference at b[i] ('&') onto out and returns the
// index past it.
func (sc *xmlScanner) reference(out []byte, i int) ([]byte, int, error) {
	b := sc.b
	amp := i
	i++
	if i >= len(b) {
		return out, i, sc.eof()
	}
	// ref is the reference as written, for errors.
	ref := func(i int) string {
		s := clipXML(string(b[amp:i]), 40)
		if i < len(b) && b[i] == ';' && len(s) == i-amp {
			return s + ";"
		}
		return s
	}
	bad := func(i int) ([]byte, int, error) {
		ent := ref(i)
		if i >= len(b) || b[i] != ';' {
			ent += " (no semicolon)"
		}
		return out, i, sc.syntax(i, "invalid character entity "+ent)
	}
	if b[i] == '#' {
		i++
		if i >= len(b) {
			return out, i, sc.eof()
		}
		if b[i] == 'X' {
			return out, i, sc.syntax(i, "a hexadecimal character reference starts with &#x, in lower case")
		}
		hex := b[i] == 'x'
		if hex {
			i++
		}
		var v uint64
		digits := 0
		for ; i < len(b); i++ {
			c := b[i]
			var d byte
			switch {
			case '0' <= c && c <= '9':
				d = c - '0'
			case hex && 'a' <= c && c <= 'f':
				d = c - 'a' + 10
			case hex && 'A' <= c && c <= 'F':
				d = c - 'A' + 10
			default:
				goto digitsDone
			}
			digits++
			if v <= utf8.MaxRune {
				if hex {
					v = v<<4 | uint64(d)
				} else {
					v = v*10 + uint64(d)
				}
			}
		}
	digitsDone:
		if i >= len(b) {
			return out, i, sc.eof()
		}
		if b[i] != ';' || digits == 0 {
			return out, i, sc.syntax(i, "invalid character reference "+ref(i))
		}
		r := rune(v)
		switch {
		case v > utf8.MaxRune:
			return out, i, sc.syntax(i, "character reference "+ref(i)+" is beyond U+10FFFF")
		case r >= 0xD800 && r <= 0xDFFF:
			return out, i, sc.syntax(i, fmt.Sprintf("character reference %s is a surrogate (%U), not a character", ref(i), r))
		case !xmlCharOK(r):
			return out, i, sc.syntax(i, fmt.Sprintf("character reference %s names %U, which is not an XML character", ref(i), r))
		}
		return utf8.AppendRune(out, r), i + 1, nil
	}
	// A name: the bytes encoding/xml would take for one.
	j := i
	for j < len(b) && (b[j] >= utf8.RuneSelf || xmlClass[b[j]]&xcName != 0) {
		j++
	}
	if j >= len(b) {
		return out, j, sc.eof()
	}
	if b[j] == ';' {
		var r byte
		switch string(b[i:j]) {
		case "lt":
			r = '<'
		case "gt":
			r = '>'
		case "amp":
			r = '&'
		case "apos":
			r = '\''
		case "quot":
			r = '"'
		}
		if r != 0 {
			return append(out, r), j + 1, nil
		}
	}
	return bad(j)
}

// xmlCharOK reports whether r is an XML Char.
func xmlCharOK(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= utf8.MaxRune
}

// bang reads what starts with "<!": a comment (skipped), a CDATA section
// (cdata, in sc.text) or a declaration (ErrDTD).
func (sc *xmlScanner) bang() (cdata bool, err error) {
	b := sc.b
	i := sc.pos + 2
	if i >= len(b) {
		return false, sc.eof()
	}
	switch b[i] {
	case '-':
		i++
		if i >= len(b) {
			return false, sc.eof()
		}
		if b[i] != '-' {
			return false, sc.syntax(i, "invalid sequence <!- not part of <!--")
		}
		i++
		k := bytes.Index(b[i:], []byte("--"))
		if k < 0 {
			return false, sc.syntax(len(b), "unexpected EOF in a comment")
		}
		if err := sc.checkChars(i, i+k, "a comment"); err != nil {
			return false, err
		}
		k += i + 2
		if k >= len(b) {
			return false, sc.eof()
		}
		if b[k] != '>' {
			if b[k] == '-' && k+1 < len(b) && b[k+1] == '>' {
				return false, sc.syntax(k, `a comment must not end with "--->"`)
			}
			return false, sc.syntax(k, `"--" is not allowed inside a comment`)
		}
		sc.pos = k + 1
		return false, nil
	case '[':
		if sc.depth == 0 {
			return false, sc.syntax(i, "a CDATA section outside the root element")
		}
		i++
		for _, c := range []byte("CDATA[") {
			if i >= len(b) {
				return false, sc.eof()
			}
			if b[i] != c {
				return false, sc.syntax(i, "invalid <![ sequence")
			}
			i++
		}
		k := bytes.Index(b[i:], []byte("]]>"))
		if k < 0 {
			return false, sc.syntax(len(b), "unexpected EOF in CDATA section")
		}
		end := i + k
		sc.pos = end + 3
		return true, sc.cdata(i, end)
	}
	return false, ErrDTD
}

// cdata checks the CDATA section b[i:end] and puts it in sc.text.
func (sc *xmlScanner) cdata(i, end int) error {
	b := sc.b
	start, from := i, i
	out := sc.buf[:0]
	rewritten := false
	for i < end {
		c := b[i]
		if xmlClass[c]&xcAttr != 0 || c == '<' || c == '&' || c == '"' || c == '\'' {
			i++
			continue
		}
		switch {
		case c == '\r':
			out = append(out, b[from:i]...)
			out = append(out, '\n')
			rewritten = true
			i++
			if i < end && b[i] == '\n' {
				i++
			}
			from = i
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:end])
			if r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF {
				return sc.badChar(i, "a CDATA section")
			}
			i += size
		default:
			return sc.badChar(i, "a CDATA section")
		}
	}
	if !rewritten {
		sc.text = b[start:end:end]
		return nil
	}
	out = append(out, b[from:end]...)
	sc.buf = out
	sc.text = out
	return nil
}

// procInst reads a processing instruction (from "<?"), which is dropped, or
// the XML declaration.
func (sc *xmlScanner) procInst() error {
	b := sc.b
	open := sc.pos
	sc.pos += 2
	start := sc.pos
	target, ok, err := sc.readName()
	if err != nil {
		return err
	}
	if !ok {
		return sc.syntax(start, "expected a target name after <?")
	}
	if len(target) == 3 && strings.EqualFold(string(target), "xml") {
		switch {
		case string(target) == "xml" && open == 0:
			return sc.xmlDecl()
		case string(target) == "xml":
			return sc.syntax(start, "the XML declaration must come first in the document (not even whitespace or a comment may stand before it)")
		}
		return sc.syntax(start, fmt.Sprintf("the processing instruction target %s is reserved", target))
	}
	if bytes.IndexByte(target, ':') >= 0 {
		return sc.syntax(start, fmt.Sprintf("the processing instruction target %s holds a colon", clipXML(string(target), 64)))
	}
	if sc.pos+1 < len(b) && b[sc.pos] == '?' && b[sc.pos+1] == '>' {
		sc.pos += 2
		return nil
	}
	if xmlClass[b[sc.pos]]&xcSpace == 0 {
		return sc.syntax(sc.pos, fmt.Sprintf("the processing instruction target %s must be followed by whitespace or ?>", clipXML(string(target), 64)))
	}
	k := bytes.Index(b[sc.pos:], []byte("?>"))
	if k < 0 {
		return sc.syntax(len(b), "unexpected EOF in a processing instruction")
	}
	if err := sc.checkChars(sc.pos, sc.pos+k, "a processing instruction"); err != nil {
		return err
	}
	sc.pos += k + 2
	return nil
}

// xmlDecl reads the XML declaration from just past "<?xml":
//
//	S 'version' Eq ('"' '1.' [0-9]+ '"' | "'" ... "'")
//	(S 'encoding' Eq quoted [A-Za-z] [A-Za-z0-9._-]*)?
//	(S 'standalone' Eq quoted ('yes' | 'no'))? S? '?>'
//
// where Eq is S? '=' S?.
func (sc *xmlScanner) xmlDecl() error {
	b := sc.b
	k := bytes.Index(b[sc.pos:], []byte("?>"))
	if k < 0 {
		return sc.syntax(len(b), "unexpected EOF in the XML declaration")
	}
	d := b[sc.pos : sc.pos+k]
	at := sc.pos
	sc.pos += k + 2
	fail := func(msg string) error {
		return sc.syntax(at, "XML declaration: "+msg)
	}
	i := 0
	// pseudo reads ` name = "value"` at d[i:]; name is nil when only
	// whitespace is left.
	pseudo := func() (name, val []byte, err error) {
		j := i
		for j < len(d) && xmlClass[d[j]]&xcSpace != 0 {
			j++
		}
		if j == len(d) {
			i = j
			return nil, nil, nil
		}
		if j == i {
			return nil, nil, fail(fmt.Sprintf("expected whitespace before %q", clipXML(string(d[j:]), 20)))
		}
		n := j
		for j < len(d) && ('a' <= d[j] && d[j] <= 'z' || 'A' <= d[j] && d[j] <= 'Z') {
			j++
		}
		name = d[n:j]
		if len(name) == 0 {
			return nil, nil, fail(fmt.Sprintf("unexpected %q", clipXML(string(d[j:]), 20)))
		}
		for j < len(d) && xmlClass[d[j]]&xcSpace != 0 {
			j++
		}
		if j == len(d) || d[j] != '=' {
			return nil, nil, fail(fmt.Sprintf("expected = after %s", clipXML(string(name), 20)))
		}
		j++
		for j < len(d) && xmlClass[d[j]]&xcSpace != 0 {
			j++
		}
		if j == len(d) || d[j] != '"' && d[j] != '\'' {
			return nil, nil, fail(fmt.Sprintf("the value of %s must be quoted", clipXML(string(name), 20)))
		}
		q := d[j]
		e := bytes.IndexByte(d[j+1:], q)
		if e < 0 {
			return nil, nil, fail(fmt.Sprintf("the value of %s is not closed by a matching quote", clipXML(string(name), 20)))
		}
		val = d[j+1 : j+1+e]
		i = j + 1 + e + 1
		return name, val, nil
	}
	misplaced := func(name []byte) error {
		return fail(fmt.Sprintf("unexpected %s (version, encoding and standalone are allowed, in that order and in lower case)", clipXML(string(name), 20)))
	}
	name, val, err := pseudo()
	switch {
	case err != nil:
		return err
	case name == nil:
		return fail("version is missing")
	case string(name) == "encoding" || string(name) == "standalone":
		return fail("version is missing (it must come first)")
	case string(name) != "version":
		return misplaced(name)
	}
	if !isXMLVersion(val) {
		return fail(fmt.Sprintf("XML version %q is not supported (1.x is, read as 1.0)", clipXML(string(val), 20)))
	}
	name, val, err = pseudo()
	if err != nil {
		return err
	}
	if string(name) == "encoding" {
		if err := sc.declEncoding(val, fail); err != nil {
			return err
		}
		if name, val, err = pseudo(); err != nil {
			return err
		}
	}
	if string(name) == "standalone" {
		if string(val) != "yes" && string(val) != "no" {
			return fail(fmt.Sprintf("standalone must be \"yes\" or \"no\", not %q", clipXML(string(val), 20)))
		}
		if name, _, err = pseudo(); err != nil {
			return err
		}
	}
	if name != nil {
		return misplaced(name)
	}
	return nil
}

// isXMLVersion reports whether v is VersionNum: "1." and digits.
func isXMLVersion(v []byte) bool {
	if len(v) < 3 || v[0] != '1' || v[1] != '.' {
		return false
	}
	for _, c := range v[2:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// declEncoding checks the encoding the declaration names: UTF-8 or
// US-ASCII (then the document must hold no byte above 0x7F).
func (sc *xmlScanner) declEncoding(enc []byte, fail func(string) error) error {
	ok := len(enc) > 0 && ('a' <= enc[0] && enc[0] <= 'z' || 'A' <= enc[0] && enc[0] <= 'Z')
	for _, c := range enc {
		ok = ok && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-')
	}
	name := clipXML(strings.ToValidUTF8(string(enc), "\uFFFD"), 40)
	switch {
	case !ok:
		return fail(fmt.Sprintf("%q is not an encoding name", name))
	case strings.EqualFold(string(enc), "UTF-8"):
		return nil
	case strings.EqualFold(string(enc), "US-ASCII"):
		if i := bytes.IndexFunc(sc.b, func(r rune) bool { return r >= utf8.RuneSelf }); i >= 0 {
			return sc.syntax(i, "the document declares US-ASCII but holds a byte above 0x7F")
		}
		return nil
	case len(enc) >= 6 && strings.EqualFold(string(enc[:6]), "UTF-16"):
		return fmt.Errorf("%w: UTF-16 is not supported; only UTF-8 (or US-ASCII) is read", ErrInvalidXML)
	}
	return fail(fmt.Sprintf("encoding %q is not supported; only UTF-8 and US-ASCII are", name))
}

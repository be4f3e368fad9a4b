package transform

// A byte-level XML tokenizer for XMLToJSON.
//
// It reads the document in place (no io.Reader, no per-byte calls) and
// hands the decode loop start tags, end tags and character data; comments,
// processing instructions and the XML declaration are dealt with here.
// Names are slices of the input, attribute values and text are slices of the
// input too unless they hold a reference or a CR (then they are rewritten
// into buffers the scanner reuses), so a document costs no allocation per
// token.
//
// What it accepts is what encoding/xml's Decoder.RawToken accepts in Strict
// mode (FuzzXMLScanner checks that), with one deliberate difference: a byte
// >= 0x80 is a name character (the name must be valid UTF-8 and must not hold
// U+FFFE or U+FFFF), where encoding/xml checks non-ASCII name characters
// against the XML 1.0 (fourth edition) tables; the fifth edition allows
// nearly all of them. And any <!...> declaration is ErrDTD as soon as "<!"
// and its first letter are read, where encoding/xml first read it to its
// end (so a truncated DOCTYPE was ErrInvalidXML).
//
// Like encoding/xml (and unlike the XML specification) it does not normalize
// whitespace in attribute values, and it needs no space between attributes.

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
	colon int    // index in raw of the colon after a prefix, -1 when none
}

// space is the prefix ("" when none), local the rest. As in encoding/xml, a
// name with a colon at either end has no prefix.
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
	b       []byte // the document (from the encoding switch on, converted)
	pos     int
	lines   int  // newlines before b, when b was converted
	started bool // a token was read, or b was converted

	name  xmlQName
	attrs []xmlAttr
	empty bool   // the start tag was <name/>
	text  []byte // the text token

	vals  []byte // rewritten attribute values
	voffs []int  // per attribute: offsets in vals, or -1 (value is in b)
	buf   []byte // rewritten text
	conv  []byte // the converted document (ISO-8859-1 to UTF-8)
}

func (sc *xmlScanner) reset(b []byte) {
	sc.b, sc.pos, sc.lines, sc.started = b, 0, 0, false
	sc.name = xmlQName{}
	sc.text = nil
	clear(sc.attrs)
	sc.attrs = sc.attrs[:0]
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
	if cap(sc.conv) > 1<<16 {
		sc.conv = nil
	}
	if cap(sc.attrs) > 1<<10 {
		sc.attrs, sc.voffs = nil, nil
	}
}

// line is the line number of b[at].
func (sc *xmlScanner) line(at int) int {
	at = min(at, len(sc.b))
	return 1 + sc.lines + bytes.Count(sc.b[:at], []byte{'\n'})
}

// syntax is a syntax error at b[at].
func (sc *xmlScanner) syntax(at int, msg string) error {
	return fmt.Errorf("%w: line %d: %s", ErrInvalidXML, sc.line(at), clipXML(msg, 200))
}

func (sc *xmlScanner) eof() error {
	return sc.syntax(len(sc.b), "unexpected EOF")
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
		atStart := !sc.started
		sc.started = true
		if b[start] != '<' {
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
				return 0, sc.syntax(sc.pos, "invalid characters between </"+string(sc.name.local())+" and >")
			}
			sc.pos++
			return xmlTokEnd, nil
		case '?':
			if err := sc.procInst(atStart); err != nil {
				return 0, err
			}
			b = sc.b // maybe converted
		case '!':
			cdata, err := sc.bang()
			if err != nil || cdata {
				return xmlTokText, err
			}
		default:
			sc.pos = start + 1
			return xmlTokStart, sc.startTag()
		}
	}
}

// name reads a name at pos: ASCII name characters, or any byte >= 0x80
// (valid UTF-8), not starting with a digit, '-' or '.'. ok is false (with
// err nil) when no name character is at pos.
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
	if c := name[0]; c < utf8.RuneSelf && xmlClass[c]&xcNameStart == 0 || !ascii && !validNameUTF8(name) {
		return nil, false, sc.syntax(start, "invalid XML name: "+string(name))
	}
	return name, true, nil
}

func validNameUTF8(s []byte) bool {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF {
			return false
		}
		i += size
	}
	return true
}

// qname reads an element or attribute name, which holds at most one colon.
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
		if bytes.IndexByte(name[c+1:], ':') >= 0 {
			return sc.syntax(start, missing)
		}
		if c > 0 && c < len(name)-1 {
			n.colon = c
		}
	}
	return nil
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
				return sc.syntax(i, "unescaped < inside quoted string")
			}
			goto done
		case c == ']':
			// Only text gets here.
			if i+2 < len(b) && b[i+1] == ']' && b[i+2] == '>' {
				return sc.syntax(i+2, "unescaped ]]> not in CDATA section")
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
			if r == utf8.RuneError && size == 1 {
				return sc.syntax(i, "invalid UTF-8")
			}
			if r == 0xFFFE || r == 0xFFFF {
				return sc.syntax(i, fmt.Sprintf("illegal character code %U", r))
			}
			i += size
		default:
			return sc.syntax(i, fmt.Sprintf("illegal character code %U", rune(c)))
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

// reference expands the reference at b[i] ('&') onto out and returns the
// index past it.
func (sc *xmlScanner) reference(out []byte, i int) ([]byte, int, error) {
	b := sc.b
	amp := i
	i++
	if i >= len(b) {
		return out, i, sc.eof()
	}
	bad := func(i int) ([]byte, int, error) {
		ent := string(b[amp:i])
		if i < len(b) && b[i] == ';' {
			ent += ";"
		} else {
			ent += " (no semicolon)"
		}
		return out, i, sc.syntax(i, "invalid character entity "+ent)
	}
	if b[i] == '#' {
		i++
		if i >= len(b) {
			return out, i, sc.eof()
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
		if b[i] != ';' || digits == 0 || v > utf8.MaxRune {
			return bad(i)
		}
		r := rune(v)
		if !xmlCharOK(r) {
			return out, i, sc.syntax(i, fmt.Sprintf("illegal character code %U", r))
		}
		return utf8.AppendRune(out, r), i + 1, nil // a surrogate is U+FFFD
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

// xmlCharOK reports whether a character reference may stand for r
// (surrogates become U+FFFD, as in encoding/xml).
func xmlCharOK(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r < 0xFFFE || r >= 0x10000 && r <= utf8.MaxRune
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
			return false, sc.eof()
		}
		k += i + 2
		if k >= len(b) {
			return false, sc.eof()
		}
		if b[k] != '>' {
			return false, sc.syntax(k, `invalid sequence "--" not allowed in comments`)
		}
		sc.pos = k + 1
		return false, nil
	case '[':
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
			if r == utf8.RuneError && size == 1 {
				return sc.syntax(i, "invalid UTF-8")
			}
			if r == 0xFFFE || r == 0xFFFF {
				return sc.syntax(i, fmt.Sprintf("illegal character code %U", r))
			}
			i += size
		default:
			return sc.syntax(i, fmt.Sprintf("illegal character code %U", rune(c)))
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

// procInst reads a processing instruction (from "<?"), which is dropped. The
// XML declaration must come first; its version must be 1.0 and its
// encoding UTF-8, US-ASCII or ISO-8859-1 (the rest of the document is then
// converted).
func (sc *xmlScanner) procInst(atStart bool) error {
	b := sc.b
	sc.pos += 2
	start := sc.pos
	target, ok, err := sc.readName()
	if err != nil {
		return err
	}
	if !ok {
		return sc.syntax(start, "expected target name after <?")
	}
	sc.skipSpace()
	k := bytes.Index(b[sc.pos:], []byte("?>"))
	if k < 0 {
		return sc.eof()
	}
	content := b[sc.pos : sc.pos+k]
	sc.pos += k + 2
	if string(target) == "xml" {
		if v := declParam("version", content); v != "" && v != "1.0" {
			return fmt.Errorf("%w: %s", ErrInvalidXML, clipXML(fmt.Sprintf("xml: unsupported version %q; only version 1.0 is supported", v), 200))
		}
		if enc := declParam("encoding", content); enc != "" && !strings.EqualFold(enc, "utf-8") {
			latin1, err := xmlCharset(enc)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrInvalidXML, clipXML(fmt.Sprintf("xml: opening charset %q: %v", enc, err), 200))
			}
			if latin1 {
				sc.toUTF8()
			}
		}
	}
	if !atStart && strings.EqualFold(string(target), "xml") {
		return fmt.Errorf("%w: line %d: XML declaration not at the start of the document", ErrInvalidXML, sc.line(sc.pos))
	}
	return nil
}

// toUTF8 converts the rest of the document from ISO-8859-1.
func (sc *xmlScanner) toUTF8() {
	rest := sc.b[sc.pos:]
	sc.lines += bytes.Count(sc.b[:sc.pos], []byte{'\n'})
	out := sc.conv[:0]
	for _, c := range rest {
		if c < utf8.RuneSelf {
			out = append(out, c)
		} else {
			out = append(out, 0xC0|c>>6, 0x80|c&0x3F)
		}
	}
	sc.conv = out
	sc.b, sc.pos = out, 0
}

// declParam finds param="value" or param='value' in the XML declaration's
// content the way encoding/xml does: the first occurrence of param= that is
// followed by a quote, up to the next such quote. "" when there is none.
func declParam(param string, s []byte) string {
	for i := 0; i < len(s); {
		k := bytes.Index(s[i:], []byte(param))
		if k < 0 {
			return ""
		}
		at := i + k + len(param) // just past param
		if at+1 >= len(s) {
			return ""
		}
		if s[at] != '=' {
			i = i + k + 1
			continue
		}
		if q := s[at+1]; q == '"' || q == '\'' {
			e := bytes.IndexByte(s[at+2:], q)
			if e < 0 {
				return ""
			}
			return string(s[at+2 : at+2+e])
		}
		i = at + 2
	}
	return ""
}

// xmlCharset tells which of the encodings XMLToJSON reads label names:
// UTF-8 or US-ASCII (read as UTF-8), or ISO-8859-1 (latin1).
func xmlCharset(label string) (latin1 bool, err error) {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return false, nil
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819", "ibm819", "iso-ir-100", "csisolatin1":
		return true, nil
	}
	return false, fmt.Errorf("unsupported encoding %q (UTF-8, US-ASCII and ISO-8859-1 are)", label)
}

package transform

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// xmlToJSONStd is XMLToJSON as it was before xmlscan.go: the same tree
// building, on encoding/xml's RawToken (Strict, reading UTF-8 and US-ASCII),
// without the well-formedness checks encoding/xml does not make.
// FuzzXMLScanner holds the two against each other.
func (c *XMLCodec) xmlToJSONStd(dst, b []byte) ([]byte, error) {
	if limit := c.maxBytes; limit > 0 && len(b) > limit || len(b) > maxXMLInput {
		if limit <= 0 {
			limit = maxXMLInput
		}
		return dst, fmt.Errorf("%w: %d bytes, the limit is %d", ErrXMLTooLarge, len(b), limit)
	}
	st := new(xmlState)
	st.c = c
	out, err := st.decodeStd(dst, b)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func (st *xmlState) decodeStd(dst, b []byte) ([]byte, error) {
	b = st.begin(b)
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.CharsetReader = xmlCharsetReader
	errAt := func(format string, args ...any) error {
		line, _ := d.InputPos()
		return fmt.Errorf("%w: line %d: %s", ErrInvalidXML, line, fmt.Sprintf(format, args...))
	}
	line := func() int { l, _ := d.InputPos(); return l }
	for {
		before := d.InputOffset()
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return dst, fmt.Errorf("%w: line %d: %s", ErrInvalidXML, se.Line, clipXML(se.Msg, 200))
			}
			return dst, fmt.Errorf("%w: %s", ErrInvalidXML, clipXML(err.Error(), 200))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := stdName(t.Name)
			attrs := make([]xmlAttr, len(t.Attr))
			for i, a := range t.Attr {
				attrs[i] = xmlAttr{name: stdName(a.Name), val: []byte(a.Value)}
			}
			if err := st.checkStart(name, attrs, line()); err != nil {
				return dst, err
			}
			st.start(name, attrs)
		case xml.EndElement:
			if err := st.checkEnd(stdName(t.Name).raw, line()); err != nil {
				return dst, err
			}
			st.end()
		case xml.CharData:
			if len(st.frames) == 1 {
				if !isXMLSpace(t) {
					return dst, errAt("text outside the root element")
				}
				continue
			}
			st.arena = append(st.arena, t...)
		case xml.Directive:
			return dst, ErrDTD
		case xml.ProcInst:
			if strings.EqualFold(t.Target, "xml") && before != 0 {
				return dst, errAt("XML declaration not at the start of the document")
			}
		case xml.Comment:
		}
	}
	return st.finish(dst, line())
}

func stdName(n xml.Name) xmlQName {
	if n.Space == "" {
		return xmlQName{raw: []byte(n.Local), colon: -1}
	}
	return xmlQName{raw: []byte(n.Space + ":" + n.Local), colon: len(n.Space)}
}

// xmlCharsetReader lets documents declare US-ASCII besides UTF-8, as
// XMLToJSON does.
func xmlCharsetReader(label string, r io.Reader) (io.Reader, error) {
	if strings.EqualFold(label, "us-ascii") {
		return r, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", label)
}

// nonASCIINameOnly reports whether the encoding/xml error err is about a
// name that xmlscan.go accepts on purpose: one holding characters >= U+0080
// that the XML 1.0 fifth edition allows and encoding/xml's fourth-edition
// tables leave out.
func nonASCIINameOnly(err error) bool {
	const p = "invalid XML name: "
	msg := err.Error()
	i := strings.Index(msg, p)
	if i < 0 {
		return false
	}
	name := []byte(msg[i+len(p):])
	if len(name) == 0 || !utf8.Valid(name) || !validName(name) {
		return false
	}
	ascii := true
	for _, c := range name {
		if c >= utf8.RuneSelf {
			ascii = false
		} else if xmlClass[c]&xcName == 0 {
			return false
		}
	}
	if c := name[0]; c < utf8.RuneSelf && xmlClass[c]&xcNameStart == 0 {
		return false
	}
	return !ascii
}

var xmlScanCases = []string{
	``, ` `, `<`, `<a`, `<a/>`, `<a>`, `</a>`, `<a></a >`, `<a></a`, `<a x="1"y='2'/>`, `<a x = "1" />`, `<a x=1/>`,
	`<a x="1" x="1"/>`, `<a x="<"/>`, `<a x="]]>"/>`, `<a>]]></a>`, `<a>]]</a>`, `<a>]]&gt;</a>`, `<a>]</a>`,
	"<a>\r\n\r\r</a>", "<a x=\"\r\n\t\n\"/>", "<a>&#13;\n</a>", `<a>&#0;</a>`, `<a>&#xD800;</a>`, `<a>&#x10FFFF;</a>`,
	`<a>&#x110000;</a>`, `<a>&#xFFFE;</a>`, `<a>&#99999999999999999999999;</a>`, `<a>&#000065;</a>`, `<a>&#X41;</a>`,
	`<a>&#;</a>`, `<a>&#x;</a>`, `<a>&lt</a>`, `<a>&;</a>`, `<a>&LT;</a>`, `<a>&amp;&apos;&quot;</a>`, `<a>&`, `<a>&#`,
	`<a>&#x`, `<a>&#x4`, `<a>&l`, `<a x="&amp;"/>`, `<a x="&bad;"/>`, `<a x='"'/>`, `<a x="'"/>`,
	`<!-- x --><a/>`, `<!---><a/>`, `<!----><a/>`, `<!-- -- --><a/>`, `<!-x><a/>`, `<!-`, `<a><!-- a --->`, `<a><!--`,
	`<a><![CDATA[x]]></a>`, `<a><![CDATA[]]]]></a>`, `<a><![CDATA[x`, `<a><![CDAT[x]]></a>`, `<a><![CDATA[` + "\r\n\x01" + `]]></a>`,
	`<![CDATA[ ]]><a/>`, `<a/><![CDATA[]]>`, `<!DOCTYPE a><a/>`, `<a><!x></a>`, `<!`,
	`<?xml version="1.0"?><a/>`, `<?xml version="1.1"?><a/>`, `<?xml version='1.0' encoding='latin1'?><a>` + "\xe9\x85</a>",
	`<?xml encoding="ascii"?><a/>`, `<?xml encoding="EBCDIC"?><a/>`, `<?XML version="2"?><a/>`, ` <?xml?><a/>`, `<a/><?xml?>`,
	`<??><a/>`, `<?a?><a/>`, `<?a`, `<?a b`, `<?1?><a/>`, `<?x:y:z?><a/>`, `<?xml-stylesheet href="x"?><a/>`,
	`<a:b:c/>`, `<:a/>`, `<a:/>`, `<:/>`, `<a :x="1"/>`, `<p:a xmlns:p="u"></p:a>`, `<p:a></q:a>`, `<1a/>`, `<-a/>`, `<.a/>`,
	`<_a.b-c/>`, "<\xc3\xa9/>", "<a\xff/>", "<\xe2\x82\xac/>", "<a\xef\xbf\xbe/>", "<a>\xff</a>", "<a>\xef\xbf\xbf</a>",
	"<a>\x7f\x00</a>", `<a/><b/>`, `<a/>x`, `x<a/>`, `<a>x</a> `, `<a/ >`, `<a /x>`, `<a></a><a>`, `<a b="1" b="1" c="1" d="2"/>`,
	`<a xmlns="u" xmlns:p="v" p:x="1" x="2"/>`, `<a xmlns:="u"/>`, `<a><b>1</b><b>2</b>t<c/></a>`, `<a x="1">t</a>`,
	"\xef\xbb\xbf<a/>", "\xef\xbb\xbf\xef\xbb\xbf<a/>", `<a>&#x1F600;</a>`, "<a>\xed\xa0\x80</a>", "<a>\xf4\x90\x80\x80</a>",
	`<?xml version="1.0" encoding="ISO-8859-1"?>` + "\n<a\xe9 b\xe9='\xff'>\xe9</a\xe9>",
	`<?xml versionx="2" version="1.0"?><a/>`, `<?xml version=1 version="1.1"?><a/>`, `<?xml version="?><a/>`,
}

func TestXMLScannerMatchesStd(t *testing.T) {
	codecs, _ := xmlFuzzCodecs(t)
	for _, in := range xmlScanCases {
		for _, c := range codecs {
			checkScanner(t, c, []byte(in))
		}
	}
}

// checkScanner holds XMLToJSON against encoding/xml where encoding/xml
// accepts a document: encoding/xml accepts much that is not well-formed
// (text outside the root, missing spaces between attributes, unbound
// prefixes, ...), so a refusal by XMLToJSON alone is fine, as long as it is
// a documented error with a short message. Where both accept, the JSON must
// be the same; where only XMLToJSON accepts, the difference must be a
// deliberate one (deliberate).
func checkScanner(t *testing.T, c *XMLCodec, data []byte) {
	t.Helper()
	got, err := c.XMLToJSON(nil, data)
	want, errStd := c.xmlToJSONStd(nil, data)
	switch {
	case err == nil && errStd == nil:
		if !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, encoding/xml %s", data, got, want)
		}
	case err != nil:
		if !documented(err) {
			t.Fatalf("%q: undocumented error %v", data, err)
		}
		if msg := err.Error(); len(msg) > 400 || !utf8.ValidString(msg) {
			t.Fatalf("%q: error of %d bytes: %.400q", data, len(msg), msg)
		}
	case !deliberate(errStd):
		t.Fatalf("%q: got %s; encoding/xml refuses it: %v", data, got, errStd)
	}
}

// deliberate reports whether encoding/xml's error is about something
// XMLToJSON accepts on purpose: names with characters of the fifth
// edition's tables, and XML versions 1.x other than 1.0, read as 1.0.
func deliberate(errStd error) bool {
	return nonASCIINameOnly(errStd) || strings.Contains(errStd.Error(), "unsupported version")
}

// documented reports whether err is one of the errors XMLToJSON documents.
func documented(err error) bool {
	for _, k := range []error{ErrDTD, ErrTooDeep, ErrXMLTooLarge, ErrInvalidXML} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// FuzzXMLScanner: XMLToJSON on xmlscan.go and on encoding/xml agree where
// encoding/xml accepts the input (see checkScanner). The not-well-formed
// corpus seeds it.
func FuzzXMLScanner(f *testing.F) {
	codecs, _ := xmlFuzzCodecs(f)
	addXMLSeeds(f, "decode/*.xml", func(b []byte) {
		f.Add(b, uint8(0))
	})
	addXMLSeeds(f, "notwf/*.xml", func(b []byte) {
		f.Add(b, uint8(2))
	})
	for _, s := range xmlScanCases {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, pick uint8) {
		checkScanner(t, codecs[int(pick)%len(codecs)], data)
	})
}

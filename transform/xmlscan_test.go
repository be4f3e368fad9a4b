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
// building, on encoding/xml's RawToken (Strict, with the same charset
// handling). FuzzXMLScanner holds the two against each other.
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

// xmlCharsetReader lets documents declare US-ASCII or ISO-8859-1 besides
// UTF-8.
func xmlCharsetReader(label string, r io.Reader) (io.Reader, error) {
	latin1, err := xmlCharset(label)
	if err != nil {
		return nil, err
	}
	if latin1 {
		return &latin1Reader{r: r}, nil
	}
	return r, nil
}

// latin1Reader converts ISO-8859-1 to UTF-8.
type latin1Reader struct {
	r   io.Reader
	buf [512]byte
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	if len(p) < 2 {
		return 0, io.ErrShortBuffer
	}
	in := l.buf[:min(len(p)/2, len(l.buf))]
	n, err := l.r.Read(in)
	w := 0
	for _, c := range in[:n] {
		if c < utf8.RuneSelf {
			p[w] = c
			w++
		} else {
			w += utf8.EncodeRune(p[w:], rune(c))
		}
	}
	return w, err
}

// nonASCIINameOnly reports whether the encoding/xml error err is about a
// name that xmlscan.go accepts on purpose: one holding characters >= U+0080
// that the XML 1.0 fourth-edition tables leave out (see xmlscan.go).
func nonASCIINameOnly(err error) bool {
	const p = "invalid XML name: "
	msg := err.Error()
	i := strings.Index(msg, p)
	if i < 0 {
		return false
	}
	name := []byte(msg[i+len(p):])
	if len(name) == 0 || !utf8.Valid(name) || !validNameUTF8(name) {
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

func checkScanner(t *testing.T, c *XMLCodec, data []byte) {
	t.Helper()
	got, err := c.XMLToJSON(nil, data)
	want, errStd := c.xmlToJSONStd(nil, data)
	switch {
	case err == nil && errStd == nil:
		if !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, encoding/xml %s", data, got, want)
		}
	case err != nil && errStd != nil:
		// Both refuse; the error kinds may differ only for declarations
		// (ErrDTD at once, where encoding/xml first read them whole).
		if !errors.Is(err, ErrDTD) && kindOf(err) != kindOf(errStd) {
			t.Fatalf("%q: error %v, encoding/xml %v", data, err, errStd)
		}
	case err == nil && nonASCIINameOnly(errStd):
		// Deliberate: any non-ASCII character may be in a name.
	default:
		t.Fatalf("%q: got %s, %v; encoding/xml %s, %v", data, got, err, want, errStd)
	}
}

func kindOf(err error) error {
	for _, k := range []error{ErrDTD, ErrTooDeep, ErrXMLTooLarge, ErrInvalidXML} {
		if errors.Is(err, k) {
			return k
		}
	}
	return err
}

// FuzzXMLScanner: XMLToJSON on xmlscan.go and on encoding/xml agree on every
// input: both fail, or both give the same JSON.
func FuzzXMLScanner(f *testing.F) {
	codecs, _ := xmlFuzzCodecs(f)
	addXMLSeeds(f, "decode/*.xml", func(b []byte) {
		f.Add(b, uint8(0))
	})
	for _, s := range xmlScanCases {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, pick uint8) {
		checkScanner(t, codecs[int(pick)%len(codecs)], data)
	})
}

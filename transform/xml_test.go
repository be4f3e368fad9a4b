package transform

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// -update rewrites the golden files under testdata/xml. Other tests of this
// binary may define the same flag; they then share it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func xmlUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const xmlTestdata = "../testdata/xml"

// xmlCaseOpts is a case's NAME.opts.json: the spec's `xml` keys plus, for
// encode cases, the root name and whether JSON -> XML -> JSON must give the
// input back.
type xmlCaseOpts struct {
	Lists      []string `json:"lists"`
	Cast       bool     `json:"cast"`
	AttrPrefix string   `json:"attr_prefix"`
	TextKey    string   `json:"text_key"`
	Namespaces string   `json:"namespaces"`
	Root       *string  `json:"root"`
	Lossless   bool     `json:"lossless"`
}

func (o xmlCaseOpts) options() XMLOptions {
	return XMLOptions{Lists: o.Lists, Cast: o.Cast, AttrPrefix: o.AttrPrefix, TextKey: o.TextKey, Namespaces: o.Namespaces}
}

func readXMLCaseOpts(t *testing.T, base string) xmlCaseOpts {
	t.Helper()
	var o xmlCaseOpts
	b, err := os.ReadFile(base + ".opts.json")
	if errors.Is(err, os.ErrNotExist) {
		return o
	}
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		t.Fatalf("%s.opts.json: %v", base, err)
	}
	return o
}

func mustXMLCodec(t testing.TB, o XMLOptions) *XMLCodec {
	t.Helper()
	c, err := NewXMLCodec(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// xmlGolden compares got with the golden file, or rewrites it with -update.
func xmlGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if xmlUpdating() {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func indentJSON(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// readAllXML reads b with encoding/xml's namespace-aware Token to EOF.
func readAllXML(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func decodeAny(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return v
}

// TestXMLDecodeGolden converts every testdata/xml/decode/NAME.xml with the
// options of NAME.opts.json and compares the JSON with NAME.json; it then
// writes that JSON back as XML (NAME.out.xml) and checks that reading it
// again gives the same JSON, byte for byte.
func TestXMLDecodeGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(xmlTestdata, "decode", "*.xml"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".out.xml") {
			continue
		}
		n++
		base := strings.TrimSuffix(f, ".xml")
		t.Run(filepath.Base(base), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c := mustXMLCodec(t, readXMLCaseOpts(t, base).options())
			out, err := c.XMLToJSON(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(out) {
				t.Fatalf("invalid JSON: %s", out)
			}
			xmlGolden(t, base+".json", indentJSON(t, out))

			x, err := c.JSONToXML(nil, RawJSON(out), "")
			if err != nil {
				t.Fatal(err)
			}
			if err := readAllXML(x); err != nil {
				t.Fatalf("encoding/xml cannot read %s: %v", x, err)
			}
			xmlGolden(t, base+".out.xml", append(x, '\n'))
			again, err := c.XMLToJSON(nil, x)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, out) {
				t.Errorf("XML -> JSON -> XML -> JSON changed the JSON\n got %s\nwant %s", again, out)
			}
		})
	}
	if n < 20 {
		t.Errorf("only %d decode cases found", n)
	}
}

// TestXMLEncodeGolden converts every testdata/xml/encode/NAME.json with the
// options (and root) of NAME.opts.json, compares the XML with NAME.xml and
// the XML read back with NAME.back.json. Cases marked lossless must give
// the input back (as {root: input}).
func TestXMLEncodeGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(xmlTestdata, "encode", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".opts.json") || strings.HasSuffix(f, ".back.json") {
			continue
		}
		n++
		base := strings.TrimSuffix(f, ".json")
		t.Run(filepath.Base(base), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			o := readXMLCaseOpts(t, base)
			root := "root"
			if o.Root != nil {
				root = *o.Root
			}
			c := mustXMLCodec(t, o.options())
			x, err := c.JSONToXML(nil, RawJSON(in), root)
			if err != nil {
				t.Fatal(err)
			}
			if err := readAllXML(x); err != nil {
				t.Fatalf("encoding/xml cannot read %s: %v", x, err)
			}
			xmlGolden(t, base+".xml", append(x, '\n'))

			back, err := c.XMLToJSON(nil, x)
			if err != nil {
				t.Fatal(err)
			}
			xmlGolden(t, base+".back.json", indentJSON(t, back))
			if o.Lossless {
				want := decodeAny(t, in)
				if root != "" {
					want = map[string]any{root: want}
				}
				if got := decodeAny(t, back); !reflect.DeepEqual(got, want) {
					t.Errorf("JSON -> XML -> JSON is not lossless\n got %s\nwant %s", back, in)
				}
			}

			if !o.Lossless {
				return
			}
			// The same value as Go data (keys sorted) reads back the same.
			xv, err := c.JSONToXML(nil, decodeAny(t, in), root)
			if err != nil {
				t.Fatal(err)
			}
			backv, err := c.XMLToJSON(nil, xv)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(decodeAny(t, backv), decodeAny(t, back)) {
				t.Errorf("Go value and raw JSON differ\n got %s\nwant %s", backv, back)
			}
		})
	}
	if n < 10 {
		t.Errorf("only %d encode cases found", n)
	}
}

func TestXMLToJSONConventions(t *testing.T) {
	cases := []struct {
		name string
		opts XMLOptions
		in   string
		want string
	}{
		{"leaf", XMLOptions{}, `<a>x</a>`, `{"a":"x"}`},
		{"empty self-closing", XMLOptions{}, `<a/>`, `{"a":""}`},
		{"empty pair", XMLOptions{}, `<a></a>`, `{"a":""}`},
		{"one child", XMLOptions{}, `<a><b>1</b></a>`, `{"a":{"b":"1"}}`},
		{"two children", XMLOptions{}, `<a><b>1</b><b>2</b></a>`, `{"a":{"b":["1","2"]}}`},
		{"repeated apart keeps first position", XMLOptions{}, `<a><b>1</b><c/><b>2</b></a>`, `{"a":{"b":["1","2"],"c":""}}`},
		{"document order, not sorted", XMLOptions{}, `<a><z/><m/><b/></a>`, `{"a":{"z":"","m":"","b":""}}`},
		{"lists one", XMLOptions{Lists: []string{"a.b"}}, `<a><b>1</b></a>`, `{"a":{"b":["1"]}}`},
		{"lists root", XMLOptions{Lists: []string{"a"}}, `<a/>`, `{"a":[""]}`},
		{"lists absent", XMLOptions{Lists: []string{"a.b"}}, `<a><c/></a>`, `{"a":{"c":""}}`},
		{"lists other path", XMLOptions{Lists: []string{"a.b"}}, `<a><c><b/></c></a>`, `{"a":{"c":{"b":""}}}`},
		{"lists with prefix stripped", XMLOptions{Lists: []string{"E.B"}}, `<s:E xmlns:s="u"><s:B/></s:E>`, `{"E":{"B":[""]}}`},
		{"lists with prefix kept", XMLOptions{Lists: []string{"s:E.s:B"}, Namespaces: "keep"}, `<s:E xmlns:s="u"><s:B/></s:E>`, `{"s:E":{"@xmlns:s":"u","s:B":[""]}}`},
		{"attributes then text", XMLOptions{}, `<a x="1">t</a>`, `{"a":{"@x":"1","#text":"t"}}`},
		{"attributes, no text", XMLOptions{}, `<a x="1"/>`, `{"a":{"@x":"1"}}`},
		{"attribute whitespace text kept", XMLOptions{}, `<a x="1"> </a>`, `{"a":{"@x":"1","#text":" "}}`},
		{"leaf whitespace kept", XMLOptions{}, "<a> x\n</a>", `{"a":" x\n"}`},
		{"pretty whitespace dropped", XMLOptions{}, "<a>\n  <b>1</b>\n</a>", `{"a":{"b":"1"}}`},
		{"mixed", XMLOptions{}, `<p> Hello <b>big</b> world </p>`, `{"p":{"#text":"Hello world","b":"big"}}`},
		{"mixed text after child", XMLOptions{}, `<p><b>big</b> world</p>`, `{"p":{"b":"big","#text":"world"}}`},
		{"cdata", XMLOptions{}, `<a><![CDATA[<x>&]]></a>`, `{"a":"\u003cx\u003e\u0026"}`},
		{"cdata and text join", XMLOptions{}, `<a>1<![CDATA[2]]>3</a>`, `{"a":"123"}`},
		{"comment splits nothing", XMLOptions{}, `<a>1<!-- c -->2</a>`, `{"a":"12"}`},
		{"processing instruction dropped", XMLOptions{}, `<a><?pi x?>1</a>`, `{"a":"1"}`},
		{"entities", XMLOptions{}, `<a>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;</a>`, `{"a":"\u003c\u003e\u0026\"'AB"}`},
		{"crlf normalized", XMLOptions{}, "<a>1\r\n2\r3</a>", `{"a":"1\n2\n3"}`},
		{"char ref CR kept", XMLOptions{}, "<a>1&#xD;2</a>", `{"a":"1\r2"}`},
		{"strip prefix", XMLOptions{}, `<p:a xmlns:p="u" p:x="1" y="2"/>`, `{"a":{"@x":"1","@y":"2"}}`},
		{"keep prefix", XMLOptions{Namespaces: "keep"}, `<p:a xmlns:p="u" xmlns="d" p:x="1"/>`, `{"p:a":{"@xmlns:p":"u","@xmlns":"d","@p:x":"1"}}`},
		{"strip collision elements", XMLOptions{}, `<r xmlns:a="a" xmlns:b="b"><a:i>1</a:i><b:i>2</b:i></r>`, `{"r":{"i":["1","2"]}}`},
		{"strip collision attributes first wins", XMLOptions{}, `<r xmlns:a="a" xmlns:b="b" a:i="1" b:i="2"/>`, `{"r":{"@i":"1"}}`},
		{"attribute and element same key", XMLOptions{}, `<r i="1"><_x0040_i>2</_x0040_i></r>`, `{"r":{"@i":["1","2"]}}`},
		{"element reading as attribute stays a list", XMLOptions{}, `<r><_x0040_i>2</_x0040_i></r>`, `{"r":{"@i":["2"]}}`},
		{"element reading as attribute, object value", XMLOptions{}, `<r><_x0040_i><v/></_x0040_i></r>`, `{"r":{"@i":{"v":""}}}`},
		{"element reading as text stays a list", XMLOptions{}, `<r><_x0023_text>t</_x0023_text></r>`, `{"r":{"#text":["t"]}}`},
		{"escaped names decoded", XMLOptions{}, `<a_x0020_b _x0031_="1"/>`, `{"a b":{"@1":"1"}}`},
		{"empty name", XMLOptions{}, `<_x_/>`, `{"":""}`},
		{"invalid escape kept", XMLOptions{}, `<_xD800_/>`, `{"_xD800_":""}`},
		{"custom keys", XMLOptions{AttrPrefix: "-", TextKey: "_"}, `<a x="1">t</a>`, `{"a":{"-x":"1","_":"t"}}`},
		{"cast", XMLOptions{Cast: true}, `<a n="1"><b>2.5</b><c>true</c><d>007</d><e></e></a>`, `{"a":{"@n":1,"b":2.5,"c":true,"d":"007","e":""}}`},
		{"cast text key", XMLOptions{Cast: true}, `<a c="EUR">10.5</a>`, `{"a":{"@c":"EUR","#text":10.5}}`},
		{"bom", XMLOptions{}, "\xEF\xBB\xBF<a/>", `{"a":""}`},
		{"declaration", XMLOptions{}, `<?xml version="1.0" encoding="utf-8" standalone="yes"?><a/>`, `{"a":""}`},
		{"us-ascii", XMLOptions{}, `<?xml version="1.0" encoding="US-ASCII"?><a>x</a>`, `{"a":"x"}`},
		{"line separator escaped", XMLOptions{}, "<a>\u2028</a>", `{"a":"\u2028"}`},
		{"many keys use the index", XMLOptions{}, manyKeysXML(40), manyKeysJSON(40)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustXMLCodec(t, tc.opts)
			got, err := c.XMLToJSON(nil, []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func manyKeysXML(n int) string {
	var b strings.Builder
	b.WriteString("<r>")
	for i := range n {
		fmt.Fprintf(&b, "<k%d>%d</k%d>", i, i, i)
	}
	for i := range n {
		fmt.Fprintf(&b, "<k%d>again</k%d>", i, i)
	}
	b.WriteString("</r>")
	return b.String()
}

func manyKeysJSON(n int) string {
	var b strings.Builder
	b.WriteString(`{"r":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":["%d","again"]`, i, i)
	}
	b.WriteString("}}")
	return b.String()
}

func TestXMLCast(t *testing.T) {
	c := mustXMLCodec(t, XMLOptions{Cast: true})
	cases := map[string]string{
		"0": "0", "28": "28", "-3": "-3", "10.5": "10.5", "0.001": "0.001", "100000000": "100000000",
		"123456789012345": "123456789012345", "9007199254740992": "9007199254740992",
		"100000000000000000000": "100000000000000000000", "0.1": "0.1", "-0.5": "-0.5",
		"true": "true", "false": "false",
		// Kept as strings:
		"01234": `"01234"`, "007": `"007"`, "+1": `"+1"`, "1e5": `"1e5"`, "1E5": `"1E5"`, "1.50": `"1.50"`,
		"1.0": `"1.0"`, ".5": `".5"`, "5.": `"5."`, "-0": `"-0"`, "0.0": `"0.0"`, " 3": `" 3"`, "3 ": `"3 "`,
		"NaN": `"NaN"`, "Infinity": `"Infinity"`, "0x1F": `"0x1F"`, "True": `"True"`, "TRUE": `"TRUE"`,
		"1_000": `"1_000"`, "12345678901234567890": `"12345678901234567890"`,
		"9007199254740993": `"9007199254740993"`, "1e400": `"1e400"`, "-": `"-"`, "": `""`,
		"0.30000000000000001": `"0.30000000000000001"`, "١٢": `"١٢"`,
	}
	for text, want := range cases {
		got, err := c.XMLToJSON(nil, []byte("<a>"+text+"</a>"))
		if err != nil {
			t.Fatal(err)
		}
		if w := `{"a":` + want + `}`; string(got) != w {
			t.Errorf("%q: got %s, want %s", text, got, w)
		}
		// What is cast is written back digit for digit.
		if want[0] != '"' {
			x, err := c.JSONToXML(nil, RawJSON(got), "")
			if err != nil {
				t.Fatal(err)
			}
			if w := "<a>" + text + "</a>"; string(x) != w {
				t.Errorf("%q: written back as %s, want %s", text, x, w)
			}
		}
	}
}

func TestXMLToJSONErrors(t *testing.T) {
	deep := strings.Repeat("<a>", 65) + strings.Repeat("</a>", 65)
	cases := []struct {
		name string
		opts XMLOptions
		in   string
		want error
		msg  string
	}{
		{"empty", XMLOptions{}, ``, ErrInvalidXML, "no root element"},
		{"whitespace", XMLOptions{}, " \n", ErrInvalidXML, "no root element"},
		{"only a comment", XMLOptions{}, "<!-- x -->", ErrInvalidXML, "no root element"},
		{"text", XMLOptions{}, `hello`, ErrInvalidXML, "text outside the root element"},
		{"text after root", XMLOptions{}, `<a/>x`, ErrInvalidXML, "text outside the root element"},
		{"cdata outside root", XMLOptions{}, `<a/><![CDATA[x]]>`, ErrInvalidXML, "a CDATA section outside the root element"},
		{"two roots", XMLOptions{}, `<a/><b/>`, ErrInvalidXML, "second root element <b>"},
		{"truncated start", XMLOptions{}, `<a`, ErrInvalidXML, "unexpected EOF"},
		{"truncated element", XMLOptions{}, `<a><b>x</b>`, ErrInvalidXML, "<a> is not closed"},
		{"truncated text", XMLOptions{}, `<a>text`, ErrInvalidXML, "<a> is not closed"},
		{"truncated attribute", XMLOptions{}, `<a x="1`, ErrInvalidXML, ""},
		{"truncated end tag", XMLOptions{}, `<a></a`, ErrInvalidXML, ""},
		{"truncated cdata", XMLOptions{}, `<a><![CDATA[x`, ErrInvalidXML, ""},
		{"mismatched", XMLOptions{}, `<a></b>`, ErrInvalidXML, "<a> closed by </b>"},
		{"mismatched prefix", XMLOptions{}, `<p:a xmlns:p="u"></q:a>`, ErrInvalidXML, "<p:a> closed by </q:a>"},
		{"stray end tag", XMLOptions{}, `</a>`, ErrInvalidXML, "unexpected end tag"},
		{"undefined entity", XMLOptions{}, `<a>&lol;</a>`, ErrInvalidXML, "invalid character entity &lol;"},
		{"html entity", XMLOptions{}, `<a>&nbsp;</a>`, ErrInvalidXML, "entity"},
		{"NUL char ref", XMLOptions{}, `<a>&#0;</a>`, ErrInvalidXML, "&#0; names U+0000, which is not an XML character"},
		{"control char", XMLOptions{}, "<a>\x01</a>", ErrInvalidXML, "illegal character"},
		{"invalid UTF-8 text", XMLOptions{}, "<a>\xff</a>", ErrInvalidXML, "invalid UTF-8"},
		{"invalid UTF-8 name", XMLOptions{}, "<a\xff/>", ErrInvalidXML, ""},
		{"invalid UTF-8 attribute", XMLOptions{}, "<a x=\"\xc3\"/>", ErrInvalidXML, "invalid UTF-8"},
		{"UTF-16", XMLOptions{}, "\xff\xfe<\x00a\x00/\x00>\x00", ErrInvalidXML, ""},
		{"unsupported encoding", XMLOptions{}, `<?xml version="1.0" encoding="EBCDIC"?><a/>`, ErrInvalidXML, "EBCDIC"},
		{"late declaration", XMLOptions{}, `<a/><?xml version="1.0"?>`, ErrInvalidXML, "the XML declaration must come first"},
		{"declaration after space", XMLOptions{}, ` <?xml version="1.0"?><a/>`, ErrInvalidXML, "the XML declaration must come first"},
		{"duplicate attribute", XMLOptions{}, `<a x="1" x="2"/>`, ErrInvalidXML, "attribute x repeated"},
		{"two colons", XMLOptions{}, `<a:b:c/>`, ErrInvalidXML, ""},
		{"unquoted attribute", XMLOptions{}, `<a x=1/>`, ErrInvalidXML, ""},
		{"doctype", XMLOptions{}, `<!DOCTYPE a><a/>`, ErrDTD, ""},
		{"doctype after root", XMLOptions{}, `<a><!DOCTYPE a></a>`, ErrDTD, ""},
		{"entity declaration", XMLOptions{}, `<!ENTITY x "y"><a/>`, ErrDTD, ""},
		{"billion laughs", XMLOptions{}, billionLaughs, ErrDTD, ""},
		{"xxe", XMLOptions{}, `<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>`, ErrDTD, ""},
		{"xxe parameter entity", XMLOptions{}, `<!DOCTYPE foo [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]><foo/>`, ErrDTD, ""},
		{"too deep", XMLOptions{}, deep, ErrTooDeep, "more than 64 levels"},
		{"too deep, lower limit", XMLOptions{MaxDepth: 2}, `<a><b><c/></b></a>`, ErrTooDeep, "more than 2 levels"},
		{"too large", XMLOptions{MaxBytes: 10}, `<a>0123456789</a>`, ErrXMLTooLarge, "17 bytes, the limit is 10"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustXMLCodec(t, tc.opts)
			dst := []byte("keep")
			got, err := c.XMLToJSON(dst, []byte(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v (%s), want %v", err, got, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
			if string(got) != "keep" {
				t.Errorf("dst changed to %q", got)
			}
		})
	}
	// The limits are inclusive.
	ok := []struct {
		opts XMLOptions
		in   string
	}{
		{XMLOptions{}, strings.Repeat("<a>", 64) + strings.Repeat("</a>", 64)},
		{XMLOptions{MaxDepth: 2}, `<a><b/></a>`},
		{XMLOptions{MaxBytes: 17}, `<a>0123456789</a>`},
	}
	for _, tc := range ok {
		if _, err := mustXMLCodec(t, tc.opts).XMLToJSON(nil, []byte(tc.in)); err != nil {
			t.Errorf("%.40s: %v", tc.in, err)
		}
	}
}

const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<lolz>&lol9;</lolz>`

// TestXMLHostile feeds documents built to exhaust a naive converter and
// checks that each is refused (or converted) quickly.
func TestXMLHostile(t *testing.T) {
	c := mustXMLCodec(t, XMLOptions{MaxDepth: MaxXMLDepth})
	def := mustXMLCodec(t, XMLOptions{})
	cases := []struct {
		name string
		c    *XMLCodec
		in   []byte
		want error
	}{
		{"100000 deep", def, []byte(strings.Repeat("<a>", 100000) + strings.Repeat("</a>", 100000)), ErrTooDeep},
		{"100000 deep, self-closing inside", def, []byte(strings.Repeat("<a>", 100000) + "<b/>"), ErrTooDeep},
		{"100000 deep at the ceiling", c, []byte(strings.Repeat("<a>", 100000)), ErrTooDeep},
		{"100000 unclosed at the ceiling minus one", c, []byte(strings.Repeat("<a>", MaxXMLDepth)), ErrInvalidXML},
		{"1e5 distinct siblings", def, []byte("<r>" + manyDistinct(100000) + "</r>"), nil},
		{"1e5 attributes", def, []byte("<r " + manyAttrs(100000) + "/>"), nil},
		{"1e5 duplicate attributes", def, []byte("<r " + strings.Repeat(`a="1" `, 100000) + "/>"), ErrInvalidXML},
		{"1 MB of text", def, []byte("<r>" + strings.Repeat("&lt;", 250000) + "</r>"), nil},
		{"5e4 prefixes declared and used in one tag", def, []byte("<r " + manyPrefixes(50000) + "/>"), nil},
		{"5e4 prefixes declared, then used by 5e4 children", def, []byte("<r " + manyPrefixes(50000) + ">" + strings.Repeat("<p49999:e p0:a='1'/>", 50000) + "</r>"), nil},
		{"1e5 elements declaring a prefix each", def, []byte("<r>" + strings.Repeat(`<p:e xmlns:p="u" p:a="1"/>`, 100000) + "</r>"), nil},
		{"5e4 prefixed attributes, the last a duplicate", def, []byte("<r xmlns:p='u' xmlns:q='u' " + manyAttrsOf("p", 50000) + " q:a0='x'/>"), ErrInvalidXML},
		{"deep mixed content", c, []byte(strings.Repeat("<a>x", 5000) + strings.Repeat("y</a>", 5000)), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			out, err := tc.c.XMLToJSON(nil, tc.in)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err == nil && !json.Valid(out) {
				t.Fatal("invalid JSON")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestJSONToXMLKeepNamespaces: with "keep", prefixes are written only
// where the XML stays namespace-well-formed, and every key reads back.
func TestJSONToXMLKeepNamespaces(t *testing.T) {
	c := mustXMLCodec(t, XMLOptions{Namespaces: "keep"})
	cases := []struct {
		name string
		in   string
		want string
	}{
		{"declared on the element", `{"p:a":{"@xmlns:p":"u","@p:x":"1"}}`, `<r><p:a xmlns:p="u" p:x="1"/></r>`},
		{"declared after its use", `{"p:a":{"@p:x":"1","@xmlns:p":"u"}}`, `<r><p:a p:x="1" xmlns:p="u"/></r>`},
		{"declared on an ancestor", `{"@xmlns:p":"u","p:a":{"p:b":"1"}}`, `<r xmlns:p="u"><p:a><p:b>1</p:b></p:a></r>`},
		{"undeclared", `{"p:a":{"@p:x":"1"}}`, `<r><p_x003A_a p_x003A_x="1"/></r>`},
		{"out of scope", `{"a":{"@xmlns:p":"u"},"p:b":"1"}`, `<r><a xmlns:p="u"/><p_x003A_b>1</p_x003A_b></r>`},
		{"array items declare for themselves", `{"p:i":[{"@xmlns:p":"u"},"2"]}`, `<r><p:i xmlns:p="u"/><p_x003A_i>2</p_x003A_i></r>`},
		{"xml prefix", `{"@xml:lang":"en","xml:a":"1"}`, `<r xml:lang="en"><xml:a>1</xml:a></r>`},
		{"xml declared with its namespace", `{"@xmlns:xml":"http://www.w3.org/XML/1998/namespace"}`, `<r xmlns:xml="http://www.w3.org/XML/1998/namespace"/>`},
		{"xml declared with another", `{"@xmlns:xml":"u"}`, `<r xmlns_x003A_xml="u"/>`},
		{"empty declaration", `{"@xmlns:p":"","p:a":"1"}`, `<r xmlns_x003A_p=""><p_x003A_a>1</p_x003A_a></r>`},
		{"null declaration", `{"@xmlns:p":null}`, `<r xmlns_x003A_p=""/>`},
		{"xmlns declared", `{"@xmlns:xmlns":"u"}`, `<r xmlns_x003A_xmlns="u"/>`},
		{"prefix bound to a reserved namespace", `{"@xmlns:p":"http://www.w3.org/2000/xmlns/"}`, `<r xmlns_x003A_p="http://www.w3.org/2000/xmlns/"/>`},
		{"default namespace reserved", `{"@xmlns":"http://www.w3.org/XML/1998/namespace"}`, `<r _x0078_mlns="http://www.w3.org/XML/1998/namespace"/>`},
		{"default namespace", `{"@xmlns":"u","a":"1"}`, `<r xmlns="u"><a>1</a></r>`},
		{"element with the xmlns prefix", `{"xmlns:a":"1"}`, `<r><xmlns_x003A_a>1</xmlns_x003A_a></r>`},
		{"same expanded attribute", `{"@xmlns:p":"u","@xmlns:q":"u","@p:x":"1","@q:x":"2","@x":"3"}`, `<r xmlns:p="u" xmlns:q="u" p:x="1" q_x003A_x="2" x="3"/>`},
		{"duplicate keys, the first not a declaration", `{"@xmlns:p":"","@xmlns:p":"u","p:a":"1"}`, `<r xmlns_x003A_p="" xmlns:p="u"><p:a>1</p:a></r>`},
		{"duplicate keys, the first wins", `{"@xmlns:p":"u","@xmlns:p":"v","p:a":"1"}`, `<r xmlns:p="u"><p:a>1</p:a></r>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x, err := c.JSONToXML(nil, RawJSON(tc.in), "r")
			if err != nil {
				t.Fatal(err)
			}
			if string(x) != tc.want {
				t.Errorf("got  %s\nwant %s", x, tc.want)
			}
			back, err := c.XMLToJSON(nil, x)
			if err != nil {
				t.Fatalf("%s: %v", x, err)
			}
			keys := func(v any) []string {
				var ks []string
				var walk func(string, any)
				walk = func(p string, v any) {
					switch x := v.(type) {
					case map[string]any:
						for k, e := range x {
							ks = append(ks, p+"/"+k)
							walk(p+"/"+k, e)
						}
					case []any:
						for _, e := range x {
							walk(p, e)
						}
					}
				}
				walk("", v)
				slices.Sort(ks)
				return slices.Compact(ks)
			}
			want := keys(map[string]any{"r": decodeAny(t, []byte(tc.in))})
			if got := keys(decodeAny(t, back)); !reflect.DeepEqual(got, want) {
				t.Errorf("keys read back %v, want %v", got, want)
			}
		})
	}
}

// TestJSONToXMLNamespacesHostile: with "keep", an object declaring and
// using many prefixes is written in linear time, and read back.
func TestJSONToXMLNamespacesHostile(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	const n = 50000
	for i := range n {
		fmt.Fprintf(&b, `"@xmlns:p%d":"urn:%d",`, i, i%10)
	}
	for i := range n {
		fmt.Fprintf(&b, `"@p%d:a":"%d",`, i, i)
	}
	b.WriteString(`"p1:e":[1,2]}`)
	c := mustXMLCodec(t, XMLOptions{Namespaces: "keep"})
	start := time.Now()
	x, err := c.JSONToXML(nil, RawJSON(b.String()), "r")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.XMLToJSON(nil, x); err != nil {
		t.Fatalf("%.200s: %v", x, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	// Prefixes bound to the same namespace (urn:0 for p0, p10, ...) make
	// the same attribute: all but the first have their colon escaped.
	if !strings.Contains(string(x), ` p0:a="0" `) || !strings.Contains(string(x), ` p10_x003A_a="10" `) {
		t.Errorf("duplicates not escaped: %.300s", x)
	}
}

func manyDistinct(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "<e%d/>", i)
	}
	return b.String()
}

// manyPrefixes declares prefixes p0 to p(n-1) and gives each an attribute.
func manyPrefixes(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `xmlns:p%d="urn:%d" `, i, i)
	}
	for i := range n {
		fmt.Fprintf(&b, `p%d:a="%d" `, i, i)
	}
	return b.String()
}

func manyAttrsOf(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `%s:a%d="%d" `, prefix, i, i)
	}
	return b.String()
}

func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `a%d="%d" `, i, i)
	}
	return b.String()
}

// TestXMLCodecDepth: a MaxDepth of 0 is the default, and one above
// MaxXMLDepth is lowered to it.
func TestXMLCodecDepth(t *testing.T) {
	if _, err := mustXMLCodec(t, XMLOptions{}).XMLToJSON(nil, []byte(strings.Repeat("<a>", 65))); !errors.Is(err, ErrTooDeep) {
		t.Errorf("default depth: %v", err)
	}
	if _, err := mustXMLCodec(t, XMLOptions{MaxDepth: 1}).XMLToJSON(nil, []byte(`<a><b/></a>`)); !errors.Is(err, ErrTooDeep) {
		t.Errorf("depth 1: %v", err)
	}
	if _, err := mustXMLCodec(t, XMLOptions{MaxDepth: 1 << 30}).XMLToJSON(nil, []byte(strings.Repeat("<a>", 20000))); !errors.Is(err, ErrTooDeep) {
		t.Errorf("the ceiling does not apply: %v", err)
	}
}

// jsonToXML compiles opts and writes v as XML, as the engine does with a
// codec built when the spec loads.
func jsonToXML(dst []byte, v any, root string, opts XMLOptions) ([]byte, error) {
	c, err := NewXMLCodec(opts)
	if err != nil {
		return dst, err
	}
	return c.JSONToXML(dst, v, root)
}

func TestJSONToXMLConventions(t *testing.T) {
	cases := []struct {
		name string
		opts XMLOptions
		in   any
		root string
		want string
	}{
		{"object", XMLOptions{}, RawJSON(`{"b":"1","a":"2"}`), "r", `<r><b>1</b><a>2</a></r>`},
		{"raw bytes", XMLOptions{}, []byte(`{"b":1}`), "r", `<r><b>1</b></r>`},
		{"json.RawMessage", XMLOptions{}, json.RawMessage(`{"b":1}`), "r", `<r><b>1</b></r>`},
		{"go map sorted", XMLOptions{}, map[string]any{"b": 1.0, "a": "x"}, "r", `<r><a>x</a><b>1</b></r>`},
		{"go map with raw value in order", XMLOptions{}, map[string]any{"v": RawJSON(`{"z":1,"a":2}`)}, "r", `<r><v><z>1</z><a>2</a></v></r>`},
		{"go scalars", XMLOptions{}, []any{1e8, 10.5, int64(-3), true, nil, "s"}, "r", `<r><item>100000000</item><item>10.5</item><item>-3</item><item>true</item><item/><item>s</item></r>`},
		{"nil", XMLOptions{}, nil, "r", `<r/>`},
		{"empty raw", XMLOptions{}, RawJSON(" "), "r", `<r/>`},
		{"array repeats", XMLOptions{}, RawJSON(`{"i":[1,2]}`), "r", `<r><i>1</i><i>2</i></r>`},
		{"empty array writes nothing", XMLOptions{}, RawJSON(`{"i":[],"j":1}`), "r", `<r><j>1</j></r>`},
		{"only empty array", XMLOptions{}, RawJSON(`{"i":[]}`), "r", `<r/>`},
		{"root array", XMLOptions{}, RawJSON(`[1,{"a":2}]`), "r", `<r><item>1</item><item><a>2</a></item></r>`},
		{"nested array", XMLOptions{}, RawJSON(`{"m":[[1,2],[]]}`), "r", `<r><m><item>1</item><item>2</item></m><m/></r>`},
		{"null and empty", XMLOptions{}, RawJSON(`{"n":null,"s":"","o":{}}`), "r", `<r><n/><s></s><o/></r>`},
		{"attributes first", XMLOptions{}, RawJSON(`{"c":"1","@b":2,"@a":true,"@n":null}`), "r", `<r b="2" a="true" n=""><c>1</c></r>`},
		{"duplicate attribute first wins", XMLOptions{}, RawJSON(`{"@a":1,"@a":2}`), "r", `<r a="1"/>`},
		{"text", XMLOptions{}, RawJSON(`{"@a":"1","#text":"t"}`), "r", `<r a="1">t</r>`},
		{"text number", XMLOptions{}, RawJSON(`{"#text":1e2}`), "r", `<r>100</r>`},
		{"text null and empty", XMLOptions{}, RawJSON(`{"#text":null,"@a":"1"}`), "r", `<r a="1"/>`},
		{"text empty", XMLOptions{}, RawJSON(`{"#text":""}`), "r", `<r/>`},
		{"text between children", XMLOptions{}, RawJSON(`{"b":"1","#text":"t","c":"2"}`), "r", `<r><b>1</b>t<c>2</c></r>`},
		{"attribute object is element", XMLOptions{}, RawJSON(`{"@a":{"x":1}}`), "r", `<r><_x0040_a><x>1</x></_x0040_a></r>`},
		{"attribute array is elements", XMLOptions{}, RawJSON(`{"@a":[1,2]}`), "r", `<r><_x0040_a>1</_x0040_a><_x0040_a>2</_x0040_a></r>`},
		{"text array is elements", XMLOptions{}, RawJSON(`{"#text":["t"]}`), "r", `<r><_x0023_text>t</_x0023_text></r>`},
		{"root from single key", XMLOptions{}, RawJSON(`{"doc":{"a":1}}`), "", `<doc><a>1</a></doc>`},
		{"root from single key, one-item array", XMLOptions{}, RawJSON(`{"doc":[{"a":1}]}`), "", `<doc><a>1</a></doc>`},
		{"root name escaped", XMLOptions{}, RawJSON(`1`), "my root", `<my_x0020_root>1</my_x0020_root>`},
		{"root name prefix kept when declared", XMLOptions{Namespaces: "keep"}, RawJSON(`{"@xmlns:s":"u"}`), "s:r", `<s:r xmlns:s="u"/>`},
		{"root name prefix escaped when undeclared", XMLOptions{Namespaces: "keep"}, RawJSON(`1`), "s:r", `<s_x003A_r>1</s_x003A_r>`},
		{"root name prefix stripped", XMLOptions{}, RawJSON(`1`), "s:r", `<s_x003A_r>1</s_x003A_r>`},
		{"escapes", XMLOptions{}, RawJSON(`{"@a":"<&>\"'\t\n\r","t":"<&>\"'\t\n\r]]>"}`), "r", "<r a=\"&lt;&amp;&gt;&quot;'&#x9;&#xA;&#xD;\"><t>&lt;&amp;&gt;\"'\t\n&#xD;]]&gt;</t></r>"},
		{"json escapes", XMLOptions{}, RawJSON(`{"t":"\u00e9\ud83d\ude00\/\\\b\f"}`), "r", "<r><t>é😀/\\\uFFFD\uFFFD</t></r>"},
		{"lone surrogates", XMLOptions{}, RawJSON(`{"t":"\ud800\udbff\ud800x\udc00"}`), "r", "<r><t>\uFFFD\uFFFD\uFFFDx\uFFFD</t></r>"},
		{"invalid UTF-8", XMLOptions{}, RawJSON("{\"t\xff\":\"a\xffb\"}"), "r", "<r><t_xFFFD_>a\uFFFDb</t_xFFFD_></r>"},
		{"non-characters", XMLOptions{}, RawJSON(`{"t":"\u0000\u001f\ufffe\uffff\u0085"}`), "r", "<r><t>\uFFFD\uFFFD\uFFFD\uFFFD\u0085</t></r>"},
		{"numbers", XMLOptions{}, RawJSON(`[1e8,1E+8,10.50,-0,-0.0,0e10,1e-7,12345678901234567890,0.1,1.5e300]`), "r",
			"<r><item>100000000</item><item>100000000</item><item>10.5</item><item>0</item><item>0</item><item>0</item><item>0.0000001</item><item>12345678901234567890</item><item>0.1</item><item>15" + strings.Repeat("0", 299) + "</item></r>"},
		{"whitespace in raw JSON", XMLOptions{}, RawJSON(" {\n \"a\" : [ 1 , { \"@b\" : \"c\" } ] ,\t\"d\":\"e\" } "), "r", `<r><a>1</a><a b="c"/><d>e</d></r>`},
		{"keep prefixes", XMLOptions{Namespaces: "keep"}, RawJSON(`{"p:a":{"@xmlns:p":"u","@p:b":"1"},"a:b:c":1,":x":2,"y:":3}`), "r",
			`<r><p:a xmlns:p="u" p:b="1"/><a_x003A_b_x003A_c>1</a_x003A_b_x003A_c><_x003A_x>2</_x003A_x><y_x003A_>3</y_x003A_></r>`},
		{"strip xmlns attribute", XMLOptions{}, RawJSON(`{"@xmlns":"u","@xmlns:p":"v"}`), "r", `<r _x0078_mlns="u" xmlns_x003A_p="v"/>`},
		{"keep xmlns attribute", XMLOptions{Namespaces: "keep"}, RawJSON(`{"@xmlns":"u"}`), "r", `<r xmlns="u"/>`},
		{"custom prefix", XMLOptions{AttrPrefix: "$", TextKey: "_"}, RawJSON(`{"$a":1,"_":"t","@b":2}`), "r", `<r a="1">t<_x0040_b>2</_x0040_b></r>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jsonToXML([]byte("<!--x-->"), tc.in, tc.root, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "<!--x-->"+tc.want {
				t.Errorf("got  %s\nwant <!--x-->%s", got, tc.want)
			}
			if err := readAllXML(got); err != nil {
				t.Errorf("encoding/xml: %v", err)
			}
		})
	}
}

func TestJSONToXMLErrors(t *testing.T) {
	cases := []struct {
		name string
		opts XMLOptions
		in   any
		root string
		want error
		msg  string
	}{
		{"invalid JSON", XMLOptions{}, RawJSON(`{"a":`), "r", nil, "invalid JSON"},
		{"trailing data", XMLOptions{}, RawJSON(`{} {}`), "r", nil, "invalid JSON"},
		{"too deep", XMLOptions{MaxDepth: 3}, RawJSON(`{"a":{"b":{"c":{}}}}`), "r", ErrTooDeep, ""},
		{"too deep default", XMLOptions{}, RawJSON(strings.Repeat("[", 100000) + strings.Repeat("]", 100000)), "r", ErrTooDeep, ""},
		{"NaN", XMLOptions{}, math.NaN(), "r", nil, "NaN"},
		{"huge exponent", XMLOptions{}, RawJSON(`1e999`), "r", nil, "1e999"},
		{"too large", XMLOptions{MaxBytes: 100}, RawJSON(`{"a_long_key_name":[` + strings.Repeat("1,", 50) + `1]}`), "r", ErrXMLTooLarge, "more than 100 bytes"},
		{"rootless scalar", XMLOptions{}, RawJSON(`1`), "", nil, "object with one key"},
		{"rootless empty", XMLOptions{}, RawJSON(`{}`), "", nil, "not {}"},
		{"rootless two keys", XMLOptions{}, RawJSON(`{"a":1,"b":2}`), "", nil, "object with one key"},
		{"rootless attribute", XMLOptions{}, RawJSON(`{"@a":1}`), "", nil, "attribute or text"},
		{"rootless text", XMLOptions{}, RawJSON(`{"#text":1}`), "", nil, "attribute or text"},
		{"rootless empty array", XMLOptions{}, RawJSON(`{"a":[]}`), "", nil, "empty array"},
		{"rootless long array", XMLOptions{}, RawJSON(`{"a":[1,2]}`), "", nil, "more than one"},
		{"bad options", XMLOptions{Namespaces: "drop"}, RawJSON(`1`), "r", nil, "strip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jsonToXML([]byte("keep"), tc.in, tc.root, tc.opts)
			if err == nil {
				t.Fatalf("no error: %s", got)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
			if string(got) != "keep" {
				t.Errorf("dst changed to %q", got)
			}
		})
	}
}

// TestXMLKeyRoundTrip: every key, however odd, is written as a name
// encoding/xml reads, and comes back as the same key.
func TestXMLKeyRoundTrip(t *testing.T) {
	keys := []string{
		"", " ", "a", "A1", "1", "-", ".", "_", ":", "a:b", ":a", "a:", "a:b:c", "a b", "_x", "_x_", "_x0041_",
		"_x0041", "_x004", "_x0041x_", "_x0041$", "_x00410041_", "_X0041_", "__x0041_", "_x0001F600_", "a_x_b",
		"x$y", "é", "日本", "😀", "\u0300a", "a\u0300", "\t", "\x00", "\uFFFD", "\uFFFE", "xmlns", "xml", "XML",
		"#text", "@", "@@", "@id", "a.b-c_d", "·", "a·", "\u2028", strings.Repeat("k", 300),
	}
	for _, ns := range []string{"strip", "keep"} {
		c := mustXMLCodec(t, XMLOptions{Namespaces: ns})
		for _, k := range keys {
			in := AppendString([]byte("{"), k)
			in = append(in, `:{"v":"1"}}`...)
			x, err := c.JSONToXML(nil, RawJSON(in), "r")
			if err != nil {
				t.Fatalf("%s %q: %v", ns, k, err)
			}
			if err := readAllXML(x); err != nil {
				t.Errorf("%s %q: %s: %v", ns, k, x, err)
				continue
			}
			back, err := c.XMLToJSON(nil, x)
			if err != nil {
				t.Errorf("%s %q: %s: %v", ns, k, x, err)
				continue
			}
			want := map[string]any{"r": map[string]any{k: map[string]any{"v": "1"}}}
			if k == "#text" || strings.HasPrefix(k, "@") {
				// An object value keeps an attribute-like key an element.
				want = map[string]any{"r": map[string]any{k: map[string]any{"v": "1"}}}
			}
			if got := decodeAny(t, back); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %q: written %s, read back %s", ns, k, x, back)
			}
		}
	}
}

// TestXMLNames checks that every name written is one encoding/xml reads,
// that non-ASCII characters are always escaped, and that ASCII name
// characters are kept.
func TestXMLNames(t *testing.T) {
	accepts := func(name string) bool {
		d := xml.NewDecoder(strings.NewReader("<" + name + "/>"))
		_, err := d.RawToken()
		return err == nil
	}
	var buf []byte
	for _, r := range []rune{0x80, 0xB7, 0xC0, 0xE9, 0x300, 0x391, 0x4E2D, 0xFFFD, 0x1F600, 0x10FFFF} {
		s := string(r)
		for _, in := range []string{s, "a" + s} {
			buf = appendNCName(buf[:0], []byte(in))
			if strings.ContainsRune(string(buf), r) || !accepts(string(buf)) {
				t.Errorf("%U in %q: written %q", r, in, buf)
			}
		}
	}
	for c := rune(0); c < 0x80; c++ {
		s := string(c)
		want := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_'
		buf = appendNCName(buf[:0], []byte("a"+s))
		if (string(buf) == "a"+s) != want || !accepts(string(buf)) {
			t.Errorf("%q later: written %q", c, buf)
		}
		want = want && !('0' <= c && c <= '9' || c == '-' || c == '.')
		buf = appendNCName(buf[:0], []byte(s))
		if (string(buf) == s) != want || !accepts(string(buf)) {
			t.Errorf("%q first: written %q", c, buf)
		}
	}
}

func TestXMLOptionsErrors(t *testing.T) {
	cases := []struct {
		opts XMLOptions
		msg  string
	}{
		{XMLOptions{Namespaces: "Strip"}, `"strip" or "keep"`},
		{XMLOptions{AttrPrefix: "a"}, "attr_prefix"},
		{XMLOptions{AttrPrefix: "1"}, "attr_prefix"},
		{XMLOptions{TextKey: "@text"}, "text_key"},
		{XMLOptions{AttrPrefix: "_", TextKey: "_text"}, "text_key"},
		{XMLOptions{MaxDepth: -1}, "depth"},
		{XMLOptions{MaxBytes: -1}, "bytes"},
		{XMLOptions{Lists: []string{""}}, "lists[0]"},
		{XMLOptions{Lists: []string{"a", "a..b"}}, "lists[1]"},
		{XMLOptions{Lists: []string{".a"}}, "lists[0]"},
		{XMLOptions{Lists: []string{"a."}}, "lists[0]"},
	}
	for _, tc := range cases {
		_, err := NewXMLCodec(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: got %v, want an error about %s", tc.opts, err, tc.msg)
		}
	}
	for _, o := range []XMLOptions{{}, {AttrPrefix: "_", TextKey: "#text"}, {AttrPrefix: "-", TextKey: "value"}, {MaxDepth: 1 << 20}, {Namespaces: "keep"}} {
		if _, err := NewXMLCodec(o); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestEncodeForm(t *testing.T) {
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"raw order kept", RawJSON(`{"b":"2","a":"1"}`), "b=2&a=1"},
		{"map sorted", map[string]any{"b": "2", "a": "1"}, "a=1&b=2"},
		{"escaping", RawJSON(`{"a b":"c&d=e+f/é"}`), "a+b=c%26d%3De%2Bf%2F%C3%A9"},
		{"numbers and booleans", RawJSON(`{"n":1e8,"f":10.50,"t":true,"z":false}`), "n=100000000&f=10.5&t=true&z=false"},
		{"null left out", RawJSON(`{"a":null,"b":"x"}`), "b=x"},
		{"list repeats", RawJSON(`{"tag":["a",null,2,true]}`), "tag=a&tag=2&tag=true"},
		{"empty list", RawJSON(`{"tag":[],"b":1}`), "b=1"},
		{"empty string sent", RawJSON(`{"a":""}`), "a="},
		{"empty object", RawJSON(`{}`), ""},
		{"nil", nil, ""},
		{"null", RawJSON(`null`), ""},
		{"bracket keys", RawJSON(`{"metadata[order]":"o-1"}`), "metadata%5Border%5D=o-1"},
		{"go slice value", map[string]any{"l": []any{"x", 1.5}}, "l=x&l=1.5"},
		{"escapes in raw", RawJSON(`{"\u0041":"\ud83d\ude00"}`), "A=%F0%9F%98%80"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EncodeForm(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	bad := []struct {
		name string
		in   any
		msg  string
	}{
		{"nested object", RawJSON(`{"a":{"b":1}}`), `field "a"`},
		{"list of objects", RawJSON(`{"a":[{"b":1}]}`), `field "a"`},
		{"list of lists", RawJSON(`{"a":[[1]]}`), `field "a"`},
		{"deep", RawJSON(`{"a":[[[1]]]}`), "flat object"},
		{"array", RawJSON(`[1]`), "takes an object"},
		{"string", "x", "takes an object"},
		{"invalid", RawJSON(`{`), "invalid JSON"},
		{"NaN", map[string]any{"a": math.Inf(1)}, "+Inf"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EncodeForm(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %q, %v; want an error about %s", got, err, tc.msg)
			}
		})
	}
}

// TestXMLConcurrent runs codecs with different options at once: no
// option is shared through globals (run with -race).
func TestXMLConcurrent(t *testing.T) {
	in := []byte(`<s:a xmlns:s="u" n="1"><b>2</b></s:a>`)
	codecs := []struct {
		c    *XMLCodec
		want string
	}{
		{mustXMLCodec(t, XMLOptions{}), `{"a":{"@n":"1","b":"2"}}`},
		{mustXMLCodec(t, XMLOptions{Cast: true, Lists: []string{"a.b"}}), `{"a":{"@n":1,"b":[2]}}`},
		{mustXMLCodec(t, XMLOptions{Namespaces: "keep", AttrPrefix: "-", TextKey: "_"}), `{"s:a":{"-xmlns:s":"u","-n":"1","b":"2"}}`},
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				tc := codecs[(g+i)%len(codecs)]
				got, err := tc.c.XMLToJSON(nil, in)
				if err != nil || string(got) != tc.want {
					t.Errorf("got %s %v, want %s", got, err, tc.want)
					return
				}
				x, err := tc.c.JSONToXML(nil, RawJSON(got), "")
				if err != nil {
					t.Error(err)
					return
				}
				if again, err := tc.c.XMLToJSON(nil, x); err != nil || string(again) != tc.want {
					t.Errorf("round trip: got %s %v, want %s", again, err, tc.want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestXMLErrorsAreShort(t *testing.T) {
	long := strings.Repeat("n", 10000)
	for _, in := range []string{
		"<" + long + "></b>", "<a>&" + long + ";</a>", "<" + long + "><" + long + "é",
		"<" + long + ":a/>", "<a " + long + ":b='1'/>", "<a xmlns:" + long + "=''/>", "<a xmlns:" + long + "='http://www.w3.org/2000/xmlns/'/>",
		"<?" + long + "\x01?><a/>", "<?xml version='" + long + "'?><a/>", "<?xml version='1.0' encoding='" + long + "'?><a/>",
		"<a>&#" + long + "</a>", "<a>&#x" + strings.Repeat("1", 10000) + ";</a>", "<a>&#" + strings.Repeat("1", 10000) + ";</a>",
		"<" + long + "\xff/>", "<a:" + long + ":b/>", "<" + long + ":" + long + "/>",
	} {
		_, err := mustXMLCodec(t, XMLOptions{}).XMLToJSON(nil, []byte(in))
		if err == nil {
			t.Errorf("%.100q...: accepted", in)
		} else if len(err.Error()) > 400 || !utf8.ValidString(err.Error()) {
			t.Errorf("error %.100q... is %d bytes", err, len(err.Error()))
		}
	}
}

// TestXMLRoundTripRandom writes random JSON values of the lossless kind (see
// XMLCodec, "Round trips") as XML and reads them back: keys of every sort,
// attributes, strings with any whitespace, lists of two or more.
func TestXMLRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "b", "_", "x", "0", "4", "1", "F", ":", "@", "#", " ", "é", "😀", "-", ".", "\t", "text", "xmlns", "_x", "_x0041_", "·", "\u0300"}
	randKey := func() string {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	strs := []string{"", " ", "plain", "  two  words ", "<&>\"'", "line\nbreak", "tab\t", "cr\r\nlf", "é😀", "]]>", "12", "true"}
	var gen func(depth int) any
	gen = func(depth int) any {
		if depth > 3 || rng.IntN(3) == 0 {
			return strs[rng.IntN(len(strs))]
		}
		m := map[string]any{}
		for range 1 + rng.IntN(5) {
			k := randKey()
			if k == "#text" {
				continue
			}
			switch {
			case strings.HasPrefix(k, "@") && rng.IntN(2) == 0:
				m[k] = strs[rng.IntN(len(strs))]
			case strings.HasPrefix(k, "@") && rng.IntN(2) == 0:
				m[k] = []any{strs[rng.IntN(len(strs))]} // stays a list: see XMLCodec
			case rng.IntN(4) == 0:
				l := make([]any, 2+rng.IntN(2))
				for i := range l {
					l[i] = gen(depth + 1)
				}
				m[k] = l
			default:
				m[k] = gen(depth + 1)
			}
		}
		if len(m) == 0 {
			m["k"] = "{} would come back as \"\""
		}
		return m
	}
	for _, ns := range []string{"strip", "keep"} {
		c := mustXMLCodec(t, XMLOptions{Namespaces: ns})
		for range 500 {
			v := gen(0)
			x, err := c.JSONToXML(nil, v, "r")
			if err != nil {
				t.Fatal(err)
			}
			if err := readAllXML(x); err != nil {
				t.Fatalf("%s: %v", x, err)
			}
			back, err := c.XMLToJSON(nil, x)
			if err != nil {
				t.Fatalf("%s: %v", x, err)
			}
			if got := decodeAny(t, back); !reflect.DeepEqual(got, map[string]any{"r": v}) {
				t.Fatalf("%s: not lossless: %s\n via %.2000s", ns, xmlDiff("", got, map[string]any{"r": v}), x)
			}
		}
	}
}

// xmlDiff names the first difference between got and want.
func xmlDiff(path string, a, b any) string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		for k := range am {
			if _, ok := bm[k]; !ok {
				return fmt.Sprintf("%s: key %q missing in want (got %v)", path, k, am[k])
			}
			if d := xmlDiff(path+"."+k, am[k], bm[k]); d != "" {
				return d
			}
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				return fmt.Sprintf("%s: key %q missing in got (want %#v)", path, k, bm[k])
			}
		}
		return ""
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			if d := xmlDiff(fmt.Sprintf("%s[%d]", path, i), al[i], bl[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(a, b) {
		return fmt.Sprintf("%s: got %#v want %#v", path, a, b)
	}
	return ""
}

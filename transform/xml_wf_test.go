package transform

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestXMLNotWellFormed reads every testdata/xml/notwf/NAME.xml, a document
// that is not well-formed XML 1.0 with namespaces (or is in an encoding
// that is refused), and checks that XMLToJSON refuses it with
// ErrInvalidXML (ErrDTD for a DOCTYPE) and the message recorded for NAME
// in testdata/xml/notwf/errors.golden, with every option set.
func TestXMLNotWellFormed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(xmlTestdata, "notwf", "*.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("only %d not-well-formed cases found", len(files))
	}
	codecs, _ := xmlFuzzCodecs(t)
	var golden strings.Builder
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".xml")
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = codecs[0].XMLToJSON(nil, in)
		if err == nil {
			t.Errorf("%s: accepted", name)
			fmt.Fprintf(&golden, "%s: accepted\n", name)
			continue
		}
		want := ErrInvalidXML
		if strings.HasPrefix(name, "doctype") {
			want = ErrDTD
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
		msg := err.Error()
		if len(msg) > 300 || !utf8.ValidString(msg) || strings.Contains(msg, "transform.") || strings.Contains(msg, "*") {
			t.Errorf("%s: unfit message %q", name, msg)
		}
		for _, c := range codecs[1:] {
			if _, err := c.XMLToJSON(nil, in); err == nil || err.Error() != msg && !errors.Is(err, ErrTooDeep) {
				t.Errorf("%s: with other options: %v, want %q", name, err, msg)
			}
		}
		fmt.Fprintf(&golden, "%s: %s\n", name, msg)
	}
	xmlGolden(t, filepath.Join(xmlTestdata, "notwf", "errors.golden"), []byte(golden.String()))
}

// TestXMLWellFormedEdgeCases: documents at the edges of the rules that
// TestXMLNotWellFormed enforces are still read.
func TestXMLWellFormedEdgeCases(t *testing.T) {
	var many strings.Builder
	many.WriteString("<r")
	for i := range 40 {
		fmt.Fprintf(&many, ` xmlns:p%d="urn:%d"`, i, i)
	}
	many.WriteString(">")
	for i := range 40 {
		fmt.Fprintf(&many, `<p%d:e p%d:a="%d" p%d:a="%d"/>`, i, i, i, (i+1)%40, i)
	}
	many.WriteString("</r>")
	cases := []struct {
		name string
		opts XMLOptions
		in   string
		want string
	}{
		{"version 1.1 read as 1.0", XMLOptions{}, `<?xml version="1.1"?><a/>`, `{"a":""}`},
		{"version 1.99", XMLOptions{}, `<?xml version='1.99' encoding='UTF-8'?><a/>`, `{"a":""}`},
		{"full declaration", XMLOptions{}, `<?xml version="1.0" encoding="utf-8" standalone='no' ?><a/>`, `{"a":""}`},
		{"declaration with spaces around =", XMLOptions{}, "<?xml version = '1.0'\n\tencoding\t=\t\"US-ASCII\"?><a/>", `{"a":""}`},
		{"standalone yes", XMLOptions{}, `<?xml version="1.0" standalone="yes"?><a/>`, `{"a":""}`},
		{"declaration after the byte order mark", XMLOptions{}, "\xef\xbb\xbf<?xml version=\"1.0\"?><a/>", `{"a":""}`},
		{"US-ASCII", XMLOptions{}, `<?xml version="1.0" encoding="us-ascii"?><a>caf&#xE9;</a>`, `{"a":"café"}`},
		{"comments and PIs around the root", XMLOptions{}, "<?xml version=\"1.0\"?>\n<!-- before --><?pi data?>\n<a/>\n<!-- after --><?pi?>\n", `{"a":""}`},
		{"PI targets starting with xml", XMLOptions{}, `<?xml-stylesheet href="s.xsl"?><?xmlfoo?><a><?xml-x?></a>`, `{"a":""}`},
		{"PI target then ?>", XMLOptions{}, `<a><?pi?>x</a>`, `{"a":"x"}`},
		{"PI data with ? and >", XMLOptions{}, `<a><?pi a?b>c ??></a>`, `{"a":""}`},
		{"comment with single hyphens", XMLOptions{}, `<!-- a - b -><a/>--><a/>`, `{"a":""}`},
		{"empty comment", XMLOptions{}, `<!----><a/>`, `{"a":""}`},
		{"xml:lang", XMLOptions{}, `<a xml:lang="en" xml:space="preserve">x</a>`, `{"a":{"@lang":"en","@space":"preserve","#text":"x"}}`},
		{"xml:lang kept", XMLOptions{Namespaces: "keep"}, `<a xml:lang="en"/>`, `{"a":{"@xml:lang":"en"}}`},
		{"xml declared with its own URI", XMLOptions{Namespaces: "keep"}, `<a xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="en"/>`,
			`{"a":{"@xmlns:xml":"http://www.w3.org/XML/1998/namespace","@xml:lang":"en"}}`},
		{"default namespace", XMLOptions{}, `<a xmlns="urn:a"><b/></a>`, `{"a":{"b":""}}`},
		{"default namespace undeclared", XMLOptions{Namespaces: "keep"}, `<a xmlns="urn:a"><b xmlns=""/></a>`, `{"a":{"@xmlns":"urn:a","b":{"@xmlns":""}}}`},
		{"prefix declared after its use in the tag", XMLOptions{}, `<p:a p:x="1" xmlns:p="urn:p"/>`, `{"a":{"@x":"1"}}`},
		{"prefix redeclared", XMLOptions{Namespaces: "keep"}, `<p:a xmlns:p="urn:1"><p:b xmlns:p="urn:2"/><p:c/></p:a>`,
			`{"p:a":{"@xmlns:p":"urn:1","p:b":{"@xmlns:p":"urn:2"},"p:c":""}}`},
		{"same local name, other namespaces", XMLOptions{Namespaces: "keep"}, `<a xmlns:p="urn:p" xmlns:q="urn:q" p:x="1" q:x="2" x="3"/>`,
			`{"a":{"@xmlns:p":"urn:p","@xmlns:q":"urn:q","@p:x":"1","@q:x":"2","@x":"3"}}`},
		{"unprefixed and prefixed attribute in the default namespace", XMLOptions{}, `<a xmlns="urn:u" xmlns:p="urn:u" x="1" p:x="2"/>`, `{"a":{"@x":"1"}}`},
		{"many prefixes", XMLOptions{}, many.String(), ""},
		{"character references at the limits", XMLOptions{}, `<a>&#x9;&#xA;&#x20;&#xD7FF;&#xE000;&#xFFFD;&#x10000;&#x10FFFF;&#0000065;</a>`,
			`{"a":"\t\n \ud7ff\ue000\ufffd𐀀\udbff\udfffA"}`},
		{"C1 controls and U+FFFD", XMLOptions{}, "<a x=\"\u0085\">\u0080\u009f\ufffd</a>", `{"a":{"@x":"\u0085","#text":"\u0080\u009f\ufffd"}}`},
		{"fifth-edition names", XMLOptions{}, "<\u20ac\u00b7 \u00c0\u0300=\"1\"/>", `{"€·":{"@À̀":"1"}}`},
		{"whitespace around the root", XMLOptions{}, "\r\n\t <a/> \r\n\t", `{"a":""}`},
		{"]] and > in text", XMLOptions{}, `<a>]] > ]</a>`, `{"a":"]] \u003e ]"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mustXMLCodec(t, tc.opts).XMLToJSON(nil, []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != "" && !reflect.DeepEqual(decodeAny(t, got), decodeAny(t, []byte(tc.want))) {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

package transform

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// xmlFuzzCodecs are the option sets the fuzz targets pick from; each has a
// twin with a generous depth limit for reading back what was written (JSON
// nests about twice as deep as the XML it came from).
func xmlFuzzCodecs(t testing.TB) (codecs, readers []*XMLCodec) {
	opts := []XMLOptions{
		{},
		{Cast: true},
		{Namespaces: "keep"},
		{Lists: []string{"a.b", "r.item", "a", "r.a.b"}, Cast: true},
		{AttrPrefix: "-", TextKey: "_", Namespaces: "keep"},
		{MaxDepth: 4, MaxBytes: 256},
	}
	for _, o := range opts {
		codecs = append(codecs, mustXMLCodec(t, o))
		o.MaxDepth, o.MaxBytes = MaxXMLDepth, 0
		readers = append(readers, mustXMLCodec(t, o))
	}
	return codecs, readers
}

func addXMLSeeds(f *testing.F, pattern string, add func([]byte)) {
	files, err := filepath.Glob(filepath.Join(xmlTestdata, pattern))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, ".opts.json") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// FuzzXMLToJSON: any input either fails with one of the documented errors
// or gives valid UTF-8 JSON that, written back as XML (which encoding/xml
// must read) and read again, means the same.
func FuzzXMLToJSON(f *testing.F) {
	codecs, readers := xmlFuzzCodecs(f)
	addXMLSeeds(f, "decode/*.xml", func(b []byte) {
		for i := range codecs {
			f.Add(b, uint8(i))
		}
	})
	addXMLSeeds(f, "notwf/*.xml", func(b []byte) {
		f.Add(b, uint8(0))
	})
	for _, s := range []string{
		``, `<a/>`, `<a>`, `<a></b>`, `<a><b>1</b><b>2</b></a>`, `<r><item x="1"/></r>`, `<a x="1" x="2"/>`,
		`<p:a xmlns:p="u" p:x="1" q:x="2"/>`, `<a><_x0040_b>1</_x0040_b><_x0023_text> t </_x0023_text>x</a>`,
		`<a>x<b/>y<!--c--><![CDATA[z]]><b/> </a>`, billionLaughs, `<!DOCTYPE a><a/>`, "\xef\xbb\xbf<a/>",
		"<a>\xff</a>", `<?xml version="1.0" encoding="latin1"?><a>` + "\xe9</a>", strings.Repeat("<a>", 100),
		`<_x_ _x_="1"><_x005F_x_/></_x_>`, `<a>&#xD;&#x1F600;&lt;</a>`, `<a b="&#9;&#10;&#13;"/>`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, pick uint8) {
		i := int(pick) % len(codecs)
		c, r := codecs[i], readers[i]
		out, err := c.XMLToJSON(nil, data)
		if err != nil {
			if !errors.Is(err, ErrInvalidXML) && !errors.Is(err, ErrDTD) && !errors.Is(err, ErrTooDeep) && !errors.Is(err, ErrXMLTooLarge) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if !json.Valid(out) || !utf8.Valid(out) {
			t.Fatalf("invalid JSON %q", out)
		}
		x, err := r.JSONToXML(nil, RawJSON(out), "")
		if err != nil {
			t.Fatalf("cannot write %s back: %v", out, err)
		}
		if err := readAllXML(x); err != nil {
			t.Fatalf("encoding/xml cannot read %q: %v", x, err)
		}
		again, err := r.XMLToJSON(nil, x)
		if err != nil {
			t.Fatalf("cannot read back %q: %v", x, err)
		}
		if !reflect.DeepEqual(decodeAny(t, again), decodeAny(t, out)) {
			t.Fatalf("XML -> JSON -> XML -> JSON changed the JSON\n   in %q\n  got %s\n want %s\n  via %s", data, again, out, x)
		}
	})
}

// FuzzJSONToXML: any valid JSON, under any root name, is either refused or
// written as XML that encoding/xml reads to EOF and XMLToJSON accepts; and
// that JSON, written again, reads back the same.
func FuzzJSONToXML(f *testing.F) {
	codecs, readers := xmlFuzzCodecs(f)
	addXMLSeeds(f, "encode/*.json", func(b []byte) {
		if strings.HasSuffix(string(b), ".back.json") {
			return
		}
		for i := range codecs {
			f.Add(b, "root", uint8(i))
		}
		f.Add(b, "", uint8(0))
	})
	for _, s := range []string{
		`null`, `""`, `[]`, `{}`, `[[[]]]`, `{"":{"":""}}`, `{"@":null,"#text":1e400}`, `{"a":[{"@b":[1]}]}`,
		`{"\u0000":"\u0000"}`, `{"a:b":{"@xmlns:a":"u"}}`, `-0.0e-0`, `1E+308`, `{"_x0041_":"_x_"}`,
		"{\"\xff\":\"\xfe\"}", `{"#text":" a ","b":"c"}`,
	} {
		f.Add([]byte(s), "r", uint8(0))
		f.Add([]byte(s), "", uint8(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, root string, pick uint8) {
		if !json.Valid(data) {
			return
		}
		i := int(pick) % len(codecs)
		c, r := codecs[i], readers[i]
		x, err := c.JSONToXML(nil, RawJSON(data), root)
		if err != nil {
			return
		}
		if err := readAllXML(x); err != nil {
			t.Fatalf("encoding/xml cannot read %q: %v", x, err)
		}
		j1, err := r.XMLToJSON(nil, x)
		if err != nil {
			t.Fatalf("XMLToJSON cannot read %q: %v", x, err)
		}
		if !json.Valid(j1) {
			t.Fatalf("invalid JSON %q", j1)
		}
		x2, err := r.JSONToXML(nil, RawJSON(j1), "")
		if err != nil {
			t.Fatalf("cannot write %s back: %v", j1, err)
		}
		j2, err := r.XMLToJSON(nil, x2)
		if err != nil {
			t.Fatalf("cannot read back %q: %v", x2, err)
		}
		if !reflect.DeepEqual(decodeAny(t, j2), decodeAny(t, j1)) {
			t.Fatalf("not stable\n  in %q\n got %s\nwant %s", data, j2, j1)
		}
	})
}

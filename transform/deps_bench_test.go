package transform_test

// The libraries the product brief named and the code does not use
// (README, "Dependencies"), measured against ours like for like:
//
//   - BenchmarkDepsGet: a few keys read from a backend body as the engine
//     reads them (Lookup, DecodeKeys) vs github.com/tidwall/gjson.
//   - BenchmarkDepsCompose: a response composed around a spliced backend
//     value (the engine's splice, the Encoder) vs github.com/tidwall/sjson.
//   - BenchmarkDepsXMLToJSON: an XML record to JSON (XMLCodec) vs
//     github.com/clbanning/mxj/v2.
//   - BenchmarkDepsValidate: the validation every body gets first
//     (ScanJSON) vs gjson.ValidBytes, which gjson.Get does not do itself.
//
// The TestDeps* tests hold each pair to the same output, so the figures
// compare the same work, and pin the behaviour the README cites against
// those libraries; if an upgrade changes it, they fail and the README must
// be revisited.

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/clbanning/mxj/v2"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"frontdesk/transform"
)

// depsBody is a backend's JSON body, compact as the engine keeps it: the
// inventory object of testdata/xml/decode/inventory_record.json (1.5 KB, 8
// items), the record the XML benchmarks use.
func depsBody(tb testing.TB) []byte {
	tb.Helper()
	doc, err := os.ReadFile("../testdata/xml/decode/inventory_record.json")
	if err != nil {
		tb.Fatal(err)
	}
	raw, found, ok := transform.Lookup(transform.Compact(nil, doc), []string{"inventory"})
	if !found || !ok {
		tb.Fatal("no inventory object")
	}
	return raw
}

// The keys read: two scalars at the top, one a level down. Their names
// are what XML attributes and text become ("@warehouse", "#text"), which
// gjson's path syntax must have escaped.
var (
	depsPaths  = [][]string{{"@warehouse"}, {"available"}, {"total", "#text"}}
	depsGPaths = gjsonPaths(depsPaths)
)

func gjsonPaths(paths [][]string) []string {
	var out []string
	for _, p := range paths {
		esc := make([]string, len(p))
		for i, k := range p {
			esc[i] = gjson.Escape(k)
		}
		out = append(out, strings.Join(esc, "."))
	}
	return out
}

// getOurs reads the keys as the engine's fast path does: the raw bytes
// found without decoding, then the scalar decoded.
func getOurs(body []byte, out []any) {
	for i, p := range depsPaths {
		raw, found, ok := transform.Lookup(body, p)
		if !ok || !found {
			panic("not found")
		}
		v, err := transform.DecodeJSON(raw)
		if err != nil {
			panic(err)
		}
		out[i] = v
	}
}

func getGJSON(body []byte, out []any) {
	for i, p := range depsGPaths {
		out[i] = gjson.GetBytes(body, p).Value()
	}
}

func getGJSONMany(body []byte, out []any) {
	for i, r := range gjson.GetManyBytes(body, depsGPaths...) {
		out[i] = r.Value()
	}
}

// The list read: the price of every item, as `sum(inv.item, .price)`
// would. The engine decodes only that key of the elements (DecodeKeys).
var depsListKeys = map[string]*transform.KeyUse{"item": {Elems: []string{"price"}}}

func sumOurs(body []byte) float64 {
	v, _, err := transform.DecodeKeys(body, depsListKeys)
	if err != nil {
		panic(err)
	}
	sum := 0.0
	for _, it := range v.(map[string]any)["item"].([]any) {
		sum += it.(map[string]any)["price"].(float64)
	}
	return sum
}

func sumGJSON(body []byte) float64 {
	sum := 0.0
	for _, r := range gjson.GetBytes(body, "item.#.price").Array() {
		sum += r.Float()
	}
	return sum
}

func TestDepsGetSame(t *testing.T) {
	body := depsBody(t)
	want := []any{"BER-2", true, 412.0}
	for name, get := range map[string]func([]byte, []any){"ours": getOurs, "gjson": getGJSON, "gjson-many": getGJSONMany} {
		got := make([]any, len(depsPaths))
		get(body, got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	if a, b := sumOurs(body), sumGJSON(body); a != b || a == 0 {
		t.Errorf("sum of prices: ours %v, gjson %v", a, b)
	}
}

func BenchmarkDepsGet(b *testing.B) {
	body := depsBody(b)
	out := make([]any, len(depsPaths))
	for _, bc := range []struct {
		name string
		get  func([]byte, []any)
	}{{"frontdesk", getOurs}, {"gjson", getGJSON}, {"gjson-many", getGJSONMany}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.get(body, out)
			}
		})
	}
}

// BenchmarkDepsGetLate reads the same keys from the last of three copies
// of the body ({"a":body,"b":body,"c":body}, 4.6 KB), where gjson cannot
// stop early either: it stops at the first member of a name, Lookup reads
// to the end of each object because the last one counts (as in DecodeJSON
// and encoding/json).
func BenchmarkDepsGetLate(b *testing.B) {
	body := depsBody(b)
	doc := []byte(`{"a":` + string(body) + `,"b":` + string(body) + `,"c":` + string(body) + `}`)
	var ours [][]string
	for _, p := range depsPaths {
		ours = append(ours, append([]string{"c"}, p...))
	}
	theirs := gjsonPaths(ours)
	b.Run("frontdesk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range ours {
				raw, found, ok := transform.Lookup(doc, p)
				if !ok || !found {
					b.Fatal("not found")
				}
				if _, err := transform.DecodeJSON(raw); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("gjson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range theirs {
				if r := gjson.GetBytes(doc, p); !r.Exists() || r.Value() == nil {
					b.Fatal("not found")
				}
			}
		}
	})
}

func BenchmarkDepsGetList(b *testing.B) {
	body := depsBody(b)
	for _, bc := range []struct {
		name string
		sum  func([]byte) float64
	}{{"frontdesk", sumOurs}, {"gjson", sumGJSON}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.sum(body)
			}
		})
	}
}

// BenchmarkDepsValidate: every backend body is validated once when it
// arrives; gjson.Get does not validate (TestDepsGJSONDoesNotValidate), so
// using it safely costs a gjson.ValidBytes first.
func BenchmarkDepsValidate(b *testing.B) {
	body := depsBody(b)
	b.Run("frontdesk", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := transform.ScanJSON(body, 64); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gjson", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !gjson.ValidBytes(body) {
				b.Fatal("invalid")
			}
		}
	})
}

// The composed response: {"greeting": a computed string, "items": the
// backend's list as it was, "warehouse": a backend scalar}.
const depsGreeting = "Hello, Ada"

// composeSplice is what the engine's render does for a response template
// whose members are plain paths: the list's bytes copied without decoding
// (splice), the scalar decoded and written canonically.
func composeSplice(dst, body []byte) []byte {
	dst = append(dst, `{"greeting":`...)
	dst = transform.AppendString(dst, depsGreeting)
	dst = append(dst, `,"items":`...)
	raw, _, _ := transform.Lookup(body, []string{"item"})
	dst = append(dst, raw...)
	dst = append(dst, `,"warehouse":`...)
	raw, _, _ = transform.Lookup(body, []string{"@warehouse"})
	v, _ := transform.DecodeJSON(raw)
	dst, _ = transform.AppendJSON(dst, v)
	return append(dst, '}')
}

// composeEncoder is the general path: the body decoded with spans, the
// response a Go value (as expressions give it) written by an Encoder, which
// splices the unchanged list from the body's bytes.
func composeEncoder(dst, body []byte) []byte {
	v, spans, err := transform.DecodeSpans(body)
	if err != nil {
		panic(err)
	}
	m := v.(map[string]any)
	resp := map[string]any{"greeting": depsGreeting, "items": m["item"], "warehouse": m["@warehouse"]}
	dst, err = transform.NewEncoder(spans).Append(dst, resp)
	if err != nil {
		panic(err)
	}
	return dst
}

// composeSJSON builds the same bytes with sjson, reading with gjson.
func composeSJSON(_, body []byte) []byte {
	out, _ := sjson.SetBytes([]byte(`{}`), "greeting", depsGreeting)
	out, _ = sjson.SetRawBytes(out, "items", []byte(gjson.GetBytes(body, "item").Raw))
	out, _ = sjson.SetBytes(out, "warehouse", gjson.GetBytes(body, `\@warehouse`).String())
	return out
}

var depsComposers = []struct {
	name    string
	compose func(dst, body []byte) []byte
}{{"frontdesk-splice", composeSplice}, {"frontdesk-encoder", composeEncoder}, {"sjson", composeSJSON}}

func TestDepsComposeSame(t *testing.T) {
	body := depsBody(t)
	want := composeSplice(nil, body)
	if !json.Valid(want) || !bytes.Contains(want, []byte(`"items":[{"@sku":"A1-0042"`)) {
		t.Fatalf("splice: %s", want)
	}
	for _, c := range depsComposers {
		if got := c.compose(nil, body); !bytes.Equal(got, want) {
			t.Errorf("%s:\n%s\nwant\n%s", c.name, got, want)
		}
	}
}

func BenchmarkDepsCompose(b *testing.B) {
	body := depsBody(b)
	for _, c := range depsComposers {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var dst []byte
			for b.Loop() {
				dst = c.compose(dst[:0], body)
			}
		})
	}
}

// depsXML is testdata/xml/decode/inventory_record.xml (1.6 KB), the record
// of BenchmarkXMLToJSON.
func depsXML(tb testing.TB) []byte {
	tb.Helper()
	in, err := os.ReadFile("../testdata/xml/decode/inventory_record.xml")
	if err != nil {
		tb.Fatal(err)
	}
	return in
}

// withMXJAttrPrefix runs f with mxj's attribute prefix set to ours. The
// prefix is package state of mxj (TestDepsMXJOptionsAreGlobal), so it is
// put back after.
func withMXJAttrPrefix(f func()) {
	mxj.SetAttrPrefix("@")
	defer mxj.SetAttrPrefix("-")
	f()
}

func mxjToJSON(in []byte, cast bool) ([]byte, error) {
	m, err := mxj.NewMapXml(in, cast)
	if err != nil {
		return nil, err
	}
	return m.Json()
}

func unmarshal(tb testing.TB, b []byte) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("%v: %s", err, b)
	}
	return v
}

// TestDepsXMLSame: without casting, both give the same JSON value but
// for one string, where mxj loses text (TestDepsMXJSplitText), and mxj
// sorts the keys, which we keep in document order; with casting, mxj's
// cast also loses the zip code's leading zero (TestDepsMXJCast).
func TestDepsXMLSame(t *testing.T) {
	in := depsXML(t)
	item := func(v any, i int) map[string]any {
		return v.(map[string]any)["inventory"].(map[string]any)["item"].([]any)[i].(map[string]any)
	}
	withMXJAttrPrefix(func() {
		for _, cast := range []bool{false, true} {
			c, err := transform.NewXMLCodec(transform.XMLOptions{Cast: cast})
			if err != nil {
				t.Fatal(err)
			}
			ours, err := c.XMLToJSON(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := mxjToJSON(in, cast)
			if err != nil {
				t.Fatal(err)
			}
			a, b := unmarshal(t, ours), unmarshal(t, theirs)
			// <name lang="en">Descaler <![CDATA[<citric>]]> 500 ml</name>
			nameA, nameB := item(a, 3)["name"].(map[string]any), item(b, 3)["name"].(map[string]any)
			if nameA["#text"] != "Descaler <citric> 500 ml" || nameB["#text"] != "500 ml" {
				t.Errorf("CDATA text: ours %q, mxj %q", nameA["#text"], nameB["#text"])
			}
			nameB["#text"] = nameA["#text"]
			if cast {
				if za, zb := item(a, 0)["zip"], item(b, 0)["zip"]; za != "01234" || zb != 1234.0 {
					t.Errorf("zip: ours %v, mxj %v", za, zb)
				}
				item(b, 0)["zip"] = item(a, 0)["zip"]
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("cast %v: not the same value:\nours %s\nmxj  %s", cast, ours, theirs)
			}
			if !bytes.HasPrefix(ours, []byte(`{"inventory":{"@warehouse":"BER-2","@currency":"EUR",`)) ||
				!bytes.HasPrefix(theirs, []byte(`{"inventory":{"@currency":"EUR","@warehouse":"BER-2",`)) {
				t.Errorf("key order: ours %.60s, mxj %.60s", ours, theirs)
			}
		}
	})
}

// TestDepsMXJSplitText: when a CDATA section, a comment or a processing
// instruction splits an element's text, mxj keeps only the last piece.
func TestDepsMXJSplitText(t *testing.T) {
	ours, err := transform.NewXMLCodec(transform.XMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, mxj, ours string }{
		{`<p>a <![CDATA[<b>]]> c</p>`, `{"p":"c"}`, `{"p":"a \u003cb\u003e c"}`},
		{`<p>a<!-- x -->b</p>`, `{"p":"b"}`, `{"p":"ab"}`},
		{`<p>a<?pi x?>b</p>`, `{"p":"b"}`, `{"p":"ab"}`},
	} {
		if got, err := mxjToJSON([]byte(tc.in), false); err != nil || string(got) != tc.mxj {
			t.Errorf("mxj %s: %s %v, want %s", tc.in, got, err, tc.mxj)
		}
		if got, err := ours.XMLToJSON(nil, []byte(tc.in)); err != nil || string(got) != tc.ours {
			t.Errorf("ours %s: %s %v, want %s", tc.in, got, err, tc.ours)
		}
	}
}

func BenchmarkDepsXMLToJSON(b *testing.B) {
	in := depsXML(b)
	for _, cast := range []bool{false, true} {
		suffix := ""
		if cast {
			suffix = "-cast"
		}
		c, err := transform.NewXMLCodec(transform.XMLOptions{Cast: cast})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("frontdesk"+suffix, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			var dst []byte
			for b.Loop() {
				if dst, err = c.XMLToJSON(dst[:0], in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("mxj"+suffix, func(b *testing.B) {
			withMXJAttrPrefix(func() {
				b.ReportAllocs()
				b.SetBytes(int64(len(in)))
				for b.Loop() {
					if _, err := mxjToJSON(in, cast); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// TestDepsGJSONDoesNotValidate: gjson.Get answers from malformed documents
// as if they were fine; only a separate gjson.Valid pass tells.
func TestDepsGJSONDoesNotValidate(t *testing.T) {
	for _, doc := range []string{`{"a":1,"b":}`, `{"a":1 "b":2`, `{"a":tru}`, `{"a":01}`, `{"a":1}}}garbage`} {
		if r := gjson.Get(doc, "a"); !r.Exists() || gjson.Valid(doc) {
			t.Errorf("%s: Get(a) = %q exists %v, Valid %v", doc, r.Raw, r.Exists(), gjson.Valid(doc))
		}
		if _, err := transform.ScanJSON([]byte(doc), 64); err == nil {
			t.Errorf("%s: ScanJSON accepted it", doc)
		}
	}
}

// TestDepsGJSONPathSyntax: gjson paths are a language, and backend keys
// collide with it. An unescaped key that looks like a modifier runs the
// modifier; gjson.DisableModifiers is deprecated and does nothing
// (modifiers can only be turned off for the whole binary, with -ldflags -X
// github.com/tidwall/gjson.disableModifiers=true); keys with * or ? match
// as patterns. Every key must go through gjson.Escape, and a forgotten one
// reads the wrong value without error.
func TestDepsGJSONPathSyntax(t *testing.T) {
	for _, tc := range []struct{ doc, path, escaped, wrong, right string }{
		{`{"a":{"@reverse":"x","b":1}}`, "a.@reverse", `a.\@reverse`, `{"b":1,"@reverse":"x"}`, `"x"`},
		{`{"@keys":"x","k":1}`, "@keys", `\@keys`, `["@keys","k"]`, `"x"`},
		{`{"axb":2,"a*b":1}`, "a*b", `a\*b`, "2", "1"},
		{`{"ab":2,"a?":1}`, "a?", `a\?`, "2", "1"},
	} {
		if r := gjson.Get(tc.doc, tc.path); r.Raw != tc.wrong {
			t.Errorf("gjson.Get(%s, %q) = %s, want (wrongly) %s", tc.doc, tc.path, r.Raw, tc.wrong)
		}
		if r := gjson.Get(tc.doc, tc.escaped); r.Raw != tc.right {
			t.Errorf("gjson.Get(%s, %q) = %s, want %s", tc.doc, tc.escaped, r.Raw, tc.right)
		}
	}
	// The deprecated switch is used on purpose: the test shows it does nothing.
	//lint:ignore SA1019 setting it is what the test checks has no effect
	gjson.DisableModifiers = true
	//lint:ignore SA1019 restored for the tests that follow
	defer func() { gjson.DisableModifiers = false }()
	if r := gjson.Get(`{"a":{"@reverse":"x","b":1}}`, "a.@reverse"); r.Raw == `"x"` {
		t.Errorf("DisableModifiers works again: %s", r.Raw)
	}
}

// TestDepsGJSONUnboundedNesting: gjson.Valid has no depth limit (it
// recurses once per level; the README gives the depth at which the
// goroutine stack overflows, a fatal error, found in a separate process),
// where ScanJSON refuses past its limit.
func TestDepsGJSONUnboundedNesting(t *testing.T) {
	const depth = 100_000
	doc := append(append(bytes.Repeat([]byte("["), depth), '1'), bytes.Repeat([]byte("]"), depth)...)
	if !gjson.ValidBytes(doc) {
		t.Errorf("gjson.ValidBytes refused %d levels", depth)
	}
	if _, err := transform.ScanJSON(doc, 64); err == nil {
		t.Errorf("ScanJSON accepted %d levels", depth)
	}
}

// TestDepsMXJCast: mxj's cast turns text into numbers whenever
// strconv.ParseFloat takes it, so leading zeros, exponents, signs,
// whitespace and long integers change; XMLOptions.Cast keeps them strings.
func TestDepsMXJCast(t *testing.T) {
	ours, err := transform.NewXMLCodec(transform.XMLOptions{Cast: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ text, mxj string }{
		{"01234", "1234"},
		{"12345678901234567890", "12345678901234567000"},
		{"1e5", "100000"},
		{"+1", "1"},
		{"1.50", "1.5"},
		{" 3", "3"},
		{"True", "true"},
	} {
		in := []byte("<r><v>" + tc.text + "</v></r>")
		got, err := mxjToJSON(in, true)
		if want := `{"r":{"v":` + tc.mxj + `}}`; err != nil || string(got) != want {
			t.Errorf("mxj %q: %s %v, want %s", tc.text, got, err, want)
		}
		j, err := ours.XMLToJSON(nil, in)
		if want, _ := json.Marshal(map[string]any{"r": map[string]any{"v": tc.text}}); err != nil || string(j) != string(want) {
			t.Errorf("ours %q: %s %v, want %s", tc.text, j, err, want)
		}
	}
}

// TestDepsMXJOptionsAreGlobal: mxj's options are package variables, so
// two endpoints with different XML options cannot coexist in one process:
// setting one's changes the other's output (and concurrently, is a data
// race). Two XMLCodecs with different options are independent.
func TestDepsMXJOptionsAreGlobal(t *testing.T) {
	in := []byte(`<item sku="A1"/>`)
	endpointA := func() string { j, _ := mxjToJSON(in, false); return string(j) }
	mxj.SetAttrPrefix("@")
	defer mxj.SetAttrPrefix("-")
	before := endpointA()
	mxj.SetAttrPrefix("_") // endpoint B configures itself
	after := endpointA()
	if before != `{"item":{"@sku":"A1"}}` || after != `{"item":{"_sku":"A1"}}` {
		t.Errorf("mxj: A before B %s, after %s", before, after)
	}
	a, _ := transform.NewXMLCodec(transform.XMLOptions{AttrPrefix: "@"})
	b, _ := transform.NewXMLCodec(transform.XMLOptions{AttrPrefix: "_"})
	ja, _ := a.XMLToJSON(nil, in)
	jb, _ := b.XMLToJSON(nil, in)
	if string(ja) != `{"item":{"@sku":"A1"}}` || string(jb) != `{"item":{"_sku":"A1"}}` {
		t.Errorf("codecs: %s %s", ja, jb)
	}
}

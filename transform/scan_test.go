package transform

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestScanJSONSpaced(t *testing.T) {
	for _, tc := range []struct {
		in     string
		spaced bool
	}{
		{`{"a":[1,2,{"b":"x y"}]}`, false},
		{`{"a": 1}`, true},
		{" 1", true},
		{"1\n", true},
		{`["  spaces  inside  strings  "]`, false},
		{"[1,\n2]", true},
	} {
		spaced, err := ScanJSON([]byte(tc.in), 10)
		if err != nil || spaced != tc.spaced {
			t.Errorf("ScanJSON(%q) = %v, %v; want %v", tc.in, spaced, err, tc.spaced)
		}
	}
}

func TestCompact(t *testing.T) {
	for _, in := range []string{
		"{ \"a\" : [ 1 , 2.5e3 , true , null , \"x \\\" y\" ] ,\n\t\"b\" : { } }",
		`"just a string"`,
		"  [ ]  ",
		`{"k":"\u00e9 \\ \/"}`,
	} {
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(in)); err != nil {
			t.Fatal(err)
		}
		if got := Compact(nil, []byte(in)); string(got) != want.String() {
			t.Errorf("Compact(%q) = %q, want %q", in, got, want.String())
		}
	}
}

// TestCompactRewritesStrings: every form of invalid UTF-8 and every lone
// surrogate escape is flagged by Scan and written by Compact as U+FFFD (raw
// bytes), one per invalid byte; valid text and valid pairs stay as they
// are; and the rewritten bytes decode to what the original decodes to.
func TestCompactRewritesStrings(t *testing.T) {
	const r = "\uFFFD"
	for _, tc := range []struct {
		name  string
		in    string
		flags ScanFlags
		want  string
	}{
		{"byte FF", "\"a\xffb\"", BadUTF8, "\"a" + r + "b\""},
		{"bytes above F4", "\"\xf5\x80\x80\x80\xf8\xfe\"", BadUTF8, "\"" + r + r + r + r + r + r + "\""},
		{"lone continuation byte", "\"\x80\"", BadUTF8, "\"" + r + "\""},
		{"continuation after a full rune", "\"\xc3\xa9\xa9\"", BadUTF8, "\"é" + r + "\""},
		{"overlong two bytes", "\"\xc0\xaf\"", BadUTF8, "\"" + r + r + "\""},
		{"overlong three bytes", "\"\xe0\x80\xaf\"", BadUTF8, "\"" + r + r + r + "\""},
		{"overlong four bytes", "\"\xf0\x80\x80\xaf\"", BadUTF8, "\"" + r + r + r + r + "\""},
		{"encoded surrogate", "\"\xed\xa0\x80\"", BadUTF8, "\"" + r + r + r + "\""},
		{"beyond U+10FFFF", "\"\xf4\x90\x80\x80\"", BadUTF8, "\"" + r + r + r + r + "\""},
		{"truncated before the quote", "\"\xe2\x82\"", BadUTF8, "\"" + r + r + "\""},
		{"truncated before ASCII", "\"\xf0\x9f\x98x\"", BadUTF8, "\"" + r + r + r + "x\""},
		{"in a key", "{\"k\xff\":1}", BadUTF8, "{\"k" + r + "\":1}"},
		{"valid multi-byte untouched", "\"é世😀\xf4\x8f\xbf\xbf\"", 0, "\"é世😀\xf4\x8f\xbf\xbf\""},
		{"U+FFFD itself untouched", "\"\xef\xbf\xbd\"", 0, "\"\xef\xbf\xbd\""},
		{"lone high surrogate", `"\ud800"`, LoneSurrogate, "\"" + r + "\""},
		{"lone high surrogate, upper case", `"\uDBFF"`, LoneSurrogate, "\"" + r + "\""},
		{"high surrogate then text", `"\ud800x"`, LoneSurrogate, "\"" + r + "x\""},
		{"high surrogate then a non-surrogate escape", `"\ud800\u0041"`, LoneSurrogate, "\"" + r + "\\u0041\""},
		{"two high surrogates then a low one", `"\ud800\ud83d\ude00"`, LoneSurrogate, "\"" + r + "\\ud83d\\ude00\""},
		{"lone low surrogate", `"\udc00"`, LoneSurrogate, "\"" + r + "\""},
		{"low then high", `"\uDFFF\uD800"`, LoneSurrogate, "\"" + r + r + "\""},
		{"valid pair untouched", `"\ud83d\ude00 \uD83D\uDE00"`, 0, `"\ud83d\ude00 \uD83D\uDE00"`},
		{"escaped backslash, not an escape", `"\\ud800"`, 0, `"\\ud800"`},
		{"other escapes untouched", `"\u00e9\n\"\/"`, 0, `"\u00e9\n\"\/"`},
		{"all at once", "{ \"a\" : [\"\xff\", \"\\udc00\"] }", Spaced | BadUTF8 | LoneSurrogate, "{\"a\":[\"" + r + "\",\"" + r + "\"]}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flags, err := Scan([]byte(tc.in), 10)
			if err != nil || flags != tc.flags {
				t.Fatalf("Scan(%q) = %b, %v; want %b", tc.in, flags, err, tc.flags)
			}
			if rewrite, _ := ScanJSON([]byte(tc.in), 10); rewrite != (tc.flags != 0) {
				t.Errorf("ScanJSON says rewrite %v", rewrite)
			}
			got := Compact(nil, []byte(tc.in))
			if string(got) != tc.want {
				t.Fatalf("Compact(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if !utf8.Valid(got) {
				t.Errorf("Compact(%q) is not UTF-8", tc.in)
			}
			if again, err := Scan(got, 10); err != nil || again != 0 {
				t.Errorf("Scan of the rewritten %q = %b, %v", got, again, err)
			}
			before, err1 := DecodeJSON([]byte(tc.in))
			after, err2 := DecodeJSON(got)
			if err1 != nil || err2 != nil || !reflect.DeepEqual(before, after) {
				t.Errorf("decoded: %q (%v) before, %q (%v) after the rewrite", before, err1, after, err2)
			}
		})
	}
}

// FuzzCompact: for every document Scan accepts, Compact gives valid UTF-8
// without lone surrogates that decodes to what the original decodes to;
// without BadUTF8 and LoneSurrogate it gives what encoding/json's Compact
// gives; and the flags are != 0 exactly when it changes something.
func FuzzCompact(f *testing.F) {
	for _, s := range []string{`{"a": [1, {"b": null}]}`, ` "x" `, `[1,2]`, "{\"a\"\n:\t\"\\\" \"}",
		"[\"\xff\xed\xa0\x80\xc0\xaf\"]", `{"\ud800":"\udc00\ud83d\ude00"}`, "\"\xf0\x9f\x98\"", `"\\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		flags, err := Scan(b, 100)
		if err != nil {
			return
		}
		var want bytes.Buffer
		if err := json.Compact(&want, b); err != nil {
			t.Fatalf("Scan accepted %q, json.Compact refuses it: %v", b, err)
		}
		got := Compact(nil, b)
		if flags&^Spaced == 0 && !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("Compact(%q) = %q, want %q", b, got, want.Bytes())
		}
		if (flags&Spaced != 0) != !bytes.Equal(want.Bytes(), b) {
			t.Fatalf("Scan(%q) flags %b, but compacting changes it: %v", b, flags, !bytes.Equal(want.Bytes(), b))
		}
		if (flags != 0) != !bytes.Equal(got, b) {
			t.Fatalf("Scan(%q) flags %b, but rewriting changes it: %v", b, flags, !bytes.Equal(got, b))
		}
		if !utf8.Valid(got) {
			t.Fatalf("Compact(%q) = %q: not UTF-8", b, got)
		}
		if again, err := Scan(got, 100); err != nil || again != 0 {
			t.Fatalf("Scan(Compact(%q)) = %b, %v", b, again, err)
		}
		before, err1 := DecodeJSON(b)
		after, err2 := DecodeJSON(got)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(before, after) {
			t.Fatalf("%q decodes to %#v (%v), rewritten %q to %#v (%v)", b, before, err1, got, after, err2)
		}
	})
}

func benchDoc(b *testing.B) []byte {
	doc, err := os.ReadFile("../testdata/xml/decode/inventory_record.json")
	if err != nil {
		b.Skip(err)
	}
	var v any
	json.Unmarshal(doc, &v)
	pretty, _ := json.MarshalIndent(map[string]any{"a": v, "b": v, "c": v}, "", "  ")
	return pretty
}

// BenchmarkScanJSON compares the one-pass scan with what it replaces
// (encoding/json's Valid), on a ~5 KB pretty-printed document.
func BenchmarkScanJSON(b *testing.B) {
	doc := benchDoc(b)
	b.Run("ScanJSON", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, err := ScanJSON(doc, 64); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if !json.Valid(doc) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("Compact", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		dst := make([]byte, 0, len(doc))
		for b.Loop() {
			dst = Compact(dst[:0], doc)
		}
	})
	b.Run("json.Compact", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			json.Compact(&buf, doc)
		}
	})
}

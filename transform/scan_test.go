package transform

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
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

// FuzzCompact: for every document ScanJSON accepts, Compact gives what
// encoding/json's Compact gives, and says "spaced" exactly when it changes
// something.
func FuzzCompact(f *testing.F) {
	for _, s := range []string{`{"a": [1, {"b": null}]}`, ` "x" `, `[1,2]`, "{\"a\"\n:\t\"\\\" \"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		spaced, err := ScanJSON(b, 100)
		if err != nil {
			return
		}
		var want bytes.Buffer
		if err := json.Compact(&want, b); err != nil {
			t.Fatalf("ScanJSON accepted %q, json.Compact refuses it: %v", b, err)
		}
		got := Compact(nil, b)
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("Compact(%q) = %q, want %q", b, got, want.Bytes())
		}
		if spaced != !bytes.Equal(got, b) {
			t.Fatalf("ScanJSON(%q) spaced = %v, but compacting changes it: %v", b, spaced, !bytes.Equal(got, b))
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

package transform

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// judge reads JSON as a strict reader would, keeping every number's text
// (json.Number), so two writings of one value compare equal only when
// their strings are the same and their numbers have the same digits.
func judge(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return v
}

// FuzzSpliceMatchesDecode: whatever a backend sends, once Scan has flagged
// it and Compact rewritten it, the bytes are valid UTF-8, and every value
// in them is the same JSON value, digit for digit and character for
// character, whether spliced from the bytes (the whole body, or Lookup of
// a path) or decoded and encoded again (with only the table's numbers, so
// objects and lists really are re-encoded, and with the whole table).
func FuzzSpliceMatchesDecode(f *testing.F) {
	for _, s := range []string{
		`{"n":12345678901234567890,"p":1.50,"e":1E5,"z":-0.0,"s":"\ud800x","t":"\ud83d\ude00"}`,
		"{\"a\":{\"b\":\"\xff\xed\xa0\x80\",\"c\":[1.0,2e0,\"\xc0\"]},\"a\":{\"b\":1e-400}}",
		`[1,"x",{"k":[0.10]}]`, `1.50`, "\"\\udc00\xf4\x90\x80\x80\"", `{"<":"&>","\u00e9":"\u2028"}`,
		`{ "a" : { "b" : { "c" : 100000000000000000000000 } } }`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		flags, err := Scan(b, 32)
		if err != nil {
			return
		}
		r := b
		if flags != 0 {
			r = Compact(nil, b)
		}
		if !utf8.Valid(r) {
			t.Fatalf("%q rewritten as %q: not UTF-8", b, r)
		}
		if again, _ := Scan(r, 32); again != 0 {
			t.Fatalf("%q rewritten as %q still has %b", b, r, again) // a lone surrogate escape
		}
		v, spans, err := DecodeSpans(r)
		if err != nil {
			t.Fatalf("DecodeSpans(%q): %v", r, err)
		}
		var nums Encoder
		nums.AddNumbers(spans)
		whole := NewEncoder(spans)
		same := func(what string, spliced []byte, v any) {
			for _, enc := range []*Encoder{&nums, whole} {
				out, err := enc.Append(nil, v)
				if err != nil {
					t.Fatalf("%s of %q: %v", what, r, err)
				}
				if !utf8.Valid(out) {
					t.Fatalf("%s of %q encodes as %q: not UTF-8", what, r, out)
				}
				if a, b := judge(t, spliced), judge(t, out); !reflect.DeepEqual(a, b) {
					t.Fatalf("%s of %q: spliced %s, decoded and encoded %s", what, r, spliced, out)
				}
			}
		}
		same("the document", r, v)
		// Every member reached through objects, as the gateway splices a
		// plain path from the bytes.
		var walk func(path []string, v any)
		walk = func(path []string, v any) {
			m, ok := v.(map[string]any)
			if !ok || len(path) > 4 {
				return
			}
			for k, el := range m {
				p := append(path[:len(path):len(path)], k)
				raw, found, ok := Lookup(r, p)
				if !ok || !found {
					t.Fatalf("Lookup(%q, %q) = %v, %v", r, p, found, ok)
				}
				same("path "+string(AppendString(nil, k)), raw, el)
				walk(p, el)
			}
		}
		walk(nil, v)
	})
}

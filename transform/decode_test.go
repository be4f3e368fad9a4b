package transform

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestDecodeJSONMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"a":[1,2.5,-3,1e3,-0,0.1,12345678901234567890],"b":{"c":null,"d":true,"e":false}}`,
		`"caf\u00e9 \ud83d\ude00 \ud800 \ud83dA tab\t"`,
		"\"bad \xff utf8\"",
		`{"dup":1,"dup":2}`,
		`[[],{},[{}],""]`,
		`1e-400`,
		`-123456789012345`,
		`  {"spaced" : [ 1 , 2 ] }  `,
	} {
		var want any
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		got, err := DecodeJSON([]byte(in))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("DecodeJSON(%q) = %#v, %v; want %#v", in, got, err, want)
		}
	}
}

// FuzzDecodeJSON: what ScanJSON accepts, DecodeJSON decodes exactly as
// encoding/json does; DecodeSpans and the Encoder give back the compact
// bytes of every object and list; nothing panics.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":null}]}`, `["\u00e9",-0,1e5]`, `{"a":1,"a":{"x":[]}}`, `[[[1]],{"k":"v"}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeJSON(b) // never panics, valid or not
		Lookup(b, []string{"a", "b"})
		if _, err := ScanJSON(b, 64); err != nil {
			return
		}
		var want any
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("ScanJSON accepted %q, encoding/json refuses it: %v", b, err)
		}
		got, err := DecodeJSON(b)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeJSON(%q) = %#v, %v; want %#v", b, got, err, want)
		}
		compact := Compact(nil, b)
		v, spans, err := DecodeSpans(compact)
		if err != nil {
			t.Fatal(err)
		}
		out, err := NewEncoder(spans).Append(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		// Objects and lists come back as written; scalars are canonical.
		switch v.(type) {
		case map[string]any, []any:
			if len(compact) > 2 && string(out) != string(compact) && !hasDuplicateKeys(v, compact) {
				t.Fatalf("spliced %q, want %q", out, compact)
			}
		}
	})
}

// hasDuplicateKeys is true when decoding dropped members (duplicate keys),
// so the decoded object is smaller than its text and still spliced whole:
// that is fine, the text is what the backend wrote.
func hasDuplicateKeys(v any, raw []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && len(m) != strings.Count(string(raw), `":`)
}

func TestSpansSpliceUnchangedValues(t *testing.T) {
	raw := []byte(`{"z":1,"items":[{"sku":"B","qty":2},{"sku":"A","qty":0}],"user":{"name":"Ada","b":true,"a":false}}`)
	v, spans, err := DecodeSpans(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	enc := NewEncoder(spans)
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"whole document keeps its order", m, string(raw)},
		{"a nested object", m["user"], `{"name":"Ada","b":true,"a":false}`},
		{"a nested list", m["items"], `[{"sku":"B","qty":2},{"sku":"A","qty":0}]`},
		{"a new list of unchanged objects", []any{m["user"], m["items"].([]any)[1]}, `[{"name":"Ada","b":true,"a":false},{"sku":"A","qty":0}]`},
		{"a sub-slice is new", m["items"].([]any)[1:], `[{"sku":"A","qty":0}]`},
		{"a built object has sorted keys", map[string]any{"b": m["z"], "a": m["user"]}, `{"a":{"name":"Ada","b":true,"a":false},"b":1}`},
		{"scalars are canonical", m["z"], `1`},
	} {
		got, err := enc.Append(nil, tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	if out, _ := AppendJSON(nil, m["user"]); string(out) != `{"a":false,"b":true,"name":"Ada"}` {
		t.Errorf("without spans, objects are canonical: %s", out)
	}
}

func TestDecodeKeys(t *testing.T) {
	raw := []byte(`{"id":"c1","items":[{"sku":"A"}],"huge":{"x":[1,2,3]},"total":5}`)
	v, spans, err := DecodeKeys(raw, map[string]*KeyUse{"items": {Whole: true}, "total": {Whole: true}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"items": []any{map[string]any{"sku": "A"}}, "total": 5.0}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got %#v", v)
	}
	if _, ok := spans.Lookup(v); ok {
		t.Error("a partial object must not be spliced as the whole document")
	}
	if b, ok := spans.Lookup(v.(map[string]any)["items"]); !ok || string(b) != `[{"sku":"A"}]` {
		t.Errorf("items not recorded: %s", b)
	}
	if v, _, _ := DecodeKeys([]byte(`[1,2]`), map[string]*KeyUse{"a": {Whole: true}}); !reflect.DeepEqual(v, []any{1.0, 2.0}) {
		t.Errorf("a list is decoded whole: %#v", v)
	}
}

func TestLookup(t *testing.T) {
	raw := []byte(`{"a":{"b":[1,{"c":2}],"s":"x\"y","n":null},"a2":3,"dup":1,"dup":{"k":true}}`)
	for _, tc := range []struct {
		path      string
		raw       string
		found, ok bool
	}{
		{"a", `{"b":[1,{"c":2}],"s":"x\"y","n":null}`, true, true},
		{"a.b", `[1,{"c":2}]`, true, true},
		{"a.s", `"x\"y"`, true, true},
		{"a.n", `null`, true, true},
		{"a.missing", ``, false, true},
		{"a.missing.deeper", ``, false, false},
		{"a.b.c", ``, false, false},
		{"a2.x", ``, false, false},
		{"dup", `{"k":true}`, true, true},
		{"dup.k", `true`, true, true},
	} {
		got, found, ok := Lookup(raw, strings.Split(tc.path, "."))
		if string(got) != tc.raw || found != tc.found || ok != tc.ok {
			t.Errorf("Lookup(%s) = %s, %v, %v", tc.path, got, found, ok)
		}
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	doc := Compact(nil, benchDoc(b))
	b.Run("DecodeJSON", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, err := DecodeJSON(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeSpans", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, _, err := DecodeSpans(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			var v any
			if err := json.Unmarshal(doc, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestDecodeKeysElements(t *testing.T) {
	raw := []byte(`{"items":[{"sku":"A","qty":2,"img":"x","tags":["a"]},"odd",{"qty":0}],"other":[{"sku":"B"}],"n":5}`)
	v, spans, err := DecodeKeys(raw, map[string]*KeyUse{"items": {Elems: []string{"sku", "tags"}}, "n": {Elems: []string{}}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"items": []any{map[string]any{"sku": "A", "tags": []any{"a"}}, "odd", map[string]any{}},
		"n":     5.0, // not a list: decoded whole, so an expression fails on it as it would have
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got %#v", v)
	}
	items := v.(map[string]any)["items"].([]any)
	if _, ok := spans.Lookup(items); ok {
		t.Error("a list of partial elements must not be spliced")
	}
	if _, ok := spans.Lookup(items[0]); ok {
		t.Error("a partial element must not be spliced")
	}
	if b, ok := spans.Lookup(items[0].(map[string]any)["tags"]); !ok || string(b) != `["a"]` {
		t.Errorf("a whole value inside a partial element is recorded: %s", b)
	}
}

// TestBudgetCountsWhatIsHeld: what a budget counts for a decoded document
// is what the heap holds for it: the values, their spans and the buffers
// of the lists being read (for a long list of small objects the spans and
// buffers are a fifth more than the values), within 5% below (the race
// detector's own overhead) and a fifth above.
func TestBudgetCountsWhatIsHeld(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := range 100000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"qty":%d}`, i, i%1000)
	}
	b.WriteString(`]}`)
	doc := []byte(b.String())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	budget := NewBudget(1<<40, nil)
	v, spans, err := budget.DecodeSpans(doc)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	runtime.KeepAlive(v)
	runtime.KeepAlive(spans)
	counted := budget.InUse()
	t.Logf("counted %.1f MB, held %.1f MB", float64(counted)/(1<<20), float64(held)/(1<<20))
	if counted < held*19/20 || counted > held*6/5 {
		t.Errorf("counted %d bytes for %d held", counted, held)
	}
}

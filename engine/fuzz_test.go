package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"
)

// nodeValue converts a Node tree into the values encoding/json decodes
// into with UseNumber.
func nodeValue(n *Node) any {
	switch n.Kind {
	case KindNull:
		return nil
	case KindBool:
		return n.Bool
	case KindNumber:
		return json.Number(n.Str)
	case KindString:
		return n.Str
	case KindArray:
		out := make([]any, len(n.Elems))
		for i, e := range n.Elems {
			out[i] = nodeValue(e)
		}
		return out
	}
	out := make(map[string]any, len(n.Members))
	for _, m := range n.Members {
		out[m.Key] = nodeValue(m.Value)
	}
	return out
}

func assertSameAsEncodingJSON(t *testing.T, src []byte, n *Node) {
	t.Helper()
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	if !json.Valid(src) {
		t.Fatalf("ParseJSON accepted %q, which encoding/json rejects", src)
	}
	if !utf8.Valid(src) {
		return // encoding/json replaces invalid UTF-8; ParseJSON keeps it
	}
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var want any
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	if got := nodeValue(n); !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseJSON(%q) = %#v, encoding/json = %#v", src, got, want)
	}
}

// addSeeds adds every .json file under dir as a seed.
func addSeeds(f *testing.F, dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
}

// FuzzParseJSON: ParseJSON never panics, everything it accepts is valid
// JSON that decodes to the same values, its errors have positions inside the
// input, and it accepts all valid JSON but duplicate keys and deep nesting.
func FuzzParseJSON(f *testing.F) {
	addSeeds(f, loadDir)
	for _, s := range []string{`{"a":"\ud83d\ude00","b":[1,-0.5e3,true,null]}`, "\xef\xbb\xbf[]", `"\ud800"`, `{"a":1,"a":2}`, "[\"\xff\"]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		n, err := ParseJSON(src)
		body := bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
		if err == nil {
			assertSameAsEncodingJSON(t, src, n)
			checkPositions(t, src, n)
			return
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("error %T: %v", err, err)
		}
		if se.Pos.Line < 1 || se.Pos.Col < 1 || se.Pos.Off < 0 || se.Pos.Off > len(src) {
			t.Fatalf("error position %+v outside the input: %v", se.Pos, err)
		}
		if json.Valid(body) && !strings.HasPrefix(se.Msg, "duplicate key") && !strings.HasPrefix(se.Msg, "nested more than") {
			t.Fatalf("ParseJSON rejects valid JSON %q: %v", src, err)
		}
	})
}

// checkPositions: every node's position is where its value starts.
func checkPositions(t *testing.T, src []byte, n *Node) {
	t.Helper()
	first := map[Kind]string{KindNull: "n", KindObject: "{", KindArray: "[", KindString: `"`}
	var walk func(n *Node)
	walk = func(n *Node) {
		p := n.Pos
		if p.Off < 0 || p.Off >= len(src) || p.Line < 1 || p.Col < 1 {
			t.Fatalf("node at %+v outside the input", p)
		}
		lineStart := bytes.LastIndexByte(src[:p.Off], '\n') + 1
		if lineStart == 0 && bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) {
			lineStart = 3
		}
		if want := 1 + bytes.Count(src[:p.Off], []byte("\n")); p.Line != want || p.Col != p.Off-lineStart+1 {
			t.Fatalf("node at %+v, but offset %d is line %d col %d", p, p.Off, want, p.Off-lineStart+1)
		}
		if c, ok := first[n.Kind]; ok && string(src[p.Off]) != c {
			t.Fatalf("%s node at %+v starts with %q", n.Kind, p, src[p.Off])
		}
		for _, m := range n.Members {
			if src[m.KeyPos.Off] != '"' {
				t.Fatalf("key %q at %+v", m.Key, m.KeyPos)
			}
			walk(m.Value)
		}
		for _, e := range n.Elems {
			walk(e)
		}
		if n.Kind == KindString {
			end := n.PosAt(len(n.Str))
			if end.Off >= len(src) || src[end.Off] != '"' || end.Line != p.Line {
				t.Fatalf("PosAt(len) of %q is %+v, not its closing quote", n.Str, end)
			}
		}
	}
	walk(n)
}

// FuzzLoadSpec: loading a gateway with one fuzzed endpoint file never
// panics, and either loads or reports problems that point into the files.
func FuzzLoadSpec(f *testing.F) {
	addSeeds(f, filepath.Join(loadDir, "endpoint"))
	addSeeds(f, "../endpoints/mobile")
	addSeeds(f, "../endpoints/web")
	gateway, err := os.ReadFile(filepath.Join(loadDir, "gateway.json"))
	if err != nil {
		f.Fatal(err)
	}
	keys, err := os.ReadFile(filepath.Join(loadDir, "keys.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, spec []byte) {
		fsys := fstest.MapFS{
			"gateway.json":        {Data: gateway},
			"keys.json":           {Data: keys},
			"endpoints/fuzz.json": {Data: spec},
		}
		g, err := Load(fsys, "gateway.json", loadOptions())
		if err == nil {
			if g == nil {
				t.Fatal("neither a gateway nor an error")
			}
			return
		}
		var list LoadErrors
		if !errors.As(err, &list) {
			t.Fatalf("error %T: %v", err, err)
		}
		if !list.HasErrors() {
			t.Fatal("failed with warnings only")
		}
		lines := bytes.Split(spec, []byte("\n"))
		for _, e := range list {
			if e.Line < 1 || e.Column < 1 || e.Message == "" || e.Rule == "" {
				t.Fatalf("bad problem %#v", e)
			}
			if e.File != "endpoints/fuzz.json" {
				t.Fatalf("problem in %s, which is not fuzzed: %v", e.File, e)
			}
			if e.Line > len(lines) || e.Column > len(lines[e.Line-1])+1 {
				t.Fatalf("%v points outside the file", e)
			}
		}
	})
}

package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// specStrings feeds the string values of the spec corpus (paths,
// expressions) to a fuzz target as seeds.
func specStrings(f *testing.F, add func(string)) {
	for _, dir := range []string{"../testdata/lint", "../endpoints"} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			var v any
			if json.Unmarshal(b, &v) != nil {
				return nil
			}
			var walk func(v any)
			walk = func(v any) {
				switch x := v.(type) {
				case string:
					add(x)
				case []any:
					for _, e := range x {
						walk(e)
					}
				case map[string]any:
					for _, e := range x {
						walk(e)
					}
				}
			}
			walk(v)
			return nil
		})
	}
}

// FuzzParsePath: ParsePath never panics; what it accepts it splits exactly
// (literals and ${...} put back together give the template), literals never
// hold '?', '#' or control bytes, and errors point into the template.
func FuzzParsePath(f *testing.F) {
	specStrings(f, func(s string) { f.Add(s) })
	for _, s := range []string{"/", "/a/${x}${y}", "/a/${'}'}", "/a/${", "/a/${}", "/${ {a:1}.a }", "/a?b", "/a/${`x}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		parts, err := ParsePath(tmpl)
		if err != nil {
			var pe *PathError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T: %v", err, err)
			}
			if pe.Offset < 0 || pe.Offset > len(tmpl) || (len(tmpl) > 0 && pe.Offset >= len(tmpl)) {
				t.Fatalf("offset %d outside %q", pe.Offset, tmpl)
			}
			return
		}
		var b strings.Builder
		for i, p := range parts {
			switch {
			case p.Expr != "" && p.Literal != "":
				t.Fatalf("part %d is both: %#v", i, p)
			case p.Expr != "":
				if tmpl[p.Offset:p.Offset+len(p.Expr)] != p.Expr || tmpl[p.Offset-2:p.Offset] != "${" {
					t.Fatalf("part %d offset %d does not point at %q in %q", i, p.Offset, p.Expr, tmpl)
				}
				if strings.TrimSpace(p.Expr) == "" {
					t.Fatalf("empty expression accepted in %q", tmpl)
				}
				b.WriteString("${" + p.Expr + "}")
			case p.Literal != "":
				if i > 0 && parts[i-1].Literal != "" {
					t.Fatalf("two literals in a row in %q", tmpl)
				}
				if strings.ContainsAny(p.Literal, "?#") {
					t.Fatalf("literal %q holds '?' or '#'", p.Literal)
				}
				for _, c := range []byte(p.Literal) {
					if c < 0x21 || c == 0x7f {
						t.Fatalf("literal %q holds a control byte", p.Literal)
					}
				}
				b.WriteString(p.Literal)
			default:
				t.Fatalf("empty part %d in %q", i, tmpl)
			}
		}
		if b.String() != tmpl {
			t.Fatalf("parts of %q put back give %q", tmpl, b.String())
		}
		if !strings.HasPrefix(tmpl, "/") {
			t.Fatalf("accepted %q without a leading slash", tmpl)
		}
	})
}

// FuzzAppendSegment: whatever string a client sends, the segment holds no
// byte that ends or escapes it, only unreserved bytes and %XX, and decodes
// back to the value; "." and ".." are always encoded.
func FuzzAppendSegment(f *testing.F) {
	for _, s := range []string{"abc", ".", "..", "...", "../admin", "a/b", "?#%", "\r\n", "%2e%2e", "café", "\xff\xfe", "", " "} {
		f.Add(s)
	}
	specStrings(f, func(s string) { f.Add(s) })
	f.Fuzz(func(t *testing.T, s string) {
		out, err := AppendSegment([]byte("/x/"), s)
		if s == "" {
			if !errors.Is(err, ErrEmptySegment) {
				t.Fatalf("empty string: %q, %v", out, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(out, []byte("/x/")) {
			t.Fatalf("dst lost: %q", out)
		}
		seg := string(out[3:])
		if strings.ContainsAny(seg, "/?#\r\n") {
			t.Fatalf("AppendSegment(%q) = %q", s, seg)
		}
		if seg == "." || seg == ".." {
			t.Fatalf("AppendSegment(%q) = %q, a dot segment", s, seg)
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-_.~", c) >= 0:
			case c == '%' && i+2 < len(seg) && isUpperHex(seg[i+1]) && isUpperHex(seg[i+2]):
				i += 2
			default:
				t.Fatalf("AppendSegment(%q) = %q: byte %q at %d", s, seg, c, i)
			}
		}
		back, err := url.PathUnescape(seg)
		if err != nil || back != s {
			t.Fatalf("%q unescapes to %q (%v), want %q", seg, back, err, s)
		}
		u, err := url.Parse("http://h" + string(out))
		if err != nil || u.Path != "/x/"+s || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("as a URL %q: path %q query %q fragment %q (%v)", out, u.Path, u.RawQuery, u.Fragment, err)
		}
	})
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

// jsonDepth is the nesting depth of a valid document.
func jsonDepth(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	depth, most := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return most
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			most = max(most, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// FuzzCheckJSON: CheckJSON never panics; what it accepts encoding/json
// decodes, and it refuses what encoding/json decodes only for being deeper
// than allowed.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":null}]}`, `["\"[[[["]`, `["\\",[[1]]]`, `[[[[[[[[]]]]]]]]`, `]]][[[`, `"\`, `{"a":"\u00e9"}`, "", "1 2"} {
		f.Add([]byte(s), 4)
	}
	f.Fuzz(func(t *testing.T, b []byte, maxDepth int) {
		maxDepth = max(0, min(maxDepth, 100))
		err := CheckJSON(b, maxDepth)
		if err == nil {
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("CheckJSON accepted %q, which encoding/json rejects: %v", b, err)
			}
			if _, err := DecodeJSON(b); err != nil {
				t.Fatalf("DecodeJSON(%q): %v", b, err)
			}
			if d := jsonDepth(b); d > maxDepth {
				t.Fatalf("CheckJSON(%q, %d) accepted depth %d", b, maxDepth, d)
			}
			return
		}
		var v any
		if json.Unmarshal(b, &v) == nil {
			if !errors.Is(err, ErrTooDeep) {
				t.Fatalf("CheckJSON rejects valid %q: %v", b, err)
			}
			if d := jsonDepth(b); d <= maxDepth {
				t.Fatalf("CheckJSON(%q, %d) says too deep, but the depth is %d", b, maxDepth, d)
			}
		}
	})
}

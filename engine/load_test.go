package engine

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// updateGoldens reports whether -update was given. The flag itself is
// defined once for the whole test binary by e2e_test.go (package
// engine_test), which is linked into the same binary: defining it here as
// well would panic. UPDATE_GOLDENS=1 works when no file defines it.
func updateGoldens() bool {
	if f := flag.Lookup("update"); f != nil {
		return f.Value.String() == "true"
	}
	return os.Getenv("UPDATE_GOLDENS") != ""
}

// The load-error corpus lives in ../testdata/lint:
//
//   - gateway.json is the gateway every endpoint case loads against, with
//     keys.json (its API key file) beside it in every case.
//   - endpoint/NAME.json is one endpoint spec, mounted as endpoints/NAME.json.
//   - endpoint/NAME/ is a folder of specs, all mounted under endpoints/, for
//     mistakes that take two files (route clashes); a gateway.json in it
//     replaces the base one (an endpoint requiring auth the gateway lacks).
//   - gateway/NAME.json is a broken gateway.json, loaded with one valid
//     endpoint (ping.json) so only the gateway's mistake shows.
//
// Each case's expected output is NAME.golden beside it: every problem, as
// LoadError.Error() prints it, followed by expr's snippet lines when there
// are any. Cases whose name starts with "ok_" must load, and so may "warn_"
// cases, which print warnings only. Rewrite with
//
//	go test ./engine -run Load -update
const loadDir = "../testdata/lint"

// testEnv is the environment ${VAR} sees in every case, so the host's
// environment never changes a golden.
func testEnv(name string) (string, bool) {
	v, ok := map[string]string{
		"CART_URL": "http://cart.internal:8080",
		"EMPTY":    "",
	}[name]
	return v, ok
}

func loadOptions() Options {
	return Options{Env: testEnv, Transport: http.DefaultTransport}
}

type loadCase struct {
	name   string // relative to loadDir, without .json
	fsys   fstest.MapFS
	golden string
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const pingSpec = `{
  "method": "GET",
  "path": "/ping",
  "response": { "body": { "ok": "true" } }
}
`

func loadCases(t *testing.T) []loadCase {
	t.Helper()
	base := readFile(t, filepath.Join(loadDir, "gateway.json"))
	keys := &fstest.MapFile{Data: readFile(t, filepath.Join(loadDir, "keys.json"))}
	var cases []loadCase

	entries, err := os.ReadDir(filepath.Join(loadDir, "endpoint"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		full := filepath.Join(loadDir, "endpoint", e.Name())
		fsys := fstest.MapFS{"gateway.json": {Data: base}, "keys.json": keys}
		var name string
		switch {
		case e.IsDir():
			name = e.Name()
			files, err := os.ReadDir(full)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				dst := "endpoints/" + f.Name()
				if f.Name() == "gateway.json" {
					dst = "gateway.json" // the case's own gateway, instead of the base
				}
				fsys[dst] = &fstest.MapFile{Data: readFile(t, filepath.Join(full, f.Name()))}
			}
		case strings.HasSuffix(e.Name(), ".json"):
			name = strings.TrimSuffix(e.Name(), ".json")
			fsys["endpoints/"+e.Name()] = &fstest.MapFile{Data: readFile(t, full)}
		default:
			continue
		}
		cases = append(cases, loadCase{"endpoint/" + name, fsys, filepath.Join(loadDir, "endpoint", name+".golden")})
	}

	entries, err = os.ReadDir(filepath.Join(loadDir, "gateway"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		name := strings.TrimSuffix(e.Name(), ".json")
		fsys := fstest.MapFS{
			"gateway.json":        {Data: readFile(t, filepath.Join(loadDir, "gateway", e.Name()))},
			"endpoints/ping.json": {Data: []byte(pingSpec)},
			"keys.json":           keys,
		}
		cases = append(cases, loadCase{"gateway/" + name, fsys, filepath.Join(loadDir, "gateway", name+".golden")})
	}
	return cases
}

// formatProblems is what a golden file holds.
func formatProblems(list LoadErrors) string {
	var b strings.Builder
	for _, e := range list {
		b.WriteString(e.Error())
		b.WriteString(e.Snippet)
		b.WriteByte('\n')
	}
	return b.String()
}

// caret shows the source line a problem points at, for -v runs and failures.
func caret(fsys fstest.MapFS, e *LoadError) string {
	f, ok := fsys[e.File]
	if !ok {
		return ""
	}
	lines := strings.Split(string(f.Data), "\n")
	if e.Line < 1 || e.Line > len(lines) {
		return fmt.Sprintf("    line %d is outside %s (%d lines)", e.Line, e.File, len(lines))
	}
	l := lines[e.Line-1]
	return fmt.Sprintf("    | %s\n    | %s^", l, strings.Repeat(" ", max(0, e.Column-1)))
}

func TestLoadErrors(t *testing.T) {
	cases := loadCases(t)
	if len(cases) < 30 {
		t.Errorf("only %d load cases, want at least 30", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Load(tc.fsys, "gateway.json", loadOptions())
			var list LoadErrors
			switch {
			case err == nil:
				if g == nil {
					t.Fatal("Load returned neither a gateway nor an error")
				}
				list = g.Warnings
			case errors.As(err, &list):
				if g != nil {
					t.Error("Load returned a gateway and errors")
				}
				if !list.HasErrors() {
					t.Error("Load failed with warnings only")
				}
			default:
				t.Fatalf("Load error is %T, not LoadErrors: %v", err, err)
			}
			base := filepath.Base(tc.name)
			okCase := strings.HasPrefix(base, "ok_")
			switch {
			case okCase && len(list) > 0:
				t.Errorf("a valid spec must load clean:\n%s", formatProblems(list))
			case strings.HasPrefix(base, "warn_") && err != nil:
				t.Errorf("a warn_ case must load:\n%s", err)
			case !okCase && !strings.HasPrefix(base, "warn_") && err == nil:
				t.Errorf("a broken spec loaded (warnings: %d)", len(list))
			}
			for _, e := range list {
				t.Logf("%s\n%s", e.Error(), caret(tc.fsys, e))
				if e.Line < 1 || e.Column < 1 || e.File == "" || e.Rule == "" || e.Message == "" {
					t.Errorf("incomplete problem: %#v", e)
				}
				if f, ok := tc.fsys[e.File]; ok {
					lines := strings.Split(string(f.Data), "\n")
					if e.Line > len(lines) || e.Column > len(lines[e.Line-1])+1 {
						t.Errorf("%s points outside the file", e.Error())
					}
				} else {
					t.Errorf("%s names a file that is not in the case", e.Error())
				}
			}

			got := formatProblems(list)
			if updateGoldens() {
				if err := os.WriteFile(tc.golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(tc.golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal([]byte(got), want) {
				var carets strings.Builder
				for _, e := range list {
					fmt.Fprintf(&carets, "%s\n%s\n", e.Error(), caret(tc.fsys, e))
				}
				t.Errorf("problems differ from %s\n--- got\n%s--- want\n%s--- where\n%s", tc.golden, got, want, carets.String())
			}
		})
	}
}

// TestLoadGoldensHaveCases catches goldens left behind by a renamed case.
func TestLoadGoldensHaveCases(t *testing.T) {
	for _, dir := range []string{"endpoint", "gateway"} {
		goldens, err := filepath.Glob(filepath.Join(loadDir, dir, "*.golden"))
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range goldens {
			stem := strings.TrimSuffix(g, ".golden")
			_, errFile := os.Stat(stem + ".json")
			_, errDir := os.Stat(stem)
			if errFile != nil && errDir != nil {
				t.Errorf("%s has no case", g)
			}
		}
	}
}

// TestLoadDisplayPath: messages name files as DisplayPath gives them, for
// both gateway.json and endpoint specs.
func TestLoadDisplayPath(t *testing.T) {
	fsys := fstest.MapFS{
		"conf/gateway.json":         {Data: []byte(`{"endpoints": ["specs"], "servics": {}}`)},
		"conf/specs/team/ping.json": {Data: []byte(`{"method": "GET", "path": "ping"}`)},
		"conf/specs/team/notes.txt": {Data: []byte(`not a spec`)},
		"conf/specs/ping.test.json": {Data: []byte(`{`)},
		"conf/specs/x/gateway.json": {Data: []byte(`{`)},
	}
	opt := loadOptions()
	opt.DisplayPath = func(s string) string { return "/srv/" + s }
	_, err := Load(fsys, "conf/gateway.json", opt)
	want := `/srv/conf/gateway.json:1:26: error: unknown key "servics" in gateway; did you mean "services"? (unknown-key)
/srv/conf/specs/team/ping.json:1:28: error: path "ping": must start with "/" (bad-path)`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

// TestLoadMissingConfig: a gateway.json that cannot be read is one io error
// at 1:1.
func TestLoadMissingConfig(t *testing.T) {
	_, err := Load(fstest.MapFS{}, "gateway.json", loadOptions())
	want := "gateway.json:1:1: error: cannot read: does not exist (io)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// TestLoadValidExamples: the example endpoints shipped in /endpoints load
// clean with the example gateway.json.
func TestLoadValidExamples(t *testing.T) {
	g, err := Load(os.DirFS("../endpoints"), "gateway.json", Options{Env: testEnv, Transport: http.DefaultTransport})
	if err != nil {
		t.Fatalf("examples do not load:\n%v", err)
	}
	if len(g.Warnings) > 0 {
		t.Errorf("examples have warnings:\n%v", g.Warnings)
	}
	if len(g.Plans) == 0 {
		t.Error("no plans")
	}
}

// TestLoadValidPlan checks what the valid corpus case compiles to: the call
// graph inferred from the names its expressions read.
func TestLoadValidPlan(t *testing.T) {
	fsys := fstest.MapFS{
		"gateway.json":               {Data: readFile(t, filepath.Join(loadDir, "gateway.json"))},
		"keys.json":                  {Data: readFile(t, filepath.Join(loadDir, "keys.json"))},
		"endpoints/ok_checkout.json": {Data: readFile(t, filepath.Join(loadDir, "endpoint", "ok_checkout.json"))},
	}
	g, err := Load(fsys, "gateway.json", loadOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Plans) != 1 {
		t.Fatalf("%d plans", len(g.Plans))
	}
	p := g.Plans[0]
	got := map[string]string{}
	for _, c := range p.Calls {
		got[c.Name] = strings.Join(p.Deps(c), ",")
	}
	want := map[string]string{"cart": "", "user": "", "stock": "cart", "prices": "cart", "audit": "cart,stock"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("deps of %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("calls %v, want %v", got, want)
	}
}

// posOf is the Pos of the nth (from 0) occurrence of marker in src.
func posOf(t *testing.T, src, marker string, nth int) Pos {
	t.Helper()
	off := -1
	for i := 0; i <= nth; i++ {
		j := strings.Index(src[off+1:], marker)
		if j < 0 {
			t.Fatalf("%q not found %d times", marker, nth+1)
		}
		off += 1 + j
	}
	line := 1 + strings.Count(src[:off], "\n")
	col := off - (strings.LastIndex(src[:off], "\n") + 1) + 1
	return Pos{line, col, off}
}

func TestParseJSONPositions(t *testing.T) {
	src := "{\n" +
		"  \"a\": 1,\n" +
		"  \"bé\": [true, null,\n" +
		"\t\t\"x\"],\r\n" +
		"  \"c\" :{\"d\":-2.5e3, \"e\": \"\\u00e9\"}\n" +
		"}\n"
	n, err := ParseJSON([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if n.Pos != (Pos{1, 1, 0}) || n.Kind != KindObject {
		t.Errorf("root at %+v", n.Pos)
	}
	type at struct {
		name string
		got  Pos
		want Pos
	}
	b := n.Get("bé")
	c := n.Get("c")
	checks := []at{
		{"key a", n.Members[0].KeyPos, Pos{2, 3, 4}},
		{"value of a", n.Get("a").Pos, Pos{2, 8, 9}},
		{"key bé", n.Members[1].KeyPos, posOf(t, src, `"bé"`, 0)},
		// Columns count bytes: é is two.
		{"value of bé", b.Pos, Pos{3, 10, posOf(t, src, "[", 0).Off}},
		{"true", b.Elems[0].Pos, posOf(t, src, "true", 0)},
		{"null", b.Elems[1].Pos, posOf(t, src, "null", 0)},
		{"x after tabs", b.Elems[2].Pos, Pos{4, 3, posOf(t, src, `"x"`, 0).Off}},
		// \r before \n is whitespace, not a line of its own.
		{"key c", n.Members[2].KeyPos, Pos{5, 3, posOf(t, src, `"c"`, 0).Off}},
		{"value of c", c.Pos, posOf(t, src, `{"d"`, 0)},
		{"key d", c.Members[0].KeyPos, posOf(t, src, `"d"`, 0)},
		{"number", c.Get("d").Pos, posOf(t, src, "-2.5e3", 0)},
		{"string with escape", c.Get("e").Pos, posOf(t, src, `"\u00e9"`, 0)},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s at %+v, want %+v", ch.name, ch.got, ch.want)
		}
	}
	if c.Get("d").Str != "-2.5e3" || c.Get("e").Str != "é" || b.Elems[2].Str != "x" {
		t.Errorf("values: %q %q %q", c.Get("d").Str, c.Get("e").Str, b.Elems[2].Str)
	}
	if f, err := c.Get("d").Float(); err != nil || f != -2500 {
		t.Errorf("Float = %v, %v", f, err)
	}
	var keys []string
	for _, m := range n.Members {
		keys = append(keys, m.Key)
	}
	if strings.Join(keys, ",") != "a,bé,c" {
		t.Errorf("key order %v", keys)
	}
	if n.Get("nope") != nil {
		t.Error("Get of a missing key")
	}
}

func TestParseJSONBOM(t *testing.T) {
	n, err := ParseJSON([]byte("\xef\xbb\xbf{\"a\": 1}"))
	if err != nil {
		t.Fatal(err)
	}
	// The BOM is not a column: "a" is where an editor shows it.
	if n.Pos != (Pos{1, 1, 3}) || n.Members[0].KeyPos != (Pos{1, 2, 4}) {
		t.Errorf("root %+v, key %+v", n.Pos, n.Members[0].KeyPos)
	}
	_, err = ParseJSON([]byte("\xef\xbb\xbf{,}"))
	if err == nil || err.Error() != `1:2: unexpected ',', expected a key in quotes` {
		t.Errorf("error after BOM: %v", err)
	}
}

func TestParseJSONErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"empty", ``, `1:1: unexpected end of file, expected a value`},
		{"blank", "  \n ", `2:2: unexpected end of file, expected a value`},
		{"trailing comma in object", "{\"a\": 1,\n}", `1:8: trailing comma before '}'; JSON allows none after the last member`},
		{"trailing comma in array", `[1, 2, ]`, `1:6: trailing comma before ']'; JSON allows none after the last element`},
		{"missing comma in object", "{\"a\": 1\n \"b\": 2}", `1:8: missing ',' after the value of "a"`},
		{"missing comma in array", `["a" "b"]`, `1:5: missing ',' after element 0 of the array`},
		{"number after a value", `{"a": 1 2}`, `1:9: unexpected '2', expected ',' or '}' after the value of "a"`},
		{"missing colon", `{"a" 1}`, `1:6: unexpected '1', expected ':' after key "a"`},
		{"unquoted key", `{a: 1}`, `1:2: unexpected 'a', expected a key in quotes`},
		{"single quotes", `{'a': 1}`, `1:2: strings and keys are written in double quotes in JSON, not single quotes`},
		{"line comment", "{\n// x\n}", `2:1: comments are not allowed in JSON`},
		{"block comment", `[1, /* x */ 2]`, `1:5: comments are not allowed in JSON`},
		{"duplicate key", "{\"a\": 1,\n \"a\": 2}", `2:2: duplicate key "a" (first at line 1, column 2)`},
		{"duplicate key via escape", `{"a": 1, "\u0061": 2}`, `1:10: duplicate key "a" (first at line 1, column 2)`},
		{"unterminated string at end of line", "{\"a\": \"x,\n\"b\": 1}", `1:7: string is not closed before the end of the line (a closing '"' is missing; a newline inside a string is written \n)`},
		{"unterminated string at end of file", `["abc`, `1:6: unterminated string`},
		{"tab in string", "[\"a\tb\"]", `1:4: control character in string (write a tab as \t, a newline as \n)`},
		{"bad escape", `["\x"]`, `1:3: unknown escape \x`},
		{"short unicode escape", `["\u12"]`, `1:3: malformed \u escape`},
		{"bad unicode escape", `["\uzzzz"]`, `1:3: malformed \u escape`},
		{"object not closed", "{\"a\": {\"b\": 1}\n", `2:1: unexpected end of file: the object opened at line 1, column 1 is missing its '}'`},
		{"array not closed", "[1,\n[2]", `2:4: unexpected end of file: the array opened at line 1, column 1 is missing its ']'`},
		{"value missing", `{"a": }`, `1:7: unexpected '}', expected a value`},
		{"leading zero", `[01]`, `1:3: malformed number: JSON numbers have no leading zeros (write "01234" as a string)`},
		{"dot without digits", `[1.]`, `1:4: malformed number`},
		{"exponent without digits", `[1e]`, `1:4: malformed number`},
		{"lone minus", `[-]`, `1:3: malformed number`},
		{"plus sign", `[+1]`, `1:2: unexpected '+', expected a value`},
		{"leading dot", `[.5]`, `1:2: unexpected '.', expected a value`},
		{"NaN", `NaN`, `1:1: unexpected 'N', expected a value`},
		{"capital TRUE", `TRUE`, `1:1: unexpected 'T', expected a value`},
		{"truncated literal", `[tru]`, `1:2: unexpected 't', expected a value`},
		{"two documents", `{} {}`, `1:4: unexpected '{' after the document`},
		{"garbage after", "{}\nx", `2:1: unexpected 'x' after the document`},
		{"too deep", strings.Repeat("[", 66), `1:66: nested more than 64 levels`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParseJSON([]byte(tc.src))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseJSON(%q) = %v, %v; want a SyntaxError", tc.src, n, err)
			}
			if err.Error() != tc.want {
				t.Errorf("ParseJSON(%q)\n got %s\nwant %s", tc.src, err, tc.want)
			}
			if se.Pos.Line < 1 || se.Pos.Col < 1 || se.Pos.Off < 0 || se.Pos.Off > len(tc.src) {
				t.Errorf("position %+v outside the input", se.Pos)
			}
		})
	}
}

func TestParseJSONDepthLimit(t *testing.T) {
	ok := strings.Repeat("[", maxSpecDepth+1) + strings.Repeat("]", maxSpecDepth+1)
	if _, err := ParseJSON([]byte(ok)); err != nil {
		t.Errorf("depth %d: %v", maxSpecDepth+1, err)
	}
	big := make([]byte, maxSpecSize+1)
	if _, err := ParseJSON(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: %v", err)
	}
}

// TestParseJSONValues: what ParseJSON accepts decodes to what
// encoding/json decodes.
func TestParseJSONValues(t *testing.T) {
	for _, src := range []string{
		`null`, `true`, `false`, `0`, `-0`, `-0.5e-3`, `1E+2`, `12345678901234567890`,
		`""`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\u4e16"`, `"\ud83d\ude00"`, `"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`,
		`"é世😀"`, `[]`, `{}`, `[[],{}]`, `{"a":{"b":[1,"x",null]},"":0}`,
		" \t\r\n[1 ,\r\n 2]\n",
	} {
		t.Run(src, func(t *testing.T) {
			n, err := ParseJSON([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			assertSameAsEncodingJSON(t, []byte(src), n)
		})
	}
}

func TestPosAt(t *testing.T) {
	cases := []struct {
		name string
		raw  string // the string literal as written, with its quotes
		i    int    // byte offset in the decoded value
		col  int    // expected column; the literal starts at column 3
	}{
		{"start", `"abc"`, 0, 4},
		{"plain", `"abc"`, 2, 6},
		{"end", `"abc"`, 3, 7},
		{"past the end stops at the quote", `"abc"`, 10, 7},
		{"after a quote escape", `"\"x"`, 1, 6},
		{"after a backslash escape", `"\\x"`, 1, 6},
		{"after \n", `"a\nb"`, 2, 7},
		{"after \u00e9 (two bytes from six)", `"\u00e9x"`, 2, 10},
		{"after \u4e16 (three bytes)", `"\u4e16x"`, 3, 10},
		{"after a surrogate pair (four bytes from twelve)", `"\ud83d\ude00x"`, 4, 16},
		{"after a lone surrogate (U+FFFD)", `"\ud800x"`, 3, 10},
		{"raw UTF-8 counts bytes", `"éx"`, 2, 6},
		{"expression after escapes", `"\"Hi \" + usr"`, 8, 14},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := "\n  " + tc.raw
			n, err := ParseJSON([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			p := n.PosAt(tc.i)
			if p.Line != 2 || p.Col != tc.col || p.Off != 1+p.Col-1 {
				t.Errorf("PosAt(%d) = %+v, want line 2 col %d", tc.i, p, tc.col)
			}
		})
	}
}

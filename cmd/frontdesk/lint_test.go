package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLintExamplesClean(t *testing.T) {
	out, errOut, err := runCLI(t, "lint", "../../endpoints")
	if err != nil || out != "" {
		t.Fatalf("lint endpoints: %v\n%s%s", err, out, errOut)
	}
}

// writeSpecs writes files into a temporary folder and returns it.
func writeSpecs(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const lintGateway = `{"endpoints": ["specs"], "services": {"cart": {"urls": ["http://127.0.0.1:1"]}, "inventory": {"urls": ["http://127.0.0.1:2"]}}}`

func TestLintReportsEverythingAtOnce(t *testing.T) {
	dir := writeSpecs(t, map[string]string{
		"gateway.json": lintGateway,
		"specs/a.json": `{
  "method": "GET",
  "path": "/a/{id}",
  "calls": {
    "cart": { "service": "cart", "path": "/carts/${params.id}", "timout": "1s" },
    "stock": { "service": "inventry", "path": "/stock", "query": { "skus": "join(map(cart.items, .sku), ',')" } }
  },
  "response": { "body": { "in_stock": "stok.available" } }
}
`,
		"specs/b.json": `{ "method": "GET", "path": "/b", "calls": { "x": { "service": "cart", "path": "/x/${y.id}" }, "y": { "service": "cart", "path": "/y/${x.id}" } } }`,
	})
	t.Chdir(dir)
	out, _, err := runCLI(t, "lint", "specs")
	if err != exitCode(1) {
		t.Fatalf("exit: %v", err)
	}
	want := `specs/a.json:5:65: error: unknown key "timout" in call "cart"; did you mean "timeout"? (unknown-key)
specs/a.json:6:27: error: unknown service "inventry"; gateway.json defines "cart", "inventory"; did you mean "inventory"? (unknown-service)
specs/a.json:8:40: error: response.body.in_stock: unknown name "stok": not a call of this endpoint nor a request name; did you mean "stock"? (unknown-name)
 | stok.available
 | ^
specs/b.json:1:45: error: dependency cycle: x -> y -> x (cycle)
`
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}

	out, _, err = runCLI(t, "lint", "--format", "json", "specs")
	if err != exitCode(1) {
		t.Fatalf("exit: %v", err)
	}
	var problems []map[string]any
	if err := json.Unmarshal([]byte(out), &problems); err != nil {
		t.Fatal(err)
	}
	if len(problems) != 4 {
		t.Fatalf("%d problems: %s", len(problems), out)
	}
	for _, k := range []string{"file", "line", "column", "severity", "rule", "message"} {
		if _, ok := problems[0][k]; !ok {
			t.Errorf("json problem lacks %q: %v", k, problems[0])
		}
	}
}

func TestLintWarningsExitZero(t *testing.T) {
	dir := writeSpecs(t, map[string]string{
		"gateway.json": lintGateway,
		"specs/a.json": `{"method": "GET", "path": "/a", "timeout": "1s",
 "calls": {"cart": {"service": "cart", "path": "/c", "timeout": "2s"}, "spare": {"service": "cart", "path": "/s"}},
 "response": {"body": {"t": "cart.total", "m": "merge({'a': 1}, {'a': 2})"}}}`,
	})
	t.Chdir(dir)
	out, _, err := runCLI(t, "lint")
	if err != nil {
		t.Fatalf("warnings only must exit 0, got %v\n%s", err, out)
	}
	for _, w := range []string{"(timeout-exceeds-endpoint)", "(unused-call)", "(merge-collision)"} {
		if !strings.Contains(out, w) {
			t.Errorf("missing %s in\n%s", w, out)
		}
	}
}

func TestLintUsage(t *testing.T) {
	t.Chdir(t.TempDir())
	if _, _, err := runCLI(t, "lint"); err != exitCode(2) {
		t.Errorf("no gateway.json, no paths: %v", err)
	}
	if _, _, err := runCLI(t, "lint", "--format", "xml", "."); err != exitCode(2) {
		t.Errorf("bad format: %v", err)
	}
	if out, _, err := runCLI(t, "lint", "missing-folder"); err != exitCode(2) || !strings.Contains(out, "(io)") {
		t.Errorf("missing folder: %v %q", err, out)
	}
}

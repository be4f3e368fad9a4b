package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pingSpec is the one valid endpoint the broken gateway.json cases load
// with; engine/load_test.go uses the same.
const pingSpec = `{
  "method": "GET",
  "path": "/ping",
  "response": { "body": { "ok": "true" } }
}
`

// TestLintCorpus runs `frontdesk lint` over every broken spec of
// testdata/lint, as a user would in a folder holding gateway.json and
// endpoints/, and asserts the output byte for byte against the golden file
// the engine's load test also holds the loader to.
func TestLintCorpus(t *testing.T) {
	corpus, err := filepath.Abs("../../testdata/lint")
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(filepath.Join(corpus, "gateway.json"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, kind := range []string{"endpoint", "gateway"} {
		entries, err := os.ReadDir(filepath.Join(corpus, kind))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := strings.TrimSuffix(e.Name(), ".json")
			if !e.IsDir() && name == e.Name() {
				continue // a golden file
			}
			n++
			src := filepath.Join(corpus, kind, e.Name())
			golden := filepath.Join(corpus, kind, name+".golden")
			t.Run(kind+"/"+name, func(t *testing.T) {
				files := map[string]string{"gateway.json": string(base), "keys.json": read(t, filepath.Join(corpus, "keys.json"))}
				switch {
				case kind == "gateway":
					files["gateway.json"] = read(t, src)
					files["endpoints/ping.json"] = pingSpec
				case e.IsDir():
					sub, err := os.ReadDir(src)
					if err != nil {
						t.Fatal(err)
					}
					for _, f := range sub {
						dst := "endpoints/" + f.Name()
						if f.Name() == "gateway.json" {
							dst = "gateway.json" // the case's own gateway, instead of the base
						}
						files[dst] = read(t, filepath.Join(src, f.Name()))
					}
				default:
					files["endpoints/"+e.Name()] = read(t, src)
				}
				t.Chdir(writeSpecs(t, files))
				out, errOut, err := runCLI(t, "lint")
				want := read(t, golden)
				if out != want {
					t.Errorf("lint output differs\n--- got\n%s--- want\n%s", out, want)
				}
				wantErr := strings.Contains(want, ": error: ")
				switch {
				case strings.Contains(want, "(io)"):
					if err != exitCode(2) {
						t.Errorf("exit: %v, want 2 for what cannot be read (%s)", err, errOut)
					}
				case wantErr && err != exitCode(1):
					t.Errorf("exit: %v, want 1 (%s)", err, errOut)
				case !wantErr && err != nil:
					t.Errorf("exit: %v, want 0 (%s)", err, errOut)
				}
			})
		}
	}
	if n < 30 {
		t.Errorf("the corpus has %d cases; it should hold at least 30", n)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

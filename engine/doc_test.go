package engine_test

import (
	"go/parser"
	gotoken "go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDocFlow: the package doc's "In the flow" line lists exactly the
// packages of this module the engine imports (its test files aside).
func TestDocFlow(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)// In the flow: cmd -> engine -> \{([^}]*)\}`).FindSubmatch(doc)
	if m == nil {
		t.Fatal(`doc.go has no "In the flow: cmd -> engine -> {...}" line`)
	}
	var listed []string
	for _, f := range strings.Split(strings.ReplaceAll(string(m[1]), "//", ""), ",") {
		listed = append(listed, strings.TrimSpace(f))
	}
	slices.Sort(listed)

	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var imported []string
	fset := gotoken.NewFileSet()
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f.Name(), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, is := range af.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			if rest, ok := strings.CutPrefix(p, "frontdesk/"); ok && !slices.Contains(imported, rest) {
				imported = append(imported, rest)
			}
		}
	}
	slices.Sort(imported)
	if !slices.Equal(listed, imported) {
		t.Errorf("doc.go's flow lists %v; the package imports %v", listed, imported)
	}
}

package main

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// generatedPaths are paths the docs name that a command writes, so a clean
// checkout does not have them.
var generatedPaths = map[string]string{
	"testdata/bench/latest.txt": "make bench writes it",
}

// TestDocPathsExist: every path of this repository that README.md or a
// docs/*.md names, in backticks (`engine/cache.go`, `pipeline/limit/`,
// `go test ./pipeline/...`) or as a relative link target, exists. A path
// counts as the repository's when its first element is one of the
// repository's top-level folders; globs and URLs are not paths.
func TestDocPathsExist(t *testing.T) {
	root := filepath.Join("..", "..")
	tops := map[string]bool{}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			tops[e.Name()] = true
		}
	}
	docs := []string{"README.md"}
	err = fs.WalkDir(os.DirFS(root), "docs", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			docs = append(docs, p)
		}
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, doc := range docs {
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(doc)))
		if err != nil {
			t.Fatal(err)
		}
		refs := docPaths(string(src), path.Dir(doc), tops)
		if doc == "README.md" && len(refs) == 0 {
			t.Fatal("README.md names no path of the repository: the extraction is broken")
		}
		for _, r := range refs {
			if _, ok := generatedPaths[r.path]; ok {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(r.path))); err != nil {
				t.Errorf("%s:%d names %s, which does not exist", doc, r.line, r.path)
			}
		}
	}
}

type docPath struct {
	path string
	line int
}

var (
	codeSpan   = regexp.MustCompile("`([^`]+)`")
	linkTarget = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	lineSuffix = regexp.MustCompile(`(:\d+)+$`)
)

// docPaths lists the repository paths the Markdown src names outside its
// fenced blocks: relative to the repository's root in code spans, to dir
// in link targets.
func docPaths(src, dir string, tops map[string]bool) []docPath {
	// Fenced blocks are blanked, line breaks kept, so offsets still give
	// line numbers.
	lines := strings.SplitAfter(src, "\n")
	fenced := false
	for i, l := range lines {
		fence := strings.HasPrefix(strings.TrimSpace(l), "```")
		if fence || fenced {
			lines[i] = strings.Repeat(" ", len(strings.TrimRight(l, "\n"))) + l[len(strings.TrimRight(l, "\n")):]
		}
		if fence {
			fenced = !fenced
		}
	}
	text := strings.Join(lines, "")
	lineAt := func(off int) int { return strings.Count(text[:off], "\n") + 1 }
	var out []docPath
	add := func(p string, off int) {
		p = strings.Trim(p, `"',;:()`)
		p = lineSuffix.ReplaceAllString(p, "")
		p = strings.TrimSuffix(p, "/...")
		if p == "" || strings.Contains(p, "://") || strings.ContainsAny(p, "*?[]{}$<>=#") {
			return
		}
		p = path.Clean(p)
		first, _, nested := strings.Cut(p, "/")
		if !nested || !tops[first] {
			return
		}
		out = append(out, docPath{p, lineAt(off)})
	}
	for _, m := range codeSpan.FindAllStringSubmatchIndex(text, -1) {
		for _, tok := range strings.Fields(text[m[2]:m[3]]) {
			add(strings.TrimPrefix(tok, "./"), m[2])
		}
	}
	for _, m := range linkTarget.FindAllStringSubmatchIndex(text, -1) {
		target, _, _ := strings.Cut(text[m[2]:m[3]], "#")
		if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "/") {
			continue
		}
		add(path.Join(dir, target), m[2])
	}
	return out
}

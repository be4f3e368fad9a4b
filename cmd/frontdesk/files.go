package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// specFiles is where lint, test and explain read from: an fs.FS rooted at
// "/", the gateway.json to use ("" for none), the spec files and folders to
// load (nil for the config's own endpoints), and how to name files in
// messages (relative to the working directory, as the user typed them).
type specFiles struct {
	fsys      fs.FS
	config    string
	endpoints []string
	display   func(string) string
}

// locate resolves the -c flag and the path arguments. gateway.json is the -c
// path, else ./gateway.json when it exists, else a gateway.json directly
// inside one of the given folders (so `frontdesk lint endpoints` finds
// endpoints/gateway.json), else none.
func locate(config string, paths []string) (*specFiles, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	abs := func(p string) string {
		if !filepath.IsAbs(p) {
			p = filepath.Join(wd, p)
		}
		return strings.TrimPrefix(filepath.ToSlash(filepath.Clean(p)), "/")
	}
	// Files under a path the user gave as absolute are named absolutely,
	// the rest relative to the working directory, as typed.
	var absRoots []string
	for _, p := range append([]string{config}, paths...) {
		if filepath.IsAbs(p) {
			absRoots = append(absRoots, abs(p))
		}
	}
	sf := &specFiles{
		fsys: os.DirFS("/"),
		display: func(p string) string {
			full := "/" + p
			for _, r := range absRoots {
				if p == r || strings.HasPrefix(p, r+"/") {
					return full
				}
			}
			if rel, err := filepath.Rel(wd, full); err == nil {
				return filepath.ToSlash(rel)
			}
			return full
		},
	}
	switch {
	case config != "":
		sf.config = abs(config)
	case exists("gateway.json"):
		sf.config = abs("gateway.json")
	default:
		for _, p := range paths {
			if c := filepath.Join(p, "gateway.json"); exists(c) {
				sf.config = abs(c)
				break
			}
		}
	}
	if len(paths) > 0 {
		sf.endpoints = []string{}
		for _, p := range paths {
			sf.endpoints = append(sf.endpoints, abs(p))
		}
	}
	return sf, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

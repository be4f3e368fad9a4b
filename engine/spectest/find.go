package spectest

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"frontdesk/engine"
)

// maxFiles bounds how many files Find looks at.
const maxFiles = 10000

// Find returns the spec-test files named by paths (fs paths in fsys), and
// the endpoint specs among them that have no test beside them, both sorted.
// A folder is searched recursively (folders whose name starts with "." are
// skipped); a NAME.test.json file is itself; a spec NAME.json stands for
// the NAME.test.json beside it. A path that does not exist is an error.
// Errors name paths through display (nil leaves them as they are).
func Find(fsys fs.FS, paths []string, display func(string) string) (tests, untested []string, err error) {
	if display == nil {
		display = func(s string) string { return s }
	}
	seen := 0
	for _, p := range paths {
		st, err := fs.Stat(fsys, p)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", display(p), unwrapPathErr(err))
		}
		if !st.IsDir() {
			switch {
			case strings.HasSuffix(p, TestSuffix):
				tests = append(tests, p)
			case strings.HasSuffix(p, ".json"):
				if _, err := fs.Stat(fsys, TestFor(p)); err == nil {
					tests = append(tests, TestFor(p))
				} else {
					untested = append(untested, p)
				}
			default:
				return nil, nil, fmt.Errorf("%s is neither a spec test (NAME.test.json) nor an endpoint spec (NAME.json)", display(p))
			}
			continue
		}
		err = fs.WalkDir(fsys, p, func(fp string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if de.IsDir() {
				if fp != p && strings.HasPrefix(de.Name(), ".") {
					return fs.SkipDir
				}
				return nil
			}
			if seen++; seen > maxFiles {
				return fmt.Errorf("more than %d files", maxFiles)
			}
			base := path.Base(fp)
			switch {
			case strings.HasSuffix(base, TestSuffix):
				tests = append(tests, fp)
			case strings.HasSuffix(base, ".json") && base != "gateway.json":
				if _, err := fs.Stat(fsys, TestFor(fp)); errors.Is(err, fs.ErrNotExist) && looksLikeSpec(fsys, fp) {
					untested = append(untested, fp)
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", display(p), unwrapPathErr(err))
		}
	}
	slices.Sort(tests)
	slices.Sort(untested)
	return slices.Compact(tests), slices.Compact(untested), nil
}

// looksLikeSpec tells an endpoint spec from other JSON kept in a folder
// (schemas, fixtures): an object with "method" and "path".
func looksLikeSpec(fsys fs.FS, p string) bool {
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		return false
	}
	n, err := engine.ParseJSON(b)
	if err != nil || n.Kind != engine.KindObject {
		return false
	}
	return n.Get("method") != nil && n.Get("path") != nil
}

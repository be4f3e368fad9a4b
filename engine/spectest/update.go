package spectest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"frontdesk/engine"
)

// lineWidth is where the update writer breaks a value over several lines.
const lineWidth = 100

// Updatable reports whether Update would change this case: it failed only
// because its status or body differ, and it ran clean (every call stubbed,
// no harness problem), so the response is worth recording.
func (cr *CaseResult) Updatable() bool {
	return cr.updatable && (cr.statusDiffers || cr.bodyDiffers)
}

// Update rewrites, in the file's source, the expected status and body of
// every updatable case to what the gateway answered, and returns the new
// source and the names of the cases it changed. Everything else in the file
// is kept byte for byte. In subset mode only the members the expected body
// already names are written, so the case stays a subset check.
func (fr *FileResult) Update() ([]byte, []string, error) {
	if fr.file == nil {
		return nil, nil, fmt.Errorf("%s did not parse; nothing to update", fr.Name)
	}
	src := fr.file.Src
	type edit struct {
		start, end int
		text       string
	}
	var edits []edit
	var names []string
	for _, cr := range fr.Cases {
		if !cr.Updatable() {
			continue
		}
		e := &cr.c.Expect
		if cr.statusDiffers {
			n := e.statusNode
			edits = append(edits, edit{n.Pos.Off, n.Pos.Off + len(n.Str), strconv.Itoa(cr.Status)})
		}
		if cr.bodyDiffers {
			var nv *engine.Node
			switch {
			case cr.got != nil && e.Subset:
				nv = project(e.Body, cr.got)
			case cr.got != nil:
				nv = cr.got
			default:
				nv = &engine.Node{Kind: engine.KindString, Str: strings.TrimSuffix(string(cr.Body), "\n")}
			}
			start := e.bodyNode.Pos.Off
			end, err := valueEnd(src, start)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: case %q: %v", fr.Name, cr.Name, err)
			}
			ls := bytes.LastIndexByte(src[:start], '\n') + 1
			indent := leadingSpace(src[ls:start])
			edits = append(edits, edit{start, end, pretty(nv, indent, start-ls)})
		}
		names = append(names, cr.Name)
	}
	if len(edits) == 0 {
		return src, nil, nil
	}
	slices.SortFunc(edits, func(a, b edit) int { return b.start - a.start })
	out := slices.Clone(src)
	for _, e := range edits {
		out = slices.Concat(out[:e.start], []byte(e.text), out[e.end:])
	}
	if _, err := ParseFile(fr.Path, fr.Name, out); err != nil {
		return nil, nil, fmt.Errorf("%s: the updated file would not parse (not written): %v", fr.Name, err)
	}
	return out, names, nil
}

// valueEnd returns the offset just past the JSON value starting at start.
func valueEnd(src []byte, start int) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(src[start:]))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return 0, fmt.Errorf("cannot find the end of the value at offset %d: %v", start, err)
	}
	return start + int(dec.InputOffset()), nil
}

func leadingSpace(line []byte) string {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	return string(line[:i])
}

// project keeps of got only what want names: members of objects that want
// has (and got still has), element by element for arrays, and got's value
// wherever want stops. It makes the new expected body of a subset case.
func project(want, got *engine.Node) *engine.Node {
	switch {
	case want.Kind == engine.KindObject && got.Kind == engine.KindObject:
		out := &engine.Node{Kind: engine.KindObject}
		for _, m := range want.Members {
			if g := got.Get(m.Key); g != nil {
				out.Members = append(out.Members, engine.Member{Key: m.Key, Value: project(m.Value, g)})
			}
		}
		return out
	case want.Kind == engine.KindArray && got.Kind == engine.KindArray:
		out := &engine.Node{Kind: engine.KindArray}
		for i, g := range got.Elems {
			if i < len(want.Elems) {
				g = project(want.Elems[i], g)
			}
			out.Elems = append(out.Elems, g)
		}
		return out
	}
	return got
}

// pretty writes n as JSON starting at column col of a line indented by
// indent: on one line (`{ "a": 1, "b": [1, 2] }`) when it fits in
// lineWidth, else one member or element per line, indented two spaces more.
// The same value always gives the same text.
func pretty(n *engine.Node, indent string, col int) string {
	one := spaced(nil, n)
	if col+len(one) <= lineWidth || (n.Kind != engine.KindObject && n.Kind != engine.KindArray) {
		return string(one)
	}
	inner := indent + "  "
	var b strings.Builder
	if n.Kind == engine.KindObject {
		b.WriteString("{\n")
		for i, m := range n.Members {
			key := string(appendString(nil, m.Key))
			b.WriteString(inner + key + ": ")
			b.WriteString(pretty(m.Value, inner, len(inner)+len(key)+2))
			if i < len(n.Members)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
		return b.String()
	}
	b.WriteString("[\n")
	for i, e := range n.Elems {
		b.WriteString(inner)
		b.WriteString(pretty(e, inner, len(inner)))
		if i < len(n.Elems)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(indent + "]")
	return b.String()
}

// spaced appends n on one line, in the style of the example files:
// `{ "a": 1 }`, `[1, 2]`, `{}`, `[]`.
func spaced(dst []byte, n *engine.Node) []byte {
	switch n.Kind {
	case engine.KindArray:
		dst = append(dst, '[')
		for i, e := range n.Elems {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = spaced(dst, e)
		}
		return append(dst, ']')
	case engine.KindObject:
		if len(n.Members) == 0 {
			return append(dst, "{}"...)
		}
		dst = append(dst, "{ "...)
		for i, m := range n.Members {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendString(dst, m.Key)
			dst = append(dst, ": "...)
			dst = spaced(dst, m.Value)
		}
		return append(dst, " }"...)
	}
	return compact(dst, n)
}

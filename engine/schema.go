package engine

import (
	"bytes"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"frontdesk/schemas"
)

var (
	schemaOnce sync.Once
	compiled   map[string]*jsonschema.Schema
	schemaErr  error
	printer    = message.NewPrinter(language.English)
)

// loadSchemas compiles the embedded schemas once per process.
func loadSchemas() (map[string]*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		for _, name := range schemas.Names() {
			raw, err := schemas.Read(name)
			if err != nil {
				schemaErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				schemaErr = err
				return
			}
			if err := c.AddResource(name, doc); err != nil {
				schemaErr = err
				return
			}
		}
		compiled = map[string]*jsonschema.Schema{}
		for _, name := range schemas.Names() {
			s, err := c.Compile(name)
			if err != nil {
				schemaErr = err
				return
			}
			compiled[name] = s
		}
	})
	return compiled, schemaErr
}

// validateSchema checks a parsed file against its embedded schema and adds
// the violations the strict decoder did not already report for the same
// field, so each mistake is said once, in the decoder's words when it has
// them.
func (d *decoder) validateSchema(schema string, src []byte, root *Node) {
	all, err := loadSchemas()
	if err != nil {
		d.errorf(Pos{1, 1, 0}, RuleIO, "", "embedded schema: %v", err)
		return
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		return // the parser has reported it
	}
	verr := all[schema].Validate(doc)
	ve, ok := verr.(*jsonschema.ValidationError)
	if !ok {
		return
	}
	reported := map[string]bool{}
	for _, e := range d.errs {
		reported[fieldPath(e.Field)] = true
	}
	seen := map[string]bool{}
	for _, leaf := range leaves(ve) {
		loc := strings.Join(leaf.InstanceLocation, ".")
		// A missing property or a bad key belongs to that property, which
		// is where the decoder reports it.
		switch k := leaf.ErrorKind.(type) {
		case *kind.Required:
			if len(k.Missing) > 0 {
				loc = strings.TrimPrefix(loc+"."+k.Missing[0], ".")
			}
		case *kind.PropertyNames:
			// jsonschema/v6 gives these a stale InstanceLocation: find the
			// key in the tree instead.
			if path := keyPath(root, k.Property); path != nil {
				leaf.InstanceLocation = path
				loc = strings.Join(path, ".")
			}
		}
		if seen[loc] || coveredBy(loc, reported) {
			continue
		}
		seen[loc] = true
		n := nodeAt(root, leaf.InstanceLocation)
		where := loc
		if where == "" {
			where = "the file"
		}
		d.errorf(n.Pos, RuleSchema, loc, "%s: %s", where, leaf.ErrorKind.LocalizedString(printer))
	}
}

func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if _, ok := e.ErrorKind.(*kind.PropertyNames); len(e.Causes) == 0 || ok {
		return []*jsonschema.ValidationError{e} // a key's causes have no location
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

// fieldPath turns a decoder Field ("calls.user.timeout", `call "user"`,
// "endpoint") into a dotted instance path.
func fieldPath(f string) string {
	switch {
	case f == "endpoint" || f == "gateway":
		return ""
	case strings.HasPrefix(f, `call "`):
		name, _ := strconv.Unquote(strings.TrimPrefix(f, "call "))
		return "calls." + name
	}
	if i := strings.IndexByte(f, '['); i >= 0 {
		f = f[:i]
	}
	return f
}

// coveredBy reports whether a decoder error was already given for loc, a
// field inside it, or a field that contains it.
func coveredBy(loc string, reported map[string]bool) bool {
	for f := range reported {
		if f == loc || strings.HasPrefix(loc, f+".") || strings.HasPrefix(f, loc+".") || (f == "" && loc == "") {
			return true
		}
	}
	return false
}

// keyPath returns the path of the first member named key, depth first.
func keyPath(n *Node, key string) []string {
	switch n.Kind {
	case KindObject:
		for _, m := range n.Members {
			if m.Key == key {
				return []string{key}
			}
			if p := keyPath(m.Value, key); p != nil {
				return append([]string{m.Key}, p...)
			}
		}
	case KindArray:
		for i, e := range n.Elems {
			if p := keyPath(e, key); p != nil {
				return append([]string{strconv.Itoa(i)}, p...)
			}
		}
	}
	return nil
}

// nodeAt follows a JSON pointer's tokens through the tree, stopping at the
// deepest node that exists.
func nodeAt(n *Node, loc []string) *Node {
	for _, tok := range loc {
		var next *Node
		switch n.Kind {
		case KindObject:
			next = n.Get(tok)
		case KindArray:
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(n.Elems) {
				next = n.Elems[i]
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

package engine

import (
	"fmt"
	"reflect"
	"strings"
)

// check runs the static checks that need a whole compiled plan: unused
// calls, for_each over something that cannot be a list, and merges whose
// literal arguments overwrite each other.
func (c *compiler) check(p *Plan) {
	read := map[string]bool{}
	p.eachExpr(func(e *expression) {
		for _, n := range e.Reads {
			read[n] = true
		}
		for _, n := range e.MetaReads {
			read[n] = true
		}
	})
	for _, call := range p.Calls {
		for _, j := range call.after {
			read[p.Calls[j].Name] = true
		}
	}
	if p.response != nil && p.response.body != nil && !c.failed { // a failed expression's reads are unknown
		for i, call := range p.Calls {
			if !read[call.Name] {
				c.d.add(c.spec.Calls[i].NamePos, SevWarning, RuleUnusedCall, "calls."+call.Name,
					"call %q is made but nothing reads it; remove it, or list it in another call's \"after\"", call.Name)
			}
		}
	}
	for i, call := range p.Calls {
		if call.forEach == nil {
			continue
		}
		switch k := call.forEach.Kind(); k {
		case reflect.Slice, reflect.Array, reflect.Interface, reflect.Invalid:
		default:
			c.d.errorf(c.spec.Calls[i].ForEach.Pos, RuleForEach, "calls."+call.Name+".for_each",
				"calls.%s.for_each: %q is always a %s, never a list", call.Name, call.forEach.Source, kindWord(k))
		}
	}
	c.checkAuthUse(p)
	p.eachExpr(func(e *expression) {
		if keys := e.MergeCollisions(); len(keys) > 0 {
			pos := c.fieldPos(e.field)
			c.d.add(pos, SevWarning, RuleMergeCollision, e.field, "%s: merge sets %s in more than one object; the later one wins",
				e.field, quoteAll(keys))
		}
	})
}

func kindWord(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Float64, reflect.Float32, reflect.Int32, reflect.Uint, reflect.Uint64:
		return "number"
	}
	return k.String()
}

func quoteAll(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(q, ", ")
}

// fieldPos finds the node of a spec field such as "response.body.items" or
// "calls.cart.query.skus" in the spec tree, for positions of checks that run
// after compilation.
func (c *compiler) fieldPos(field string) Pos {
	n := c.spec.Node
	best := n.Pos
	for _, part := range strings.Split(field, ".") {
		if i := strings.IndexByte(part, '['); i >= 0 {
			part = part[:i]
		}
		if n == nil || n.Kind != KindObject {
			break
		}
		n = n.Get(part)
		if n != nil {
			best = n.Pos
		}
	}
	return best
}

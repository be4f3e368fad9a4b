package transform

import (
	"fmt"
	"reflect"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// Kind is the result kind the type checker could prove for p:
// reflect.Interface when it depends on data only known at run time.
func (p *Program) Kind() reflect.Kind {
	t := p.prog.Node().Type()
	if t == nil {
		return reflect.Interface
	}
	return t.Kind()
}

// MergeCollisions lists the keys that more than one object literal passed to
// the same merge(...) sets, where the later one silently replaces the
// earlier (both values are not objects, so they do not merge).
func (p *Program) MergeCollisions() []string {
	tree, err := parser.Parse(p.Source)
	if err != nil {
		return nil
	}
	v := &mergeVisitor{}
	node := tree.Node
	ast.Walk(&node, v)
	return v.found
}

type mergeVisitor struct{ found []string }

func (v *mergeVisitor) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	if id, ok := call.Callee.(*ast.IdentifierNode); !ok || id.Value != "merge" {
		return
	}
	v.found = append(v.found, collide("", call.Arguments)...)
}

// collide compares the object literals among args key by key, descending
// into keys that are object literals on both sides.
func collide(prefix string, args []ast.Node) []string {
	type seen struct {
		arg   int
		isObj bool
	}
	var out []string
	first := map[string]*seen{}
	var order []string
	nested := map[string][]ast.Node{}
	for i, a := range args {
		m, ok := a.(*ast.MapNode)
		if !ok {
			continue
		}
		for _, pn := range m.Pairs {
			pair, ok := pn.(*ast.PairNode)
			if !ok {
				continue
			}
			k, ok := pair.Key.(*ast.StringNode)
			if !ok {
				continue
			}
			_, valObj := pair.Value.(*ast.MapNode)
			if valObj {
				nested[k.Value] = append(nested[k.Value], pair.Value)
			}
			if s, dup := first[k.Value]; dup {
				if !(s.isObj && valObj) && s.arg != i {
					out = append(out, fmt.Sprintf("%s%s", prefix, k.Value))
				}
				continue
			}
			first[k.Value] = &seen{arg: i, isObj: valObj}
			order = append(order, k.Value)
		}
	}
	for _, k := range order {
		if n := nested[k]; len(n) > 1 {
			out = append(out, collide(prefix+k+".", n)...)
		}
	}
	return out
}

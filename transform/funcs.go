package transform

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/expr-lang/expr"
)

// functions are the gateway's additions to expr's built-ins. None of them
// mutates its arguments: decoded backend bodies are shared by every
// expression of a request.
var functions = []expr.Option{
	expr.Function("merge", Merge),
	expr.Function("pick", Pick),
	expr.Function("omit", Omit),
}

// Merge deep-merges its arguments left to right: objects merge key by key,
// anything else is replaced by the later argument, nil arguments are skipped.
func Merge(args ...any) (any, error) {
	var out any
	for _, a := range args {
		if a == nil {
			continue
		}
		out = merge2(out, a)
	}
	return out, nil
}

func merge2(a, b any) any {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		return b
	}
	out := make(map[string]any, len(am)+len(bm))
	for k, v := range am {
		out[k] = v
	}
	for k, v := range bm {
		if old, ok := out[k]; ok {
			out[k] = merge2(old, v)
		} else {
			out[k] = v
		}
	}
	return out
}

func pathArgs(name string, args []any) (map[string]any, [][]string, error) {
	if len(args) == 0 {
		return nil, nil, fmt.Errorf("%s needs an object and at least one key", name)
	}
	var obj map[string]any
	switch o := args[0].(type) {
	case nil:
	case map[string]any:
		obj = o
	default:
		return nil, nil, fmt.Errorf("%s: first argument must be an object, not %T", name, args[0])
	}
	paths := make([][]string, 0, len(args)-1)
	for _, a := range args[1:] {
		switch k := a.(type) {
		case string:
			paths = append(paths, strings.Split(k, "."))
		case []any:
			for _, e := range k {
				s, ok := e.(string)
				if !ok {
					return nil, nil, fmt.Errorf("%s: keys must be strings, not %T", name, e)
				}
				paths = append(paths, strings.Split(s, "."))
			}
		default:
			return nil, nil, fmt.Errorf("%s: keys must be strings, not %T", name, a)
		}
	}
	return obj, paths, nil
}

// Pick keeps only the given dotted paths of an object, keeping their nesting:
// pick(o, "a", "b.c") is {"a": o.a, "b": {"c": o.b.c}}. Missing paths are
// left out; a nil object gives nil.
func Pick(args ...any) (any, error) {
	obj, paths, err := pathArgs("pick", args)
	if err != nil || obj == nil {
		return nil, err
	}
	out := map[string]any{}
	for _, p := range paths {
		pickPath(out, obj, p)
	}
	return out, nil
}

func pickPath(dst, src map[string]any, p []string) {
	v, ok := src[p[0]]
	if !ok {
		return
	}
	if len(p) == 1 {
		dst[p[0]] = v
		return
	}
	sub, ok := v.(map[string]any)
	if !ok {
		return
	}
	d, ok := dst[p[0]].(map[string]any)
	if ok && sameMap(d, sub) {
		return // picked whole by a shorter path: d is the input's own map
	}
	if !ok {
		d = map[string]any{}
		dst[p[0]] = d
	}
	pickPath(d, sub, p[1:])
	if len(d) == 0 {
		delete(dst, p[0])
	}
}

// Omit returns a copy of an object without the given dotted paths. Only the
// objects along an omitted path are copied; a nil object gives nil.
func Omit(args ...any) (any, error) {
	obj, paths, err := pathArgs("omit", args)
	if err != nil || obj == nil {
		return nil, err
	}
	out := obj
	for _, p := range paths {
		out = omitPath(out, p)
	}
	if len(paths) == 0 {
		out = copyMap(obj)
	}
	return out, nil
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func omitPath(m map[string]any, p []string) map[string]any {
	v, ok := m[p[0]]
	if !ok {
		return m
	}
	if len(p) == 1 {
		out := copyMap(m)
		delete(out, p[0])
		return out
	}
	sub, ok := v.(map[string]any)
	if !ok {
		return m
	}
	out := copyMap(m)
	out[p[0]] = omitPath(sub, p[1:])
	return out
}

// sameMap reports whether a and b are the same map, not equal ones.
func sameMap(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

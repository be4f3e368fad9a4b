package transform

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
)

// functions are the gateway's additions to expr's built-ins. None of them
// mutates its arguments: decoded backend bodies are shared by every
// expression of a request. The types given to expr.Function let the checker
// reject a wrong number of arguments (and, for rename and index_by, a literal
// of the wrong kind) when the spec loads; every function still checks its
// arguments at run time, where values decoded from JSON are untyped.
//
// expr's own sum and flatten already do what a spec needs on decoded JSON
// ([]any of float64, nested []any), so they are not redefined here.
var functions = []expr.Option{
	expr.Function("merge", Merge),
	expr.Function("pick", Pick),
	expr.Function("omit", Omit),
	expr.Function("rename", Rename, new(func(map[string]any, map[string]any) any)),
	expr.Function("coalesce", Coalesce, new(func(...any) any)),
	expr.Function("to_number", ToNumber, new(func(any) any)),
	expr.Function("to_string", ToString, new(func(any) any)),
	expr.Function("index_by", IndexBy, new(func([]any, string) any)),
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
	obj, err := objectArg(name, args[0], "first argument must be an object")
	if err != nil {
		return nil, nil, err
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
					return nil, nil, fmt.Errorf("%s: keys must be strings, not %s", name, kindName(e))
				}
				paths = append(paths, strings.Split(s, "."))
			}
		default:
			return nil, nil, fmt.Errorf("%s: keys must be strings, not %s", name, kindName(a))
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

// kindName names the JSON kind of v for error messages.
// objectArg is argument v of function fn as an object: nil stays nil, and
// anything else but an object is an error saying what was expected.
func objectArg(fn string, v any, want string) (map[string]any, error) {
	switch o := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return o, nil
	}
	return nil, fmt.Errorf("%s: %s, not %s", fn, want, kindName(v))
}

func kindName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, int, int64:
		return "a number"
	}
	return "a value of another kind"
}

// Rename returns a copy of an object with keys renamed:
// rename(o, {"old": "new", "a.b": "c"}). A name to rename may be a dotted
// path (as in pick and omit); the new name replaces only its last segment,
// so the value stays in the same object and a new name may not contain '.'.
// All renames apply at once to the input, so {"a": "b", "b": "a"} swaps; a
// renamed value replaces a key of the same name that was not renamed away.
// Missing names, and paths through non-objects, are skipped. A nil object
// gives nil; a nil set of renames gives a copy.
func Rename(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("rename needs an object and an object of renames, such as rename(o, {\"old\": \"new\"}); got %d arguments", len(args))
	}
	obj, err := objectArg("rename", args[0], "first argument must be an object")
	if err != nil {
		return nil, err
	}
	names, err := objectArg("rename", args[1], `second argument must be an object of renames, such as {"old": "new"}`)
	if err != nil {
		return nil, err
	}
	root := &renameNode{}
	for _, old := range slices.Sorted(maps.Keys(names)) { // sorted: the same error every time
		nv := names[old]
		nn, ok := nv.(string)
		if !ok {
			return nil, fmt.Errorf("rename: new name for %q must be a string, not %s", old, kindName(nv))
		}
		if nn == "" || strings.Contains(nn, ".") {
			return nil, fmt.Errorf("rename: new name %q for %q must be a non-empty key without '.'; rename keeps a value in the same object", nn, old)
		}
		n := root
		p := strings.Split(old, ".")
		for _, seg := range p[:len(p)-1] {
			if n.children == nil {
				n.children = map[string]*renameNode{}
			}
			c := n.children[seg]
			if c == nil {
				c = &renameNode{}
				n.children[seg] = c
			}
			n = c
		}
		if n.renames == nil {
			n.renames = map[string]string{}
		}
		n.renames[p[len(p)-1]] = nn
	}
	if err := root.check(""); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, nil
	}
	out := root.apply(obj)
	if sameMap(out, obj) {
		out = copyMap(obj)
	}
	return out, nil
}

// renameNode holds the renames of one object and those of the objects under
// its keys.
type renameNode struct {
	renames  map[string]string
	children map[string]*renameNode
}

// check rejects two keys of one object renamed to the same name, whose
// result would depend on map order.
func (n *renameNode) check(prefix string) error {
	seen := make(map[string]string, len(n.renames))
	for _, old := range slices.Sorted(maps.Keys(n.renames)) {
		nn := n.renames[old]
		if other, dup := seen[nn]; dup {
			return fmt.Errorf("rename: %q and %q are both renamed to %q", prefix+other, prefix+old, nn)
		}
		seen[nn] = old
	}
	for _, k := range slices.Sorted(maps.Keys(n.children)) {
		if err := n.children[k].check(prefix + k + "."); err != nil {
			return err
		}
	}
	return nil
}

// apply returns m renamed; m itself when nothing under it changes. Only the
// objects along a renamed path are copied.
func (n *renameNode) apply(m map[string]any) map[string]any {
	out := m
	for k, c := range n.children {
		sub, ok := m[k].(map[string]any)
		if !ok {
			continue
		}
		if r := c.apply(sub); !sameMap(r, sub) {
			if sameMap(out, m) {
				out = copyMap(m)
			}
			out[k] = r
		}
	}
	changed := false
	for old, nn := range n.renames {
		if _, ok := out[old]; ok && old != nn {
			changed = true
			break
		}
	}
	if !changed {
		return out
	}
	src := out
	res := make(map[string]any, len(src))
	for k, v := range src {
		if nn, ok := n.renames[k]; !ok || nn == k {
			res[k] = v
		}
	}
	for old, nn := range n.renames {
		if v, ok := src[old]; ok {
			res[nn] = v
		}
	}
	return res
}

// Coalesce returns its first argument that is not nil, or nil. Only nil is
// skipped: "", 0, false, [] and {} are values. coalesce(a, b, c) is
// a ?? b ?? c.
func Coalesce(args ...any) (any, error) {
	for _, a := range args {
		if a != nil {
			return a, nil
		}
	}
	return nil, nil
}

// ToNumber converts a value to a float64. Numbers pass (as float64); a string
// holding a decimal number, with optional sign, fraction and exponent and
// surrounding white space ("12", "-3.5", " 7 ", "1e3", "007"), is parsed.
// Anything else that is a scalar gives nil, so to_number(x) ?? 0 supplies a
// default: nil, booleans, "", "abc", "1,5", "0x10", "1_000", "NaN", "Inf",
// numbers too large for a float64, and non-finite numbers. Objects and lists
// are an error: they are never a number, and are a wrong path in the spec.
func ToNumber(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("to_number needs one argument, got %d", len(args))
	}
	var f float64
	switch x := args[0].(type) {
	case nil, bool:
		return nil, nil
	case float64:
		if x != 0 && !math.IsNaN(x) && !math.IsInf(x, 0) {
			return args[0], nil // the same value: a backend's number keeps its spelling
		}
		f = x
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case string:
		s := strings.TrimSpace(x)
		if !isDecimal(s) {
			return nil, nil
		}
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			return nil, nil // out of range
		}
	case map[string]any, []any:
		return nil, fmt.Errorf("to_number: cannot convert %s to a number", kindName(x))
	default:
		rv := reflect.ValueOf(x)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f = float64(rv.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			f = float64(rv.Uint())
		case reflect.Float32, reflect.Float64:
			f = rv.Float()
		default:
			return nil, fmt.Errorf("to_number: cannot convert %s to a number", kindName(x))
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, nil
	}
	if f == 0 {
		f = 0 // no -0
	}
	return f, nil
}

// isDecimal reports whether s is [+-]digits[.digits][(e|E)[+-]digits], with
// digits on at least one side of the point, ASCII digits only.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// ToString converts a value to a string the way the gateway writes it
// elsewhere: strings as is, numbers in shortest decimal form as in JSON
// (12, 3.5, 1e+21; never "12.0"), booleans as true/false, objects and lists
// as compact JSON with sorted keys, times as RFC 3339 and durations as
// "1h2m3s". nil gives nil. A NaN or infinite number is an error.
func ToString(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("to_string needs one argument, got %d", len(args))
	}
	switch x := args[0].(type) {
	case nil:
		return nil, nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case time.Duration:
		return x.String(), nil
	}
	b, err := AppendJSON(nil, args[0])
	if err != nil {
		return nil, fmt.Errorf("to_string: %v", err)
	}
	return string(b), nil
}

// IndexBy turns a list of objects into an object keyed by each element's
// value at key (a dotted path, as in pick): index_by(users, "id") is
// {"7": {"id": 7, ...}, ...}. Key values are written as to_string writes
// them (7 -> "7", true -> "true"). Elements that are not objects, or whose
// key is missing, nil, an object, a list or a non-finite number, are
// skipped. When several elements have the same key, the later one wins. A
// nil list gives nil; an empty one {}. The elements are shared, not copied.
func IndexBy(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("index_by needs a list and a key, such as index_by(users, \"id\"); got %d arguments", len(args))
	}
	key, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("index_by: key must be a string, not %s", kindName(args[1]))
	}
	var list []any
	switch l := args[0].(type) {
	case nil:
		return nil, nil
	case []any:
		list = l
	default:
		return nil, fmt.Errorf("index_by: first argument must be a list, not %s", kindName(args[0]))
	}
	path := strings.Split(key, ".")
	out := make(map[string]any, len(list))
	for _, e := range list {
		var v any = e
		for _, seg := range path {
			m, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = m[seg]
		}
		if k, ok := Stringify(v); ok {
			out[k] = e
		}
	}
	return out, nil
}

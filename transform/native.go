package transform

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/expr-lang/expr/ast"
)

// Native is an expression of one of the common shapes over calls' answers,
// compiled to code that reads the backend's JSON bytes and writes the
// result's JSON without decoding a document or running the expr VM:
//
//	map(xs, .f)                 map(xs, {'k': .f, 'n': .a.b, 'c': 'const'})
//	filter(xs, .f > 1 && .g != 'x')   map(filter(xs, ...), ...)
//	len(xs)  count(xs, cond)  sum(xs)  sum(xs, .f)  sum(map(xs, .f ?? 0))
//	first(xs)  last(xs)  pick(x, 'a', 'b.c')  {'k': cart.total, 'n': len(cart.items)}
//	.f ?? 'default'  cart.total ?? .g ?? 0
//
// where xs is a path into a call's answer (cart.items) or, inside a
// closure, into the element (.images), and cond compares element fields
// (or a ?? of them) with constants (== != < <= > >=), joined by && || !. Append writes what
// evaluating the expression with expr and writing its value with an
// Encoder over the decoded documents' spans writes, byte for byte (the
// fast-versus-general fuzzers hold it to that); wherever the two could
// differ, such as an expression error, a value of an unexpected type, or a
// result past expr's memory budget, Append reports !ok and the caller
// evaluates the expression instead.
type Native struct {
	root *nnode
}

type nkind uint8

const (
	nConst    nkind = iota // lit
	nRoot                  // name, path: a value in a call's answer
	nField                 // path: a value in the element (empty: the element)
	nObject                // keyLits, kids: an object literal, keys sorted
	nMap                   // list, kids[0]
	nFilter                // list, cond
	nLen                   // list
	nCount                 // list, cond
	nSum                   // list, kids[0] (nil: the elements; else a scalar: see scalar)
	nFirst                 // list
	nLast                  // list
	nPick                  // kids[0] (the object), pick
	nCoalesce              // kids[0] ?? kids[1]: the left (a path or a ??) unless it is null or missing
	nTest                  // cond: a comparison as a value (cart.items != nil)
	nAny                   // list, cond; all, none and one too (quant)
)

type nnode struct {
	kind nkind
	lit  []byte
	// integer: lit is an integer literal, an int in expr (a sum of ints
	// stays an int); JSON numbers decode as float64.
	integer bool
	ival    int64
	name    string
	path    []string
	keyLits [][]byte // `"key":` of each member of an object literal
	// An object literal over the element reads the first keys of the
	// element paths its members read at the element's level (slotKeys)
	// in one pass over the element, for them all.
	slotKeys []string
	kids     []*nnode
	list     *nnode
	cond     *ncond
	pick     *pickTree
	quant    string // any, all, none, one
}

// ncond is a predicate: a comparison of an element value with a constant,
// a boolean element value, or a combination of predicates.
type ncond struct {
	op    string // == != < <= > >= && || ! bool
	field *nnode // a scalar of the element (nField, or a ?? of fields and constants)
	c     nconst
	a, b  *ncond
}

type nconst struct {
	kind byte // 'n' number, 's' string, 'b' bool, 'z' null
	num  float64
	str  string
	b    bool
}

// pickTree is pick's paths as a tree: each key is taken whole, or only the
// paths of its sub-tree; keys are sorted as the encoder writes a map's.
type pickTree struct {
	keys  []string
	lits  [][]byte
	whole []bool
	subs  []*pickTree
}

// compileNative returns the native form of the parsed expression, or nil
// when it is not of a shape Native covers.
func compileNative(node ast.Node) *Native {
	n := compileValue(node, false)
	if n == nil || n.kind == nConst || n.kind == nRoot || n.kind == nField {
		return nil // constants and plain paths have their own fast paths
	}
	return &Native{root: n}
}

// value compiles a node that gives a value. inElem is set inside a
// closure, where paths into calls are not taken (a list read per element
// would make the work the product of two lists').
func compileValue(node ast.Node, inElem bool) *nnode {
	switch n := node.(type) {
	case *ast.StringNode:
		return &nnode{kind: nConst, lit: AppendString(nil, n.Value)}
	case *ast.IntegerNode:
		return &nnode{kind: nConst, lit: strconv.AppendInt(nil, int64(n.Value), 10), integer: true, ival: int64(n.Value)}
	case *ast.FloatNode:
		b, err := AppendFloat(nil, n.Value)
		if err != nil {
			return nil
		}
		return &nnode{kind: nConst, lit: b}
	case *ast.BoolNode:
		return &nnode{kind: nConst, lit: strconv.AppendBool(nil, n.Value)}
	case *ast.NilNode:
		return &nnode{kind: nConst, lit: []byte("null")}
	case *ast.UnaryNode:
		if n.Operator == "!" || n.Operator == "not" {
			if c := compileCond(n, inElem); c != nil {
				return &nnode{kind: nTest, cond: c}
			}
			return nil
		}
		if n.Operator != "-" {
			return nil
		}
		switch k := n.Node.(type) {
		case *ast.IntegerNode:
			return &nnode{kind: nConst, lit: strconv.AppendInt(nil, -int64(k.Value), 10), integer: true, ival: -int64(k.Value)}
		case *ast.FloatNode:
			if b, err := AppendFloat(nil, -k.Value); err == nil {
				return &nnode{kind: nConst, lit: b}
			}
		}
		return nil
	case *ast.PointerNode, *ast.MemberNode, *ast.IdentifierNode:
		return compilePath(node, inElem)
	case *ast.MapNode:
		return compileObject(n, inElem)
	case *ast.BinaryNode:
		if n.Operator != "??" {
			if c := compileCond(n, inElem); c != nil {
				return &nnode{kind: nTest, cond: c}
			}
			return nil
		}
		left := compileOperand(n.Left, inElem)
		right := compileValue(n.Right, inElem)
		if left == nil || right == nil {
			return nil
		}
		return &nnode{kind: nCoalesce, kids: []*nnode{left, right}}
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || id.Value != "pick" || len(n.Arguments) < 2 {
			return nil
		}
		src := compilePath(n.Arguments[0], inElem)
		if src == nil {
			return nil
		}
		t := &pickTree{}
		for _, a := range n.Arguments[1:] {
			s, ok := a.(*ast.StringNode)
			if !ok {
				return nil
			}
			t.add(strings.Split(s.Value, "."))
		}
		return &nnode{kind: nPick, kids: []*nnode{src}, pick: t}
	case *ast.BuiltinNode:
		return compileBuiltin(n, inElem)
	}
	return nil
}

// path compiles name.a.b (a call's answer) or .a.b / # (the element).
func compilePath(node ast.Node, inElem bool) *nnode {
	base, keys, ok := memberChain(node)
	if !ok {
		return nil
	}
	switch b := base.(type) {
	case *ast.IdentifierNode:
		if inElem || strings.HasPrefix(b.Value, "$") {
			return nil
		}
		return &nnode{kind: nRoot, name: b.Value, path: keys}
	case *ast.PointerNode:
		if !inElem || b.Name != "" {
			return nil // #index, #acc
		}
		return &nnode{kind: nField, path: keys}
	}
	return nil
}

// compileOperand compiles a value read from the data: a path, or a ?? of
// paths and constants (scalar).
func compileOperand(node ast.Node, inElem bool) *nnode {
	if n := compilePath(node, inElem); n != nil {
		return n
	}
	if b, ok := node.(*ast.BinaryNode); ok && b.Operator == "??" {
		if n := compileValue(b, inElem); n != nil && scalar(n) {
			return n
		}
	}
	return nil
}

// scalar reports whether n's value is read as raw bytes (st.raw): a
// constant, a path, or a ?? of those, never a value written by parts.
func scalar(n *nnode) bool {
	switch n.kind {
	case nConst, nRoot, nField:
		return true
	case nCoalesce:
		return scalar(n.kids[0]) && scalar(n.kids[1])
	}
	return false
}

func compileObject(n *ast.MapNode, inElem bool) *nnode {
	type member struct {
		key string
		val *nnode
	}
	ms := make([]member, 0, len(n.Pairs))
	for _, p := range n.Pairs {
		pair, ok := p.(*ast.PairNode)
		if !ok {
			return nil
		}
		k, ok := pair.Key.(*ast.StringNode)
		if !ok {
			return nil
		}
		v := compileValue(pair.Value, inElem)
		if v == nil {
			return nil
		}
		for _, m := range ms {
			if m.key == k.Value {
				return nil // the last would win, the first still be evaluated
			}
		}
		ms = append(ms, member{k.Value, v})
	}
	slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
	out := &nnode{kind: nObject}
	for _, m := range ms {
		lit := AppendString(nil, m.key)
		out.keyLits = append(out.keyLits, append(lit, ':'))
		out.kids = append(out.kids, m.val)
		if inElem {
			out.slotKeys = elemKeys(m.val, out.slotKeys)
		}
	}
	return out
}

// elemKeys adds to keys the first keys of the element paths n reads of
// the current element (not of the elements of lists it walks), up to
// maxSlots.
func elemKeys(n *nnode, keys []string) []string {
	if n == nil {
		return keys
	}
	switch n.kind {
	case nField:
		if len(n.path) > 0 && !slices.Contains(keys, n.path[0]) && len(keys) < maxSlots {
			keys = append(keys, n.path[0])
		}
	case nMap, nFilter, nLen, nCount, nSum, nFirst, nLast, nAny:
		keys = elemKeys(n.list, keys)
	case nPick:
		keys = elemKeys(n.kids[0], keys)
	case nCoalesce:
		keys = elemKeys(n.kids[1], elemKeys(n.kids[0], keys))
	}
	return keys
}

func compileBuiltin(n *ast.BuiltinNode, inElem bool) *nnode {
	if n.Map != nil || n.Threshold != nil || len(n.Arguments) == 0 {
		return nil // set by the optimizer only
	}
	if m, ok := n.Arguments[0].(*ast.BuiltinNode); ok && n.Name == "sum" && len(n.Arguments) == 1 && m.Name == "map" {
		// sum(map(xs, v)) is sum(xs, v), as expr's optimizer makes it:
		// the mapped list is never made.
		if m.Map != nil || m.Threshold != nil || len(m.Arguments) != 2 {
			return nil
		}
		p, ok := m.Arguments[1].(*ast.PredicateNode)
		list := compileList(m.Arguments[0], inElem)
		if !ok || list == nil {
			return nil
		}
		return compileSum(list, p)
	}
	list := compileList(n.Arguments[0], inElem)
	if list == nil {
		return nil
	}
	pred := func() *ast.PredicateNode {
		if len(n.Arguments) != 2 {
			return nil
		}
		p, _ := n.Arguments[1].(*ast.PredicateNode)
		return p
	}
	switch n.Name {
	case "map":
		p := pred()
		if p == nil {
			return nil
		}
		body := compileValue(p.Node, true)
		if body == nil {
			return nil
		}
		return &nnode{kind: nMap, list: list, kids: []*nnode{body}}
	case "filter", "count", "any", "all", "none", "one":
		p := pred()
		if p == nil {
			return nil
		}
		cond := compileCond(p.Node, true)
		if cond == nil {
			return nil
		}
		switch n.Name {
		case "filter":
			return &nnode{kind: nFilter, list: list, cond: cond}
		case "count":
			return &nnode{kind: nCount, list: list, cond: cond}
		}
		return &nnode{kind: nAny, list: list, cond: cond, quant: n.Name}
	case "sum":
		switch len(n.Arguments) {
		case 1:
			return &nnode{kind: nSum, list: list, kids: []*nnode{nil}}
		case 2:
			if p := pred(); p != nil {
				return compileSum(list, p)
			}
		}
	case "len", "first", "last":
		if len(n.Arguments) != 1 {
			return nil
		}
		if n.Name == "last" && list.kind == nFilter {
			// expr 1.17.8 fuses this into a findLast that fails inside a
			// map literal ({'x': last(filter(xs, p))}: "interface
			// conversion"): expr answers it, as it does, in every case.
			return nil
		}
		k := map[string]nkind{"len": nLen, "first": nFirst, "last": nLast}[n.Name]
		return &nnode{kind: k, list: list}
	}
	return nil
}

// compileSum is sum(list, v) for a scalar v of the element.
func compileSum(list *nnode, p *ast.PredicateNode) *nnode {
	v := compileValue(p.Node, true)
	if v == nil || !scalar(v) {
		return nil
	}
	return &nnode{kind: nSum, list: list, kids: []*nnode{v}}
}

// list compiles a node that gives a list: a path, or a filter of one.
func compileList(node ast.Node, inElem bool) *nnode {
	if b, ok := node.(*ast.BuiltinNode); ok {
		if b.Name != "filter" {
			return nil
		}
		return compileBuiltin(b, inElem)
	}
	return compilePath(node, inElem)
}

var flipped = map[string]string{"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

// compileCond compiles a predicate of the element (inElem) or, as a
// value, of calls' answers.
func compileCond(node ast.Node, inElem bool) *ncond {
	switch n := node.(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and", "||", "or":
			a, b := compileCond(n.Left, inElem), compileCond(n.Right, inElem)
			if a == nil || b == nil {
				return nil
			}
			op := "&&"
			if n.Operator == "||" || n.Operator == "or" {
				op = "||"
			}
			return &ncond{op: op, a: a, b: b}
		}
		op, ok := flipped[n.Operator]
		if !ok {
			break // ??, a value that is a boolean or not, below
		}
		if f := compileOperand(n.Left, inElem); f != nil {
			if k, ok := constant(n.Right); ok {
				return &ncond{op: n.Operator, field: f, c: k}
			}
		}
		if f := compileOperand(n.Right, inElem); f != nil {
			if k, ok := constant(n.Left); ok {
				return &ncond{op: op, field: f, c: k}
			}
		}
		return nil
	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			return nil
		}
		a := compileCond(n.Node, inElem)
		if a == nil {
			return nil
		}
		return &ncond{op: "!", a: a}
	case *ast.BoolNode:
		return &ncond{op: "const", c: nconst{kind: 'b', b: n.Value}}
	}
	if f := compileOperand(node, inElem); f != nil {
		return &ncond{op: "bool", field: f}
	}
	return nil
}

func constant(node ast.Node) (nconst, bool) {
	switch n := node.(type) {
	case *ast.IntegerNode:
		return nconst{kind: 'n', num: float64(n.Value)}, float64(int(float64(n.Value))) == float64(n.Value) && math.Abs(float64(n.Value)) < 1<<53
	case *ast.FloatNode:
		return nconst{kind: 'n', num: n.Value}, true
	case *ast.StringNode:
		return nconst{kind: 's', str: n.Value}, true
	case *ast.BoolNode:
		return nconst{kind: 'b', b: n.Value}, true
	case *ast.NilNode:
		return nconst{kind: 'z'}, true
	case *ast.UnaryNode:
		if n.Operator == "-" {
			if k, ok := constant(n.Node); ok && k.kind == 'n' {
				k.num = -k.num
				return k, true
			}
		}
	}
	return nconst{}, false
}

func (t *pickTree) add(p []string) {
	i, found := slices.BinarySearch(t.keys, p[0])
	if !found {
		t.keys = slices.Insert(t.keys, i, p[0])
		lit := append(AppendString(nil, p[0]), ':')
		t.lits = slices.Insert(t.lits, i, lit)
		t.whole = slices.Insert(t.whole, i, false)
		t.subs = slices.Insert(t.subs, i, nil)
	}
	switch {
	case t.whole[i]:
	case len(p) == 1:
		t.whole[i], t.subs[i] = true, nil // taken whole, whatever else is picked under it
	default:
		if t.subs[i] == nil {
			t.subs[i] = &pickTree{}
		}
		t.subs[i].add(p[1:])
	}
}

// Roots gives the answers a native expression reads: the JSON bytes of
// call name's answer (compact, as ScanJSON and Compact leave it), or !ok
// when the answer is anything else (skipped, failed, text, a list of
// answers): the expression is then evaluated.
type Roots interface {
	RawRoot(name string) (raw []byte, ok bool)
	// RootMember is the member key of that answer (found false when it
	// has none); ok is false where RawRoot's is, and when the answer is
	// not an object. It is what a lookup in RawRoot's bytes would give,
	// from an index of the answer's members made once.
	RootMember(name, key string) (raw []byte, found, ok bool)
}

// nativeBudget is how many elements of lists and members of objects a
// native evaluation may make before it leaves the expression to expr:
// half of expr's budget, so what Append writes expr would not refuse.
const nativeBudget = MemoryBudget / 2

type nstate struct {
	roots Roots
	units int
	slots slots
	vals  [][]byte // the slots' values, a stack of one run per object literal
	buf   [2 * maxSlots][]byte
}

// states are pooled: the slots' values would otherwise be allocated on
// each evaluation (they are written through the state's pointer).
var states = sync.Pool{New: func() any { return new(nstate) }}

// slots are the values of some keys of one element, read in one pass
// (nil where missing; in nstate.vals from base), for the paths into that
// element to start from.
type slots struct {
	elem []byte
	keys []string
	base int
}

// Append appends the expression's JSON to dst; ok is false, with dst as it
// was, when the expression must be evaluated instead.
func (n *Native) Append(dst []byte, roots Roots) (out []byte, ok bool) {
	mark := len(dst)
	st := states.Get().(*nstate)
	st.roots, st.units, st.slots, st.vals = roots, 0, slots{}, st.buf[:0]
	defer func() {
		if r := recover(); r != nil { // a case this code missed: expr decides
			out, ok = dst[:mark], false
		}
		clear(st.buf[:])
		st.roots, st.slots, st.vals = nil, slots{}, nil // hold no request's bytes
		states.Put(st)
	}()
	out, ok = st.emit(dst, n.root, nil)
	if !ok {
		return dst[:mark], false
	}
	return out, true
}

// resolve gives the raw value of a path node (nil for a missing member,
// whose value is null); ok is false where expr would fail: a member of
// something that is not an object, or of a missing member.
func (st *nstate) resolve(n *nnode, elem []byte) ([]byte, bool) {
	raw := elem
	if n.kind == nField && len(n.path) > 0 && st.slots.keys != nil && len(elem) == len(st.slots.elem) && &elem[0] == &st.slots.elem[0] {
		if i := slices.Index(st.slots.keys, n.path[0]); i >= 0 {
			v := st.vals[st.slots.base+i]
			if v == nil {
				return nil, len(n.path) == 1 // missing: null at the end of the path
			}
			return walk(v, n.path[1:])
		}
	}
	if n.kind == nRoot {
		if len(n.path) > 0 {
			v, found, ok := st.roots.RootMember(n.name, n.path[0])
			switch {
			case !ok:
				return nil, false
			case !found:
				return nil, len(n.path) == 1
			}
			return walk(v, n.path[1:])
		}
		var ok bool
		if raw, ok = st.roots.RawRoot(n.name); !ok || len(raw) == 0 {
			return nil, false
		}
	}
	if raw == nil {
		return nil, false
	}
	return walk(raw, n.path)
}

// raw gives the raw value of a scalar node (nil for a missing member,
// whose value is null); ok is false where expr would fail.
func (st *nstate) raw(n *nnode, elem []byte) ([]byte, bool) {
	switch n.kind {
	case nConst:
		return n.lit, true
	case nCoalesce:
		v, ok := st.raw(n.kids[0], elem)
		if !ok || v != nil && string(v) != "null" {
			return v, ok
		}
		return st.raw(n.kids[1], elem)
	}
	return st.resolve(n, elem)
}

// addend is what sum adds for element e: f's value (f nil: the element
// itself), a float64 as every JSON number decodes, or an int for an
// integer literal (isInt); ok is false for anything else (expr's Add fails
// on it, or would differ).
func (st *nstate) addend(f *nnode, e []byte) (x float64, i int64, isInt, ok bool) {
	v := e
	for f != nil {
		switch {
		case f.kind == nConst && f.integer:
			return 0, f.ival, true, f.ival > -1<<53 && f.ival < 1<<53
		case f.kind == nCoalesce:
			l, ok := st.raw(f.kids[0], e)
			if !ok {
				return 0, 0, false, false
			}
			if l != nil && string(l) != "null" {
				v, f = l, nil
				continue
			}
			f = f.kids[1]
		default:
			if v, ok = st.raw(f, e); !ok {
				return 0, 0, false, false
			}
			f = nil
		}
	}
	x, ok = number(v)
	return x, 0, false, ok
}

// walk follows path from raw (not nil); a missing last key gives nil.
func walk(raw []byte, path []string) ([]byte, bool) {
	for i, k := range path {
		if len(raw) == 0 || raw[0] != '{' {
			return nil, false
		}
		v, found := member(raw, k)
		if !found {
			return nil, i == len(path)-1
		}
		raw = v
	}
	return raw, true
}

// maxSlots is the most keys of an element an object literal reads in one
// pass; members past it are looked up one by one.
const maxSlots = 16

// members sets vals[i] to the value of keys[i] in a compact object (nil
// when missing; the last of several members of one name counts), reading
// the object once.
func members(obj []byte, keys []string, vals [][]byte) {
	i := 1
	for i < len(obj) && obj[i] != '}' {
		start := i + 1
		j := plainEnd(obj, start)
		var key string
		var kEnd int
		var plain bool
		if j < len(obj) && obj[j] == '"' {
			kEnd, plain = j+1, true
		} else {
			var ok bool
			if key, kEnd, ok = unquote(obj, i); !ok {
				panic("native: malformed key")
			}
		}
		if kEnd >= len(obj) || obj[kEnd] != ':' {
			panic("native: malformed object")
		}
		v := kEnd + 1
		end := skipFast(obj, v)
		if end < 0 {
			panic("native: malformed value")
		}
		for n, k := range keys {
			if plain && string(obj[start:j]) == k || !plain && key == k {
				vals[n] = obj[v:end]
			}
		}
		i = end
		if i < len(obj) && obj[i] == ',' {
			i++
		}
	}
}

// member finds key in a compact object; with several members of one name
// the last counts, as in decoding.
func member(obj []byte, key string) (raw []byte, found bool) {
	i := 1
	for i < len(obj) && obj[i] != '}' {
		kEnd, eq := keyIs(obj, i, key)
		if kEnd < 0 || kEnd >= len(obj) || obj[kEnd] != ':' {
			panic("native: malformed object")
		}
		v := kEnd + 1
		end := skipFast(obj, v)
		if end < 0 {
			panic("native: malformed value")
		}
		if eq {
			raw, found = obj[v:end], true
		}
		i = end
		if i < len(obj) && obj[i] == ',' {
			i++
		}
	}
	return raw, found
}

// keyIs reports whether the string at b[i] is key, and returns the index
// past it; escaped keys are decoded to compare.
func keyIs(b []byte, i int, key string) (int, bool) {
	start := i + 1
	j := plainEnd(b, start)
	if j < len(b) && b[j] == '"' {
		return j + 1, string(b[start:j]) == key
	}
	s, end, ok := unquote(b, i)
	if !ok {
		return -1, false
	}
	return end, s == key
}

// each calls f with each element of a list node; ok is false where expr
// would fail or the budget is spent.
func (st *nstate) each(n *nnode, elem []byte, f func(e []byte) bool) bool {
	if n.kind == nFilter {
		return st.each(n.list, elem, func(e []byte) bool {
			keep, ok := st.test(n.cond, e)
			switch {
			case !ok:
				return false
			case !keep:
				return true
			}
			return st.spend(1) && f(e) // filter makes a list of what it keeps
		})
	}
	raw, ok := st.resolve(n, elem)
	if !ok {
		return false
	}
	return st.eachRaw(raw, f)
}

// eachRaw calls f with each element of the raw list; ok is false when raw
// is not a list or f returns false.
func (st *nstate) eachRaw(raw []byte, f func(e []byte) bool) bool {
	if len(raw) == 0 || raw[0] != '[' {
		return false
	}
	for i := 1; i < len(raw) && raw[i] != ']'; {
		end := skipFast(raw, i)
		if end < 0 {
			panic("native: malformed list")
		}
		if !f(raw[i:end]) {
			return false
		}
		i = end
		if i < len(raw) && raw[i] == ',' {
			i++
		}
	}
	return true
}

func (st *nstate) spend(n int) bool {
	st.units += n
	return st.units < nativeBudget
}

func (st *nstate) emit(dst []byte, n *nnode, elem []byte) ([]byte, bool) {
	switch n.kind {
	case nConst:
		return append(dst, n.lit...), true
	case nRoot, nField:
		raw, ok := st.resolve(n, elem)
		if !ok {
			return dst, false
		}
		return appendCanonical(dst, raw)
	case nCoalesce:
		v, ok := st.raw(n.kids[0], elem)
		switch {
		case !ok:
			return dst, false
		case v == nil || string(v) == "null":
			return st.emit(dst, n.kids[1], elem)
		}
		return appendCanonical(dst, v)
	case nObject:
		if !st.spend(len(n.kids)) {
			return dst, false
		}
		saved, base := st.slots, len(st.vals)
		if len(n.slotKeys) > 0 {
			if len(elem) == 0 || elem[0] != '{' {
				return dst, false // a member of what is not an object: expr fails
			}
			st.vals = append(st.vals, make([][]byte, len(n.slotKeys))...)
			members(elem, n.slotKeys, st.vals[base:])
			st.slots = slots{elem, n.slotKeys, base}
		}
		dst = append(dst, '{')
		for i, k := range n.kids {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, n.keyLits[i]...)
			var ok bool
			if dst, ok = st.emit(dst, k, elem); !ok {
				return dst, false
			}
		}
		st.slots, st.vals = saved, st.vals[:base]
		return append(dst, '}'), true
	case nMap, nFilter:
		dst = append(dst, '[')
		count := 0
		ok := st.each(n.list, elem, func(e []byte) bool {
			if n.kind == nFilter {
				keep, ok := st.test(n.cond, e)
				if !ok {
					return false
				}
				if !keep {
					return true
				}
			}
			if count > 0 {
				dst = append(dst, ',')
			}
			count++
			if !st.spend(1) {
				return false
			}
			var ok bool
			if n.kind == nFilter {
				dst, ok = appendCanonical(dst, e)
			} else {
				dst, ok = st.emit(dst, n.kids[0], e)
			}
			return ok
		})
		if !ok {
			return dst, false
		}
		return append(dst, ']'), true
	case nLen, nCount:
		count := 0
		ok := st.each(n.list, elem, func(e []byte) bool {
			if n.kind == nCount {
				keep, ok := st.test(n.cond, e)
				if !ok {
					return false
				}
				if !keep {
					return true
				}
			}
			count++
			return true
		})
		if !ok {
			return dst, false
		}
		return strconv.AppendInt(dst, int64(count), 10), true
	case nSum:
		// As expr adds: from the int 0, ints (integer literals) to an
		// int, and a float (every JSON number) turning the sum into one.
		isum, fsum, integer := int64(0), 0.0, true
		ok := st.each(n.list, elem, func(e []byte) bool {
			x, i, isInt, ok := st.addend(n.kids[0], e)
			switch {
			case !ok:
				return false // not a number: expr's Add fails
			case isInt && integer:
				isum += i
				return isum > -1<<53 && isum < 1<<53 // beyond, a float's sum could differ from expr's int
			case isInt:
				x = float64(i)
			case integer:
				fsum, integer = float64(isum), false
			}
			fsum = x + fsum
			return true
		})
		switch {
		case !ok:
			return dst, false
		case integer:
			return strconv.AppendInt(dst, isum, 10), true // the int 0 sum starts from, or a sum of int literals
		}
		out, err := AppendFloat(dst, fsum)
		return out, err == nil
	case nFirst, nLast:
		list := n.list
		var got []byte
		stop := n.kind == nFirst && list.kind != nFilter
		take := func(e []byte) bool {
			if got == nil || n.kind == nLast {
				got = e
			}
			// A filter is run to its end, as expr makes its list first;
			// the first of a plain list needs no more of it.
			return !stop
		}
		var ok bool
		if list.kind == nFilter {
			ok = st.each(list, elem, take)
		} else {
			raw, found := st.resolve(list, elem)
			switch {
			case !found:
				return dst, false
			case raw == nil || string(raw) == "null":
				return append(dst, "null"...), true // first(nil) is nil
			}
			ok = st.eachRaw(raw, take)
		}
		if !ok && !(stop && got != nil) {
			return dst, false
		}
		if got == nil {
			return append(dst, "null"...), true
		}
		return appendCanonical(dst, got)
	case nTest:
		keep, ok := st.test(n.cond, elem)
		if !ok {
			return dst, false
		}
		return strconv.AppendBool(dst, keep), true
	case nAny:
		// As expr: any, all and none stop at the first element that
		// decides (a filter is run to its end first, as expr makes its
		// list); one tests every element.
		stop := n.list.kind != nFilter && n.quant != "one"
		trues, decided := 0, false
		ok := st.each(n.list, elem, func(e []byte) bool {
			if decided {
				return true // a filter's rest, run for its failures only
			}
			keep, ok := st.test(n.cond, e)
			if !ok {
				return false
			}
			if keep {
				trues++
			}
			if (n.quant == "all") != keep && n.quant != "one" {
				decided = true
				return !stop
			}
			return true
		})
		if !ok && !(stop && decided) {
			return dst, false
		}
		var v bool
		switch n.quant {
		case "any":
			v = decided
		case "all", "none":
			v = !decided
		case "one":
			v = trues == 1
		}
		return strconv.AppendBool(dst, v), true
	case nPick:
		raw, ok := st.resolve(n.kids[0], elem)
		switch {
		case !ok:
			return dst, false
		case raw == nil || string(raw) == "null":
			return append(dst, "null"...), true
		case raw[0] != '{':
			return dst, false // pick of a non-object fails
		}
		out, _, ok := st.pickInto(dst, raw, n.pick)
		return out, ok
	}
	return dst, false
}

// pickInto writes the picked members of obj as an object; wrote is the
// number of members written.
func (st *nstate) pickInto(dst, obj []byte, t *pickTree) (out []byte, wrote int, ok bool) {
	if !st.spend(len(t.keys)) {
		return dst, 0, false
	}
	dst = append(dst, '{')
	for i, k := range t.keys {
		v, found := member(obj, k)
		if !found {
			continue
		}
		mark := len(dst)
		if wrote > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, t.lits[i]...)
		if t.whole[i] {
			if dst, ok = appendCanonical(dst, v); !ok {
				return dst, 0, false
			}
			wrote++
			continue
		}
		if v[0] != '{' {
			dst = dst[:mark] // not an object: nothing under it is picked
			continue
		}
		var n int
		if dst, n, ok = st.pickInto(dst, v, t.subs[i]); !ok {
			return dst, 0, false
		}
		if n == 0 {
			dst = dst[:mark] // nothing picked under it: left out
			continue
		}
		wrote++
	}
	return append(dst, '}'), wrote, true
}

// test evaluates a predicate on element e; ok is false where expr fails.
func (st *nstate) test(c *ncond, e []byte) (bool, bool) {
	switch c.op {
	case "&&", "||":
		a, ok := st.test(c.a, e)
		if !ok {
			return false, false
		}
		if a == (c.op == "||") {
			return a, true // short-circuit, as expr does
		}
		return st.test(c.b, e)
	case "!":
		a, ok := st.test(c.a, e)
		return !a, ok
	case "const":
		return c.c.b, true
	}
	v, ok := st.raw(c.field, e)
	if !ok {
		return false, false
	}
	if c.op == "bool" {
		switch string(v) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
		return false, false // a predicate that is not a boolean fails
	}
	if c.op == "==" || c.op == "!=" {
		eq, ok := equal(v, c.c)
		return eq == (c.op == "=="), ok
	}
	var cmp int
	switch {
	case c.c.kind == 'n' && len(v) > 0 && isNumberByte(v[0]):
		x, ok := number(v)
		if !ok {
			return false, false
		}
		switch {
		case x < c.c.num:
			cmp = -1
		case x > c.c.num:
			cmp = 1
		}
	case c.c.kind == 's' && len(v) > 0 && v[0] == '"':
		s, ok := stringValue(v)
		if !ok {
			return false, false
		}
		cmp = strings.Compare(s, c.c.str)
	default:
		return false, false // expr cannot order these
	}
	switch c.op {
	case "<":
		return cmp < 0, true
	case "<=":
		return cmp <= 0, true
	case ">":
		return cmp > 0, true
	case ">=":
		return cmp >= 0, true
	}
	return false, false
}

// equal is expr's == of a decoded value and a constant: numbers by value,
// strings and booleans of the same type, nil only to null; any other pair
// is unequal.
func equal(v []byte, c nconst) (bool, bool) {
	null := v == nil || string(v) == "null"
	switch c.kind {
	case 'z':
		return null, true
	case 'n':
		if null || !isNumberByte(v[0]) {
			return false, true
		}
		x, ok := number(v)
		return x == c.num, ok
	case 's':
		if null || v[0] != '"' {
			return false, true
		}
		s, ok := stringValue(v)
		return s == c.str, ok
	case 'b':
		switch string(v) {
		case "true":
			return c.b, true
		case "false":
			return !c.b, true
		}
		return false, true
	}
	return false, false
}

func isNumberByte(c byte) bool { return c == '-' || '0' <= c && c <= '9' }

// number parses a JSON number as decoding does; ok is false for what
// decoding refuses (out of float64's range) and for anything not a number.
func number(v []byte) (float64, bool) {
	if len(v) == 0 || !isNumberByte(v[0]) {
		return 0, false
	}
	f, _, ok := numberValue(v)
	return f, ok
}

func stringValue(v []byte) (string, bool) {
	s, end, ok := unquote(v, 0)
	return s, ok && end == len(v)
}

// appendCanonical writes a raw value as the encoder writes its decoded
// value: objects and lists as the backend sent them (the encoder splices
// them from the spans), numbers as spelled, strings re-encoded.
func appendCanonical(dst, raw []byte) ([]byte, bool) {
	if raw == nil {
		return append(dst, "null"...), true
	}
	switch c := raw[0]; {
	case c == '"':
		plain := true
		for _, b := range raw[1 : len(raw)-1] {
			if !strPlain[b] || b >= 0x80 || b == '<' || b == '>' || b == '&' {
				plain = false
				break
			}
		}
		if plain {
			return append(dst, raw...), true
		}
		s, ok := stringValue(raw)
		if !ok {
			return dst, false
		}
		return AppendString(dst, s), true
	case isNumberByte(c):
		if len(raw) > 15 || slices.ContainsFunc(raw, func(b byte) bool { return b == 'e' || b == 'E' }) {
			if _, ok := number(raw); !ok {
				return dst, false // decoding refuses it
			}
		}
		return append(dst, raw...), true
	}
	return append(dst, raw...), true
}

// Member is one member of a top-level object: its key, decoded, and the
// raw bytes of its value.
type Member struct {
	Key   string
	Value []byte
}

// TopMembers appends the members of doc, a compact object (as ScanJSON and
// Compact leave a document), to dst in order, reading doc once: an index
// that lookups of several keys of one answer share. ok is false when doc is
// not an object. Plain keys point into doc, which must not change while
// the members are used.
func TopMembers(dst []Member, doc []byte) (_ []Member, ok bool) {
	if len(doc) == 0 || doc[0] != '{' {
		return dst, false
	}
	defer func() {
		if r := recover(); r != nil {
			ok = false // not compact: callers look the slow way
		}
	}()
	i := 1
	for i < len(doc) && doc[i] != '}' {
		start := i + 1
		j := plainEnd(doc, start)
		var key string
		var kEnd int
		if j < len(doc) && doc[j] == '"' {
			key, kEnd = unsafe.String(unsafe.SliceData(doc[start:]), j-start), j+1
		} else {
			var ok bool
			if key, kEnd, ok = unquote(doc, i); !ok {
				return dst, false
			}
		}
		if kEnd >= len(doc) || doc[kEnd] != ':' {
			return dst, false
		}
		end := skipFast(doc, kEnd+1)
		if end < 0 {
			return dst, false
		}
		dst = append(dst, Member{key, doc[kEnd+1 : end]})
		i = end
		if i < len(doc) && doc[i] == ',' {
			i++
		}
	}
	return dst, true
}

// FindMember is the value of key among ms (the last of several members of
// one name, as decoding keeps).
func FindMember(ms []Member, key string) (raw []byte, found bool) {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Key == key {
			return ms[i].Value, true
		}
	}
	return nil, false
}

// skipFast returns the index past the value at b[i] of a document ScanJSON
// accepted, or -1: skipValue without checking the strings it passes, whose
// closing quotes it finds with bytes.IndexByte (answers are mostly string
// bytes, and native code passes over most of them).
func skipFast(b []byte, i int) int { return skipWith(b, i, skipString) }

// skipString returns the index past the string at b[i] (b[i] is its
// opening quote), or -1.
func skipString(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1 // not escaped: an even run of backslashes is escapes of themselves
		}
		j++
	}
}

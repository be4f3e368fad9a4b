package transform

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
)

// Limits bound what one expression may cost.
const (
	// MaxNodes is the most AST nodes one expression may have.
	MaxNodes = 2000
	// MemoryBudget bounds the allocations of one evaluation (expr's own
	// accounting: roughly elements created by map/filter/ranges).
	MemoryBudget = 1_000_000
)

// Scope declares the names an expression may read, with their types. It is
// built once per spec field; Compile reports any other name as unknown.
type Scope struct {
	decl  types.Map
	calls map[string]bool
}

// NewScope starts a scope with the request names every expression sees:
// params, query, headers, body, auth and meta (whose members are the call
// names passed here).
func NewScope(calls []string) *Scope {
	meta := types.Map{}
	for _, c := range calls {
		meta[c] = types.Map{
			"status":      types.Int,
			"headers":     types.Map{types.Extra: types.String},
			"duration_ms": types.Float64,
			"error":       types.Any,
		}
	}
	s := &Scope{
		decl: types.Map{
			"params":  types.Map{types.Extra: types.String},
			"query":   types.Map{types.Extra: types.Any},
			"headers": types.Map{types.Extra: types.String},
			"body":    types.Any,
			"auth": types.Map{
				"sub":    types.String,
				"scopes": types.Array(types.String),
				"claims": types.Map{types.Extra: types.Any},
				"method": types.String,
			},
			"meta": meta,
		},
		calls: map[string]bool{},
	}
	return s
}

// With returns a copy of s that also declares name as any value.
func (s *Scope) With(names ...string) *Scope {
	d := make(types.Map, len(s.decl)+len(names))
	for k, v := range s.decl {
		d[k] = v
	}
	for _, n := range names {
		d[n] = types.Any
	}
	return &Scope{decl: d, calls: s.calls}
}

// Only returns a copy of s that declares only the given names (each as s
// declares it), for fields that may read less than a call may: an
// endpoint's auth.allow reads the request, never a call.
func (s *Scope) Only(names ...string) *Scope {
	d := make(types.Map, len(names))
	for _, n := range names {
		if t, ok := s.decl[n]; ok {
			d[n] = t
		}
	}
	return &Scope{decl: d, calls: map[string]bool{}}
}

// WithParams returns a copy of s whose params holds exactly the given path
// parameter names, so reading any other params.NAME is an unknown field.
func (s *Scope) WithParams(names []string) *Scope {
	d := make(types.Map, len(s.decl))
	for k, v := range s.decl {
		d[k] = v
	}
	p := types.Map{}
	for _, n := range names {
		p[n] = types.String
	}
	d["params"] = p
	return &Scope{decl: d, calls: s.calls}
}

// Has reports whether name is declared.
func (s *Scope) Has(name string) bool { _, ok := s.decl[name]; return ok }

// Program is a compiled expression. It is immutable and safe for concurrent
// use; Run takes a pooled VM for each evaluation.
type Program struct {
	// Source is the expression as written.
	Source string
	// Reads lists the top-level names the expression reads, sorted.
	Reads []string
	// MetaReads lists the call names read as meta.NAME, sorted.
	MetaReads []string
	// Keys says, for each name in Reads, which of its top-level keys the
	// expression reads, and how: cart.items and cart.total give the keys
	// items and total. A nil entry means the name is read whole (passed to
	// a function, indexed with a computed key, or bound with let).
	Keys map[string]map[string]*KeyUse
	// Path is set when the expression is nothing but a name followed by
	// constant member accesses (cart, cart.total, user.address.city): the
	// value can then be spliced from raw JSON without evaluating anything.
	Path []string
	// Native is set when the expression is of a shape compiled to code
	// over the answers' bytes (map, filter, pick, len, count, sum, first
	// and last over paths into calls): see Native.
	Native *Native
	prog   *vm.Program
}

// KeyUse is how an expression reads one top-level key of a name. With
// Whole unset, the value is a list whose elements are only read through
// closures by constant keys, listed in Elems: map(cart.items, .sku) reads
// the sku of each item and nothing else of it, and len(cart.items) reads no
// key at all.
type KeyUse struct {
	Whole bool
	Elems []string
}

// consumers are the builtins that read a list's elements only through
// their predicate and let no element out whole: map's result holds what
// the predicate gives, the others a count, a sum or a boolean. filter lets
// elements out, so its own consumer is checked in turn.
var consumers = map[string]bool{"map": true, "all": true, "any": true, "none": true, "one": true, "count": true, "sum": true}

// elementKeys reports whether list (a name.KEY node) is read only by
// consumers, and which keys of its elements their predicates read.
func (c *collector) elementKeys(list ast.Node) ([]string, bool) {
	b := c.consumer[list]
	switch {
	case b == nil:
		return nil, false
	case b.Name == "len" && len(b.Arguments) == 1:
		return nil, true
	case len(b.Arguments) != 2:
		return nil, false
	}
	pred, ok := b.Arguments[1].(*ast.PredicateNode)
	if !ok {
		return nil, false
	}
	keys, ok := predicateKeys(pred)
	if !ok {
		return nil, false
	}
	switch {
	case consumers[b.Name]:
		return keys, true
	case b.Name == "filter":
		more, ok := c.elementKeys(b)
		if !ok {
			return nil, false
		}
		return append(keys, more...), true
	}
	return nil, false
}

// predicateKeys lists the constant keys a predicate reads of its element
// (.sku, #.sku, #['sku']). ok is false when the element itself is used
// (# alone, passed to a function, bound with let). Pointers inside nested
// predicates belong to those predicates' own elements and are left out.
func predicateKeys(pred *ast.PredicateNode) ([]string, bool) {
	all := &pointerVisitor{}
	node := pred.Node
	ast.Walk(&node, all)
	nested := &pointerVisitor{}
	for _, np := range all.preds {
		n := ast.Node(np)
		ast.Walk(&n, nested)
	}
	inner := map[*ast.PointerNode]bool{}
	for _, p := range nested.ptrs {
		inner[p] = true
	}
	var keys []string
	for _, p := range all.ptrs {
		if inner[p] || p.Name != "" {
			continue // a nested predicate's element, or #index / #acc
		}
		k, ok := all.keyOf[p]
		if !ok {
			return nil, false
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys, true
}

type pointerVisitor struct {
	ptrs  []*ast.PointerNode
	keyOf map[*ast.PointerNode]string // pointers read as #.KEY
	preds []*ast.PredicateNode
}

func (v *pointerVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.PointerNode:
		v.ptrs = append(v.ptrs, n)
	case *ast.PredicateNode:
		v.preds = append(v.preds, n)
	case *ast.MemberNode:
		if p, ok := n.Node.(*ast.PointerNode); ok && !n.Method {
			if s, ok := n.Property.(*ast.StringNode); ok {
				if v.keyOf == nil {
					v.keyOf = map[*ast.PointerNode]string{}
				}
				v.keyOf[p] = s.Value
			}
		}
	}
}

// CompileError is an expression that does not compile. Offset is the byte
// offset of the fault in Source; Snippet is expr's excerpt with a caret.
type CompileError struct {
	Source  string
	Offset  int
	Message string
	Snippet string
}

func (e *CompileError) Error() string { return e.Message + e.Snippet }

// ErrDynamicMeta is returned for meta read with a computed call name, which
// would hide a dependency from the call graph.
var ErrDynamicMeta = errors.New("meta must be read as meta.NAME with a call name written out")

// ErrEnv is returned for $env, expr's view of every variable at once, which
// would hide which calls an expression reads.
var ErrEnv = errors.New("$env is not available; read each name directly, such as cart.total")

// Compile compiles src against scope. Unknown names, syntax errors and type
// errors that can be seen statically are returned as *CompileError.
func Compile(src string, scope *Scope) (*Program, error) {
	opts := append([]expr.Option{expr.Env(scope.decl), expr.MaxNodes(MaxNodes)}, functions...)
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		if fe, ok := errors.AsType[*file.Error](err); ok {
			return nil, &CompileError{Source: src, Offset: runeToByte(src, fe.From), Message: fe.Message, Snippet: fe.Snippet}
		}
		return nil, &CompileError{Source: src, Message: err.Error()}
	}
	p := &Program{Source: src, prog: prog}
	c := &collector{scope: scope, reads: map[string]bool{}, meta: map[string]bool{}}
	// Walk the tree as parsed, not prog.Node(): the optimizer fuses nodes
	// (map of filter) into fields ast.Walk does not visit.
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, &CompileError{Source: src, Message: err.Error()}
	}
	node := tree.Node
	ast.Walk(&node, c)
	for _, id := range c.metaIDs {
		if !c.metaOK[id] && c.err == nil {
			c.err = ErrDynamicMeta
			c.errAt = id.Location().From
		}
	}
	if c.err != nil {
		return nil, &CompileError{Source: src, Offset: runeToByte(src, c.errAt), Message: c.err.Error()}
	}
	p.Reads = sortedKeys(c.reads)
	p.MetaReads = sortedKeys(c.meta)
	p.Keys = map[string]map[string]*KeyUse{}
	whole := map[string]bool{}
	for _, id := range c.ids {
		k, ok := c.keyed[id]
		if !ok || c.lets[id.Value] {
			whole[id.Value] = true
			continue
		}
		keys := p.Keys[id.Value]
		if keys == nil {
			keys = map[string]*KeyUse{}
			p.Keys[id.Value] = keys
		}
		use := keys[k]
		if use == nil {
			use = &KeyUse{}
			keys[k] = use
		}
		elems, restricted := c.elementKeys(c.member[id])
		switch {
		case !restricted:
			use.Whole = true
		case !use.Whole:
			for _, e := range elems {
				if !slices.Contains(use.Elems, e) {
					use.Elems = append(use.Elems, e)
				}
			}
			if use.Elems == nil {
				use.Elems = []string{}
			}
		}
	}
	for n := range whole {
		p.Keys[n] = nil // read whole
	}
	for _, keys := range p.Keys {
		for _, use := range keys {
			if use.Whole {
				use.Elems = nil
			}
		}
	}
	p.Path = plainPath(tree.Node)
	if p.Path != nil && !scope.Has(p.Path[0]) {
		p.Path = nil // not a declared name, such as $env
	}
	if p.Path == nil {
		p.Native = compileNative(tree.Node)
	}
	return p, nil
}

func runeToByte(s string, runes int) int {
	i := 0
	for n := 0; n < runes && i < len(s); n++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type collector struct {
	scope *Scope
	reads map[string]bool
	meta  map[string]bool
	lets  map[string]bool
	err   error
	errAt int
	// metaIDs are the meta identifiers seen, metaOK those read as
	// meta.NAME: any other use of meta (let m = meta, values(meta)) would
	// hide which calls are read.
	metaIDs []*ast.IdentifierNode
	metaOK  map[*ast.IdentifierNode]bool
	// ids are the identifiers of declared names; keyed those read as
	// name.KEY (or name?.KEY, name["KEY"]), with the key.
	ids    []*ast.IdentifierNode
	keyed  map[*ast.IdentifierNode]string
	member map[*ast.IdentifierNode]ast.Node // the name.KEY node of each keyed name
	// consumer maps a node to the builtin it is the first argument of
	// (map(x, ...), filter(x, ...), len(x)): how a list is used.
	consumer map[ast.Node]*ast.BuiltinNode
}

func (c *collector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.VariableDeclaratorNode:
		if c.lets == nil {
			c.lets = map[string]bool{}
		}
		c.lets[n.Name] = true
	case *ast.IdentifierNode:
		if c.scope.Has(n.Value) && !c.lets[n.Value] {
			c.reads[n.Value] = true
			c.ids = append(c.ids, n)
		}
		switch {
		case n.Value == "meta":
			c.metaIDs = append(c.metaIDs, n)
		case n.Value == "$env" && c.err == nil:
			c.err = ErrEnv
			c.errAt = n.Location().From
		}
	case *ast.BuiltinNode:
		if len(n.Arguments) > 0 {
			if c.consumer == nil {
				c.consumer = map[ast.Node]*ast.BuiltinNode{}
			}
			c.consumer[n.Arguments[0]] = n
		}
	case *ast.MemberNode:
		if id, ok := n.Node.(*ast.IdentifierNode); ok && !n.Method {
			if s, ok := n.Property.(*ast.StringNode); ok {
				if c.keyed == nil {
					c.keyed = map[*ast.IdentifierNode]string{}
				}
				c.keyed[id] = s.Value
				if c.member == nil {
					c.member = map[*ast.IdentifierNode]ast.Node{}
				}
				c.member[id] = n
			}
		}
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "meta" {
			if s, ok := n.Property.(*ast.StringNode); ok {
				c.meta[s.Value] = true
				if c.metaOK == nil {
					c.metaOK = map[*ast.IdentifierNode]bool{}
				}
				c.metaOK[id] = true
			} else if c.err == nil {
				c.err = ErrDynamicMeta
				c.errAt = n.Location().From
			}
		}
	}
}

// plainPath returns [name, key, key...] when node is a name followed only by
// constant, non-optional member accesses.
func plainPath(node ast.Node) []string {
	base, keys, ok := memberChain(node)
	id, isName := base.(*ast.IdentifierNode)
	if !ok || !isName {
		return nil
	}
	return append([]string{id.Value}, keys...)
}

// memberChain splits node into the node its constant, non-optional member
// accesses start from and their keys, in order: cart.items.sku gives cart
// and [items sku], .images gives the element pointer and [images]. ok is
// false when some access is computed, optional or a method call.
func memberChain(node ast.Node) (base ast.Node, keys []string, ok bool) {
	for {
		n, isMember := node.(*ast.MemberNode)
		if !isMember {
			slices.Reverse(keys)
			return node, keys, true
		}
		s, isString := n.Property.(*ast.StringNode)
		if !isString || n.Optional || n.Method {
			return nil, nil, false
		}
		keys = append(keys, s.Value)
		node = n.Node
	}
}

var vmPool = sync.Pool{New: func() any { return &vm.VM{MemoryBudget: MemoryBudget} }}

// release returns m to the pool holding nothing of the run it made: expr
// clears a VM's stack when the next run starts, not when this one ends, so
// a pooled VM would otherwise keep the last values it saw (a request's
// decoded lists) alive. The scopes of the closures it ran hold the lists
// they walked, in a pool expr does not export: it is cleared through its
// offset, found once; without it (another expr) such a VM is dropped.
func release(m *vm.VM) {
	if cap(m.Scopes) > 0 {
		if scopePoolOffset < 0 {
			vmPool.Put(&vm.VM{MemoryBudget: MemoryBudget})
			return
		}
		clear(*(*[]vm.Scope)(unsafe.Add(unsafe.Pointer(m), scopePoolOffset)))
		clear(m.Scopes[:cap(m.Scopes)])
		m.Scopes = m.Scopes[:0]
	}
	clear(m.Stack[:cap(m.Stack)])
	m.Stack = m.Stack[:0]
	clear(m.Variables)
	vmPool.Put(m)
}

// scopePoolOffset is where vm.VM keeps the scopes of the closures it runs
// (an unexported []vm.Scope), or -1 when this expr has no such field.
var scopePoolOffset = func() int {
	f, ok := reflect.TypeFor[vm.VM]().FieldByName("scopePool")
	if !ok || f.Type != reflect.TypeFor[[]vm.Scope]() {
		return -1
	}
	return int(f.Offset)
}()

// RunError is an expression that failed while running.
type RunError struct {
	Source string
	Err    error
}

func (e *RunError) Error() string { return fmt.Sprintf("%s: %v", e.Source, e.Err) }
func (e *RunError) Unwrap() error { return e.Err }

// Run evaluates p with env, which must hold every name in p.Reads. A panic
// inside expr is returned as a *RunError, never propagated.
func (p *Program) Run(env map[string]any) (out any, err error) {
	m := vmPool.Get().(*vm.VM)
	defer func() {
		if r := recover(); r != nil {
			err = &RunError{Source: p.Source, Err: fmt.Errorf("%v", r)}
		}
		release(m)
	}()
	out, err = m.Run(p.prog, env)
	if err != nil {
		return nil, &RunError{Source: p.Source, Err: err}
	}
	return out, nil
}

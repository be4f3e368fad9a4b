package engine

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"frontdesk/pipeline"
	"frontdesk/transform"
)

// expression is a compiled spec field: the program, and the spec field it
// came from, for run-time problems.
type expression struct {
	*transform.Program
	field string
}

// template is a compiled JSON template: objects and arrays whose string
// leaves are expressions and whose other leaves are literal.
type template struct {
	expr   *expression
	keys   []string
	fields []*template
	elems  []*template
	isObj  bool
	isArr  bool
	lit    []byte
}

func (t *template) reads(add func(*expression)) {
	switch {
	case t.expr != nil:
		add(t.expr)
	case t.isObj:
		for _, f := range t.fields {
			f.reads(add)
		}
	case t.isArr:
		for _, e := range t.elems {
			e.reads(add)
		}
	}
}

// compiler turns one Spec into a Plan, recording problems in d.
type compiler struct {
	d        *decoder
	cfg      *Config
	spec     *Spec
	callIdx  map[string]int
	names    []string // every name an expression may read, for suggestions
	params   []string // the path parameters, when the path is valid
	failed   bool     // an expression did not compile, so reads are incomplete
	base     *transform.Scope
	defaults Limits
}

func (c *compiler) compileExpr(n *Node, offset int, src, field string, scope *transform.Scope) *expression {
	p, err := transform.Compile(src, scope)
	if err != nil {
		c.failed = true
		ce, ok := errors.AsType[*transform.CompileError](err)
		if !ok {
			c.d.errorf(n.Pos, RuleExprSyntax, field, "%s: %v", field, err)
			return nil
		}
		pos := n.Pos
		if n.Kind == KindString {
			pos = n.PosAt(offset + ce.Offset)
		}
		rule := RuleExprSyntax
		msg := ce.Message
		if name, ok := strings.CutPrefix(msg, "unknown name "); ok {
			rule = RuleUnknownName
			_, isCall := c.callIdx[name]
			switch hint := didYouMean(name, c.names); {
			case field == "auth.allow" && (isCall || slices.Contains([]string{"body", "meta", "item"}, name)):
				msg = fmt.Sprintf("unknown name %q: auth.allow runs before any call and before the body is read; it may read auth, params, query and headers", name)
			case field == "rate_limit.key" && (isCall || slices.Contains([]string{"body", "meta", "item"}, name)):
				msg = fmt.Sprintf("unknown name %q: rate_limit.key runs before any call and before the body is read; it may read auth, params, query and headers (or be \"client\" or \"ip\")", name)
			case strings.HasPrefix(field, "cache.vary[") && (isCall || slices.Contains([]string{"body", "meta", "item"}, name)):
				msg = fmt.Sprintf("unknown name %q: cache.vary is read before any call runs (the key picks the answer); it may read auth, params, query and headers", name)
			case field == "rate_limit.default.key":
				msg = fmt.Sprintf("unknown name %q: rate_limit.default.key may read auth, query and headers (params differ by endpoint), or be \"client\" or \"ip\"", name)
			case name == "item":
				msg = `unknown name "item": item is only defined in a call with "for_each", and not in its for_each, when or fallback`
			case hint != "":
				msg = fmt.Sprintf("unknown name %q: not a call of this endpoint nor a request name%s", name, hint)
			default:
				msg = fmt.Sprintf("unknown name %q: not a call of this endpoint nor a request name; a string literal is quoted: \"'%s'\"", name, name)
			}
		} else if name, ok := strings.CutPrefix(msg, "unknown field "); ok {
			rule = RuleUnknownName
			recv, fields := c.fieldsOf(src, ce.Offset)
			if recv == "" {
				msg = fmt.Sprintf("unknown field %q", name)
				fields = c.names
			} else {
				msg = fmt.Sprintf("%s has no field %q (it has %s)", recv, name, listOrNone(fields, "no fields"))
			}
			msg += didYouMean(name, fields)
		}
		c.d.errs = append(c.d.errs, &LoadError{File: c.d.file, Line: pos.Line, Column: pos.Col, Severity: SevError,
			Rule: rule, Field: field, Message: field + ": " + msg, Snippet: ce.Snippet})
		return nil
	}
	return &expression{Program: p, field: field}
}

// fieldsOf names the object whose field starts at byte off of src, when it
// is one whose fields are fixed (auth, params, meta, meta.NAME), and lists
// those fields.
func (c *compiler) fieldsOf(src string, off int) (string, []string) {
	if off > len(src) {
		return "", nil
	}
	before := strings.TrimRight(src[:off], "'\"`")
	before = strings.TrimSuffix(before, "[")
	before = strings.TrimSuffix(strings.TrimSuffix(before, "."), "?")
	i := len(before)
	for i > 0 && (identRE.MatchString(before[i-1:i]) || before[i-1] >= '0' && before[i-1] <= '9') {
		i--
	}
	recv := before[i:]
	if strings.HasSuffix(before[:i], "meta.") || strings.HasSuffix(before[:i], "meta?.") {
		if _, ok := c.callIdx[recv]; ok {
			return "meta." + recv, []string{"status", "headers", "duration_ms", "error"}
		}
	}
	switch recv {
	case "auth":
		return recv, []string{"sub", "scopes", "claims", "method"}
	case "params":
		return recv, c.params
	case "meta":
		return recv, c.names[6:]
	}
	return "", nil
}

func (c *compiler) expr(n *Node, field string, scope *transform.Scope) *expression {
	if n == nil {
		return nil
	}
	return c.compileExpr(n, 0, n.Str, field, scope)
}

func (c *compiler) template(n *Node, field string, scope *transform.Scope) *template {
	switch n.Kind {
	case KindString:
		e := c.expr(n, field, scope)
		if e == nil {
			return &template{lit: []byte("null")}
		}
		return &template{expr: e}
	case KindObject:
		t := &template{isObj: true}
		for _, m := range n.Members {
			t.keys = append(t.keys, m.Key)
			t.fields = append(t.fields, c.template(m.Value, field+"."+m.Key, scope))
		}
		return t
	case KindArray:
		t := &template{isArr: true}
		for i, e := range n.Elems {
			t.elems = append(t.elems, c.template(e, fmt.Sprintf("%s[%d]", field, i), scope))
		}
		return t
	case KindNumber:
		return &template{lit: []byte(n.Str)}
	case KindBool:
		return &template{lit: []byte(strconv.FormatBool(n.Bool))}
	}
	return &template{lit: []byte("null")}
}

// compile builds the Plan of one spec. It returns nil when the spec has
// errors that make a plan meaningless.
func (c *compiler) compile() *Plan {
	s := c.spec
	p := &Plan{
		Method:  s.Method,
		Route:   s.Path,
		File:    s.File,
		Summary: s.Summary,
		Timeout: s.Timeout,
		limits:  s.Limits.withDefaults(c.defaults),
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultEndpointTimeout
	}
	if s.PathNode != nil && s.Path != "" {
		pat, params, err := muxPattern(s.Path)
		if err != nil {
			c.d.errorf(s.PathNode.PosAt(err.Offset), RulePath, "path", "path %q: %s", s.Path, err.Message)
		}
		p.pattern, p.params = pat, params
	}

	c.callIdx = map[string]int{}
	p.callIdx = c.callIdx
	callNames := make([]string, 0, len(s.Calls))
	for i, cs := range s.Calls {
		c.callIdx[cs.Name] = i
		callNames = append(callNames, cs.Name)
	}
	c.base = transform.NewScope(callNames)
	if s.PathNode != nil && p.pattern != "" {
		// params holds exactly the path's parameters: params.typo is a
		// load error rather than a nil at run time.
		c.params = p.params
		c.base = c.base.WithParams(p.params)
	}
	c.names = append([]string{"params", "query", "headers", "body", "auth", "meta"}, callNames...)
	withCalls := c.base.With(callNames...)
	withItem := withCalls.With("item")

	for i, cs := range s.Calls {
		p.Calls = append(p.Calls, c.call(i, cs, withCalls, withItem))
	}
	c.graph(p)

	// The response, and the formats it can be written in.
	p.formats = []pipeline.Format{pipeline.FormatJSON}
	p.xmlRoot = "response"
	if r := s.Response; r != nil && len(r.Formats) > 0 {
		p.formats = p.formats[:0]
		for _, f := range r.Formats {
			p.formats = append(p.formats, pipeline.Format(f))
		}
	}
	if r := s.Response; r != nil && r.XMLRoot != "" {
		p.xmlRoot = r.XMLRoot
	}
	p.xmlOut, _ = transform.NewXMLCodec(transform.XMLOptions{MaxDepth: 4 * p.limits.MaxJSONDepth})
	p.xmlIn, _ = transform.NewXMLCodec(transform.XMLOptions{MaxDepth: p.limits.MaxJSONDepth, MaxBytes: int(p.limits.MaxRequestBody)})
	if r := s.Response; r != nil {
		resp := &response{}
		if r.Status != nil {
			resp.status = c.expr(r.Status, "response.status", withCalls)
		}
		for _, h := range r.Headers {
			if hopByHop[h.Key] || corsOwned(h.Key) {
				c.d.errorf(h.KeyPos, RuleReservedHeader, "response.headers."+h.Key,
					"response.headers: %s belongs to the connection and is set by the gateway; a spec cannot set it", h.Key)
				continue
			}
			resp.headers = append(resp.headers, namedExpr{h.Key, c.expr(h.Value, "response.headers."+h.Key, withCalls)})
		}
		if r.Body != nil {
			resp.body = c.template(r.Body, "response.body", withCalls)
		}
		p.response = resp
	}
	if s.Auth != nil {
		p.auth = c.authRule(s.Auth)
	}
	if s.RateLimit != nil {
		p.limit = c.rateLimit(s.RateLimit)
	}
	if s.Cache != nil {
		p.cache = c.cacheRule(s.Cache, p)
	}
	c.check(p)
	c.decodePlan(p)
	p.reads = map[string]bool{}
	p.eachExpr(func(e *expression) {
		for _, n := range e.Reads {
			p.reads[n] = true
		}
	})
	if p.cache != nil {
		p.cache.keyParts(p)
		c.checkCacheScope(p)
	}
	return p
}

// decodePlan works out, per call, what its expressions read of it: some
// top-level keys, perhaps only some keys of a list's elements (then only
// those are decoded), or the whole value.
func (c *compiler) decodePlan(p *Plan) {
	keys := map[string]map[string]*transform.KeyUse{}
	whole := map[string]bool{}
	p.eachExpr(func(e *expression) {
		for name, uses := range e.Keys {
			if uses == nil {
				whole[name] = true
				continue
			}
			merged := keys[name]
			if merged == nil {
				merged = map[string]*transform.KeyUse{}
				keys[name] = merged
			}
			for k, use := range uses {
				m := merged[k]
				switch {
				case m == nil:
					merged[k] = &transform.KeyUse{Whole: use.Whole, Elems: slices.Clone(use.Elems)}
				case m.Whole || use.Whole:
					m.Whole, m.Elems = true, nil
				default:
					for _, el := range use.Elems {
						if !slices.Contains(m.Elems, el) {
							m.Elems = append(m.Elems, el)
						}
					}
				}
			}
		}
	})
	for _, call := range p.Calls {
		call.decodeWhole = whole[call.Name]
		call.decodeKeys = keys[call.Name]
		if call.decodeKeys == nil {
			call.decodeKeys = map[string]*transform.KeyUse{} // nothing read: decode nothing
		}
	}
}

type namedExpr struct {
	name string
	expr *expression
}

func (c *compiler) call(i int, cs *CallSpec, scope, itemScope *transform.Scope) *Call {
	field := "calls." + cs.Name
	call := &Call{
		Name:       cs.Name,
		idx:        i,
		Method:     cs.Method,
		Optional:   cs.Optional,
		decode:     decodeModes[cs.Decode],
		expose:     cs.ExposeErrors,
		acceptable: cs.AcceptStatus,
	}
	svc, ok := c.cfg.service(cs.Service)
	if !ok && cs.ServiceNode != nil && cs.ServiceNode.Kind == KindString {
		c.d.errorf(cs.ServiceNode.Pos, RuleUnknownSvc, field+".service", "unknown service %q; gateway.json defines %s%s",
			cs.Service, listOrNone(c.cfg.ServiceOrder), didYouMean(cs.Service, c.cfg.ServiceOrder))
	}
	call.service = svc
	call.retry, call.hedgeAfter = callResilience(svc, cs)
	call.Timeout = cs.Timeout
	if call.Timeout == 0 && svc != nil {
		call.Timeout = svc.Timeout
	}
	if call.Timeout == 0 {
		call.Timeout = c.spec.Timeout
	}
	if call.Timeout == 0 {
		call.Timeout = DefaultEndpointTimeout
	}
	if cs.Timeout > 0 && c.spec.Timeout > 0 && cs.Timeout > c.spec.Timeout {
		c.d.add(cs.TimeoutNode.Pos, SevWarning, RuleTimeoutBudget, field+".timeout",
			"call %q timeout %s is longer than the endpoint's %s, which cuts it short", cs.Name, cs.Timeout, c.spec.Timeout)
	}

	inner := scope
	if cs.ForEach != nil {
		inner = itemScope
	}
	if cs.Path != nil {
		parts, err := transform.ParsePath(cs.Path.Str)
		if err != nil {
			pe, _ := errors.AsType[*transform.PathError](err)
			c.d.errorf(cs.Path.PosAt(pe.Offset), RulePath, field+".path", "%s.path: %s", field, pe.Message)
		}
		for _, part := range parts {
			if part.Expr == "" {
				call.path = append(call.path, pathPart{lit: part.Literal})
				continue
			}
			e := c.compileExpr(cs.Path, part.Offset, part.Expr, field+".path", inner)
			call.path = append(call.path, pathPart{expr: e})
		}
	}
	for _, q := range cs.Query {
		// Query names are escaped here, once; values per request.
		call.query = append(call.query, namedExpr{url.QueryEscape(q.Key), c.expr(q.Value, field+".query."+q.Key, inner)})
	}
	for _, h := range cs.Headers {
		if hopByHop[h.Key] {
			c.d.errorf(h.KeyPos, RuleReservedHeader, field+".headers."+h.Key,
				"%s.headers: %s belongs to the connection and is set by the gateway; a spec cannot send it", field, h.Key)
			continue
		}
		call.headers = append(call.headers, namedExpr{h.Key, c.expr(h.Value, field+".headers."+h.Key, inner)})
	}
	if cs.Body != nil {
		call.body = c.template(cs.Body, field+".body", inner)
	}
	call.when = c.expr(cs.When, field+".when", scope)
	call.forEach = c.expr(cs.ForEach, field+".for_each", scope)
	call.fallback = c.expr(cs.Fallback, field+".fallback", scope)
	call.encode = encodeModes[cs.Encode]
	call.xmlRoot = cs.Name
	opts := transform.XMLOptions{}
	if cs.XML != nil {
		opts = cs.XML.Options
		if cs.XML.Root != "" {
			call.xmlRoot = cs.XML.Root
		}
	}
	opts.MaxDepth = c.defaults.MaxJSONDepth
	opts.MaxBytes = int(c.defaults.MaxBackendBody)
	codec, err := transform.NewXMLCodec(opts)
	if err != nil {
		c.d.errorf(cs.XML.Node.Pos, RuleSchema, field+".xml", "%s: %v", field, err)
	}
	call.codec = codec
	for _, f := range cs.ForwardHeaders {
		h := http.CanonicalHeaderKey(f.Str)
		if hopByHop[h] || corsOwned(h) {
			c.d.errorf(f.Pos, RuleReservedHeader, field+".forward_headers",
				"%s.forward_headers: %s belongs to the connection and is set by the gateway; it cannot be forwarded", field, h)
			continue
		}
		call.forward = append(call.forward, h)
	}
	if cs.CacheTTL > 0 {
		if cs.Method != http.MethodGet && cs.Method != http.MethodHead {
			c.d.errorf(cs.CacheNode.Pos, RuleSchema, field+".cache", "%s.cache: only GET and HEAD calls are cached, and this one is %s", field, cs.Method)
		} else {
			call.cacheTTL = cs.CacheTTL
			call.eachExpr(func(e *expression) {
				call.cacheAuth = call.cacheAuth || slices.Contains(e.Reads, "auth")
			})
		}
	}
	for _, a := range cs.After {
		j, ok := c.callIdx[a.Str]
		if !ok {
			c.d.errorf(a.Pos, RuleUnknownName, field+".after", "%s.after: %q is not a call of this endpoint%s", field, a.Str, didYouMean(a.Str, c.names[6:]))
			continue
		}
		call.after = append(call.after, j)
	}
	return call
}

func listOrNone(names []string, none ...string) string {
	if len(names) == 0 {
		if len(none) > 0 {
			return none[0]
		}
		return "no services"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// graph infers each call's dependencies from the names its expressions read,
// adds "after" edges, and reports self-reads and cycles.
func (c *compiler) graph(p *Plan) {
	for i, call := range p.Calls {
		deps := map[int]bool{}
		cs := c.spec.Calls[i]
		call.eachExpr(func(e *expression) {
			for _, n := range e.Reads {
				if j, ok := c.callIdx[n]; ok {
					if j == i {
						c.d.errorf(cs.NamePos, RuleCycle, "calls."+call.Name, "call %q reads its own result in %s", call.Name, e.field)
						continue
					}
					deps[j] = true
				}
			}
			for _, n := range e.MetaReads {
				if j, ok := c.callIdx[n]; ok && !(j == i && e == call.fallback) {
					if j == i {
						c.d.errorf(cs.NamePos, RuleCycle, "calls."+call.Name, "call %q reads its own meta in %s (only its fallback may)", call.Name, e.field)
						continue
					}
					deps[j] = true
				}
			}
		})
		for _, j := range call.after {
			if j == i {
				c.d.errorf(cs.NamePos, RuleCycle, "calls."+call.Name, "call %q waits for itself in \"after\"", call.Name)
				continue
			}
			deps[j] = true
		}
		for j := range deps {
			call.deps = append(call.deps, j)
		}
		sort.Ints(call.deps)
	}
	// Cycles: depth-first search in file order, reporting each cycle once.
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(p.Calls))
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		stack = append(stack, i)
		for _, j := range p.Calls[i].deps {
			switch color[j] {
			case white:
				visit(j)
			case grey:
				k := len(stack) - 1
				for stack[k] != j {
					k--
				}
				cyc := []string{}
				for _, s := range stack[k:] {
					cyc = append(cyc, p.Calls[s].Name)
				}
				cyc = append(cyc, p.Calls[j].Name)
				c.d.errorf(c.spec.Calls[j].NamePos, RuleCycle, "calls."+p.Calls[j].Name, "dependency cycle: %s", strings.Join(cyc, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
	}
	for i := range p.Calls {
		if color[i] == white {
			visit(i)
		}
	}
	for i, call := range p.Calls {
		if len(call.deps) == 0 {
			p.roots = append(p.roots, i)
		}
		for _, j := range call.deps {
			p.Calls[j].dependents = append(p.Calls[j].dependents, i)
		}
	}
}

// muxPattern turns a spec path into an http.ServeMux pattern and lists its
// parameters. "/a/{id}" stays as is; a trailing slash or "/" alone gets
// "{$}" so it matches exactly rather than as a prefix.
func muxPattern(path string) (string, []string, *transform.PathError) {
	if !strings.HasPrefix(path, "/") {
		return "", nil, &transform.PathError{Offset: 0, Message: `must start with "/"`}
	}
	var params []string
	seen := map[string]bool{}
	off := 1
	segs := strings.Split(path[1:], "/")
	for k, seg := range segs {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			name := seg[1 : len(seg)-1]
			rest := strings.HasSuffix(name, "...")
			name = strings.TrimSuffix(name, "...")
			switch {
			case !identRE.MatchString(name):
				return "", nil, &transform.PathError{Offset: off, Message: fmt.Sprintf("parameter %q must be an identifier", name)}
			case seen[name]:
				return "", nil, &transform.PathError{Offset: off, Message: fmt.Sprintf("parameter %q appears twice", name)}
			case rest && k != len(segs)-1:
				return "", nil, &transform.PathError{Offset: off, Message: "a {name...} parameter must be the last segment"}
			}
			seen[name] = true
			params = append(params, name)
		} else {
			for i := 0; i < len(seg); i++ {
				ch := seg[i]
				if ch == '?' {
					return "", nil, &transform.PathError{Offset: off + i, Message: "'?' is not allowed in a path: a route matches the path only; read query parameters as query.NAME"}
				}
				if ch == '{' || ch == '}' || ch == '?' || ch == '#' || ch == '%' || ch <= 0x20 || ch >= 0x7f {
					return "", nil, &transform.PathError{Offset: off + i, Message: fmt.Sprintf("%q is not allowed in a literal path segment", ch)}
				}
			}
		}
		off += len(seg) + 1
	}
	pat := path
	if strings.HasSuffix(pat, "/") {
		pat += "{$}"
	}
	return pat, params, nil
}

// hopByHop headers describe one connection and are never forwarded.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Host": true, "Content-Length": true,
}

// corsOwned headers are the CORS stage's: a spec or a backend setting them
// would undo what it decided for the request's origin.
func corsOwned(name string) bool {
	return name == "Vary" || strings.HasPrefix(name, "Access-Control-")
}

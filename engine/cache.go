package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"frontdesk/pipeline"
	"frontdesk/pipeline/auth"
	"frontdesk/pipeline/cache"
)

// CacheConfig is gateway.json's cache.
type CacheConfig struct {
	MaxSize            int64  // 0 is cache.DefaultMaxSize
	Store              string // "memory" (default) or "redis"
	HonorClientNoCache bool
	storeNode          *Node
}

// CacheSpec is an endpoint's cache.
type CacheSpec struct {
	Node  *Node
	TTL   time.Duration
	Scope string  // "", "user" or "shared"
	Vary  []*Node // expressions
}

// The keys of gateway.json's cache and of an endpoint's; the schemas must
// list the same ones.
var (
	cacheKeys         = []string{"max_size", "store", "honor_client_no_cache"}
	endpointCacheKeys = []string{"ttl", "scope", "vary"}
)

func (d *decoder) cacheConfig(n *Node) *CacheConfig {
	c := &CacheConfig{Store: "memory"}
	if !d.object(n, "cache", cacheKeys...) {
		return c
	}
	for _, m := range n.Members {
		v := m.Value
		f := "cache." + m.Key
		switch m.Key {
		case "max_size":
			c.MaxSize = d.size(v, f, 1<<40)
			if c.MaxSize != 0 && c.MaxSize < 1<<20 {
				d.errorf(v.Pos, RuleSize, f, "%s: %q is less than 1MB, the least the memory store holds", f, v.Str)
			}
		case "store":
			c.Store, c.storeNode = d.storeName(v, f), v
		case "honor_client_no_cache":
			c.HonorClientNoCache = d.boolean(v, f)
		}
	}
	return c
}

func (d *decoder) endpointCache(n *Node) *CacheSpec {
	c := &CacheSpec{Node: n}
	if !d.object(n, "cache", endpointCacheKeys...) {
		return c
	}
	for _, m := range n.Members {
		v := m.Value
		f := "cache." + m.Key
		switch m.Key {
		case "ttl":
			c.TTL = d.duration(v, f)
			if c.TTL > cache.MaxTTL {
				d.errorf(v.Pos, RuleDuration, f, "%s: %s is longer than %s", f, c.TTL, cache.MaxTTL)
				c.TTL = 0
			}
		case "scope":
			c.Scope = d.str(v, f)
			if v.Kind == KindString && c.Scope != "user" && c.Scope != "shared" {
				d.errorf(v.Pos, RuleSchema, f, "%s must be \"user\" or \"shared\", not %q%s", f, c.Scope, didYouMean(c.Scope, []string{"user", "shared"}))
				c.Scope = ""
			}
		case "vary":
			if d.want(v, KindArray, f) {
				for i, e := range v.Elems {
					if d.want(e, KindString, fmt.Sprintf("%s[%d]", f, i)) {
						c.Vary = append(c.Vary, e)
					}
				}
			}
		}
	}
	if n.Get("ttl") == nil {
		d.errorf(n.Pos, RuleSchema, "cache", "cache needs \"ttl\", such as \"30s\"")
	}
	return c
}

// cacheRule is an endpoint's compiled cache.
type cacheRule struct {
	ttl      time.Duration
	scope    cache.Scope
	scopeSet bool // the spec wrote scope
	vary     []*expression
	// What the key reads, worked out from every expression of the
	// endpoint once the plan is compiled (keyParts).
	query, headers []string // constant member reads, sorted
	queryWhole     bool     // an expression reads query whole (or dynamically)
	headersWhole   bool
	authKeys       []string // sub, scopes, claims, method: those read
	body           bool
	format         bool // the endpoint offers several formats
	// forwarded: the plan has calls, so the key holds the X-Forwarded-Host
	// and X-Forwarded-Proto values they carry.
	forwarded bool
	// shared: the endpoint's answers are cached (GET or HEAD), so its calls
	// carry no request value the key lacks (callrequest.go).
	shared           bool
	node             *Node
	scopeNode        *Node
	varySrc          []string
	readsAuthAnyhere bool
}

// cacheRule compiles an endpoint's cache; the key's parts are worked out
// after the whole plan is compiled (keyParts).
func (c *compiler) cacheRule(cs *CacheSpec, p *Plan) *cacheRule {
	r := &cacheRule{ttl: cs.TTL, node: cs.Node}
	switch cs.Scope {
	case "user":
		r.scope, r.scopeSet = cache.ScopeUser, true
	case "shared":
		r.scope, r.scopeSet = cache.ScopeShared, true
	default:
		// user when the endpoint requires auth; a public endpoint has one
		// client, the anonymous one, so its copies are shared.
		r.scope = cache.ScopeShared
		if p.auth != nil {
			r.scope = cache.ScopeUser
		}
	}
	if n := cs.Node.Get("scope"); n != nil {
		r.scopeNode = n
	}
	for i, v := range cs.Vary {
		e := c.expr(v, fmt.Sprintf("cache.vary[%d]", i), c.base.Only(keyNames...))
		if e != nil {
			r.vary = append(r.vary, e)
			r.varySrc = append(r.varySrc, v.Str)
		}
	}
	if cs.TTL == 0 {
		return nil
	}
	return r
}

// keyParts works out which request values p's expressions read: the cache
// key holds each of them.
func (r *cacheRule) keyParts(p *Plan) {
	q, h, a := map[string]bool{}, map[string]bool{}, map[string]bool{}
	visit := func(e *expression) {
		for _, n := range e.Reads {
			keys, known := e.Keys[n]
			switch n {
			case "query":
				if keys == nil || !known {
					r.queryWhole = true
				}
				for k := range keys {
					q[k] = true
				}
			case "headers":
				if keys == nil || !known {
					r.headersWhole = true
				}
				for k := range keys {
					h[http.CanonicalHeaderKey(k)] = true
				}
			case "auth":
				r.readsAuthAnyhere = true
				if keys == nil || !known {
					for _, k := range authFields {
						a[k] = true
					}
				}
				for k := range keys {
					a[k] = true
				}
			case "body":
				r.body = true
			}
		}
	}
	p.eachExpr(visit)
	if p.auth != nil && p.auth.allow != nil {
		visit(p.auth.allow)
	}
	if p.limit != nil && p.limit.expr != nil {
		visit(p.limit.expr)
	}
	for _, e := range r.vary {
		visit(e)
	}
	r.query, r.headers = sortedSet(q), sortedSet(h)
	r.authKeys = nil
	for _, k := range authFields {
		if a[k] {
			r.authKeys = append(r.authKeys, k)
		}
	}
	r.format = len(p.formats) > 1
	r.forwarded = len(p.Calls) > 0
	r.shared = p.Method == http.MethodGet || p.Method == http.MethodHead
}

var authFields = []string{"sub", "scopes", "claims", "method"}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Parts lists the key's parts as explain shows them: "params.id",
// "query.currency", "query (whole)", "headers.Accept-Language",
// "auth.sub", "body", "format", "vary: EXPR", "identity", and
// "X-Forwarded-Host" and "X-Forwarded-Proto" when the endpoint has calls.
func (r *cacheRule) Parts(p *Plan) []string {
	var out []string
	out = append(out, "method", "route")
	if r.forwarded {
		out = append(out, "X-Forwarded-Host", "X-Forwarded-Proto")
	}
	for _, n := range p.params {
		out = append(out, "params."+n)
	}
	if r.queryWhole {
		out = append(out, "query (whole)")
	} else {
		for _, k := range r.query {
			out = append(out, "query."+k)
		}
	}
	if r.headersWhole {
		out = append(out, "headers (whole)")
	} else {
		for _, k := range r.headers {
			out = append(out, "headers."+k)
		}
	}
	for _, k := range r.authKeys {
		out = append(out, "auth."+k)
	}
	if r.body {
		out = append(out, "body")
	}
	if r.format {
		out = append(out, "format (from Accept)")
	}
	for _, v := range r.varySrc {
		out = append(out, "vary "+v)
	}
	if r.scope == cache.ScopeUser {
		out = append(out, "identity")
	}
	return out
}

// keyFunc is the cache's KeyFunc for p.
func (p *Plan) keyFunc(r *cacheRule) cache.KeyFunc {
	var sources []cache.Source
	for _, n := range p.params {
		sources = append(sources, cache.Source{Kind: cache.Param, Name: n})
	}
	if !r.queryWhole {
		for _, k := range r.query {
			sources = append(sources, cache.Source{Kind: cache.Query, Name: k})
		}
	}
	if !r.headersWhole {
		for _, k := range r.headers {
			sources = append(sources, cache.Source{Kind: cache.Header, Name: k})
		}
	}
	route := p.Route
	return func(req *http.Request) (*cache.Request, error) {
		parts := make([]cache.Part, 0, len(sources)+10)
		if r.forwarded {
			// What every call sends the backend as X-Forwarded-Host and
			// -Proto (prepare): the answer may be built from them.
			parts = append(parts, cache.Part{Name: "X-Forwarded-Host", Values: []string{req.Host}},
				cache.Part{Name: "X-Forwarded-Proto", Values: protoValues[forwardedProto(req)]})
		}
		parts = cache.ReadParts(req, sources, parts)
		if r.queryWhole {
			parts = wholeQuery(req, parts)
		}
		if r.headersWhole {
			parts = wholeHeaders(req, parts)
		}
		id := auth.FromContext(req.Context())
		for _, k := range r.authKeys {
			parts = append(parts, authPart(id, k))
		}
		if r.body {
			b, err := p.bufferBody(req)
			if err != nil {
				return nil, err
			}
			parts = append(parts, cache.Part{Name: "body", Values: []string{string(b)}})
		}
		if r.format {
			f, _, ok := pipeline.Negotiate(req.Header.Get("Accept"), p.formats)
			if !ok {
				return nil, &pipeline.NotAcceptableError{Offers: p.formats}
			}
			parts = append(parts, cache.Part{Name: "format", Values: []string{string(f)}})
		}
		var vary []cache.Part
		for i, e := range r.vary {
			vary = append(vary, p.varyPart(req, id, i, e))
		}
		return &cache.Request{Method: req.Method, Route: route, Parts: parts, Vary: vary,
			Identity: string(id.Method) + ":" + id.Subject}, nil
	}
}

// protoValues are the X-Forwarded-Proto key parts' values, made once (the
// key only reads them).
var protoValues = map[string][]string{"http": {"http"}, "https": {"https"}}

// wholeQuery appends every query parameter, sorted by name, with every
// value in order: the count of parts in front keeps the list apart from
// any other.
func wholeQuery(r *http.Request, parts []cache.Part) []cache.Part {
	q := r.URL.Query()
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	parts = append(parts, cache.Part{Name: "query*", Values: []string{fmt.Sprint(len(names))}})
	for _, k := range names {
		parts = append(parts, cache.Part{Name: "query." + k, Values: q[k]})
	}
	return parts
}

// wholeHeaders appends every header but X-Request-Id (made per request
// when the client sends none; a spec that shows it gets the first
// request's), sorted by canonical name, each line in order.
func wholeHeaders(r *http.Request, parts []cache.Part) []cache.Part {
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		if k != pipeline.HeaderRequestID {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	parts = append(parts, cache.Part{Name: "headers*", Values: []string{fmt.Sprint(len(names))}})
	for _, k := range names {
		parts = append(parts, cache.Part{Name: "headers." + k, Values: r.Header[k]})
	}
	return parts
}

func authPart(id *auth.Identity, k string) cache.Part {
	switch k {
	case "sub":
		return cache.Part{Name: "auth.sub", Values: []string{id.Subject}}
	case "scopes":
		return cache.Part{Name: "auth.scopes", Values: slices.Clone(id.Scopes)}
	case "method":
		return cache.Part{Name: "auth.method", Values: []string{string(id.Method)}}
	}
	b, err := json.Marshal(id.Claims) // map keys sorted: one writing per value
	if err != nil {
		b = []byte(fmt.Sprint(id.Claims))
	}
	return cache.Part{Name: "auth.claims", Values: []string{string(b)}}
}

// varyPart is the value of vary expression i, as JSON (so 1 and "1" differ);
// nil and a failed expression are absent.
func (p *Plan) varyPart(r *http.Request, id *auth.Identity, i int, e *expression) cache.Part {
	name := fmt.Sprintf("vary.%d", i)
	v, err := e.Run(p.edgeEnv(r, id, e))
	if err != nil || v == nil {
		return cache.Part{Name: name}
	}
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprint(v))
	}
	return cache.Part{Name: name, Values: []string{string(b)}}
}

// bufferBody reads a GET's body for the key, within max_request_body, and
// puts it back for the plan to read.
func (p *Plan) bufferBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	max := p.limits.MaxRequestBody
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, &pipeline.BodyError{Status: http.StatusBadRequest, Detail: "The request body could not be read."}
	}
	if int64(len(b)) > max {
		return nil, &pipeline.BodyError{Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("The request body is larger than %d bytes.", max)}
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// buildCacheStore makes the response cache's store when something uses it.
func (g *Gateway) cacheStore(d *decoder) cache.Store {
	if g.cacheStoreMade {
		return g.respStore
	}
	g.cacheStoreMade = true
	cfg := g.Config.Cache
	if cfg == nil {
		cfg = &CacheConfig{Store: "memory"}
	}
	if cfg.Store == "redis" && !g.memoryOnly {
		if g.redis == nil {
			return nil // reported at load
		}
		st, err := cache.NewRedis(g.redis, 0)
		if err != nil {
			d.errorf(Pos{1, 1, 0}, RuleSchema, "cache", "cache: %v", err)
			return nil
		}
		g.respStore = st
		return st
	}
	if p := g.prev; p != nil && p.memCache != nil && p.cacheMaxSize() == cfg.MaxSize {
		// The same memory cache: entries survive a reload (their keys
		// name the endpoint, so a changed endpoint misses).
		g.take(p.memCache)
		g.memCache, g.respStore = p.memCache, p.memCache
		return p.memCache
	}
	st, err := cache.NewMemory(cache.MemoryOptions{MaxSize: cfg.MaxSize})
	if err != nil {
		d.errorf(Pos{1, 1, 0}, RuleSchema, "cache.max_size", "cache: %v", err)
		return nil
	}
	g.memCache = st
	g.respStore = st
	return st
}

// cacheStage is p's response cache, nil without one.
func (g *Gateway) cacheStage(p *Plan, d *decoder) (*cache.Cache, error) {
	r := p.cache
	if r == nil {
		return nil, nil
	}
	st := g.cacheStore(d)
	if st == nil {
		return nil, nil
	}
	honor := g.Config.Cache != nil && g.Config.Cache.HonorClientNoCache
	var headers []string
	if p.response != nil {
		for _, h := range p.response.headers {
			if h.name != "Set-Cookie" {
				headers = append(headers, h.name)
			}
		}
	}
	return cache.New(st, cache.Config{TTL: r.ttl, Scope: r.scope, Headers: headers, HonorClientNoCache: honor,
		FillTimeout: p.Timeout + time.Second, WriteTimeout: p.limits.WriteTimeout, Endpoint: p.Method + " " + p.Route},
		p.keyFunc(r), p.rt.log)
}

// CacheRule is an endpoint's cache as explain shows it.
type CacheRule struct {
	TTL   time.Duration
	Scope string   // "user" or "shared"
	Parts []string // what the key is made of
}

// Cache is the endpoint's response cache, nil without one.
func (p *Plan) Cache() *CacheRule {
	if p.cache == nil {
		return nil
	}
	return &CacheRule{TTL: p.cache.ttl, Scope: p.cache.scope.String(), Parts: p.cache.Parts(p)}
}

// checkCacheScope warns about a shared cache on an endpoint that reads
// auth: every client gets one client's answer unless auth's values are in
// the key (they are, so it is safe, but rarely what was meant).
func (c *compiler) checkCacheScope(p *Plan) {
	r := p.cache
	if r != nil && p.Method != http.MethodGet && p.Method != http.MethodHead {
		c.d.add(r.node.Pos, SevWarning, RuleCacheMethod, "cache",
			"cache on a %s endpoint does nothing: only GET and HEAD answers are cached", p.Method)
		return
	}
	if r == nil || r.scope != cache.ScopeShared || !r.readsAuthAnyhere || p.auth == nil {
		return
	}
	pos := r.node.Pos
	if r.scopeNode != nil {
		pos = r.scopeNode.Pos
	}
	c.d.add(pos, SevWarning, RuleSharedCacheAuth, "cache.scope",
		"cache.scope is \"shared\" but the endpoint reads auth (%s): the auth values it reads are in the key, so clients do not see each other's answers, but the copy is public (Cache-Control: public) and shared proxies may keep it; use \"user\" unless the answer is the same for everyone",
		strings.Join(prefixAll("auth.", r.authKeys), ", "))
}

func prefixAll(pre string, list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = pre + s
	}
	return out
}

// CacheStats are the counters of the response cache of the endpoint at
// method and route (as written), and false when it has none.
func (g *Gateway) CacheStats(method, route string) (cache.Stats, bool) {
	for p, c := range g.caches {
		if p.Method == method && p.Route == route {
			return c.Stats(), true
		}
	}
	return cache.Stats{}, false
}

func (g *Gateway) cacheMaxSize() int64 {
	if g.Config.Cache == nil {
		return 0
	}
	return g.Config.Cache.MaxSize
}

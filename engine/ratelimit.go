package engine

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"frontdesk/pipeline"
	"frontdesk/pipeline/auth"
	"frontdesk/pipeline/limit"
	"frontdesk/pipeline/store"
	"frontdesk/transform"
)

// RateLimitConfig is gateway.json's rate_limit.
type RateLimitConfig struct {
	Default      *RateSpec // nil: endpoints without a rate_limit of their own are not limited
	Store        string    // "memory" (default) or "redis"
	OnStoreError limit.Policy
	storeNode    *Node
}

// RedisConfig is gateway.json's redis.
type RedisConfig struct {
	URL     string
	Prefix  string        // "" is store.DefaultPrefix
	Timeout time.Duration // 0 is store.DefaultTimeout
	node    *Node
}

// RateSpec is one rate_limit: gateway.json's default or an endpoint's.
type RateSpec struct {
	Node  *Node
	Limit limit.Config
	Key   *Node // nil: "client"
	ok    bool  // rate and burst are valid
}

// The keys of gateway.json's rate_limit, of one limit (the default and an
// endpoint's) and of redis; the schemas must list the same ones.
var (
	rateLimitsKeys = []string{"default", "store", "on_store_error"}
	rateSpecKeys   = []string{"rate", "burst", "key"}
	redisKeys      = []string{"url", "prefix", "timeout"}
)

func (d *decoder) rateLimits(n *Node) *RateLimitConfig {
	rl := &RateLimitConfig{Store: "memory"}
	if !d.object(n, "rate_limit", rateLimitsKeys...) {
		return rl
	}
	for _, m := range n.Members {
		v := m.Value
		f := "rate_limit." + m.Key
		switch m.Key {
		case "default":
			rl.Default = d.rateSpec(v, f)
		case "store":
			rl.Store, rl.storeNode = d.storeName(v, f), v
		case "on_store_error":
			s := d.str(v, f)
			p, err := limit.ParsePolicy(s)
			if v.Kind == KindString && (err != nil || s == "") {
				d.errorf(v.Pos, RuleSchema, f, "%s must be \"allow\" or \"deny\", not %q", f, s)
			}
			rl.OnStoreError = p
		}
	}
	return rl
}

// storeName reads a store: "memory" or "redis".
func (d *decoder) storeName(n *Node, field string) string {
	s := d.str(n, field)
	if n.Kind == KindString && s != "memory" && s != "redis" {
		d.errorf(n.Pos, RuleSchema, field, "%s must be \"memory\" or \"redis\", not %q%s", field, s, didYouMean(s, []string{"memory", "redis"}))
		return "memory"
	}
	if s == "" {
		return "memory"
	}
	return s
}

// rateSpec reads {"rate": "10/s", "burst": 20, "key": "client"}.
func (d *decoder) rateSpec(n *Node, field string) *RateSpec {
	rs := &RateSpec{Node: n}
	if !d.object(n, field, rateSpecKeys...) {
		return rs
	}
	r := n.Get("rate")
	if r == nil {
		d.errorf(n.Pos, RuleSchema, field, "%s needs \"rate\", such as \"100/s\"", field)
	}
	burst, burstOK := 0, true
	if b := n.Get("burst"); b != nil {
		burst = d.integer(b, field+".burst", 1, limit.MaxBurst)
		burstOK = burst != 0
	}
	if k := n.Get("key"); k != nil && d.want(k, KindString, field+".key") {
		if strings.TrimSpace(k.Str) == "" {
			d.errorf(k.Pos, RuleSchema, field+".key", "%s.key is empty: write \"client\", \"ip\" or an expression such as \"auth.claims.org\"", field)
		} else {
			rs.Key = k
		}
	}
	if r == nil || !d.want(r, KindString, field+".rate") || d.envFailed[r] || !burstOK {
		return rs
	}
	cfg, err := limit.ParseConfig(r.Str, burst)
	if err != nil {
		d.errorf(r.Pos, RuleSchema, field+".rate", "%s: %v", field+".rate", err)
		return rs
	}
	rs.Limit, rs.ok = cfg, true
	return rs
}

func (d *decoder) redis(n *Node) *RedisConfig {
	rc := &RedisConfig{node: n}
	if !d.object(n, "redis", redisKeys...) {
		return rc
	}
	for _, m := range n.Members {
		v := m.Value
		f := "redis." + m.Key
		switch m.Key {
		case "url":
			rc.URL = d.str(v, f)
			if v.Kind == KindString && !d.envFailed[v] && !strings.HasPrefix(rc.URL, "redis://") && !strings.HasPrefix(rc.URL, "rediss://") {
				d.errorf(v.Pos, RuleSchema, f, "redis.url must start with redis:// or rediss://, such as \"redis://127.0.0.1:6379/0\"")
			}
		case "prefix":
			rc.Prefix = d.str(v, f)
			if v.Kind == KindString && rc.Prefix == "" {
				d.errorf(v.Pos, RuleSchema, f, "redis.prefix is empty; leave it out for the default %q", store.DefaultPrefix)
			}
		case "timeout":
			rc.Timeout = d.duration(v, f)
			if rc.Timeout > store.MaxTimeout {
				d.errorf(v.Pos, RuleDuration, f, "redis.timeout: %s is longer than %s", rc.Timeout, store.MaxTimeout)
				rc.Timeout = 0
			}
		}
	}
	if n.Get("url") == nil {
		d.errorf(n.Pos, RuleSchema, "redis", "redis needs \"url\", such as \"redis://127.0.0.1:6379/0\"")
	}
	return rc
}

// limitStore is where buckets live: limit.Memory or limit.Redis.
type limitStore interface {
	Limiter(name string, cfg limit.Config) (limit.Limiter, error)
}

// rateKeyKind says who shares a bucket.
type rateKeyKind uint8

const (
	keyClient rateKeyKind = iota // the API key's client, else auth.sub, else the IP
	keyIP                        // the client's address
	keyExpr                      // an expression's value, else the IP
)

// rateRule is one endpoint's compiled rate limit.
type rateRule struct {
	cfg     limit.Config
	kind    rateKeyKind
	expr    *expression // keyExpr
	keySrc  string      // the key as written: "client", "ip" or the expression
	fromDef bool        // gateway.json's rate_limit.default
}

// keyNames are what a rate_limit key expression may read: it runs after
// auth, before any call and before the body is read.
var keyNames = []string{"auth", "params", "query", "headers"}

// compileRateKey compiles a key ("client", "ip" or an expression) with scope.
func compileRateKey(n *Node, field string, scope *transform.Scope, compile func(*Node, string, *transform.Scope) *expression) (*rateRule, bool) {
	r := &rateRule{kind: keyClient, keySrc: "client"}
	if n == nil {
		return r, true
	}
	r.keySrc = n.Str
	switch strings.TrimSpace(n.Str) {
	case "client":
		return r, true
	case "ip":
		r.kind = keyIP
		return r, true
	}
	r.kind = keyExpr
	r.expr = compile(n, field, scope.Only(keyNames...))
	return r, r.expr != nil
}

// rateLimit compiles the endpoint's own rate_limit.
func (c *compiler) rateLimit(rs *RateSpec) *rateRule {
	r, ok := compileRateKey(rs.Key, "rate_limit.key", c.base, c.expr)
	if !ok || !rs.ok {
		return nil
	}
	r.cfg = rs.Limit
	return r
}

// limits is what the rate-limit stage of every endpoint shares.
type limits struct {
	store   limitStore
	policy  limit.Policy
	def     *rateRule               // gateway.json's default, nil without one
	clients map[string]limit.Config // API key clients with a rate_limit of their own
}

// buildLimits makes the rate-limit store and the Redis connection, and
// compiles rate_limit.default (whose key may read auth, query and headers:
// params differ by endpoint).
func (g *Gateway) buildLimits(d *decoder, memoryOnly bool) {
	cfg := g.Config
	g.memoryOnly = memoryOnly
	if r := cfg.Redis; r != nil && r.URL != "" && !errorsUnder(d.errs, "redis") && !memoryOnly && g.prev != nil && g.prev.redis != nil &&
		g.prev.Config.Redis != nil && g.prev.Config.Redis.URL == r.URL && g.prev.Config.Redis.Prefix == r.Prefix && g.prev.Config.Redis.Timeout == r.Timeout {
		g.redis = g.prev.redis // one connection pool across reloads
		g.take(g.redis)
	} else if r := cfg.Redis; r != nil && r.URL != "" && !errorsUnder(d.errs, "redis") && !memoryOnly {
		conn, err := store.Open(store.Config{URL: r.URL, Prefix: r.Prefix, Timeout: r.Timeout})
		if err != nil {
			d.errorf(r.node.Pos, RuleSchema, "redis", "%v", err)
		} else {
			g.redis = conn
		}
	}
	if m, ok := g.prevLimitStore(); ok {
		g.limits.store = m // buckets of unchanged limits carry over a reload
	} else {
		g.limits.store = limit.NewMemory(limit.MemoryOptions{})
	}
	rl := cfg.RateLimit
	if rl == nil {
		return
	}
	g.limits.policy = rl.OnStoreError
	if rl.Store == "redis" {
		if cfg.Redis == nil {
			d.errorf(rl.storeNode.Pos, RuleSchema, "rate_limit.store", `rate_limit.store "redis" needs "redis": {"url": "redis://..."} in gateway.json`)
		} else if g.redis != nil && !memoryOnly {
			g.limits.store = limit.NewRedis(g.redis)
		}
	}
	if rs := rl.Default; rs != nil {
		scope := transform.NewScope(nil).Only("auth", "query", "headers")
		r, ok := compileRateKey(rs.Key, "rate_limit.default.key", scope, func(n *Node, field string, s *transform.Scope) *expression {
			c := &compiler{d: d, cfg: cfg}
			return c.expr(n, field, s)
		})
		if ok && rs.ok {
			r.cfg, r.fromDef = rs.Limit, true
			g.limits.def = r
		}
	}
}

// limitStage is p's rate-limit stage: its own limit, else the gateway's
// default, and for an endpoint that takes API keys the clients' own
// limits. nil when nothing limits p.
func (g *Gateway) limitStage(p *Plan) (*limit.Guard, error) {
	rule := p.limit
	if rule == nil {
		rule = g.limits.def
	}
	p.limit = rule
	name := p.Method + " " + p.Route
	var own limit.Limiter
	if rule != nil {
		l, err := g.limits.store.Limiter(name, rule.cfg)
		g.limiters = append(g.limiters, l)
		if err != nil {
			return nil, err
		}
		own = l
	}
	var byClient map[string]limit.Limiter
	if p.auth != nil && len(g.limits.clients) > 0 && containsStr(p.auth.require, "api_key") {
		byClient = make(map[string]limit.Limiter, len(g.limits.clients))
		for c, cfg := range g.limits.clients {
			// "\n" never appears in a route: no client's bucket is an
			// endpoint's.
			l, err := g.limits.store.Limiter(name+"\nclient:"+c, cfg)
			g.limiters = append(g.limiters, l)
			if err != nil {
				return nil, fmt.Errorf("client %q: %w", c, err)
			}
			byClient[c] = l
		}
	}
	if own == nil && byClient == nil {
		return nil, nil
	}
	trusted := p.rt.trusted
	pick := func(r *http.Request) (limit.Limiter, string, error) {
		id := auth.FromContext(r.Context())
		if id.Method == auth.MethodAPIKey {
			if l, ok := byClient[id.Subject]; ok {
				return l, "k:" + id.Subject, nil
			}
		}
		if own == nil {
			return nil, "", nil
		}
		return own, p.rateKey(rule, r, id, trusted), nil
	}
	return &limit.Guard{Pick: pick, OnStoreError: g.limits.policy, Log: p.rt.log, Endpoint: name}, nil
}

func containsStr(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// rateKey is the bucket's key value for r. The kinds are kept apart by a
// prefix, so no client value can name another kind's bucket: "k:" an API
// key client, "s:" a token's sub, "ip:" an address, "v:" an expression's
// value. An expression that gives nil or "" (or fails) falls back to the
// IP.
func (p *Plan) rateKey(rule *rateRule, r *http.Request, id *auth.Identity, trusted []netip.Prefix) string {
	switch rule.kind {
	case keyClient:
		switch {
		case id.Method == auth.MethodAPIKey:
			return "k:" + id.Subject
		case id.Subject != "":
			return "s:" + id.Subject
		}
	case keyExpr:
		e := rule.expr
		v, err := e.Run(p.edgeEnv(r, id, e))
		if err != nil {
			p.rt.log.Debug("rate_limit.key failed; the IP is the key", "endpoint", p.Method+" "+p.Route,
				"request_id", r.Header.Get(pipeline.HeaderRequestID), "error", err)
		} else if s, ok := keyString(v); ok {
			return "v:" + s
		}
	}
	return "ip:" + clientIP(r, trusted)
}

// keyString writes a key expression's value: a string as is, a number or
// a boolean as Go prints it, anything else as JSON. nil and "" are no key.
func keyString(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, v != ""
	case bool:
		return strconv.FormatBool(v), true
	case int:
		return strconv.Itoa(v), true
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v), true
	}
	return string(b), true
}

// clientIP is the client's address as rate limits key it: the peer, or,
// when the peer is a trusted proxy, the X-Forwarded-For entry nearest to
// it that is not a trusted proxy (read from the right, as each proxy
// appends the address it saw); an IPv6 address by its /64 and an
// IPv4-mapped one as IPv4 (pipeline.ClientKey). A malformed entry stops
// the walk at the last good address.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if !isTrusted(a, trusted) {
		return pipeline.ClientKey(a).String()
	}
	prior := r.Header.Values("X-Forwarded-For")
	for i := len(prior) - 1; i >= 0; i-- {
		entries := strings.Split(prior[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			e, err := netip.ParseAddr(strings.TrimSpace(entries[j]))
			if err != nil {
				return pipeline.ClientKey(a).String()
			}
			a = e.Unmap()
			if !isTrusted(a, trusted) {
				return pipeline.ClientKey(a).String()
			}
		}
	}
	return pipeline.ClientKey(a).String()
}

// isTrusted reports whether a is in one of the trusted_proxies.
func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, t := range trusted {
		if t.Contains(a) {
			return true
		}
	}
	return false
}

// RateLimit is an endpoint's rate limit as explain shows it.
type RateLimit struct {
	Rate    string // "10/s"
	Burst   int
	Key     string // "client", "ip" or the expression
	Default bool   // gateway.json's rate_limit.default
}

// RateLimit is the endpoint's rate limit, nil when it has none.
func (p *Plan) RateLimit() *RateLimit {
	if p.limit == nil {
		return nil
	}
	return &RateLimit{Rate: p.limit.cfg.Rate.String(), Burst: p.limit.cfg.Burst, Key: p.limit.keySrc, Default: p.limit.fromDef}
}

// clientLimits are the keys file's clients that have a rate_limit of
// their own.
func clientLimits(clients []auth.Client) map[string]limit.Config {
	out := map[string]limit.Config{}
	for _, c := range clients {
		if rl := c.RateLimit; rl != nil {
			out[c.Name] = *rl
		}
	}
	return out
}

// prevLimitStore is the previous gateway's memory limiter store, which a
// reload keeps (limit.Memory.Limiter gives the same limiter for the same
// name and config, so counts survive).
func (g *Gateway) prevLimitStore() (*limit.Memory, bool) {
	if g.prev == nil || g.memoryOnly {
		return nil, false
	}
	m, ok := g.prev.limits.store.(*limit.Memory)
	return m, ok
}

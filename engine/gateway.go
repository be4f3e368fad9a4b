package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"math/bits"
	"net/http"
	"os"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"frontdesk/engine/backend"
	"frontdesk/engine/metrics"
	"frontdesk/pipeline"
	"frontdesk/pipeline/auth"
	"frontdesk/pipeline/cache"
	"frontdesk/pipeline/limit"
	"frontdesk/pipeline/logs"
	"frontdesk/pipeline/store"
	"frontdesk/schemas"
	"frontdesk/transform"
)

// Options are what Load needs from outside.
type Options struct {
	// Env looks up ${VAR} in gateway.json; nil means os.LookupEnv.
	Env func(string) (string, bool)
	// Transport makes every backend round trip; nil means NewTransport().
	// It is called directly, never through an http.Client: redirects are
	// not followed and no cookies are kept.
	Transport http.RoundTripper
	// Logger receives request errors and panics; nil discards them.
	Logger *slog.Logger
	// Output, when set, is where access lines go (one per request, when
	// its access log is on); serve makes it, and Logger on it.
	Output *logs.Output
	// DisplayPath turns an fs path into the name used in messages; nil
	// leaves it as is.
	DisplayPath func(string) string
	// Endpoints, when set, are the spec files and folders to load (fs
	// paths), instead of the folders gateway.json names. Lint and spec tests
	// use it.
	Endpoints []string
	// StubServices makes a service a spec names but gateway.json lacks into
	// one at "http://NAME.invalid" instead of an error. Lint without a
	// gateway.json and spec tests (whose transport never dials) use it.
	StubServices bool
	// MemoryLimit is the process's memory limit (GOMEMLIMIT), when it has
	// one; with GCPercent it gives the default of limits.max_decoded_total
	// (DefaultDecodedTotal).
	MemoryLimit int64
	// GCPercent is the collector's target percent in force (GOGC); 0
	// means Go's default, 100, and a negative one GOGC=off.
	GCPercent int
	// TagCalls puts a CallInfo on every backend request's context.
	TagCalls bool
	// TestAuth loads the gateway for spec tests: tokens are checked with
	// an in-process key (MintToken signs them) instead of the configured
	// key source, and every client of the API key file also accepts the
	// key TestAPIKey gives. Nothing is fetched, and the rate-limit and
	// cache stores are this gateway's own memory, never Redis, so no case
	// sees another's state.
	TestAuth bool
	// NoFastPaths evaluates every expression through expr and decodes
	// every body whole, never splicing from a backend's bytes. The output
	// is the same byte for byte, only slower: the differential tests hold
	// the fast paths to that, and it helps rule them out when debugging.
	NoFastPaths bool
	// Previous is the gateway this one replaces on a reload. What the new
	// configuration keeps unchanged is taken over rather than made again:
	// the metrics, the transport and its connections, the Redis
	// connection, the memory cache, the rate-limit buckets of endpoints
	// whose limit is unchanged, the in-flight and memory bounds, the
	// backend clients of unchanged services (with their balancing, health
	// and breaker state) and an unchanged JWT provider (with its key set).
	// Previous is not changed by Load: Adopt, once the new gateway serves,
	// moves what was taken over to it, and Previous's Close then leaves
	// that alone.
	Previous *Gateway
}

// Gateway is a loaded configuration: its plans, ready to serve.
type Gateway struct {
	Config *Config
	// Limits are gateway.json's limits with every default filled in.
	Limits   Limits
	Plans    []*Plan
	Warnings LoadErrors
	// Metrics are the gateway's Prometheus series, on a registry of its own.
	Metrics *metrics.Set
	mux     *http.ServeMux
	// edge holds the stages every endpoint shares (admit, CORS); each
	// endpoint adds its own auth stage to it.
	edge      pipeline.EdgeParts
	providers auth.Providers
	limits    limits
	redis     *store.Redis // nil without gateway.json redis
	guards    map[*Plan]*limit.Guard
	caches    map[*Plan]*cache.Cache
	// The response cache's store, made when an endpoint or call first
	// needs it; memCache is it when it is the memory store.
	respStore      cache.Store
	memCache       *cache.Memory
	cacheStoreMade bool
	memoryOnly     bool // Options.TestAuth: no Redis
	// testIssuer and testJWT sign tokens for spec tests (Options.TestAuth).
	testIssuer *auth.TestIssuer
	testJWT    auth.JWTConfig
	rt         *shared // the backend clients, for their health checks
	// fromPrev holds what Load took over from Options.Previous, which
	// this gateway must not close until Adopt makes it its own; adopted
	// holds what a successor took over from this one, which Close leaves
	// to the successor.
	fromPrev map[any]bool
	adopted  map[any]bool
	prev     *Gateway
	// limiters are the rate limiters this gateway asked the store for:
	// on Adopt, the memory store drops the others.
	limiters []limit.Limiter
	output   *logs.Output // Options.Output
	cleaned  http.Handler // the mux behind an access line, for paths it redirects
	// misdirected answers a request for a host gateway.json's hosts does
	// not list (421), nil when hosts is unset.
	misdirected http.Handler
	series      *metrics.Sources // the scrape-time series, published on load or Adopt
	// ownTransport: Load made the transport (Options.Transport was nil),
	// so Close closes its idle connections.
	ownTransport bool
	// sources are the fs paths this gateway was loaded from: gateway.json,
	// the endpoint folders, the API key file and the PEM files.
	sources []string
	made    []string // the routes Load made series for
}

// DefaultDecodedTotal is limits.max_decoded_total when gateway.json leaves
// it out, for a process of memoryLimit bytes collecting at gcPercent (0:
// Go's default, 100; negative: off): what requests may hold together so
// that the heap, which grows to (1 + gcPercent/100) times what is live
// before the collector runs, stays within half the limit. The other half
// is for the rest of the process and for what is not counted. With GOGC
// off the collector runs only near the limit: half of it.
func DefaultDecodedTotal(memoryLimit int64, gcPercent int) int64 {
	switch {
	case gcPercent == 0:
		gcPercent = 100
	case gcPercent < 0:
		gcPercent = 0
	}
	hi, lo := bits.Mul64(uint64(memoryLimit/2), 100)
	q, _ := bits.Div64(hi, lo, uint64(100+gcPercent)) // hi < 50: no overflow
	return int64(q)
}

// admitWait is how long a request over limits.max_in_flight waits for a
// slot before it is answered 503.
const admitWait = 100 * time.Millisecond

// Sources are the fs paths the gateway was loaded from (gateway.json, its
// endpoint folders, the API key file and the PEM files): what a reload
// watches.
func (g *Gateway) Sources() []string { return slices.Clone(g.sources) }

// DecodedInUse is the bytes of bodies and decoded values that requests in
// flight hold now, as limits.max_decoded_total counts them (0 without that
// bound).
func (g *Gateway) DecodedInUse() int64 {
	if len(g.Plans) == 0 || g.Plans[0].rt.decoded == nil {
		return 0
	}
	return g.Plans[0].rt.decoded.InUse()
}

// ServeHTTP routes a request to its plan.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.misdirected != nil && !g.Config.hosts.allows(r.Host) {
		// Before any stage: a host not served never reaches auth, the
		// limit, the cache or a backend.
		g.misdirected.ServeHTTP(w, r)
		return
	}
	if g.cleaned != nil && uncleanPath(r.URL.Path) {
		// ServeMux answers a path it would clean (//a, /x/../a, /a/./)
		// with a redirect before any stage runs: logged here, so every
		// request has its line.
		g.cleaned.ServeHTTP(w, r)
		return
	}
	g.mux.ServeHTTP(w, r)
}

// uncleanPath reports whether ServeMux would clean p and redirect: as its
// cleanPath does, path.Clean keeping a trailing slash. Exact, since a
// path the mux routes must not pass here (it would have two lines); the
// cleaning runs only for paths with "//" or "/." in them.
func uncleanPath(p string) bool {
	if p == "" || (!strings.Contains(p, "//") && !strings.Contains(p, "/.")) {
		return false
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np != p
}

const maxSpecFiles = 10000

// Load reads gateway.json at configPath in fsys and every endpoint spec in
// the folders it names, compiles them, and builds the router. It reports
// every problem at once: the error is a LoadErrors when anything is wrong.
// What loads clean serves.
func Load(fsys fs.FS, configPath string, opt Options) (*Gateway, error) {
	if opt.Env == nil {
		opt.Env = os.LookupEnv
	}
	prev := opt.Previous
	ownTransport, reusedTransport := false, false
	if opt.Transport == nil && prev != nil && prev.ownTransport {
		opt.Transport = prev.rt.transport // its connections carry over
		ownTransport, reusedTransport = true, true
	} else if opt.Transport == nil {
		opt.Transport = NewTransport()
		ownTransport = true
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	display := opt.DisplayPath
	if display == nil {
		display = func(s string) string { return s }
	}
	var all LoadErrors
	d := &decoder{file: display(configPath)}
	root := &Node{Kind: KindObject, Pos: Pos{1, 1, 0}}
	var src []byte
	if configPath != "" {
		var err error
		root, src, err = readNode(fsys, configPath, d)
		if err != nil {
			return nil, d.errs
		}
		d.expandEnv(root, opt.Env)
	}
	cfg := d.config(root)
	if opt.StubServices {
		cfg.stubs = true
	}
	cfg.noConfig = configPath == ""

	defaults := cfg.Limits.withDefaults(builtinLimits)
	if defaults.MaxDecodedTotal == 0 && opt.MemoryLimit > 0 && opt.MemoryLimit < math.MaxInt64 {
		defaults.MaxDecodedTotal = DefaultDecodedTotal(opt.MemoryLimit, opt.GCPercent)
	}
	rt := &shared{transport: opt.Transport, clients: map[string]*backend.Client{}, log: opt.Logger,
		trusted: cfg.TrustedProxies, tagCalls: opt.TagCalls, general: opt.NoFastPaths, maxBody: defaults.MaxBackendBody,
		output: opt.Output}
	g := &Gateway{Config: cfg, Limits: defaults, mux: http.NewServeMux(), rt: rt, guards: map[*Plan]*limit.Guard{}, caches: map[*Plan]*cache.Cache{},
		fromPrev: map[any]bool{}, adopted: map[any]bool{}, prev: prev, series: metrics.NewSources(), output: opt.Output}
	rt.prev = prev
	rt.take = g.take
	g.ownTransport = ownTransport
	if reusedTransport {
		g.take(opt.Transport)
	}
	// Bounds over every request in flight hold across a reload: requests
	// still on the old gateway count against the new one's.
	if defaults.MaxDecodedTotal > 0 {
		if prev != nil && prev.rt.decoded != nil && prev.Limits.MaxDecodedTotal == defaults.MaxDecodedTotal {
			rt.decoded = prev.rt.decoded
		} else {
			rt.decoded = transform.NewBudget(defaults.MaxDecodedTotal, nil)
		}
	}
	admit := pipeline.NewAdmit(defaults.MaxInFlight, admitWait)
	if prev != nil && prev.Limits.MaxInFlight == defaults.MaxInFlight {
		admit = prev.edge.Admit
	}
	if prev != nil {
		g.Metrics = prev.Metrics
	} else {
		g.Metrics = metrics.New()
	}
	g.edge = pipeline.EdgeParts{Log: opt.Logger, Admit: admit}
	if !d.errs.HasErrors() {
		// Before the clients: each makes client spans with it. An
		// unchanged tracing config keeps its exporter over a reload.
		if prev != nil && prev.rt.tracer != nil && reflect.DeepEqual(prev.Config.Tracing, cfg.Tracing) {
			rt.tracer = prev.rt.tracer
			g.take(rt.tracer)
		} else {
			rt.tracer = buildTracer(cfg)
		}
	}
	dir := path.Dir(configPath)
	all = append(all, g.buildAuth(fsys, dir, d, opt, display)...)
	g.buildLimits(d, opt.TestAuth)
	if src != nil {
		d.validateSchema(schemas.Gateway, src, root) // after the decoder's checks: it adds only what they did not say
	}
	all = append(all, d.errs...)
	var files []string
	keysFile := ""
	if cfg.Auth != nil && cfg.Auth.APIKeys != nil && cfg.Auth.APIKeys.File != "" {
		keysFile = path.Join(dir, cfg.Auth.APIKeys.File)
	}
	folders := make([]string, len(cfg.Endpoints))
	for i, e := range cfg.Endpoints {
		folders[i] = path.Join(dir, e)
	}
	if opt.Endpoints != nil {
		folders = opt.Endpoints
	}
	for i, p := range folders {
		e := p
		if opt.Endpoints == nil {
			e = cfg.Endpoints[i]
		}
		err := fs.WalkDir(fsys, p, func(fp string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if fp == p && !de.IsDir() && strings.HasSuffix(fp, ".json") {
				files = append(files, fp) // named explicitly
				return nil
			}
			if de.IsDir() || !isSpecFile(fp) || fp == keysFile {
				return nil // the API key file may sit beside the specs
			}
			if len(files) >= maxSpecFiles {
				return fmt.Errorf("more than %d spec files", maxSpecFiles)
			}
			files = append(files, fp)
			return nil
		})
		if err != nil && opt.Endpoints != nil {
			all = append(all, &LoadError{File: display(p), Line: 1, Column: 1, Severity: SevError,
				Rule: RuleIO, Message: fmt.Sprintf("cannot read: %v", unwrapPathErr(err))})
		} else if err != nil {
			n := root.Get("endpoints")
			pos := root.Pos
			if n != nil && i < len(n.Elems) {
				pos = n.Elems[i].Pos
			}
			all = append(all, &LoadError{File: display(configPath), Line: pos.Line, Column: pos.Col, Severity: SevError,
				Rule: RuleIO, Field: "endpoints", Message: fmt.Sprintf("endpoints folder %q: %v", e, unwrapPathErr(err))})
		}
	}
	slices.Sort(files)
	files = slices.Compact(files)
	if configPath != "" {
		g.sources = append(g.sources, configPath)
	}
	g.sources = append(g.sources, folders...)
	if keysFile != "" {
		g.sources = append(g.sources, keysFile)
	}
	if cfg.Auth != nil {
		for _, e := range cfg.Auth.publicKeys {
			if e.Kind == KindString {
				g.sources = append(g.sources, path.Join(dir, e.Str))
			}
		}
	}
	routes := map[string]*Plan{}
	for _, f := range files {
		p, errs := compileFile(fsys, f, cfg, defaults, display(f))
		all = append(all, errs...)
		if p == nil || errs.HasErrors() {
			continue
		}
		p.rt = rt
		for _, c := range p.Calls {
			c.client = rt.client(c.service)
			if c.cacheTTL > 0 {
				if st := g.cacheStore(d); st != nil {
					c.cacheStore = st
				}
			}
		}
		stage, err := g.authStage(p)
		if err != nil {
			// The providers did not build: gateway.json's auth has errors
			// of its own, reported already. Anything else is a bug here.
			if !all.HasErrors() {
				all = append(all, &LoadError{File: p.File, Line: 1, Column: 1, Severity: SevError,
					Rule: RuleAuthMissing, Field: "auth", Message: "auth: " + err.Error()})
			}
			continue
		}
		guard, err := g.limitStage(p)
		if err != nil {
			all = append(all, &LoadError{File: p.File, Line: 1, Column: 1, Severity: SevError,
				Rule: RuleSchema, Field: "rate_limit", Message: "rate_limit: " + err.Error()})
			continue
		}
		var limitStage pipeline.Stage
		if guard != nil {
			limitStage = guard.Stage
			g.guards[p] = guard
		}
		cacheStage, err := g.cacheStage(p, d)
		if err != nil {
			all = append(all, &LoadError{File: p.File, Line: 1, Column: 1, Severity: SevError,
				Rule: RuleSchema, Field: "cache", Message: err.Error()})
			continue
		}
		var cacheS pipeline.Stage
		if cacheStage != nil {
			cacheS = cacheStage.Stage
			g.caches[p] = cacheStage
		}
		names := make([]string, len(p.Calls))
		for i, c := range p.Calls {
			names[i] = c.Name
		}
		route := p.Method + " " + p.Route
		p.metrics = g.Metrics.Endpoint(route, names)
		g.made = append(g.made, route)
		if guard != nil {
			g.series.RateLimit(route, guard, guard.Rejected)
			g.series.StoreErrors(g.limitStoreName(), guard, guard.StoreErrors)
		}
		if cacheStage != nil {
			cs := cacheStage
			g.series.Cache(route, cs, metrics.CacheFuncs{
				func() uint64 { return cs.Stats().Hits }, func() uint64 { return cs.Stats().Misses },
				func() uint64 { return cs.Stats().Bypassed }, func() uint64 { return cs.Stats().Refreshes }})
			g.series.StoreErrors(g.cacheStoreName(), cs, func() uint64 { return cs.Stats().StoreErrors })
		}
		if err := g.route(p, stage, limitStage, cacheS, routes); err != nil {
			pos := p.pathPos
			all = append(all, &LoadError{File: p.File, Line: pos.Line, Column: pos.Col, Severity: SevError,
				Rule: RuleRouteClash, Field: "path", Message: err.Error()})
			continue
		}
		g.Plans = append(g.Plans, p)
	}
	unrouted := g.edge
	if opt.Output != nil {
		unrouted.Observe = metrics.Stage(nil, opt.Output, "") // logged, not counted: its route is no endpoint's
		g.cleaned = metrics.Stage(nil, opt.Output, "")(g.mux)
	}
	g.mux.Handle("/", pipeline.Chain(http.HandlerFunc(g.unrouted), pipeline.Edge(unrouted)...))
	if cfg.hosts != nil {
		stages := []pipeline.Stage{pipeline.RequestID}
		if opt.Output != nil {
			stages = append([]pipeline.Stage{metrics.Stage(nil, opt.Output, "")}, stages...) // logged, not counted
		}
		g.misdirected = pipeline.Chain(http.HandlerFunc(misdirected), stages...)
	}
	for _, name := range slices.Sorted(maps.Keys(rt.clients)) {
		c := rt.clients[name]
		g.series.Service(name, c, c.Retries, c.Hedges, c.BreakerOpen, c.Instances(), c.Ejected)
	}
	all.sort()
	if all.HasErrors() {
		g.closeStores()
		g.closeTracer()
		if prev != nil {
			// The Set is shared: drop what this refused load added.
			g.forgetNew(prev)
		}
		return nil, all
	}
	g.Warnings = all
	if prev == nil {
		g.Metrics.Use(g.series) // a reload's gateway publishes its own in Adopt
	}
	return g, nil
}

func unwrapPathErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errors.New("does not exist")
	}
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// isSpecFile: endpoint specs are .json files that are neither spec tests
// (.test.json) nor a gateway.json kept beside them.
func isSpecFile(p string) bool {
	base := path.Base(p)
	return strings.HasSuffix(base, ".json") && !strings.HasSuffix(base, ".test.json") && base != "gateway.json"
}

func readNode(fsys fs.FS, p string, d *decoder) (*Node, []byte, error) {
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		d.errorf(Pos{1, 1, 0}, RuleIO, "", "cannot read: %v", unwrapPathErr(err))
		return nil, nil, err
	}
	n, err := ParseJSON(b)
	if err != nil {
		if se, ok := errors.AsType[*SyntaxError](err); ok {
			d.errorf(se.Pos, RuleSyntax, "", "%s", se.Msg)
		}
		return nil, nil, err
	}
	return n, b, nil
}

// compileFile decodes and compiles one endpoint spec.
func compileFile(fsys fs.FS, f string, cfg *Config, defaults Limits, name string) (*Plan, LoadErrors) {
	d := &decoder{file: name}
	n, src, err := readNode(fsys, f, d)
	if err != nil {
		return nil, d.errs
	}
	s := d.spec(n)
	c := &compiler{d: d, cfg: cfg, spec: s, defaults: defaults}
	p := c.compile()
	d.validateSchema(schemas.Endpoint, src, n)
	if s.PathNode != nil {
		p.pathPos = s.PathNode.Pos
	}
	return p, d.errs
}

// route registers p on the mux. Two specs with the same method and path, or
// patterns ServeMux cannot tell apart, are a route clash.
func (g *Gateway) route(p *Plan, stage, limitStage, cacheStage pipeline.Stage, routes map[string]*Plan) (err error) {
	key := p.Method + " " + p.pattern
	if other, ok := routes[normalizeRoute(key)]; ok {
		if other.Route != p.Route {
			return fmt.Errorf("%s %s is also defined in %s as %s %s: routes that differ only in parameter names are the same route", p.Method, p.Route, other.File, other.Method, other.Route)
		}
		return fmt.Errorf("%s %s is also defined in %s", p.Method, p.Route, other.File)
	}
	parts := g.edge
	parts.Auth = stage
	parts.Limit = limitStage
	parts.Cache = cacheStage
	parts.Observe = metrics.Stage(p.metrics, g.output, p.Route)
	parts.Trace = g.traceStage(p.Method + " " + p.Route)
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%s %s clashes with another endpoint: %v", p.Method, p.Route, v)
		}
	}()
	g.mux.Handle(key, pipeline.Chain(p, pipeline.Edge(parts)...))
	routes[normalizeRoute(key)] = p
	return nil
}

// normalizeRoute forgets parameter names: /a/{x} and /a/{y} are one route.
func normalizeRoute(key string) string {
	var b strings.Builder
	in := false
	for _, r := range key {
		switch {
		case r == '{':
			in = true
			b.WriteString("{}")
		case r == '}':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// unrouted answers requests no plan matched: 405 with Allow when the path
// exists under other methods, else 404.
func (g *Gateway) unrouted(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	allow := slices.DeleteFunc(g.routeMethods(r), func(m string) bool { return m == r.Method })
	w.Header().Set("Server-Timing", "total;dur="+strconv.FormatFloat(float64(time.Since(start).Microseconds())/1000, 'f', -1, 64))
	if len(allow) == 0 {
		pipeline.WriteError(w, r, pipeline.ErrNotFound)
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	pipeline.WriteError(w, r, pipeline.ErrMethodNotAllowed)
}

// limitStoreName and cacheStoreName name the store label of
// frontdesk_store_errors_total.
func (g *Gateway) limitStoreName() string {
	if rl := g.Config.RateLimit; rl != nil && rl.Store == "redis" && g.redis != nil {
		return "redis"
	}
	return "memory"
}

func (g *Gateway) cacheStoreName() string {
	if c := g.Config.Cache; c != nil && c.Store == "redis" && !g.memoryOnly {
		return "redis"
	}
	return "memory"
}

// forgetNew removes the series of routes this (refused) load made that
// prev does not serve.
func (g *Gateway) forgetNew(prev *Gateway) {
	keep := map[string]bool{}
	for _, p := range prev.Plans {
		keep[p.Method+" "+p.Route] = true
	}
	for _, r := range g.made {
		if !keep[r] {
			g.Metrics.Forget(r)
		}
	}
}

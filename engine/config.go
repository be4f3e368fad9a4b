package engine

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"frontdesk/pipeline/cors"
	"frontdesk/pipeline/logs"
	"frontdesk/pipeline/tracing"
)

// Config is a decoded gateway.json.
type Config struct {
	File           string
	Listen         string
	AdminListen    string
	Endpoints      []string // folders, relative to the folder of File
	Services       map[string]*ServiceConfig
	ServiceOrder   []string
	Limits         Limits
	TrustedProxies []netip.Prefix
	// Hosts are gateway.json's hosts, lower-cased ("*.x" for a wildcard);
	// nil serves any host.
	Hosts           []string
	hosts           *hostList
	ShutdownTimeout time.Duration
	// Auth is gateway.json's auth, nil when it has none.
	Auth *AuthConfig
	// CORS is gateway.json's cors, nil when it has none.
	CORS *cors.Config
	// RateLimit is gateway.json's rate_limit, nil when it has none.
	RateLimit *RateLimitConfig
	// Redis is gateway.json's redis, nil when it has none.
	Redis *RedisConfig
	// Cache is gateway.json's cache, nil when it has none.
	Cache *CacheConfig
	// Tracing is gateway.json's tracing, nil when it has none: tracing off.
	Tracing *tracing.Config
	// Log is gateway.json's log, with defaults filled in.
	Log LogConfig

	corsNode *Node
	stubs    bool // see Options.StubServices
	noConfig bool // loaded without a gateway.json
}

// ServiceConfig is one backend service.
type ServiceConfig struct {
	Name    string
	URLs    []*url.URL
	Balance string // round_robin or least_requests
	Timeout time.Duration
	Resilience
	pos Pos
}

// Limits bound what one request may cost. Zero fields take the defaults.
type Limits struct {
	MaxRequestBody     int64
	MaxBackendBody     int64
	MaxCallsPerRequest int
	MaxJSONDepth       int
	// MaxDecoded bounds the decoded data (the Go values expressions see)
	// of one request, across its calls.
	MaxDecoded int64
	// MaxDecodedTotal bounds the decoded data of every request in flight
	// together; 0 is no bound beyond the per-request one.
	MaxDecodedTotal int64
	// Process-wide bounds, gateway.json only.
	MaxInFlight     int           // requests being served at once
	MaxConnections  int           // open client connections on the public listener
	ReadBodyTimeout time.Duration // for a client to send its whole body
	WriteTimeout    time.Duration // for a client to take each 64 KB of an answer

	// MaxConnectionsPerIP bounds the open connections of one client
	// address (an IPv6 /64) on the public listener; trusted proxies have
	// no such bound. Process-wide, gateway.json only.
	MaxConnectionsPerIP int
}

// Defaults for everything gateway.json may leave out.
const (
	DefaultListen          = ":8080"
	DefaultRequestBody     = 1 << 20
	DefaultBackendBody     = 8 << 20
	DefaultCallsPerRequest = 64
	DefaultJSONDepth       = 64
	DefaultDecoded         = 128 << 20
	DefaultInFlight        = 1024
	DefaultConnections     = 10000 // lowered to half the descriptor limit when that is smaller
	DefaultConnsPerIP      = 256
	DefaultReadBodyTimeout = 10 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultEndpointTimeout = 10 * time.Second
	DefaultShutdown        = 15 * time.Second
)

var envRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${VAR} and ${VAR:-default} in every string of the tree.
func (d *decoder) expandEnv(n *Node, env func(string) (string, bool)) {
	switch n.Kind {
	case KindString:
		if !strings.Contains(n.Str, "${") {
			return
		}
		if d.fromEnv == nil {
			d.fromEnv = map[*Node]bool{}
		}
		d.fromEnv[n] = true
		n.Str = envRE.ReplaceAllStringFunc(n.Str, func(m string) string {
			sub := envRE.FindStringSubmatch(m)
			if v, ok := env(sub[1]); ok && (v != "" || sub[2] == "") {
				return v
			}
			if sub[2] != "" {
				return sub[3]
			}
			i := strings.Index(n.Str, m)
			if d.envFailed == nil {
				d.envFailed = map[*Node]bool{}
			}
			d.envFailed[n] = true
			d.errorf(n.PosAt(max(i, 0)), RuleEnv, "", "environment variable %s is not set and has no default (write ${%s:-default})", sub[1], sub[1])
			return ""
		})
	case KindObject:
		for _, m := range n.Members {
			d.expandEnv(m.Value, env)
		}
	case KindArray:
		for _, e := range n.Elems {
			d.expandEnv(e, env)
		}
	}
}

var gatewayKeys = []string{"listen", "admin_listen", "endpoints", "services", "limits", "trusted_proxies", "shutdown_timeout",
	"hosts", "auth", "cors", "rate_limit", "cache", "redis", "tracing", "log"}

func (d *decoder) config(n *Node) *Config {
	c := &Config{File: d.file, Listen: DefaultListen, Services: map[string]*ServiceConfig{}, ShutdownTimeout: DefaultShutdown,
		Log: DefaultLog}
	if !d.object(n, "gateway", gatewayKeys...) {
		return c
	}
	for _, m := range n.Members {
		v := m.Value
		switch m.Key {
		case "$schema":
		case "listen":
			c.Listen = d.str(v, "listen")
		case "admin_listen":
			c.AdminListen = d.str(v, "admin_listen")
		case "endpoints":
			c.Endpoints = d.strList(v, "endpoints")
		case "services":
			if !d.want(v, KindObject, "services") {
				continue
			}
			for _, s := range v.Members {
				if !serviceNameRE.MatchString(s.Key) {
					d.errorf(s.KeyPos, RuleSchema, "services", "service name %q must be letters, digits, '_' or '-'", s.Key)
				}
				c.Services[s.Key] = d.service(s.Key, s.Value)
				c.ServiceOrder = append(c.ServiceOrder, s.Key)
			}
		case "limits":
			c.Limits = d.limits(v, "limits")
		case "trusted_proxies":
			d.strList(v, "trusted_proxies")
			for _, e := range v.Elems {
				if e.Kind != KindString || d.envFailed[e] {
					continue // reported already
				}
				s := e.Str
				p, err := netip.ParsePrefix(s)
				if err != nil {
					a, err2 := netip.ParseAddr(s)
					if err2 != nil {
						d.errorf(e.Pos, RuleSchema, "trusted_proxies", "trusted_proxies: %q is not an IP address or CIDR prefix", s)
						continue
					}
					p = netip.PrefixFrom(a, a.BitLen())
				}
				c.TrustedProxies = append(c.TrustedProxies, p.Masked())
			}
		case "hosts":
			c.Hosts, c.hosts = d.hosts(v)
		case "shutdown_timeout":
			c.ShutdownTimeout = d.duration(v, "shutdown_timeout")
		case "auth":
			c.Auth = d.auth(v)
		case "cors":
			c.CORS, c.corsNode = d.cors(v), v
		case "rate_limit":
			c.RateLimit = d.rateLimits(v)
		case "redis":
			c.Redis = d.redis(v)
		case "cache":
			c.Cache = d.cacheConfig(v)
		case "tracing":
			c.Tracing = d.tracing(v)
		case "log":
			c.Log = d.logConfig(v)
		default:
			if slices.Contains(gatewayKeys, m.Key) { // unknown keys are reported by d.object
				d.errorf(m.KeyPos, RuleUnsupported, m.Key, "%q is part of the spec format but not supported by this build yet", m.Key)
			}
		}
	}
	if c.Cache != nil && c.Cache.Store == "redis" && c.Redis == nil {
		d.errorf(c.Cache.storeNode.Pos, RuleSchema, "cache.store", `cache.store "redis" needs "redis": {"url": "redis://..."} in gateway.json`)
	}
	return c
}

var serviceNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// serviceKeys and limitsKeys are the keys accepted in services.NAME and in
// the gateway's limits; schemas/gateway.schema.json must list the same ones.
var (
	serviceKeys = append([]string{"urls", "balance", "timeout"}, resilienceServiceKeys...)
	limitsKeys  = []string{"max_request_body", "max_backend_body", "max_calls_per_request", "max_json_depth",
		"max_decoded", "max_decoded_total", "max_in_flight", "max_connections", "max_connections_per_ip", "read_body_timeout", "write_timeout"}
)

func (d *decoder) service(name string, n *Node) *ServiceConfig {
	s := &ServiceConfig{Name: name, Balance: "round_robin", Resilience: defaultResilience(), pos: n.Pos}
	field := "services." + name
	if !d.object(n, field, serviceKeys...) {
		return s
	}
	for _, m := range n.Members {
		switch m.Key {
		case "urls":
			list := d.strList(m.Value, field+".urls")
			for _, e := range m.Value.Elems {
				if e.Kind != KindString || d.envFailed[e] {
					continue // reported already
				}
				raw := e.Str
				u, err := url.Parse(raw)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
					d.errorf(e.Pos, RuleSchema, field+".urls", "%s.urls: %q is not an http(s) base URL such as \"http://127.0.0.1:9101\"", field, raw)
					continue
				}
				u.Path = strings.TrimSuffix(u.Path, "/")
				u.RawPath = ""
				s.URLs = append(s.URLs, u)
			}
			if len(list) == 0 && m.Value.Kind == KindArray {
				d.errorf(m.Value.Pos, RuleSchema, field+".urls", "%s.urls needs at least one URL", field)
			}
		case "balance":
			s.Balance = d.str(m.Value, field+".balance")
			if s.Balance != "round_robin" && s.Balance != "least_requests" {
				d.errorf(m.Value.Pos, RuleSchema, field+".balance", "%s.balance must be \"round_robin\" or \"least_requests\", not %q", field, s.Balance)
			}
		case "timeout":
			s.Timeout = d.duration(m.Value, field+".timeout")
		default:
			d.resilienceKey(&s.Resilience, m, field)
		}
	}
	if n.Get("urls") == nil {
		d.errorf(n.Pos, RuleSchema, field, "service %q needs \"urls\"", name)
	}
	return s
}

func (d *decoder) limits(n *Node, field string) Limits {
	var l Limits
	if !d.object(n, field, limitsKeys...) {
		return l
	}
	for _, m := range n.Members {
		f := field + "." + m.Key
		switch m.Key {
		case "max_request_body":
			l.MaxRequestBody = d.size(m.Value, f, MaxBodySize)
		case "max_backend_body":
			l.MaxBackendBody = d.size(m.Value, f, MaxBodySize)
		case "max_calls_per_request":
			l.MaxCallsPerRequest = d.integer(m.Value, f, 1, 10000)
		case "max_json_depth":
			l.MaxJSONDepth = d.integer(m.Value, f, 1, 1000)
		case "max_decoded":
			l.MaxDecoded = d.size(m.Value, f, 16*MaxBodySize)
		case "max_decoded_total":
			l.MaxDecodedTotal = d.size(m.Value, f, 1<<50)
		case "max_in_flight":
			l.MaxInFlight = d.integer(m.Value, f, 1, 1000000)
		case "max_connections":
			l.MaxConnections = d.integer(m.Value, f, 1, 10000000)
		case "max_connections_per_ip":
			l.MaxConnectionsPerIP = d.integer(m.Value, f, 1, 10000000)
		case "read_body_timeout":
			l.ReadBodyTimeout = d.duration(m.Value, f)
		case "write_timeout":
			l.WriteTimeout = d.duration(m.Value, f)
		}
	}
	return l
}

// withDefaults fills zero fields of l from def.
func (l Limits) withDefaults(def Limits) Limits {
	fill(&l.MaxRequestBody, def.MaxRequestBody)
	fill(&l.MaxBackendBody, def.MaxBackendBody)
	fill(&l.MaxCallsPerRequest, def.MaxCallsPerRequest)
	fill(&l.MaxJSONDepth, def.MaxJSONDepth)
	fill(&l.MaxDecoded, def.MaxDecoded)
	fill(&l.MaxInFlight, def.MaxInFlight)
	fill(&l.MaxConnections, def.MaxConnections)
	fill(&l.MaxConnectionsPerIP, def.MaxConnectionsPerIP)
	fill(&l.ReadBodyTimeout, def.ReadBodyTimeout)
	fill(&l.WriteTimeout, def.WriteTimeout)
	return l
}

// fill sets *v to def when *v is the zero value.
func fill[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

var builtinLimits = Limits{
	MaxRequestBody:     DefaultRequestBody,
	MaxBackendBody:     DefaultBackendBody,
	MaxCallsPerRequest: DefaultCallsPerRequest,
	MaxJSONDepth:       DefaultJSONDepth,
	MaxDecoded:         DefaultDecoded,
	MaxInFlight:        DefaultInFlight,
	MaxConnections:     DefaultConnections,
	ReadBodyTimeout:    DefaultReadBodyTimeout,
	WriteTimeout:       DefaultWriteTimeout,

	MaxConnectionsPerIP: DefaultConnsPerIP,
}

// service returns the named service, or a stub when stubs are on.
func (c *Config) service(name string) (*ServiceConfig, bool) {
	if s, ok := c.Services[name]; ok {
		return s, true
	}
	if !c.stubs || name == "" {
		return nil, false
	}
	u, err := url.Parse("http://" + name + ".invalid")
	if err != nil {
		return nil, false
	}
	return &ServiceConfig{Name: name, URLs: []*url.URL{u}, Balance: "round_robin", Resilience: defaultResilience()}, true
}

func (c *Config) String() string { return fmt.Sprintf("gateway %s", c.File) }

// LogConfig is gateway.json's log.
type LogConfig struct {
	Level  string // debug, info, warn or error
	Format string // json or text
	Access bool   // one line per request
}

// DefaultLog is the log without gateway.json's log: JSON at info, with the
// access log.
var DefaultLog = LogConfig{Level: "info", Format: "json", Access: true}

var logKeys = []string{"level", "format", "access"}

func (d *decoder) logConfig(n *Node) LogConfig {
	lc := DefaultLog
	if !d.object(n, "log", logKeys...) {
		return lc
	}
	for _, m := range n.Members {
		v := m.Value
		f := "log." + m.Key
		switch m.Key {
		case "level":
			s := d.str(v, f)
			if v.Kind != KindString || d.envFailed[v] {
				continue
			}
			if _, ok := logs.ParseLevel(s); !ok {
				d.errorf(v.Pos, RuleSchema, f, "%s must be \"debug\", \"info\", \"warn\" or \"error\", not %q", f, s)
				continue
			}
			lc.Level = s
		case "format":
			s := d.str(v, f)
			if v.Kind != KindString || d.envFailed[v] {
				continue
			}
			if s != "json" && s != "text" {
				d.errorf(v.Pos, RuleSchema, f, "%s must be \"json\" or \"text\", not %q", f, s)
				continue
			}
			lc.Format = s
		case "access":
			lc.Access = d.boolean(v, f)
		}
	}
	return lc
}

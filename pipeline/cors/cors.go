// Package cors is the CORS stage of the edge: it answers preflights for
// the gateway's routes and adds the Access-Control-* headers to answers for
// allowed origins. It runs before auth (pipeline.Edge lists it), so a
// preflight, which carries no credentials, is never refused for lacking
// them.
//
// A request from an origin that is not allowed is served as if CORS were
// off: the browser enforces what the headers do not allow.
package cors

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"frontdesk/pipeline"
)

// Config is gateway.json's cors.
type Config struct {
	// AllowOrigins are origins ("https://shop.example.com"), wildcard
	// subdomains ("https://*.example.com"), or "*" for any origin.
	AllowOrigins []string
	// AllowMethods are the methods a browser may use cross-origin; none
	// listed means every method an endpoint has at the path.
	AllowMethods []string
	// AllowHeaders are the request headers a browser may send
	// cross-origin beyond the CORS-safelisted ones (Authorization is not
	// one of those: list it for bearer tokens).
	AllowHeaders []string
	// ExposeHeaders are the response headers a page's script may read
	// beyond the safelisted ones.
	ExposeHeaders    []string
	AllowCredentials bool
	// MaxAge is how long a browser may cache a preflight's answer; zero
	// sends no Access-Control-Max-Age (browsers then keep it 5 seconds).
	MaxAge time.Duration
}

// ConfigError is a problem with a Config, naming the key and (for lists)
// the element, so the loader can point at it.
type ConfigError struct {
	Field string
	Index int // -1 when the whole key is meant
	Msg   string
}

func (e *ConfigError) Error() string { return e.Field + ": " + e.Msg }

// Routes lists the methods the gateway has an endpoint for at r's path, or
// none when no endpoint has that path.
type Routes func(r *http.Request) []string

// CORS is the configured stage; immutable and safe for concurrent use.
type CORS struct {
	any         bool // "*": every origin
	exact       map[string]bool
	wild        []wildcard
	methods     []string
	methodList  string
	headers     string
	expose      string
	credentials bool
	maxAge      string
	routes      Routes
}

type wildcard struct {
	scheme string // "https://"
	suffix string // ".example.com" or ".example.com:8443"
}

var (
	schemeRE = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
	hostRE   = regexp.MustCompile(`^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)(:[0-9]{1,5})?$`)
)

// New checks cfg and builds the stage; routes answers which endpoints a
// preflight's path has.
func New(cfg Config, routes Routes) (*CORS, error) {
	c := &CORS{exact: map[string]bool{}, credentials: cfg.AllowCredentials, routes: routes}
	if len(cfg.AllowOrigins) == 0 {
		return nil, &ConfigError{"allow_origins", -1, "list at least one origin, such as \"https://shop.example.com\""}
	}
	for i, o := range cfg.AllowOrigins {
		if o == "*" {
			if cfg.AllowCredentials {
				return nil, &ConfigError{"allow_origins", i, "\"*\" cannot be used with allow_credentials: a browser refuses credentials for any origin; list the origins"}
			}
			c.any = true
			continue
		}
		lo := strings.ToLower(o)
		scheme, host, ok := strings.Cut(lo, "://")
		switch {
		case lo == "null":
			return nil, &ConfigError{"allow_origins", i, "\"null\" is the origin of sandboxed frames and local files, which any page can make; it cannot be allowed"}
		case !ok || !schemeRE.MatchString(scheme):
			return nil, &ConfigError{"allow_origins", i, fmt.Sprintf("%q is not an origin such as \"https://shop.example.com\"", o)}
		case strings.ContainsAny(host, "/?#@"):
			return nil, &ConfigError{"allow_origins", i, fmt.Sprintf("%q: an origin is a scheme and a host, with no path (write %q)", o, scheme+"://"+strings.SplitN(host, "/", 2)[0])}
		}
		if rest, wild := strings.CutPrefix(host, "*."); wild {
			if !hostRE.MatchString(rest) || !strings.Contains(strings.Split(rest, ":")[0], ".") && !strings.HasPrefix(rest, "localhost") {
				return nil, &ConfigError{"allow_origins", i, fmt.Sprintf("%q: a wildcard needs a domain after \"*.\", such as \"https://*.example.com\"", o)}
			}
			c.wild = append(c.wild, wildcard{scheme + "://", "." + rest})
			continue
		}
		if strings.Contains(host, "*") || !hostRE.MatchString(host) {
			return nil, &ConfigError{"allow_origins", i, fmt.Sprintf("%q is not an origin such as \"https://shop.example.com\" (a wildcard may only be the first label: \"https://*.example.com\")", o)}
		}
		c.exact[lo] = true
	}
	for i, m := range cfg.AllowMethods {
		if !slices.Contains(pipeline.Methods, m) {
			return nil, &ConfigError{"allow_methods", i, fmt.Sprintf("%q is not one of %s", m, strings.Join(pipeline.Methods, ", "))}
		}
		if !slices.Contains(c.methods, m) {
			c.methods = append(c.methods, m)
		}
	}
	c.methodList = strings.Join(c.methods, ", ")
	for _, l := range []struct {
		field string
		in    []string
		out   *string
	}{{"allow_headers", cfg.AllowHeaders, &c.headers}, {"expose_headers", cfg.ExposeHeaders, &c.expose}} {
		var names []string
		for i, h := range l.in {
			if h == "*" {
				if cfg.AllowCredentials {
					return nil, &ConfigError{l.field, i, "\"*\" means any header only without credentials; with allow_credentials, list the headers"}
				}
				names = append(names, h)
				continue
			}
			if !pipeline.IsToken(h) {
				return nil, &ConfigError{l.field, i, fmt.Sprintf("%q is not a header name", h)}
			}
			names = append(names, http.CanonicalHeaderKey(h))
		}
		*l.out = strings.Join(slices.Compact(names), ", ")
	}
	if cfg.MaxAge < 0 {
		return nil, &ConfigError{"max_age", -1, "must not be negative"}
	}
	if cfg.MaxAge > 0 {
		c.maxAge = strconv.FormatInt(int64(cfg.MaxAge/time.Second), 10)
	}
	return c, nil
}

// allowed reports whether origin may call the gateway from a browser.
func (c *CORS) allowed(origin string) bool {
	if origin == "" {
		return false
	}
	if c.any {
		return true
	}
	lo := strings.ToLower(origin)
	if c.exact[lo] {
		return true
	}
	for _, w := range c.wild {
		if rest, ok := strings.CutPrefix(lo, w.scheme); ok && len(rest) > len(w.suffix) && strings.HasSuffix(rest, w.suffix) {
			sub := rest[:len(rest)-len(w.suffix)]
			if !strings.ContainsAny(sub, ":/?#@[]") && sub[0] != '.' && !strings.Contains(sub, "..") {
				return true
			}
		}
	}
	return false
}

// Stage is the CORS stage of the edge.
func (c *CORS) Stage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origins := r.Header.Values("Origin")
		origin := ""
		if len(origins) == 1 {
			origin = origins[0]
		}
		if r.Method == http.MethodOptions && len(origins) > 0 && r.Header.Get("Access-Control-Request-Method") != "" {
			c.preflight(w, r, origin)
			return
		}
		if c.allowed(origin) {
			c.allowOrigin(h, origin)
			if c.expose != "" {
				h.Set("Access-Control-Expose-Headers", c.expose)
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (c *CORS) allowOrigin(h http.Header, origin string) {
	if c.any && !c.credentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// preflight answers an OPTIONS request with Origin and
// Access-Control-Request-Method: 404 for a path with no endpoint, 403 for
// an origin or a method not allowed, 405 for a method the path has no
// endpoint for, else 204 with the Access-Control-Allow-* headers. No
// backend is called and no credentials are asked for.
func (c *CORS) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	h := w.Header()
	h.Set("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	have := c.routes(r)
	want := r.Header.Get("Access-Control-Request-Method")
	switch {
	case len(have) == 0:
		pipeline.WriteError(w, r, pipeline.ErrNotFound)
		return
	case !c.allowed(origin):
		pipeline.WriteError(w, r, &pipeline.CORSError{Detail: "This origin may not call the gateway from a browser."})
		return
	case !slices.Contains(have, want):
		h.Set("Allow", strings.Join(have, ", "))
		pipeline.WriteError(w, r, pipeline.ErrMethodNotAllowed)
		return
	case len(c.methods) > 0 && !slices.Contains(c.methods, want):
		pipeline.WriteError(w, r, &pipeline.CORSError{Detail: "The method this preflight asks for may not be used from a browser here."})
		return
	}
	c.allowOrigin(h, origin)
	if c.methodList != "" {
		h.Set("Access-Control-Allow-Methods", c.methodList)
	} else {
		h.Set("Access-Control-Allow-Methods", strings.Join(have, ", "))
	}
	if c.headers != "" {
		h.Set("Access-Control-Allow-Headers", c.headers)
	}
	if c.maxAge != "" {
		h.Set("Access-Control-Max-Age", c.maxAge)
	}
	w.WriteHeader(http.StatusNoContent)
}

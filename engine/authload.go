package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"reflect"
	"strings"

	"frontdesk/pipeline"
	"frontdesk/pipeline/auth"
	"frontdesk/pipeline/cors"
	"frontdesk/pipeline/limit"
)

// testKeyPrefix makes the API key a spec test sends for a client: in test
// mode only, the gateway accepts it besides the client's real keys.
const testKeyPrefix = "frontdesk-test-key:"

// buildAuth reads the files gateway.json's auth names and builds the
// providers: problems in gateway.json go to d, problems in the keys file to
// the list returned. Without gateway.json (lint of loose specs, spec tests
// without -c), the providers are stand-ins so every rule can be built.
func (g *Gateway) buildAuth(fsys fs.FS, dir string, d *decoder, opt Options, display func(string) string) LoadErrors {
	cfg := g.Config
	var fileErrs LoadErrors
	g.providers.Log = opt.Logger
	var jwtCfg *auth.JWTConfig
	var keys *auth.APIKeys
	if a := cfg.Auth; a != nil {
		if a.JWT != nil {
			before := len(d.errs)
			d.readPublicKeys(fsys, dir, a)
			a.JWT.Logger = opt.Logger
			if pj := g.prevJWT(a.JWT, opt); pj != nil && !a.jwtUnknown && len(d.errs) == before {
				// Unchanged: the provider, its verified tokens and its key
				// set carry over; a reload never waits on the issuer.
				g.take(pj)
				g.providers.JWT = pj
			} else if !a.jwtUnknown && len(d.errs) == before {
				v, err := auth.NewJWT(*a.JWT)
				if err != nil {
					d.jwtError(a, err)
				}
				g.providers.JWT = v
			}
			jwtCfg = a.JWT
		}
		if k := a.APIKeys; k != nil && k.File != "" {
			clients, errs := readKeysFile(fsys, dir, k, d, display)
			fileErrs = errs
			g.limits.clients = clientLimits(clients)
			if !errs.HasErrors() && !errorsUnder(d.errs, "auth.api_keys") {
				set, err := auth.NewAPIKeys(auth.APIKeysConfig{Header: k.Header, Clients: clients})
				if err != nil {
					d.errorf(k.node.Pos, RuleSchema, "auth.api_keys", "auth.api_keys: %v", err)
				}
				keys = set
			}
		}
	}
	if cfg.noConfig {
		// Stand-ins: no gateway.json says how clients sign in.
		if jwtCfg == nil {
			jwtCfg = &auth.JWTConfig{Algorithms: []string{"HS256"}}
		}
		if keys == nil {
			keys, _ = auth.NewAPIKeys(auth.APIKeysConfig{})
		}
		if g.providers.JWT == nil && !opt.TestAuth {
			g.providers.JWT, _ = auth.NewJWT(auth.JWTConfig{Algorithms: []string{"HS256"}, Secret: []byte(pipeline.NewRequestID() + pipeline.NewRequestID())})
		}
	}
	if opt.TestAuth && jwtCfg != nil && len(jwtCfg.Algorithms) > 0 && (cfg.Auth == nil || !cfg.Auth.jwtUnknown) {
		iss, err := auth.TestIssuerFor(jwtCfg.Algorithms[0])
		if err == nil {
			g.testIssuer, g.testJWT = iss, *jwtCfg
			g.providers.JWT, err = auth.NewJWT(iss.Config(*jwtCfg))
		}
		if err != nil {
			d.errorf(Pos{1, 1, 0}, RuleSchema, "auth.jwt", "auth.jwt: the spec tests' key: %v", err)
		}
	}
	if opt.TestAuth && keys != nil {
		for _, c := range keys.Clients() {
			keys, _ = keys.WithTestKey(c, testKeyPrefix+c)
		}
	}
	g.providers.APIKeys = keys
	if cfg.CORS != nil {
		c, err := cors.New(*cfg.CORS, g.routeMethods)
		if err != nil {
			d.corsError(cfg.corsNode, err)
		} else {
			g.edge.CORS = c.Stage
		}
	}
	return fileErrs
}

// errorsUnder reports whether errs holds an error about field or a field
// inside it.
func errorsUnder(errs LoadErrors, field string) bool {
	for _, e := range errs {
		if e.Severity == SevError && (e.Field == field || strings.HasPrefix(e.Field, field+".")) {
			return true
		}
	}
	return false
}

// authStage is p's auth stage, nil for a public endpoint.
func (g *Gateway) authStage(p *Plan) (pipeline.Stage, error) {
	if p.auth == nil {
		return nil, nil
	}
	req := make([]auth.Method, len(p.auth.require))
	for i, m := range p.auth.require {
		req[i] = auth.Method(m)
	}
	return auth.NewStage(g.providers, auth.Rule{Endpoint: p.Method + " " + p.Route, Require: req, Scopes: p.auth.scopes, Allow: p.allowFunc()})
}

// routeMethods lists the methods with an endpoint at r's path: for CORS
// preflights, and the Allow of a 405.
func (g *Gateway) routeMethods(r *http.Request) []string {
	var out []string
	for _, m := range pipeline.Methods {
		probe := &http.Request{Method: m, Host: r.Host, URL: r.URL} // all the mux reads
		if _, pat := g.mux.Handler(probe); pat != "" && pat != "/" {
			out = append(out, m)
		}
	}
	return out
}

// Start starts what the gateway keeps fresh in the background: the
// services' active health checks, and with a jwks_url, the key set,
// fetched now and refreshed until ctx ends or Close is called. A failed
// first fetch is returned (naming the URL); the gateway still serves,
// answering tokens 503 until a later fetch succeeds.
func (g *Gateway) Start(ctx context.Context) error {
	g.rt.startHealth(ctx)
	return g.providers.Start(ctx)
}

// Close stops what Start began, waits for it to end, and closes the
// stores (the memory cache, the Redis connection). With tracing, it then
// flushes the spans still queued, waiting at most 5s for the collector.
func (g *Gateway) Close() {
	if j := g.providers.JWT; j != nil && g.owns(j) {
		j.Close()
	}
	g.rt.stopHealth(g.owns)
	g.closeStores()
	g.closeTracer()
	if t, ok := g.rt.transport.(interface{ CloseIdleConnections() }); ok && g.ownTransport && g.owns(g.rt.transport) {
		t.CloseIdleConnections()
	}
}

// closeStores closes the memory cache and the Redis connection, unless
// they are another gateway's (taken over from the previous one by a load
// that failed, or by a successor from this one).
func (g *Gateway) closeStores() {
	if g.memCache != nil && g.owns(g.memCache) {
		g.memCache.Close()
	}
	if g.redis != nil && g.owns(g.redis) {
		g.redis.Close()
	}
}

// take marks x as taken over from the previous gateway.
func (g *Gateway) take(x any) { g.fromPrev[x] = true }

// owns reports whether closing x is this gateway's job.
func (g *Gateway) owns(x any) bool { return !g.fromPrev[x] && !g.adopted[x] }

// prevJWT is the previous gateway's JWT provider when the new config's is
// the same in every respect, else nil.
func (g *Gateway) prevJWT(cfg *auth.JWTConfig, opt Options) *auth.JWT {
	p := g.prev
	if p == nil || opt.TestAuth || p.providers.JWT == nil || p.Config.Auth == nil || p.Config.Auth.JWT == nil || p.testIssuer != nil {
		return nil
	}
	if !reflect.DeepEqual(*p.Config.Auth.JWT, *cfg) {
		return nil
	}
	return p.providers.JWT
}

// Adopt makes what this gateway took over from the one it replaces its
// own: the previous gateway's Close leaves it alone from now on, and the
// rate-limit buckets of limiters this gateway no longer uses are freed.
// Call it once this gateway serves in the previous one's place.
func (g *Gateway) Adopt() {
	p := g.prev
	if p == nil {
		return
	}
	for x := range g.fromPrev {
		p.adopted[x] = true
	}
	g.fromPrev = map[any]bool{}
	g.Metrics.Use(g.series)
	if m, ok := g.limits.store.(*limit.Memory); ok && m == p.limits.store {
		m.Retain(g.limiters)
	}
	g.prev = nil
	g.rt.prev = nil
}

// ErrNoTestAuth is returned by MintToken and TestAPIKey of a gateway not
// loaded with Options.TestAuth.
var ErrNoTestAuth = errors.New("the gateway was not loaded for spec tests (Options.TestAuth)")

// MintToken signs claims with the spec tests' in-process key, which a
// gateway loaded with Options.TestAuth accepts in place of its issuer's.
// gateway.json's issuer and first audience fill iss and aud, and iat and
// exp (an hour on) are set unless claims give them; a claim set to nil is
// left out.
func (g *Gateway) MintToken(claims map[string]any) (string, error) {
	if g.testIssuer == nil {
		if g.Config.Auth == nil || g.Config.Auth.JWT == nil {
			if !g.Config.noConfig {
				return "", errors.New("gateway.json configures no auth.jwt, so there are no tokens to sign in with")
			}
		}
		return "", ErrNoTestAuth
	}
	return g.testIssuer.Mint(g.testJWT, claims)
}

// TestAPIKey returns the header and the key a spec test sends to sign in as
// client of the keys file, with a gateway loaded with Options.TestAuth.
func (g *Gateway) TestAPIKey(client string) (header, key string, err error) {
	k := g.providers.APIKeys
	if k == nil {
		return "", "", errors.New("gateway.json configures no auth.api_keys, so no client can sign in with a key")
	}
	known := k.Clients()
	for _, c := range known {
		if c == client {
			return k.Header(), testKeyPrefix + client, nil
		}
	}
	return "", "", fmt.Errorf("the keys file has no client %q (it has %s)", client, listOrNone(known, "none"))
}

// authDescription is the text explain prints for p's auth.
func authDescription(r *AuthRule) string {
	if r == nil {
		return "none"
	}
	s := strings.Join(r.Require, " or ")
	if len(r.Scopes) > 0 {
		s += " [scopes " + strings.Join(r.Scopes, " ") + "]"
	}
	if r.Allow != "" {
		s += " [allow " + r.Allow + "]"
	}
	return s
}

// Describe is the rule in one line, "none" for a public endpoint:
// "jwt or api_key [scopes checkout:read] [allow auth.claims.tier == 'gold']".
func (r *AuthRule) Describe() string { return authDescription(r) }

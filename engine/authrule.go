package engine

import (
	"fmt"
	"net/http"
	"reflect"

	"frontdesk/pipeline/auth"
)

// allowNames are what an endpoint's auth.allow may read: it runs in the
// auth stage, before any call and before the body is read.
var allowNames = []string{"auth", "params", "query", "headers"}

// authRule compiles an endpoint's auth. Requiring a way of signing in that
// gateway.json does not configure is an error (unless there is no
// gateway.json, as for lint of loose specs, when it cannot be told); an
// allow that can never be a boolean is an error.
func (c *compiler) authRule(a *AuthSpec) *authRule {
	r := &authRule{scopes: a.Scopes}
	for _, e := range a.Require {
		r.require = append(r.require, e.Str)
		if c.cfg.noConfig {
			continue
		}
		switch {
		case e.Str == "jwt" && (c.cfg.Auth == nil || c.cfg.Auth.JWT == nil):
			c.d.errorf(e.Pos, RuleAuthMissing, "auth.require", `auth.require: "jwt" needs auth.jwt in gateway.json, which configures none`)
		case e.Str == "api_key" && (c.cfg.Auth == nil || c.cfg.Auth.APIKeys == nil):
			c.d.errorf(e.Pos, RuleAuthMissing, "auth.require", `auth.require: "api_key" needs auth.api_keys in gateway.json, which configures none`)
		}
	}
	if a.Allow != nil {
		r.allow = c.expr(a.Allow, "auth.allow", c.base.Only(allowNames...))
		if r.allow != nil {
			switch k := r.allow.Kind(); k {
			case reflect.Bool, reflect.Interface, reflect.Invalid:
			default:
				c.d.errorf(a.Allow.Pos, RuleAllowNotBool, "auth.allow", "auth.allow: %q is always a %s, never true or false", a.Allow.Str, kindWord(k))
			}
		}
	}
	return r
}

// checkAuthUse warns about a public endpoint whose calls read auth: there
// it is always the anonymous client (auth.sub is ""), which is rarely what
// a spec that sends auth.sub to a backend means.
func (c *compiler) checkAuthUse(p *Plan) {
	if p.auth != nil || c.failed {
		return
	}
	for i, call := range p.Calls {
		reads := false
		call.eachExpr(func(e *expression) {
			for _, n := range e.Reads {
				reads = reads || n == "auth"
			}
		})
		if reads {
			c.d.add(c.spec.Calls[i].NamePos, SevWarning, RuleAuthOnPublic, "calls."+call.Name,
				"call %q reads auth, but the endpoint is public, so auth is always the anonymous client (auth.sub is \"\"); add \"auth\": {\"require\": [\"jwt\"]} or stop reading it", call.Name)
		}
	}
}

// allowFunc is the endpoint's auth.allow as the auth stage runs it: the
// names it reads come from the request, auth from the identity proved.
// Anything but true (false, nil, another kind, an error) refuses.
func (p *Plan) allowFunc() func(*http.Request, *auth.Identity) (bool, error) {
	e := p.auth.allow
	if e == nil {
		return nil
	}
	return func(r *http.Request, id *auth.Identity) (bool, error) {
		v, err := e.Run(p.edgeEnv(r, id, e))
		if err != nil {
			return false, err
		}
		switch v := v.(type) {
		case bool:
			return v, nil
		case nil:
			return false, nil
		}
		return false, fmt.Errorf("auth.allow gave a %s, not true or false", kindWord(reflect.TypeOf(v).Kind()))
	}
}

// AuthRule is an endpoint's auth, as explain shows it.
type AuthRule struct {
	Require []string // "jwt", "api_key": a client must pass one
	Scopes  []string // every one is needed
	Allow   string   // the allow expression, or ""
}

// Auth is the endpoint's auth rule, nil for a public endpoint.
func (p *Plan) Auth() *AuthRule {
	if p.auth == nil {
		return nil
	}
	return &AuthRule{Require: p.auth.require, Scopes: p.auth.scopes, Allow: source(p.auth.allow)}
}

// edgeEnv is the variables of an expression the edge runs before any call
// (allow, a rate-limit key, a cache vary): auth, params, query and headers,
// only those e reads.
func (p *Plan) edgeEnv(r *http.Request, id *auth.Identity, e *expression) map[string]any {
	env := make(map[string]any, len(e.Reads))
	for _, n := range e.Reads {
		switch n {
		case "auth":
			env[n] = id.Env()
		case "params":
			env[n] = pathParams(r, p.params)
		case "query":
			env[n] = firstQueryValues(r)
		case "headers":
			env[n] = requestHeaders(r)
		}
	}
	return env
}

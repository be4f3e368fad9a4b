package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"frontdesk/pipeline"
	"frontdesk/pipeline/logs"
	"frontdesk/transform"
)

// Providers are the gateway's ways of signing in; nil ones are not
// configured.
type Providers struct {
	JWT     *JWT
	APIKeys *APIKeys
	// Log receives one debug line per refused request (never a token or a
	// key) and a warning per failed allow rule; nil discards them.
	Log *slog.Logger
}

// Rule is one endpoint's auth: a client must pass one of Require, hold
// every scope of Scopes, and make Allow true.
type Rule struct {
	// Endpoint names the endpoint in log lines ("GET /checkout/{id}").
	Endpoint string
	Require  []Method
	Scopes   []string
	// Allow, when set, runs after the scopes are checked, with the
	// identity the request proved; false, or an error, is a 403.
	Allow func(r *http.Request, id *Identity) (bool, error)
}

// The challenges of the spec format.
const (
	challengeBearer       = `Bearer realm="frontdesk"`
	challengeInvalidToken = `Bearer realm="frontdesk", error="invalid_token"`
	challengeScope        = `Bearer error="insufficient_scope"`
)

// stage is one endpoint's auth stage, built at load.
type stage struct {
	p       Providers
	rule    Rule
	jwt     bool
	apiKey  bool
	cookie  string
	header  string // the API key header
	keyOnly string // the APIKey challenge, for endpoints that accept only api_key
	missing string // the 401 detail when nothing was sent
}

// NewStage checks rule against the providers and returns the endpoint's
// auth stage. Every method rule requires must be configured.
func NewStage(p Providers, rule Rule) (pipeline.Stage, error) {
	if len(rule.Require) == 0 {
		return nil, errors.New("require lists no way of signing in")
	}
	s := &stage{p: p, rule: rule}
	if s.p.Log == nil {
		s.p.Log = slog.New(slog.DiscardHandler)
	}
	for _, m := range rule.Require {
		switch m {
		case MethodJWT:
			if p.JWT == nil {
				return nil, errors.New("require lists \"jwt\" but the gateway configures no auth.jwt")
			}
			s.jwt = true
			s.cookie = p.JWT.Cookie()
		case MethodAPIKey:
			if p.APIKeys == nil {
				return nil, errors.New("require lists \"api_key\" but the gateway configures no auth.api_keys")
			}
			s.apiKey = true
			s.header = p.APIKeys.Header()
		default:
			return nil, fmt.Errorf("require: %q is not \"jwt\" or \"api_key\"", m)
		}
	}
	for _, sc := range rule.Scopes {
		if sc == "" {
			return nil, errors.New("scopes holds an empty scope")
		}
	}
	if s.apiKey && !s.jwt {
		s.keyOnly = `APIKey header=` + strconv.Quote(s.header)
	}
	var ways []string
	if s.jwt {
		w := "a bearer token (Authorization: Bearer …)"
		if s.cookie != "" {
			w = "a bearer token (Authorization: Bearer …, or the " + s.cookie + " cookie)"
		}
		ways = append(ways, w)
	}
	if s.apiKey {
		ways = append(ways, "an API key in the "+s.header+" header")
	}
	s.missing = "This endpoint needs " + strings.Join(ways, " or ") + "."
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(next, w, r) })
	}, nil
}

func (s *stage) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	id, err := s.authenticate(r)
	if err != nil {
		s.refuse(w, r, err, "")
		return
	}
	if !id.HasScopes(s.rule.Scopes) {
		var lack []string
		for _, sc := range s.rule.Scopes {
			if !id.HasScopes([]string{sc}) {
				lack = append(lack, sc)
			}
		}
		s.refuse(w, r, s.forbidden("The client lacks a scope this endpoint requires: "+strings.Join(lack, ", ")+"."), id.Subject)
		return
	}
	if s.rule.Allow != nil {
		ok, err := s.rule.Allow(r, id)
		if err != nil {
			// The reason in fixed words: expr's own message holds the
			// values it met, which may be a header or a claim.
			s.p.Log.Warn("allow rule failed; the request is refused", "endpoint", s.rule.Endpoint,
				"request_id", r.Header.Get(pipeline.HeaderRequestID), "reason", transform.Reason(err))
		}
		if !ok || err != nil {
			s.refuse(w, r, s.forbidden("The endpoint's allow rule does not admit this client."), id.Subject)
			return
		}
	}
	if rec := logs.RecordOf(w); rec != nil {
		rec.Client = id.Subject
	}
	next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
}

func (s *stage) forbidden(detail string) *pipeline.AuthError {
	ch := challengeScope
	if s.keyOnly != "" {
		ch = s.keyOnly
	}
	return &pipeline.AuthError{Status: http.StatusForbidden, Challenge: ch, Detail: detail}
}

// authenticate tries each credential the request sends, of the methods
// the endpoint accepts; the first that verifies decides.
func (s *stage) authenticate(r *http.Request) (*Identity, error) {
	var tokenErr, keyErr error
	sent := false
	if s.jwt {
		tok, found, err := s.bearer(r)
		switch {
		case err != nil:
			sent, tokenErr = true, err
		case found:
			sent = true
			id, err := s.p.JWT.Verify(r.Context(), tok)
			if err == nil {
				return id, nil
			}
			tokenErr = err
		}
	}
	if s.apiKey {
		switch vals := r.Header.Values(s.header); {
		case len(vals) > 1:
			sent, keyErr = true, refusal("more than one was sent")
		case len(vals) == 1:
			sent = true
			if id, ok := s.p.APIKeys.Lookup(vals[0]); ok {
				return id, nil
			}
			keyErr = ErrUnknownAPIKey
			if len(vals[0]) > MaxCredential {
				keyErr = ErrTooLarge
			}
		}
	}
	switch {
	case !sent:
		ch := challengeBearer
		if s.keyOnly != "" {
			ch = s.keyOnly
		}
		return nil, &pipeline.AuthError{Status: http.StatusUnauthorized, Challenge: ch, Detail: s.missing}
	case errors.Is(tokenErr, ErrUnavailable):
		return nil, pipeline.ErrAuthUnavailable
	case tokenErr != nil:
		return nil, &pipeline.AuthError{Status: http.StatusUnauthorized, Challenge: challengeInvalidToken,
			Detail: "The bearer token was refused: " + tokenErr.Error() + "."}
	}
	ch := challengeBearer
	if s.keyOnly != "" {
		ch = s.keyOnly
	}
	return nil, &pipeline.AuthError{Status: http.StatusUnauthorized, Challenge: ch,
		Detail: "The API key was refused: " + keyErr.Error() + "."}
}

// bearer finds the token: Authorization: Bearer, else the cookie when one
// is configured. Never the query string.
func (s *stage) bearer(r *http.Request) (string, bool, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) > 1 {
		return "", false, refusal("more than one Authorization header was sent")
	}
	if len(vals) == 1 {
		v := vals[0]
		if len(v) >= 7 && strings.EqualFold(v[:7], "Bearer ") {
			if len(v) > MaxCredential+7 {
				return "", false, ErrTooLarge
			}
			return strings.TrimSpace(v[7:]), true, nil
		}
		// An Authorization header of another scheme: the cookie is read
		// only when the header is absent.
		return "", false, nil
	}
	if s.cookie == "" {
		return "", false, nil
	}
	found := r.CookiesNamed(s.cookie)
	switch {
	case len(found) == 0:
		return "", false, nil
	case len(found) > 1:
		// Two cookies of one name (one may be planted by a sibling
		// subdomain): neither is trusted.
		return "", false, refusal("more than one " + s.cookie + " cookie was sent")
	case len(found[0].Value) > MaxCredential:
		return "", false, ErrTooLarge
	}
	return found[0].Value, found[0].Value != "", nil
}

// refuse answers a refused request and logs why: the status, the reason
// and the request id, never a token or a key.
func (s *stage) refuse(w http.ResponseWriter, r *http.Request, err error, client string) {
	attrs := []any{"endpoint", s.rule.Endpoint, "request_id", r.Header.Get(pipeline.HeaderRequestID),
		"status", pipeline.Status(err), "reason", err.Error()}
	if client != "" {
		attrs = append(attrs, "client", client)
	}
	s.p.Log.Log(r.Context(), slog.LevelDebug, "auth refused", attrs...)
	pipeline.WriteError(w, r, err)
}

// Require parses the methods of an endpoint's require list.
func Require(names []string) ([]Method, error) {
	out := make([]Method, 0, len(names))
	for _, n := range names {
		m := Method(n)
		if m != MethodJWT && m != MethodAPIKey {
			return nil, fmt.Errorf("%q is not \"jwt\" or \"api_key\"", n)
		}
		if slices.Contains(out, m) {
			return nil, fmt.Errorf("%q is listed twice", n)
		}
		out = append(out, m)
	}
	return out, nil
}

// Close stops what Start began on every provider.
func (p Providers) Close() {
	if p.JWT != nil {
		p.JWT.Close()
	}
}

// Start starts the providers that keep state fresh in the background (a
// JWKS); see JWT.Start.
func (p Providers) Start(ctx context.Context) error {
	if p.JWT != nil {
		return p.JWT.Start(ctx)
	}
	return nil
}

package auth

import (
	"context"
	"frontdesk/pipeline/limit"
	"frontdesk/transform"
	"slices"
)

// Method is a way of signing in, as endpoint rules name it.
type Method string

const (
	MethodJWT    Method = "jwt"
	MethodAPIKey Method = "api_key"
	MethodNone   Method = "none"
)

// Identity is an authenticated client. It is immutable once built and
// shared: a cached token's identity serves every request that presents the
// token, concurrently.
type Identity struct {
	Method  Method
	Subject string   // the sub claim, or the API key's client name
	Scopes  []string // sorted, without duplicates
	// Claims are every claim of a token (numbers as float64, their digits
	// in ClaimSpans), empty for an API key.
	Claims map[string]any
	// RateLimit is the API key client's own limit, nil when it has none.
	RateLimit *limit.Config
	// ClaimSpans holds the digits of the claims' numbers, for encoders
	// (transform.Encoder.AddNumbers); nil for an API key.
	ClaimSpans *transform.Spans

	env map[string]any
}

// newIdentity builds an identity and the value expressions see as auth.
func newIdentity(m Method, sub string, scopes []string, claims map[string]any) *Identity {
	scopes = slices.Clone(scopes)
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	if claims == nil {
		claims = map[string]any{}
	}
	list := make([]any, len(scopes))
	for i, s := range scopes {
		list[i] = s
	}
	id := &Identity{Method: m, Subject: sub, Scopes: scopes, Claims: claims}
	id.env = map[string]any{"sub": sub, "scopes": list, "claims": claims, "method": string(m)}
	return id
}

// Anonymous is the identity of a request to a public endpoint: auth.sub is
// "", auth.scopes [], auth.claims {} and auth.method "none".
var Anonymous = newIdentity(MethodNone, "", nil, nil)

// Env is the value expressions see as auth: sub, scopes, claims and method.
// It is shared by every request of this identity; nothing may change it.
func (id *Identity) Env() map[string]any { return id.env }

// HasScopes reports whether id holds every scope of want.
func (id *Identity) HasScopes(want []string) bool {
	for _, s := range want {
		if _, ok := slices.BinarySearch(id.Scopes, s); !ok {
			return false
		}
	}
	return true
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity the auth stage put on ctx, or Anonymous
// when there is none (a public endpoint).
func FromContext(ctx context.Context) *Identity {
	if id, ok := ctx.Value(ctxKey{}).(*Identity); ok {
		return id
	}
	return Anonymous
}

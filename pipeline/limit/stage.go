package limit

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"frontdesk/pipeline"
	"frontdesk/pipeline/store"
)

// Policy is rate_limit.on_store_error: what a request gets when the store
// cannot answer in time.
type Policy uint8

const (
	// Allow lets the request go on, without RateLimit headers; the error is
	// logged and counted. The default.
	Allow Policy = iota
	// Deny answers 503 problem+json (pipeline.ErrStoreUnavailable).
	Deny
)

// ParsePolicy reads "allow" or "deny"; "" is Allow.
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "", "allow":
		return Allow, nil
	case "deny":
		return Deny, nil
	}
	return Allow, fmt.Errorf("on_store_error %q: want allow or deny", s)
}

// Guard is the rate-limit stage of one endpoint. Configure it once at
// load, then use Stage; its fields must not change after.
type Guard struct {
	// Pick gives the limiter and the key value of a request: the
	// endpoint's limiter, or the API key client's own, and the key its
	// spec names (client, ip, an expression). A nil Limiter leaves the
	// request unlimited; an error is written as the request's answer.
	Pick func(r *http.Request) (Limiter, string, error)
	// OnStoreError decides when the store fails.
	OnStoreError Policy
	// Log gets store errors, at most one line per 10s; nil logs nothing.
	Log *slog.Logger
	// Endpoint names the endpoint in log lines.
	Endpoint string

	rejected    atomic.Uint64
	storeErrors atomic.Uint64
	errLog      store.ErrorLog
}

// Rejected counts 429 answers: frontdesk_ratelimit_rejected_total.
func (g *Guard) Rejected() uint64 { return g.rejected.Load() }

// StoreErrors counts requests whose store failed, whatever the policy did.
func (g *Guard) StoreErrors() uint64 { return g.storeErrors.Load() }

// Stage is the pipeline stage: over the limit is a 429 with Retry-After at
// once, and next is not called; otherwise the RateLimit headers are set on
// the answer and next runs.
func (g *Guard) Stage(next http.Handler) http.Handler {
	g.errLog.Log = g.Log
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lim, key, err := g.Pick(r)
		if err != nil {
			pipeline.WriteError(w, r, err)
			return
		}
		if lim == nil {
			next.ServeHTTP(w, r)
			return
		}
		d, err := lim.Allow(r.Context(), key)
		if err != nil {
			if r.Context().Err() != nil {
				return // the client went away: nobody reads an answer
			}
			g.storeErrors.Add(1)
			g.logStoreError(err)
			if g.OnStoreError == Deny {
				pipeline.WriteError(w, r, fmt.Errorf("%w: %w", pipeline.ErrStoreUnavailable, err))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		d.SetHeaders(w.Header())
		if !d.Allowed {
			g.rejected.Add(1)
			pipeline.WriteError(w, r, d.Err())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logStoreError logs the first error, then at most one line per 10s with
// the number of errors since.
func (g *Guard) logStoreError(err error) {
	policy := "allow"
	if g.OnStoreError == Deny {
		policy = "deny"
	}
	g.errLog.Error("rate limit store failed", err, "endpoint", g.Endpoint, "on_store_error", policy)
}

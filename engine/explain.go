package engine

import (
	"net/http"
	"net/url"
	"time"

	"frontdesk/engine/backend"
)

// Service is the name of the service the call goes to.
func (c *Call) Service() string { return c.service.Name }

// CacheTTL is how long the call's answers are kept (calls.NAME.cache),
// 0 when they are not.
func (c *Call) CacheTTL() time.Duration { return c.cacheTTL }

// ForEach is the call's for_each expression, or "".
func (c *Call) ForEach() string { return source(c.forEach) }

// When is the call's when expression, or "".
func (c *Call) When() string { return source(c.when) }

func source(e *expression) string {
	if e == nil {
		return ""
	}
	return e.Source
}

// CriticalPath returns the chain of calls that takes longest when every call
// uses its whole timeout, and that worst case, capped by the endpoint's
// timeout.
func (p *Plan) CriticalPath() ([]string, time.Duration) {
	n := len(p.Calls)
	finish := make([]time.Duration, n)
	prev := make([]int, n)
	done := make([]bool, n)
	var visit func(i int) time.Duration
	visit = func(i int) time.Duration {
		if done[i] {
			return finish[i]
		}
		prev[i] = -1
		var start time.Duration
		for _, j := range p.Calls[i].deps {
			if f := visit(j); f > start {
				start, prev[i] = f, j
			}
		}
		finish[i] = start + p.Calls[i].Timeout
		done[i] = true
		return finish[i]
	}
	last := -1
	for i := range p.Calls {
		if visit(i); last < 0 || finish[i] > finish[last] {
			last = i
		}
	}
	if last < 0 {
		return nil, 0
	}
	var path []string
	for i := last; i >= 0; i = prev[i] {
		path = append([]string{p.Calls[i].Name}, path...)
	}
	return path, min(finish[last], p.Timeout)
}

// Match returns the plan that serves method and path: path as written in a
// spec ("/checkout/{cart_id}") or a concrete one ("/checkout/c1").
func (g *Gateway) Match(method, path string) *Plan {
	for _, p := range g.Plans {
		if p.Method == method && p.Route == path {
			return p
		}
	}
	u, err := url.Parse(path)
	if err != nil {
		return nil
	}
	r := &http.Request{Method: method, URL: u, Host: "localhost"}
	_, pat := g.mux.Handler(r)
	for _, p := range g.Plans {
		if p.Method+" "+p.pattern == pat {
			return p
		}
	}
	return nil
}

// CallResilience is what protects one call: its service's balancing,
// ejection, health checks, breaker and pool bound, and the call's own
// retry and hedge settings as they apply to its method.
type CallResilience struct {
	Balance        string // round_robin or least_requests
	Instances      int
	EjectAfter     int
	EjectFor       time.Duration
	Health         *backend.Health // nil: none
	Breaker        backend.Breaker
	Attempts       int // 1: no retries (a method not idempotent)
	Backoff        time.Duration
	Budget         float64
	Idempotent     bool          // retried and hedged: GET, HEAD or declared
	HedgeAfter     time.Duration // 0: no hedging
	MaxConnections int           // 0: unbounded
}

// Resilience is the call's CallResilience.
func (c *Call) Resilience() CallResilience {
	r := CallResilience{Balance: c.service.Balance, Instances: len(c.service.URLs), EjectAfter: c.service.EjectAfter,
		EjectFor: c.service.EjectFor, Health: c.service.Health, Breaker: c.service.Breaker, Attempts: 1,
		Backoff: c.retry.Backoff, Budget: c.retry.Budget, MaxConnections: c.service.MaxConnections}
	r.Idempotent = c.retry.Idempotent || c.Method == http.MethodGet || c.Method == http.MethodHead
	if r.Idempotent {
		r.Attempts = c.retry.Attempts
		if r.Instances > 1 {
			r.HedgeAfter = c.hedgeAfter
		}
	}
	return r
}

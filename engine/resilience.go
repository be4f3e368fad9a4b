package engine

import (
	"math"
	"strings"
	"time"

	"frontdesk/engine/backend"
)

// Resilience is a service's resilience settings (spec format 1.1,
// "Resilience"), defaults filled in.
type Resilience struct {
	EjectAfter     int
	EjectFor       time.Duration
	Health         *backend.Health // nil: no active checks
	Breaker        backend.Breaker
	Retry          backend.Retry
	HedgeAfter     time.Duration // 0: no hedging
	MaxConnections int           // 0: unbounded
}

// defaultResilience is what a service that sets none of the keys gets.
func defaultResilience() Resilience {
	return Resilience{EjectAfter: backend.DefaultEjectAfter, EjectFor: backend.DefaultEjectFor,
		Breaker: backend.DefaultBreaker, Retry: backend.DefaultRetry}
}

// resilienceServiceKeys are the keys of services.NAME this file decodes.
var resilienceServiceKeys = []string{"eject_after", "eject_for", "health", "breaker", "retry", "hedge_after", "max_connections"}

// The keys of the objects inside a service and a call; the schemas must
// list the same ones.
var (
	healthKeys      = []string{"path", "interval", "timeout"}
	breakerKeys     = []string{"failure_ratio", "min_requests", "window", "open_for", "consecutive_timeouts"}
	retryKeys       = []string{"attempts", "backoff", "budget"}
	callRetryKeys   = []string{"attempts", "backoff", "budget", "idempotent"}
	maxAttempts     = 10
	maxConnsPerSvc  = 1000000
	maxEjectAfter   = 1000
	maxMinRequests  = 1000000
	resilienceLimit = time.Hour // the longest window, open_for, eject_for or interval
)

// resilienceKey decodes one of resilienceServiceKeys of service field into
// r.
func (d *decoder) resilienceKey(r *Resilience, m Member, field string) {
	v, f := m.Value, field+"."+m.Key
	switch m.Key {
	case "eject_after":
		r.EjectAfter = d.integer(v, f, 1, maxEjectAfter)
	case "eject_for":
		r.EjectFor = d.boundedDuration(v, f)
	case "health":
		r.Health = d.health(v, f)
	case "breaker":
		d.breaker(&r.Breaker, v, f)
	case "retry":
		d.retry(&CallRetry{}, v, f, retryKeys).apply(&r.Retry)
	case "hedge_after":
		r.HedgeAfter = d.boundedDuration(v, f)
	case "max_connections":
		r.MaxConnections = d.integer(v, f, 0, maxConnsPerSvc)
	}
}

// boundedDuration is a positive duration of at most resilienceLimit.
func (d *decoder) boundedDuration(n *Node, field string) time.Duration {
	v := d.duration(n, field)
	if v > resilienceLimit {
		d.errorf(n.Pos, RuleDuration, field, "%s: %q is longer than the most allowed, %s", field, n.Str, resilienceLimit)
		return 0
	}
	return v
}

func (d *decoder) health(n *Node, field string) *backend.Health {
	h := &backend.Health{Interval: backend.DefaultHealthEvery, Timeout: backend.DefaultHealthWait}
	if !d.object(n, field, healthKeys...) {
		return nil
	}
	for _, m := range n.Members {
		f := field + "." + m.Key
		switch m.Key {
		case "path":
			h.Path = d.str(m.Value, f)
			if m.Value.Kind == KindString && (!strings.HasPrefix(h.Path, "/") || strings.ContainsAny(h.Path, "#\r\n ")) {
				d.errorf(m.Value.Pos, RuleSchema, f, "%s: %q is not a path such as \"/healthz\"", f, h.Path)
			}
		case "interval":
			h.Interval = d.boundedDuration(m.Value, f)
		case "timeout":
			h.Timeout = d.boundedDuration(m.Value, f)
		}
	}
	if n.Get("path") == nil {
		d.errorf(n.Pos, RuleSchema, field, "%s needs a \"path\", such as \"/healthz\"", field)
	}
	return h
}

func (d *decoder) breaker(b *backend.Breaker, n *Node, field string) {
	if !d.object(n, field, breakerKeys...) {
		return
	}
	for _, m := range n.Members {
		f := field + "." + m.Key
		switch m.Key {
		case "failure_ratio":
			if r, ok := d.ratio(m.Value, f, false); ok {
				b.FailureRatio = r
			}
		case "min_requests":
			if v := d.integer(m.Value, f, 1, maxMinRequests); v > 0 {
				b.MinRequests = v
			}
		case "window":
			if v := d.boundedDuration(m.Value, f); v > 0 {
				b.Window = v
			}
		case "open_for":
			if v := d.boundedDuration(m.Value, f); v > 0 {
				b.OpenFor = v
			}
		case "consecutive_timeouts":
			b.ConsecutiveTimeouts = d.integer(m.Value, f, 0, maxMinRequests) // 0: off
		}
	}
}

// ratio reads a number from 0 to 1; zero only when zeroOK.
func (d *decoder) ratio(n *Node, field string, zeroOK bool) (float64, bool) {
	if !d.want(n, KindNumber, field) {
		return 0, false
	}
	f, err := n.Float()
	if err != nil || math.IsNaN(f) || f < 0 || f > 1 || (f == 0 && !zeroOK) {
		lo := "more than 0"
		if zeroOK {
			lo = "from 0"
		}
		d.errorf(n.Pos, RuleSchema, field, "%s must be a number %s to 1, not %s", field, lo, n.Str)
		return 0, false
	}
	return f, true
}

// CallRetry is a "retry" object as written: nil fields were left out, so
// a call's keys replace its service's one by one.
type CallRetry struct {
	Node       *Node
	Attempts   *int
	Backoff    *time.Duration
	Budget     *float64
	Idempotent *bool
}

func (d *decoder) retry(r *CallRetry, n *Node, field string, keys []string) *CallRetry {
	r.Node = n
	if !d.object(n, field, keys...) {
		return r
	}
	for _, m := range n.Members {
		f := field + "." + m.Key
		switch m.Key {
		case "attempts":
			if v := d.integer(m.Value, f, 1, maxAttempts); v > 0 {
				r.Attempts = &v
			}
		case "backoff":
			if m.Value.Kind == KindString && !d.envFailed[m.Value] {
				v := d.nonNegativeDuration(m.Value, f)
				if v > resilienceLimit {
					d.errorf(m.Value.Pos, RuleDuration, f, "%s: %q is longer than the most allowed, %s", f, m.Value.Str, resilienceLimit)
					continue
				}
				r.Backoff = &v
			} else {
				d.want(m.Value, KindString, f)
			}
		case "budget":
			if v, ok := d.ratio(m.Value, f, true); ok {
				r.Budget = &v
			}
		case "idempotent":
			if m.Value.Kind == KindBool {
				v := m.Value.Bool
				r.Idempotent = &v
			} else {
				d.want(m.Value, KindBool, f)
			}
		}
	}
	return r
}

// apply replaces the keys of base that r sets.
func (r *CallRetry) apply(base *backend.Retry) {
	if r == nil {
		return
	}
	if r.Attempts != nil {
		base.Attempts = *r.Attempts
	}
	if r.Backoff != nil {
		base.Backoff = *r.Backoff
	}
	if r.Budget != nil {
		base.Budget = *r.Budget
	}
	if r.Idempotent != nil {
		base.Idempotent = *r.Idempotent
	}
}

// callResilience decodes a call's "retry" and "hedge_after" into cs.
func (d *decoder) callResilience(cs *CallSpec, m Member, field string) {
	switch m.Key {
	case "retry":
		cs.Retry = d.retry(&CallRetry{}, m.Value, field+".retry", callRetryKeys)
	case "hedge_after":
		cs.HedgeAfter = d.boundedDuration(m.Value, field+".hedge_after")
	}
}

// callResilience is the retry policy and hedge delay of a call to svc
// (nil when unknown): the service's, with the keys the call sets over it.
func callResilience(svc *ServiceConfig, cs *CallSpec) (backend.Retry, time.Duration) {
	r, hedge := backend.DefaultRetry, time.Duration(0)
	if svc != nil {
		r, hedge = svc.Retry, svc.HedgeAfter
	}
	cs.Retry.apply(&r)
	if cs.HedgeAfter > 0 {
		hedge = cs.HedgeAfter
	}
	return r, hedge
}

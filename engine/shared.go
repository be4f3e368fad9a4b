package engine

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"reflect"

	"frontdesk/engine/backend"
	"frontdesk/pipeline/logs"
	"frontdesk/pipeline/tracing"
	"frontdesk/transform"
)

// shared is what every plan of one loaded gateway shares: the backend
// clients with their balancing and health state, and the logger.
type shared struct {
	transport http.RoundTripper
	clients   map[string]*backend.Client // by service name
	log       *slog.Logger
	trusted   []netip.Prefix
	tagCalls  bool
	general   bool // Options.NoFastPaths
	maxBody   int64
	decoded   *transform.Budget // every request's decoded data together, or nil
	tracer    *tracing.Tracer   // nil: tracing off
	output    *logs.Output      // nil: no access log
	// prev is the gateway a reload replaces (nil at first load); take
	// marks what is taken over from it.
	prev *Gateway
	take func(any)
}

// client is the backend client of cfg's service, built on first use: one
// per service, shared by every call to it.
func (rt *shared) client(cfg *ServiceConfig) *backend.Client {
	if c, ok := rt.clients[cfg.Name]; ok {
		return c
	}
	urls := make([]string, len(cfg.URLs))
	for i, u := range cfg.URLs {
		urls[i] = u.String()
	}
	bc := backend.Config{Name: cfg.Name, URLs: urls, LeastRequests: cfg.Balance == "least_requests",
		MaxBody: rt.maxBody, Transport: rt.transport, Tracer: rt.tracer,
		EjectAfter: cfg.EjectAfter, EjectFor: cfg.EjectFor, Retry: cfg.Retry, Breaker: cfg.Breaker,
		MaxConnections: cfg.MaxConnections, Health: cfg.Health}
	// A service a reload leaves as it was keeps its client: its
	// instances' ejections, breaker, connection counts and health checks
	// go on as if nothing happened.
	if rt.prev != nil {
		if old, ok := rt.prev.rt.clients[cfg.Name]; ok && reflect.DeepEqual(old.Config(), bc) {
			rt.take(old)
			rt.clients[cfg.Name] = old
			return old
		}
	}
	c := backend.New(bc)
	rt.clients[cfg.Name] = c
	return c
}

// NewTransport returns the transport the gateway uses for backends when
// Options.Transport is nil.
func NewTransport() *http.Transport { return backend.NewTransport() }

// startHealth starts every service's active health checks.
func (rt *shared) startHealth(ctx context.Context) {
	for _, c := range rt.clients {
		c.Start(ctx)
	}
}

// stopHealth stops them and waits for them to end, leaving alone the
// clients owns says another gateway now has.
func (rt *shared) stopHealth(owns func(any) bool) {
	for _, c := range rt.clients {
		if owns(c) {
			c.Close()
		}
	}
}

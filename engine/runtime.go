package engine

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"

	"frontdesk/engine/backend"
	"frontdesk/pipeline/tracing"
	"frontdesk/transform"
)

// runtime is what every plan of one loaded gateway shares: the backend
// clients with their balancing and health state, and the logger.
type runtime struct {
	transport http.RoundTripper
	clients   map[string]*backend.Client // by service name
	log       *slog.Logger
	trusted   []netip.Prefix
	tagCalls  bool
	general   bool // Options.NoFastPaths
	maxBody   int64
	decoded   *transform.Budget // every request's decoded data together, or nil
	tracer    *tracing.Tracer   // nil: tracing off
}

// client is the backend client of cfg's service, built on first use: one
// per service, shared by every call to it.
func (rt *runtime) client(cfg *ServiceConfig) *backend.Client {
	if c, ok := rt.clients[cfg.Name]; ok {
		return c
	}
	urls := make([]string, len(cfg.URLs))
	for i, u := range cfg.URLs {
		urls[i] = u.String()
	}
	c := backend.New(backend.Config{Name: cfg.Name, URLs: urls, LeastRequests: cfg.Balance == "least_requests",
		MaxBody: rt.maxBody, Transport: rt.transport, Tracer: rt.tracer,
		EjectAfter: cfg.EjectAfter, EjectFor: cfg.EjectFor, Retry: cfg.Retry, Breaker: cfg.Breaker,
		MaxConnections: cfg.MaxConnections, Health: cfg.Health})
	rt.clients[cfg.Name] = c
	return c
}

// NewTransport returns the transport the gateway uses for backends when
// Options.Transport is nil.
func NewTransport() *http.Transport { return backend.NewTransport() }

// startHealth starts every service's active health checks.
func (rt *runtime) startHealth(ctx context.Context) {
	for _, c := range rt.clients {
		c.Start(ctx)
	}
}

// stopHealth stops them and waits for them to end.
func (rt *runtime) stopHealth() {
	for _, c := range rt.clients {
		c.Close()
	}
}

package engine

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"
)

// runtime is what every plan of one loaded gateway shares: the HTTP client,
// the service instances with their balancing state, and the logger.
type runtime struct {
	// transport makes backend requests. The gateway calls it directly, not
	// through an http.Client: it follows no redirects and keeps no cookies,
	// so the client's per-request copying would be pure cost.
	transport http.RoundTripper
	services  map[string]*service
	log       *slog.Logger
	trusted   []netip.Prefix
	tagCalls  bool
	general   bool // Options.NoFastPaths
}

// service is a backend with its instances.
type service struct {
	name      string
	instances []*instance
	leastReq  bool
	next      atomic.Uint64
}

type instance struct {
	base     string // scheme://host[/base-path], no trailing slash
	inflight atomic.Int64
}

// pick chooses the instance for one request: round robin, or the one with
// the fewest requests in flight (ties go round robin).
func (s *service) pick() *instance {
	n := len(s.instances)
	if n == 1 {
		return s.instances[0]
	}
	start := int(s.next.Add(1) % uint64(n))
	if !s.leastReq {
		return s.instances[start]
	}
	best := s.instances[start]
	for k := 1; k < n; k++ {
		in := s.instances[(start+k)%n]
		if in.inflight.Load() < best.inflight.Load() {
			best = in
		}
	}
	return best
}

func newService(cfg *ServiceConfig) *service {
	s := &service{name: cfg.Name, leastReq: cfg.Balance == "least_requests"}
	for _, u := range cfg.URLs {
		s.instances = append(s.instances, &instance{base: u.String()})
	}
	return s
}

// NewTransport returns the transport the gateway uses for backends: keep-alive
// everywhere and enough idle connections per backend for a busy gateway (the
// standard library keeps 2).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:           4096,
		MaxIdleConnsPerHost:    512,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    5 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// NewClient returns a client on NewTransport that never follows redirects:
// a backend's 3xx is its answer.
func NewClient() *http.Client {
	return &http.Client{
		Transport: NewTransport(),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

var errNoService = errors.New("service has no URLs")

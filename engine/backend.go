package engine

import (
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

	// Passive health: failures in a row, and while ejected, until when.
	fails     atomic.Int32
	ejections atomic.Int32 // in a row, without a success in between
	until     atomic.Int64 // unix nanoseconds; 0 when in service
}

// Ejection: an instance that fails ejectAfter times in a row (connection
// failures and 5xx answers) is left out for ejectFor, doubled on every
// ejection in a row up to ejectMax. One instance always stays in.
const (
	ejectAfter = 5
	ejectFor   = 30 * time.Second
	ejectMax   = 5 * time.Minute
)

// pick chooses the instance for one request: round robin, or the one with
// the fewest requests in flight (ties go round robin), among those not
// ejected and not avoid (the instance a retry is leaving). When none is
// left, the one that comes back soonest.
func (s *service) pick(avoid *instance) *instance {
	n := len(s.instances)
	if n == 1 {
		return s.instances[0]
	}
	now := time.Now().UnixNano()
	start := int((s.next.Add(1) - 1) % uint64(n)) // the first request goes to the first URL
	var best *instance
	for k := 0; k < n; k++ {
		in := s.instances[(start+k)%n]
		if in == avoid || in.until.Load() > now {
			continue
		}
		if !s.leastReq {
			return in
		}
		if best == nil || in.inflight.Load() < best.inflight.Load() {
			best = in
		}
	}
	if best != nil {
		return best
	}
	for k := 0; k < n; k++ {
		in := s.instances[(start+k)%n]
		if best == nil || (best == avoid && in != avoid) || (in != avoid && in.until.Load() < best.until.Load()) {
			best = in
		}
	}
	return best
}

// failed counts a failure of in, ejecting it on the ejectAfter-th in a row
// unless every other instance is out already.
func (s *service) failed(in *instance) {
	if len(s.instances) == 1 || in.fails.Add(1) < ejectAfter {
		return
	}
	in.fails.Store(0)
	now := time.Now().UnixNano()
	for _, other := range s.instances {
		if other != in && other.until.Load() <= now {
			e := in.ejections.Add(1)
			d := min(ejectFor<<(e-1), ejectMax)
			in.until.Store(now + int64(d))
			return
		}
	}
	// The last one in service stays in.
}

// succeeded ends a run of failures.
func (s *service) succeeded(in *instance) {
	if len(s.instances) == 1 {
		return
	}
	if in.fails.Load() != 0 {
		in.fails.Store(0)
	}
	if in.ejections.Load() != 0 {
		in.ejections.Store(0)
	}
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

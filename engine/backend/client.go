package backend

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"frontdesk/pipeline"
	"frontdesk/pipeline/tracing"
)

// Config is what a Client is built from.
type Config struct {
	Name string
	// URLs are the instances' bases, scheme://host[/base-path] without a
	// trailing slash.
	URLs []string
	// LeastRequests picks the instance with the fewest requests in flight
	// instead of round robin.
	LeastRequests bool
	// MaxBody bounds every answer's body, in bytes.
	MaxBody int64
	// EjectAfter and EjectFor configure passive health: an instance that
	// fails EjectAfter times in a row is left out for EjectFor, doubled on
	// each ejection in a row up to 5m. Zero: the defaults.
	EjectAfter int
	EjectFor   time.Duration
	// Retry is the service's retry policy; a zero Attempts is DefaultRetry.
	Retry Retry
	// Breaker configures the service's circuit breaker; zero is
	// DefaultBreaker.
	Breaker Breaker
	// Health, when set, runs active health checks between Start and
	// Close.
	Health *Health
	// MaxConnections bounds the service's requests in flight (so its
	// connections in use); 0 is unbounded.
	MaxConnections int
	// Tracer, when set, makes a client span of every attempt and sends its
	// context to the backend as W3C traceparent; nil is tracing off.
	Tracer *tracing.Tracer
	// Transport makes the HTTP round trips. It is called directly, not
	// through an http.Client: redirects are never followed and no cookies
	// are kept, so a client's per-request copying would be pure cost.
	Transport http.RoundTripper
}

// Request is one backend request, as the engine built it from a compiled
// call. The client owns it until Do returns.
type Request struct {
	Call   string // the call's name, for errors
	Method string
	// Target is the path and query (already escaped), appended to the
	// chosen instance's base.
	Target string
	Header http.Header
	Body   []byte // nil: no body
	// Accept lists statuses of 300 and more that count as an answer
	// rather than a failure (the call's accept_status).
	Accept []int
	// Expose keeps a failed answer's body in the error, for expose_errors.
	Expose bool
	// Timeout is the call's own timeout: a try that times out having had
	// nearly all of it counts against its instance.
	Timeout time.Duration
	// Cache, when set, answers from the call's cache (the first layer).
	Cache *CallCache
	// Shared: the answer may serve other requests (it is cached here or
	// in the endpoint's response cache), so the exchange adds nothing of
	// the client's: the trace context it sends is the gateway's span
	// alone, without the client's tracestate.
	Shared bool
	// Retry is the call's retry policy (its keys over the service's); nil
	// is the service's.
	Retry *Retry
	// HedgeAfter, for an idempotent call, is how long the first try may
	// go unanswered before a second goes to another instance; 0: never.
	HedgeAfter time.Duration
}

// Response is a backend's whole answer. Body is read in full and bounded by
// Config.MaxBody.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Client calls one service. It is safe for concurrent use; its instances'
// balancing and health state is shared by every request.
type Client struct {
	// retries counts tries the retry layer made after the first; hedges,
	// the second tries the hedge layer sent.
	retries, hedges atomic.Uint64
	// timeoutsInRow counts the service's calls that timed out in a row
	// (the breaker layer's countTimeout).
	timeoutsInRow atomic.Int64
	config        Config // as New was given it: a reload keeps a client whose config is unchanged
	name          string
	pool          *pool
	transport     http.RoundTripper
	maxBody       int64
	retryCfg      Retry
	cb            *gobreaker.CircuitBreaker[struct{}]
	budget        *retryBudget
	conns         chan struct{} // a slot per connection allowed, nil: unbounded
	health        *Health       // nil: no active checks
	checks        checkers
	tracer        *tracing.Tracer // nil: no client spans
	do            roundTrip       // the layers, composed once
	cc            cacheCounters
}

// attempt is one try of a request on its way down the layers.
type attempt struct {
	req   *Request
	try   int       // 1 for the first
	avoid *instance // an instance a retry is leaving
	inst  *instance // set by balance
	// picked, when set, is told the instance balance picks (the hedge
	// layer's second try avoids it).
	picked chan<- *instance
}

// roundTrip is what each layer offers the one above it.
type roundTrip func(ctx context.Context, a *attempt) (*Response, error)

// layer wraps the next roundTrip.
type layer func(next roundTrip) roundTrip

// New builds the client of one service.
func New(cfg Config) *Client {
	given := cfg
	if cfg.Retry.Attempts == 0 {
		cfg.Retry = DefaultRetry
	}
	if cfg.Breaker == (Breaker{}) {
		cfg.Breaker = DefaultBreaker
	}
	c := &Client{name: cfg.Name, transport: cfg.Transport, maxBody: cfg.MaxBody, retryCfg: cfg.Retry, tracer: cfg.Tracer,
		pool: newPool(cfg.URLs, cfg.LeastRequests, cfg.EjectAfter, cfg.EjectFor)}
	c.cb = newBreaker(cfg.Name, cfg.Breaker, &c.timeoutsInRow)
	c.budget = newRetryBudget(cfg.Breaker.Window)
	c.config = given
	if h := cfg.Health; h != nil {
		hc := *h
		if hc.Interval <= 0 {
			hc.Interval = DefaultHealthEvery
		}
		if hc.Timeout <= 0 {
			hc.Timeout = DefaultHealthWait
		}
		c.health = &hc
	}
	if cfg.MaxConnections > 0 {
		c.conns = make(chan struct{}, cfg.MaxConnections)
	}
	c.do = compose(c.layers(), c.exchange)
	return c
}

// layers lists the client's layers in the order a request meets them.
func (c *Client) layers() []layer {
	layers := []layer{
		c.cache, // a hit makes no attempt at all, even with the breaker open
		c.breaker,
		c.retry,
		c.hedge,
		c.connLimit,
		c.balance,
	}
	if c.tracer != nil {
		layers = append(layers, c.span) // below balance: each try knows its instance
	}
	return layers
}

// compose builds the chain so that layers[0] runs first and last runs at
// the bottom.
func compose(layers []layer, last roundTrip) roundTrip {
	rt := last
	for _, l := range slices.Backward(layers) {
		rt = l(rt)
	}
	return rt
}

// Name is the service's name.
func (c *Client) Name() string { return c.name }

// Do sends req and returns the backend's answer. A status of 300 or more
// that req.Accept does not list is a failed call (a FailStatus CallError),
// as are every transport failure and a body over the limit.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	resp, err := c.do(ctx, &attempt{req: req, try: 1})
	if err != nil {
		return nil, err
	}
	if resp.Status >= 300 && !slices.Contains(req.Accept, resp.Status) {
		ce := &pipeline.CallError{Call: req.Call, Failure: pipeline.FailStatus, Status: resp.Status,
			Err: fmt.Errorf("backend answered %d", resp.Status), Expose: req.Expose}
		if req.Expose {
			ce.Body = resp.Body
			ce.BodyIsJSON = isJSON(resp.Header.Get("Content-Type"))
		}
		return resp, ce
	}
	return resp, nil
}

func fail(req *Request, f pipeline.CallFailure, err error) error {
	return &pipeline.CallError{Call: req.Call, Failure: f, Err: err}
}

// Config is the configuration the client was made with.
func (c *Client) Config() Config { return c.config }

// Retries counts the tries made after a request's first.
func (c *Client) Retries() uint64 { return c.retries.Load() }

// Hedges counts the hedged second tries sent.
func (c *Client) Hedges() uint64 { return c.hedges.Load() }

// BreakerOpen reports whether the service's breaker is open now.
func (c *Client) BreakerOpen() bool { return c.cb.State() == gobreaker.StateOpen }

// Instances are the client's instances as gateway.json names them
// (scheme://host:port and base path, never user info), in order; a URL
// listed twice is told apart by "#2", "#3".
func (c *Client) Instances() []string {
	out := make([]string, len(c.pool.instances))
	seen := map[string]int{}
	for i, in := range c.pool.instances {
		seen[in.label]++
		out[i] = in.label
		if n := seen[in.label]; n > 1 {
			out[i] = fmt.Sprintf("%s#%d", in.label, n)
		}
	}
	return out
}

// Ejected reports whether the i-th instance is ejected now.
func (c *Client) Ejected(i int) bool {
	u := c.pool.instances[i].until.Load()
	return u != 0 && time.Now().UnixNano() < u
}

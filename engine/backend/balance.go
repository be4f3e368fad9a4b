package backend

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"frontdesk/pipeline"
)

// pool is a service's instances with their balancing and health state.
type pool struct {
	instances []*instance
	leastReq  bool
	// ejectAfter failures in a row eject an instance for ejectFor,
	// doubled on repeats up to ejectMax.
	ejectAfter int32
	ejectFor   time.Duration
	next       atomic.Uint64
	successes  atomic.Uint64 // answers of every instance, for telling a frozen one
}

type instance struct {
	base     string  // scheme://host[/base-path], no trailing slash
	url      baseURL // base, parsed once for every try's URL
	host     string  // the base's host name or address, for client spans
	port     int     // its port, 0 when the URL names none
	label    string  // scheme://host[:port], the instance label of metrics
	inflight atomic.Int64

	// Passive health: failures in a row, and while ejected, until when.
	fails     atomic.Int32
	ejections atomic.Int32 // in a row, without a success in between
	until     atomic.Int64 // unix nanoseconds; 0 when in service
	// seen is the pool's successes when this instance last succeeded: a
	// count past it says another instance has answered since.
	seen atomic.Uint64
}

// Ejection: an instance that fails ejectAfter times in a row (connection
// failures and 5xx answers) is left out for ejectFor, doubled on every
// ejection in a row up to ejectMax. One instance always stays in.
const ejectMax = 5 * time.Minute

// newPool: ejectAfter and ejectFor of 0 take the defaults.
func newPool(urls []string, leastReq bool, ejectAfter int, ejectFor time.Duration) *pool {
	if ejectAfter <= 0 {
		ejectAfter = DefaultEjectAfter
	}
	if ejectFor <= 0 {
		ejectFor = DefaultEjectFor
	}
	p := &pool{leastReq: leastReq, ejectAfter: int32(ejectAfter), ejectFor: ejectFor}
	for _, u := range urls {
		in := &instance{base: u, label: u, url: parseBase(u)}
		if pu, err := url.Parse(u); err == nil {
			in.label = pu.Scheme + "://" + pu.Host + strings.TrimSuffix(pu.EscapedPath(), "/") // never user info
			in.host = pu.Hostname()
			in.port, _ = strconv.Atoi(pu.Port())
		}
		p.instances = append(p.instances, in)
	}
	return p
}

// balance is the layer that picks the attempt's instance, counts it in
// flight, and records the outcome for passive health.
func (c *Client) balance(next roundTrip) roundTrip {
	return func(ctx context.Context, a *attempt) (*Response, error) {
		in := c.pool.pick(a.avoid)
		a.inst = in
		if a.picked != nil {
			a.picked <- in // buffered for one: never blocks
		}
		start := time.Now()
		in.inflight.Add(1)
		resp, err := next(ctx, a)
		in.inflight.Add(-1)
		switch {
		case err != nil:
			// A call that used its whole timeout while another instance
			// has answered since this one last did is this instance's
			// fault: it may be frozen (connections open, nothing answers).
			frozen := timedOut(ctx, err) && time.Since(start) >= a.req.Timeout*9/10 &&
				c.pool.successes.Load() > in.seen.Load()
			if instanceFault(ctx, err) || frozen {
				c.pool.failed(in)
			}
		case resp.Status >= 500:
			c.pool.failed(in)
		default:
			c.pool.succeeded(in)
		}
		return resp, err
	}
}

// instanceFault reports whether err says something about the instance:
// a connection that failed or broke, not a deadline or a cancel of ours.
func instanceFault(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	ce, ok := errors.AsType[*pipeline.CallError](err)
	if !ok {
		return false
	}
	return ce.Failure == pipeline.FailUnreachable || ce.Failure == pipeline.FailTruncated
}

// timedOut reports whether err is the attempt's deadline passing, not a
// cancel (a client gone, a sibling call failed).
func timedOut(ctx context.Context, err error) bool {
	ce, ok := errors.AsType[*pipeline.CallError](err)
	return ctx.Err() == context.DeadlineExceeded && ok && ce.Failure == pipeline.FailTimeout
}

// pick chooses the instance for one attempt: round robin, or with
// least_requests the one with fewer requests in flight of two drawn at
// random (of two instances, the fewer of both; ties go round robin), among
// those not ejected and not avoid (the instance a retry is leaving). When
// none is left, the one that comes back soonest.
func (p *pool) pick(avoid *instance) *instance {
	n := len(p.instances)
	if n == 1 {
		return p.instances[0]
	}
	now := time.Now().UnixNano()
	eligible := func(in *instance) bool { return in != avoid && in.until.Load() <= now }
	if p.leastReq && n > 2 {
		// Power of two choices: two instances at random, the one with fewer
		// requests in flight. Cheap at any size, and it does not send every
		// caller to the same least-loaded instance at once.
		i := rand.IntN(n)
		j := rand.IntN(n - 1)
		if j >= i {
			j++
		}
		a, b := p.instances[i], p.instances[j]
		switch okA, okB := eligible(a), eligible(b); {
		case okA && okB:
			if b.inflight.Load() < a.inflight.Load() {
				return b
			}
			return a
		case okA:
			return a
		case okB:
			return b
		}
		// Both out: the scan below finds one that is in.
	}
	start := int((p.next.Add(1) - 1) % uint64(n)) // the first request goes to the first URL
	var best *instance
	for k := 0; k < n; k++ {
		in := p.instances[(start+k)%n]
		if in == avoid || in.until.Load() > now {
			continue
		}
		if !p.leastReq {
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
		in := p.instances[(start+k)%n]
		if best == nil || (best == avoid && in != avoid) || (in != avoid && in.until.Load() < best.until.Load()) {
			best = in
		}
	}
	return best
}

// failed counts a failure of in, ejecting it on the ejectAfter-th in a row
// unless every other instance is out already.
func (p *pool) failed(in *instance) {
	if len(p.instances) == 1 {
		return
	}
	now := time.Now().UnixNano()
	if in.until.Load() > now {
		return // out already: the late failures of calls sent before
	}
	n := in.fails.Add(1)
	if n < p.ejectAfter || !in.fails.CompareAndSwap(n, 0) {
		return // not yet, or another failure at once takes it out
	}
	for _, other := range p.instances {
		if other != in && other.until.Load() <= now {
			in.until.Store(now + int64(ejectDuration(p.ejectFor, in.ejections.Add(1))))
			return
		}
	}
	// The last one in service stays in.
}

// ejectDuration is how long the e-th ejection in a row lasts: ejectFor,
// doubled on each, up to ejectMax (or ejectFor, when that is longer).
func ejectDuration(ejectFor time.Duration, e int32) time.Duration {
	d := ejectFor
	for i := int32(1); i < e && d < ejectMax; i++ {
		d *= 2
	}
	return min(d, max(ejectMax, ejectFor))
}

// succeeded ends a run of failures.
func (p *pool) succeeded(in *instance) {
	if len(p.instances) == 1 {
		return
	}
	in.seen.Store(p.successes.Add(1))
	if in.fails.Load() != 0 {
		in.fails.Store(0)
	}
	if in.ejections.Load() != 0 {
		in.ejections.Store(0)
	}
}

// recovered puts in back in service after a passing health check, its
// failures and ejections forgotten.
func (p *pool) recovered(in *instance) {
	if in.until.Load() != 0 {
		in.until.Store(0)
	}
	if in.fails.Load() != 0 {
		in.fails.Store(0)
	}
	if in.ejections.Load() != 0 {
		in.ejections.Store(0)
	}
}

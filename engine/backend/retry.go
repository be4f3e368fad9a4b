package backend

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"frontdesk/pipeline"
)

// retry is the layer that tries an idempotent request (GET, HEAD, or any
// the call declares idempotent) again after a connection failure or a 502,
// 503 or 504, up to its policy's attempts, each on another instance when
// there is one. Before each retry it waits its back-off (doubled each
// time, with jitter); a retry whose wait would pass the call's deadline is
// not made, nor one the service's retry budget has no room for.
func (c *Client) retry(next roundTrip) roundTrip {
	return func(ctx context.Context, a *attempt) (*Response, error) {
		policy := a.policy(c)
		attempts := 1
		if policy.idempotent(a.req.Method) {
			attempts = policy.Attempts
		}
		c.budget.request()
		for {
			resp, err := next(ctx, a)
			if a.try >= attempts || ctx.Err() != nil || !retryable(resp, err) {
				return resp, err
			}
			wait := backoff(policy.Backoff, a.try)
			if d, ok := ctx.Deadline(); ok && time.Until(d) <= wait {
				return resp, err // the wait alone would use up the call's time
			}
			if !c.budget.allow(policy.Budget) {
				return resp, err
			}
			if wait > 0 && !sleep(ctx, wait) {
				return resp, err
			}
			c.retries.Add(1)
			a = &attempt{req: a.req, try: a.try + 1, avoid: a.inst}
		}
	}
}

// policy is the attempt's retry policy: its call's, else its service's.
func (a *attempt) policy(c *Client) *Retry {
	if a.req.Retry != nil {
		return a.req.Retry
	}
	return &c.retryCfg
}

// backoff is the wait after try number try failed: base doubled for each
// try after the first, then a random point in its upper half, so that
// callers who failed together do not come back together.
func backoff(base time.Duration, try int) time.Duration {
	if base <= 0 {
		return 0
	}
	d := base << min(try-1, 16)
	if d <= 0 || d > time.Hour {
		d = time.Hour // the deadline bounds it anyway
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits d, or less when ctx ends first; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryable: a connection that failed, or an answer that says the backend
// could not serve it now.
func retryable(resp *Response, err error) bool {
	if err != nil {
		ce, ok := errors.AsType[*pipeline.CallError](err)
		return ok && ce.Failure == pipeline.FailUnreachable
	}
	switch resp.Status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

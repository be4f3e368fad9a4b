package backend

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"frontdesk/pipeline"
)

// halfOpenProbes is how many calls a half-open breaker lets through; that
// many successes in a row close it, one failure opens it again.
const halfOpenProbes = 3

// breakerBuckets is how many buckets the breaker's rolling window has.
const breakerBuckets = 10

// Outcomes of a call as the breaker counts them.
var (
	errBreakerFailure = errors.New("a failure the breaker counts")
	errBreakerIgnored = errors.New("an outcome the breaker does not count")
)

// newBreaker is the circuit breaker of service name. It opens on a share
// of failures over its window, or on b.ConsecutiveTimeouts timeouts in a
// row, counted in inRow by the breaker layer.
func newBreaker(name string, b Breaker, inRow *atomic.Int64) *gobreaker.CircuitBreaker[struct{}] {
	return gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         name,
		MaxRequests:  halfOpenProbes,
		Interval:     b.Window,
		BucketPeriod: b.Window / breakerBuckets,
		Timeout:      b.OpenFor,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			if b.ConsecutiveTimeouts > 0 && inRow.Load() >= int64(b.ConsecutiveTimeouts) {
				return true
			}
			return n.Requests >= uint32(b.MinRequests) && float64(n.TotalFailures) >= b.FailureRatio*float64(n.Requests)
		},
		OnStateChange: func(string, gobreaker.State, gobreaker.State) { inRow.Store(0) },
		IsSuccessful:  func(err error) bool { return err == nil },
		IsExcluded:    func(err error) bool { return err == errBreakerIgnored },
	})
}

// breaker is the layer that fails a call at once while its service's
// breaker is open, and counts every call's outcome (after its retries and
// hedges) towards opening it.
func (c *Client) breaker(next roundTrip) roundTrip {
	return func(ctx context.Context, a *attempt) (*Response, error) {
		var resp *Response
		var err error
		_, berr := c.cb.Execute(func() (struct{}, error) {
			start := time.Now()
			resp, err = next(ctx, a)
			outcome := breakerOutcome(ctx, resp, err)
			c.countTimeout(ctx, a, err, outcome, time.Since(start))
			return struct{}{}, outcome
		})
		if errors.Is(berr, gobreaker.ErrOpenState) || errors.Is(berr, gobreaker.ErrTooManyRequests) {
			return nil, &pipeline.CallError{Call: a.req.Call, Service: c.name, Failure: pipeline.FailBreakerOpen, Err: berr}
		}
		return resp, err
	}
}

// countTimeout keeps the count of the service's timeouts in a row: a call
// that timed out having had nearly all of its own timeout (not one the
// endpoint's deadline cut short) adds one, and any other outcome that
// says something about the service starts it again. A service whose
// calls all time out (a single instance frozen: connections open,
// nothing answers) opens its breaker after a few, rather than holding
// every request for its timeout until failures make up failure_ratio of
// the window.
func (c *Client) countTimeout(ctx context.Context, a *attempt, err, outcome error, took time.Duration) {
	switch {
	case err != nil && took >= a.req.Timeout*9/10 && timedOut(ctx, err):
		c.timeoutsInRow.Add(1)
	case outcome != errBreakerIgnored:
		c.timeoutsInRow.Store(0)
	}
}

// breakerOutcome classifies a call for the breaker: connection failures,
// timeouts and 5xx answers are failures; a cancel (the client gone, a
// sibling call failed) and a request the gateway could not build say
// nothing about the service; anything else the backend answered is a
// success.
func breakerOutcome(ctx context.Context, resp *Response, err error) error {
	if err == nil {
		if resp.Status >= 500 {
			return errBreakerFailure
		}
		return nil
	}
	if ctx.Err() == context.Canceled {
		return errBreakerIgnored
	}
	ce, ok := errors.AsType[*pipeline.CallError](err)
	if !ok {
		return errBreakerFailure
	}
	switch ce.Failure {
	case pipeline.FailUnreachable, pipeline.FailTimeout, pipeline.FailTruncated:
		return errBreakerFailure
	case pipeline.FailRequest, pipeline.FailLimit:
		return errBreakerIgnored
	}
	return nil // a body too large or not decodable: the service answered
}

package backend

import (
	"context"
	"errors"

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

// newBreaker is the circuit breaker of service name.
func newBreaker(name string, b Breaker) *gobreaker.CircuitBreaker[struct{}] {
	return gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         name,
		MaxRequests:  halfOpenProbes,
		Interval:     b.Window,
		BucketPeriod: b.Window / breakerBuckets,
		Timeout:      b.OpenFor,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			return n.Requests >= uint32(b.MinRequests) && float64(n.TotalFailures) >= b.FailureRatio*float64(n.Requests)
		},
		IsSuccessful: func(err error) bool { return err == nil },
		IsExcluded:   func(err error) bool { return err == errBreakerIgnored },
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
			resp, err = next(ctx, a)
			return struct{}{}, breakerOutcome(ctx, resp, err)
		})
		if errors.Is(berr, gobreaker.ErrOpenState) || errors.Is(berr, gobreaker.ErrTooManyRequests) {
			return nil, &pipeline.CallError{Call: a.req.Call, Service: c.name, Failure: pipeline.FailBreakerOpen, Err: berr}
		}
		return resp, err
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
	var ce *pipeline.CallError
	if !errors.As(err, &ce) {
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

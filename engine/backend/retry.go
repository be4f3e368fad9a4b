package backend

import (
	"context"
	"errors"
	"net/http"

	"frontdesk/pipeline"
)

// retry is the layer that tries an idempotent request (GET, HEAD, or any
// the call declares idempotent) again after a connection failure or a 502,
// 503 or 504, up to its policy's attempts, on another instance when there
// is one, while the call's deadline has not passed.
func (c *Client) retry(next roundTrip) roundTrip {
	return func(ctx context.Context, a *attempt) (*Response, error) {
		policy := a.req.Retry
		if policy == nil {
			policy = &c.retryCfg
		}
		attempts := 1
		if policy.idempotent(a.req.Method) {
			attempts = policy.Attempts
		}
		for {
			resp, err := next(ctx, a)
			if a.try >= attempts || ctx.Err() != nil || !retryable(resp, err) {
				return resp, err
			}
			a = &attempt{req: a.req, try: a.try + 1, avoid: a.inst}
		}
	}
}

// retryable: a connection that failed, or an answer that says the backend
// could not serve it now.
func retryable(resp *Response, err error) bool {
	if err != nil {
		var ce *pipeline.CallError
		return errors.As(err, &ce) && ce.Failure == pipeline.FailUnreachable
	}
	switch resp.Status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

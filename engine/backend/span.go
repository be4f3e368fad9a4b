package backend

import (
	"context"
	"errors"

	"frontdesk/pipeline"
)

// span is the layer that makes one client span per attempt, under the
// request's server span; exchange injects its context into the attempt's
// request. It is in the list only when the client has a tracer.
func (c *Client) span(next roundTrip) roundTrip {
	return func(ctx context.Context, a *attempt) (*Response, error) {
		ctx, s := c.tracer.StartClient(ctx, a.req.Method, c.name, a.req.Call, a.inst.host, a.inst.port, a.try)
		resp, err := next(ctx, a)
		status := 0
		if resp != nil {
			status = resp.Status
		}
		errType := FailureType(err)
		if err != nil && ctx.Err() == context.Canceled {
			errType = "canceled" // a hedge's loser, a sibling's failure, a client gone
		}
		s.End(status, errType)
		return resp, err
	}
}

// FailureType names an attempt's failure in a fixed word, for a span's
// error.type and the access log; "" when there is none. It never holds the error's text, which may quote a URL.
func FailureType(err error) string {
	if err == nil {
		return ""
	}
	ce, ok := errors.AsType[*pipeline.CallError](err)
	if !ok {
		return "error"
	}
	switch ce.Failure {
	case pipeline.FailUnreachable:
		return "unreachable"
	case pipeline.FailTimeout:
		return "timeout"
	case pipeline.FailBody:
		return "body"
	case pipeline.FailTruncated:
		return "truncated"
	case pipeline.FailRequest:
		return "request"
	case pipeline.FailStatus:
		return "status"
	case pipeline.FailBreakerOpen:
		return "breaker_open"
	case pipeline.FailLimit:
		return "limit"
	}
	return "error"
}

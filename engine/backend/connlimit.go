package backend

import (
	"context"
	"errors"

	"frontdesk/pipeline"
)

// connLimit is the layer that bounds the service's tries in flight, and so
// its connections in use, to Config.MaxConnections: a try past it waits
// for one to end, within its deadline, then fails as a timeout. Without a
// bound it adds nothing.
func (c *Client) connLimit(next roundTrip) roundTrip {
	if c.conns == nil {
		return next
	}
	return func(ctx context.Context, a *attempt) (*Response, error) {
		select {
		case c.conns <- struct{}{}:
		case <-ctx.Done():
			f := pipeline.FailTimeout
			if ctx.Err() == context.Canceled {
				f = pipeline.FailUnreachable // a cancel: nobody reads it
			}
			return nil, fail(a.req, f, errors.New("every one of the service's max_connections stayed in use"))
		}
		defer func() { <-c.conns }()
		return next(ctx, a)
	}
}

package backend

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// checkers are a client's active health checks: one goroutine per
// instance, started by Start and stopped by Close or the end of Start's
// context.
type checkers struct {
	mu     sync.Mutex
	cancel context.CancelFunc // nil: not running
	wg     sync.WaitGroup
}

// maxHealthBody is how much of a check's answer is read (and dropped), so
// the connection can be kept.
const maxHealthBody = 4 << 10

// Start starts the active health checks when the service has them; a
// second Start while they run does nothing. They run until ctx ends or
// Close is called.
func (c *Client) Start(ctx context.Context) {
	if c.health == nil {
		return
	}
	c.checks.mu.Lock()
	defer c.checks.mu.Unlock()
	if c.checks.cancel != nil {
		return
	}
	ctx, c.checks.cancel = context.WithCancel(ctx)
	for _, in := range c.pool.instances {
		c.checks.wg.Go(func() { c.checkLoop(ctx, in) })
	}
}

// Close stops the health checks and waits for them to end (at most one
// check's timeout).
func (c *Client) Close() {
	c.checks.mu.Lock()
	cancel := c.checks.cancel
	c.checks.cancel = nil
	c.checks.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	c.checks.wg.Wait()
}

// checkLoop checks in every interval, each wait jittered by up to a fifth
// either way (the first a random share of the interval), so instances and
// gateway replicas do not check in step.
func (c *Client) checkLoop(ctx context.Context, in *instance) {
	h := c.health
	wait := rand.N(h.Interval) + 1
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if c.probe(ctx, in) {
			c.pool.recovered(in)
		} else if ctx.Err() == nil {
			c.pool.failed(in)
		}
		wait = h.Interval*4/5 + rand.N(h.Interval*2/5+1)
	}
}

// probe is one check: a GET of the health path answered 2xx within the
// check's timeout.
func (c *Client) probe(ctx context.Context, in *instance) bool {
	ctx, cancel := context.WithTimeout(ctx, c.health.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.base+c.health.Path, nil)
	if err != nil {
		return false
	}
	resp, err := c.transport.RoundTrip(req)
	if err != nil {
		return false
	}
	_, err = io.CopyN(io.Discard, resp.Body, maxHealthBody)
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300 && (err == nil || err == io.EOF)
}

package backend

import (
	"context"
	"time"
)

// hedge is the layer that, for an idempotent request with a hedge delay,
// sends a second try to another instance when the first has not answered
// after that long. The first answer wins (a try that failed in a way a
// retry would mend is no answer: the other is awaited); the other try is
// cancelled, and waited for, so its goroutine and connection end with the
// call. A hedge counts against the retry budget; without room, or with a
// single instance, the first try is simply awaited.
func (c *Client) hedge(next roundTrip) roundTrip {
	return func(ctx context.Context, a *attempt) (*Response, error) {
		policy := a.policy(c)
		after := a.req.HedgeAfter
		if after <= 0 || len(c.pool.instances) < 2 || !policy.idempotent(a.req.Method) {
			return next(ctx, a)
		}
		results := make(chan hedgeResult, 2)
		picked := make(chan *instance, 1)
		first := &attempt{req: a.req, try: a.try, avoid: a.avoid, picked: picked}
		cancelFirst := c.launch(ctx, next, first, results)
		timer := time.NewTimer(after)
		defer timer.Stop()
		select {
		case r := <-results:
			cancelFirst()
			return r.settle(a)
		case <-timer.C:
		}
		var avoid *instance
		select {
		case avoid = <-picked:
		default: // not picked yet: balance will spread them anyway
		}
		if !c.budget.allow(policy.Budget) {
			r := <-results
			cancelFirst()
			return r.settle(a)
		}
		second := &attempt{req: a.req, try: a.try, avoid: avoid}
		c.hedges.Add(1)
		cancelSecond := c.launch(ctx, next, second, results)
		r := <-results
		if retryable(r.resp, r.err) && ctx.Err() == nil {
			r = <-results // the other may still answer
		} else {
			// The loser: cancelled, then awaited.
			cancelFirst()
			cancelSecond()
			<-results
		}
		cancelFirst()
		cancelSecond()
		return r.settle(a)
	}
}

type hedgeResult struct {
	resp *Response
	err  error
	a    *attempt
}

// settle returns r as the call's outcome, telling a (and so the retry
// layer above) which instance answered.
func (r hedgeResult) settle(a *attempt) (*Response, error) {
	a.inst = r.a.inst
	return r.resp, r.err
}

// launch runs one try of a hedged call in its own goroutine, its result
// sent on results; the returned func cancels it.
func (c *Client) launch(ctx context.Context, next roundTrip, a *attempt, results chan<- hedgeResult) context.CancelFunc {
	tctx, cancel := context.WithCancel(ctx)
	go func() {
		resp, err := next(tctx, a)
		results <- hedgeResult{resp, err, a}
	}()
	return cancel
}

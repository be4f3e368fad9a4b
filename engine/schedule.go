package engine

import (
	"context"
	"errors"
	"fmt"
	"frontdesk/pipeline"
	"frontdesk/transform"
	"runtime/debug"
	"time"

	"golang.org/x/sync/errgroup"
)

// run executes the call graph: every call starts as soon as the calls it
// reads are done. A required failure cancels the rest, through cancel (the
// one of ctx, the endpoint's deadline), and is what run returns.
//
// A goroutine that has finished a call goes on with one of the calls that
// became ready, starting goroutines only for the others, and the
// requesting goroutine runs a root call itself rather than wait idle: a
// chain of calls runs on one goroutine, and one call on the request's.
func (x *exchange) run(ctx context.Context, cancel context.CancelFunc) error {
	if len(x.p.Calls) == 0 {
		return nil
	}
	for i, c := range x.p.Calls {
		x.results[i].pending.Store(int32(len(c.deps)))
	}
	x.cancel = cancel
	roots := x.p.roots
	for _, i := range roots[:len(roots)-1] {
		x.spawn(ctx, i)
	}
	x.work(ctx, roots[len(roots)-1])
	x.wg.Wait()
	return x.err
}

// spawn runs call i, and what it makes ready, on a goroutine of its own.
func (x *exchange) spawn(ctx context.Context, i int) {
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		x.work(ctx, i)
	}()
}

// work runs call i, then, as long as the call it ran made some ready, one
// of them, spawning the rest; a call's failure ends it (its dependents
// never run) and cancels the request's other calls. Every finished call
// starts its dependents, even once another has failed: they see the
// canceled context.
func (x *exchange) work(ctx context.Context, i int) {
	for i >= 0 {
		if err := x.runGuarded(ctx, i); err != nil {
			x.errOnce.Do(func() {
				x.err = err
				x.cancel()
			})
			return
		}
		next := -1
		for _, j := range x.p.Calls[i].dependents {
			if x.results[j].pending.Add(-1) == 0 {
				if next >= 0 {
					x.spawn(ctx, next)
				}
				next = j
			}
		}
		i = next
	}
}

// runGuarded is runCall with a panic turned into the call's error, on
// whichever goroutine it runs.
func (x *exchange) runGuarded(ctx context.Context, i int) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = x.recovered(x.p.Calls[i].Name, v)
		}
	}()
	return x.runCall(ctx, i)
}

// recovered turns a panic in a call's goroutine into a PanicError and logs
// it with its stack, as pipeline.Recover does for the request's goroutine.
func (x *exchange) recovered(call string, v any) error {
	stack := debug.Stack()
	x.p.rt.log.Error("panic", "method", x.r.Method, "path", x.r.URL.Path, "call", call, "panic", v, "stack", string(stack))
	return &pipeline.PanicError{Value: v, Stack: stack}
}

// runCall runs call i to its end. It returns an error only for a required
// call's failure; an optional failure is recorded in the result.
func (x *exchange) runCall(ctx context.Context, i int) error {
	c := x.p.Calls[i]
	res := &x.results[i]
	t0 := time.Now()
	err := x.call(ctx, c, res)
	res.dur = time.Since(t0)
	if err == nil {
		res.state = stateOK
		return nil
	}
	if err == errSkipped {
		res.state = stateSkipped
		return nil
	}
	res.err = err
	if !c.Optional || ctx.Err() == context.Canceled {
		return err
	}
	if _, ok := errors.AsType[*pipeline.PanicError](err); ok {
		return err
	}
	res.state = stateFailed
	if c.fallback != nil {
		v, ferr := x.eval(c.fallback, nil)
		if ferr != nil {
			return ferr
		}
		res.fallback = v
	}
	return nil
}

var errSkipped = errors.New("skipped")

func (x *exchange) call(ctx context.Context, c *Call, res *result) error {
	if c.when != nil {
		v, err := x.eval(c.when, nil)
		if err != nil {
			return err
		}
		if b, ok := v.(bool); !ok || !b {
			if !ok && v != nil {
				return &pipeline.ExprError{Field: c.when.field, Err: fmt.Errorf("when must be true or false, not %s", transform.Kind(v)), Reason: "when must give true or false"}
			}
			return errSkipped
		}
	}
	if c.forEach == nil {
		if x.calls.Add(-1) < 0 {
			return limitError(c, fmt.Sprintf("the request needs more than %d backend calls", x.p.limits.MaxCallsPerRequest))
		}
		res.keys, res.whole = c.decodeKeys, c.decodeWhole || x.p.rt.general
		return x.fetch(ctx, c, nil, -1, res)
	}
	v, err := x.eval(c.forEach, nil)
	if err != nil {
		return err
	}
	var list []any
	switch l := v.(type) {
	case nil:
	case []any:
		list = l
	default:
		return &pipeline.ExprError{Field: c.forEach.field, Err: fmt.Errorf("for_each must be a list, not %s", transform.Kind(v)), Reason: "for_each must give a list"}
	}
	if x.calls.Add(-int64(len(list))) < 0 {
		return limitError(c, fmt.Sprintf("for_each over %d elements would make the request exceed %d backend calls", len(list), x.p.limits.MaxCallsPerRequest))
	}
	res.items = make([]result, len(list))
	g, gctx := errgroup.WithContext(ctx)
	for k := range list {
		g.Go(func() (err error) {
			defer func() {
				if v := recover(); v != nil {
					err = x.recovered(c.Name, v)
				}
			}()
			it := &res.items[k]
			it.whole = true
			t0 := time.Now()
			err = x.fetch(gctx, c, list[k], k, it)
			it.dur = time.Since(t0)
			if err == nil {
				it.state = stateOK
			}
			return err
		})
	}
	return g.Wait()
}

func limitError(c *Call, why string) error {
	return &pipeline.CallError{Call: c.Name, Failure: pipeline.FailLimit, Err: errors.New(why), Reason: why}
}

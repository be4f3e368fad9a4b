package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"frontdesk/engine/backend"
	"frontdesk/engine/metrics"
	"frontdesk/pipeline"
	"frontdesk/pipeline/logs"
	"frontdesk/transform"
)

// exchange is the state of one request through one plan.
type exchange struct {
	fwd     []string // request id, X-Forwarded-For, -Proto, -Host values, for every call
	p       *Plan
	r       *http.Request
	w       http.ResponseWriter
	results []result
	calls   atomic.Int64 // backend requests left

	// The call graph's run (schedule.go): its goroutines, its first
	// error, and the cancel of the endpoint's context that ends the rest.
	wg      sync.WaitGroup
	errOnce sync.Once
	err     error
	cancel  context.CancelFunc

	params  map[string]any
	query   map[string]any
	headers map[string]any
	body    any
	// budget bounds the decoded data of the whole request.
	budget *transform.Budget
	// bodySpans holds the numbers of a JSON request body, so those that
	// pass unchanged keep the client's digits.
	bodySpans *transform.Spans
	authSpans *transform.Spans // the token's claims' numbers, likewise
	auth      map[string]any
	xff       string
	proto     string
	reqID     string
	ran       bool // the call graph ran: Server-Timing lists the calls
	// done is the endpoint context's Done: closed once its deadline
	// passes or the client leaves.
	done <-chan struct{}

	// While the response is composed: the shared variables and the
	// encoder that splices unchanged backend values.
	composing bool
	respEnv   map[string]any
	enc       transform.Encoder
	format    pipeline.Format
	// contentType is the response's Content-Type, for format.
	contentType string
}

// ServeHTTP runs the plan for one request.
func (p *Plan) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	x := &exchange{p: p, r: r, w: w, results: make([]result, len(p.Calls))}
	x.calls.Store(int64(p.limits.MaxCallsPerRequest))
	if p.limits.MaxDecoded > 0 {
		x.budget = transform.NewBudget(p.limits.MaxDecoded, p.rt.decoded)
		defer x.budget.Release()
	}
	defer x.observeCalls()
	err := x.prepare()
	ctx := r.Context()
	if err == nil {
		// The endpoint's deadline covers the whole answer: the calls, the
		// composition (which checks it between fields) and the writing.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(r.Context(), p.Timeout)
		defer cancel()
		x.done = ctx.Done()
		x.ran = true
		err = x.run(ctx, cancel)
		if x.timedOut(ctx) {
			err = pipeline.ErrEndpointTimeout
		}
	}
	// A body read that timed out cancels the request's context too, but the
	// client is still there to be told.
	if r.Context().Err() != nil && !errors.Is(err, pipeline.ErrRequestTimeout) {
		// The client went away: nobody reads what we would write, so it is
		// logged once, as 499, and nothing is written.
		if err == nil {
			err = context.Cause(r.Context())
		}
		x.logError(fmt.Errorf("%w: %v", pipeline.ErrClientClosed, err))
		return
	}
	if err == nil {
		deadline, _ := ctx.Deadline()
		err = x.respond(w, start, deadline)
		if de, ok := errors.AsType[*deliveryError](err); ok {
			// The answer was composed but not taken (the client stopped
			// reading, or the deadline passed while it was written): the
			// headers are out, so there is nothing left to tell the
			// client; the connection closes, and the access line and
			// metrics say 499.
			x.logError(fmt.Errorf("%w: writing the answer: %v", pipeline.ErrClientClosed, de.err))
			return
		}
		if err != nil && r.Context().Err() != nil {
			// Gone while the answer was composed (expired says
			// ErrEndpointTimeout for either end of the context).
			x.logError(fmt.Errorf("%w: %v", pipeline.ErrClientClosed, err))
			return
		}
	}
	if err != nil {
		w.Header().Set("Server-Timing", x.serverTiming(time.Since(start)))
		x.logError(err)
		pipeline.WriteError(w, r, err)
	}
}

// timedOut reports whether the endpoint's deadline, not the client's
// leaving, ended ctx.
func (x *exchange) timedOut(ctx context.Context) bool {
	return ctx.Err() == context.DeadlineExceeded && x.r.Context().Err() == nil
}

// expired is the error composition stops with once the endpoint's
// context has ended (its deadline passed, or the client left), nil
// before: a check cheap enough for every field.
func (x *exchange) expired() error {
	select {
	case <-x.done:
		return pipeline.ErrEndpointTimeout
	default:
		return nil
	}
}

// logError records a failed request: 5xx at warning level (the gateway or a
// backend is at fault), a client that went away (499) at info level, the
// rest at debug level.
func (x *exchange) logError(err error) {
	status := pipeline.Status(err)
	level := slog.LevelDebug
	switch status {
	case pipeline.StatusClientClosed, http.StatusRequestTimeout, http.StatusRequestEntityTooLarge:
		// A client that is slow, gone, or sends too much: worth seeing,
		// once. With the access log on, its request line says it at info.
		if !x.p.rt.output.Access() {
			level = slog.LevelInfo
		}
	default:
		if status >= 500 {
			level = slog.LevelWarn
		}
	}
	x.p.rt.log.Log(x.r.Context(), level, "request failed", "endpoint", x.p.Method+" "+x.p.Route,
		"status", status, "request_id", x.reqID, "error", err.Error())
}

// deliveryError is an answer the client did not take (it went away, or did
// not read within write_timeout).
type deliveryError struct{ err error }

func (e *deliveryError) Error() string { return "answer not delivered: " + e.err.Error() }

// observeCalls records each call's duration by outcome, once the request
// is over (the calls are done: run waits for them).
func (x *exchange) observeCalls() {
	m := x.p.metrics
	var rec *logs.Record
	if x.p.rt.output.Access() {
		rec = logs.RecordOf(x.w)
	}
	if m == nil && rec == nil {
		return
	}
	for i := range x.results {
		res := &x.results[i]
		o := metrics.NotRun
		// A required call that failed keeps state pending (the request
		// ends with its error) but has its err: it ran and failed.
		switch {
		case !x.ran || (res.state == statePending && res.err == nil):
		case res.state == stateOK:
			o = metrics.OK
		case res.state == stateSkipped:
			o = metrics.Skipped
		case errors.Is(res.err, context.DeadlineExceeded):
			o = metrics.Timeout
		default:
			o = metrics.Failed
		}
		if m != nil {
			m.ObserveCall(i, o, res.dur)
		}
		if rec != nil && o != metrics.NotRun {
			c := logs.Call{Name: x.p.Calls[i].Name, Status: res.status, Duration: res.dur, Skipped: o == metrics.Skipped}
			if o == metrics.Timeout {
				c.Error = "timeout"
			} else if o == metrics.Failed {
				c.Error = backend.FailureType(res.err)
				if errors.Is(res.err, context.Canceled) {
					c.Error = "canceled" // another call's failure ended the request, or the client went away
				}
			}
			rec.Calls = append(rec.Calls, c)
		}
	}
}

// Interface guards: what the server and the mux are handed.
var (
	_ http.Handler = (*Plan)(nil)
	_ http.Handler = (*Gateway)(nil)
	_ http.Handler = (*Live)(nil)
)

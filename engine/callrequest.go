package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"frontdesk/engine/backend"
	"frontdesk/pipeline"
	"frontdesk/pipeline/auth"
	"frontdesk/transform"
)

// CallInfo says which call a backend request belongs to. With
// Options.TagCalls it rides on every backend request's context, so an
// in-process transport (spec tests) can answer by call name.
type CallInfo struct {
	Endpoint string // "GET /checkout/{cart_id}"
	Call     string
	Index    int // the for_each element, or -1
}

type callInfoKey struct{}

// CallInfoFrom returns the CallInfo of a backend request's context.
func CallInfoFrom(ctx context.Context) (CallInfo, bool) {
	ci, ok := ctx.Value(callInfoKey{}).(CallInfo)
	return ci, ok
}

// fetch makes one backend request for c and fills res; index is the
// for_each element, or -1.
func (x *exchange) fetch(ctx context.Context, c *Call, item any, index int, res *result) error {
	req, err := x.request(c, item)
	if err != nil {
		return err
	}
	// A call's own deadline, unless the endpoint's comes first anyway: then
	// the request's context already carries it, and a timer is saved.
	cctx := ctx
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > c.Timeout {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	if x.p.rt.tagCalls {
		cctx = context.WithValue(cctx, callInfoKey{}, CallInfo{Endpoint: x.p.Method + " " + x.p.Route, Call: c.Name, Index: index})
	}
	resp, err := c.client.Do(cctx, req)
	if resp != nil {
		res.status, res.header = resp.Status, resp.Header // meta.NAME sees a refused answer too
	}
	if err != nil {
		return err
	}
	if err := x.decode(c, resp.Header.Get("Content-Type"), resp.Body, res); err != nil {
		return &pipeline.CallError{Call: c.Name, Failure: pipeline.FailBody, Err: err, Reason: bodyReason(err, x.p.limits.MaxJSONDepth)}
	}
	// The body is held until the request ends: it counts against the
	// request's and the process's budgets, as its decoded values do, for
	// the memory it holds. One read without Content-Length sits in a
	// buffer up to twice its size: copied to its size, the buffer is
	// garbage for the next collection rather than held all along.
	if n := len(res.body); cap(res.body)-n > n/8 && n > 64<<10 {
		res.body = bytes.Clone(res.body)
	}
	if err := x.budget.Take(int64(cap(res.body))); err != nil {
		return x.overBudget(c.Name, err)
	}
	return nil
}

// request builds c's backend request: the path with each value escaped as
// one segment, the query, the spec's headers and the gateway's, and the
// body in the call's encoding. It sends nothing.
func (x *exchange) request(c *Call, item any) (*backend.Request, error) {
	// Numbers that passed unchanged from a body keep their digits in the
	// path, query and headers too; the encoder that knows them is made on
	// the first number.
	var enc *transform.Encoder
	encoder := func() *transform.Encoder {
		if enc == nil {
			enc = x.depsEncoder(c)
		}
		return enc
	}
	spelled := func(v any) any {
		if _, ok := v.(float64); !ok {
			return v
		}
		if t, ok := encoder().NumberText(v); ok {
			return string(t)
		}
		return v
	}
	target, err := x.target(c, item, spelled)
	if err != nil {
		return nil, err
	}
	var body []byte
	contentType := ""
	if c.body != nil {
		if body, contentType, err = x.requestBody(c, item, encoder()); err != nil {
			return nil, err
		}
	}
	h := make(http.Header, len(c.headers)+5) // sized once: the spec's headers and ours
	for _, hd := range c.headers {
		v, err := x.eval(hd.expr, item)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		s, ok := transform.Stringify(spelled(v))
		if !ok || strings.ContainsAny(s, "\r\n\x00") {
			return nil, errHeaderValue(hd.expr.field)
		}
		h[hd.name] = []string{s}
	}
	if body != nil {
		h["Content-Type"] = []string{contentType}
	}
	// The headers every call of the request carries, their values made
	// once per request in prepare (one allocation) and shared by its
	// calls: nothing downstream writes into a header's value slice.
	// X-Forwarded-Host and -Proto are in both caches' keys. A call whose
	// answer is cached (the endpoint's response cache, or its own) may
	// serve other requests, so it carries no request value the keys lack:
	// not the request id, the client's address or its trace context.
	shared := c.cacheStore != nil || (x.p.cache != nil && x.p.cache.shared)
	h["X-Forwarded-Proto"] = x.fwd[2:3:3]
	h["X-Forwarded-Host"] = x.fwd[3:4:4]
	if !shared {
		if x.reqID != "" {
			h[pipeline.HeaderRequestID] = x.fwd[0:1:1]
		}
		h["X-Forwarded-For"] = x.fwd[1:2:2]
		if x.p.rt.tracer == nil {
			// Tracing off: the client's trace context goes on unchanged, so
			// a trace that passes through the gateway is not broken. (On,
			// the client span's context replaces it: backend/exchange.go.)
			passTraceContext(h, x.r.Header)
		}
	}
	req := &backend.Request{Call: c.Name, Method: c.Method, Target: target, Header: h, Body: body,
		Accept: c.acceptable, Expose: c.expose, Timeout: c.Timeout, Retry: &c.retry, HedgeAfter: c.hedgeAfter, Shared: shared}
	if c.cacheStore != nil {
		req.Cache = &backend.CallCache{Store: c.cacheStore, TTL: c.cacheTTL}
		if c.cacheAuth {
			id := auth.FromContext(x.r.Context())
			req.Cache.Identity = string(id.Method) + ":" + id.Subject
		}
	}
	return req, nil
}

// Trace context headers, in Go's canonical form (how net/http stores them).
const (
	headerTraceparent = "Traceparent"
	headerTracestate  = "Tracestate"
)

// passTraceContext copies the client's W3C traceparent and tracestate
// from in to out as they are, every value of each, unless the call's own
// headers set them.
func passTraceContext(out, in http.Header) {
	for _, k := range [...]string{headerTraceparent, headerTracestate} {
		if v, ok := in[k]; ok {
			if _, own := out[k]; !own {
				out[k] = v
			}
		}
	}
}

// target is the path and query of c's request, to be put after the
// instance's base.
func (x *exchange) target(c *Call, item any, spelled func(any) any) (string, error) {
	u := make([]byte, 0, 128)
	for _, part := range c.path {
		if part.expr == nil {
			u = append(u, part.lit...)
			continue
		}
		v, err := x.eval(part.expr, item)
		if err != nil {
			return "", err
		}
		if u, err = transform.AppendSegment(u, spelled(v)); err != nil {
			err = fmt.Errorf("%s: %w", part.expr.field, err)
			return "", &pipeline.CallError{Call: c.Name, Failure: pipeline.FailRequest, Err: err, Reason: err.Error()}
		}
	}
	sep := byte('?')
	for _, q := range c.query {
		v, err := x.eval(q.expr, item)
		if err != nil {
			return "", err
		}
		vals, err := queryValues(v, spelled)
		if err != nil {
			return "", &pipeline.ExprError{Field: q.expr.field, Err: err, Reason: err.Error()}
		}
		for _, s := range vals {
			u = append(u, sep)
			sep = '&'
			u = append(u, q.name...) // escaped at load time
			u = append(u, '=')
			u = append(u, url.QueryEscape(s)...)
		}
	}
	return string(u), nil
}

// requestBody renders c's body template and encodes it as the call says.
func (x *exchange) requestBody(c *Call, item any, enc *transform.Encoder) (body []byte, contentType string, err error) {
	b, err := x.render(nil, c.body, item, enc)
	if err != nil {
		return nil, "", err
	}
	switch c.encode {
	case encodeXML:
		if b, err = c.codec.JSONToXML(nil, transform.RawJSON(b), c.xmlRoot); err != nil {
			return nil, "", &pipeline.ExprError{Field: "calls." + c.Name + ".body", Err: err, Reason: "the body could not be written as XML"}
		}
		return b, "application/xml; charset=utf-8", nil
	case encodeForm:
		form, err := transform.EncodeForm(transform.RawJSON(b))
		if err != nil {
			return nil, "", &pipeline.ExprError{Field: "calls." + c.Name + ".body", Err: err, Reason: "the body could not be written as a form"}
		}
		return []byte(form), "application/x-www-form-urlencoded", nil
	}
	return b, "application/json", nil
}

// queryValues turns an expression's value into query parameter values: nil
// leaves the parameter out, a list repeats it; spelled gives a number its
// body's digits.
func queryValues(v any, spelled func(any) any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	if l, ok := v.([]any); ok {
		out := make([]string, 0, len(l))
		for _, e := range l {
			if e == nil {
				continue
			}
			s, ok := transform.Stringify(spelled(e))
			if !ok {
				return nil, fmt.Errorf("a query list may hold strings, numbers and booleans, not %s", transform.Kind(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, ok := transform.Stringify(spelled(v))
	if !ok {
		return nil, fmt.Errorf("a query value must be a string, number, boolean or list, not %s", transform.Kind(v))
	}
	return []string{s}, nil
}

// errHeaderValue is a header expression whose value cannot be sent.
func errHeaderValue(field string) error {
	const why = "a header value must be a single-line string, number or boolean"
	return &pipeline.ExprError{Field: field, Err: errors.New(why), Reason: why}
}

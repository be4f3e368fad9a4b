package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"frontdesk/pipeline"
	"frontdesk/transform"
)

// Result states.
const (
	statePending int32 = iota
	stateOK
	stateSkipped
	stateFailed
)

// result is what one call produced. Written only by the goroutine running
// the call; read by others only after that call is done (the scheduler's
// atomic counters order the two).
type result struct {
	state  int32
	status int
	header http.Header
	body   []byte // JSON bytes (XML converted), or text
	isText bool
	items  []result // for_each: one per element, in list order
	dur    time.Duration
	err    error

	fallback any

	// Decoding, on first read: only keys when the plan reads nothing
	// else of this call, with spans so unchanged objects and lists are
	// written back as the backend sent them.
	keys    map[string]*transform.KeyUse
	whole   bool
	once    sync.Once
	val     any
	valErr  error
	spans   *transform.Spans
	decoded atomic.Bool // val and spans are set
	inEnc   bool        // spans added to the response's encoder
}

// value is the call's result as expressions see it, decoded once on first
// read.
func (r *result) value() (any, error) {
	switch r.state {
	case stateSkipped:
		return nil, nil
	case stateFailed:
		return r.fallback, nil
	}
	r.once.Do(func() {
		if r.items != nil {
			list := make([]any, len(r.items))
			for i := range r.items {
				v, err := r.items[i].value()
				if err != nil {
					r.valErr = err
					return
				}
				list[i] = v
			}
			r.val = list
			return
		}
		switch {
		case r.isText:
			r.val = string(r.body)
		case len(r.body) == 0:
			r.val = nil
		case r.whole:
			r.val, r.spans, r.valErr = transform.DecodeSpans(r.body)
		default:
			r.val, r.spans, r.valErr = transform.DecodeKeys(r.body, r.keys)
		}
		r.decoded.Store(true)
	})
	return r.val, r.valErr
}

// exchange is the state of one request through one plan.
type exchange struct {
	p       *Plan
	r       *http.Request
	results []result
	pending []atomic.Int32
	budget  atomic.Int64 // backend requests left

	params  map[string]any
	query   map[string]any
	headers map[string]any
	body    any
	auth    map[string]any
	xff     string
	proto   string
	reqID   string
	ran     bool // the call graph ran: Server-Timing lists the calls

	// While the response is composed: the shared variables and the
	// encoder that splices unchanged backend values.
	composing bool
	respEnv   map[string]any
	enc       transform.Encoder
	format    pipeline.Format
	// contentType is the response's Content-Type, for format.
	contentType string
}

var anonymous = map[string]any{"sub": nil, "scopes": []any{}, "claims": map[string]any{}, "method": "none"}

// env builds the variables for one evaluation of e: only the names e reads.
// While the response is composed (one goroutine, every call done) all
// expressions share one map, filled as names are first read.
func (x *exchange) env(e *expression, item any) (map[string]any, error) {
	var env map[string]any
	if x.composing {
		if x.respEnv == nil {
			x.respEnv = make(map[string]any, len(x.p.Calls)+2)
		}
		env = x.respEnv
	} else {
		env = make(map[string]any, len(e.Reads))
	}
	for _, n := range e.Reads {
		if x.composing && n != "meta" {
			if _, ok := env[n]; ok {
				continue
			}
		}
		switch n {
		case "params":
			env[n] = x.params
		case "query":
			env[n] = x.query
		case "headers":
			env[n] = x.headers
		case "body":
			env[n] = x.body
		case "auth":
			env[n] = x.auth
		case "item":
			env[n] = item
		case "meta":
			m := make(map[string]any, len(e.MetaReads))
			for _, c := range e.MetaReads {
				m[c] = x.meta(x.p.callIndex(c))
			}
			env[n] = m
		default:
			v, err := x.results[x.p.callIndex(n)].value()
			if err != nil {
				return nil, &pipeline.ExprError{Field: e.field, Err: fmt.Errorf("reading %s: %w", n, err)}
			}
			env[n] = v
		}
	}
	return env, nil
}

func (p *Plan) callIndex(name string) int {
	if i, ok := p.callIdx[name]; ok {
		return i
	}
	return -1
}

// meta describes call i for meta.NAME.
func (x *exchange) meta(i int) map[string]any {
	r := &x.results[i]
	var errv any
	if r.err != nil {
		errv = r.err.Error()
	}
	status, header := r.status, r.header
	if r.items != nil {
		for k := range r.items {
			status = max(status, r.items[k].status)
			if header == nil {
				header = r.items[k].header
			}
		}
	}
	hm := make(map[string]any, len(header))
	for k, v := range header {
		hm[k] = strings.Join(v, ", ")
	}
	return map[string]any{
		"status":      status,
		"headers":     hm,
		"duration_ms": float64(r.dur.Microseconds()) / 1000,
		"error":       errv,
	}
}

func (x *exchange) eval(e *expression, item any) (any, error) {
	if e.Path != nil && !x.p.rt.general {
		if v, ok := x.lookup(e.Path); ok {
			return v, nil
		}
	}
	env, err := x.env(e, item)
	if err != nil {
		return nil, err
	}
	v, err := e.Run(env)
	if err != nil {
		return nil, &pipeline.ExprError{Field: e.field, Err: err}
	}
	return v, nil
}

// lookup is the fast path of a plain path expression: params.id,
// query.cart, headers["Accept-Language"] and auth.sub are read from the
// request's maps, and a path into a call's result that ends at a scalar is
// read from the backend's bytes, all without running expr. ok is false
// where expr must decide (anything else, or a path that meets a non-object,
// whose error expr reports), so the value is always what expr would give.
func (x *exchange) lookup(path []string) (any, bool) {
	var m map[string]any
	switch path[0] {
	case "params":
		m = x.params
	case "query":
		m = x.query
	case "headers":
		m = x.headers
	case "auth":
		m = x.auth
	default:
		i, ok := x.p.callIdx[path[0]]
		if !ok || len(path) < 2 {
			return nil, false
		}
		r := &x.results[i]
		if r.state != stateOK || r.items != nil || r.isText || len(r.body) == 0 {
			return nil, false
		}
		raw, found, ok := transform.Lookup(r.body, path[1:])
		switch {
		case !ok:
			return nil, false
		case !found:
			return nil, true
		case raw[0] == '{' || raw[0] == '[':
			return nil, false // a container: the decoded value, with its spans
		}
		v, err := transform.DecodeJSON(raw)
		return v, err == nil
	}
	if len(path) != 2 || m == nil {
		return nil, false
	}
	return m[path[1]], true
}

// ServeHTTP runs the plan for one request.
func (p *Plan) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	x := &exchange{p: p, r: r, results: make([]result, len(p.Calls)), pending: make([]atomic.Int32, len(p.Calls))}
	x.budget.Store(int64(p.limits.MaxCallsPerRequest))
	err := x.prepare()
	if err != nil {
		x.ran = false
	} else {
		x.ran = true
		ctx, cancel := context.WithTimeout(r.Context(), p.Timeout)
		err = x.run(ctx)
		if ctx.Err() == context.DeadlineExceeded && r.Context().Err() == nil {
			err = pipeline.ErrEndpointTimeout
		}
		cancel()
	}
	if err != nil && r.Context().Err() != nil {
		// The client went away; nobody reads what we would write.
		return
	}
	if err == nil {
		err = x.respond(w, start)
	}
	if err != nil {
		w.Header().Set("Server-Timing", x.serverTiming(time.Since(start)))
		x.logError(err)
		pipeline.WriteError(w, r, err)
	}
}

// logError records a failed request: 5xx at warning level (the gateway or a
// backend is at fault), the rest at debug level.
func (x *exchange) logError(err error) {
	status := pipeline.Status(err)
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
	}
	x.p.rt.log.Log(x.r.Context(), level, "request failed", "endpoint", x.p.Method+" "+x.p.Route,
		"status", status, "request_id", x.reqID, "error", err.Error())
}

// prepare reads what expressions need from the request, once.
func (x *exchange) prepare() error {
	p, r := x.p, x.r
	f, ct, ok := pipeline.NegotiateType(r.Header.Get("Accept"), p.formats)
	if !ok {
		return &pipeline.NotAcceptableError{Offers: p.formats}
	}
	x.format, x.contentType = f, ct
	if r.ContentLength > p.limits.MaxRequestBody {
		return &pipeline.BodyError{Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("The request body is larger than %d bytes.", p.limits.MaxRequestBody)}
	}
	if p.reads["params"] || len(p.params) > 0 {
		x.params = make(map[string]any, len(p.params))
		for _, n := range p.params {
			x.params[n] = r.PathValue(n)
		}
	}
	if p.reads["query"] {
		q := r.URL.Query()
		x.query = make(map[string]any, len(q))
		for k, v := range q {
			x.query[k] = v[0]
		}
	}
	if p.reads["headers"] {
		x.headers = make(map[string]any, len(r.Header))
		for k, v := range r.Header {
			x.headers[k] = strings.Join(v, ", ")
		}
	}
	x.auth = anonymous
	if p.reads["body"] {
		if err := x.readBody(); err != nil {
			return err
		}
	}
	x.reqID = r.Header.Get(pipeline.HeaderRequestID)
	x.xff = forwardedFor(r, p.rt.trusted)
	x.proto = "http"
	if r.TLS != nil {
		x.proto = "https"
	}
	return nil
}

func (x *exchange) readBody() error {
	r := x.r
	max := x.p.limits.MaxRequestBody
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return &pipeline.BodyError{Status: http.StatusBadRequest, Detail: "The request body could not be read."}
	}
	if int64(len(b)) > max {
		return &pipeline.BodyError{Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("The request body is larger than %d bytes.", max)}
	}
	if len(b) == 0 {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	mt := mediaType(ct)
	switch {
	case ct == "" || mt == "application/json" || strings.HasSuffix(mt, "+json"):
		if err := transform.CheckJSON(b, x.p.limits.MaxJSONDepth); err != nil {
			return &pipeline.BodyError{Status: http.StatusBadRequest, Detail: "The request body is not valid JSON (" + strings.TrimPrefix(err.Error(), "invalid JSON: ") + ")."}
		}
		v, err := transform.DecodeJSON(b)
		if err != nil {
			return &pipeline.BodyError{Status: http.StatusBadRequest, Detail: "The request body is not valid JSON."}
		}
		x.body = v
	case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		j, err := x.p.xmlIn.XMLToJSON(nil, b)
		if err != nil {
			return &pipeline.BodyError{Status: http.StatusBadRequest, Detail: "The request body is not usable XML (" + err.Error() + ")."}
		}
		v, err := transform.DecodeJSON(j)
		if err != nil {
			return &pipeline.BodyError{Status: http.StatusBadRequest, Detail: "The request body is not usable XML."}
		}
		x.body = v
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(b))
		if err != nil {
			return &pipeline.BodyError{Status: http.StatusBadRequest, Detail: "The form body is malformed."}
		}
		m := make(map[string]any, len(vals))
		for k, v := range vals {
			m[k] = v[0]
		}
		x.body = m
	case strings.HasPrefix(mt, "text/"):
		x.body = string(b)
	default:
		return &pipeline.BodyError{Status: http.StatusUnsupportedMediaType,
			Detail: fmt.Sprintf("Content-Type %q is not accepted; send application/json, application/xml or a form.", mt)}
	}
	return nil
}

// forwardedFor is the X-Forwarded-For to send: the client's chain when the
// peer is a trusted proxy, then the peer itself.
func forwardedFor(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if prior := r.Header.Values("X-Forwarded-For"); len(prior) > 0 {
		if a, err := netip.ParseAddr(host); err == nil {
			a = a.Unmap()
			for _, t := range trusted {
				if t.Contains(a) {
					return strings.Join(prior, ", ") + ", " + host
				}
			}
		}
	}
	return host
}

// run executes the call graph: every call starts as soon as the calls it
// reads are done. A required failure cancels the rest.
func (x *exchange) run(ctx context.Context) error {
	if len(x.p.Calls) == 0 {
		return nil
	}
	if len(x.p.Calls) == 1 {
		// One call: nothing to overlap, so no goroutine and no group.
		return x.runOne(ctx)
	}
	for i, c := range x.p.Calls {
		x.pending[i].Store(int32(len(c.deps)))
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, i := range x.p.roots {
		x.start(gctx, g, i)
	}
	return g.Wait()
}

// runOne runs a plan's only call on the request's goroutine, with the same
// panic handling as a call goroutine.
func (x *exchange) runOne(ctx context.Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = x.recovered(x.p.Calls[0].Name, v)
		}
	}()
	return x.runCall(ctx, 0)
}

func (x *exchange) start(ctx context.Context, g *errgroup.Group, i int) {
	g.Go(func() (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = x.recovered(x.p.Calls[i].Name, v)
			}
		}()
		if err := x.runCall(ctx, i); err != nil {
			return err
		}
		for _, j := range x.p.Calls[i].dependents {
			if x.pending[j].Add(-1) == 0 {
				x.start(ctx, g, j)
			}
		}
		return nil
	})
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
	var pe *pipeline.PanicError
	if errors.As(err, &pe) {
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
				return &pipeline.ExprError{Field: c.when.field, Err: fmt.Errorf("when must be true or false, not %T", v)}
			}
			return errSkipped
		}
	}
	if c.forEach == nil {
		if x.budget.Add(-1) < 0 {
			return &pipeline.CallError{Call: c.Name, Failure: pipeline.FailLimit,
				Err: fmt.Errorf("the request needs more than %d backend calls", x.p.limits.MaxCallsPerRequest)}
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
		return &pipeline.ExprError{Field: c.forEach.field, Err: fmt.Errorf("for_each must be a list, not %T", v)}
	}
	if x.budget.Add(-int64(len(list))) < 0 {
		return &pipeline.CallError{Call: c.Name, Failure: pipeline.FailLimit,
			Err: fmt.Errorf("for_each over %d elements would make the request exceed %d backend calls", len(list), x.p.limits.MaxCallsPerRequest)}
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
	fail := func(f pipeline.CallFailure, err error) error {
		return &pipeline.CallError{Call: c.Name, Failure: f, Err: err}
	}
	u := make([]byte, 0, 128) // the path and query; the instance's base goes in front
	for _, part := range c.path {
		if part.expr == nil {
			u = append(u, part.lit...)
			continue
		}
		v, err := x.eval(part.expr, item)
		if err != nil {
			return err
		}
		if u, err = transform.AppendSegment(u, v); err != nil {
			return fail(pipeline.FailRequest, fmt.Errorf("%s: %w", part.expr.field, err))
		}
	}
	if len(c.query) > 0 {
		sep := byte('?')
		for _, q := range c.query {
			v, err := x.eval(q.expr, item)
			if err != nil {
				return err
			}
			vals, err := queryValues(v)
			if err != nil {
				return &pipeline.ExprError{Field: q.expr.field, Err: err}
			}
			for _, s := range vals {
				u = append(u, sep)
				sep = '&'
				u = append(u, q.name...) // escaped at load time
				u = append(u, '=')
				u = append(u, url.QueryEscape(s)...)
			}
		}
	}
	var reqBody []byte
	contentType := ""
	if c.body != nil {
		b, err := x.render(nil, c.body, item, x.depsEncoder(c))
		if err != nil {
			return err
		}
		switch c.encode {
		case "xml":
			if b, err = c.codec.JSONToXML(nil, transform.RawJSON(b), c.xmlRoot); err != nil {
				return &pipeline.ExprError{Field: "calls." + c.Name + ".body", Err: err}
			}
			contentType = "application/xml; charset=utf-8"
		case "form":
			form, err := transform.EncodeForm(transform.RawJSON(b))
			if err != nil {
				return &pipeline.ExprError{Field: "calls." + c.Name + ".body", Err: err}
			}
			b = []byte(form)
			contentType = "application/x-www-form-urlencoded"
		default:
			contentType = "application/json"
		}
		reqBody = b
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
	h := make(http.Header, len(c.headers)+5) // sized once: the spec's headers and ours
	for _, hd := range c.headers {
		v, err := x.eval(hd.expr, item)
		if err != nil {
			return err
		}
		if v == nil {
			continue
		}
		s, ok := transform.Stringify(v)
		if !ok || strings.ContainsAny(s, "\r\n\x00") {
			return &pipeline.ExprError{Field: hd.expr.field, Err: fmt.Errorf("a header value must be a single-line string, number or boolean")}
		}
		h[hd.name] = []string{s}
	}
	if reqBody != nil {
		h["Content-Type"] = []string{contentType}
	}
	if x.reqID != "" {
		h[pipeline.HeaderRequestID] = []string{x.reqID}
	}
	h["X-Forwarded-For"] = []string{x.xff}
	h["X-Forwarded-Proto"] = []string{x.proto}
	h["X-Forwarded-Host"] = []string{x.r.Host}

	// Idempotent calls are tried once more after a connection failure or a
	// 502/503/504, on another instance when there is one, within the
	// call's deadline.
	attempts := 1
	if c.Method == http.MethodGet || c.Method == http.MethodHead {
		attempts = 2
	}
	suffix := string(u)
	var resp *http.Response
	var b []byte
	var tried *instance
	for try := 1; ; try++ {
		in := c.svc.pick(tried)
		var rb io.Reader
		if reqBody != nil {
			rb = bytes.NewReader(reqBody)
		}
		req, err := http.NewRequestWithContext(cctx, c.Method, in.base+suffix, rb)
		if err != nil {
			return fail(pipeline.FailRequest, err)
		}
		req.Header = h
		if try > 1 {
			req.Header = h.Clone() // the first request's may still be referenced
		}
		in.inflight.Add(1)
		resp, err = x.p.rt.transport.RoundTrip(req)
		if err != nil {
			in.inflight.Add(-1)
			if cctx.Err() == context.DeadlineExceeded {
				return fail(pipeline.FailTimeout, err)
			}
			if cctx.Err() == nil {
				c.svc.failed(in)
				if try < attempts {
					tried = in
					continue
				}
			}
			return fail(pipeline.FailUnreachable, err)
		}
		limit := x.p.limits.MaxBackendBody
		b, err = readBody(resp.Body, resp.ContentLength, limit)
		resp.Body.Close()
		in.inflight.Add(-1)
		if err != nil {
			if cctx.Err() == context.DeadlineExceeded {
				return fail(pipeline.FailTimeout, err)
			}
			c.svc.failed(in)
			return fail(pipeline.FailUnreachable, err)
		}
		if int64(len(b)) > limit {
			return fail(pipeline.FailBody, fmt.Errorf("body larger than %d bytes", limit))
		}
		switch st := resp.StatusCode; {
		case st == http.StatusBadGateway || st == http.StatusServiceUnavailable || st == http.StatusGatewayTimeout:
			c.svc.failed(in)
			if try < attempts && cctx.Err() == nil {
				tried = in
				continue
			}
		case st >= 500:
			c.svc.failed(in)
		default:
			c.svc.succeeded(in)
		}
		break
	}
	res.status = resp.StatusCode
	res.header = resp.Header
	ok := resp.StatusCode < 400
	for _, s := range c.acceptable {
		if s == resp.StatusCode {
			ok = true
		}
	}
	if !ok {
		ce := &pipeline.CallError{Call: c.Name, Failure: pipeline.FailStatus, Status: resp.StatusCode,
			Err: fmt.Errorf("backend answered %d", resp.StatusCode), Expose: c.expose}
		if c.expose {
			ce.Body = b
			ce.BodyIsJSON = strings.Contains(resp.Header.Get("Content-Type"), "json")
		}
		return ce
	}
	if err := x.decode(c, resp.Header.Get("Content-Type"), b, res); err != nil {
		return fail(pipeline.FailBody, err)
	}
	return nil
}

// decode validates a backend body and keeps it as JSON bytes (XML is
// converted here, once) or as text. Nothing is decoded into Go values until
// an expression reads it.
func (x *exchange) decode(c *Call, ct string, b []byte, res *result) error {
	mode := c.decode
	if mode == "auto" {
		mt := mediaType(ct)
		switch {
		case len(b) == 0:
			res.body = nil
			return nil
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			mode = "json"
		case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
			mode = "xml"
		case strings.HasPrefix(mt, "text/"):
			mode = "text"
		default:
			if transform.CheckJSON(b, x.p.limits.MaxJSONDepth) == nil {
				mode = "json"
			} else {
				mode = "text"
			}
		}
	}
	switch mode {
	case "json":
		if len(bytes.TrimSpace(b)) == 0 {
			res.body = nil
			return nil
		}
		spaced, err := transform.ScanJSON(b, x.p.limits.MaxJSONDepth)
		if err != nil {
			return err
		}
		if spaced {
			b = transform.Compact(make([]byte, 0, len(b)), b)
		}
		res.body = b // compact: the response splices it as it is
	case "xml":
		j, err := c.codec.XMLToJSON(nil, b)
		if err != nil {
			return err
		}
		res.body = j
	case "text":
		res.body = b
		res.isText = true
	}
	return nil
}

// queryValues turns an expression's value into query parameter values: nil
// leaves the parameter out, a list repeats it.
func queryValues(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	if l, ok := v.([]any); ok {
		out := make([]string, 0, len(l))
		for _, e := range l {
			if e == nil {
				continue
			}
			s, ok := transform.Stringify(e)
			if !ok {
				return nil, fmt.Errorf("a query list may hold strings, numbers and booleans, not %T", e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, ok := transform.Stringify(v)
	if !ok {
		return nil, fmt.Errorf("a query value must be a string, number, boolean or list, not %T", v)
	}
	return []string{s}, nil
}

// render appends the JSON of template t.
// enc splices unchanged backend values; it is the response's own encoder
// while composing, else one over the spans of the calls a call reads.
func (x *exchange) render(dst []byte, t *template, item any, enc *transform.Encoder) ([]byte, error) {
	switch {
	case t.lit != nil:
		return append(dst, t.lit...), nil
	case t.isObj:
		dst = append(dst, '{')
		for i, k := range t.keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = transform.AppendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = x.render(dst, t.fields[i], item, enc); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case t.isArr:
		dst = append(dst, '[')
		for i, e := range t.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = x.render(dst, e, item, enc); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	e := t.expr
	if e.Path != nil && item == nil && !x.p.rt.general {
		if out, ok, err := x.splice(dst, e, enc); ok {
			return out, err
		}
	}
	v, err := x.eval(e, item)
	if err != nil {
		return dst, err
	}
	x.refresh(enc)
	out, err := enc.Append(dst, v)
	if err != nil {
		return dst, &pipeline.ExprError{Field: e.field, Err: err}
	}
	return out, nil
}

// splice is the fast path of an expression that is a plain path into one
// call's result (cart, cart.total, user.address.city): the value is taken
// from the backend's bytes without decoding the document. It writes exactly
// what evaluating the expression would (the differential test holds it to
// that): objects and lists as the backend wrote them, scalars in canonical
// form. ok is false when the expression must be evaluated instead.
func (x *exchange) splice(dst []byte, e *expression, enc *transform.Encoder) (out []byte, ok bool, err error) {
	i, isCall := x.p.callIdx[e.Path[0]]
	if !isCall {
		return dst, false, nil
	}
	if len(e.Path) == 1 {
		out, err := x.appendResult(dst, i, enc)
		return out, true, err
	}
	r := &x.results[i]
	if r.state != stateOK || r.items != nil || r.isText || len(r.body) == 0 {
		return dst, false, nil
	}
	raw, found, ok := transform.Lookup(r.body, e.Path[1:])
	switch {
	case !ok:
		return dst, false, nil // not an object on the way: let expr say why
	case !found:
		return append(dst, "null"...), true, nil
	case raw[0] == '{' || raw[0] == '[':
		return append(dst, raw...), true, nil
	}
	v, err := transform.DecodeJSON(raw)
	if err != nil {
		return dst, false, nil
	}
	out, err = transform.AppendJSON(dst, v)
	if err != nil {
		return dst, true, &pipeline.ExprError{Field: e.field, Err: err}
	}
	return out, true, nil
}

// refresh adds to the response's encoder the spans of results decoded
// since the last call; other encoders are built whole and left alone.
func (x *exchange) refresh(enc *transform.Encoder) {
	if enc != &x.enc {
		return
	}
	for i := range x.results {
		r := &x.results[i]
		if !r.inEnc && r.decoded.Load() {
			r.inEnc = true
			x.enc.Add(r.spans)
		}
		for k := range r.items {
			it := &r.items[k]
			if !it.inEnc && it.decoded.Load() {
				it.inEnc = true
				x.enc.Add(it.spans)
			}
		}
	}
}

// depsEncoder is an encoder over the decoded results of the calls c waits
// for: the only values c's expressions can hold.
func (x *exchange) depsEncoder(c *Call) *transform.Encoder {
	enc := transform.NewEncoder()
	for _, j := range c.deps {
		r := &x.results[j]
		if r.decoded.Load() {
			enc.Add(r.spans)
		}
		for k := range r.items {
			if r.items[k].decoded.Load() {
				enc.Add(r.items[k].spans)
			}
		}
	}
	return enc
}

// appendResult splices call i's result as JSON: raw bytes where the backend
// answered JSON, without decoding.
func (x *exchange) appendResult(dst []byte, i int, enc *transform.Encoder) ([]byte, error) {
	r := &x.results[i]
	if x.p.rt.general {
		v, err := r.value()
		if err != nil {
			return dst, &pipeline.ExprError{Field: x.p.Calls[i].Name, Err: err}
		}
		x.refresh(enc)
		return enc.Append(dst, v)
	}
	switch r.state {
	case stateSkipped:
		return append(dst, "null"...), nil
	case stateFailed:
		x.refresh(enc)
		out, err := enc.Append(dst, r.fallback)
		if err != nil {
			return dst, &pipeline.ExprError{Field: "calls." + x.p.Calls[i].Name + ".fallback", Err: err}
		}
		return out, nil
	}
	if r.items != nil {
		dst = append(dst, '[')
		for k := range r.items {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = appendBody(dst, &r.items[k])
		}
		return append(dst, ']'), nil
	}
	return appendBody(dst, r), nil
}

func appendBody(dst []byte, r *result) []byte {
	switch {
	case r.isText:
		return transform.AppendString(dst, string(r.body))
	case len(r.body) == 0:
		return append(dst, "null"...)
	}
	if c := r.body[0]; c == '{' || c == '[' {
		return append(dst, r.body...) // validated and compacted by decode
	}
	// A scalar document is written canonically, as an expression would.
	v, err := transform.DecodeJSON(r.body)
	if err != nil {
		return append(dst, "null"...) // unreachable: the body was validated
	}
	out, err := transform.AppendJSON(dst, v)
	if err != nil {
		return append(dst, "null"...) // unreachable: the body was validated
	}
	return out
}

// readBody reads at most limit+1 bytes of r, sized from the announced
// length when there is one, so a body is read in one buffer, not grown.
func readBody(r io.Reader, announced, limit int64) ([]byte, error) {
	size := int64(512)
	if announced >= 0 {
		size = min(announced, limit) + 1
	}
	b := make([]byte, 0, size)
	for {
		if len(b) == cap(b) {
			if int64(len(b)) > limit {
				return b, nil
			}
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):min(int64(cap(b)), limit+1)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if int64(len(b)) > limit {
			return b, nil
		}
	}
}

// mediaType is the lower-case media type of a Content-Type value, without
// parameters; it does what mime.ParseMediaType does for this purpose
// without allocating for the common, already lower-case, case.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	for i := 0; i < len(ct); i++ {
		if 'A' <= ct[i] && ct[i] <= 'Z' {
			return strings.ToLower(ct)
		}
	}
	return ct
}

// respond composes and writes the response.
func (x *exchange) respond(w http.ResponseWriter, start time.Time) error {
	p := x.p
	status := http.StatusOK
	out := make([]byte, 0, 1024)
	var err error
	x.composing = true // every call is done: expressions share one env
	if p.response != nil && p.response.body != nil {
		out, err = x.render(out, p.response.body, nil, &x.enc)
	} else {
		out = append(out, '{')
		for i, c := range p.Calls {
			if i > 0 {
				out = append(out, ',')
			}
			out = transform.AppendString(out, c.Name)
			out = append(out, ':')
			if out, err = x.appendResult(out, i, &x.enc); err != nil {
				break
			}
		}
		out = append(out, '}')
	}
	if err != nil {
		return err
	}
	h := w.Header()
	for i, c := range p.Calls {
		r := &x.results[i]
		for _, name := range c.forward {
			if r.items != nil {
				for k := range r.items {
					for _, v := range r.items[k].header[name] {
						h.Add(name, v)
					}
				}
				continue
			}
			for _, v := range r.header[name] {
				h.Add(name, v)
			}
		}
	}
	if p.response != nil {
		if p.response.status != nil {
			v, err := x.eval(p.response.status, nil)
			if err != nil {
				return err
			}
			s, ok := toStatus(v)
			if !ok {
				return &pipeline.ExprError{Field: p.response.status.field, Err: fmt.Errorf("status must be a whole number from 200 to 599, not %v", v)}
			}
			status = s
		}
		for _, hd := range p.response.headers {
			v, err := x.eval(hd.expr, nil)
			if err != nil {
				return err
			}
			if v == nil {
				continue
			}
			s, ok := transform.Stringify(v)
			if !ok || strings.ContainsAny(s, "\r\n\x00") {
				return &pipeline.ExprError{Field: hd.expr.field, Err: fmt.Errorf("a header value must be a single-line string, number or boolean")}
			}
			h.Set(hd.name, s)
		}
	}
	var failed []string
	for i, c := range p.Calls {
		if x.results[i].state == stateFailed {
			failed = append(failed, c.Name)
		}
	}
	if len(failed) > 0 {
		h.Set("Partial-Response", strings.Join(failed, ", "))
	}
	if x.format == pipeline.FormatXML {
		xb, err := p.xmlOut.JSONToXML(nil, transform.RawJSON(out), p.xmlRoot)
		if err != nil {
			return &pipeline.ExprError{Field: "response", Err: fmt.Errorf("writing XML: %w", err)}
		}
		out = xb
	}
	if len(p.formats) > 1 {
		h.Add("Vary", "Accept")
	}
	h.Set("Server-Timing", x.serverTiming(time.Since(start)))
	h.Set("Content-Type", x.contentType)
	h.Set("Content-Length", strconv.Itoa(len(out)+1))
	w.WriteHeader(status)
	if x.r.Method != http.MethodHead {
		out = append(out, '\n')
		w.Write(out)
	}
	return nil
}

func toStatus(v any) (int, bool) {
	var n int
	switch s := v.(type) {
	case int:
		n = s
	case float64:
		if s != float64(int(s)) {
			return 0, false
		}
		n = int(s)
	default:
		return 0, false
	}
	return n, n >= 200 && n <= 599
}

// serverTiming lists each call's duration and the total, in milliseconds.
func (x *exchange) serverTiming(total time.Duration) string {
	b := make([]byte, 0, 32*(len(x.p.Calls)+1))
	for i, c := range x.p.Calls {
		if !x.ran {
			break
		}
		b = append(b, c.Name...)
		b = append(b, ";dur="...)
		b = strconv.AppendFloat(b, float64(x.results[i].dur.Microseconds())/1000, 'f', -1, 64)
		switch x.results[i].state {
		case stateSkipped:
			b = append(b, `;desc="skipped"`...)
		case stateFailed:
			b = append(b, `;desc="failed"`...)
		}
		b = append(b, ", "...)
	}
	b = append(b, "total;dur="...)
	b = strconv.AppendFloat(b, float64(total.Microseconds())/1000, 'f', -1, 64)
	return string(b)
}

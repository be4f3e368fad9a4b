package engine

import (
	"errors"
	"fmt"
	"frontdesk/pipeline"
	"frontdesk/transform"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// respBufs holds the buffers answers are composed in: an answer's bytes
// are copied by the writer (net/http's buffer, the cache's recorder)
// before respond returns, so its buffer serves the next answer.
var respBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledResp is the largest buffer kept for reuse: a rare large answer
// gives its memory back rather than holding it in the pool.
const maxPooledResp = 64 << 10

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
			if err := x.expired(); err != nil {
				return dst, err
			}
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
			if err := x.expired(); err != nil {
				return dst, err
			}
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
	if e.Native != nil && item == nil && !x.p.rt.general {
		if out, ok := e.Native.Append(dst, x); ok {
			return out, nil
		}
	}
	v, err := x.eval(e, item)
	if err != nil {
		return dst, err
	}
	x.refresh(enc)
	out, err := enc.Append(dst, v)
	if err != nil {
		return dst, &pipeline.ExprError{Field: e.field, Err: err, Reason: transform.Reason(err)}
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
	raw, found, ok := x.results[i].lookup(e.Path[1:])
	switch {
	case !ok:
		return dst, false, nil // not an object on the way: let expr say why
	case !found:
		return append(dst, "null"...), true, nil
	case raw[0] == '{' || raw[0] == '[' || isNumber(raw):
		return append(dst, raw...), true, nil // numbers as the backend spelled them
	}
	v, err := transform.DecodeJSON(raw)
	if err != nil {
		return dst, false, nil
	}
	out, err = transform.AppendJSON(dst, v)
	if err != nil {
		return dst, true, &pipeline.ExprError{Field: e.field, Err: err, Reason: transform.Reason(err)}
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
	enc.AddNumbers(x.bodySpans)
	enc.AddNumbers(x.authSpans)
	for _, j := range c.deps {
		r := &x.results[j]
		enc.AddPending(r.decodedSpans) // decoded perhaps by the very expressions enc writes
		for k := range r.items {
			enc.AddPending(r.items[k].decodedSpans)
		}
	}
	return enc
}

// appendResult splices call i's result as JSON: raw bytes where the backend
// answered JSON, without decoding.
func (x *exchange) appendResult(dst []byte, i int, enc *transform.Encoder) ([]byte, error) {
	r := &x.results[i]
	if x.p.rt.general {
		v, err := r.value(x.budget)
		if err != nil {
			if errors.Is(err, transform.ErrBudget) || errors.Is(err, transform.ErrBusy) {
				return dst, x.overBudget(x.p.Calls[i].Name, err)
			}
			return dst, &pipeline.ExprError{Field: x.p.Calls[i].Name, Err: err, Reason: "the answer of call " + strconv.Quote(x.p.Calls[i].Name) + " could not be decoded"}
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
			return dst, &pipeline.ExprError{Field: "calls." + x.p.Calls[i].Name + ".fallback", Err: err, Reason: transform.Reason(err)}
		}
		return out, nil
	}
	if r.items != nil {
		dst = append(dst, '[')
		for k := range r.items {
			if err := x.expired(); err != nil {
				return dst, err
			}
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = appendBody(dst, &r.items[k])
		}
		return append(dst, ']'), nil
	}
	return appendBody(dst, r), nil
}

// isNumber reports whether raw, a scanned JSON value, is a number.
func isNumber(raw []byte) bool { return raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9' }

func appendBody(dst []byte, r *result) []byte {
	switch {
	case r.isText:
		return transform.AppendString(dst, string(r.body))
	case len(r.body) == 0:
		return append(dst, "null"...)
	}
	if c := r.body[0]; c == '{' || c == '[' || isNumber(r.body) {
		return append(dst, r.body...) // validated and compacted by decode; numbers as spelled
	}
	// A string document is written canonically, as an expression would.
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

// respond composes and writes the response, within deadline (the
// endpoint's): composition checks it between fields, and once it has
// passed nothing is written (the caller answers 504); the writing is
// bounded by it, and an answer it cuts short is a deliveryError.
func (x *exchange) respond(w http.ResponseWriter, start time.Time, deadline time.Time) error {
	p := x.p
	status := http.StatusOK
	buf := respBufs.Get().(*[]byte)
	out := (*buf)[:0]
	defer func() {
		if cap(out) <= maxPooledResp {
			*buf = out[:0]
			respBufs.Put(buf)
		}
	}()
	var err error
	x.composing = true // every call is done: expressions share one env
	if p.response != nil && p.response.body != nil {
		out, err = x.render(out, p.response.body, nil, &x.enc)
	} else {
		out = append(out, '{')
		for i, c := range p.Calls {
			if err = x.expired(); err != nil {
				break
			}
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
	// Everything that takes time (the status and header expressions, the
	// XML) is done before the deadline's last check, and the answer's
	// headers are set only after it: a 504 carries none of them.
	var set []headerValue // by p.response.headers index
	if p.response != nil {
		if p.response.status != nil {
			v, err := x.eval(p.response.status, nil)
			if err != nil {
				return err
			}
			s, ok := toStatus(v)
			if !ok {
				return &pipeline.ExprError{Field: p.response.status.field, Err: fmt.Errorf("status must be a whole number from 200 to 599, not %v", v), Reason: "the status must be a whole number from 200 to 599"}
			}
			status = s
		}
		if len(p.response.headers) > 0 {
			set = make([]headerValue, len(p.response.headers))
		}
		for i, hd := range p.response.headers {
			v, err := x.eval(hd.expr, nil)
			if err != nil {
				return err
			}
			if v == nil {
				continue
			}
			x.refresh(&x.enc)
			if t, ok := x.enc.NumberText(v); ok {
				v = string(t) // a number as its body spelled it
			}
			s, ok := transform.Stringify(v)
			if !ok || strings.ContainsAny(s, "\r\n\x00") {
				return errHeaderValue(hd.expr.field)
			}
			set[i].v, set[i].ok = s, true
		}
	}
	if x.format == pipeline.FormatXML {
		xb, err := p.xmlOut.JSONToXML(nil, transform.RawJSON(out), p.xmlRoot)
		if err != nil {
			return &pipeline.ExprError{Field: "response", Err: fmt.Errorf("writing XML: %w", err), Reason: "the response could not be written as XML"}
		}
		out = xb
	}
	if err := x.expired(); err != nil {
		return err // the last moment a 504 can still be written
	}
	h := w.Header()
	for i, c := range p.Calls {
		r := &x.results[i]
		for _, name := range c.forward {
			if r.items != nil {
				for k := range r.items {
					forward(h, r.items[k].header, name)
				}
				continue
			}
			forward(h, r.header, name)
		}
	}
	for i, hv := range set {
		if hv.ok {
			h.Set(p.response.headers[i].name, hv.v)
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
	if len(p.formats) > 1 {
		h.Add("Vary", "Accept")
	}
	// The three headers every answer has, set as Header.Set would (the
	// names are canonical) with less to allocate: Server-Timing and
	// Content-Length are one string cut in two, and the three values share
	// one array, each slice capped at its own element so that an Add
	// reallocates rather than overwrite the next.
	var sb strings.Builder
	x.writeServerTiming(&sb, time.Since(start), 20)
	cut := sb.Len()
	var digits [20]byte
	sb.Write(strconv.AppendInt(digits[:0], int64(len(out)+1), 10))
	both := sb.String()
	vals := make([]string, 3)
	vals[0], vals[1], vals[2] = both[:cut], x.contentType, both[cut:]
	h["Server-Timing"] = vals[0:1:1]
	h["Content-Type"] = vals[1:2:2]
	h["Content-Length"] = vals[2:3:3]
	w.WriteHeader(status)
	if x.r.Method != http.MethodHead {
		out = append(out, '\n')
		if err := pipeline.WriteBody(w, out, p.limits.WriteTimeout, deadline); err != nil {
			return &deliveryError{err}
		}
	}
	return nil
}

// headerValue is a response header's value, ok false when its expression
// gave nil (the header is left out).
type headerValue struct {
	v  string
	ok bool
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
	var sb strings.Builder
	x.writeServerTiming(&sb, total, 0)
	return sb.String()
}

// writeServerTiming writes the Server-Timing value to sb, having made room
// for it and spare bytes more, so that sb allocates once.
func (x *exchange) writeServerTiming(sb *strings.Builder, total time.Duration, spare int) {
	sb.Grow(32*(len(x.p.Calls)+1) + spare)
	var num [32]byte
	for i, c := range x.p.Calls {
		if !x.ran {
			break
		}
		sb.WriteString(c.Name)
		sb.WriteString(";dur=")
		sb.Write(strconv.AppendFloat(num[:0], float64(x.results[i].dur.Microseconds())/1000, 'f', -1, 64))
		switch x.results[i].state {
		case stateSkipped:
			sb.WriteString(`;desc="skipped"`)
		case stateFailed:
			sb.WriteString(`;desc="failed"`)
		}
		sb.WriteString(", ")
	}
	sb.WriteString("total;dur=")
	sb.Write(strconv.AppendFloat(num[:0], float64(total.Microseconds())/1000, 'f', -1, 64))
}

// forward copies header name from a backend's answer to the client's,
// unless the backend's Connection header names it: then it belongs to
// that connection alone (RFC 9110 7.6.1).
func forward(dst, src http.Header, name string) {
	vals := src[name]
	if len(vals) == 0 {
		return
	}
	for _, c := range src["Connection"] {
		for n := range strings.SplitSeq(c, ",") {
			if http.CanonicalHeaderKey(strings.TrimSpace(n)) == name {
				return
			}
		}
	}
	for _, v := range vals {
		dst.Add(name, v)
	}
}

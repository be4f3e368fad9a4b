package engine

import (
	"errors"
	"fmt"
	"frontdesk/pipeline"
	"frontdesk/pipeline/auth"
	"frontdesk/transform"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
)

// prepare reads what expressions need from the request, once.
func (x *exchange) prepare() error {
	p, r := x.p, x.r
	f, ct, ok := pipeline.Negotiate(r.Header.Get("Accept"), p.formats)
	if !ok {
		return &pipeline.NotAcceptableError{Offers: p.formats}
	}
	x.format, x.contentType = f, ct
	if r.ContentLength > p.limits.MaxRequestBody {
		return &pipeline.BodyError{Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("The request body is larger than %d bytes.", p.limits.MaxRequestBody)}
	}
	if p.reads["params"] || len(p.params) > 0 {
		x.params = pathParams(r, p.params)
	}
	if p.reads["query"] {
		x.query = firstQueryValues(r)
	}
	if p.reads["headers"] {
		x.headers = requestHeaders(r)
	}
	id := auth.FromContext(r.Context())
	x.auth = id.Env()
	if id.ClaimSpans != nil {
		x.authSpans = id.ClaimSpans // a claim's digits, where it passes unchanged
		x.enc.AddNumbers(id.ClaimSpans)
	}
	if p.reads["body"] {
		if err := x.readBody(); err != nil {
			return err
		}
	}
	x.reqID = r.Header.Get(pipeline.HeaderRequestID)
	x.xff = forwardedFor(r, p.rt.trusted)
	x.proto = forwardedProto(r)
	if len(p.Calls) > 0 {
		x.fwd = []string{x.reqID, x.xff, x.proto, r.Host}
	}
	return nil
}

// pathParams are the request's path parameters, by name.
func pathParams(r *http.Request, names []string) map[string]any {
	m := make(map[string]any, len(names))
	for _, n := range names {
		m[n] = r.PathValue(n)
	}
	return m
}

// firstQueryValues are the request's query parameters, the first value of
// each.
func firstQueryValues(r *http.Request) map[string]any {
	q := r.URL.Query()
	m := make(map[string]any, len(q))
	for k, v := range q {
		m[k] = v[0]
	}
	return m
}

// requestHeaders are the client's headers by canonical name, repeated ones
// joined with ", " (RFC 9110 5.3), Cookie's with "; " (RFC 6265 5.4: a
// comma may stand inside a cookie's value), without those of its
// connection.
func requestHeaders(r *http.Request) map[string]any {
	m := make(map[string]any, len(r.Header))
	for k, v := range r.Header {
		sep := ", "
		if k == "Cookie" {
			sep = "; "
		}
		m[k] = strings.Join(v, sep)
	}
	dropHopByHop(m, r.Header["Connection"])
	return m
}

func (x *exchange) readBody() error {
	r := x.r
	max := x.p.limits.MaxRequestBody
	rc := http.NewResponseController(x.w)
	rc.SetReadDeadline(time.Now().Add(x.p.limits.ReadBodyTimeout)) // not supported in some tests: no deadline there
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	// The deadline stays: a body left unread (over the limit) is drained by
	// the server within it, and the next request's read sets its own.
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return pipeline.ErrRequestTimeout
	}
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
		rewrite, err := transform.ScanJSON(b, x.p.limits.MaxJSONDepth)
		if err != nil {
			return x.badBody(err, "The request body is not valid JSON", transform.BodyReason(err))
		}
		if rewrite {
			b = transform.Compact(make([]byte, 0, len(b)), b)
		}
		v, spans, err := x.budget.DecodeSpans(b)
		if err != nil {
			return x.bodyDecodeError(err)
		}
		x.body, x.bodySpans = v, spans
		x.enc.AddNumbers(spans)
	case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		j, err := x.p.xmlIn.XMLToJSON(nil, b)
		if err != nil {
			return x.badBody(err, "The request body is not usable XML", transform.BodyReason(err))
		}
		v, _, err := x.budget.DecodeSpans(j)
		if err != nil {
			return x.bodyDecodeError(err)
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
		return &pipeline.BodyError{Status: http.StatusUnsupportedMediaType, Err: fmt.Errorf("Content-Type %q", mt),
			Detail: "The request's Content-Type is not accepted; send application/json, application/xml or a form."}
	}
	return nil
}

// forwardedProto is the X-Forwarded-Proto every call of r sends, and the
// response cache keys on: the scheme the client reached the gateway by.
func forwardedProto(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// forwardedFor is the X-Forwarded-For to send: the client's chain when the
// peer is a trusted proxy, then the peer itself.
func forwardedFor(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if prior := r.Header.Values("X-Forwarded-For"); len(prior) > 0 {
		if a, err := netip.ParseAddr(host); err == nil && isTrusted(a.Unmap(), trusted) {
			return strings.Join(prior, ", ") + ", " + host
		}
	}
	return host
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

// dropHopByHop removes from a client's headers those that belong to its
// connection: the hop-by-hop ones, and every one its Connection header
// names (RFC 9110 7.6.1), so no spec can pass them on.
func dropHopByHop(h map[string]any, connection []string) {
	for _, v := range connection {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				delete(h, http.CanonicalHeaderKey(name))
			}
		}
	}
	for name := range hopByHop {
		if name != "Host" && name != "Content-Length" {
			delete(h, name)
		}
	}
}

// badBody is a client body the gateway cannot read: the problem says what
// kind of fault (never the client's bytes); the log has the whole error.
func (x *exchange) badBody(err error, what, reason string) error {
	return &pipeline.BodyError{Status: http.StatusBadRequest, Detail: what + ": " + reason + ".", Err: err}
}

// bodyDecodeError is a client body whose decoding would pass the request's
// max_decoded (413) or the process's max_decoded_total (503).
func (x *exchange) bodyDecodeError(err error) error {
	switch {
	case errors.Is(err, transform.ErrBusy):
		return fmt.Errorf("%w: decoding the request body: %v", pipeline.ErrOverloaded, err)
	case errors.Is(err, transform.ErrBudget):
		return &pipeline.BodyError{Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("The request body decodes to more than the request's limit of %s (limits.max_decoded).", formatSize(x.budget.Limit()))}
	}
	return &pipeline.BodyError{Status: http.StatusBadRequest, Detail: "The request body could not be decoded."}
}

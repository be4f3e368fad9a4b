package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"frontdesk/pipeline"
)

// HeaderTimeout carries, on every backend request, the whole milliseconds
// left of the call's deadline when the request was sent.
const HeaderTimeout = "X-Request-Timeout-Ms"

// exchange is the bottom layer: one HTTP round trip to the attempt's
// instance, the whole body read within Config.MaxBody, and the answer
// returned whatever its status (the layers above classify it).
func (c *Client) exchange(ctx context.Context, a *attempt) (*Response, error) {
	req := a.req
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := a.inst.newRequest(ctx, req.Method, req.Target, body)
	if err != nil {
		return nil, fail(req, pipeline.FailRequest, err)
	}
	// Each try has its own header map (tries may overlap when hedged), the
	// values shared: nobody writes them. NewRequest made the map empty; as
	// a map of up to smallMap entries is one bucket, it is kept when
	// everything fits, and only a bigger one is made to its size.
	n := len(req.Header) + 1 // and HeaderTimeout
	if c.tracer != nil {
		n += 2 // traceparent, tracestate
	}
	if n > smallMap {
		hr.Header = make(http.Header, n)
	}
	maps.Copy(hr.Header, req.Header)
	if d, ok := ctx.Deadline(); ok {
		hr.Header[HeaderTimeout] = []string{strconv.FormatInt(max(time.Until(d).Milliseconds(), 0), 10)}
	}
	if c.tracer != nil {
		c.tracer.Inject(ctx, hr.Header) // the attempt's client span (span.go)
		if req.Shared {
			// The span's ids are hex the gateway checked; its tracestate
			// is the client's text, which a cached answer must not be
			// built from.
			delete(hr.Header, "Tracestate")
		}
	}
	resp, err := c.transport.RoundTrip(hr)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fail(req, pipeline.FailTimeout, err)
		}
		return nil, fail(req, pipeline.FailUnreachable, err)
	}
	b, err := readLimited(resp.Body, resp.ContentLength, c.maxBody)
	resp.Body.Close()
	switch {
	case err == nil && int64(len(b)) > c.maxBody:
		return nil, fail(req, pipeline.FailBody, fmt.Errorf("body larger than %d bytes", c.maxBody))
	case err == nil:
		return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
	case ctx.Err() == context.DeadlineExceeded:
		return nil, fail(req, pipeline.FailTimeout, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fail(req, pipeline.FailTruncated, errors.New("the body ended before its Content-Length"))
	}
	return nil, fail(req, pipeline.FailUnreachable, err)
}

// smallMap is how many entries a map made without a size holds before it
// grows (one group of Go's maps): the size up to which an empty map and a
// sized one cost the same.
const smallMap = 8

// readLimited reads at most limit+1 bytes of r, sized from the announced
// length when there is one, so a body is read in one buffer, not grown.
func readLimited(r io.Reader, announced, limit int64) ([]byte, error) {
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
			// Double (append grows large slices by a quarter, which
			// allocates about five times the body on the way up).
			nb := make([]byte, len(b), min(2*int64(cap(b)), limit+1))
			copy(nb, b)
			b = nb
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

func isJSON(ct string) bool { return strings.Contains(ct, "json") }

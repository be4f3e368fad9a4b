package spectest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"frontdesk/engine"
	"frontdesk/pipeline"
)

// maxBackendRequestBody bounds what the transport reads of a request body
// the gateway sends to a backend.
const maxBackendRequestBody = 8 << 20

// Sent is one backend request the gateway made during a case.
type Sent struct {
	Call   string
	Index  int // for_each element, or -1
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

func (s Sent) String() string {
	name := s.Call
	if s.Index >= 0 {
		name += "[" + strconv.Itoa(s.Index) + "]"
	}
	return name + ": " + s.Method + " " + s.URL
}

// transport answers the gateway's backend requests from a case's stubs. It
// never dials. Problems (a call without a stub, a malformed request) fail
// the case; the gateway sees them as an unreachable backend.
type transport struct {
	stubs map[string]*Stub

	mu       sync.Mutex
	sent     []Sent
	problems []string
}

func newTransport(stubs map[string]*Stub) *transport {
	return &transport{stubs: stubs}
}

func (t *transport) problem(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	t.mu.Lock()
	if !slices.Contains(t.problems, msg) {
		t.problems = append(t.problems, msg)
	}
	t.mu.Unlock()
	return errors.New("spectest: " + msg)
}

// Sent returns the requests made, ordered by call name and element.
func (t *transport) Sent() []Sent {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := slices.Clone(t.sent)
	slices.SortStableFunc(out, func(a, b Sent) int {
		if c := strings.Compare(a.Call, b.Call); c != 0 {
			return c
		}
		return a.Index - b.Index
	})
	return out
}

// Problems returns what went wrong, in a stable order.
func (t *transport) Problems() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := slices.Clone(t.problems)
	slices.Sort(out)
	return out
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ci, ok := engine.CallInfoFrom(req.Context())
	if !ok {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, t.problem("a backend request to %s carries no call (the gateway was not loaded with TagCalls)", req.URL.Redacted())
	}
	if err := req.Context().Err(); err != nil {
		// The gateway gave up on this request before sending it (another
		// call failed): like a real transport, send nothing.
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	name := ci.Call
	if ci.Index >= 0 {
		name += "[" + strconv.Itoa(ci.Index) + "]"
	}
	body, err := checkRequest(req)
	s := Sent{Call: ci.Call, Index: ci.Index, Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone(), Body: body}
	t.mu.Lock()
	t.sent = append(t.sent, s)
	t.mu.Unlock()
	if err != nil {
		return nil, t.problem("call %q sent a malformed request: %v", name, err)
	}

	stub := t.stubs[ci.Call]
	if stub == nil || len(stub.Answers) == 0 {
		return nil, t.problem("call %q has no stub in \"calls\" (the gateway sent %s %s)", ci.Call, req.Method, req.URL.String())
	}
	var a *Answer
	switch {
	case !stub.List:
		a = stub.Answers[0]
	case ci.Index < 0 && len(stub.Answers) == 1:
		a = stub.Answers[0]
	case ci.Index < 0:
		return nil, t.problem("call %q is not a for_each call, but its stub is a list of %d answers", ci.Call, len(stub.Answers))
	case ci.Index >= len(stub.Answers):
		// Which element comes first is up to the scheduler, so the message
		// names none.
		return nil, t.problem("call %q ran for more elements than the %d answers its stub lists (give one answer per element, or a single answer for all)", ci.Call, len(stub.Answers))
	default:
		a = stub.Answers[ci.Index]
	}
	if a.Delay > 0 {
		timer := time.NewTimer(a.Delay)
		select {
		case <-timer.C:
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		}
	}
	h := a.Header.Clone()
	if a.Body != nil {
		h.Set("Content-Length", strconv.Itoa(len(a.Body)))
	}
	return &http.Response{
		Status:        strconv.Itoa(a.Status) + " " + http.StatusText(a.Status),
		StatusCode:    a.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(a.Body)),
		ContentLength: int64(len(a.Body)),
		Request:       req,
	}, nil
}

// checkRequest checks that req is what a real backend could receive, and
// reads (and closes) its body.
func checkRequest(req *http.Request) ([]byte, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxBackendRequestBody+1))
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the body: %v", err)
		}
		if len(b) > maxBackendRequestBody {
			return nil, fmt.Errorf("the body is larger than %d bytes", maxBackendRequestBody)
		}
		body = b
	}
	u := req.URL
	switch {
	case !pipeline.IsToken(req.Method):
		return body, fmt.Errorf("method %q is not a valid HTTP method", req.Method)
	case u == nil:
		return body, errors.New("no URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return body, fmt.Errorf("URL %q is not http or https", u.Redacted())
	case u.Host == "":
		return body, fmt.Errorf("URL %q has no host", u.Redacted())
	case u.User != nil:
		return body, errors.New("the URL carries user information")
	case strings.ContainsAny(u.String(), " \t\r\n\x00"):
		return body, fmt.Errorf("URL %q holds spaces or control characters", u.String())
	case !strings.HasPrefix(u.EscapedPath(), "/") && u.EscapedPath() != "":
		return body, fmt.Errorf("URL path %q does not start with /", u.EscapedPath())
	}
	for k, vs := range req.Header {
		if !pipeline.IsToken(k) {
			return body, fmt.Errorf("header name %q is not valid", k)
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				return body, fmt.Errorf("header %s holds a line break or NUL", k)
			}
		}
	}
	if len(body) > 0 {
		mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
		if (mt == "application/json" || strings.HasSuffix(mt, "+json")) && !json.Valid(body) {
			return body, errors.New("the body is declared JSON but is not valid JSON")
		}
	}
	return body, nil
}

package pipeline

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"frontdesk/transform"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type          string
	Title         string
	Status        int
	Detail        string
	Call          string // the failing call, for backend failures only
	Service       string // the call's service, when its breaker is open
	Field         string // the spec field, for expression failures
	RequestID     string
	Backend       []byte // the backend's answer, with expose_errors
	BackendIsJSON bool
}

// ProblemFor builds the problem document for err from the error table.
// Details that could leak internals (addresses, stack traces) are never
// included.
func ProblemFor(err error) Problem {
	k := kindOf(err)
	p := Problem{Type: k.Type, Title: k.Title, Status: k.statusFor(err), Detail: k.detail(err)}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	ce, isCall := errors.AsType[*CallError](err)
	if isCall {
		p.Call, p.Service = ce.Call, ce.Service
		if ce.Failure == FailStatus && ce.Expose {
			p.Backend, p.BackendIsJSON = ce.Body, ce.BodyIsJSON
		}
	}
	if ee, ok := errors.AsType[*ExprError](err); ok && !isCall {
		p.Field = ee.Field
	}
	return p
}

// AppendJSON writes the problem as JSON, members in a fixed order.
func (p Problem) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = transform.AppendString(b, p.Type)
	b = append(b, `,"title":`...)
	b = transform.AppendString(b, p.Title)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(p.Status), 10)
	b = append(b, `,"detail":`...)
	b = transform.AppendString(b, p.Detail)
	if p.Call != "" {
		b = append(b, `,"call":`...)
		b = transform.AppendString(b, p.Call)
	}
	if p.Service != "" {
		b = append(b, `,"service":`...)
		b = transform.AppendString(b, p.Service)
	}
	if p.Field != "" {
		b = append(b, `,"field":`...)
		b = transform.AppendString(b, p.Field)
	}
	if p.RequestID != "" {
		b = append(b, `,"request_id":`...)
		b = transform.AppendString(b, p.RequestID)
	}
	if p.Backend != nil {
		b = append(b, `,"backend_body":`...)
		if p.BackendIsJSON && json.Valid(p.Backend) {
			b = append(b, p.Backend...)
		} else {
			b = transform.AppendString(b, string(p.Backend))
		}
	}
	return append(b, '}', '\n')
}

// WriteError writes err as application/problem+json. Headers already set on
// w (Server-Timing, X-Request-ID, Allow) are kept.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	k := kindOf(err)
	p := ProblemFor(err)
	p.RequestID = w.Header().Get(HeaderRequestID)
	h := w.Header()
	if k.header != nil {
		k.header(err, h)
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	if r.Method != http.MethodHead {
		w.Write(p.AppendJSON(nil))
	}
}

// chunk is how much of an answer a client must take within each write
// deadline.
const chunk = 64 << 10

// WriteBody writes b to w and flushes it. An answer larger than one chunk
// is written a chunk at a time, each within perChunk, and the whole within
// perChunk plus a second per chunk: a client that stops reading has its
// connection closed then, and one that reads slowly is served to the end,
// but no client holds an answer's memory for longer than its size allows.
// A deadline that is not zero (the endpoint's) bounds every write too.
// The error is the first write's or the flush's: the answer was not
// delivered, and the server closes the connection. Once the answer is
// flushed its deadline is cleared, so none is left on a connection that
// serves another request.
func WriteBody(w http.ResponseWriter, b []byte, perChunk time.Duration, deadline time.Time) error {
	rc := http.NewResponseController(w)
	last := deadline // the bound of every write; zero: none of ours
	if len(b) > chunk && perChunk > 0 {
		overall := time.Now().Add(perChunk + time.Duration((len(b)+chunk-1)/chunk)*time.Second)
		if last.IsZero() || overall.Before(last) {
			last = overall
		}
	}
	bounded := !last.IsZero()
	for len(b) > 0 {
		n := min(len(b), chunk)
		if bounded {
			d := last
			if perChunk > 0 {
				if c := time.Now().Add(perChunk); c.Before(d) {
					d = c
				}
			}
			if rc.SetWriteDeadline(d) != nil {
				bounded = false // unsupported (a recorder): no deadline
			}
		}
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if bounded {
		rc.SetWriteDeadline(time.Time{})
	}
	return nil
}

package pipeline

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"frontdesk/transform"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type          string
	Title         string
	Status        int
	Detail        string
	Call          string // the failing call, for backend failures only
	Field         string // the spec field, for expression failures
	RequestID     string
	Backend       []byte // the backend's answer, with expose_errors
	BackendIsJSON bool
}

// ProblemFor builds the problem document for err. Details that could leak
// internals (addresses, stack traces) are never included.
func ProblemFor(err error) Problem {
	p := Problem{Status: Status(err)}
	var ce *CallError
	var be *BodyError
	var ee *ExprError
	switch {
	case errors.As(err, new(*PanicError)):
		p.Type, p.Title, p.Detail = "urn:frontdesk:internal", "Internal error", "The gateway failed while handling this request."
	case errors.Is(err, ErrEndpointTimeout):
		p.Type, p.Title, p.Detail = "urn:frontdesk:timeout", "Gateway timeout", "The endpoint did not finish within its timeout."
	case errors.As(err, &ce):
		p.Call = ce.Call
		switch ce.Failure {
		case FailTimeout:
			p.Type, p.Title = "urn:frontdesk:call-timeout", "Backend timeout"
			p.Detail = "Call " + strconv.Quote(ce.Call) + " did not answer within its timeout."
		case FailStatus:
			p.Type, p.Title = "urn:frontdesk:call-status", "Backend error"
			p.Detail = "Call " + strconv.Quote(ce.Call) + " answered " + strconv.Itoa(ce.Status) + "."
			if ce.Expose {
				p.Backend, p.BackendIsJSON = ce.Body, ce.BodyIsJSON
			}
		case FailBody:
			p.Type, p.Title = "urn:frontdesk:call-body", "Bad backend answer"
			p.Detail = "Call " + strconv.Quote(ce.Call) + " answered a body the gateway cannot use: " + ce.Err.Error() + "."
		case FailRequest:
			p.Type, p.Title = "urn:frontdesk:call-request", "Backend request not built"
			p.Detail = "Call " + strconv.Quote(ce.Call) + " could not be built: " + ce.Err.Error() + "."
		case FailLimit:
			p.Type, p.Title = "urn:frontdesk:call-limit", "Too many backend calls"
			p.Detail = "Call " + strconv.Quote(ce.Call) + ": " + ce.Err.Error() + "."
		default:
			p.Type, p.Title = "urn:frontdesk:call-unreachable", "Backend unreachable"
			p.Detail = "Call " + strconv.Quote(ce.Call) + " could not reach its backend."
		}
	case errors.As(err, &be):
		p.Type, p.Detail = "urn:frontdesk:request-body", be.Detail
		p.Title = http.StatusText(be.Status)
	case errors.As(err, &ee):
		p.Type, p.Title, p.Field = "urn:frontdesk:expression", "Expression failed", ee.Field
		p.Detail = "The expression of " + ee.Field + " failed: " + ee.Err.Error()
	case errors.Is(err, ErrNotFound):
		p.Type, p.Title, p.Detail = "urn:frontdesk:not-found", "Not found", ErrNotFound.Error()+"."
	case errors.As(err, new(*NotAcceptableError)):
		p.Type, p.Title, p.Detail = "urn:frontdesk:not-acceptable", "Not acceptable", err.Error()+"."
	case errors.Is(err, ErrMethodNotAllowed):
		p.Type, p.Title, p.Detail = "urn:frontdesk:method-not-allowed", "Method not allowed", ErrMethodNotAllowed.Error()+"."
	default:
		p.Type, p.Title, p.Detail = "urn:frontdesk:internal", "Internal error", "The gateway failed while handling this request."
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
	p := ProblemFor(err)
	p.RequestID = w.Header().Get(HeaderRequestID)
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	if r.Method != http.MethodHead {
		w.Write(p.AppendJSON(nil))
	}
}

package pipeline

import (
	"context"
	"errors"
	"net/http"
	"strconv"
)

// StatusClientClosed is the status logged (and counted) for a request
// whose client went away before the answer; nothing is written.
const StatusClientClosed = 499

// kind is one row of the error table: which errors it matches, the status
// and problem type they get, and what the problem says.
type kind struct {
	Type  string
	Title string
	// status is the row's status; statusOf, when set, decides per error.
	status   int
	statusOf func(error) int
	match    func(error) bool
	detail   func(error) string
	// header sets the response headers the row needs (Retry-After,
	// WWW-Authenticate).
	header func(error, http.Header)
}

func (k *kind) statusFor(err error) int {
	if k.statusOf != nil {
		return k.statusOf(err)
	}
	return k.status
}

// is matches a sentinel error.
func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// as matches an error type.
func as[T error]() func(error) bool {
	return func(err error) bool { _, ok := errors.AsType[T](err); return ok }
}

// callFailed matches a CallError of one failure.
func callFailed(f CallFailure) func(error) bool {
	return func(err error) bool {
		ce, ok := errors.AsType[*CallError](err)
		return ok && ce.Failure == f
	}
}

func callDetail(text string) func(error) string {
	return func(err error) string {
		ce, _ := errors.AsType[*CallError](err)
		return "Call " + strconv.Quote(ce.Call) + " " + text
	}
}

func fixed(s string) func(error) string { return func(error) string { return s } }

// internal is the row of everything the table does not know.
var internal = kind{Type: "urn:frontdesk:internal", Title: "Internal error", status: http.StatusInternalServerError,
	detail: fixed("The gateway failed while handling this request.")}

// table maps request errors to statuses and problem documents. The first
// row that matches decides; the table test walks every row. It is the one
// place this mapping lives: Status, ProblemFor and WriteError all read it.
var table = []kind{
	{Type: "urn:frontdesk:internal", Title: "Internal error", status: http.StatusInternalServerError,
		match: as[*PanicError](), detail: fixed("The gateway failed while handling this request.")},
	{Type: "urn:frontdesk:timeout", Title: "Gateway timeout", status: http.StatusGatewayTimeout,
		match: is(ErrEndpointTimeout), detail: fixed("The endpoint did not finish within its timeout.")},
	{Type: "urn:frontdesk:unauthorized", Title: "Unauthorized", status: http.StatusUnauthorized,
		match: func(err error) bool {
			ae, ok := errors.AsType[*AuthError](err)
			return ok && ae.Status != http.StatusForbidden
		},
		detail: func(err error) string { ae, _ := errors.AsType[*AuthError](err); return ae.Detail },
		header: challenge},
	{Type: "urn:frontdesk:forbidden", Title: "Forbidden", status: http.StatusForbidden,
		match: func(err error) bool {
			ae, ok := errors.AsType[*AuthError](err)
			return ok && ae.Status == http.StatusForbidden
		},
		detail: func(err error) string { ae, _ := errors.AsType[*AuthError](err); return ae.Detail },
		header: challenge},
	{Type: "urn:frontdesk:auth-unavailable", Title: "Service unavailable", status: http.StatusServiceUnavailable,
		match: is(ErrAuthUnavailable), detail: fixed("The gateway cannot check credentials right now: the issuer's keys have not been fetched yet; try again shortly."),
		header: func(_ error, h http.Header) { h.Set("Retry-After", "5") }},
	{Type: "urn:frontdesk:cors-refused", Title: "Forbidden", status: http.StatusForbidden,
		match: as[*CORSError](), detail: func(err error) string { return err.Error() }},
	{Type: "urn:frontdesk:rate-limited", Title: "Too many requests", status: http.StatusTooManyRequests,
		match: as[*LimitError](), detail: fixed("This client is over the endpoint's rate limit."),
		header: func(err error, h http.Header) {
			le, _ := errors.AsType[*LimitError](err)
			h.Set("Retry-After", strconv.Itoa(le.RetryAfterSeconds()))
		}},
	{Type: "urn:frontdesk:overloaded", Title: "Service unavailable", status: http.StatusServiceUnavailable,
		match: is(ErrOverloaded), detail: fixed("The gateway is at its limit of requests in flight; try again shortly."),
		header: func(_ error, h http.Header) { h.Set("Retry-After", "1") }},
	{Type: "urn:frontdesk:store-unavailable", Title: "Service unavailable", status: http.StatusServiceUnavailable,
		match: is(ErrStoreUnavailable), detail: fixed("A store the gateway needs for this request did not answer in time.")},
	{Type: "urn:frontdesk:request-timeout", Title: "Request timeout", status: http.StatusRequestTimeout,
		match: is(ErrRequestTimeout), detail: fixed("The request body did not arrive in time."),
		header: func(_ error, h http.Header) { h.Set("Connection", "close") }},
	{Type: "urn:frontdesk:call-timeout", Title: "Backend timeout", status: http.StatusGatewayTimeout,
		match: callFailed(FailTimeout), detail: callDetail("did not answer within its timeout.")},
	{Type: "urn:frontdesk:call-status", Title: "Backend error",
		statusOf: func(err error) int {
			ce, _ := errors.AsType[*CallError](err)
			if ce.Status >= 400 && ce.Status < 500 {
				return ce.Status
			}
			return http.StatusBadGateway
		},
		match: callFailed(FailStatus),
		detail: func(err error) string {
			ce, _ := errors.AsType[*CallError](err)
			return "Call " + strconv.Quote(ce.Call) + " answered " + strconv.Itoa(ce.Status) + "."
		}},
	{Type: "urn:frontdesk:call-body", Title: "Bad backend answer", status: http.StatusBadGateway,
		match: callFailed(FailBody),
		detail: func(err error) string {
			ce, _ := errors.AsType[*CallError](err)
			return "Call " + strconv.Quote(ce.Call) + " answered a body the gateway cannot use: " + or(ce.Reason, "it could not be read") + "."
		}},
	{Type: "urn:frontdesk:call-truncated", Title: "Truncated backend answer", status: http.StatusBadGateway,
		match: callFailed(FailTruncated), detail: callDetail("answered a truncated body: it ended before its Content-Length.")},
	{Type: "urn:frontdesk:call-request", Title: "Backend request not built", status: http.StatusBadGateway,
		match: callFailed(FailRequest),
		detail: func(err error) string {
			ce, _ := errors.AsType[*CallError](err)
			return "Call " + strconv.Quote(ce.Call) + " could not be built: " + or(ce.Reason, "a value it needs was missing or of the wrong kind") + "."
		}},
	{Type: "urn:frontdesk:call-limit", Title: "Too many backend calls", status: http.StatusBadGateway,
		match: callFailed(FailLimit),
		detail: func(err error) string {
			ce, _ := errors.AsType[*CallError](err)
			return "Call " + strconv.Quote(ce.Call) + ": " + or(ce.Reason, "the request needs more backend calls than allowed") + "."
		}},
	{Type: "urn:frontdesk:call-breaker-open", Title: "Backend unavailable", status: http.StatusServiceUnavailable,
		match: callFailed(FailBreakerOpen),
		detail: func(err error) string {
			ce, _ := errors.AsType[*CallError](err)
			return "Call " + strconv.Quote(ce.Call) + " was not sent: service " + strconv.Quote(ce.Service) + " is failing and its breaker is open."
		}},
	{Type: "urn:frontdesk:call-unreachable", Title: "Backend unreachable", status: http.StatusBadGateway,
		match: callFailed(FailUnreachable), detail: callDetail("could not reach its backend.")},
	{Type: "urn:frontdesk:request-body", statusOf: func(err error) int {
		be, _ := errors.AsType[*BodyError](err)
		return be.Status
	}, match: as[*BodyError](), detail: func(err error) string { be, _ := errors.AsType[*BodyError](err); return be.Detail },
		header: func(err error, h http.Header) {
			// A body over the limit is left unread: the connection closes
			// rather than the server draining it first.
			if be, ok := errors.AsType[*BodyError](err); ok && be.Status == http.StatusRequestEntityTooLarge {
				h.Set("Connection", "close")
			}
		}},
	{Type: "urn:frontdesk:expression", Title: "Expression failed", status: http.StatusBadGateway,
		match: as[*ExprError](),
		detail: func(err error) string {
			ee, _ := errors.AsType[*ExprError](err)
			return "The expression of " + ee.Field + " failed: " + or(ee.Reason, "it could not be evaluated on the values it read") + "."
		}},
	{Type: "urn:frontdesk:not-found", Title: "Not found", status: http.StatusNotFound,
		match: is(ErrNotFound), detail: fixed("No endpoint is defined for this path.")},
	{Type: "urn:frontdesk:method-not-allowed", Title: "Method not allowed", status: http.StatusMethodNotAllowed,
		match: is(ErrMethodNotAllowed), detail: fixed("This endpoint does not accept this method.")},
	{Type: "urn:frontdesk:misdirected", Title: "Misdirected request", status: http.StatusMisdirectedRequest,
		match: is(ErrMisdirected), detail: fixed("This gateway does not serve the host the request names.")},
	{Type: "urn:frontdesk:not-acceptable", Title: "Not acceptable", status: http.StatusNotAcceptable,
		match: as[*NotAcceptableError](), detail: func(err error) string { return err.Error() + "." }},
	{Type: "urn:frontdesk:client-closed", Title: "Client closed request", status: StatusClientClosed,
		match:  func(err error) bool { return errors.Is(err, ErrClientClosed) || errors.Is(err, context.Canceled) },
		detail: fixed("The client went away before the answer.")},
	{Type: "urn:frontdesk:timeout", Title: "Gateway timeout", status: http.StatusGatewayTimeout,
		match: is(context.DeadlineExceeded), detail: fixed("The request did not finish in time.")},
}

// or is s, or else when s is empty.
func or(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

func challenge(err error, h http.Header) {
	if ae, ok := errors.AsType[*AuthError](err); ok && ae.Challenge != "" {
		h.Set("WWW-Authenticate", ae.Challenge)
	}
}

// kindOf is the table row for err.
func kindOf(err error) *kind {
	for i := range table {
		if table[i].match(err) {
			return &table[i]
		}
	}
	return &internal
}

// Status maps a request error to the HTTP status the client gets (499 for
// a client that went away).
func Status(err error) int { return kindOf(err).statusFor(err) }

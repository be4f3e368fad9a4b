package pipeline

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// CallFailure says how a backend call failed.
type CallFailure uint8

const (
	// FailUnreachable: no connection, reset, or a transport error.
	FailUnreachable CallFailure = iota + 1
	// FailTimeout: the call's deadline passed before the whole answer arrived.
	FailTimeout
	// FailStatus: the backend answered a status of 300 or more that the
	// call does not accept.
	FailStatus
	// FailBody: the answer could not be decoded, or was too large or deep.
	FailBody
	// FailTruncated: the body ended before its Content-Length.
	FailTruncated
	// FailRequest: the request could not be built (nil in the path, an
	// expression that failed).
	FailRequest
	// FailLimit: the request would make more backend calls than allowed.
	FailLimit
	// FailBreakerOpen: the service's circuit breaker is open; nothing was
	// sent.
	FailBreakerOpen
)

// CallError is a failed backend call. Status is the backend's status for
// FailStatus. Body holds the backend's answer, written to the client only
// when Expose is set. Reason, when set, is the phrase the client's problem
// detail gives and the log says (it never holds the backend's data); Err is
// the cause, for errors.Is and As, and for the log only when there is no
// Reason (a transport's error: it holds no answer).
type CallError struct {
	Call       string
	Service    string // set for FailBreakerOpen
	Failure    CallFailure
	Status     int
	Err        error
	Reason     string
	Body       []byte
	BodyIsJSON bool
	Expose     bool
}

func (e *CallError) Error() string {
	switch e.Failure {
	case FailStatus:
		return fmt.Sprintf("call %q: backend answered %d", e.Call, e.Status)
	case FailTimeout:
		return fmt.Sprintf("call %q: timed out", e.Call)
	case FailBreakerOpen:
		return fmt.Sprintf("call %q: the breaker of service %q is open", e.Call, e.Service)
	}
	if e.Reason != "" {
		return fmt.Sprintf("call %q: %s", e.Call, e.Reason)
	}
	return fmt.Sprintf("call %q: %v", e.Call, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// BodyError is a client request body the gateway will not take. Detail is
// what the client is told; Err, when set, the cause, for the log only.
type BodyError struct {
	Status int // 413, 400, 415
	Detail string
	Err    error
}

func (e *BodyError) Error() string {
	if e.Err != nil {
		return e.Detail + " (" + e.Err.Error() + ")"
	}
	return e.Detail
}

// ExprError is an expression that failed while composing a request or a
// response, naming the spec field it belongs to. Reason is the fixed phrase
// the client is told (transform.Reason gives one for expr's errors) and the
// log is too: Err, kept for errors.Is and As, holds whatever values the
// expression met (a backend's data, a token's claims), so Error never
// prints it.
type ExprError struct {
	Field  string
	Err    error
	Reason string
}

func (e *ExprError) Error() string {
	if e.Reason == "" {
		return e.Field + ": the expression failed"
	}
	return e.Field + ": " + e.Reason
}
func (e *ExprError) Unwrap() error { return e.Err }

// PanicError is a recovered panic: the request fails with 500, the process
// keeps serving.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// AuthError is a request the auth stage refuses: Status 401 (no or bad
// credentials) or 403 (a missing scope, a false allow). Challenge is the
// WWW-Authenticate value to send. Detail never holds a token or key.
type AuthError struct {
	Status    int
	Challenge string
	Detail    string
}

func (e *AuthError) Error() string { return e.Detail }

// LimitError is a request over its rate limit; RetryAfter is how long
// until one request is allowed.
type LimitError struct {
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("rate limited; retry after %s", e.RetryAfter)
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, at least 1.
func (e *LimitError) RetryAfterSeconds() int {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}

// Request errors that carry nothing but their kind.
var (
	// ErrEndpointTimeout is the endpoint's own deadline passing.
	ErrEndpointTimeout = errors.New("the endpoint's deadline passed")
	// ErrNotFound and ErrMethodNotAllowed are routing failures.
	ErrNotFound         = errors.New("no endpoint is defined for this path")
	ErrMethodNotAllowed = errors.New("this endpoint does not accept this method")
	// ErrMisdirected is a request for a host gateway.json's hosts does not
	// list: answered 421 before any stage runs.
	ErrMisdirected = errors.New("this gateway does not serve the host the request names")
	// ErrClientClosed is a client that went away before its answer was
	// written (logged as status 499; nothing is written).
	ErrClientClosed = errors.New("the client closed the request")
	// ErrRequestTimeout is a client that did not send its request body in
	// time.
	ErrRequestTimeout = errors.New("the request body did not arrive in time")
	// ErrOverloaded is a request refused because the gateway is at its
	// bound of requests in flight.
	ErrOverloaded = errors.New("the gateway is at its limit of requests in flight")
	// ErrStoreUnavailable is a shared store (Redis) that did not answer in
	// time where the configuration says to deny rather than allow.
	ErrStoreUnavailable = errors.New("the shared store did not answer in time")
	// ErrAuthUnavailable is a token the gateway cannot check yet: the
	// issuer's key set (JWKS) has never been fetched. It is a 503 with
	// Retry-After, not a 401, so clients keep tokens that may well be good.
	ErrAuthUnavailable = errors.New("the issuer's keys could not be fetched yet")
)

// CORSError is a preflight the gateway refuses: an origin, or a method,
// that the cors configuration does not allow. Detail never holds the
// origin.
type CORSError struct{ Detail string }

func (e *CORSError) Error() string { return e.Detail }

// NotAcceptableError is an Accept header no offered format satisfies.
type NotAcceptableError struct{ Offers []Format }

func (e *NotAcceptableError) Error() string {
	list := make([]string, len(e.Offers))
	for i, f := range e.Offers {
		list[i] = mediaTypes[f][0]
	}
	return "This endpoint answers " + strings.Join(list, " or ") + "; the Accept header allows none of them"
}

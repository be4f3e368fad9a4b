package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// CallFailure says how a backend call failed.
type CallFailure uint8

const (
	// FailUnreachable: no connection, reset, or a transport error.
	FailUnreachable CallFailure = iota + 1
	// FailTimeout: the call's deadline passed before the whole answer arrived.
	FailTimeout
	// FailStatus: the backend answered a status of 400 or more.
	FailStatus
	// FailBody: the answer could not be decoded, or was too large or deep.
	FailBody
	// FailRequest: the request could not be built (nil in the path, an
	// expression that failed).
	FailRequest
	// FailLimit: the request would make more backend calls than allowed.
	FailLimit
)

// CallError is a failed backend call. Status is the backend's status for
// FailStatus. Body holds the backend's answer, written to the client only
// when Expose is set.
type CallError struct {
	Call       string
	Failure    CallFailure
	Status     int
	Err        error
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
	}
	return fmt.Sprintf("call %q: %v", e.Call, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// BodyError is a client request body the gateway will not take.
type BodyError struct {
	Status int // 413, 400 or 415
	Detail string
}

func (e *BodyError) Error() string { return e.Detail }

// ExprError is an expression that failed while composing a request or a
// response, naming the spec field it belongs to.
type ExprError struct {
	Field string
	Err   error
}

func (e *ExprError) Error() string { return fmt.Sprintf("%s: %v", e.Field, e.Err) }
func (e *ExprError) Unwrap() error { return e.Err }

// PanicError is a recovered panic: the request fails with 500, the process
// keeps serving.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// ErrEndpointTimeout is the endpoint's own deadline passing.
var ErrEndpointTimeout = errors.New("the endpoint's deadline passed")

// ErrNotFound and ErrMethodNotAllowed are routing failures.
var (
	ErrNotFound         = errors.New("No endpoint is defined for this path")
	ErrMethodNotAllowed = errors.New("This endpoint does not accept this method")
)

// NotAcceptableError is an Accept header no offered format satisfies.
type NotAcceptableError struct{ Offers []Format }

func (e *NotAcceptableError) Error() string {
	list := make([]string, len(e.Offers))
	for i, f := range e.Offers {
		list[i] = mediaTypes[f][0]
	}
	return "This endpoint answers " + strings.Join(list, " or ") + "; the Accept header allows none of them"
}

// Status maps a request error to the HTTP status the client gets. It is the
// one place this mapping lives.
func Status(err error) int {
	var ce *CallError
	var be *BodyError
	var ee *ExprError
	var pe *PanicError
	switch {
	case errors.As(err, &pe):
		return http.StatusInternalServerError
	case errors.Is(err, ErrEndpointTimeout):
		return http.StatusGatewayTimeout
	case errors.As(err, &ce):
		switch ce.Failure {
		case FailTimeout:
			return http.StatusGatewayTimeout
		case FailStatus:
			if ce.Status >= 400 && ce.Status < 500 {
				return ce.Status
			}
		}
		return http.StatusBadGateway
	case errors.As(err, &be):
		return be.Status
	case errors.As(err, &ee):
		return http.StatusBadGateway
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed
	case errors.As(err, new(*NotAcceptableError)):
		return http.StatusNotAcceptable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

package backend

import (
	"net/http"
	"time"
)

// Retry says how a call is tried again after a retryable failure.
type Retry struct {
	// Attempts counts the first try: 1 is no retry.
	Attempts int
	// Backoff is the wait before the second try, doubled before each one
	// after it, with jitter. 0: no wait.
	Backoff time.Duration
	// Budget is the most retries (hedges included) allowed as a share of
	// the service's requests over the breaker's window; at least
	// MinRetriesPerWindow are always allowed.
	Budget float64
	// Idempotent lets a method other than GET and HEAD be retried and
	// hedged.
	Idempotent bool
}

// Breaker configures a service's circuit breaker.
type Breaker struct {
	FailureRatio float64       // failures over requests that open it
	MinRequests  int           // requests in the window before it may open
	Window       time.Duration // the rolling window the counts cover
	OpenFor      time.Duration // how long it stays open before probing
	// ConsecutiveTimeouts opens it on that many calls in a row that timed
	// out having had nearly all of their own timeout; 0: never.
	ConsecutiveTimeouts int
}

// Health configures active health checks: a GET of Path on each instance
// every Interval (with jitter), passing on a 2xx within Timeout.
type Health struct {
	Path     string
	Interval time.Duration
	Timeout  time.Duration
}

// Defaults of the spec format (version 1.1, "Resilience").
const (
	DefaultEjectAfter          = 5
	DefaultEjectFor            = 30 * time.Second
	DefaultAttempts            = 2
	DefaultBudget              = 0.2
	DefaultFailureRatio        = 0.5
	DefaultMinRequests         = 20
	DefaultWindow              = 10 * time.Second
	DefaultOpenFor             = 5 * time.Second
	DefaultConsecutiveTimeouts = 5
	DefaultHealthEvery         = 5 * time.Second
	DefaultHealthWait          = time.Second
	// MinRetriesPerWindow is the budget's floor, however low the traffic.
	MinRetriesPerWindow = 10
)

// DefaultRetry is the retry policy of a service that sets none.
var DefaultRetry = Retry{Attempts: DefaultAttempts, Budget: DefaultBudget}

// DefaultBreaker is the breaker of a service that sets none.
var DefaultBreaker = Breaker{FailureRatio: DefaultFailureRatio, MinRequests: DefaultMinRequests,
	Window: DefaultWindow, OpenFor: DefaultOpenFor, ConsecutiveTimeouts: DefaultConsecutiveTimeouts}

// idempotent reports whether a request may be sent twice: GET and HEAD,
// or any method the call declares idempotent.
func (r *Retry) idempotent(method string) bool {
	return r.Idempotent || method == http.MethodGet || method == http.MethodHead
}

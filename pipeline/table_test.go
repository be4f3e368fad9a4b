package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestErrorTable walks every row of the error table: each case is an error
// the gateway produces, with the status, problem type, title and headers it
// must get, and the test fails when a row has no case.
func TestErrorTable(t *testing.T) {
	call := func(f CallFailure, status int) error {
		return &CallError{Call: "cart", Failure: f, Status: status, Err: errors.New("dial tcp 10.0.0.5:80: refused")}
	}
	cases := []struct {
		name   string
		err    error
		status int
		typ    string
		title  string
		detail string // a part of it
		header map[string]string
		call   string
	}{
		{"panic", &PanicError{Value: "boom"}, 500, "urn:frontdesk:internal", "Internal error", "failed while handling", nil, ""},
		{"endpoint timeout", fmt.Errorf("run: %w", ErrEndpointTimeout), 504, "urn:frontdesk:timeout", "Gateway timeout", "within its timeout", nil, ""},
		{"no credentials", &AuthError{Status: 401, Challenge: `Bearer realm="frontdesk"`, Detail: "No credentials were sent."},
			401, "urn:frontdesk:unauthorized", "Unauthorized", "No credentials", map[string]string{"WWW-Authenticate": `Bearer realm="frontdesk"`}, ""},
		{"missing scope", &AuthError{Status: 403, Challenge: `Bearer error="insufficient_scope"`, Detail: "A scope is missing."},
			403, "urn:frontdesk:forbidden", "Forbidden", "scope", map[string]string{"WWW-Authenticate": `Bearer error="insufficient_scope"`}, ""},
		{"auth unavailable", fmt.Errorf("jwks: %w", ErrAuthUnavailable), 503, "urn:frontdesk:auth-unavailable", "Service unavailable", "issuer's keys",
			map[string]string{"Retry-After": "5"}, ""},
		{"cors refused", &CORSError{Detail: "This origin may not call the gateway from a browser."}, 403, "urn:frontdesk:cors-refused", "Forbidden", "origin",
			nil, ""},
		{"rate limited", &LimitError{RetryAfter: 1500 * time.Millisecond}, 429, "urn:frontdesk:rate-limited", "Too many requests", "rate limit",
			map[string]string{"Retry-After": "2"}, ""},
		{"overloaded", ErrOverloaded, 503, "urn:frontdesk:overloaded", "Service unavailable", "in flight", map[string]string{"Retry-After": "1"}, ""},
		{"store", fmt.Errorf("limit: %w", ErrStoreUnavailable), 503, "urn:frontdesk:store-unavailable", "Service unavailable", "store", nil, ""},
		{"request timeout", ErrRequestTimeout, 408, "urn:frontdesk:request-timeout", "Request timeout", "did not arrive", nil, ""},
		{"call timeout", call(FailTimeout, 0), 504, "urn:frontdesk:call-timeout", "Backend timeout", `Call "cart" did not answer`, nil, "cart"},
		{"call 404", call(FailStatus, 404), 404, "urn:frontdesk:call-status", "Backend error", `Call "cart" answered 404.`, nil, "cart"},
		{"call 500", call(FailStatus, 500), 502, "urn:frontdesk:call-status", "Backend error", `answered 500.`, nil, "cart"},
		{"call 302", call(FailStatus, 302), 502, "urn:frontdesk:call-status", "Backend error", `answered 302.`, nil, "cart"},
		{"call body", &CallError{Call: "cart", Failure: FailBody, Err: errors.New("invalid JSON")}, 502, "urn:frontdesk:call-body", "Bad backend answer", "cannot use", nil, "cart"},
		{"call truncated", call(FailTruncated, 0), 502, "urn:frontdesk:call-truncated", "Truncated backend answer", "truncated", nil, "cart"},
		{"call request", &CallError{Call: "cart", Failure: FailRequest, Err: errors.New("path: nil")}, 502, "urn:frontdesk:call-request", "Backend request not built", "could not be built", nil, "cart"},
		{"call limit", &CallError{Call: "cart", Failure: FailLimit, Err: errors.New("too many")}, 502, "urn:frontdesk:call-limit", "Too many backend calls", "more backend calls", nil, "cart"},
		{"breaker open", &CallError{Call: "cart", Service: "carts", Failure: FailBreakerOpen}, 503, "urn:frontdesk:call-breaker-open", "Backend unavailable", `service "carts"`, nil, "cart"},
		{"call unreachable", call(FailUnreachable, 0), 502, "urn:frontdesk:call-unreachable", "Backend unreachable", "could not reach", nil, "cart"},
		{"body too large", &BodyError{Status: 413, Detail: "Too big."}, 413, "urn:frontdesk:request-body", "Request Entity Too Large", "Too big.", nil, ""},
		{"body malformed", &BodyError{Status: 400, Detail: "Not JSON."}, 400, "urn:frontdesk:request-body", "Bad Request", "Not JSON.", nil, ""},
		{"expression", &ExprError{Field: "response.body.total", Err: errors.New("division")}, 502, "urn:frontdesk:expression", "Expression failed", "response.body.total", nil, ""},
		{"not found", ErrNotFound, 404, "urn:frontdesk:not-found", "Not found", "No endpoint", nil, ""},
		{"method", ErrMethodNotAllowed, 405, "urn:frontdesk:method-not-allowed", "Method not allowed", "method", nil, ""},
		{"misdirected", fmt.Errorf("host: %w", ErrMisdirected), 421, "urn:frontdesk:misdirected", "Misdirected request", "does not serve the host", nil, ""},
		{"not acceptable", &NotAcceptableError{Offers: []Format{FormatJSON}}, 406, "urn:frontdesk:not-acceptable", "Not acceptable", "application/json", nil, ""},
		{"client closed", ErrClientClosed, 499, "urn:frontdesk:client-closed", "Client closed request", "went away", nil, ""},
		{"bare cancel", context.Canceled, 499, "urn:frontdesk:client-closed", "Client closed request", "went away", nil, ""},
		{"bare deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), 504, "urn:frontdesk:timeout", "Gateway timeout", "in time", nil, ""},
		{"unknown", errors.New("something else"), 500, "urn:frontdesk:internal", "Internal error", "failed while handling", nil, ""},
	}
	covered := map[*kind]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			covered[kindOf(tc.err)] = true
			if got := Status(tc.err); got != tc.status {
				t.Errorf("Status = %d, want %d", got, tc.status)
			}
			p := ProblemFor(tc.err)
			if p.Status != tc.status || p.Type != tc.typ || p.Title != tc.title || p.Call != tc.call {
				t.Errorf("problem = %d %q %q call %q; want %d %q %q call %q", p.Status, p.Type, p.Title, p.Call, tc.status, tc.typ, tc.title, tc.call)
			}
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q lacks %q", p.Detail, tc.detail)
			}
			if strings.Contains(p.Detail, "10.0.0.5") {
				t.Errorf("detail leaks the backend's address: %q", p.Detail)
			}
			w := httptest.NewRecorder()
			WriteError(w, httptest.NewRequest("GET", "/x", nil), tc.err)
			if w.Code != tc.status {
				t.Errorf("written status %d, want %d", w.Code, tc.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			for k, v := range tc.header {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	for i := range table {
		if !covered[&table[i]] {
			t.Errorf("table row %d (%s, %s) has no case", i, table[i].Type, table[i].Title)
		}
	}
	if !covered[&internal] {
		t.Error("the fallback row has no case")
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 59 * time.Second: 59} {
		if got := (&LimitError{RetryAfter: d}).RetryAfterSeconds(); got != want {
			t.Errorf("%s: %d, want %d", d, got, want)
		}
	}
}

func TestChainRunsInListedOrder(t *testing.T) {
	var order []string
	stage := func(name string) Stage {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	h := Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { order = append(order, "handler") }),
		stage("first"), stage("second"), stage("third"))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got := strings.Join(order, " "); got != "first second third handler" {
		t.Errorf("order %q", got)
	}
}

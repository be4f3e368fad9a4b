package backend

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"frontdesk/pipeline"
)

// noBreaker keeps the breaker out of tests about retries.
var noBreaker = Breaker{FailureRatio: 1, MinRequests: 1 << 30, Window: 10 * time.Second, OpenFor: time.Second}

// TestRetryBudgetHolds: against a backend that always fails, 100 GETs with
// 3 attempts each would send 300 requests; the budget (0.2 of the
// window's requests, at least 10) lets through 100 first tries and at
// most 20 retries.
func TestRetryBudgetHolds(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(503)
	}))
	defer srv.Close()
	tr := NewTransport()
	defer tr.CloseIdleConnections()
	c := New(Config{Name: "svc", URLs: []string{srv.URL}, MaxBody: 64, Transport: tr, Breaker: noBreaker,
		Retry: Retry{Attempts: 3, Budget: 0.2}})
	for range 100 {
		c.Do(context.Background(), get("/"))
	}
	if got := n.Load(); got < 110 || got > 120 {
		t.Errorf("the failing backend got %d requests for 100 calls; want 100 and 10 to 20 retries", got)
	}
	// A budget of 0 still allows the floor of 10 retries per window.
	n.Store(0)
	c = New(Config{Name: "svc", URLs: []string{srv.URL}, MaxBody: 64, Transport: tr, Breaker: noBreaker,
		Retry: Retry{Attempts: 3, Budget: 0}})
	for range 50 {
		c.Do(context.Background(), get("/"))
	}
	if got := n.Load(); got != 50+MinRetriesPerWindow {
		t.Errorf("budget 0: %d requests for 50 calls, want %d", got, 50+MinRetriesPerWindow)
	}
}

// TestRetryBudgetWindow: the budget's counts age out with the window.
func TestRetryBudgetWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newRetryBudget(10 * time.Second)
		allowed := 0
		for range 30 {
			if b.allow(0.2) {
				allowed++
			}
		}
		if allowed != MinRetriesPerWindow {
			t.Errorf("no requests: %d retries allowed, want the floor %d", allowed, MinRetriesPerWindow)
		}
		time.Sleep(10 * time.Second)
		for range 100 {
			b.request()
		}
		allowed = 0
		for range 30 {
			if b.allow(0.2) {
				allowed++
			}
		}
		if allowed != 20 {
			t.Errorf("a window later, 100 requests: %d retries allowed, want 20", allowed)
		}
	})
}

// TestRetryBackoffWithinDeadline, on synctest's clock: each retry waits
// its back-off (base doubled per try, jittered into its upper half), and
// no try is made whose wait would pass the call's deadline: the call ends
// with the last answer, before its deadline, not with a timeout.
func TestRetryBackoffWithinDeadline(t *testing.T) {
	for run := range 20 { // the jitter differs from run to run
		synctest.Test(t, func(t *testing.T) {
			var mu sync.Mutex
			var sent []time.Duration
			start := time.Now()
			tr := &fakeTransport{answer: func(*http.Request) (int, time.Duration, error) {
				mu.Lock()
				sent = append(sent, time.Since(start))
				mu.Unlock()
				return 503, 0, nil
			}}
			c := New(Config{Name: "svc", URLs: []string{"http://a", "http://b"}, MaxBody: 64, Transport: tr, Breaker: noBreaker,
				Retry: Retry{Attempts: 10, Backoff: 100 * time.Millisecond, Budget: 1}})
			ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
			defer cancel()
			_, err := c.Do(ctx, get("/"))
			took := time.Since(start)
			if failure(err) != pipeline.FailStatus || took >= 350*time.Millisecond {
				t.Fatalf("run %d: %v after %v; want the last 503, before the deadline", run, err, took)
			}
			// Tries at 0, then after 50-100ms, then after 100-200ms more;
			// a fourth would wait 200-400ms, past what is left.
			if len(sent) < 2 || len(sent) > 3 {
				t.Fatalf("run %d: %d tries at %v", run, len(sent), sent)
			}
			for i := 1; i < len(sent); i++ {
				base := 100 * time.Millisecond << (i - 1)
				if gap := sent[i] - sent[i-1]; gap < base/2 || gap > base {
					t.Errorf("run %d: wait before try %d was %v, want %v to %v", run, i+1, gap, base/2, base)
				}
			}
			if tr.count("a") == 0 || tr.count("b") == 0 {
				t.Errorf("run %d: the retries did not go to the other instance: %v", run, tr.hits)
			}
		})
	}
}

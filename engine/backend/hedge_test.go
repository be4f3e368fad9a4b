package backend

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// slowFirst answers host "a" after an hour (or its cancel) and "b" after
// 10ms.
func slowFirst(r *http.Request) (int, time.Duration, error) {
	if r.URL.Host == "a" {
		return 200, time.Hour, nil
	}
	return 200, 10 * time.Millisecond, nil
}

// TestHedgeLatency, on synctest's clock: the first try (to the slow
// instance) has not answered after hedge_after, so a second goes to the
// other instance; the call takes hedge_after plus the fast answer, and the
// slow try is cancelled (synctest would report its goroutine if it were
// left behind).
func TestHedgeLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTransport{answer: slowFirst}
		c := New(Config{Name: "svc", URLs: []string{"http://a", "http://b"}, MaxBody: 64, Transport: tr})
		req := get("/")
		req.HedgeAfter = 80 * time.Millisecond
		start := time.Now()
		resp, err := c.Do(context.Background(), req)
		if took := time.Since(start); err != nil || resp.Status != 200 || took != 90*time.Millisecond {
			t.Errorf("%v %v after %v; want 200 after 90ms (80ms hedge_after, 10ms answer)", err, resp, took)
		}
		if tr.count("a") != 1 || tr.count("b") != 1 {
			t.Errorf("tries: %v, want one to each", tr.hits)
		}
		if n := c.pool.instances[0].inflight.Load(); n != 0 {
			t.Errorf("the cancelled try is still counted in flight: %d", n)
		}
	})
}

// TestHedgeOnlyWhenItMay: no hedge for a POST (not idempotent), without
// hedge_after, or when the first answers in time; a POST the call declares
// idempotent is hedged; hedges stop when the retry budget is spent.
func TestHedgeOnlyWhenItMay(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		after  time.Duration
		retry  *Retry
		hedged bool
	}{
		{"POST", "POST", 80 * time.Millisecond, nil, false},
		{"POST declared idempotent", "POST", 80 * time.Millisecond, &Retry{Attempts: 1, Budget: 1, Idempotent: true}, true},
		{"no hedge_after", "GET", 0, nil, false},
		{"GET", "GET", 80 * time.Millisecond, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := &fakeTransport{answer: slowFirst}
				c := New(Config{Name: "svc", URLs: []string{"http://a", "http://b"}, MaxBody: 64, Transport: tr})
				req := get("/")
				req.Method, req.HedgeAfter, req.Retry = tc.method, tc.after, tc.retry
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				c.Do(ctx, req)
				if hedged := tr.count("b") == 1; hedged != tc.hedged {
					t.Errorf("hedged %v, want %v (%v)", hedged, tc.hedged, tr.hits)
				}
			})
		})
	}
	t.Run("budget", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tr := &fakeTransport{answer: slowFirst}
			c := New(Config{Name: "svc", URLs: []string{"http://a", "http://b"}, MaxBody: 64, Transport: tr,
				Retry: Retry{Attempts: 1, Budget: 0}})
			for range 15 {
				req := get("/")
				req.HedgeAfter = 80 * time.Millisecond
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				c.pool.next.Store(0) // the first try to the slow instance every time
				c.Do(ctx, req)
				cancel()
			}
			if got := tr.count("b"); got != MinRetriesPerWindow {
				t.Errorf("%d hedges sent for 15 slow calls with budget 0; want the floor, %d", got, MinRetriesPerWindow)
			}
		})
	})
}

// TestHedgeLoserClosed, on real sockets: the slow try's connection is
// closed when the fast one wins, and nothing stays open.
func TestHedgeLoserClosed(t *testing.T) {
	var open atomic.Int32
	closed := make(chan struct{}, 16)
	track := func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
			closed <- struct{}{}
		}
	}
	slow := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // until the gateway gives up on it
	}))
	slow.Config.ConnState = track
	slow.Start()
	defer slow.Close()
	fast := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	fast.Config.ConnState = track
	fast.Start()
	defer fast.Close()

	tr := NewTransport()
	c := New(Config{Name: "svc", URLs: []string{slow.URL, fast.URL}, MaxBody: 64, Transport: tr})
	req := get("/")
	req.HedgeAfter = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := c.Do(ctx, req)
	took := time.Since(start)
	if err != nil || resp.Status != 200 {
		t.Fatalf("%v %+v", err, resp)
	}
	if took < 50*time.Millisecond || took > 5*time.Second {
		t.Errorf("took %v; want hedge_after (50ms) plus a fast answer", took)
	}
	tr.CloseIdleConnections()
	for open.Load() > 0 {
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d connections still open after the call and closing idle ones", open.Load())
		}
	}
}

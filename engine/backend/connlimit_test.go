package backend

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"frontdesk/pipeline"
)

// TestMaxConnections: with max_connections 2, at most two requests reach
// the backend at once; a third waits for one to end, and fails as a
// timeout when its deadline passes first.
func TestMaxConnections(t *testing.T) {
	var now, peak atomic.Int32
	release := make(chan struct{})
	arrived := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		defer now.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	tr := NewTransport()
	defer tr.CloseIdleConnections()
	c := New(Config{Name: "svc", URLs: []string{srv.URL}, MaxBody: 64, Transport: tr, MaxConnections: 2, Breaker: noBreaker})

	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 2 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, errs[i] = c.Do(ctx, get("/"))
		})
	}
	for range 2 {
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			t.Fatal("the first two requests did not arrive")
		}
	}
	// The pool is full: a third call waits and times out.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := c.Do(ctx, get("/"))
	cancel()
	if failure(err) != pipeline.FailTimeout {
		t.Errorf("a call past a full pool: %v, want a timeout", err)
	}
	// One that can wait gets a connection when they end.
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, errs[2] = c.Do(ctx, get("/"))
	})
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("the backend saw %d requests at once, want at most (and here exactly) 2", p)
	}
}

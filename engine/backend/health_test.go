package backend

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestHealthBringsBack, on synctest's clock: an instance ejected for 30s
// by its failures comes back as soon as a health check passes, within an
// interval and its jitter; checks stop on Close (synctest reports any
// goroutine left behind).
func TestHealthBringsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		down := true
		tr := &fakeTransport{answer: func(r *http.Request) (int, time.Duration, error) {
			mu.Lock()
			defer mu.Unlock()
			if r.URL.Host == "a" && (down || r.URL.Path != "/healthz") {
				return 500, 0, nil
			}
			return 200, 0, nil
		}}
		c := New(Config{Name: "svc", URLs: []string{"http://a", "http://b"}, MaxBody: 64, Transport: tr, Breaker: noBreaker,
			Health: &Health{Path: "/healthz", Interval: 5 * time.Second, Timeout: time.Second}})
		for range 10 {
			req := get("/")
			req.Method = "POST"
			c.Do(context.Background(), req)
		}
		a := c.pool.instances[0]
		if a.until.Load() == 0 {
			t.Fatal("a was not ejected by its failures")
		}
		c.Start(context.Background())
		defer c.Close()
		time.Sleep(7 * time.Second) // its checks fail: still out
		if a.until.Load() == 0 {
			t.Fatal("a came back though its checks fail")
		}
		mu.Lock()
		down = false // /healthz passes from now on; its other paths still fail
		mu.Unlock()
		time.Sleep(6*time.Second + time.Millisecond) // an interval and a fifth
		if a.until.Load() != 0 {
			t.Errorf("a still ejected after a passing check")
		}
		c.Close()
		n := tr.count("a")
		time.Sleep(time.Minute)
		if tr.count("a") != n {
			t.Error("checks went on after Close")
		}
	})
}

// TestHealthEjects: failing checks alone take an instance out after
// eject_after of them in a row.
func TestHealthEjects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTransport{answer: func(r *http.Request) (int, time.Duration, error) {
			if r.URL.Host == "a" {
				return 0, time.Hour, nil // hangs: the check's timeout ends it
			}
			return 200, 0, nil
		}}
		c := New(Config{Name: "svc", URLs: []string{"http://a", "http://b"}, MaxBody: 64, Transport: tr, EjectAfter: 3,
			Health: &Health{Path: "/healthz", Interval: time.Second, Timeout: 100 * time.Millisecond}})
		ctx, cancel := context.WithCancel(context.Background())
		c.Start(ctx)
		time.Sleep(5 * time.Second) // at least three checks of a, each timing out
		if c.pool.instances[0].until.Load() == 0 {
			t.Error("a hanging instance was not ejected by its checks")
		}
		if c.pool.instances[1].until.Load() != 0 {
			t.Error("the healthy instance was ejected")
		}
		cancel() // the context's end stops them too
		synctest.Wait()
		c.Close()
	})
}

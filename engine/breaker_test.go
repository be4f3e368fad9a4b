package engine_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"testing/synctest"
	"time"

	"frontdesk/engine"
)

// TestBreakerOpenAnswers: once a service's breaker is open, a required
// call to it is a 503 naming the call and the service, sent to no
// backend, and an optional call is a partial answer.
func TestBreakerOpenAnswers(t *testing.T) {
	tr := &hostTransport{status: map[string]int{"down.invalid": 500, "up.invalid": 200}}
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {
			"down": {"urls": ["http://down.invalid"], "breaker": {"min_requests": 2, "failure_ratio": 1}},
			"up":   {"urls": ["http://up.invalid"]}}}`)},
		"e/req.json": {Data: []byte(`{"method": "GET", "path": "/req", "calls": {"cart": {"service": "down", "path": "/x"}}}`)},
		"e/opt.json": {Data: []byte(`{"method": "GET", "path": "/opt", "calls": {
			"cart": {"service": "down", "path": "/x", "optional": true},
			"user": {"service": "up", "path": "/u"}}}`)},
	}
	g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if st := status(g, "GET", "/req"); st != 502 {
			t.Fatalf("before the breaker opens: %d, want 502", st)
		}
	}
	tr.take()
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest("GET", "/req", nil))
	body := w.Body.String()
	if w.Code != 503 || !strings.Contains(body, `"type":"urn:frontdesk:call-breaker-open"`) ||
		!strings.Contains(body, `"call":"cart"`) || !strings.Contains(body, `"service":"down"`) {
		t.Errorf("open breaker, required call: %d %s", w.Code, body)
	}
	w = httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest("GET", "/opt", nil))
	if w.Code != 200 || w.Header().Get("Partial-Response") != "cart" {
		t.Errorf("open breaker, optional call: %d %q %s", w.Code, w.Header().Get("Partial-Response"), w.Body)
	}
	if got := strings.Join(tr.take(), ","); got != "GET up.invalid" {
		t.Errorf("sent %q; an open breaker sends nothing", got)
	}
}

// TestGatewayRunsHealthChecks: Gateway.Start starts each service's health
// checks and Close stops them (synctest fails on a goroutine left
// behind).
func TestGatewayRunsHealthChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &hostTransport{status: map[string]int{"a.invalid": 200, "b.invalid": 200}}
		fsys := fstest.MapFS{
			"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {
				"s": {"urls": ["http://a.invalid", "http://b.invalid"], "health": {"path": "/healthz", "interval": "1s"}}}}`)},
			"e/x.json": {Data: []byte(`{"method": "GET", "path": "/x", "calls": {"c": {"service": "s", "path": "/x"}}}`)},
		}
		g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: tr})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		g.Close()
		got := strings.Join(tr.take(), ",")
		if !strings.Contains(got, "GET a.invalid") || !strings.Contains(got, "GET b.invalid") {
			t.Errorf("no checks of both instances: %q", got)
		}
		time.Sleep(time.Minute)
		if left := tr.take(); len(left) != 0 {
			t.Errorf("checks after Close: %v", left)
		}
	})
}

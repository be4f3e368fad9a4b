package engine_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"testing/synctest"
	"time"

	"frontdesk/engine"
)

// headerTransport records each backend request's X-Request-Timeout-Ms by
// path, answers after the path's delay on the bubble's clock, and fails
// the paths in fail with a 503.
type headerTransport struct {
	mu     sync.Mutex
	delays map[string]time.Duration
	fail   map[string]bool
	seen   map[string][]string
}

func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.seen[r.URL.Path] = append(t.seen[r.URL.Path], r.Header.Get("X-Request-Timeout-Ms"))
	d, fail := t.delays[r.URL.Path], t.fail[r.URL.Path]
	t.mu.Unlock()
	select {
	case <-time.After(d):
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	status := 200
	if fail {
		status = 503
	}
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"n":1}`)), ContentLength: 7, Request: r}, nil
}

// TestRequestTimeoutHeader: every backend request says how many whole
// milliseconds are left of its call's deadline, which is the call's
// timeout capped by what is left of the endpoint's; a retry says what is
// left when it is sent.
func TestRequestTimeoutHeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &headerTransport{
			delays: map[string]time.Duration{"/head": 200 * time.Millisecond, "/flaky": 50 * time.Millisecond},
			fail:   map[string]bool{"/flaky": true},
			seen:   map[string][]string{},
		}
		fsys := fstest.MapFS{
			"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"s": {"urls": ["http://a.invalid", "http://b.invalid"]}}}`)},
			"e/x.json": {Data: []byte(`{"method": "GET", "path": "/x", "timeout": "500ms", "calls": {
				"head": {"service": "s", "path": "/head"},
				"own":   {"service": "s", "path": "/own", "timeout": "300ms"},
				"later": {"service": "s", "path": "/later", "timeout": "1s", "after": ["head"]},
				"flaky": {"service": "s", "path": "/flaky", "optional": true}}}`)},
		}
		g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: tr})
		if err != nil {
			t.Fatal(err)
		}
		w, _ := serveTimed(g, "/x")
		if w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		want := map[string][]string{
			"/head":  {"500"},        // the endpoint's 500ms
			"/own":   {"300"},        // its own 300ms
			"/later": {"300"},        // 1s, capped by the 300ms the endpoint has left after head
			"/flaky": {"500", "450"}, // the retry, sent 50ms later
		}
		for path, w := range want {
			if got := strings.Join(tr.seen[path], ","); got != strings.Join(w, ",") {
				t.Errorf("%s sent X-Request-Timeout-Ms %q, want %q", path, got, strings.Join(w, ","))
			}
		}
	})
}

// hostDelay answers each host after its delay on the bubble's clock.
type hostDelay map[string]time.Duration

func (h hostDelay) RoundTrip(r *http.Request) (*http.Response, error) {
	select {
	case <-time.After(h[r.URL.Host]):
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"host":"` + r.URL.Host + `"}`)), ContentLength: -1, Request: r}, nil
}

// TestHedgeThroughTheEngine: a call's hedge_after reaches its backend
// client: the slow first instance is hedged onto the fast one.
func TestHedgeThroughTheEngine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fsys := fstest.MapFS{
			"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"s": {"urls": ["http://slow.invalid", "http://fast.invalid"]}}}`)},
			"e/x.json": {Data: []byte(`{"method": "GET", "path": "/x", "calls": {
				"c": {"service": "s", "path": "/c", "hedge_after": "30ms"}}}`)},
		}
		g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: hostDelay{"slow.invalid": time.Hour, "fast.invalid": 5 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		w, took := serveTimed(g, "/x")
		if w.Code != 200 || took != 35*time.Millisecond || !strings.Contains(w.Body.String(), "fast.invalid") {
			t.Errorf("%d after %v: %s; want the fast instance's answer after 35ms", w.Code, took, w.Body)
		}
	})
}

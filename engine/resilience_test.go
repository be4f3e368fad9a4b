package engine_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"testing/synctest"
	"time"

	"frontdesk/engine"
)

// hostTransport answers by host: each host's answer is a status (0 means a
// connection failure), and every request is logged as "METHOD host".
type hostTransport struct {
	mu     sync.Mutex
	status map[string]int
	log    []string
}

func (t *hostTransport) set(host string, status int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.status[host] = status
}

func (t *hostTransport) take() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.log
	t.log = nil
	return l
}

func (t *hostTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	st := t.status[r.URL.Host]
	t.log = append(t.log, r.Method+" "+r.URL.Host)
	t.mu.Unlock()
	if r.Body != nil {
		r.Body.Close()
	}
	if st == 0 {
		return nil, errors.New("connection refused")
	}
	return &http.Response{StatusCode: st, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{}`)), ContentLength: 2, Request: r}, nil
}

func loadHosts(t *testing.T, tr *hostTransport, hosts ...string) *engine.Gateway {
	t.Helper()
	return loadHostsWith(t, tr, "", hosts...)
}

// loadHostsWith is loadHosts with more keys for the service (", ...").
func loadHostsWith(t *testing.T, tr *hostTransport, keys string, hosts ...string) *engine.Gateway {
	t.Helper()
	urls := make([]string, len(hosts))
	for i, h := range hosts {
		urls[i] = `"http://` + h + `"`
	}
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"s": {"urls": [` + strings.Join(urls, ",") + `]` + keys + `}}}`)},
		"e/get.json":   {Data: []byte(`{"method": "GET", "path": "/get", "calls": {"c": {"service": "s", "path": "/x"}}}`)},
		"e/post.json":  {Data: []byte(`{"method": "POST", "path": "/post", "calls": {"c": {"service": "s", "method": "POST", "path": "/x", "body": {"a": 1}}}}`)},
	}
	g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func status(g *engine.Gateway, method, path string) int {
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w.Code
}

func TestRetryIdempotentOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hosts  map[string]int
		method string
		path   string
		want   int
		tries  []string
	}{
		{"GET after a 503 goes to the other instance", map[string]int{"a": 503, "b": 200}, "GET", "/get", 200, []string{"GET a", "GET b"}},
		{"GET after a connection failure too", map[string]int{"a": 0, "b": 200}, "GET", "/get", 200, []string{"GET a", "GET b"}},
		{"GET is tried twice at most", map[string]int{"a": 502, "b": 504}, "GET", "/get", 502, []string{"GET a", "GET b"}},
		{"a 500 is not retried", map[string]int{"a": 500, "b": 200}, "GET", "/get", 502, []string{"GET a"}},
		{"a 404 is not retried", map[string]int{"a": 404, "b": 200}, "GET", "/get", 404, []string{"GET a"}},
		{"POST is never retried", map[string]int{"a": 503, "b": 200}, "POST", "/post", 502, []string{"POST a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &hostTransport{status: tc.hosts}
			g := loadHosts(t, tr, "a", "b") // round robin asks a first
			if got := status(g, tc.method, tc.path); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
			if got := tr.take(); strings.Join(got, ",") != strings.Join(tc.tries, ",") {
				t.Errorf("backend saw %v, want %v", got, tc.tries)
			}
		})
	}
}

func TestRetrySingleInstance(t *testing.T) {
	tr := &hostTransport{status: map[string]int{"only": 503}}
	g := loadHosts(t, tr, "only")
	if got := status(g, "GET", "/get"); got != 502 {
		t.Errorf("status %d", got)
	}
	if got := tr.take(); len(got) != 2 {
		t.Errorf("with one instance the retry goes to it again: %v", got)
	}
}

// TestEjection checks on a fake clock that an instance failing 5 times in a
// row is left out for 30s, then 60s after failing again, and that one
// instance always stays in.
func TestEjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &hostTransport{status: map[string]int{"a": 500, "b": 200}}
		// No breaker in the way: this is about ejection alone.
		g := loadHostsWith(t, tr, `, "breaker": {"min_requests": 1000000}`, "a", "b")
		countA := func(n int) int {
			tr.take()
			for range n {
				status(g, "GET", "/get")
			}
			a := 0
			for _, l := range tr.take() {
				if l == "GET a" {
					a++
				}
			}
			return a
		}
		// Round robin sends every other request to a: 10 requests fail a
		// 5 times in a row, and out it goes.
		if got := countA(10); got != 5 {
			t.Fatalf("a got %d of 10 requests before ejection, want 5", got)
		}
		if got := countA(20); got != 0 {
			t.Fatalf("a got %d requests while ejected", got)
		}
		time.Sleep(30*time.Second + time.Millisecond)
		if got := countA(10); got != 5 {
			t.Fatalf("a got %d of 10 requests after 30s, want 5 (back in)", got)
		}
		// Ejected again, now for 60s.
		time.Sleep(30*time.Second + time.Millisecond)
		if got := countA(10); got != 0 {
			t.Fatalf("a got %d requests 30s into its second ejection", got)
		}
		time.Sleep(30 * time.Second)
		tr.set("a", 200)
		if got := countA(10); got != 5 {
			t.Fatalf("a got %d of 10 requests after 60s", got)
		}
		// b failing too: a is ejected after 5, b then never is.
		tr.set("a", 500)
		tr.set("b", 500)
		if got := countA(10); got != 5 {
			t.Fatalf("a got %d of 10 requests before its third ejection", got)
		}
		if got := countA(20); got != 0 {
			t.Fatalf("a got %d requests while ejected with b failing too", got)
		}
		tr.take()
		for range 20 {
			status(g, "GET", "/get")
		}
		if got := strings.Count(strings.Join(tr.take(), ","), "GET b"); got != 20 {
			t.Fatalf("b, the last in service, got %d of 20 requests", got)
		}
	})
}

package limit

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"frontdesk/pipeline"
	"frontdesk/pipeline/store/redistest"
)

// served is a real server with g in front of a handler that counts the
// requests that reach it.
func served(t *testing.T, g *Guard) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var reached atomic.Int32
	h := g.Stage(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	srv := httptest.NewServer(pipeline.Chain(h, pipeline.RequestID))
	t.Cleanup(srv.Close)
	return srv, &reached
}

func get(t *testing.T, srv *httptest.Server, client string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/x", nil)
	req.Header.Set("X-Client", client)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// byClient picks l and the X-Client header as the key.
func byClient(l Limiter) func(*http.Request) (Limiter, string, error) {
	return func(r *http.Request) (Limiter, string, error) { return l, r.Header.Get("X-Client"), nil }
}

// TestGuard: every answer of a limited endpoint carries the RateLimit
// headers; over the limit is a 429 problem with Retry-After, at once, and
// the handler behind is not reached.
func TestGuard(t *testing.T) {
	l := mustLimiter(t, NewMemory(MemoryOptions{}), "GET /x", "1/m", 2)
	g := &Guard{Pick: byClient(l)}
	srv, reached := served(t, g)
	for i, want := range []string{"1", "0"} {
		resp := get(t, srv, "a")
		if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "2" || resp.Header.Get("RateLimit-Remaining") != want {
			t.Fatalf("request %d: %d %v", i+1, resp.StatusCode, resp.Header)
		}
	}
	if reset := get(t, srv, "b").Header.Get("RateLimit-Reset"); reset != "60" {
		t.Errorf("RateLimit-Reset after one request of 1/m: %q, want 60", reset)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/x", nil)
	req.Header.Set("X-Client", "a")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
	}
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if resp.StatusCode != 429 || p.Type != "urn:frontdesk:rate-limited" || p.Status != 429 {
		t.Fatalf("over the limit: %d %+v", resp.StatusCode, p)
	}
	ra := resp.Header.Get("Retry-After")
	if ra != "60" {
		t.Errorf("Retry-After %q, want 60 (one request back at 1/m)", ra)
	}
	if resp.Header.Get("RateLimit-Remaining") != "0" || resp.Header.Get("RateLimit-Limit") != "2" || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("429 headers: %v", resp.Header)
	}
	if reached.Load() != 3 || g.Rejected() != 1 {
		t.Errorf("reached %d, rejected %d; want 3 and 1", reached.Load(), g.Rejected())
	}
}

// TestGuardPick: no limiter is no limit and no headers; a Pick error is
// the request's answer.
func TestGuardPick(t *testing.T) {
	srv, _ := served(t, &Guard{Pick: func(r *http.Request) (Limiter, string, error) {
		if r.Header.Get("X-Client") == "bad" {
			return nil, "", &pipeline.AuthError{Status: 401, Detail: "no"}
		}
		return nil, "", nil
	}})
	if resp := get(t, srv, "x"); resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "" {
		t.Errorf("unlimited: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := get(t, srv, "bad"); resp.StatusCode != 401 {
		t.Errorf("pick error: %d", resp.StatusCode)
	}
}

// TestRetryAfterAtLeastOne: a refusal with less than a second to wait
// still says Retry-After: 1.
func TestRetryAfterAtLeastOne(t *testing.T) {
	srv, _ := served(t, &Guard{Pick: byClient(mustLimiter(t, NewMemory(MemoryOptions{}), "e", "2/s", 1))}) // 500ms between requests: the second comes well within it
	get(t, srv, "a")
	resp := get(t, srv, "a")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || resp.Header.Get("RateLimit-Reset") != "1" {
		t.Errorf("%d Retry-After %q Reset %q", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("RateLimit-Reset"))
	}
}

// TestRedisStopped: Redis killed mid-run. With on_store_error allow the
// requests go on (no RateLimit headers), with deny they are 503
// store-unavailable, both within the timeout; the errors are counted and
// logged (a bounded number of lines); when Redis is back, limiting resumes.
func TestRedisStopped(t *testing.T) {
	srvRedis := redistest.Start(t)
	const timeout = 100 * time.Millisecond
	conn := openRedis(t, srvRedis.URL(), "", timeout)
	l := mustLimiter(t, NewRedis(conn), "GET /x", "100/s", 100)
	logged := &syncWriter{}
	log := slog.New(slog.NewTextHandler(logged, nil))
	allowG := &Guard{Pick: byClient(l), OnStoreError: Allow, Log: log, Endpoint: "GET /x"}
	denyG := &Guard{Pick: byClient(l), OnStoreError: Deny, Log: log, Endpoint: "GET /x"}
	allowSrv, reached := served(t, allowG)
	denySrv, _ := served(t, denyG)

	if resp := get(t, allowSrv, "a"); resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "100" {
		t.Fatalf("with Redis up: %d %v", resp.StatusCode, resp.Header)
	}
	srvRedis.Stop()
	for i := range 10 {
		t0 := time.Now()
		a := get(t, allowSrv, "a")
		ela := time.Since(t0)
		t0 = time.Now()
		d := get(t, denySrv, "a")
		eld := time.Since(t0)
		if a.StatusCode != 200 || a.Header.Get("RateLimit-Limit") != "" {
			t.Fatalf("allow, Redis down, request %d: %d %v", i, a.StatusCode, a.Header)
		}
		if d.StatusCode != 503 {
			t.Fatalf("deny, Redis down, request %d: %d", i, d.StatusCode)
		}
		// The timeout plus the loopback HTTP round trip; generous under -race.
		if ela > timeout+time.Second || eld > timeout+time.Second {
			t.Fatalf("request %d took %s / %s with a %s timeout", i, ela, eld, timeout)
		}
	}
	if allowG.StoreErrors() != 10 || denyG.StoreErrors() != 10 || reached.Load() != 11 {
		t.Errorf("store errors %d/%d, reached %d", allowG.StoreErrors(), denyG.StoreErrors(), reached.Load())
	}
	if n := strings.Count(logged.String(), "rate limit store failed"); n < 1 || n > 2 {
		t.Errorf("%d log lines for 20 errors, want 1 or 2:\n%s", n, logged.String())
	}

	srvRedis.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := get(t, denySrv, "a")
		if resp.StatusCode == 200 && resp.Header.Get("RateLimit-Limit") == "100" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis is back but the guard still answers %d", resp.StatusCode)
		}
		// Each failed request costs up to the timeout, or nothing while
		// the store's 50ms fail-fast window lasts: wait for it to pass.
		<-time.After(10 * time.Millisecond)
	}
	if resp := get(t, allowSrv, "b"); resp.Header.Get("RateLimit-Remaining") != "99" {
		t.Errorf("after the restart: %v", resp.Header)
	}
}

// syncWriter is a log destination safe for the server's goroutines.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

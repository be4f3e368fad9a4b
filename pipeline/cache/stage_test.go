package cache

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"frontdesk/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a gateway on 127.0.0.1 (the cache stage in front of a plan that
// calls a real backend) and that backend, which counts its requests.
type rig struct {
	t       *testing.T
	backend *httptest.Server
	calls   atomic.Int32
	gw      *httptest.Server
	cache   *Cache
}

// answer is what the backend answers a request.
type answer func(w http.ResponseWriter, r *http.Request)

// keyOf keys on query v, header X-Variant, and the X-User identity.
func keyOf(r *http.Request) (*Request, error) {
	if r.URL.Query().Get("keyerr") != "" {
		return nil, &pipeline.ExprError{Field: "cache.vary[0]", Err: fmt.Errorf("boom")}
	}
	return &Request{Method: r.Method, Route: "/items/{id}", Identity: r.Header.Get("X-User"),
		Parts: ReadParts(r, []Source{{Param, "id"}, {Query, "v"}, {Header, "X-Variant"}}, nil)}, nil
}

// plan is the handler behind the cache: one backend call, its status,
// body and some headers passed on, and a Server-Timing of its own.
func plan(backend string, client *http.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		breq, _ := http.NewRequestWithContext(r.Context(), "GET", backend+r.URL.RequestURI(), nil)
		breq.Header.Set("X-User", r.Header.Get("X-User"))
		resp, err := client.Do(breq)
		if err != nil {
			pipeline.WriteError(w, r, &pipeline.CallError{Call: "item", Failure: pipeline.FailUnreachable, Err: err})
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			if strings.HasPrefix(k, "X-") || k == "Content-Type" || k == "Set-Cookie" || k == "Partial-Response" || k == "Cache-Control" {
				w.Header()[k] = vs
			}
		}
		w.Header().Set("Server-Timing", "item;dur=1, total;dur=2")
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
}

func newRig(t *testing.T, st Store, cfg Config, a answer) *rig {
	t.Helper()
	g := &rig{t: t}
	g.backend = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := g.calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Call", fmt.Sprint(n))
		if a != nil {
			a(w, r)
			return
		}
		fmt.Fprintf(w, `{"call":%d,"user":%q}`, n, r.Header.Get("X-User"))
	}))
	t.Cleanup(g.backend.Close)
	if cfg.TTL == 0 {
		cfg.TTL = 30 * time.Second
	}
	if st == nil {
		st = newMemory(t, MemoryOptions{})
	}
	c, err := New(st, cfg, keyOf, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.cache = c
	mux := http.NewServeMux()
	mux.Handle("/items/{id}", c.Stage(plan(g.backend.URL, g.backend.Client())))
	g.gw = httptest.NewServer(pipeline.Chain(mux, pipeline.RequestID))
	t.Cleanup(g.gw.Close)
	return g
}

type got struct {
	status int
	header http.Header
	body   string
}

func (g *rig) do(method, path string, header ...string) got {
	g.t.Helper()
	req, _ := http.NewRequest(method, g.gw.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := g.gw.Client().Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return got{resp.StatusCode, resp.Header, string(b)}
}

// TestMissThenHit: a miss runs the calls and says fwd=miss with the
// Cache-Control of its scope; the next request is a hit with the same
// status, body and replayed headers, Age, and a Server-Timing of its own.
func TestMissThenHit(t *testing.T) {
	g := newRig(t, nil, Config{Scope: ScopeShared, Headers: []string{"x-call"}}, nil)
	a := g.do("GET", "/items/1")
	if a.status != 200 || a.header.Get("Cache-Status") != "frontdesk; fwd=miss" || a.header.Get("Cache-Control") != "public, max-age=30" {
		t.Fatalf("miss: %d %v", a.status, a.header)
	}
	b := g.do("GET", "/items/1")
	if b.status != 200 || b.body != a.body || b.header.Get("Cache-Status") != "frontdesk; hit" || b.header.Get("Age") != "0" {
		t.Fatalf("hit: %d %q %v", b.status, b.body, b.header)
	}
	if b.header.Get("Content-Type") != "application/json" || b.header.Get("X-Call") != "1" || b.header.Get("Cache-Control") != "public, max-age=30" {
		t.Errorf("replayed headers: %v", b.header)
	}
	if st := b.header.Get("Server-Timing"); !strings.HasPrefix(st, "total;dur=") || strings.Contains(st, "item") {
		t.Errorf("a hit's Server-Timing %q", st)
	}
	if b.header.Get("X-Request-Id") == a.header.Get("X-Request-Id") {
		t.Error("a hit replayed the first request's id")
	}
	if g.calls.Load() != 1 {
		t.Errorf("backend called %d times", g.calls.Load())
	}
	if s := g.cache.Stats(); s.Hits != 1 || s.Misses != 1 || s.Stored != 1 {
		t.Errorf("stats %+v", s)
	}
	// HEAD has its own entry, and no body.
	if h := g.do("HEAD", "/items/1"); h.status != 200 || h.header.Get("Cache-Status") != "frontdesk; fwd=miss" || h.body != "" {
		t.Errorf("HEAD: %d %v", h.status, h.header)
	}
	if h := g.do("HEAD", "/items/1"); h.header.Get("Cache-Status") != "frontdesk; hit" || h.body != "" {
		t.Errorf("HEAD again: %v", h.header)
	}
}

// TestVariantsApart: the path parameter, a read query parameter, a read
// header's value (in any case of its name) and the identity (scope user)
// each pick their own entry; a parameter nothing reads does not.
func TestVariantsApart(t *testing.T) {
	g := newRig(t, nil, Config{Scope: ScopeUser}, nil)
	first := g.do("GET", "/items/1?v=a", "X-Variant", "EUR", "X-User", "alice")
	if first.header.Get("Cache-Control") != "private, max-age=30" {
		t.Errorf("scope user: %v", first.header)
	}
	for _, tc := range []struct {
		path   string
		header []string
		hit    bool
	}{
		{"/items/1?v=a", []string{"x-variant", "EUR", "X-User", "alice"}, true},
		{"/items/1?v=a&unread=1", []string{"X-Variant", "EUR", "X-User", "alice"}, true},
		{"/items/2?v=a", []string{"X-Variant", "EUR", "X-User", "alice"}, false},
		{"/items/1?v=b", []string{"X-Variant", "EUR", "X-User", "alice"}, false},
		{"/items/1?v=a&v=a", []string{"X-Variant", "EUR", "X-User", "alice"}, false},
		{"/items/1?v=a", []string{"X-Variant", "eur", "X-User", "alice"}, false},
		{"/items/1?v=a", []string{"X-Variant", "EUR", "X-Variant", "EUR", "X-User", "alice"}, false},
		{"/items/1?v=a", []string{"X-Variant", "EUR", "X-User", "bob"}, false},
		{"/items/1?v=a", []string{"X-Variant", "EUR"}, false},
	} {
		r := g.do("GET", tc.path, tc.header...)
		if hit := r.header.Get("Cache-Status") == "frontdesk; hit"; hit != tc.hit {
			t.Errorf("%s %q: hit %v, want %v", tc.path, tc.header, hit, tc.hit)
		}
		if strings.Contains(r.body, "alice") && !strings.Contains(strings.Join(tc.header, " "), "alice") {
			t.Errorf("%s %q got alice's body %s", tc.path, tc.header, r.body)
		}
	}
}

// TestNeverStored: errors, partial answers, answers with Set-Cookie or a
// Cache-Control of their own forbidding it, and requests with no-store run
// the calls every time; the request goes on normally.
func TestNeverStored(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scope  Scope
		a      answer
		header []string
	}{
		{"500", ScopeShared, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, nil},
		{"404", ScopeShared, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }, nil},
		{"302", ScopeShared, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(302) }, nil},
		{"partial", ScopeShared, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Partial-Response", "user")
			io.WriteString(w, "{}")
		}, nil},
		{"set-cookie", ScopeUser, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Set-Cookie", "s=1")
			io.WriteString(w, "{}")
		}, nil},
		{"response no-store", ScopeUser, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "No-Store")
			io.WriteString(w, "{}")
		}, nil},
		{"private in a shared cache", ScopeShared, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=5, private")
			io.WriteString(w, "{}")
		}, nil},
		{"request no-store", ScopeShared, nil, []string{"Cache-Control", "no-store"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, nil, Config{Scope: tc.scope}, tc.a)
			for i := range 3 {
				r := g.do("GET", "/items/1", tc.header...)
				if r.header.Get("Cache-Status") != "frontdesk; fwd=miss" {
					t.Errorf("request %d: Cache-Status %q", i, r.header.Get("Cache-Status"))
				}
				if tc.a != nil && strings.Contains(r.header.Get("Cache-Control"), "max-age=30") {
					t.Errorf("an answer that is not stored says %q", r.header.Get("Cache-Control"))
				}
			}
			if g.calls.Load() != 3 {
				t.Errorf("backend called %d times for 3 requests", g.calls.Load())
			}
			if s := g.cache.Stats(); s.Stored != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
	// A response that sets its own Cache-Control keeps it, and is stored.
	g := newRig(t, nil, Config{Scope: ScopeUser}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=5")
		io.WriteString(w, "{}")
	})
	g.do("GET", "/items/1")
	if r := g.do("GET", "/items/1"); r.header.Get("Cache-Status") != "frontdesk; hit" || r.header.Get("Cache-Control") != "private, max-age=5" {
		t.Errorf("own Cache-Control: %v", r.header)
	}
}

// TestClientNoCache: with honor_client_no_cache, no-cache skips the
// lookup and refreshes the entry (fwd=request); without it, no-cache is
// served from the cache.
func TestClientNoCache(t *testing.T) {
	g := newRig(t, nil, Config{Scope: ScopeShared, HonorClientNoCache: true}, nil)
	g.do("GET", "/items/1")
	r := g.do("GET", "/items/1", "Cache-Control", "max-age=0, no-cache")
	if r.header.Get("Cache-Status") != "frontdesk; fwd=request" || !strings.Contains(r.body, `"call":2`) {
		t.Fatalf("no-cache: %v %s", r.header, r.body)
	}
	if r := g.do("GET", "/items/1"); r.header.Get("Cache-Status") != "frontdesk; hit" || !strings.Contains(r.body, `"call":2`) {
		t.Errorf("after the refresh: %v %s", r.header, r.body)
	}
	g2 := newRig(t, nil, Config{Scope: ScopeShared}, nil)
	g2.do("GET", "/items/1")
	if r := g2.do("GET", "/items/1", "Cache-Control", "no-cache"); r.header.Get("Cache-Status") != "frontdesk; hit" {
		t.Errorf("no-cache not honored: %v", r.header)
	}
	// no-cache and no-store together: fresh, and not stored.
	g.do("GET", "/items/1", "Cache-Control", "no-cache, no-store")
	if r := g.do("GET", "/items/1"); !strings.Contains(r.body, `"call":2`) {
		t.Errorf("a no-store refresh was stored: %s", r.body)
	}
}

// TestOtherMethodsBypass: only GET and HEAD are cached.
func TestOtherMethodsBypass(t *testing.T) {
	g := newRig(t, nil, Config{Scope: ScopeShared}, nil)
	for range 2 {
		if r := g.do("POST", "/items/1"); r.header.Get("Cache-Status") != "frontdesk; fwd=method" {
			t.Errorf("POST: %v", r.header)
		}
	}
	if g.calls.Load() != 2 || g.cache.Stats().Bypassed != 2 {
		t.Errorf("calls %d, stats %+v", g.calls.Load(), g.cache.Stats())
	}
}

// TestKeyError: a key that cannot be built is the request's error, and
// the calls do not run.
func TestKeyError(t *testing.T) {
	g := newRig(t, nil, Config{Scope: ScopeShared}, nil)
	if r := g.do("GET", "/items/1?keyerr=1"); r.status != 502 || !strings.Contains(r.body, "urn:frontdesk:expression") {
		t.Errorf("%d %s", r.status, r.body)
	}
	if g.calls.Load() != 0 {
		t.Error("the calls ran")
	}
}

// TestTooBig: an answer over the store's entry bound is served, not
// stored, and counted.
func TestTooBig(t *testing.T) {
	st := newMemory(t, MemoryOptions{MaxSize: 1 << 20, MaxEntry: 1024})
	big := strings.Repeat("x", 2000)
	g := newRig(t, st, Config{Scope: ScopeShared}, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) })
	for range 2 {
		if r := g.do("GET", "/items/1"); r.body != big || r.header.Get("Cache-Status") != "frontdesk; fwd=miss" {
			t.Fatalf("%d bytes, %v", len(r.body), r.header)
		}
	}
	if s := g.cache.Stats(); s.TooBig != 2 || s.Stored != 0 || g.calls.Load() != 2 {
		t.Errorf("stats %+v, calls %d", s, g.calls.Load())
	}
}

// TestCoalescing: 50 simultaneous requests for one key make 1 backend
// request, and the first client (whose request the fill runs) going away
// fails none of the others.
func TestCoalescing(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	g := newRig(t, nil, Config{Scope: ScopeShared}, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, `{"item":1}`)
	})
	var joined atomic.Int32
	allJoined := make(chan struct{})
	g.cache.onJoin = func() {
		if joined.Add(1) == 50 {
			close(allJoined)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", g.gw.URL+"/items/1", nil)
		resp, err := g.gw.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		first <- err
	}()
	wait(t, arrived, "the first request's backend call")
	results := make(chan got, 49)
	var wg sync.WaitGroup
	for range 49 {
		wg.Go(func() { results <- g.do("GET", "/items/1") })
	}
	wait(t, allJoined, "49 more requests waiting on the fill")
	cancel()
	if err := <-first; err == nil {
		t.Error("the cancelled request got an answer")
	}
	close(release)
	wg.Wait()
	close(results)
	for r := range results {
		if r.status != 200 || r.body != `{"item":1}` || r.header.Get("Cache-Status") != "frontdesk; fwd=miss" {
			t.Errorf("a waiter got %d %q %v", r.status, r.body, r.header)
		}
	}
	if n := g.calls.Load(); n != 1 {
		t.Errorf("50 requests made %d backend requests, want 1", n)
	}
	if r := g.do("GET", "/items/1"); r.header.Get("Cache-Status") != "frontdesk; hit" {
		t.Errorf("after the fill: %v", r.header)
	}
	if s := g.cache.Stats(); s.Coalesced != 49 || s.Stored != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestCookieNotShared: waiters on a fill whose answer sets a cookie run
// their own requests; no client gets another's Set-Cookie.
func TestCookieNotShared(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	g := newRig(t, nil, Config{Scope: ScopeShared}, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-User") == "leader" {
			arrived <- struct{}{}
			<-release
		}
		w.Header().Set("Set-Cookie", "session="+r.Header.Get("X-User"))
		io.WriteString(w, "{}")
	})
	var joined atomic.Int32
	allJoined := make(chan struct{})
	g.cache.onJoin = func() {
		if joined.Add(1) == 6 {
			close(allJoined)
		}
	}
	leader := make(chan got, 1)
	go func() { leader <- g.do("GET", "/items/1", "X-User", "leader") }()
	wait(t, arrived, "the leader's backend call")
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			user := fmt.Sprint("u", i)
			r := g.do("GET", "/items/1", "X-User", user)
			if c := r.header.Get("Set-Cookie"); c != "session="+user {
				t.Errorf("%s got Set-Cookie %q", user, c)
			}
		})
	}
	wait(t, allJoined, "5 waiters")
	close(release)
	wg.Wait()
	if r := <-leader; r.header.Get("Set-Cookie") != "session=leader" {
		t.Errorf("the leader got %v", r.header)
	}
	if g.calls.Load() != 6 {
		t.Errorf("%d backend requests, want 6", g.calls.Load())
	}
}

// TestPanicInFill: a panic in the handler behind is a 500 for the
// requests waiting on that fill, and the process goes on.
func TestPanicInFill(t *testing.T) {
	c, err := New(newMemory(t, MemoryOptions{}), Config{TTL: time.Minute, Scope: ScopeShared}, keyOf, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	srv := httptest.NewServer(pipeline.Chain(c.Stage(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			panic("boom")
		}
		io.WriteString(w, "ok")
	})), pipeline.RequestID))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/items/1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(b), "urn:frontdesk:internal") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	resp, err = srv.Client().Get(srv.URL + "/items/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after the panic: %d", resp.StatusCode)
	}
}

// wait waits for ch within 10s.
func wait[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

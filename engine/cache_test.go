package engine_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"frontdesk/engine"
	"frontdesk/pipeline/store/redistest"
)

// fetch sends one request to a real listener and reads the whole answer.
func fetch(t testing.TB, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

const (
	hit  = "frontdesk; hit"
	miss = "frontdesk; fwd=miss"
)

// TestCacheMissThenHit: a miss runs the calls and says fwd=miss, the same
// request then is a hit with Age and the same body, and no backend request;
// another path parameter is another entry.
func TestCacheMissThenHit(t *testing.T) {
	g, be := limitGateway(t, "", map[string]string{"item": `{"method": "GET", "path": "/items/{id}",
  "cache": {"ttl": "30s"},
  "calls": {"it": {"service": "be", "path": "/items/${params.id}"}}}`})
	url := serve(t, g)
	r1, b1 := fetch(t, url+"/items/1")
	if r1.StatusCode != 200 || r1.Header.Get("Cache-Status") != miss || r1.Header.Get("Cache-Control") != "public, max-age=30" {
		t.Fatalf("first: %d %v", r1.StatusCode, r1.Header)
	}
	r2, b2 := fetch(t, url+"/items/1")
	if r2.Header.Get("Cache-Status") != hit || r2.Header.Get("Age") == "" || b2 != b1 || r2.Header.Get("Content-Type") != r1.Header.Get("Content-Type") {
		t.Fatalf("second: %v %q, want a hit of %q", r2.Header, b2, b1)
	}
	if r3, _ := fetch(t, url+"/items/2"); r3.Header.Get("Cache-Status") != miss {
		t.Errorf("another id: %v", r3.Header)
	}
	if n := be.n.Load(); n != 2 {
		t.Errorf("backend requests %d, want 2", n)
	}
	if s, ok := g.CacheStats("GET", "/items/{id}"); !ok || s.Hits != 1 || s.Misses != 2 || s.Stored != 2 {
		t.Errorf("stats %+v", s)
	}
	if c := g.Match("GET", "/items/{id}").Cache(); c == nil || c.Scope != "shared" || c.TTL != 30*time.Second {
		t.Errorf("explain: %+v", c)
	}
}

// TestCacheTTL: on synctest's clock, Age counts the seconds since the
// answer was stored, and after the ttl it is a miss again.
func TestCacheTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := engine.Load(limitFS(t, "http://be.invalid", "", map[string]string{
			"c": `{"method": "GET", "path": "/c/{id}", "cache": {"ttl": "10s"}, "response": {"body": {"id": "params.id"}}}`,
		}), "gateway.json", engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if r := call(g, "GET", "/c/1"); r.header.Get("Cache-Status") != miss {
			t.Fatalf("first: %v", r.header)
		}
		time.Sleep(4 * time.Second)
		if r := call(g, "GET", "/c/1"); r.header.Get("Cache-Status") != hit || r.header.Get("Age") != "4" || r.body["id"] != "1" {
			t.Fatalf("after 4s: %v %s", r.header, r.raw)
		}
		time.Sleep(7 * time.Second)
		if r := call(g, "GET", "/c/1"); r.header.Get("Cache-Status") != miss {
			t.Fatalf("after the ttl: %v", r.header)
		}
	})
}

// TestCacheUserScope: with auth required the default scope is user: two
// clients never share an entry, even when nothing reads auth.
func TestCacheUserScope(t *testing.T) {
	g, be := limitGateway(t, "", map[string]string{"me": `{"method": "GET", "path": "/me",
  "auth": {"require": ["jwt", "api_key"]}, "cache": {"ttl": "30s"},
  "calls": {"it": {"service": "be", "path": "/me"}}}`})
	url := serve(t, g)
	u1 := []string{"Authorization", "Bearer " + token(t, map[string]any{"sub": "u1"})}
	u2 := []string{"Authorization", "Bearer " + token(t, map[string]any{"sub": "u2"})}
	// A key client whose name is u1's sub is not u1.
	key := []string{"X-API-Key", otherKey}
	steps := []struct {
		name   string
		header []string
		status string
	}{{"u1", u1, miss}, {"u1 again", u1, hit}, {"u2", u2, miss}, {"u2 again", u2, hit}, {"a key client", key, miss}, {"u1 a third time", u1, hit}}
	bodies := map[string]string{}
	for _, s := range steps {
		resp, body := fetch(t, url+"/me", s.header...)
		if resp.Header.Get("Cache-Status") != s.status || resp.Header.Get("Cache-Control") != "private, max-age=30" {
			t.Errorf("%s: %v, want %s", s.name, resp.Header, s.status)
		}
		who := strings.Fields(s.name)[0]
		if prev, ok := bodies[who]; ok && prev != body {
			t.Errorf("%s: body %s, before %s", s.name, body, prev)
		}
		bodies[who] = body
	}
	if bodies["u1"] == bodies["u2"] {
		t.Error("u1 and u2 got the same answer")
	}
	if n := be.n.Load(); n != 3 {
		t.Errorf("backend requests %d, want 3", n)
	}
	if c := g.Match("GET", "/me").Cache(); c == nil || c.Scope != "user" {
		t.Errorf("explain: %+v", c)
	}
}

// TestCacheKeyParts: vary, the values expressions read, a header name's
// case (one header), a value's case (two), a crafted query string and a
// repeated parameter.
func TestCacheKeyParts(t *testing.T) {
	g, _ := limitGateway(t, "", map[string]string{
		"vary": `{"method": "GET", "path": "/vary", "cache": {"ttl": "30s", "vary": ["headers['X-Currency']"]},
  "calls": {"it": {"service": "be", "path": "/vary"}}}`,
		"reads": `{"method": "GET", "path": "/reads", "cache": {"ttl": "30s"},
  "calls": {"it": {"service": "be", "path": "/reads", "query": {"a": "query.a", "b": "query.b"}}}}`,
		"formats": `{"method": "GET", "path": "/formats", "cache": {"ttl": "30s"},
  "response": {"body": {"ok": "true"}, "formats": ["json", "xml"]}}`,
		"whole": `{"method": "GET", "path": "/whole", "cache": {"ttl": "30s"},
  "response": {"body": {"q": "query", "n": "len(headers)"}}}`,
	})
	url := serve(t, g)
	steps := []struct {
		name   string
		path   string
		header []string
		status string
	}{
		{"vary EUR", "/vary", []string{"X-Currency", "EUR"}, miss},
		{"vary EUR again", "/vary", []string{"X-Currency", "EUR"}, hit},
		{"vary, the name in lower case", "/vary", []string{"x-currency", "EUR"}, hit},
		{"vary eur", "/vary", []string{"X-Currency", "eur"}, miss},
		{"vary USD", "/vary", []string{"X-Currency", "USD"}, miss},
		{"vary absent", "/vary", nil, miss},
		{"vary absent again", "/vary", nil, hit},
		{"reads a and b", "/reads?a=1&b=2", nil, miss},
		{"reads, another order", "/reads?b=2&a=1", nil, hit},
		{"reads, an unread parameter", "/reads?a=1&b=2&c=3", nil, hit},
		{"reads, crafted into one value", "/reads?a=1%26b%3D2", nil, miss},
		{"reads, a repeated", "/reads?a=1&a=2&b=2", nil, miss},
		{"reads, a joined", "/reads?a=1,2&b=2", nil, miss},
		{"reads, b empty", "/reads?a=1&b=", nil, miss},
		{"reads, b absent", "/reads?a=1", nil, miss},
		{"json", "/formats", []string{"Accept", "application/json"}, miss},
		{"xml", "/formats", []string{"Accept", "application/xml"}, miss},
		{"json again, written otherwise", "/formats", []string{"Accept", "application/json;q=0.9, text/plain;q=0.1"}, hit},
		{"xml again", "/formats", []string{"Accept", "application/xml"}, hit},
		{"whole query", "/whole?x=1", nil, miss},
		{"whole query, another parameter", "/whole?x=1&y=2", nil, miss},
		{"whole query, the same", "/whole?x=1&y=2", nil, hit},
	}
	for _, s := range steps {
		resp, _ := fetch(t, url+s.path, s.header...)
		if got := resp.Header.Get("Cache-Status"); got != s.status {
			t.Errorf("%s: %q, want %q", s.name, got, s.status)
		}
	}
	parts := g.Match("GET", "/reads").Cache().Parts
	if strings.Join(parts, ",") != "method,route,X-Forwarded-Host,X-Forwarded-Proto,query.a,query.b" {
		t.Errorf("parts of /reads: %v", parts)
	}
}

// TestCacheNeverStored: errors, partial answers, answers with Set-Cookie
// and requests with Cache-Control: no-store are never stored.
func TestCacheNeverStored(t *testing.T) {
	var n atomic.Int64
	bsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		switch r.URL.Path {
		case "/fail":
			w.WriteHeader(500)
			return
		case "/cookie":
			w.Header().Set("Set-Cookie", "s=1")
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok": true}`)
	}))
	t.Cleanup(bsrv.Close)
	g, err := engine.Load(limitFS(t, bsrv.URL, "", map[string]string{
		"err":     `{"method": "GET", "path": "/err", "cache": {"ttl": "30s"}, "calls": {"it": {"service": "be", "path": "/fail"}}}`,
		"partial": `{"method": "GET", "path": "/partial", "cache": {"ttl": "30s"}, "calls": {"a": {"service": "be", "path": "/ok"}, "b": {"service": "be", "path": "/fail", "optional": true}}}`,
		"cookie":  `{"method": "GET", "path": "/cookie", "cache": {"ttl": "30s"}, "calls": {"it": {"service": "be", "path": "/cookie", "forward_headers": ["Set-Cookie"]}}}`,
		"ok":      `{"method": "GET", "path": "/ok", "cache": {"ttl": "30s"}, "calls": {"it": {"service": "be", "path": "/ok"}}}`,
	}), "gateway.json", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	url := serve(t, g)
	for _, path := range []string{"/err", "/partial", "/cookie"} {
		for i := range 2 {
			resp, body := fetch(t, url+path)
			if resp.Header.Get("Cache-Status") != miss {
				t.Errorf("%s, request %d: %d %v", path, i, resp.StatusCode, resp.Header)
			}
			// A problem written behind the cache names this request's id.
			if id := resp.Header.Get("X-Request-Id"); path == "/err" && (id == "" || !strings.Contains(body, `"request_id":"`+id+`"`)) {
				t.Errorf("%s: X-Request-Id %q, body %s", path, id, body)
			}
		}
	}
	before := n.Load()
	fetch(t, url+"/ok", "Cache-Control", "no-store")
	if resp, _ := fetch(t, url+"/ok"); resp.Header.Get("Cache-Status") != miss {
		t.Errorf("after a no-store request: %v", resp.Header)
	}
	if resp, _ := fetch(t, url+"/ok"); resp.Header.Get("Cache-Status") != hit {
		t.Errorf("after a stored answer: %v", resp.Header)
	}
	if got := n.Load() - before; got != 2 {
		t.Errorf("backend requests for /ok: %d, want 2", got)
	}
}

// TestCacheCoalescing: 50 simultaneous requests for one key make one
// backend request.
func TestCacheCoalescing(t *testing.T) {
	var n atomic.Int64
	release := make(chan struct{})
	bsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok": true}`)
	}))
	t.Cleanup(bsrv.Close)
	g, err := engine.Load(limitFS(t, bsrv.URL, "", map[string]string{
		"ok": `{"method": "GET", "path": "/ok", "cache": {"ttl": "30s"}, "calls": {"it": {"service": "be", "path": "/ok"}}}`,
	}), "gateway.json", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	url := serve(t, g)
	const clients = 50
	tr := &http.Transport{MaxConnsPerHost: clients, MaxIdleConnsPerHost: clients}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range clients {
		wg.Go(func() {
			resp, err := hc.Get(url + "/ok")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ok.Add(1)
			}
		})
	}
	// Every request has looked up and missed before the backend answers.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, _ := g.CacheStats("GET", "/ok")
		if s.Misses == clients {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d misses", s.Misses)
		}
		<-time.After(time.Millisecond) // polling a counter, bounded by the deadline
	}
	close(release)
	wg.Wait()
	if ok.Load() != clients || n.Load() != 1 {
		t.Errorf("%d answered 200, %d backend requests; want %d, 1", ok.Load(), n.Load(), clients)
	}
}

// TestCacheRedisReplicas: an answer cached by one gateway is a hit on
// another on the same Redis.
func TestCacheRedisReplicas(t *testing.T) {
	rurl := redistest.URL(t)
	be := &counter{}
	bsrv := httptest.NewServer(be)
	t.Cleanup(bsrv.Close)
	fsys := limitFS(t, bsrv.URL, `, "redis": {"url": "`+rurl+`", "prefix": "`+redistest.Prefix(t)+`", "timeout": "2s"},
  "cache": {"store": "redis"}`, map[string]string{"ok": `{"method": "GET", "path": "/ok/{id}", "cache": {"ttl": "30s"}, "calls": {"it": {"service": "be", "path": "/ok"}}}`})
	var urls []string
	for range 2 {
		g, err := engine.Load(fsys, "gateway.json", engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		urls = append(urls, serve(t, g))
	}
	// Behind one load balancer, clients name one host to every replica
	// (the host is in the key: the replicas' own addresses are not).
	r1, b1 := fetch(t, urls[0]+"/ok/1", "Host", "shop.example.com")
	r2, b2 := fetch(t, urls[1]+"/ok/1", "Host", "shop.example.com")
	if r1.Header.Get("Cache-Status") != miss || r2.Header.Get("Cache-Status") != hit || b1 != b2 || be.n.Load() != 1 {
		t.Errorf("replica 1 %v, replica 2 %v, %q vs %q, %d backend requests", r1.Header, r2.Header, b1, b2, be.n.Load())
	}
}

// TestCacheRedisUnreachable: with Redis unreachable every request is a
// miss that runs the calls, within the timeout, and the errors are
// counted.
func TestCacheRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	be := &counter{}
	bsrv := httptest.NewServer(be)
	t.Cleanup(bsrv.Close)
	g, err := engine.Load(limitFS(t, bsrv.URL, `, "redis": {"url": "redis://`+addr+`/0", "timeout": "100ms"},
  "cache": {"store": "redis"}`, map[string]string{"ok": `{"method": "GET", "path": "/ok", "cache": {"ttl": "30s"}, "calls": {"it": {"service": "be", "path": "/ok"}}}`}),
		"gateway.json", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	url := serve(t, g)
	for i := range 3 {
		t0 := time.Now()
		resp, _ := fetch(t, url+"/ok")
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Status") != miss {
			t.Errorf("request %d: %d %v", i, resp.StatusCode, resp.Header)
		}
		if el := time.Since(t0); el > 3*time.Second {
			t.Errorf("request %d took %s", i, el)
		}
	}
	s, _ := g.CacheStats("GET", "/ok")
	if be.n.Load() != 3 || s.StoreErrors < 3 || s.Hits != 0 {
		t.Errorf("%d backend requests, stats %+v", be.n.Load(), s)
	}
}

// TestCallCache: a call's cache keeps one backend answer under the call's
// whole request (path, the headers the spec sends), per client when the
// call reads auth; failed answers are not kept.
func TestCallCache(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	bsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := r.URL.RequestURI() + " " + r.Header.Get("X-Currency") + " " + r.Header.Get("X-User")
		mu.Lock()
		seen[k]++
		mu.Unlock()
		if r.URL.Path == "/fail" {
			w.WriteHeader(503)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"k": "`+k+`"}`)
	}))
	t.Cleanup(bsrv.Close)
	g, err := engine.Load(limitFS(t, bsrv.URL, "", map[string]string{
		"p": `{"method": "GET", "path": "/p/{sku}", "calls": {
  "price": {"service": "be", "path": "/prices/${params.sku}", "headers": {"X-Currency": "query.cur"}, "cache": {"ttl": "5m"}},
  "flaky": {"service": "be", "path": "/fail", "optional": true, "cache": {"ttl": "5m"}}}}`,
		"me": `{"method": "GET", "path": "/me", "auth": {"require": ["jwt"]}, "calls": {
  "me": {"service": "be", "path": "/me", "headers": {"X-User": "auth.sub"}, "cache": {"ttl": "5m"}},
  "shared": {"service": "be", "path": "/shared", "cache": {"ttl": "5m"}}}}`,
	}), "gateway.json", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	url := serve(t, g)
	u1 := []string{"Authorization", "Bearer " + token(t, map[string]any{"sub": "u1"})}
	u2 := []string{"Authorization", "Bearer " + token(t, map[string]any{"sub": "u2"})}
	reqs := []struct {
		path   string
		header []string
	}{
		{"/p/a?cur=EUR", nil}, {"/p/a?cur=EUR", nil}, {"/p/a?cur=USD", nil}, {"/p/b?cur=EUR", nil}, {"/p/a?cur=EUR", nil},
		{"/me", u1}, {"/me", u1}, {"/me", u2}, {"/me", u2},
	}
	bodies := map[string]string{}
	for _, r := range reqs {
		resp, body := fetch(t, url+r.path, r.header...)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", r.path, resp.StatusCode, body)
		}
		k := r.path + strings.Join(r.header, "")
		if prev, ok := bodies[k]; ok && prev != body {
			t.Errorf("%s: %s, before %s", r.path, body, prev)
		}
		bodies[k] = body
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{
		"/prices/a EUR ": 1, "/prices/a USD ": 1, "/prices/b EUR ": 1, "/fail  ": 10, // 5 requests, each retried once (a 503), none kept
		"/me  u1": 1, "/me  u2": 1, "/shared  ": 1,
	}
	for k, n := range want {
		if seen[k] != n {
			t.Errorf("%q reached the backend %d times, want %d (all: %v)", k, seen[k], n, seen)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("backend requests %v", seen)
	}
}

// TestCacheHonorClientNoCache: with cache.honor_client_no_cache a
// request's Cache-Control: no-cache skips the lookup and refreshes the
// entry (fwd=request); without it, no-cache is a hit like any request.
func TestCacheHonorClientNoCache(t *testing.T) {
	spec := map[string]string{"ok": `{"method": "GET", "path": "/ok", "cache": {"ttl": "30s"}, "calls": {"it": {"service": "be", "path": "/ok"}}}`}
	for _, honor := range []bool{true, false} {
		extra := ""
		if honor {
			extra = `, "cache": {"honor_client_no_cache": true}`
		}
		g, be := limitGateway(t, extra, spec)
		url := serve(t, g)
		_, b1 := fetch(t, url+"/ok")
		r2, b2 := fetch(t, url+"/ok", "Cache-Control", "no-cache")
		r3, b3 := fetch(t, url+"/ok")
		switch {
		case honor && (r2.Header.Get("Cache-Status") != "frontdesk; fwd=request" || b2 == b1 || r3.Header.Get("Cache-Status") != hit || b3 != b2 || be.n.Load() != 2):
			t.Errorf("honored: %v %s, then %v %s (first %s), %d backend requests", r2.Header, b2, r3.Header, b3, b1, be.n.Load())
		case !honor && (r2.Header.Get("Cache-Status") != hit || b2 != b1 || be.n.Load() != 1):
			t.Errorf("not honored: %v %s, %d backend requests", r2.Header, b2, be.n.Load())
		}
	}
}

package engine_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"testing/synctest"
	"time"

	"frontdesk/engine"
	"frontdesk/pipeline/auth"
	"frontdesk/pipeline/store/redistest"
)

// counter is a loopback backend that answers {"n": N} and counts requests.
type counter struct{ n atomic.Int64 }

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := c.n.Add(1)
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"n": `+strconv.FormatInt(n, 10)+`, "path": "`+r.URL.Path+`"}`)
}

const otherKey = "other-key-0123456789abc"

// limitGateway loads gateway.json with extra members over one counting
// backend (service "be"), with the endpoints given (path -> spec), a JWT
// issuer and an API key file of two clients: partner-x (its own
// rate_limit, burst 2) and partner-y (none).
func limitGateway(t *testing.T, extra string, endpoints map[string]string) (*engine.Gateway, *counter) {
	t.Helper()
	be := &counter{}
	srv := httptest.NewServer(be)
	t.Cleanup(srv.Close)
	g, err := engine.Load(limitFS(t, srv.URL, extra, endpoints), "gateway.json", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g, be
}

func limitFS(t testing.TB, backend, extra string, endpoints map[string]string) fstest.MapFS {
	keys := `{"clients": {
  "partner-x": {"sha256": ["` + auth.HashKey(partnerKey) + `"], "rate_limit": {"rate": "1/h", "burst": 2}},
  "partner-y": {"sha256": ["` + auth.HashKey(otherKey) + `"]}}}`
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{
  "endpoints": ["endpoints"],
  "services": { "be": { "urls": ["` + backend + `"] } },
  "auth": {
    "jwt": { "public_keys": ["keys/issuer.pem"], "algorithms": ["EdDSA"], "issuer": "https://id.test/", "audience": "shop" },
    "api_keys": { "file": "keys.json" }
  }` + extra + `
}`)},
		"keys/issuer.pem": {Data: pemOf(t, edKey(t).Public())},
		"keys.json":       {Data: []byte(keys)},
	}
	i := 0
	for _, spec := range endpoints {
		fsys["endpoints/e"+strconv.Itoa(i)+".json"] = &fstest.MapFile{Data: []byte(spec)}
		i++
	}
	return fsys
}

// get sends one request to a real listener.
func get(t testing.TB, url string, header ...string) *http.Response {
	t.Helper()
	resp, _ := fetch(t, url, header...)
	return resp
}

func serve(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

const limitedItem = `{"method": "GET", "path": "/items/{id}",
  "rate_limit": {"rate": "1/h", "burst": 3, "key": "ip"},
  "calls": {"it": {"service": "be", "path": "/items/${params.id}"}}}`

// TestRateLimitBurst: the burst goes through with RateLimit headers
// counting down, then a 429 problem with Retry-After and the same headers,
// and no backend request.
func TestRateLimitBurst(t *testing.T) {
	g, be := limitGateway(t, "", map[string]string{"item": limitedItem})
	url := serve(t, g)
	for i := range 3 {
		resp := get(t, url+"/items/1")
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("RateLimit-Limit") != "3" || h.Get("RateLimit-Remaining") != strconv.Itoa(2-i) || h.Get("RateLimit-Reset") == "" {
			t.Fatalf("request %d: %d %v", i, resp.StatusCode, h)
		}
	}
	resp := get(t, url+"/items/2")
	h := resp.Header
	if resp.StatusCode != 429 || h.Get("Content-Type") != "application/problem+json" || h.Get("RateLimit-Remaining") != "0" || h.Get("RateLimit-Limit") != "3" {
		t.Fatalf("over the burst: %d %v", resp.StatusCode, h)
	}
	// One request comes back every hour; the bucket is full after 3.
	if ra := h.Get("Retry-After"); ra != "3600" {
		t.Errorf("Retry-After %q, want 3600", ra)
	}
	if h.Get("RateLimit-Reset") != "10800" {
		t.Errorf("RateLimit-Reset %q, want 10800", h.Get("RateLimit-Reset"))
	}
	if n := be.n.Load(); n != 3 {
		t.Errorf("the backend got %d requests, want 3", n)
	}
	// An endpoint without a limit has no RateLimit headers.
	g2, _ := limitGateway(t, "", map[string]string{"open": `{"method": "GET", "path": "/open", "response": {"body": {"ok": "true"}}}`})
	if resp := get(t, serve(t, g2)+"/open"); resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "" {
		t.Errorf("unlimited endpoint: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestRateLimitKeys: ip, client and an expression each pick the bucket as
// the spec format says, and two endpoints never share one.
func TestRateLimitKeys(t *testing.T) {
	spec := func(path, key string) string {
		return `{"method": "GET", "path": "` + path + `", "auth": {"require": ["jwt", "api_key"]},
  "rate_limit": {"rate": "1/h", "burst": 1, "key": "` + key + `"},
  "response": {"body": {"sub": "auth.sub"}}}`
	}
	public := `{"method": "GET", "path": "/pub", "rate_limit": {"rate": "1/h", "burst": 1},
  "response": {"body": {"ok": "true"}}}`
	g, _ := limitGateway(t, `, "trusted_proxies": ["127.0.0.1", "10.9.0.0/16"]`, map[string]string{
		"client": spec("/client", "client"), "client2": spec("/client2", "client"),
		"ip": spec("/ip", "ip"), "expr": spec("/expr", "query.tenant"), "pub": public,
	})
	url := serve(t, g)
	u1 := []string{"Authorization", "Bearer " + token(t, map[string]any{"sub": "u1"})}
	u2 := []string{"Authorization", "Bearer " + token(t, map[string]any{"sub": "u2"})}
	// A token whose sub is an API key client's name is not that client.
	asClient := []string{"Authorization", "Bearer " + token(t, map[string]any{"sub": "partner-y"})}
	keyY := []string{"X-API-Key", otherKey}
	with := func(h []string, more ...string) []string { return append(append([]string{}, h...), more...) }
	steps := []struct {
		name   string
		path   string
		header []string
		status int
	}{
		{"client u1", "/client", u1, 200},
		{"client u1 again", "/client", u1, 429},
		{"client u2", "/client", u2, 200},
		{"client u1, another endpoint", "/client2", u1, 200},
		{"client partner-y by key", "/client", keyY, 200},
		{"client partner-y again", "/client", keyY, 429},
		{"a token with sub partner-y", "/client", asClient, 200},
		{"public endpoint: the IP", "/pub", nil, 200},
		{"public endpoint: same IP", "/pub", nil, 429},
		{"ip, via a trusted proxy", "/ip", with(u1, "X-Forwarded-For", "192.0.2.1"), 200},
		{"ip, same client, another user", "/ip", with(u2, "X-Forwarded-For", "192.0.2.1"), 429},
		{"ip, another client", "/ip", with(u1, "X-Forwarded-For", "192.0.2.2"), 200},
		{"ip, behind two trusted proxies", "/ip", with(u1, "X-Forwarded-For", "192.0.2.3, 10.9.1.1"), 200},
		{"ip, the same client spoofing a left entry", "/ip", with(u1, "X-Forwarded-For", "198.51.100.7, 192.0.2.3"), 429},
		{"expr tenant a", "/expr?tenant=a", u1, 200},
		{"expr tenant a, another user", "/expr?tenant=a", u2, 429},
		{"expr tenant b", "/expr?tenant=b", u1, 200},
		{"expr without tenant: the IP", "/expr", u1, 200},
		{"expr empty tenant: the IP again", "/expr?tenant=", u2, 429},
	}
	for _, s := range steps {
		resp := get(t, url+s.path, s.header...)
		if resp.StatusCode != s.status {
			t.Errorf("%s: %d, want %d", s.name, resp.StatusCode, s.status)
		}
	}
}

// TestRateLimitIPv6ByPrefix: key "ip" counts an IPv6 client by its /64
// (a subscriber's block: another address in it is the same client) and an
// IPv4-mapped IPv6 address as the IPv4 one.
func TestRateLimitIPv6ByPrefix(t *testing.T) {
	g, _ := limitGateway(t, `, "trusted_proxies": ["127.0.0.1", "::1"]`, map[string]string{
		"ip": `{"method": "GET", "path": "/ip", "rate_limit": {"rate": "1/h", "burst": 1, "key": "ip"},
  "response": {"body": {"ok": "true"}}}`,
	})
	url := serve(t, g)
	for _, s := range []struct {
		xff    string
		status int
	}{
		{"2001:db8:1:2::1", 200},
		{"2001:db8:1:2:ffff:eeee:dddd:cccc", 429}, // the same /64
		{"2001:db8:1:3::1", 200},                  // the next /64
		{"192.0.2.9", 200},
		{"::ffff:192.0.2.9", 429}, // the same IPv4 client
	} {
		if resp := get(t, url+"/ip", "X-Forwarded-For", s.xff); resp.StatusCode != s.status {
			t.Errorf("X-Forwarded-For %s: %d, want %d", s.xff, resp.StatusCode, s.status)
		}
	}
}

// TestRateLimitClientOverride: an API key client's own rate_limit replaces
// the endpoint's for that client; a client without one gets the
// endpoint's; the override also holds on an endpoint with no limit.
func TestRateLimitClientOverride(t *testing.T) {
	g, be := limitGateway(t, "", map[string]string{
		"stock": `{"method": "GET", "path": "/stock", "auth": {"require": ["api_key"]},
  "rate_limit": {"rate": "1/h", "burst": 1},
  "calls": {"s": {"service": "be", "path": "/stock"}}}`,
		"free": `{"method": "GET", "path": "/free", "auth": {"require": ["api_key"]},
  "calls": {"s": {"service": "be", "path": "/free"}}}`,
	})
	url := serve(t, g)
	x := []string{"X-API-Key", partnerKey}
	y := []string{"X-API-Key", otherKey}
	for i, want := range []int{200, 200, 429} {
		resp := get(t, url+"/stock", x...)
		if resp.StatusCode != want || resp.Header.Get("RateLimit-Limit") != "2" {
			t.Errorf("partner-x request %d: %d %v, want %d with its own burst 2", i, resp.StatusCode, resp.Header, want)
		}
	}
	for i, want := range []int{200, 429} {
		resp := get(t, url+"/stock", y...)
		if resp.StatusCode != want || resp.Header.Get("RateLimit-Limit") != "1" {
			t.Errorf("partner-y request %d: %d %v, want %d with the endpoint's burst 1", i, resp.StatusCode, resp.Header, want)
		}
	}
	for i, want := range []int{200, 200, 429} {
		if resp := get(t, url+"/free", x...); resp.StatusCode != want {
			t.Errorf("partner-x on an unlimited endpoint, request %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	for range 3 {
		if resp := get(t, url+"/free", y...); resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "" {
			t.Errorf("partner-y on an unlimited endpoint: %d %v", resp.StatusCode, resp.Header)
		}
	}
	if n := be.n.Load(); n != 2+1+2+3 {
		t.Errorf("backend requests %d, want 8", n)
	}
}

// TestRateLimitDefault: gateway.json's rate_limit.default limits every
// endpoint without a limit of its own, each endpoint in its own buckets.
func TestRateLimitDefault(t *testing.T) {
	g, _ := limitGateway(t, `, "rate_limit": {"default": {"rate": "1/h", "burst": 1, "key": "ip"}, "store": "memory"}`, map[string]string{
		"a": `{"method": "GET", "path": "/a", "response": {"body": {"ok": "true"}}}`,
		"b": `{"method": "GET", "path": "/b", "response": {"body": {"ok": "true"}}}`,
		"c": `{"method": "GET", "path": "/c", "rate_limit": {"rate": "1/h", "burst": 2}, "response": {"body": {"ok": "true"}}}`,
	})
	url := serve(t, g)
	for _, s := range []struct {
		path   string
		status int
	}{{"/a", 200}, {"/a", 429}, {"/b", 200}, {"/c", 200}, {"/c", 200}, {"/c", 429}} {
		if resp := get(t, url+s.path); resp.StatusCode != s.status {
			t.Errorf("%s: %d, want %d", s.path, resp.StatusCode, s.status)
		}
	}
	if rl := g.Match("GET", "/a").RateLimit(); rl == nil || rl.Rate != "1/h" || rl.Burst != 1 || rl.Key != "ip" || !rl.Default {
		t.Errorf("explain of /a: %+v", rl)
	}
}

// TestRateLimitRefill: on synctest's clock, an empty bucket gives one
// request back per interval, and is full again after RateLimit-Reset.
func TestRateLimitRefill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := engine.Load(limitFS(t, "http://be.invalid", "", map[string]string{
			"r": `{"method": "GET", "path": "/r", "rate_limit": {"rate": "2/s", "burst": 4, "key": "ip"}, "response": {"body": {"ok": "true"}}}`,
		}), "gateway.json", engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		do := func() reply { return call(g, "GET", "/r") }
		for range 4 {
			if r := do(); r.status != 200 {
				t.Fatalf("burst: %d", r.status)
			}
		}
		r := do()
		if r.status != 429 || r.header.Get("Retry-After") != "1" || r.header.Get("RateLimit-Reset") != "2" {
			t.Fatalf("empty: %d %v", r.status, r.header)
		}
		time.Sleep(500 * time.Millisecond)
		if r := do(); r.status != 200 || r.header.Get("RateLimit-Remaining") != "0" {
			t.Fatalf("after one interval: %d %v", r.status, r.header)
		}
		if r := do(); r.status != 429 {
			t.Fatalf("one came back, not two: %d", r.status)
		}
		time.Sleep(2 * time.Second)
		if r := do(); r.status != 200 || r.header.Get("RateLimit-Remaining") != "3" {
			t.Fatalf("full again: %d %v", r.status, r.header)
		}
	})
}

// TestRateLimitRedisReplicas: two gateways loaded from the same files (two
// replicas) on one Redis let exactly the burst through together.
func TestRateLimitRedisReplicas(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t)
	be := &counter{}
	bsrv := httptest.NewServer(be)
	t.Cleanup(bsrv.Close)
	fsys := limitFS(t, bsrv.URL, `, "redis": {"url": "`+url+`", "prefix": "`+prefix+`", "timeout": "2s"},
  "rate_limit": {"store": "redis", "on_store_error": "deny"}`, map[string]string{"item": `{"method": "GET", "path": "/items/{id}",
  "rate_limit": {"rate": "1/h", "burst": 7, "key": "ip"},
  "calls": {"it": {"service": "be", "path": "/items/${params.id}"}}}`})
	var urls []string
	for range 2 {
		g, err := engine.Load(fsys, "gateway.json", engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		urls = append(urls, serve(t, g))
	}
	var ok, limited, other atomic.Int32
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			resp := get(t, urls[i%2]+"/items/"+strconv.Itoa(i))
			switch resp.StatusCode {
			case 200:
				ok.Add(1)
			case 429:
				limited.Add(1)
			default:
				other.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 7 || limited.Load() != 23 || other.Load() != 0 || be.n.Load() != 7 {
		t.Errorf("%d allowed, %d limited, %d other, %d backend requests; want 7, 23, 0, 7", ok.Load(), limited.Load(), other.Load(), be.n.Load())
	}
}

// TestRateLimitRedisStopped: with Redis stopped, on_store_error allow lets
// requests on without RateLimit headers and deny answers 503, both within
// the timeout; both recover when Redis is back.
func TestRateLimitRedisStopped(t *testing.T) {
	rs := redistest.Start(t)
	const timeout = 100 * time.Millisecond
	be := &counter{}
	bsrv := httptest.NewServer(be)
	t.Cleanup(bsrv.Close)
	load := func(policy string) string {
		fsys := limitFS(t, bsrv.URL, `, "redis": {"url": "`+rs.URL()+`", "timeout": "100ms"},
  "rate_limit": {"store": "redis", "on_store_error": "`+policy+`"}`, map[string]string{"item": `{"method": "GET", "path": "/items",
  "rate_limit": {"rate": "100/s", "key": "ip"}, "calls": {"it": {"service": "be", "path": "/items"}}}`})
		g, err := engine.Load(fsys, "gateway.json", engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		return serve(t, g)
	}
	allow, deny := load("allow"), load("deny")
	for _, u := range []string{allow, deny} {
		if resp := get(t, u+"/items"); resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "100" {
			t.Fatalf("Redis up: %d %v", resp.StatusCode, resp.Header)
		}
	}
	rs.Stop()
	for i := range 5 {
		t0 := time.Now()
		a := get(t, allow+"/items")
		d := get(t, deny+"/items")
		if el := time.Since(t0); el > 2*timeout+2*time.Second {
			t.Fatalf("request %d took %s with a %s timeout", i, el, timeout)
		}
		if a.StatusCode != 200 || a.Header.Get("RateLimit-Limit") != "" {
			t.Errorf("allow, Redis down: %d %v", a.StatusCode, a.Header)
		}
		if d.StatusCode != 503 || d.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("deny, Redis down: %d %v", d.StatusCode, d.Header)
		}
	}
	rs.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := get(t, deny+"/items")
		if resp.StatusCode == 200 && resp.Header.Get("RateLimit-Limit") == "100" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis is back, deny still answers %d", resp.StatusCode)
		}
		<-time.After(20 * time.Millisecond) // the store's fail-fast window: a poll, not a fixed wait for an event
	}
}

package engine_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"frontdesk/engine"
)

// echoBackend answers every request with the request values the gateway
// let it see, the way a backend that builds its links from them would.
type echoBackend struct{ n atomic.Int64 }

func (e *echoBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.n.Add(1)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"host": r.Header.Get("X-Forwarded-Host"), "proto": r.Header.Get("X-Forwarded-Proto"),
		"prefix": r.Header.Get("X-Forwarded-Prefix"), "for": r.Header.Get("X-Forwarded-For"),
		"rid": r.Header.Get("X-Request-Id"), "traceparent": r.Header.Get("Traceparent"), "tracestate": r.Header.Get("Tracestate"),
	})
}

// seen is what the echo backend saw, as the gateway's answer carries it.
type seen struct {
	Host, Proto, Prefix, For, Rid, Traceparent, Tracestate string
}

// hostGateway serves three endpoints calling an echo backend: /pub with a
// response cache, /percall whose call has its own cache, /plain with
// neither. extra is added to gateway.json.
func hostGateway(t testing.TB, extra string) (string, *engine.Gateway, *echoBackend) {
	t.Helper()
	be := &echoBackend{}
	bsrv := httptest.NewServer(be)
	t.Cleanup(bsrv.Close)
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["endpoints"], "services": {"be": {"urls": ["` + bsrv.URL + `"]}}` + extra + `}`)},
		"endpoints/pub.json": {Data: []byte(`{"method": "GET", "path": "/pub", "cache": {"ttl": "1m"},
  "calls": {"e": {"service": "be", "path": "/echo"}}, "response": {"body": {"seen": "e"}}}`)},
		"endpoints/percall.json": {Data: []byte(`{"method": "GET", "path": "/percall",
  "calls": {"e": {"service": "be", "path": "/echo", "cache": {"ttl": "1m"}}}, "response": {"body": {"seen": "e"}}}`)},
		"endpoints/plain.json": {Data: []byte(`{"method": "GET", "path": "/plain",
  "calls": {"e": {"service": "be", "path": "/echo"}}, "response": {"body": {"seen": "e"}}}`)},
	}
	g, err := engine.Load(fsys, "gateway.json", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return serve(t, g), g, be
}

// answer is one response: its status, headers, raw body and what the
// backend saw.
type answer struct {
	status int
	header http.Header
	body   string
	seen   seen
}

func readAnswer(t testing.TB, resp *http.Response) answer {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if resp.StatusCode == 200 {
		var v struct{ Seen seen }
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("answer %s: %v", b, err)
		}
		a.seen = v.Seen
	}
	return a
}

// getHost sends GET url with the Host header host ("" keeps the URL's)
// and the given header pairs.
func getHost(t testing.TB, client *http.Client, url, host string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, resp)
}

// rawGet writes a request with the absolute-form target over its own TCP
// connection (net/http's client never sends one to a server), with the
// Host header host.
func rawGet(t testing.TB, base, target, host string) answer {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, host); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, resp)
}

const shopHosts = `, "hosts": ["shop.example.com", "*.shop.example.com"]`

// TestHostsMisdirected: with hosts set, a request for a host not listed
// is answered 421 problem+json (with its request id) before routing, auth
// or the cache, and no backend is called; listed hosts are matched
// without case, whatever the port, a wildcard covering subdomains only.
// The host of an absolute-form target is the one checked and forwarded,
// whatever the Host header says.
func TestHostsMisdirected(t *testing.T) {
	url, _, be := hostGateway(t, shopHosts)
	refused := []string{"evil.example", "example.com", "shop.example.com.evil.example", "xshop.example.com",
		"evil.example:80", "127.0.0.1", "[::1]:80", ".shop.example.com", "a..shop.example.com"}
	for _, h := range refused {
		for _, path := range []string{"/pub", "/percall", "/plain", "/nowhere"} {
			a := getHost(t, nil, url+path, h)
			var p struct{ Type, Title string }
			json.Unmarshal([]byte(a.body), &p)
			if a.status != 421 || a.header.Get("Content-Type") != "application/problem+json" || p.Type != "urn:frontdesk:misdirected" ||
				a.header.Get("X-Request-Id") == "" || a.header.Get("Cache-Status") != "" {
				t.Errorf("Host %q %s: %d %v %s, want 421 misdirected", h, path, a.status, a.header, a.body)
			}
			if strings.Contains(a.body, h) && h != "" {
				t.Errorf("Host %q: the problem echoes the host: %s", h, a.body)
			}
		}
	}
	if a := rawGet(t, url, "http://evil.example/pub", "shop.example.com"); a.status != 421 {
		t.Errorf("absolute-form target for evil.example, Host shop.example.com: %d %s, want 421", a.status, a.body)
	}
	if n := be.n.Load(); n != 0 {
		t.Fatalf("the backend was called %d times for hosts not served", n)
	}
	allowed := map[string]string{ // Host sent -> X-Forwarded-Host the backend sees
		"shop.example.com": "shop.example.com", "SHOP.Example.COM": "SHOP.Example.COM", "shop.example.com:8443": "shop.example.com:8443",
		"shop.example.com.": "shop.example.com.", "eu.shop.example.com": "eu.shop.example.com", "a.b.shop.example.com": "a.b.shop.example.com",
	}
	for h, fwd := range allowed {
		if a := getHost(t, nil, url+"/plain", h); a.status != 200 || a.seen.Host != fwd {
			t.Errorf("Host %q: %d, backend saw X-Forwarded-Host %q, want %q (%s)", h, a.status, a.seen.Host, fwd, a.body)
		}
	}
	if a := rawGet(t, url, "http://eu.shop.example.com/plain", "evil.example"); a.status != 200 || a.seen.Host != "eu.shop.example.com" {
		t.Errorf("absolute-form target for eu.shop.example.com, Host evil.example: %d, backend saw %q", a.status, a.seen.Host)
	}
}

// TestHostsCacheEntries: two allowed hosts get an entry each, each host
// then served its own from the response cache and from a call's cache.
func TestHostsCacheEntries(t *testing.T) {
	url, _, be := hostGateway(t, shopHosts)
	for _, path := range []string{"/pub", "/percall"} {
		before := be.n.Load()
		for round := range 2 {
			for _, h := range []string{"shop.example.com", "eu.shop.example.com"} {
				a := getHost(t, nil, url+path, h)
				if a.status != 200 || a.seen.Host != h {
					t.Errorf("%s Host %s round %d: %d, backend saw %q", path, h, round, a.status, a.seen.Host)
				}
				if path == "/pub" {
					want := miss
					if round == 1 {
						want = hit
					}
					if cs := a.header.Get("Cache-Status"); cs != want {
						t.Errorf("%s Host %s round %d: Cache-Status %q, want %q", path, h, round, cs, want)
					}
				}
			}
		}
		if n := be.n.Load() - before; n != 2 {
			t.Errorf("%s: %d backend requests for 2 hosts twice, want 2", path, n)
		}
	}
}

// TestCachePoisoningHost: without hosts, a request naming another host,
// in its Host header or as an absolute-form target, gets an answer built
// for that host, but never puts it in front of anyone else: the forwarded
// host is part of both caches' keys.
func TestCachePoisoningHost(t *testing.T) {
	for _, path := range []string{"/pub", "/percall"} {
		for _, via := range []string{"Host header", "absolute-form target"} {
			t.Run(path+" "+via, func(t *testing.T) {
				url, _, be := hostGateway(t, "")
				own := strings.TrimPrefix(url, "http://")
				var evil answer
				if via == "Host header" {
					evil = getHost(t, nil, url+path, "evil.example")
				} else {
					evil = rawGet(t, url, "http://evil.example"+path, own)
				}
				if evil.status != 200 || evil.seen.Host != "evil.example" {
					t.Fatalf("the attacker's request: %d, backend saw %q", evil.status, evil.seen.Host)
				}
				for i := range 2 {
					a := getHost(t, nil, url+path, "")
					if a.status != 200 || a.seen.Host != own || strings.Contains(a.body, "evil") {
						t.Fatalf("request %d after the attempt: %d %s, want one built for %s", i, a.status, a.body, own)
					}
				}
				if n := be.n.Load(); n != 2 {
					t.Errorf("%d backend requests, want 2 (the attacker's, then one for everyone else)", n)
				}
				// The attacker's own entry is still there, for it alone.
				if again := getHost(t, nil, url+path, "evil.example"); again.seen.Host != "evil.example" || be.n.Load() != 2 {
					t.Errorf("the attacker again: saw %q, backend requests %d", again.seen.Host, be.n.Load())
				}
			})
		}
	}
}

// TestCacheForwardedProto: the same host over plain HTTP and over TLS are
// two entries: the backend is told the scheme (X-Forwarded-Proto), so an
// answer with http:// links never reaches an https client.
func TestCacheForwardedProto(t *testing.T) {
	url, g, _ := hostGateway(t, "")
	tsrv := httptest.NewTLSServer(g)
	t.Cleanup(tsrv.Close)
	tc := tsrv.Client() // trusts the server's certificate
	for _, path := range []string{"/pub", "/percall"} {
		if a := getHost(t, nil, url+path, "shop.test"); a.seen.Proto != "http" {
			t.Fatalf("%s over http: backend saw proto %q", path, a.seen.Proto)
		}
		for i := range 2 {
			if a := getHost(t, tc, tsrv.URL+path, "shop.test"); a.status != 200 || a.seen.Proto != "https" {
				t.Errorf("%s over https, request %d: %d, the answer was built for proto %q", path, i, a.status, a.seen.Proto)
			}
		}
	}
}

// TestCachedCallsCarryNoRequestValues: a call whose answer is cached (the
// endpoint's response cache, or the call's own) sends no request value
// the key lacks: no request id, X-Forwarded-For or trace context from the
// client, so a value one client chose cannot reach another through a
// cached answer. An uncached call sends them all. X-Forwarded-Prefix is
// never sent.
func TestCachedCallsCarryNoRequestValues(t *testing.T) {
	url, _, _ := hostGateway(t, "")
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	attack := []string{"X-Request-Id", "<b>mine</b>", "Traceparent", tp, "Tracestate", "k=<b>mine</b>", "X-Forwarded-Prefix", "/evil"}
	plain := getHost(t, nil, url+"/plain", "", attack...)
	if plain.seen.Rid != "<b>mine</b>" || plain.seen.For == "" || plain.seen.Traceparent != tp || plain.seen.Tracestate == "" || plain.seen.Prefix != "" {
		t.Errorf("an uncached call: backend saw %+v", plain.seen)
	}
	for _, path := range []string{"/pub", "/percall"} {
		a := getHost(t, nil, url+path, "", attack...)
		if a.status != 200 || a.header.Get("X-Request-Id") != "<b>mine</b>" {
			t.Fatalf("%s: %d %v", path, a.status, a.header)
		}
		if s := a.seen; s.Rid != "" || s.For != "" || s.Traceparent != "" || s.Tracestate != "" || s.Prefix != "" {
			t.Errorf("%s: a cached call's backend saw %+v", path, s)
		}
		if b := getHost(t, nil, url+path, ""); strings.Contains(b.body, "mine") {
			t.Errorf("%s: another client got %s", path, b.body)
		}
	}
}

// TestCachedCallsTracingOn: with tracing on, a cached call carries the
// gateway's span as traceparent (hex ids) but not the client's
// tracestate, which an uncached call passes on.
func TestCachedCallsTracingOn(t *testing.T) {
	rc := newOTLPReceiver(t)
	url, _, _ := hostGateway(t, `, "tracing": {"otlp_endpoint": "`+rc.srv.URL+`"}`)
	tp := "00-" + clientTraceID + "-" + clientSpanID + "-01"
	ctx := []string{"Traceparent", tp, "Tracestate", "k=mine"}
	if a := getHost(t, nil, url+"/plain", "", ctx...); a.seen.Tracestate != "k=mine" || !strings.Contains(a.seen.Traceparent, clientTraceID) {
		t.Errorf("an uncached call: backend saw %+v", a.seen)
	}
	for _, path := range []string{"/pub", "/percall"} {
		a := getHost(t, nil, url+path, "", ctx...)
		if a.status != 200 || a.seen.Tracestate != "" || !strings.Contains(a.seen.Traceparent, clientTraceID) {
			t.Errorf("%s: a cached call's backend saw %+v", path, a.seen)
		}
	}
}

// TestHostsAccessLog: a misdirected request has its access line (status
// 421, its request id, no route) like any other answer.
func TestHostsAccessLog(t *testing.T) {
	srv, sink, _ := accessGateway(t, `, "hosts": ["shop.example.com"]`)
	if a := getHost(t, srv.Client(), srv.URL+"/c", "evil.example", "X-Request-Id", "rid-421"); a.status != 421 {
		t.Fatalf("evil.example: %d", a.status)
	}
	if a := getHost(t, srv.Client(), srv.URL+"/c", "shop.example.com"); a.status != 200 {
		t.Fatalf("shop.example.com: %d %s", a.status, a.body)
	}
	lines := requestLines(t, sink, 2)
	if len(lines) != 2 {
		t.Fatalf("%d request lines for 2 requests:\n%s", len(lines), strings.Join(sink.lines(), "\n"))
	}
	if l := lines[0]; l.Status != 421 || l.RequestID != "rid-421" || l.Route != nil || l.Calls != nil {
		t.Errorf("the misdirected request's line: %+v", l)
	}
	if l := lines[1]; l.Status != 200 || l.Route == nil || *l.Route != "/c" {
		t.Errorf("the served request's line: %+v", l)
	}
}

// BenchmarkCacheHitForwarded: a response cache hit of an endpoint with a
// call, whose key holds X-Forwarded-Host and -Proto, served in process.
func BenchmarkCacheHitForwarded(b *testing.B) {
	_, g, _ := hostGateway(b, "")
	req := httptest.NewRequest("GET", "http://shop.test/pub", nil)
	g.ServeHTTP(httptest.NewRecorder(), req) // the miss that fills it
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Header().Get("Cache-Status") != hit {
			b.Fatalf("%d %v", rec.Code, rec.Header())
		}
	}
}

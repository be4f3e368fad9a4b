package engine_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"frontdesk/engine"
	"frontdesk/engine/metrics"
	"frontdesk/pipeline/logs"
)

// A refused reload must change nothing. Here it touches the shared memory
// limiter store: it asks for /l's limiter with another config, which
// replaces the running one's entry by name. The fix reload (back to the
// config that is serving) then finds a limiter with the wrong config and
// starts /l's buckets afresh: the client that was at 429 gets through.
func TestRefusedReloadKeepsBuckets(t *testing.T) {
	b := jsonBackend(t, `{"v": "x"}`)
	limited := `{"method": "GET", "path": "/l", "rate_limit": {"rate": "1/h", "burst": 1, "key": "ip"}, "calls": {"c": {"service": "s", "path": "/"}}}`
	d := newReloadDir(t, gatewayFor(b.URL), map[string]string{"a.json": specA, "l.json": limited})
	l, srv := d.live()
	c := srv.Client()
	getBody(t, c, srv.URL+"/l")
	if st, _ := getBody(t, c, srv.URL+"/l"); st != 429 {
		t.Fatalf("second: %d, want 429", st)
	}
	// An edit in progress: /l's burst changed, and another file broken.
	d.write("e/l.json", strings.Replace(limited, `"burst": 1`, `"burst": 5`, 1))
	d.write("e/broken.json", `{"method": "GET"`)
	if err := l.Reload(); err == nil {
		t.Fatal("the broken reload was accepted")
	}
	if st, _ := getBody(t, c, srv.URL+"/l"); st != 429 {
		t.Fatalf("after the refused reload: %d, want 429", st)
	}
	// The operator reverts: the config is the one serving.
	d.write("e/l.json", limited)
	d.remove("e/broken.json")
	if err := l.Reload(); err != nil {
		t.Fatal(err)
	}
	if st, _ := getBody(t, c, srv.URL+"/l"); st != 429 {
		t.Fatalf("after reverting to the serving config: %d, want 429 (the refused reload reset /l's bucket)", st)
	}
}

// A refused reload publishes series for endpoints that never served, in
// the shared metrics Set, and nothing ever forgets them.
func TestRefusedReloadLeavesNoSeries(t *testing.T) {
	b := jsonBackend(t, `{"v": "x"}`)
	d := newReloadDir(t, gatewayFor(b.URL), map[string]string{"a.json": specA})
	l, srv := d.live()
	getBody(t, srv.Client(), srv.URL+"/a")
	ms := httptest.NewServer(l.Gateway().Metrics.Handler())
	defer ms.Close()
	d.write("e/ghost.json", `{"method": "GET", "path": "/ghost", "calls": {"g": {"service": "s", "path": "/"}}}`)
	d.write("e/broken.json", `{"method": "GET"`)
	if err := l.Reload(); err == nil {
		t.Fatal("accepted")
	}
	d.remove("e/ghost.json")
	d.remove("e/broken.json")
	if err := l.Reload(); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, ms.URL)
	if m := find(fams["frontdesk_requests_total"], map[string]string{"endpoint": "GET /ghost"}); m != nil {
		t.Errorf("a refused reload's endpoint has series: %v", m)
	}
	if m := find(fams["frontdesk_call_duration_seconds"], map[string]string{"endpoint": "GET /ghost"}); m != nil {
		t.Errorf("a refused reload's call has series: %v", m)
	}
}

// Every request gets one access line. A path the ServeMux cleans (//x,
// /a/../b) is answered 301 by the mux itself, before any stage: no line,
// no metric.
func TestAccessLineForCleanedPath(t *testing.T) {
	b := jsonBackend(t, `{"v": "x"}`)
	sink := &syncBuffer{}
	out := logs.New(sink)
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(gatewayFor(b.URL))},
		"e/a.json":     {Data: []byte(specA)},
	}
	gw, err := engine.Load(fsys, "gateway.json", engine.Options{Output: out, Logger: out.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	for _, p := range []string{"//a", "/x/../a", "/a/./"} {
		sink.mu.Lock()
		sink.b.Reset()
		sink.mu.Unlock()
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://gw"+p, nil))
		lines := sink.lines()
		if len(lines) != 1 || lines[0] == "" {
			t.Errorf("%s: answered %d with %d access lines: %q", p, w.Code, len(lines), lines)
		}
	}
}

// A path with "/." that the mux routes as it is (no cleaning) has one
// line, not two.
func TestAccessLineForDotPathOnce(t *testing.T) {
	b := jsonBackend(t, `{"v": "x"}`)
	sink := &syncBuffer{}
	out := logs.New(sink)
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(gatewayFor(b.URL))},
		"e/a.json":     {Data: []byte(strings.Replace(specA, `"/a"`, `"/a/{f}"`, 1))},
	}
	gw, err := engine.Load(fsys, "gateway.json", engine.Options{Output: out, Logger: out.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	w := httptest.NewRecorder()
	gw.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://gw/a/.well-known", nil))
	if lines := sink.lines(); w.Code != 200 || len(lines) != 1 {
		t.Fatalf("answered %d with %d lines: %q", w.Code, len(lines), lines)
	}
}

// An aborted answer (the connection dropped) is logged as 499, not 200.
func TestAccessLineForAbort(t *testing.T) {
	sink := &syncBuffer{}
	out := logs.New(sink)
	h := metrics.Stage(nil, out, "/x")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("the panic passed on is %v", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	}()
	if l := sink.lines(); len(l) != 1 || !strings.Contains(l[0], `"status":499`) {
		t.Fatalf("lines %q, want one with status 499", l)
	}
}

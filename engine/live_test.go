package engine_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"go.uber.org/goleak"

	"frontdesk/engine"
)

// reloadDir is a gateway in a real folder, loaded through os.DirFS as
// serve loads it, so a test can edit its files between reloads.
type reloadDir struct {
	t   *testing.T
	dir string
}

func newReloadDir(t *testing.T, gateway string, specs map[string]string) *reloadDir {
	t.Helper()
	d := &reloadDir{t: t, dir: t.TempDir()}
	os.MkdirAll(filepath.Join(d.dir, "e"), 0o755)
	d.write("gateway.json", gateway)
	for name, s := range specs {
		d.write("e/"+name, s)
	}
	return d
}

func (d *reloadDir) write(name, s string) {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join(d.dir, name), []byte(s), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

func (d *reloadDir) remove(name string) {
	d.t.Helper()
	if err := os.Remove(filepath.Join(d.dir, name)); err != nil {
		d.t.Fatal(err)
	}
}

func (d *reloadDir) load(prev *engine.Gateway) (*engine.Gateway, error) {
	return engine.Load(os.DirFS(d.dir), "gateway.json", engine.Options{Previous: prev})
}

// live loads the gateway, starts it, and serves it on a loopback server.
func (d *reloadDir) live() (*engine.Live, *httptest.Server) {
	d.t.Helper()
	gw, err := d.load(nil)
	if err != nil {
		d.t.Fatal(err)
	}
	gw.Start(d.t.Context())
	l := engine.NewLive(d.t.Context(), gw, d.load, nil)
	srv := httptest.NewServer(l)
	d.t.Cleanup(func() { srv.Close(); l.Close() })
	return l, srv
}

func getBody(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func jsonBackend(t *testing.T, body string) *httptest.Server {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	t.Cleanup(b.Close)
	return b
}

func gatewayFor(urls ...string) string {
	return `{"endpoints": ["e"], "services": {"s": {"urls": ["` + strings.Join(urls, `","`) + `"]}}}`
}

const specA = `{"method": "GET", "path": "/a", "calls": {"c": {"service": "s", "path": "/"}}, "response": {"body": {"v": "c.v", "n": "1"}}}`

// A good change is served after the reload; a broken one is refused with
// file:line:col and the old config keeps serving.
func TestReloadSwapsOrKeeps(t *testing.T) {
	b := jsonBackend(t, `{"v": "x"}`)
	d := newReloadDir(t, gatewayFor(b.URL), map[string]string{"a.json": specA})
	l, srv := d.live()
	c := srv.Client()

	if st, body := getBody(t, c, srv.URL+"/a"); st != 200 || body != `{"v":"x","n":1}` {
		t.Fatalf("before: %d %s", st, body)
	}
	d.write("e/a.json", strings.Replace(specA, `"n": "1"`, `"n": "2"`, 1))
	d.write("e/b.json", `{"method": "GET", "path": "/b", "calls": {"c": {"service": "s", "path": "/"}}}`)
	if err := l.Reload(); err != nil {
		t.Fatal(err)
	}
	if st, body := getBody(t, c, srv.URL+"/a"); st != 200 || body != `{"v":"x","n":2}` {
		t.Fatalf("after a good reload: %d %s", st, body)
	}
	if st, _ := getBody(t, c, srv.URL+"/b"); st != 200 {
		t.Fatalf("a new endpoint: %d", st)
	}

	d.write("e/b.json", `{"method": "GET", "path": "/b", "calls": {"c": {"service": "nope", "path": "/"}}}`)
	err := l.Reload()
	var le engine.LoadErrors
	if !errors.As(err, &le) || len(le) == 0 {
		t.Fatalf("a broken spec: err %v, want LoadErrors", err)
	}
	if !strings.Contains(le[0].Error(), "b.json:1:") || le[0].Line == 0 {
		t.Fatalf("the error does not give file:line:col: %v", le[0])
	}
	if st, body := getBody(t, c, srv.URL+"/a"); st != 200 || body != `{"v":"x","n":2}` {
		t.Fatalf("after a broken reload: %d %s", st, body)
	}
	if st, _ := getBody(t, c, srv.URL+"/b"); st != 200 {
		t.Fatalf("the old /b stopped serving after a refused reload: %d", st)
	}

	d.remove("e/b.json")
	if err := l.Reload(); err != nil {
		t.Fatal(err)
	}
	if st, _ := getBody(t, c, srv.URL+"/b"); st != 404 {
		t.Fatalf("a removed endpoint: %d, want 404", st)
	}
	if l.Reloads() != 2 {
		t.Fatalf("Reloads = %d, want 2", l.Reloads())
	}
}

// Reloads while clients send requests without pause: every request is
// answered 200, those in flight across a swap by the gateway they began
// on.
func TestReloadUnderLoadLosesNothing(t *testing.T) {
	var inBackend atomic.Int64
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inBackend.Add(1)
		time.Sleep(2 * time.Millisecond) // so requests are in flight at each swap
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"v": "x"}`)
	}))
	defer b.Close()
	d := newReloadDir(t, gatewayFor(b.URL), map[string]string{"a.json": specA})
	l, srv := d.live()
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	const reloads = 30
	stop := make(chan struct{})
	var sent, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for n := 0; n < 5000; n++ { // bounded, whatever happens
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				resp, err := c.Get(srv.URL + "/a")
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.HasPrefix(string(body), `{"v":"x","n":`) {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, body))
				}
			}
		})
	}
	for i := range reloads {
		// Each reload changes the spec, so every swap is a new plan.
		d.write("e/a.json", strings.Replace(specA, `"n": "1"`, fmt.Sprintf(`"n": "%d"`, i+2), 1))
		if err := l.Reload(); err != nil {
			t.Fatal(err)
		}
		// Let some requests through on each generation.
		for start := sent.Load(); sent.Load() < start+4; {
			time.Sleep(time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d requests failed across %d reloads; first: %v", failed.Load(), sent.Load(), reloads, firstErr.Load())
	}
	if sent.Load() < reloads*4 {
		t.Fatalf("only %d requests were sent", sent.Load())
	}
	t.Logf("%d requests across %d reloads, none failed", sent.Load(), reloads)
}

// What a reload keeps carries over: an unchanged endpoint's rate-limit
// counts, and an unchanged service's backend client. What it drops is
// freed.
func TestReloadCarriesState(t *testing.T) {
	b := jsonBackend(t, `{"v": "x"}`)
	limited := `{"method": "GET", "path": "/l", "rate_limit": {"rate": "1/h", "burst": 1, "key": "ip"}, "calls": {"c": {"service": "s", "path": "/"}}}`
	d := newReloadDir(t, gatewayFor(b.URL), map[string]string{"a.json": specA, "l.json": limited})
	l, srv := d.live()
	c := srv.Client()
	if st, _ := getBody(t, c, srv.URL+"/l"); st != 200 {
		t.Fatalf("first: %d", st)
	}
	if st, _ := getBody(t, c, srv.URL+"/l"); st != 429 {
		t.Fatalf("second: %d, want 429", st)
	}
	before := l.Gateway()
	d.write("e/a.json", strings.Replace(specA, `"n": "1"`, `"n": "5"`, 1))
	if err := l.Reload(); err != nil {
		t.Fatal(err)
	}
	if l.Gateway() == before {
		t.Fatal("the gateway was not replaced")
	}
	if st, _ := getBody(t, c, srv.URL+"/l"); st != 429 {
		t.Fatalf("after a reload that left /l alone: %d, want 429 (its bucket carried over)", st)
	}
	// Changing the limit starts afresh.
	d.write("e/l.json", strings.Replace(limited, `"burst": 1`, `"burst": 2`, 1))
	if err := l.Reload(); err != nil {
		t.Fatal(err)
	}
	if st, _ := getBody(t, c, srv.URL+"/l"); st != 200 {
		t.Fatalf("after the limit changed: %d, want 200", st)
	}
}

// 100 reloads, each with a new service (so a new backend client with its
// health checks) and then back, leave no goroutine behind once the Live
// is closed, and the goroutine count does not grow with the reloads.
func TestReloadsLeakNothing(t *testing.T) {
	b := jsonBackend(t, `{"v": "x"}`)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	health := func(path string) string {
		return `{"endpoints": ["e"], "services": {"s": {"urls": ["` + b.URL + `"], "health": {"path": "` + path + `", "interval": "1h"}}}}`
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "e"), 0o755)
	os.WriteFile(filepath.Join(dir, "gateway.json"), []byte(health("/h0")), 0o644)
	os.WriteFile(filepath.Join(dir, "e", "a.json"), []byte(specA), 0o644)
	load := func(prev *engine.Gateway) (*engine.Gateway, error) {
		return engine.Load(os.DirFS(dir), "gateway.json", engine.Options{Previous: prev})
	}
	gw, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	gw.Start(t.Context())
	l := engine.NewLive(t.Context(), gw, load, nil)
	srv := httptest.NewServer(l)
	c := srv.Client()
	var mid int
	for i := range 100 {
		os.WriteFile(filepath.Join(dir, "gateway.json"), []byte(health(fmt.Sprintf("/h%d", i+1))), 0o644)
		if err := l.Reload(); err != nil {
			t.Fatal(err)
		}
		if st, _ := getBody(t, c, srv.URL+"/a"); st != 200 {
			t.Fatalf("reload %d: %d", i, st)
		}
		if i == 10 {
			mid = goroutinesSettled(0)
		}
	}
	if n := goroutinesSettled(mid + 5); n > mid+5 {
		t.Fatalf("goroutines grew from %d after 10 reloads to %d after 100", mid, n)
	}
	srv.Close()
	c.CloseIdleConnections()
	l.Close()
}

// goroutinesSettled polls the goroutine count (old gateways close in the
// background once drained) until it is at most limit, or, with limit 0,
// until it stops changing; within 5s either way.
func goroutinesSettled(limit int) int {
	deadline := time.Now().Add(5 * time.Second)
	last := runtime.NumGoroutine()
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n := runtime.NumGoroutine()
		if (limit > 0 && n <= limit) || (limit == 0 && n == last) {
			return n
		}
		last = n
	}
	return last
}

// Reloads are counted, the scrape-time counters carry over a reload
// (never going back), and a removed endpoint's series are gone.
func TestReloadMetrics(t *testing.T) {
	b := jsonBackend(t, `{"v": "x"}`)
	cached := `{"method": "GET", "path": "/c", "cache": {"ttl": "1h"}, "calls": {"c": {"service": "s", "path": "/"}}}`
	d := newReloadDir(t, gatewayFor(b.URL), map[string]string{"a.json": specA, "c.json": cached})
	l, srv := d.live()
	c := srv.Client()
	for range 3 {
		getBody(t, c, srv.URL+"/c")
	}
	getBody(t, c, srv.URL+"/a")
	ms := httptest.NewServer(l.Gateway().Metrics.Handler())
	defer ms.Close()
	hits := func() float64 {
		return value(find(scrape(t, ms.URL)["frontdesk_cache_requests_total"], map[string]string{"endpoint": "GET /c", "result": "hit"}))
	}
	if h := hits(); h != 2 {
		t.Fatalf("hits before = %v, want 2", h)
	}
	// A reload that changes /a rebuilds every cache stage: /c's count
	// carries.
	d.write("e/a.json", strings.Replace(specA, `"n": "1"`, `"n": "3"`, 1))
	if err := l.Reload(); err != nil {
		t.Fatal(err)
	}
	if h := hits(); h != 2 {
		t.Fatalf("hits after a reload = %v, want 2 carried over", h)
	}
	getBody(t, c, srv.URL+"/c")
	if h := hits(); h != 3 {
		t.Fatalf("hits after one more = %v, want 3", h)
	}
	d.write("e/a.json", `{"method": "GET"`)
	l.Reload()
	d.remove("e/a.json")
	if err := l.Reload(); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, ms.URL)
	if v := value(find(fams["frontdesk_reloads_total"], map[string]string{"result": "ok"})); v != 2 {
		t.Errorf("reloads ok = %v, want 2", v)
	}
	if v := value(find(fams["frontdesk_reloads_total"], map[string]string{"result": "error"})); v != 1 {
		t.Errorf("reloads error = %v, want 1", v)
	}
	if m := find(fams["frontdesk_requests_total"], map[string]string{"endpoint": "GET /a"}); m != nil {
		t.Errorf("the removed endpoint's series is still there: %v", m)
	}
	if m := find(fams["frontdesk_requests_total"], map[string]string{"endpoint": "GET /c"}); value(m) != 4 {
		t.Errorf("GET /c requests = %v, want 4", value(m))
	}
}

// Sources names every file a reload must watch: gateway.json, the
// endpoint folders, the API key file and the PEM files.
func TestGatewaySources(t *testing.T) {
	fsys := fstest.MapFS{
		"conf/gateway.json": {Data: []byte(`{"endpoints": ["e", "more"], "services": {"s": {"urls": ["http://127.0.0.1:1"]}},
  "auth": {"jwt": {"public_keys": ["keys/issuer.pem"], "algorithms": ["EdDSA"]}, "api_keys": {"file": "keys.json"}}}`)},
		"conf/keys/issuer.pem": {Data: pemOf(t, edKey(t).Public())},
		"conf/keys.json":       {Data: []byte(`{"clients": {}}`)},
		"conf/e/a.json":        {Data: []byte(specA)},
		"conf/more/b.json":     {Data: []byte(strings.Replace(specA, "/a", "/b", 1))},
	}
	gw, err := engine.Load(fsys, "conf/gateway.json", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	got := strings.Join(gw.Sources(), " ")
	if want := "conf/gateway.json conf/e conf/more conf/keys.json conf/keys/issuer.pem"; got != want {
		t.Fatalf("Sources = %q, want %q", got, want)
	}
}

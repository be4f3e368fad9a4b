package engine_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"frontdesk/engine"
)

// largeList is a backend body of n small objects, about 26 bytes each.
func largeList(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"price":%d}`, i, i%1000)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// largeListGateway serves templates over one call answering body.
func largeListGateway(tb testing.TB, body []byte, limits string, templates map[string]string) (*engine.Gateway, func()) {
	tb.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"s": {"urls": ["` + backend.URL + `"]}}, "limits": ` + limits + `}`)},
	}
	for name, tmpl := range templates {
		fsys["e/"+name+".json"] = &fstest.MapFile{Data: []byte(`{"method": "GET", "path": "/` + name + `", "timeout": "60s", "calls": {"x": {"service": "s", "path": "/"}}, "response": {"body": ` + tmpl + `}}`)}
	}
	tr := engine.NewTransport()
	g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: tr})
	if err != nil {
		tb.Fatal(err)
	}
	return g, func() { tr.CloseIdleConnections(); backend.Close() }
}

var largeTemplates = map[string]string{
	"len":      `{"count": "len(x.items)"}`,
	"ok":       `{"ok": "type(x.items) == 'array'"}`, // decoded whole (x.items != nil is native)
	"count":    `{"cheap": "count(x.items, .price < 10)"}`,
	"template": `{"count": "len(x.items)", "total": "sum(map(x.items, .price))", "top": "filter(x.items, .price > 998)"}`,
	// Shapes compiled to native code read the body's bytes: nothing decoded.
	"native": `{"cheap": "map(filter(x.items, .price < 10), {{'id': .id, 'p': .price}})", "n": "count(x.items, .price < 10)", "sum": "sum(x.items, .price)", "top": "filter(x.items, .price > 998)"}`,
	// Issue 19's template: ?? and sum(map()) natively too; and tests.
	"coalesce": `{"count": "len(x.items)", "sum": "sum(map(x.items, .qty ?? .price ?? 0))", "first": "first(x.items)", "ok": "x.items != nil", "some": "any(x.items, .price > 998)"}`,
}

// allocated is the bytes one request to path allocates.
func allocated(tb testing.TB, g http.Handler, path string) (uint64, int) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, w.Code
}

// TestLargeListMemory: the bytes one request allocates for a 7 MB list of
// 300,000 small objects stay within stated multiples of the body: a list
// nothing reads the elements of (len) is never decoded, about 2x (the
// body as read, and its buffer's growth); decoded whole, about 20x (a Go
// map per object is the cost).
func TestLargeListMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 300 MB")
	}
	body := largeList(300000)
	g, done := largeListGateway(t, body, `{"max_backend_body": "16MB", "max_decoded": "1GB"}`, largeTemplates)
	defer done()
	for _, tc := range []struct {
		path  string
		bound float64 // times the body
	}{
		{"/len", 3}, {"/ok", 26}, {"/count", 3}, {"/template", 3}, {"/native", 3}, {"/coalesce", 3},
	} {
		a, code := allocated(t, g, tc.path)
		ratio := float64(a) / float64(len(body))
		t.Logf("%-9s %.1f MB, %.1fx the body", tc.path, float64(a)/(1<<20), ratio)
		if code != 200 || ratio > tc.bound {
			t.Errorf("%s: status %d, %.1fx the body, want 200 within %.0fx", tc.path, code, ratio, tc.bound)
		}
	}
}

// TestDecodedBudget: a request whose decoding would pass max_decoded is a
// 502 naming the call and the limit, and the gateway keeps serving; what
// nothing decodes (len, and the shapes native code reads from the bytes)
// costs the budget nothing.
func TestDecodedBudget(t *testing.T) {
	body := largeList(100000)
	g, done := largeListGateway(t, body, `{"max_decoded": "4MB"}`, largeTemplates)
	defer done()
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/ok", 502}, {"/template", 200}, {"/len", 200}, {"/native", 200}, {"/count", 200}, {"/coalesce", 200}, {"/ok", 502},
	} {
		w := httptest.NewRecorder()
		g.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
		if w.Code != tc.status {
			t.Errorf("%s: %d %s", tc.path, w.Code, w.Body)
		}
		if tc.status == 502 && (!strings.Contains(w.Body.String(), `"call":"x"`) || !strings.Contains(w.Body.String(), "max_decoded")) {
			t.Errorf("%s: the problem does not name the call and the limit: %s", tc.path, w.Body)
		}
	}
}

// TestDecodedTotalBound: concurrent requests share max_decoded_total; the
// ones that would pass it are answered 503 with Retry-After, the heap
// stays near the bound, and the budget is whole again afterwards.
func TestDecodedTotalBound(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 1 GB")
	}
	const clients = 32
	body := largeList(100000) // 2.4 MB, about 33 MB decoded whole
	g, done := largeListGateway(t, body, `{"max_decoded_total": "100MB"}`, largeTemplates)
	defer done()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	codes := make(chan int, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			w := httptest.NewRecorder()
			g.ServeHTTP(w, httptest.NewRequest("GET", "/ok", nil))
			if w.Code == 503 && w.Header().Get("Retry-After") == "" {
				t.Error("a 503 without Retry-After")
			}
			codes <- w.Code
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	t.Logf("statuses %v, peak heap in use %d MB", count, peak.Load()>>20)
	if count[200]+count[503] != clients || count[200] == 0 {
		t.Errorf("statuses %v: want 200s and 503s only, some 200", count)
	}
	// Unbounded, 32 of these peak at 2 GB and more in use; bounded to 100 MB
	// of decoded data, at 350 to 450 MB (bodies and garbage not yet collected).
	if p := peak.Load(); p > 700<<20 {
		t.Errorf("peak heap %d MB", p>>20)
	}
	if n := g.DecodedInUse(); n != 0 {
		t.Errorf("%d bytes still counted after every request ended", n)
	}
	// The budget is whole again: a request alone succeeds.
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest("GET", "/ok", nil))
	if w.Code != 200 {
		t.Errorf("after the burst: %d", w.Code)
	}
}

// BenchmarkLargeList reports the bytes a request allocates per shape of
// template over a 7 MB list of 300,000 objects; coalesce is issue 19's
// (len, sum(map(.qty ?? 0)), first).
func BenchmarkLargeList(b *testing.B) {
	body := largeList(300000)
	g, done := largeListGateway(b, body, `{"max_backend_body": "16MB", "max_decoded": "1GB"}`, largeTemplates)
	defer done()
	for _, name := range []string{"len", "ok", "count", "template", "native", "coalesce"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				w := httptest.NewRecorder()
				g.ServeHTTP(w, httptest.NewRequest("GET", "/"+name, nil))
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}

// TestDefaultDecodedTotal: without max_decoded_total, the bound follows
// from the memory limit and the GC percent: what requests may hold so
// that the heap, at its collector's growth, stays within half the limit.
func TestDefaultDecodedTotal(t *testing.T) {
	for _, tc := range []struct {
		limit int64
		gc    int
		want  int64
	}{
		{18 << 30, 400, 18 << 30 / 10}, // frontdesk serve on a 24 GB machine: 1.8 GB, not 9
		{1000, 100, 250},
		{1000, 0, 250},  // Go's default
		{1000, -1, 500}, // GOGC=off: the collector runs near the limit only
		{1 << 62, 400, 1 << 62 / 10},
	} {
		if got := engine.DefaultDecodedTotal(tc.limit, tc.gc); got != tc.want {
			t.Errorf("DefaultDecodedTotal(%d, %d) = %d, want %d", tc.limit, tc.gc, got, tc.want)
		}
	}
	// Loaded with a memory limit, the gateway's bound is that.
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	fsys := fstest.MapFS{"gateway.json": {Data: []byte(`{"endpoints": [], "services": {"s": {"urls": ["` + backend.URL + `"]}}}`)}}
	g, err := engine.Load(fsys, "gateway.json", engine.Options{MemoryLimit: 1 << 30, GCPercent: 400})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Limits.MaxDecodedTotal; got != 1<<30/10 {
		t.Errorf("max_decoded_total %d, want %d", got, 1<<30/10)
	}
}

// TestDefaultDecodedTotalBound: a request holding more than the default
// bound of its process (a 7 MB body, under a 50 MB memory limit at GOGC
// 400: 5 MB) is a 503 with Retry-After, whatever its template; half the
// limit, the bound before the collector's growth was counted, would have
// let it through.
func TestDefaultDecodedTotalBound(t *testing.T) {
	body := largeList(300000)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer backend.Close()
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"s": {"urls": ["` + backend.URL + `"]}}, "limits": {"max_backend_body": "16MB"}}`)},
		"e/len.json":   {Data: []byte(`{"method": "GET", "path": "/len", "calls": {"x": {"service": "s", "path": "/"}}, "response": {"body": {"n": "len(x.items)"}}}`)},
	}
	tr := engine.NewTransport()
	defer tr.CloseIdleConnections()
	for _, tc := range []struct {
		limit  int64
		status int
	}{{50 << 20, 503}, {200 << 20, 200}} {
		g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: tr, MemoryLimit: tc.limit, GCPercent: 400})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, httptest.NewRequest("GET", "/len", nil))
		if w.Code != tc.status || tc.status == 503 && w.Header().Get("Retry-After") == "" {
			t.Errorf("memory limit %d MB: %d %v %s, want %d (with Retry-After when 503)", tc.limit>>20, w.Code, w.Header(), w.Body, tc.status)
		}
		if n := g.DecodedInUse(); n != 0 {
			t.Errorf("%d bytes still counted after the request", n)
		}
	}
}

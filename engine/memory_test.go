package engine_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"

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
		fsys["e/"+name+".json"] = &fstest.MapFile{Data: []byte(`{"method": "GET", "path": "/` + name + `", "calls": {"x": {"service": "s", "path": "/"}}, "response": {"body": ` + tmpl + `}}`)}
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
	"ok":       `{"ok": "x.items != nil"}`,
	"count":    `{"cheap": "count(x.items, .price < 10)"}`,
	"template": `{"count": "len(x.items)", "total": "sum(map(x.items, .price))", "top": "filter(x.items, .price > 998)"}`,
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

func TestLargeListMemoryReport(t *testing.T) {
	body := largeList(300000)
	g, done := largeListGateway(t, body, `{"max_backend_body": "16MB", "max_decoded": "1GB"}`, largeTemplates)
	defer done()
	for _, name := range []string{"ok", "len", "count", "template"} {
		a, code := allocated(t, g, "/"+name)
		t.Logf("%-8s %d: %6.1f MB allocated, %.1fx the %.1f MB body", name, code, float64(a)/(1<<20), float64(a)/float64(len(body)), float64(len(body))/(1<<20))
	}
}

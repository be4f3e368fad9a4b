package engine

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

// BenchmarkTracing is BenchmarkPlanServe's one-call plan with tracing off
// (the same work as before tracing existed: compare its allocs with
// BenchmarkPlanServe/calls=1), off with a client traceparent passed on,
// and on at sample_ratio 0 and 1, exporting to a loopback collector that
// discards what it gets.
func BenchmarkTracing(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, bc := range []struct {
		name, tracing, traceparent string
	}{
		{"off", "", ""},
		{"off/traceparent", "", tp},
		{"ratio=0", fmt.Sprintf(`{"otlp_endpoint": %q, "sample_ratio": 0}`, collector.URL), ""},
		{"ratio=1", fmt.Sprintf(`{"otlp_endpoint": %q, "sample_ratio": 1}`, collector.URL), ""},
		{"ratio=0/sampled-parent", fmt.Sprintf(`{"otlp_endpoint": %q, "sample_ratio": 0}`, collector.URL), tp},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g, done := benchTracedGateway(b, bc.tracing)
			defer done()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("GET", "/b/c1", nil)
					if bc.traceparent != "" {
						r.Header["Traceparent"] = []string{bc.traceparent}
					}
					w := &discardWriter{h: http.Header{}}
					g.ServeHTTP(w, r)
					if w.status != 0 && w.status != 200 {
						b.Fatalf("status %d", w.status)
					}
				}
			})
			b.StopTimer()
		})
	}
}

// benchTracedGateway is benchGateway's one-call gateway with tracing as
// written ("": none).
func benchTracedGateway(b *testing.B, tracing string) (*Gateway, func()) {
	b.Helper()
	body := []byte(`{"id":"c1","user_id":"u1","currency":"EUR","items":[{"sku":"A1","qty":2,"price":24.5},{"sku":"B2","qty":1,"price":89},{"sku":"C3","qty":0,"price":8.5}],"total":138}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	if tracing != "" {
		tracing = `, "tracing": ` + tracing
	}
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(fmt.Sprintf(`{"endpoints": ["e"], "services": {"s0": {"urls": [%q]}}%s}`, srv.URL, tracing))},
		"e/b.json":     {Data: []byte(`{"method": "GET", "path": "/b/{id}", "calls": {"c0": {"service": "s0", "path": "/carts/${params.id}"}}}`)},
	}
	transport := NewTransport()
	g, err := Load(fsys, "gateway.json", Options{Transport: transport})
	if err != nil {
		b.Fatal(err)
	}
	return g, func() {
		g.Close() // flushes what is queued
		transport.CloseIdleConnections()
		srv.Close()
	}
}

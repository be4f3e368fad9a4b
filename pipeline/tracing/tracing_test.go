package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"frontdesk/pipeline"
)

// recorded builds a Tracer whose spans go to an in-memory recorder (the
// SDK's own span processor), sampling everything.
func recorded(t *testing.T) (*Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tr, err := newTracer(Config{SampleRatio: 1, ServiceName: "t"}, sdktrace.WithSpanProcessor(rec))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Shutdown(context.Background()) })
	return tr, rec
}

// TestTracingStageCoversRecover: the server span sits outside recover, so
// a panic's 500 is its status, an error.
func TestTracingStageCoversRecover(t *testing.T) {
	tr, rec := recorded(t)
	var inner trace.SpanContext
	h := pipeline.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner = trace.SpanContextFromContext(r.Context())
		panic("boom")
	}), tr.Stage("GET /a/{id}"), pipeline.Recover(nil))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/a/1", nil))
	if w.Code != 500 {
		t.Fatalf("status %d", w.Code)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Name() != "GET /a/{id}" || s.SpanKind() != trace.SpanKindServer || s.Status().Code != codes.Error {
		t.Errorf("span %q kind %v status %v", s.Name(), s.SpanKind(), s.Status())
	}
	if inner.SpanID() != s.SpanContext().SpanID() {
		t.Error("the handler's context does not carry the server span")
	}
	got := map[string]string{}
	for _, kv := range s.Attributes() {
		got[string(kv.Key)] = kv.Value.String()
	}
	for k, want := range map[string]string{"http.request.method": "GET", "http.route": "/a/{id}", "http.response.status_code": "500"} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
}

// TestTracingClientSpan: a client span is the child of the span in its
// context, its End records status and failure, and Inject sends its id.
func TestTracingClientSpan(t *testing.T) {
	tr, rec := recorded(t)
	ctx, parent := tr.tracer.Start(context.Background(), "server")
	cctx, cs := tr.StartClient(ctx, "POST", "cart", "add", "10.0.0.1", 8080, 2)
	h := http.Header{}
	tr.Inject(cctx, h)
	cs.End(0, "timeout")
	parent.End()
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	c := spans[0]
	if c.Parent().SpanID() != parent.SpanContext().SpanID() || c.SpanKind() != trace.SpanKindClient || c.Name() != "POST add" {
		t.Errorf("client span %q kind %v parent %v", c.Name(), c.SpanKind(), c.Parent().SpanID())
	}
	if c.Status().Code != codes.Error {
		t.Errorf("a timed out attempt's span status %v", c.Status())
	}
	want := "00-" + c.SpanContext().TraceID().String() + "-" + c.SpanContext().SpanID().String() + "-01"
	if got := h.Get("Traceparent"); got != want {
		t.Errorf("traceparent %q, want %q", got, want)
	}
}

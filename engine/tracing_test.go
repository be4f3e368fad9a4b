package engine_test

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"frontdesk/engine"
)

// otlpReceiver is an in-process OTLP/HTTP collector: it decodes every
// ExportTraceServiceRequest posted to /v1/traces and keeps its spans.
type otlpReceiver struct {
	srv *httptest.Server

	mu      sync.Mutex
	spans   []*tracepb.Span
	service []string // service.name of each span's resource
	paths   []string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Errorf("receiver: %s %s: not an ExportTraceServiceRequest: %v", r.Method, r.URL.Path, err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.paths = append(rc.paths, r.Method+" "+r.URL.Path)
		for _, rs := range req.ResourceSpans {
			name := attr(rs.GetResource().GetAttributes(), "service.name")
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					rc.spans = append(rc.spans, s)
					rc.service = append(rc.service, name)
				}
			}
		}
		rc.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// received returns the spans and the request lines so far.
func (rc *otlpReceiver) received() ([]*tracepb.Span, []string, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*tracepb.Span(nil), rc.spans...), append([]string(nil), rc.service...), append([]string(nil), rc.paths...)
}

// attr is the value of key among attrs as text, "" when absent.
func attr(attrs []*commonpb.KeyValue, key string) string {
	for _, kv := range attrs {
		if kv.Key != key {
			continue
		}
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue
		case *commonpb.AnyValue_IntValue:
			return fmt.Sprint(v.IntValue)
		case *commonpb.AnyValue_BoolValue:
			return fmt.Sprint(v.BoolValue)
		case *commonpb.AnyValue_DoubleValue:
			return fmt.Sprint(v.DoubleValue)
		}
	}
	return ""
}

// traceBackend answers JSON with status and records the trace context
// headers of every request.
type traceBackend struct {
	srv    *httptest.Server
	mu     sync.Mutex
	parent []string // traceparent of each request ("" when none)
	state  []string // tracestate of each request
}

func newTraceBackend(t *testing.T, status int) *traceBackend {
	t.Helper()
	b := &traceBackend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.parent = append(b.parent, strings.Join(r.Header.Values("Traceparent"), ","))
		b.state = append(b.state, strings.Join(r.Header.Values("Tracestate"), ","))
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *traceBackend) seen() (parents, states []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.parent...), append([]string(nil), b.state...)
}

// loadTraced loads a gateway with services cart, user (answering 200) and
// broken (answering 503, retried), endpoints GET /checkout/{cart_id} (calls cart
// and user) and GET /broken, and tracing as written ("" leaves it out).
func loadTraced(t *testing.T, tracing string) (*engine.Gateway, *httptest.Server, map[string]*traceBackend) {
	t.Helper()
	backends := map[string]*traceBackend{"cart": newTraceBackend(t, 200), "user": newTraceBackend(t, 200), "broken": newTraceBackend(t, 503)}
	if tracing != "" {
		tracing = `, "tracing": ` + tracing
	}
	gw := fmt.Sprintf(`{"endpoints": ["e"], "services": {"cart": {"urls": [%q]}, "user": {"urls": [%q]}, "broken": {"urls": [%q]}}%s}`,
		backends["cart"].srv.URL, backends["user"].srv.URL, backends["broken"].srv.URL, tracing)
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(gw)},
		"e/checkout.json": {Data: []byte(`{"method": "GET", "path": "/checkout/{cart_id}", "calls": {
			"cart": {"service": "cart", "path": "/carts/${params.cart_id}"},
			"user": {"service": "user", "path": "/me"}}}`)},
		"e/broken.json": {Data: []byte(`{"method": "GET", "path": "/broken", "calls": {
			"b": {"service": "broken", "path": "/b"}}}`)},
	}
	transport := engine.NewTransport()
	g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: transport})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(g)
	t.Cleanup(func() {
		front.Close()
		transport.CloseIdleConnections()
	})
	return g, front, backends
}

// tracedGet sends GET path to the gateway with the headers given as name, value
// pairs, and returns the status.
func tracedGet(t *testing.T, front *httptest.Server, path string, headers ...string) int {
	t.Helper()
	req, err := http.NewRequest("GET", front.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

const (
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
)

func hexID(b []byte) string { return hex.EncodeToString(b) }

// TestTracingSpans serves real requests through a loaded gateway to
// loopback backends and checks what an OTLP/HTTP collector receives: the
// server span under the client's traceparent, a client span per backend
// attempt under it, the backends told the client span's id, the attributes.
func TestTracingSpans(t *testing.T) {
	rc := newOTLPReceiver(t)
	g, front, backends := loadTraced(t, fmt.Sprintf(`{"otlp_endpoint": %q, "sample_ratio": 1, "service_name": "shop-gw"}`, rc.srv.URL))
	const secret = "s3cr3t-token-value"
	if st := tracedGet(t, front, "/checkout/c-17?coupon=x", "Traceparent", "00-"+clientTraceID+"-"+clientSpanID+"-01",
		"Tracestate", "vendor=abc", "Authorization", "Bearer "+secret, "Cookie", "fd_session="+secret, "X-API-Key", secret); st != 200 {
		t.Fatalf("checkout: status %d", st)
	}
	if st := tracedGet(t, front, "/broken"); st != http.StatusBadGateway {
		t.Fatalf("broken: status %d, want 502", st)
	}
	front.Close() // waits for the handlers, whose server spans end as they return
	g.Close()     // flushes the batch, bounded by its timeout

	spans, services, paths := rc.received()
	for _, p := range paths {
		if p != "POST /v1/traces" {
			t.Errorf("collector got %s, want POST /v1/traces", p)
		}
	}
	for i, s := range services {
		if s != "shop-gw" {
			t.Errorf("span %q: service.name %q, want shop-gw", spans[i].Name, s)
		}
	}
	for _, s := range spans {
		for _, kv := range s.Attributes {
			if strings.Contains(kv.String(), secret) {
				t.Errorf("span %q: attribute %s holds a credential", s.Name, kv.Key)
			}
		}
	}
	byName := map[string][]*tracepb.Span{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
	}

	// The checkout request: the server span is the client's span's child.
	servers := byName["GET /checkout/{cart_id}"]
	if len(servers) != 1 {
		t.Fatalf("server spans of GET /checkout/{cart_id}: %d, want 1 (all: %v)", len(servers), names(spans))
	}
	srv := servers[0]
	if srv.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("server span kind %v", srv.Kind)
	}
	if got := hexID(srv.TraceId); got != clientTraceID {
		t.Errorf("server span trace id %s, want the client's %s", got, clientTraceID)
	}
	if got := hexID(srv.ParentSpanId); got != clientSpanID {
		t.Errorf("server span parent %s, want the client's span %s", got, clientSpanID)
	}
	if srv.TraceState != "vendor=abc" {
		t.Errorf("server span trace state %q, want the client's", srv.TraceState)
	}
	for k, want := range map[string]string{"http.request.method": "GET", "http.route": "/checkout/{cart_id}", "http.response.status_code": "200"} {
		if got := attr(srv.Attributes, k); got != want {
			t.Errorf("server span %s = %q, want %q", k, got, want)
		}
	}
	if srv.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Error("a 200 answer's server span has error status")
	}

	// One client span per call, the server span's children, and each
	// backend saw a traceparent naming its client span.
	for _, call := range []string{"cart", "user"} {
		cs := byName["GET "+call]
		if len(cs) != 1 {
			t.Fatalf("client spans of call %s: %d, want 1 (all: %v)", call, len(cs), names(spans))
		}
		c := cs[0]
		if c.Kind != tracepb.Span_SPAN_KIND_CLIENT {
			t.Errorf("%s: span kind %v", call, c.Kind)
		}
		if hexID(c.TraceId) != clientTraceID || hexID(c.ParentSpanId) != hexID(srv.SpanId) {
			t.Errorf("%s: trace %s parent %s, want trace %s parent %s (the server span)", call,
				hexID(c.TraceId), hexID(c.ParentSpanId), clientTraceID, hexID(srv.SpanId))
		}
		for k, want := range map[string]string{"frontdesk.service": call, "frontdesk.call": call, "server.address": "127.0.0.1",
			"http.request.method": "GET", "http.response.status_code": "200", "frontdesk.attempt": "1"} {
			if got := attr(c.Attributes, k); got != want {
				t.Errorf("%s: client span %s = %q, want %q", call, k, got, want)
			}
		}
		if attr(c.Attributes, "server.port") == "" {
			t.Errorf("%s: client span without server.port", call)
		}
		parents, states := backends[call].seen()
		want := "00-" + clientTraceID + "-" + hexID(c.SpanId) + "-01"
		if len(parents) != 1 || parents[0] != want {
			t.Errorf("%s: backend saw traceparent %q, want %q (its client span)", call, parents, want)
		}
		if len(states) != 1 || states[0] != "vendor=abc" {
			t.Errorf("%s: backend saw tracestate %q, want the client's", call, states)
		}
	}

	// A 502: error status on the server span; the 503 answers are error
	// client spans, one per attempt (GET is retried once by default), each
	// the server span's child.
	broken := byName["GET /broken"]
	if len(broken) != 1 {
		t.Fatalf("server spans of GET /broken: %d, want 1 (all: %v)", len(broken), names(spans))
	}
	if broken[0].Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || attr(broken[0].Attributes, "http.response.status_code") != "502" {
		t.Errorf("GET /broken server span: status %v, code %s; want error, 502", broken[0].Status, attr(broken[0].Attributes, "http.response.status_code"))
	}
	if len(broken[0].ParentSpanId) != 0 {
		t.Errorf("GET /broken had no traceparent, but its span has parent %s", hexID(broken[0].ParentSpanId))
	}
	tries := byName["GET b"]
	parents, _ := backends["broken"].seen()
	if len(tries) != 2 || len(parents) != 2 {
		t.Fatalf("call b: %d client spans and %d backend requests, want 2 attempts", len(tries), len(parents))
	}
	for i, c := range tries {
		if hexID(c.ParentSpanId) != hexID(broken[0].SpanId) || hexID(c.TraceId) != hexID(broken[0].TraceId) {
			t.Errorf("attempt %d of b is not the server span's child", i+1)
		}
		if c.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || attr(c.Attributes, "http.response.status_code") != "503" {
			t.Errorf("attempt %d of b: status %v, code %s; want error, 503", i+1, c.Status, attr(c.Attributes, "http.response.status_code"))
		}
	}
	if attr(tries[0].Attributes, "frontdesk.attempt") == attr(tries[1].Attributes, "frontdesk.attempt") {
		t.Error("both attempts of b have the same frontdesk.attempt")
	}
	for i, p := range parents {
		found := false
		for _, c := range tries {
			found = found || p == "00-"+hexID(c.TraceId)+"-"+hexID(c.SpanId)+"-01"
		}
		if !found {
			t.Errorf("broken backend request %d carried traceparent %q, naming none of the attempts' spans", i+1, p)
		}
	}
}

func names(spans []*tracepb.Span) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}

// TestTracingOffPassesTraceContext: without gateway.json tracing, a
// client's traceparent and tracestate reach every backend unchanged, and
// a request without them sends none.
func TestTracingOffPassesTraceContext(t *testing.T) {
	g, front, backends := loadTraced(t, "")
	defer g.Close()
	const tp = "00-" + clientTraceID + "-" + clientSpanID + "-01"
	const ts = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
	if st := tracedGet(t, front, "/checkout/c1", "Traceparent", tp, "Tracestate", ts); st != 200 {
		t.Fatalf("status %d", st)
	}
	if st := tracedGet(t, front, "/checkout/c2"); st != 200 {
		t.Fatalf("status %d", st)
	}
	for _, call := range []string{"cart", "user"} {
		parents, states := backends[call].seen()
		if len(parents) != 2 {
			t.Fatalf("%s: %d requests, want 2", call, len(parents))
		}
		if parents[0] != tp || states[0] != ts {
			t.Errorf("%s: backend saw traceparent %q tracestate %q, want the client's %q %q", call, parents[0], states[0], tp, ts)
		}
		if parents[1] != "" || states[1] != "" {
			t.Errorf("%s: a request without trace context reached the backend with traceparent %q tracestate %q", call, parents[1], states[1])
		}
	}
}

// TestTracingSampleRatioZero: at sample_ratio 0 a request without a
// sampled parent exports nothing (its context still reaches backends,
// marked not sampled), an unsampled parent is followed, and a sampled
// parent is honored.
func TestTracingSampleRatioZero(t *testing.T) {
	rc := newOTLPReceiver(t)
	g, front, backends := loadTraced(t, fmt.Sprintf(`{"otlp_endpoint": "%s/", "sample_ratio": 0}`, rc.srv.URL))
	const unsampledTrace = "0af7651916cd43dd8448eb211c80319c"
	for _, h := range [][]string{nil, {"Traceparent", "00-" + unsampledTrace + "-b7ad6b7169203331-00"},
		{"Traceparent", "00-" + clientTraceID + "-" + clientSpanID + "-01"}} {
		if st := tracedGet(t, front, "/checkout/c1", h...); st != 200 {
			t.Fatalf("status %d", st)
		}
	}
	front.Close() // the answers are flushed before the handlers (and their spans) end
	g.Close()
	spans, services, _ := rc.received()
	if len(spans) != 3 {
		t.Fatalf("exported %d spans (%v), want 3: the sampled request's server span and two client spans", len(spans), names(spans))
	}
	for i, s := range spans {
		if hexID(s.TraceId) != clientTraceID {
			t.Errorf("span %q of trace %s exported; only the sampled parent's trace %s should be", s.Name, hexID(s.TraceId), clientTraceID)
		}
		if services[i] != "frontdesk" {
			t.Errorf("service.name %q, want the default frontdesk", services[i])
		}
	}
	parents, _ := backends["cart"].seen()
	if len(parents) != 3 {
		t.Fatalf("cart saw %d requests, want 3", len(parents))
	}
	if p := parents[0]; len(p) != 55 || !strings.HasSuffix(p, "-00") {
		t.Errorf("unsampled request without a parent: backend saw traceparent %q, want a fresh one marked -00", p)
	}
	if p := parents[1]; !strings.HasPrefix(p, "00-"+unsampledTrace+"-") || !strings.HasSuffix(p, "-00") {
		t.Errorf("unsampled parent: backend saw traceparent %q, want its trace, not sampled", p)
	}
	if p := parents[2]; !strings.HasPrefix(p, "00-"+clientTraceID+"-") || !strings.HasSuffix(p, "-01") || strings.Contains(p, clientSpanID) {
		t.Errorf("sampled parent: backend saw traceparent %q, want the client's trace with a client span of ours", p)
	}
}

// TestTracingConfigErrors: bad tracing keys are load errors at their
// file:line:col.
func TestTracingConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, tracing, want string }{
		{"bad url", `{"otlp_endpoint": "127.0.0.1:4318"}`, `gateway.json:3:32: error: tracing.otlp_endpoint: "127.0.0.1:4318" is not an http(s) base URL`},
		{"query", `{"otlp_endpoint": "http://c:4318/?x=1"}`, `gateway.json:3:32: error: tracing.otlp_endpoint:`},
		{"ratio above 1", `{"otlp_endpoint": "http://c:4318", "sample_ratio": 1.5}`, `gateway.json:3:65: error: tracing.sample_ratio must be a number from 0 to 1, not 1.5`},
		{"ratio below 0", `{"otlp_endpoint": "http://c:4318", "sample_ratio": -0.1}`, `gateway.json:3:65: error: tracing.sample_ratio must be a number from 0 to 1`},
		{"no endpoint", `{"sample_ratio": 0.5}`, `gateway.json:3:14: error: tracing needs "otlp_endpoint"`},
		{"unknown key", `{"otlp_endpoint": "http://c:4318", "ratio": 0.5}`, `gateway.json:3:49: error: unknown key "ratio" in tracing`},
		{"empty service", `{"otlp_endpoint": "http://c:4318", "service_name": ""}`, `gateway.json:3:65: error: tracing.service_name must be 1 to 256 characters`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{"gateway.json": {Data: []byte("{\n  \"endpoints\": [],\n  \"tracing\": " + tc.tracing + "\n}")}}
			_, err := engine.Load(fsys, "gateway.json", engine.Options{})
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got\n%v\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
	// A good one loads, and its Close returns at once with nothing queued.
	fsys := fstest.MapFS{"gateway.json": {Data: []byte(`{"endpoints": [], "tracing": {"otlp_endpoint": "${OTLP:-http://127.0.0.1:1}", "sample_ratio": 0.1}}`)}}
	g, err := engine.Load(fsys, "gateway.json", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { g.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10s")
	}
}

// TestTracingHedge: a hedged call has a client span per try, both the
// server span's children; the first try, left unanswered, is cancelled
// when the hedge answers and its span says so.
func TestTracingHedge(t *testing.T) {
	rc := newOTLPReceiver(t)
	var mu sync.Mutex
	arrived := 0
	seen := map[string]bool{} // traceparents the backends were sent
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		first := arrived == 1
		seen[r.Header.Get("Traceparent")] = true
		mu.Unlock()
		if first {
			// Unanswered until the gateway gives up on it (bounded).
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	})
	a, b := httptest.NewServer(handler), httptest.NewServer(handler)
	defer a.Close()
	defer b.Close()
	gw := fmt.Sprintf(`{"endpoints": ["e"], "services": {"h": {"urls": [%q, %q], "hedge_after": "5ms"}},
		"tracing": {"otlp_endpoint": %q}}`, a.URL, b.URL, rc.srv.URL)
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(gw)},
		"e/h.json":     {Data: []byte(`{"method": "GET", "path": "/h", "calls": {"h": {"service": "h", "path": "/x"}}}`)},
	}
	transport := engine.NewTransport()
	defer transport.CloseIdleConnections()
	g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: transport})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(g)
	defer front.Close()
	if st := tracedGet(t, front, "/h"); st != 200 {
		t.Fatalf("status %d", st)
	}
	front.Close() // the answer is flushed before the handler (and its span) ends
	g.Close()
	spans, _, _ := rc.received()
	var server *tracepb.Span
	var tries []*tracepb.Span
	for _, s := range spans {
		switch s.Name {
		case "GET /h":
			server = s
		case "GET h":
			tries = append(tries, s)
		}
	}
	if server == nil || len(tries) != 2 {
		t.Fatalf("spans %v: want the server span and two tries", names(spans))
	}
	outcomes := map[string]bool{}
	for _, c := range tries {
		if hexID(c.ParentSpanId) != hexID(server.SpanId) {
			t.Errorf("a try is not the server span's child")
		}
		if !seen["00-"+hexID(c.TraceId)+"-"+hexID(c.SpanId)+"-01"] {
			t.Errorf("no backend was sent the traceparent of try span %s", hexID(c.SpanId))
		}
		outcomes[attr(c.Attributes, "error.type")+"/"+attr(c.Attributes, "http.response.status_code")] = true
	}
	if !outcomes["canceled/"] || !outcomes["/200"] {
		t.Errorf("try outcomes %v, want one canceled and one 200", outcomes)
	}
}

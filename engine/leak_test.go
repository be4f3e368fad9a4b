package engine_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"frontdesk/engine"
	"frontdesk/pipeline/logs"
)

// TestErrorsCarryNoBackendData: whatever an expression does with a
// backend's values, the problem document names the field and the kind of
// failure, never the value, the expression's source or a Go type name; and
// no log line, at any level, carries the backend's data either.
func TestErrorsCarryNoBackendData(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/broken":
			io.WriteString(w, `{"secret": "TOPSECRET-internal-only", `)
		case "/xml":
			w.Header().Set("Content-Type", "application/xml")
			io.WriteString(w, `<a><TOPSECRET-internal-only></a>`)
		default:
			io.WriteString(w, `{"secret": "TOPSECRET-internal-only", "list": [1], "n": 1.5}`)
		}
	}))
	defer backend.Close()
	exprs := map[string]string{
		"float":    "float(x.secret)",
		"int":      "int(x.secret)",
		"date":     "date(x.secret)",
		"duration": "duration(x.secret)",
		"concat":   "x.secret + 1",
		"member":   "x.secret.inner",
		"index":    "x.list[7]",
		"upper":    "upper(x.n)",
		"len":      "len(x.n)",
		"pick":     "pick(x.secret, 'a')",
		"json":     "fromJSON(x.secret)",
		"nan":      "x.n / 0 * 0",
		"status":   "x.secret",
	}
	fsys := fstest.MapFS{
		"gateway.json":  {Data: []byte(`{"endpoints": ["e"], "services": {"s": {"urls": ["` + backend.URL + `"]}}}`)},
		"e/broken.json": {Data: []byte(`{"method": "GET", "path": "/broken", "calls": {"x": {"service": "s", "path": "/broken"}}}`)},
		"e/xml.json":    {Data: []byte(`{"method": "GET", "path": "/xml", "calls": {"x": {"service": "s", "path": "/xml"}}}`)},
		"e/when.json":   {Data: []byte(`{"method": "GET", "path": "/when", "calls": {"x": {"service": "s", "path": "/"}, "y": {"service": "s", "path": "/", "when": "x.secret"}}}`)},
		"e/each.json":   {Data: []byte(`{"method": "GET", "path": "/each", "calls": {"x": {"service": "s", "path": "/"}, "y": {"service": "s", "path": "/", "for_each": "x.secret"}}}`)},
		"e/path.json":   {Data: []byte(`{"method": "GET", "path": "/path", "calls": {"x": {"service": "s", "path": "/"}, "y": {"service": "s", "path": "/${x.list}"}}}`)},
	}
	var paths []string
	for name, src := range exprs {
		spec := `{"method": "GET", "path": "/` + name + `", "calls": {"x": {"service": "s", "path": "/"}}, "response": {"body": {"v": "` + src + `"}}}`
		if name == "status" {
			spec = `{"method": "GET", "path": "/status", "calls": {"x": {"service": "s", "path": "/"}}, "response": {"status": "` + src + `"}}`
		}
		fsys["e/"+name+".json"] = &fstest.MapFile{Data: []byte(spec)}
		paths = append(paths, "/"+name)
	}
	paths = append(paths, "/broken", "/xml", "/when", "/each", "/path")
	tr := engine.NewTransport()
	defer tr.CloseIdleConnections()
	sink := &syncBuffer{}
	out := logs.New(sink)
	out.Set(slog.LevelDebug, false, true)
	g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: tr, Output: out, Logger: out.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			w := httptest.NewRecorder()
			g.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
			body := w.Body.String()
			if w.Code < 500 || !strings.Contains(w.Header().Get("Content-Type"), "problem+json") {
				t.Fatalf("status %d %s: %s", w.Code, w.Header().Get("Content-Type"), body)
			}
			for _, leak := range []string{"TOPSECRET", "float64", "string +", "interface", "Go value", "x.secret", "x.n", "(1:"} {
				if strings.Contains(body, leak) {
					t.Errorf("the problem carries %q: %s", leak, body)
				}
			}
			if !strings.Contains(body, `"detail":`) {
				t.Errorf("no detail: %s", body)
			}
		})
	}
	lines := sink.lines()
	if len(lines) < 2*len(paths) {
		t.Fatalf("%d log lines for %d requests: each should have its access line and its warning", len(lines), len(paths))
	}
	for _, l := range lines {
		if strings.Contains(l, "TOPSECRET") {
			t.Errorf("a log line carries the backend's data: %s", l)
		}
	}
}

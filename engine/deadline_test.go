package engine_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"testing/synctest"
	"time"

	"frontdesk/engine"
)

// clockTransport answers each backend path after a fixed delay on the
// (fake, inside synctest) clock, or gives up when the request's context
// ends, as a stalled backend would.
type clockTransport struct {
	delays map[string]time.Duration
}

func (t clockTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	d := t.delays[r.URL.Path]
	select {
	case <-time.After(d):
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	body := `{"path":"` + r.URL.Path + `","n":1}`
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

func loadClock(t *testing.T, delays map[string]time.Duration, spec string) *engine.Gateway {
	t.Helper()
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"s": {"urls": ["http://backend.invalid"]}}}`)},
		"e/spec.json":  {Data: []byte(spec)},
	}
	g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: clockTransport{delays}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// serveTimed serves one request and returns the response and how long it
// took on the bubble's clock: exact, since only timers move it.
func serveTimed(g *engine.Gateway, path string) (*httptest.ResponseRecorder, time.Duration) {
	start := time.Now()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", path, nil).WithContext(context.Background())
	g.ServeHTTP(w, r)
	return w, time.Since(start)
}

// TestDeadlinesAndOrder checks the time-driven rules on a fake clock: calls
// start the moment what they read is done, independent calls overlap, and
// call and endpoint deadlines cut exactly where they should.
func TestDeadlinesAndOrder(t *testing.T) {
	cases := []struct {
		name     string
		delays   map[string]time.Duration
		spec     string
		status   int
		took     time.Duration
		contains []string
	}{
		{
			name:   "a dependent call waits, an independent one overlaps",
			delays: map[string]time.Duration{"/a": 20 * time.Millisecond, "/b/1": 30 * time.Millisecond, "/c": 40 * time.Millisecond},
			spec: `{"method": "GET", "path": "/x", "calls": {
				"a": {"service": "s", "path": "/a"},
				"b": {"service": "s", "path": "/b/${a.n}"},
				"c": {"service": "s", "path": "/c"}}}`,
			status: 200, took: 50 * time.Millisecond, // a then b (20+30), c alongside (40)
			contains: []string{`"b":{"path":"/b/1","n":1}`},
		},
		{
			name:   "after orders without reading",
			delays: map[string]time.Duration{"/a": 20 * time.Millisecond, "/b": 30 * time.Millisecond},
			spec: `{"method": "GET", "path": "/x", "calls": {
				"a": {"service": "s", "path": "/a"},
				"b": {"service": "s", "path": "/b", "after": ["a"]}}}`,
			status: 200, took: 50 * time.Millisecond,
		},
		{
			name:   "a call's own timeout is a 504 naming it, at that timeout",
			delays: map[string]time.Duration{"/slow": time.Second},
			spec: `{"method": "GET", "path": "/x", "timeout": "2s", "calls": {
				"slow": {"service": "s", "path": "/slow", "timeout": "100ms"}}}`,
			status: 504, took: 100 * time.Millisecond,
			contains: []string{`"call":"slow"`, `urn:frontdesk:call-timeout`},
		},
		{
			name:   "the endpoint's timeout is a 504 naming no call, at that timeout",
			delays: map[string]time.Duration{"/a": 10 * time.Millisecond, "/slow": 5 * time.Second},
			spec: `{"method": "GET", "path": "/x", "timeout": "200ms", "calls": {
				"a": {"service": "s", "path": "/a"},
				"slow": {"service": "s", "path": "/slow", "timeout": "1s"}}}`,
			status: 504, took: 200 * time.Millisecond,
			contains: []string{`urn:frontdesk:timeout`},
		},
		{
			name:   "an optional call past its timeout gives its fallback, the rest waits for nothing",
			delays: map[string]time.Duration{"/a": 30 * time.Millisecond, "/recs": time.Minute},
			spec: `{"method": "GET", "path": "/x", "calls": {
				"a": {"service": "s", "path": "/a"},
				"recs": {"service": "s", "path": "/recs", "optional": true, "timeout": "50ms", "fallback": "{'items': []}"}}}`,
			status: 200, took: 50 * time.Millisecond,
			contains: []string{`"recs":{"items":[]}`},
		},
		{
			name:   "for_each elements run together",
			delays: map[string]time.Duration{"/list": 10 * time.Millisecond, "/p/A": 30 * time.Millisecond, "/p/B": 30 * time.Millisecond, "/p/C": 30 * time.Millisecond},
			spec: `{"method": "GET", "path": "/x", "calls": {
				"list": {"service": "s", "path": "/list"},
				"p": {"service": "s", "for_each": "['A', 'B', 'C']", "path": "/p/${item}", "after": ["list"]}}}`,
			status: 200, took: 40 * time.Millisecond, // 10, then three at once
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := loadClock(t, tc.delays, tc.spec)
				w, took := serveTimed(g, "/x")
				if w.Code != tc.status || took != tc.took {
					t.Errorf("status %d after %v; want %d after %v\n%s", w.Code, took, tc.status, tc.took, w.Body)
				}
				for _, s := range tc.contains {
					if !bytes.Contains(w.Body.Bytes(), []byte(s)) {
						t.Errorf("body lacks %s:\n%s", s, w.Body)
					}
				}
				if tc.status == 200 && strings.Contains(tc.name, "optional") && w.Header().Get("Partial-Response") != "recs" {
					t.Errorf("Partial-Response = %q", w.Header().Get("Partial-Response"))
				}
			})
		})
	}
}

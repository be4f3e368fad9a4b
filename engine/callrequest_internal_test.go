package engine

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

// TestRequestBuilding: a backend request is built from the compiled call
// and the client's request without sending anything: path segments
// escaped, nil query values left out, lists repeated, headers as the spec
// says plus the gateway's own, bodies in the call's encoding.
func TestRequestBuilding(t *testing.T) {
	spec := `{"method": "POST", "path": "/o/{id}", "calls": {
		"plain": {"service": "s", "path": "/a/${params.id}/b", "query": {"q": "query.q", "none": "nil", "many": "['x', 'y z']"},
		          "headers": {"X-Lang": "headers['Accept-Language']", "X-Skip": "nil"}},
		"json":  {"service": "s", "method": "PUT", "path": "/j", "body": {"id": "params.id", "n": "body.n"}},
		"xml":   {"service": "s", "method": "POST", "path": "/x", "encode": "xml", "xml": {"root": "order"}, "body": {"id": "params.id"}},
		"form":  {"service": "s", "method": "POST", "path": "/f", "encode": "form", "body": {"id": "params.id", "n": "body.n"}}
	}}`
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"s": {"urls": ["http://127.0.0.1:1"]}}}`)},
		"e/o.json":     {Data: []byte(spec)},
	}
	g, err := Load(fsys, "gateway.json", Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := g.Plans[0]
	r := httptest.NewRequest("POST", "/o/a%2Fb?q=1%262", strings.NewReader(`{"n": 2}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept-Language", "fr")
	r.Header.Set("X-Request-Id", "rid")
	r.SetPathValue("id", "a/b")
	x := &exchange{p: p, r: r, results: make([]result, len(p.Calls))}
	if err := x.prepare(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		call, method, target, ct, body string
		header                         map[string]string
	}{
		{"plain", "GET", "/a/a%2Fb/b?q=1%262&many=x&many=y+z", "", "",
			map[string]string{"X-Lang": "fr", "X-Skip": "", "X-Request-Id": "rid", "X-Forwarded-For": "192.0.2.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "example.com"}},
		{"json", "PUT", "/j", "application/json", `{"id":"a/b","n":2}`, nil},
		{"xml", "POST", "/x", "application/xml; charset=utf-8", `<order><id>a/b</id></order>`, nil},
		{"form", "POST", "/f", "application/x-www-form-urlencoded", `id=a%2Fb&n=2`, nil},
	} {
		t.Run(tc.call, func(t *testing.T) {
			c := p.Calls[p.callIndex(tc.call)]
			req, err := x.request(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			if req.Method != tc.method || req.Target != tc.target || req.Call != tc.call {
				t.Errorf("got %s %s (%s), want %s %s", req.Method, req.Target, req.Call, tc.method, tc.target)
			}
			if string(req.Body) != tc.body {
				t.Errorf("body %q, want %q", req.Body, tc.body)
			}
			if got := req.Header.Get("Content-Type"); got != tc.ct {
				t.Errorf("Content-Type %q, want %q", got, tc.ct)
			}
			for k, v := range tc.header {
				if got := req.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if _, ok := req.Header[http.CanonicalHeaderKey("Accept-Language")]; ok {
				t.Error("a client header the spec does not name was passed on")
			}
		})
	}
}

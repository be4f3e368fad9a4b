package backend

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"frontdesk/pipeline"
)

// targets mixes what the engine builds (escaped segments, escaped query
// values) with what it never should, so that both paths of newRequest are
// compared with parsing base+target.
var targets = []string{
	"/",
	"/carts/c1",
	"/carts/a%2Fb/items",
	"/carts/a%20b?x=1&y=%2F%3F%26",
	"/a(b)*'!",
	"/a%28b%29",
	"/a;b,c:d@e=f+g$h&i",
	"/%2e%2e/x",
	"/%C3%A9t%C3%A9",
	"/été",
	"/a b",
	"/a?",
	"/a??",
	"/a?b?",
	"/a?b=c?d",
	"/a?q=%zz",
	"//double",
	"/*",
	"/a#frag",
	"/a?b#frag",
	"/%zz",
	"/a%2",
	"/a\x7f",
	"/a\x00b",
	"/a?b\nc",
	"*",
	"",
	"x",
	"?x=1",
}

func TestResolveMatchesParse(t *testing.T) {
	bases := []string{
		"http://127.0.0.1:8080",
		"http://127.0.0.1:8080/api",
		"http://127.0.0.1:8080/a%20b",
		"http://127.0.0.1:8080/a(b)",
		"http://127.0.0.1:8080/",
		"http://127.0.0.1:",
		"HTTP://Example.COM",
		"http://user:p%40ss@example.com/v1",
		"http://[::1]:9000/x",
		"http://[fe80::1%25eth0]:9000",
		"https://example.com",
		"http:/nohost",
		"http:opaque",
		"/relative",
		"http://h/a?q=1",
	}
	fast := 0
	for _, base := range bases {
		in := &instance{base: base, url: parseBase(base)}
		for _, target := range targets {
			want, werr := http.NewRequestWithContext(context.Background(), http.MethodGet, base+target, nil)
			got, gerr := in.newRequest(context.Background(), http.MethodGet, target, nil)
			if (werr != nil) != (gerr != nil) {
				t.Errorf("%q + %q: error %v, want %v", base, target, gerr, werr)
				continue
			}
			if werr != nil {
				continue
			}
			if !reflect.DeepEqual(got.URL, want.URL) || got.Host != want.Host {
				t.Errorf("%q + %q:\n got %#v host %q\nwant %#v host %q", base, target, *got.URL, got.Host, *want.URL, want.Host)
			}
			if _, ok := in.url.resolve(target); ok {
				fast++
			}
		}
	}
	if fast < 100 {
		t.Errorf("only %d targets took the parsed base", fast)
	}
}

// TestTargetOnTheWire: a real server sees exactly the request line and
// Host that base+target parsed as one URL gave it, escaped segments and
// query included; a target that does not parse fails as a request failure.
func TestTargetOnTheWire(t *testing.T) {
	type seen struct{ uri, path, rawPath, rawQuery, host string }
	var mu sync.Mutex
	var last seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		last = seen{r.RequestURI, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Host}
		mu.Unlock()
	}))
	defer srv.Close()
	tr := NewTransport()
	defer tr.CloseIdleConnections()
	read := func() seen {
		mu.Lock()
		defer mu.Unlock()
		s := last
		last = seen{}
		return s
	}
	for _, base := range []string{srv.URL, srv.URL + "/api", srv.URL + "/a%20b(c)", strings.Replace(srv.URL, "http:", "HTTP:", 1)} {
		c := New(Config{Name: "svc", URLs: []string{base}, MaxBody: 1 << 20, Transport: tr, Retry: Retry{Attempts: 1}})
		for _, target := range targets {
			// As before: base+target parsed whole, sent by the same transport.
			var want seen
			old, werr := http.NewRequest(http.MethodGet, base+target, nil)
			if werr == nil {
				resp, err := tr.RoundTrip(old)
				if err != nil {
					werr = err
				} else {
					resp.Body.Close()
					want = read()
				}
			}
			_, err := c.Do(context.Background(), get(target))
			if werr != nil {
				if failure(err) != pipeline.FailRequest && failure(err) != pipeline.FailUnreachable {
					t.Errorf("%q + %q: got %v, want a failed request like %v", base, target, err, werr)
				}
				continue
			}
			if err != nil {
				t.Errorf("%q + %q: %v", base, target, err)
				continue
			}
			if got := read(); got != want {
				t.Errorf("%q + %q:\n got %+v\nwant %+v", base, target, got, want)
			}
		}
	}
}

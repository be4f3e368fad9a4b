package cors

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"frontdesk/pipeline"
)

// routes of the tests: GET and POST at /checkout/..., nothing elsewhere.
func routes(r *http.Request) []string {
	if strings.HasPrefix(r.URL.Path, "/checkout/") {
		return []string{"GET", "POST"}
	}
	return nil
}

func newCORS(t *testing.T, cfg Config) http.Handler {
	t.Helper()
	c, err := New(cfg, routes)
	if err != nil {
		t.Fatal(err)
	}
	// Behind it, an endpoint that needs a token, as auth would: a
	// preflight must never get here.
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			pipeline.WriteError(w, r, &pipeline.AuthError{Status: 401, Challenge: `Bearer realm="frontdesk"`, Detail: "no token"})
			return
		}
		w.Header().Set("Server-Timing", "total;dur=1")
		w.WriteHeader(200)
	})
	return pipeline.Chain(next, pipeline.RequestID, c.Stage)
}

var shop = Config{
	AllowOrigins:     []string{"https://shop.example.com", "https://*.example.com"},
	AllowMethods:     []string{"GET", "POST"},
	AllowHeaders:     []string{"authorization", "Content-Type"},
	ExposeHeaders:    []string{"Server-Timing", "X-Request-Id"},
	AllowCredentials: true,
	MaxAge:           10 * time.Minute,
}

func preflight(path, origin, method string) *http.Request {
	r := httptest.NewRequest("OPTIONS", path, nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	r.Header.Set("Access-Control-Request-Method", method)
	r.Header.Set("Access-Control-Request-Headers", "authorization")
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func hasVary(h http.Header, v string) bool {
	for _, line := range h.Values("Vary") {
		for part := range strings.SplitSeq(line, ",") {
			if strings.TrimSpace(part) == v {
				return true
			}
		}
	}
	return false
}

func TestPreflightAllowed(t *testing.T) {
	h := newCORS(t, shop)
	w := serve(h, preflight("/checkout/c1", "https://shop.example.com", "POST"))
	if w.Code != 204 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	want := map[string]string{
		"Access-Control-Allow-Origin":      "https://shop.example.com",
		"Access-Control-Allow-Methods":     "GET, POST",
		"Access-Control-Allow-Headers":     "Authorization, Content-Type",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Max-Age":           "600",
	}
	for k, v := range want {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !hasVary(w.Header(), "Origin") || !hasVary(w.Header(), "Access-Control-Request-Method") {
		t.Errorf("Vary %v", w.Header().Values("Vary"))
	}
	if w.Body.Len() != 0 {
		t.Errorf("a 204 with a body: %q", w.Body)
	}
}

func TestPreflightRefused(t *testing.T) {
	h := newCORS(t, shop)
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		typ    string
	}{
		{"another origin", preflight("/checkout/c1", "https://evil.test", "GET"), 403, "urn:frontdesk:cors-refused"},
		{"the bare domain of a wildcard", preflight("/checkout/c1", "https://example.com", "GET"), 403, "urn:frontdesk:cors-refused"},
		{"http instead of https", preflight("/checkout/c1", "http://shop.example.com", "GET"), 403, "urn:frontdesk:cors-refused"},
		{"a look-alike domain", preflight("/checkout/c1", "https://shop.example.com.evil.test", "GET"), 403, "urn:frontdesk:cors-refused"},
		{"a method not allowed", preflight("/checkout/c1", "https://shop.example.com", "PUT"), 405, "urn:frontdesk:method-not-allowed"},
		{"a path with no endpoint", preflight("/nowhere", "https://shop.example.com", "GET"), 404, "urn:frontdesk:not-found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(h, tc.req)
			var p map[string]any
			json.Unmarshal(w.Body.Bytes(), &p)
			if w.Code != tc.status || p["type"] != tc.typ {
				t.Errorf("%d %v, want %d %s", w.Code, p, tc.status, tc.typ)
			}
			for k := range w.Header() {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("a refused preflight carries %s", k)
				}
			}
			if w.Header().Get("WWW-Authenticate") != "" {
				t.Error("a preflight was sent to auth")
			}
		})
	}
}

func TestSimpleRequest(t *testing.T) {
	h := newCORS(t, shop)
	r := httptest.NewRequest("GET", "/checkout/c1", nil)
	r.Header.Set("Origin", "https://a.b.example.com")
	r.Header.Set("Authorization", "Bearer x")
	w := serve(h, r)
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "https://a.b.example.com" ||
		w.Header().Get("Access-Control-Allow-Credentials") != "true" ||
		w.Header().Get("Access-Control-Expose-Headers") != "Server-Timing, X-Request-Id" || !hasVary(w.Header(), "Origin") {
		t.Errorf("%d %v", w.Code, w.Header())
	}
	// The 401 of a request without a token carries the headers too, so
	// the page can read it.
	r.Header.Del("Authorization")
	w = serve(h, r)
	if w.Code != 401 || w.Header().Get("Access-Control-Allow-Origin") != "https://a.b.example.com" {
		t.Errorf("401: %d %v", w.Code, w.Header())
	}
	// Another origin: served as if CORS were off, Vary still set.
	r.Header.Set("Origin", "https://evil.test")
	r.Header.Set("Authorization", "Bearer x")
	w = serve(h, r)
	if w.Code != 200 || !hasVary(w.Header(), "Origin") {
		t.Errorf("other origin: %d %v", w.Code, w.Header())
	}
	for k := range w.Header() {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("an answer to another origin carries %s", k)
		}
	}
	// No Origin at all.
	r.Header.Del("Origin")
	if w = serve(h, r); w.Header().Get("Access-Control-Allow-Origin") != "" || !hasVary(w.Header(), "Origin") {
		t.Errorf("no origin: %v", w.Header())
	}
}

func TestAnyOrigin(t *testing.T) {
	h := newCORS(t, Config{AllowOrigins: []string{"*"}})
	w := serve(h, preflight("/checkout/c1", "https://anyone.test", "POST"))
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Allow-Methods") != "GET, POST" ||
		w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("%d %v", w.Code, w.Header())
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
		index int
		want  string
	}{
		{Config{}, "allow_origins", -1, "at least one"},
		{Config{AllowOrigins: []string{"*"}, AllowCredentials: true}, "allow_origins", 0, "cannot be used with allow_credentials"},
		{Config{AllowOrigins: []string{"https://a.test", "https://a.test/app"}}, "allow_origins", 1, `no path (write "https://a.test")`},
		{Config{AllowOrigins: []string{"shop.example.com"}}, "allow_origins", 0, "is not an origin"},
		{Config{AllowOrigins: []string{"https://a.*.example.com"}}, "allow_origins", 0, "only be the first label"},
		{Config{AllowOrigins: []string{"https://*.com"}}, "allow_origins", 0, "needs a domain"},
		{Config{AllowOrigins: []string{"null"}}, "allow_origins", 0, "cannot be allowed"},
		{Config{AllowOrigins: []string{"https://a.test"}, AllowMethods: []string{"get"}}, "allow_methods", 0, "is not one of"},
		{Config{AllowOrigins: []string{"https://a.test"}, AllowHeaders: []string{"X Y"}}, "allow_headers", 0, "not a header name"},
		{Config{AllowOrigins: []string{"https://a.test"}, ExposeHeaders: []string{"*"}, AllowCredentials: true}, "expose_headers", 0, "only without credentials"},
	} {
		_, err := New(tc.cfg, routes)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || ce.Index != tc.index || !strings.Contains(ce.Msg, tc.want) {
			t.Errorf("%+v: %v, want %s[%d] %q", tc.cfg, err, tc.field, tc.index, tc.want)
		}
	}
}

func TestOriginMatching(t *testing.T) {
	c, err := New(Config{AllowOrigins: []string{"https://Shop.Example.com", "https://*.example.com:8443", "http://localhost:5173"}}, routes)
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]bool{
		"https://shop.example.com":       true,
		"https://SHOP.example.com":       true,
		"https://a.example.com:8443":     true,
		"https://a.example.com":          false,
		"https://example.com:8443":       false,
		"https://.example.com:8443":      false,
		"https://a@b.example.com:8443":   false,
		"http://localhost:5173":          true,
		"http://localhost:5174":          false,
		"https://shop.example.com.":      false,
		"":                               false,
		"null":                           false,
		"https://x.shop.example.com":     false,
		"https://evil.test/.example.com": false,
	} {
		if got := c.allowed(origin); got != want {
			t.Errorf("allowed(%q) = %v, want %v", origin, got, want)
		}
	}
}

// FuzzOrigin: a wildcard never admits an origin outside its scheme and
// domain, and matching never panics.
func FuzzOrigin(f *testing.F) {
	c, err := New(Config{AllowOrigins: []string{"https://*.example.com", "https://shop.test"}}, routes)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"https://a.example.com", "https://example.com", "https://a.example.com.evil", "http://a.example.com", "", "null"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, origin string) {
		if !c.allowed(origin) {
			return
		}
		lo := strings.ToLower(origin)
		if lo != "https://shop.test" && (!strings.HasPrefix(lo, "https://") || !strings.HasSuffix(lo, ".example.com") || lo == "https://.example.com") {
			t.Fatalf("%q was allowed", origin)
		}
	})
}

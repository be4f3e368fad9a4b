package engine_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/MicahParks/jwkset"

	"frontdesk/engine"
	"frontdesk/pipeline/auth"
)

// recorder is a backend that answers {"ok": true} and remembers what it
// was sent.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (b *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.reqs = append(b.reqs, r.Clone(context.Background()))
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok": true, "name": "Ada"}`)
}

func (b *recorder) sent() []*http.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*http.Request(nil), b.reqs...)
}

const partnerKey = "partner-key-0123456789"

var (
	edPriv ed25519.PrivateKey
	edOnce sync.Once
)

func edKey(t testing.TB) ed25519.PrivateKey {
	edOnce.Do(func() { _, edPriv, _ = ed25519.GenerateKey(rand.Reader) })
	return edPriv
}

func pemOf(t testing.TB, pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// authGateway loads a gateway whose endpoints need auth, over a recording
// backend: GET /me needs a token with scope profile and sends auth.sub as
// X-User-Id; GET /partners/{p}/stock takes a key whose client is p;
// GET /open is public.
func authGateway(t *testing.T, log *slog.Logger, extra string) (*engine.Gateway, *recorder) {
	t.Helper()
	be := &recorder{}
	srv := httptest.NewServer(be)
	t.Cleanup(srv.Close)
	keys := `{"clients": {"partner-x": {"sha256": ["` + auth.HashKey(partnerKey) + `"], "scopes": ["stock:read"]}}}`
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{
  "endpoints": ["endpoints"],
  "services": { "user": { "urls": ["` + srv.URL + `"] } },
  "auth": {
    "jwt": { "public_keys": ["keys/issuer.pem"], "algorithms": ["EdDSA"], "issuer": "https://id.test/", "audience": "shop", "leeway": "5s" },
    "api_keys": { "file": "keys.json" }
  }` + extra + `
}`)},
		"keys/issuer.pem": {Data: pemOf(t, edKey(t).Public())},
		"keys.json":       {Data: []byte(keys)},
		"endpoints/me.json": {Data: []byte(`{
  "method": "GET", "path": "/me",
  "auth": { "require": ["jwt"], "scopes": ["profile"], "allow": "auth.claims.tier != 'banned'" },
  "calls": { "user": { "service": "user", "path": "/users/${auth.sub}",
                       "headers": { "X-User-Id": "auth.sub", "X-Scopes": "join(auth.scopes, ' ')" } } },
  "response": { "body": { "name": "user.name", "sub": "auth.sub", "method": "auth.method", "tier": "auth.claims.tier" } }
}`)},
		"endpoints/stock.json": {Data: []byte(`{
  "method": "GET", "path": "/partners/{p}/stock",
  "auth": { "require": ["api_key"], "allow": "auth.sub == params.p" },
  "calls": { "stock": { "service": "user", "path": "/stock", "headers": { "X-Client": "auth.sub" } } },
  "response": { "body": { "client": "auth.sub", "scopes": "auth.scopes", "claims": "auth.claims", "method": "auth.method" } }
}`)},
		"endpoints/uid.json": {Data: []byte(`{
  "method": "GET", "path": "/uid",
  "auth": { "require": ["jwt"] },
  "calls": { "user": { "service": "user", "path": "/users/${auth.claims.uid}", "headers": { "X-User-Id": "auth.claims.uid" } } },
  "response": { "body": { "uid": "auth.claims.uid", "claims": "auth.claims" } }
}`)},
		"endpoints/open.json": {Data: []byte(`{
  "method": "GET", "path": "/open",
  "response": { "body": { "sub": "auth.sub", "scopes": "auth.scopes", "claims": "auth.claims", "method": "auth.method" } }
}`)},
	}
	g, err := engine.Load(fsys, "gateway.json", engine.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g, be
}

func token(t testing.TB, claims map[string]any) string {
	t.Helper()
	c := map[string]any{"sub": "u1", "iss": "https://id.test/", "aud": "shop", "scope": "profile", "tier": "gold",
		"exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	s, err := auth.Sign("EdDSA", edKey(t), c, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func call(g http.Handler, method, path string, header ...string) reply {
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	rp := reply{status: w.Code, header: w.Header(), raw: w.Body.String()}
	json.Unmarshal(w.Body.Bytes(), &rp.body)
	return rp
}

// TestAuthEndpoints: through the engine, a refused request is a 401 or 403
// problem and calls no backend; an accepted one runs with auth as the spec
// format's table says.
func TestAuthEndpoints(t *testing.T) {
	g, be := authGateway(t, nil, "")
	good := token(t, nil)
	cases := []struct {
		name      string
		path      string
		header    []string
		status    int
		challenge string
		typ       string
	}{
		{"no token", "/me", nil, 401, `Bearer realm="frontdesk"`, "urn:frontdesk:unauthorized"},
		{"a bad token", "/me", []string{"Authorization", "Bearer " + good + "x"}, 401, `Bearer realm="frontdesk", error="invalid_token"`, "urn:frontdesk:unauthorized"},
		{"wrong audience", "/me", []string{"Authorization", "Bearer " + token(t, map[string]any{"aud": "other"})}, 401, `Bearer realm="frontdesk", error="invalid_token"`, "urn:frontdesk:unauthorized"},
		{"no scope", "/me", []string{"Authorization", "Bearer " + token(t, map[string]any{"scope": "cart"})}, 403, `Bearer error="insufficient_scope"`, "urn:frontdesk:forbidden"},
		{"allow false", "/me", []string{"Authorization", "Bearer " + token(t, map[string]any{"tier": "banned"})}, 403, `Bearer error="insufficient_scope"`, "urn:frontdesk:forbidden"},
		{"no key", "/partners/partner-x/stock", nil, 401, `APIKey header="X-API-Key"`, "urn:frontdesk:unauthorized"},
		{"wrong key", "/partners/partner-x/stock", []string{"X-API-Key", "nope"}, 401, `APIKey header="X-API-Key"`, "urn:frontdesk:unauthorized"},
		{"a token where a key is needed", "/partners/partner-x/stock", []string{"Authorization", "Bearer " + good}, 401, `APIKey header="X-API-Key"`, "urn:frontdesk:unauthorized"},
		{"another partner's stock", "/partners/partner-y/stock", []string{"X-API-Key", partnerKey}, 403, `APIKey header="X-API-Key"`, "urn:frontdesk:forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(be.sent())
			r := call(g, "GET", tc.path, tc.header...)
			if r.status != tc.status || r.header.Get("WWW-Authenticate") != tc.challenge || r.body["type"] != tc.typ {
				t.Errorf("%d %q %v, want %d %q %s", r.status, r.header.Get("WWW-Authenticate"), r.body["type"], tc.status, tc.challenge, tc.typ)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if _, ok := r.body["call"]; ok {
				t.Errorf("an auth problem names a call: %v", r.body)
			}
			if r.header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			if len(be.sent()) != before {
				t.Error("a backend was called for a refused request")
			}
		})
	}

	r := call(g, "GET", "/me", "Authorization", "Bearer "+good)
	if r.status != 200 || r.body["name"] != "Ada" || r.body["sub"] != "u1" || r.body["method"] != "jwt" || r.body["tier"] != "gold" {
		t.Errorf("a good token: %d %s", r.status, r.raw)
	}
	r = call(g, "GET", "/partners/partner-x/stock", "X-API-Key", partnerKey)
	if r.status != 200 || r.raw != `{"client":"partner-x","scopes":["stock:read"],"claims":{},"method":"api_key"}`+"\n" {
		t.Errorf("a good key: %d %s", r.status, r.raw)
	}
	r = call(g, "GET", "/open", "Authorization", "Bearer "+good)
	if r.status != 200 || r.raw != `{"sub":"","scopes":[],"claims":{},"method":"none"}`+"\n" {
		t.Errorf("a public endpoint: %d %s", r.status, r.raw)
	}
}

// TestIdentityOnlyThroughHeaders: the backend gets the identity only in
// the headers the spec sets from auth; a client's own X-User-Id, or any
// header the spec does not name, never passes.
func TestIdentityOnlyThroughHeaders(t *testing.T) {
	g, be := authGateway(t, nil, "")
	r := call(g, "GET", "/me", "Authorization", "Bearer "+token(t, nil), "X-User-Id", "admin", "X-Scopes", "everything", "X-Forged", "1")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	sent := be.sent()
	if len(sent) != 1 {
		t.Fatalf("%d backend requests", len(sent))
	}
	h := sent[0].Header
	if got := h.Values("X-User-Id"); len(got) != 1 || got[0] != "u1" {
		t.Errorf("X-User-Id %q, want only the token's sub", got)
	}
	if got := h.Values("X-Scopes"); len(got) != 1 || got[0] != "profile" {
		t.Errorf("X-Scopes %q", got)
	}
	if sent[0].URL.Path != "/users/u1" {
		t.Errorf("path %s", sent[0].URL.Path)
	}
	for _, name := range []string{"Authorization", "X-Forged"} {
		if h.Get(name) != "" {
			t.Errorf("the backend got the client's %s", name)
		}
	}
}

// TestCredentialsNotLogged reads the gateway's debug log after refused and
// passed requests: no token and no key is in it.
func TestCredentialsNotLogged(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g, _ := authGateway(t, log, "")
	good, expired := token(t, nil), token(t, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})
	call(g, "GET", "/me", "Authorization", "Bearer "+good)
	call(g, "GET", "/me", "Authorization", "Bearer "+expired)
	call(g, "GET", "/me", "Authorization", "Bearer "+token(t, map[string]any{"scope": "x"}))
	call(g, "GET", "/partners/partner-x/stock", "X-API-Key", partnerKey)
	call(g, "GET", "/partners/partner-y/stock", "X-API-Key", partnerKey)
	call(g, "GET", "/partners/partner-x/stock", "X-API-Key", "wrong-key-0123456789")
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "auth refused") {
		t.Fatalf("no refusal logged:\n%s", out)
	}
	for _, secret := range []string{good, expired, partnerKey, "wrong-key-0123456789"} {
		for _, part := range strings.Split(secret, ".") {
			if len(part) >= 16 && strings.Contains(out, part) {
				t.Errorf("the log holds a credential (%.10s…)", part)
			}
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestCORSThroughGateway: a preflight is answered by the gateway before
// auth, for a path with an endpoint; 404 for a path without one.
func TestCORSThroughGateway(t *testing.T) {
	g, be := authGateway(t, nil, `,
  "cors": { "allow_origins": ["https://*.example.com"], "allow_headers": ["Authorization"], "allow_credentials": true,
            "expose_headers": ["X-Request-Id"] }`)
	pre := func(path, origin string) reply {
		return call(g, "OPTIONS", path, "Origin", origin, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
	}
	r := pre("/me", "https://app.example.com")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		r.header.Get("Access-Control-Allow-Methods") != "GET, HEAD" || r.header.Get("Access-Control-Allow-Headers") != "Authorization" ||
		r.header.Get("WWW-Authenticate") != "" {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
	if r := pre("/me", "https://evil.test"); r.status != 403 || r.body["type"] != "urn:frontdesk:cors-refused" || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin: %d %v", r.status, r.body)
	}
	if r := pre("/nowhere", "https://app.example.com"); r.status != 404 {
		t.Errorf("no endpoint: %d", r.status)
	}
	if len(be.sent()) != 0 {
		t.Error("a preflight called a backend")
	}
	r = call(g, "GET", "/me", "Origin", "https://app.example.com")
	if r.status != 401 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || r.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("a 401 to an allowed origin: %d %v", r.status, r.header)
	}
	r = call(g, "GET", "/me", "Origin", "https://app.example.com", "Authorization", "Bearer "+token(t, nil))
	if r.status != 200 || r.header.Get("Access-Control-Expose-Headers") != "X-Request-Id" || !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
		t.Errorf("a 200 to an allowed origin: %d %v", r.status, r.header)
	}
	// A plain OPTIONS (no preflight) is routed as before: 405.
	if r := call(g, "OPTIONS", "/me"); r.status != 405 {
		t.Errorf("OPTIONS without preflight headers: %d", r.status)
	}
}

// TestJWKSGateway: a gateway whose keys come from a JWKS on loopback
// fetches it at Start, and Close stops its refresh (goleak checks).
func TestJWKSGateway(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var fetches sync.WaitGroup
	fetches.Add(1)
	var once sync.Once
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, _ := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "k1", ALG: jwkset.AlgRS256}})
		json.NewEncoder(w).Encode(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{k.Marshal()}})
		once.Do(fetches.Done)
	}))
	defer jwks.Close()
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {},
  "auth": { "jwt": { "jwks_url": "` + jwks.URL + `/jwks.json", "algorithms": ["RS256"] } } }`)},
		"e/me.json": {Data: []byte(`{"method": "GET", "path": "/me", "auth": {"require": ["jwt"]}, "response": {"body": {"sub": "auth.sub"}}}`)},
	}
	g, err := engine.Load(fsys, "gateway.json", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	fetches.Wait()
	tok, _ := auth.Sign("RS256", key, map[string]any{"sub": "u9", "exp": time.Now().Add(time.Hour).Unix()}, "k1")
	if r := call(g, "GET", "/me", "Authorization", "Bearer "+tok); r.status != 200 || r.body["sub"] != "u9" {
		t.Errorf("%d %s", r.status, r.raw)
	}

	// A JWKS that cannot be fetched: Start names the URL, and tokens are
	// answered 503 with Retry-After until it can be.
	jwks.Close()
	g2, err := engine.Load(fsys, "gateway.json", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Close()
	if err := g2.Start(t.Context()); err == nil || !strings.Contains(err.Error(), jwks.URL+"/jwks.json") {
		t.Errorf("start with the JWKS down: %v", err)
	}
	if r := call(g2, "GET", "/me", "Authorization", "Bearer "+tok); r.status != 503 || r.header.Get("Retry-After") == "" || r.body["type"] != "urn:frontdesk:auth-unavailable" {
		t.Errorf("JWKS down: %d %v", r.status, r.body)
	}
}

// TestKeysFileErrors: the API key file's problems name that file, with
// line and column.
func TestKeysFileErrors(t *testing.T) {
	gw := `{"endpoints": ["e"], "services": {}, "auth": {"api_keys": {"file": "keys/clients.json"}}}`
	keys := `{
  "clients": {
    "a": { "sha256": ["ABC"], "scops": [] },
    "b": { "sha256": ["` + auth.HashKey("k") + `", "` + auth.HashKey("k") + `"], "rate_limit": { "rate": "fast" } },
    "c": { "scopes": ["x"], "rate_limit": { "rate": "10/s", "burst": 0 } }
  }
}`
	fsys := fstest.MapFS{"gateway.json": {Data: []byte(gw)}, "keys/clients.json": {Data: []byte(keys)},
		"e/p.json": {Data: []byte(`{"method": "GET", "path": "/p", "response": {"body": {"ok": "true"}}}`)}}
	_, err := engine.Load(fsys, "gateway.json", engine.Options{})
	var le engine.LoadErrors
	if !errors.As(err, &le) {
		t.Fatalf("err %v", err)
	}
	var got []string
	for _, e := range le {
		got = append(got, e.Error())
	}
	want := []string{
		`keys/clients.json:3:23: error: clients.a.sha256: not a SHA-256: each entry is the 64 lowercase hex digits of the key's SHA-256 (printf %s "$KEY" | sha256sum, or frontdesk hash-key), never the key itself (schema)`,
		`keys/clients.json:3:31: error: unknown key "scops" in client "a"; did you mean "scopes"? (unknown-key)`,
		`keys/clients.json:4:91: error: clients.b.sha256: client "b" has this hash too: each key belongs to one client (schema)`,
		`keys/clients.json:4:184: error: clients.b.rate_limit.rate: rate "fast": want N/s, N/m or N/h, such as "100/s" (schema)`,
		`keys/clients.json:5:5: error: client "c" needs "sha256": the hashes of its keys (schema)`,
		`keys/clients.json:5:70: error: clients.c.rate_limit.burst must be a whole number from 1 to 1000000, not 0 (schema)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLargeNumericClaims: a numeric claim past 2^53 (a 64-bit user id)
// reaches the backend's path and headers, and the answer, with its digits.
func TestLargeNumericClaims(t *testing.T) {
	g, be := authGateway(t, nil, "")
	r := call(g, "GET", "/uid", "Authorization", "Bearer "+token(t, map[string]any{"uid": uint64(9007199254740993)}))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	sent := be.sent()
	if len(sent) != 1 || sent[0].URL.Path != "/users/9007199254740993" || sent[0].Header.Get("X-User-Id") != "9007199254740993" {
		t.Errorf("backend got %s, X-User-Id %q", sent[0].URL.Path, sent[0].Header.Get("X-User-Id"))
	}
	if !strings.Contains(r.raw, `"uid":9007199254740993`) || strings.Contains(r.raw, "9007199254740992") {
		t.Errorf("answer %s", r.raw)
	}
}

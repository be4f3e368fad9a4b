package auth

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"frontdesk/pipeline"
	"frontdesk/pipeline/limit"
)

// Demo API keys: their hashes go in the key set, the keys only in requests.
const (
	iosKey     = "ios-key-0123456789abcdef"
	partnerOld = "partner-key-old-0001"
	partnerNew = "partner-key-new-0002"
)

func testAPIKeys(t testing.TB) *APIKeys {
	t.Helper()
	k, err := NewAPIKeys(APIKeysConfig{Clients: []Client{
		{Name: "ios-app", SHA256: []string{HashKey(iosKey)}, Scopes: []string{"checkout:read"},
			RateLimit: &limit.Config{Rate: limit.Rate{N: 50, Per: time.Second}, Burst: 100}},
		{Name: "partner-x", SHA256: []string{HashKey(partnerOld), HashKey(partnerNew)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// served is what the endpoint behind the stage saw.
type served struct {
	called bool
	id     *Identity
}

func stageFor(t testing.TB, p Providers, rule Rule) (http.Handler, *served) {
	t.Helper()
	st, err := NewStage(p, rule)
	if err != nil {
		t.Fatal(err)
	}
	s := &served{}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.called = true
		s.id = FromContext(r.Context())
		w.WriteHeader(http.StatusOK)
	})
	return pipeline.Chain(next, pipeline.RequestID, st), s
}

type answer struct {
	status    int
	challenge string
	problem   map[string]any
}

func do(h http.Handler, r *http.Request) answer {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	a := answer{status: w.Code, challenge: w.Header().Get("WWW-Authenticate")}
	if w.Header().Get("Content-Type") == "application/problem+json" {
		json.Unmarshal(w.Body.Bytes(), &a.problem)
	}
	return a
}

func get(header ...string) *http.Request {
	r := httptest.NewRequest("GET", "/checkout/c1", nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestStageJWT(t *testing.T) {
	k := keyFor(t, "RS256")
	cfg := k.config()
	cfg.Cookie = "fd_session"
	p := Providers{JWT: newJWT(t, cfg)}
	h, s := stageFor(t, p, Rule{Endpoint: "GET /checkout/{id}", Require: []Method{MethodJWT}, Scopes: []string{"checkout:read"}})
	good := k.mint(t, claims(nil))
	cases := []struct {
		name      string
		req       *http.Request
		status    int
		challenge string
		detail    string
	}{
		{"a good token", get(bearer(good)...), 200, "", ""},
		{"bearer in lower case", get("Authorization", "bearer "+good), 200, "", ""},
		{"the cookie", func() *http.Request {
			r := get()
			r.AddCookie(&http.Cookie{Name: "fd_session", Value: good})
			return r
		}(), 200, "", ""},
		{"nothing", get(), 401, `Bearer realm="frontdesk"`, "needs a bearer token (Authorization: Bearer …, or the fd_session cookie)"},
		{"another scheme", get("Authorization", "Basic dTE6cHc="), 401, `Bearer realm="frontdesk"`, "needs a bearer token"},
		{"only in the query string", httptest.NewRequest("GET", "/checkout/c1?access_token="+good+"&token="+good, nil), 401, `Bearer realm="frontdesk"`, "needs a bearer token"},
		{"expired", get(bearer(k.mint(t, claims(map[string]any{"exp": 1000})))...), 401,
			`Bearer realm="frontdesk", error="invalid_token"`, "The bearer token was refused: it has expired."},
		{"64 KB", get(bearer(strings.Repeat("x", 64<<10))...), 401, `Bearer realm="frontdesk", error="invalid_token"`, "larger than 8 KB"},
		{"two Authorization headers", get("Authorization", "Bearer "+good, "Authorization", "Bearer "+good), 401,
			`Bearer realm="frontdesk", error="invalid_token"`, "more than one Authorization header"},
		{"missing scope", get(bearer(k.mint(t, claims(map[string]any{"scope": "profile"})))...), 403,
			`Bearer error="insufficient_scope"`, "lacks a scope this endpoint requires: checkout:read."},
		{"scopes as scp", get(bearer(k.mint(t, claims(map[string]any{"scope": nil, "scp": []any{"checkout:read"}})))...), 200, "", ""},
		{"scopes as scopes", get(bearer(k.mint(t, claims(map[string]any{"scope": nil, "scopes": []any{"checkout:read"}})))...), 200, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			*s = served{}
			a := do(h, tc.req)
			if a.status != tc.status || a.challenge != tc.challenge {
				t.Errorf("%d %q, want %d %q (%v)", a.status, a.challenge, tc.status, tc.challenge, a.problem)
			}
			if tc.status != 200 {
				if s.called {
					t.Error("the endpoint ran for a refused request")
				}
				detail, _ := a.problem["detail"].(string)
				if !strings.Contains(detail, tc.detail) {
					t.Errorf("detail %q, want %q", detail, tc.detail)
				}
				if _, ok := a.problem["call"]; ok {
					t.Error("an auth problem names a call")
				}
				return
			}
			if !s.called || s.id.Subject != "u1" || s.id.Method != MethodJWT {
				t.Errorf("the endpoint saw %+v", s.id)
			}
		})
	}
}

func TestStageAllow(t *testing.T) {
	k := keyFor(t, "HS256")
	p := Providers{JWT: newJWT(t, k.config())}
	allow := func(r *http.Request, id *Identity) (bool, error) { return id.Claims["tier"] == "gold", nil }
	h, s := stageFor(t, p, Rule{Require: []Method{MethodJWT}, Allow: allow})
	if a := do(h, get(bearer(k.mint(t, claims(nil)))...)); a.status != 200 || !s.called {
		t.Errorf("gold: %d", a.status)
	}
	*s = served{}
	a := do(h, get(bearer(k.mint(t, claims(map[string]any{"tier": "silver"})))...))
	if a.status != 403 || a.challenge != `Bearer error="insufficient_scope"` || s.called {
		t.Errorf("silver: %d %q, endpoint ran: %v", a.status, a.challenge, s.called)
	}
	if a.problem["type"] != "urn:frontdesk:forbidden" {
		t.Errorf("problem %v", a.problem)
	}
}

func TestStageAPIKey(t *testing.T) {
	p := Providers{APIKeys: testAPIKeys(t)}
	h, s := stageFor(t, p, Rule{Require: []Method{MethodAPIKey}, Scopes: []string{"checkout:read"}})
	const ch = `APIKey header="X-API-Key"`
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		detail string
	}{
		{"right key", get("X-API-Key", iosKey), 200, ""},
		{"wrong key", get("X-API-Key", iosKey+"x"), 401, "The API key was refused: it is not known."},
		{"missing", get(), 401, "needs an API key in the X-API-Key header"},
		{"two keys", get("X-API-Key", iosKey, "X-API-Key", iosKey), 401, "more than one was sent"},
		{"too long", get("X-API-Key", strings.Repeat("k", MaxCredential+1)), 401, "larger than 8 KB"},
		{"the hash instead of the key", get("X-API-Key", HashKey(iosKey)), 401, "not known"},
		{"a client without the scope", get("X-API-Key", partnerNew), 403, "lacks a scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			*s = served{}
			a := do(h, tc.req)
			if a.status != tc.status || a.challenge != ch && tc.status != 200 {
				t.Errorf("%d %q, want %d %q", a.status, a.challenge, tc.status, ch)
			}
			if detail, _ := a.problem["detail"].(string); !strings.Contains(detail, tc.detail) {
				t.Errorf("detail %q, want %q", detail, tc.detail)
			}
			if tc.status == 200 && (s.id.Subject != "ios-app" || s.id.Method != MethodAPIKey || s.id.RateLimit == nil || s.id.RateLimit.Burst != 100) {
				t.Errorf("identity %+v", s.id)
			}
		})
	}
	// Rotation: both of partner-x's keys are accepted while it rotates.
	h2, s2 := stageFor(t, p, Rule{Require: []Method{MethodAPIKey}})
	for _, key := range []string{partnerOld, partnerNew} {
		if a := do(h2, get("X-API-Key", key)); a.status != 200 || s2.id.Subject != "partner-x" {
			t.Errorf("partner-x key: %d %+v", a.status, s2.id)
		}
	}
	env := s2.id.Env()
	if env["sub"] != "partner-x" || env["method"] != "api_key" || len(env["claims"].(map[string]any)) != 0 || len(env["scopes"].([]any)) != 0 {
		t.Errorf("auth for an API key: %v", env)
	}
}

// TestStageEither: an endpoint that takes a token or a key accepts either,
// and challenges with Bearer.
func TestStageEither(t *testing.T) {
	k := keyFor(t, "ES256")
	p := Providers{JWT: newJWT(t, k.config()), APIKeys: testAPIKeys(t)}
	h, s := stageFor(t, p, Rule{Require: []Method{MethodJWT, MethodAPIKey}})
	if a := do(h, get("X-API-Key", partnerOld)); a.status != 200 || s.id.Method != MethodAPIKey {
		t.Errorf("key: %d", a.status)
	}
	if a := do(h, get(bearer(k.mint(t, claims(nil)))...)); a.status != 200 || s.id.Method != MethodJWT {
		t.Errorf("token: %d", a.status)
	}
	// A bad token and a good key: the key passes.
	if a := do(h, get(append(bearer("junk"), "X-API-Key", partnerOld)...)); a.status != 200 || s.id.Method != MethodAPIKey {
		t.Errorf("bad token, good key: %d", a.status)
	}
	a := do(h, get())
	if a.status != 401 || a.challenge != `Bearer realm="frontdesk"` || !strings.Contains(a.problem["detail"].(string), "a bearer token (Authorization: Bearer …) or an API key in the X-API-Key header") {
		t.Errorf("nothing: %d %q %v", a.status, a.challenge, a.problem)
	}
}

func TestStageUnavailable(t *testing.T) {
	makeKeys(t)
	is := newIssuer(nil)
	is.fail = true
	p := Providers{JWT: newJWT(t, jwksConfig("https://id.test/jwks.json", &http.Client{Transport: inProcess{is}}))}
	h, s := stageFor(t, p, Rule{Require: []Method{MethodJWT}})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, get(bearer(mintKid(t, "RS256", rsaKey, "a", nil))...))
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || s.called || !strings.Contains(w.Body.String(), "urn:frontdesk:auth-unavailable") {
		t.Errorf("%d %v %s", w.Code, w.Header(), w.Body)
	}
	if a := do(h, get()); a.status != 401 {
		t.Errorf("no token while the JWKS is down: %d, want 401", a.status)
	}
}

func TestNewStageErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		p    Providers
		rule Rule
		want string
	}{
		"no require": {Providers{}, Rule{}, "no way of signing in"},
		"no jwt":     {Providers{}, Rule{Require: []Method{MethodJWT}}, "configures no auth.jwt"},
		"no keys":    {Providers{}, Rule{Require: []Method{MethodAPIKey}}, "configures no auth.api_keys"},
		"bad method": {Providers{}, Rule{Require: []Method{"basic"}}, `"basic" is not`},
		"empty scope": {Providers{APIKeys: testAPIKeys(t)}, Rule{Require: []Method{MethodAPIKey}, Scopes: []string{""}},
			"empty scope"},
	} {
		if _, err := NewStage(tc.p, tc.rule); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

func TestNewAPIKeysErrors(t *testing.T) {
	h := HashKey("k")
	for name, tc := range map[string]struct {
		cfg  APIKeysConfig
		want string
	}{
		"upper-case hex": {APIKeysConfig{Clients: []Client{{Name: "a", SHA256: []string{strings.ToUpper(h)}}}}, "64 lowercase hex"},
		"short":          {APIKeysConfig{Clients: []Client{{Name: "a", SHA256: []string{"abc"}}}}, "not a SHA-256"},
		"a key in clear": {APIKeysConfig{Clients: []Client{{Name: "a", SHA256: []string{"sk_live_0123456789abcdefghij"}}}}, `"sk_live_…"`},
		"shared":         {APIKeysConfig{Clients: []Client{{Name: "a", SHA256: []string{h}}, {Name: "b", SHA256: []string{h}}}}, `client "a" has too`},
		"twice":          {APIKeysConfig{Clients: []Client{{Name: "a", SHA256: []string{h, h}}}}, "same hash twice"},
		"bad header":     {APIKeysConfig{Header: "X Key"}, "not a header name"},
		"client twice":   {APIKeysConfig{Clients: []Client{{Name: "a"}, {Name: "a"}}}, "listed twice"},
		"empty name":     {APIKeysConfig{Clients: []Client{{}}}, "empty name"},
	} {
		_, err := NewAPIKeys(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "0123456789abcdefghij") {
			t.Errorf("%s: the message repeats a pasted key: %v", name, err)
		}
	}
}

// TestCredentialsNeverLogged reads the debug log of refused and passed
// requests: no token and no key appears in it.
func TestCredentialsNeverLogged(t *testing.T) {
	k := keyFor(t, "RS256")
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := Providers{JWT: newJWT(t, k.config()), APIKeys: testAPIKeys(t), Log: log}
	h, _ := stageFor(t, p, Rule{Endpoint: "GET /x", Require: []Method{MethodJWT, MethodAPIKey}, Scopes: []string{"checkout:read"},
		Allow: func(*http.Request, *Identity) (bool, error) { return true, nil }})
	good := k.mint(t, claims(nil))
	expired := k.mint(t, claims(map[string]any{"exp": 1000}))
	noScope := k.mint(t, claims(map[string]any{"scope": "x"}))
	secrets := []string{good, expired, noScope, iosKey, partnerOld, "wrong-key-123456"}
	for _, r := range []*http.Request{get(bearer(good)...), get(bearer(expired)...), get(bearer(noScope)...),
		get("X-API-Key", iosKey), get("X-API-Key", partnerOld), get("X-API-Key", "wrong-key-123456")} {
		do(h, r)
	}
	out := buf.String()
	if strings.Count(out, `"msg":"auth refused"`) != 4 {
		t.Errorf("want 4 refusals logged:\n%s", out)
	}
	for _, s := range secrets {
		for _, part := range strings.Split(s, ".") { // no part of a token either
			if len(part) >= 16 && strings.Contains(out, part) {
				t.Errorf("the log holds a credential (%.12s…):\n%s", part, out)
			}
		}
	}
}

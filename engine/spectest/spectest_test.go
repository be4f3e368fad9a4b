package spectest_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"go.uber.org/goleak"

	"frontdesk/engine"
	"frontdesk/engine/spectest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// greetSpec is a small endpoint: a required call, an optional call with a
// short timeout and a fallback, and a for_each call.
const greetSpec = `{
  "method": "GET",
  "path": "/greet/{id}",
  "timeout": "20s",
  "calls": {
    "user":   { "service": "user", "path": "/users/${params.id}" },
    "recs":   { "service": "catalog", "path": "/recs", "query": { "user": "user.id" },
                "optional": true, "timeout": "100ms", "fallback": "{'items': []}" },
    "prices": { "service": "catalog", "for_each": "user.skus", "path": "/prices/${item}" }
  },
  "response": {
    "body": {
      "hello": "'Hello, ' + user.name",
      "items": "map(prices, {{'sku': .sku, 'qty': .qty}})",
      "recs": "recs.items"
    }
  }
}
`

// run writes files into a MapFS (no gateway.json) and runs the test file.
func run(t *testing.T, files map[string]string, test string) *spectest.FileResult {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	r := &spectest.Runner{FS: fsys}
	return r.RunFile(context.Background(), test)
}

func text(t *testing.T, frs ...*spectest.FileResult) string {
	t.Helper()
	var b strings.Builder
	if err := (&spectest.Report{Files: frs}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

const happyCase = `{
  "name": "happy path",
  "request": { "path": "/greet/u1" },
  "calls": {
    "user":   { "body": { "id": "u1", "name": "Ada", "skus": ["A1", "B2"] } },
    "recs":   { "body": { "items": [ { "sku": "C3" } ] } },
    "prices": [ { "body": { "sku": "A1", "qty": 2 } }, { "body": { "sku": "B2", "qty": 1.0 } } ]
  },
  "expect": {
    "status": 200,
    "headers": { "Content-Type": "application/json", "Partial-Response": "" },
    "body": { "hello": "Hello, Ada", "items": [ { "sku": "A1", "qty": 2 }, { "sku": "B2", "qty": 1 } ], "recs": [ { "sku": "C3" } ] }
  }
}`

func TestPassingCase(t *testing.T) {
	fr := run(t, map[string]string{
		"greet.json":      greetSpec,
		"greet.test.json": `{ "cases": [` + happyCase + `] }`,
	}, "greet.test.json")
	if fr.Err != nil || fr.Failed() != 0 || fr.Passed() != 1 {
		t.Fatalf("want a pass, got:\n%s", text(t, fr))
	}
	got := text(t, fr)
	want := "ok   greet.test.json  1 case\n1 passed, 0 failed\n"
	if got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
	c := fr.Cases[0]
	var sent []string
	for _, s := range c.Sent {
		sent = append(sent, s.String())
	}
	wantSent := "prices[0]: GET http://catalog.invalid/prices/A1\nprices[1]: GET http://catalog.invalid/prices/B2\n" +
		"recs: GET http://catalog.invalid/recs?user=u1\nuser: GET http://user.invalid/users/u1"
	if strings.Join(sent, "\n") != wantSent {
		t.Errorf("sent:\n%s\nwant:\n%s", strings.Join(sent, "\n"), wantSent)
	}
}

func TestFailingCaseDiff(t *testing.T) {
	test := `{ "cases": [ {
  "name": "wrong expectations",
  "request": { "path": "/greet/u1" },
  "calls": {
    "user":   { "body": { "id": "u1", "name": "Ada", "skus": ["A1"] } },
    "recs":   { "body": { "items": [] } },
    "prices": [ { "body": { "sku": "A1", "qty": 0 } } ]
  },
  "expect": {
    "status": 200,
    "headers": { "Partial-Response": "recs" },
    "body": { "greeting": "Hello, Ada", "items": [ { "sku": "A1", "qty": 2 } ], "recs": [] }
  }
} ] }`
	fr := run(t, map[string]string{"greet.json": greetSpec, "greet.test.json": test}, "greet.test.json")
	got := text(t, fr)
	want := `FAIL greet.test.json: case "wrong expectations"
    header Partial-Response: want "recs", got none
    $.greeting: missing
    $.items[0].qty: want 2, got 0
    $.hello: unexpected
    backend requests:
        prices[0]: GET http://catalog.invalid/prices/A1
        recs: GET http://catalog.invalid/recs?user=u1
        user: GET http://user.invalid/users/u1
0 passed, 1 failed
`
	if got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

func TestStatusDiffShowsTheProblem(t *testing.T) {
	test := `{ "cases": [ {
  "name": "user down",
  "request": { "path": "/greet/u1" },
  "calls": { "user": { "status": 503 } },
  "expect": { "status": 200 }
} ] }`
	fr := run(t, map[string]string{"greet.json": greetSpec, "greet.test.json": test}, "greet.test.json")
	got := text(t, fr)
	want := `FAIL greet.test.json: case "user down"
    status: want 200, got 502
      got body: {"type":"urn:frontdesk:call-status","title":"Backend error","status":502,"detail":"Call \"user\" answered 503.","call":"user","request_id":"frontdesk-test"}
    backend requests:
        user: GET http://user.invalid/users/u1
        user: GET http://user.invalid/users/u1
0 passed, 1 failed
`
	if got != want { // a GET that answers 503 is tried once more
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

// TestChangedTemplateCaught copies a shipped example and its spec test,
// changes one response template, and expects the test to catch it.
func TestChangedTemplateCaught(t *testing.T) {
	dir := t.TempDir()
	spec, err := os.ReadFile("../../endpoints/web/checkout.json")
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("../../endpoints/web/checkout.test.json")
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(spec, []byte(`"greeting": "'Hello, ' + user.name"`), []byte(`"greeting": "'Hi, ' + user.name"`), 1)
	if bytes.Equal(changed, spec) {
		t.Fatal("the example no longer has the greeting template this test changes")
	}
	os.WriteFile(filepath.Join(dir, "checkout.json"), changed, 0o644)
	os.WriteFile(filepath.Join(dir, "checkout.test.json"), tests, 0o644)

	r := &spectest.Runner{FS: os.DirFS(dir)}
	fr := r.RunFile(context.Background(), "checkout.test.json")
	if fr.Err != nil {
		t.Fatal(fr.Err)
	}
	out := text(t, fr)
	for _, line := range []string{
		`FAIL checkout.test.json: case "happy path: the whole checkout page in one answer"`,
		`    $.greeting: want "Hello, Ada Lovelace", got "Hi, Ada Lovelace"`,
		`FAIL checkout.test.json: case "user service down: greeting falls back to guest"`,
		`    $.greeting: want "Hello, guest", got "Hi, guest"`,
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	if fr.Failed() == 0 || !strings.HasSuffix(out, " failed\n") {
		t.Errorf("want failures:\n%s", out)
	}
}

func TestUnstubbedCallIsNamed(t *testing.T) {
	test := `{ "cases": [ {
  "name": "forgot recs",
  "request": { "path": "/greet/u1" },
  "calls": { "user": { "body": { "id": "u1", "name": "Ada", "skus": [] } } },
  "expect": { "status": 200 }
} ] }`
	fr := run(t, map[string]string{"greet.json": greetSpec, "greet.test.json": test}, "greet.test.json")
	if fr.Failed() != 1 {
		t.Fatalf("want a failure:\n%s", text(t, fr))
	}
	f := fr.Cases[0].Failures
	want := `call "recs" has no stub in "calls" (the gateway sent GET http://catalog.invalid/recs?user=u1)`
	if len(f) != 1 || f[0] != want {
		t.Errorf("failures = %q, want [%q]", f, want)
	}
}

func TestStubForUnknownCall(t *testing.T) {
	test := `{ "cases": [ {
  "name": "typo",
  "request": { "path": "/greet/u1" },
  "calls": { "usr": { "body": {} } },
  "expect": { "status": 200 }
} ] }`
	fr := run(t, map[string]string{"greet.json": greetSpec, "greet.test.json": test}, "greet.test.json")
	f := fr.Cases[0].Failures
	if len(f) != 1 || !strings.Contains(f[0], `calls.usr (line 4): the endpoint has no call "usr" (its calls: user, recs, prices)`) {
		t.Errorf("failures = %q", f)
	}
}

func TestForEachStubs(t *testing.T) {
	cases := []struct {
		name, prices, want string
	}{
		{"list in element order", `[ { "body": { "sku": "A1", "qty": 1 }, "delay": "30ms" }, { "body": { "sku": "B2", "qty": 2 } }, { "body": { "sku": "C3", "qty": 3 } } ]`, ""},
		{"one answer for all", `{ "body": { "sku": "A1", "qty": 1 } }`, ""},
		{"list too short", `[ { "body": { "sku": "A1", "qty": 1 } } ]`, `call "prices" ran for more elements than the 1 answers its stub lists (give one answer per element, or a single answer for all)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expect := `{ "items": [ { "sku": "A1", "qty": 1 }, { "sku": "B2", "qty": 2 }, { "sku": "C3", "qty": 3 } ] }`
			if tc.name == "one answer for all" {
				expect = `{ "items": [ { "sku": "A1", "qty": 1 }, { "sku": "A1", "qty": 1 }, { "sku": "A1", "qty": 1 } ] }`
			}
			test := `{ "cases": [ {
  "name": "prices",
  "request": { "path": "/greet/u1" },
  "calls": {
    "user": { "body": { "id": "u1", "name": "Ada", "skus": ["A1", "B2", "C3"] } },
    "recs": { "body": { "items": [] } },
    "prices": ` + tc.prices + `
  },
  "expect": { "body": ` + expect + `, "match": "subset" }
} ] }`
			fr := run(t, map[string]string{"greet.json": greetSpec, "greet.test.json": test}, "greet.test.json")
			if fr.Err != nil {
				t.Fatal(fr.Err)
			}
			f := fr.Cases[0].Failures
			if tc.want == "" {
				if len(f) != 0 {
					t.Errorf("failures: %q", f)
				}
				return
			}
			if len(f) == 0 || f[0] != tc.want {
				t.Errorf("failures = %q, want first %q", f, tc.want)
			}
		})
	}
}

func TestListStubForPlainCall(t *testing.T) {
	test := `{ "cases": [ {
  "name": "list for user",
  "request": { "path": "/greet/u1" },
  "calls": { "user": [ { "body": {} }, { "body": {} } ], "recs": { "body": {} } },
  "expect": {}
} ] }`
	fr := run(t, map[string]string{"greet.json": greetSpec, "greet.test.json": test}, "greet.test.json")
	f := fr.Cases[0].Failures
	if len(f) == 0 || f[0] != `call "user" is not a for_each call, but its stub is a list of 2 answers` {
		t.Errorf("failures = %q", f)
	}
}

// TestDelayedOptionalCall: a stub slower than the call's timeout fails the
// optional call as a slow backend would; the endpoint answers with the
// fallback and Partial-Response, without waiting out the delay.
func TestDelayedOptionalCall(t *testing.T) {
	test := `{ "cases": [ {
  "name": "slow recs",
  "request": { "path": "/greet/u1" },
  "calls": {
    "user":   { "body": { "id": "u1", "name": "Ada", "skus": [] } },
    "recs":   { "body": { "items": [ { "sku": "C3" } ] }, "delay": "30s" }
  },
  "expect": {
    "status": 200,
    "headers": { "Partial-Response": "recs" },
    "body": { "hello": "Hello, Ada", "items": [], "recs": [] }
  }
} ] }`
	// The stub waits 30s, longer than the endpoint's 20s: the case can
	// only pass if the delay stops at the call's own 100ms timeout.
	fr := run(t, map[string]string{"greet.json": greetSpec, "greet.test.json": test}, "greet.test.json")
	if fr.Failed() != 0 {
		t.Fatalf("want a pass:\n%s", text(t, fr))
	}
}

// meSpec needs a token with scope profile, or partner-x's key.
const meSpec = `{
  "method": "GET", "path": "/me",
  "auth": { "require": ["jwt", "api_key"], "scopes": ["profile"], "allow": "auth.claims.tier != 'banned'" },
  "calls": { "user": { "service": "user", "path": "/users/${auth.sub}", "headers": { "X-User-Id": "auth.sub" } } },
  "response": { "body": { "name": "user.name", "sub": "auth.sub", "method": "auth.method" } }
}`

const authGatewayJSON = `{
  "endpoints": ["."],
  "services": { "user": { "urls": ["https://user.internal"] } },
  "auth": {
    "jwt": { "jwks_url": "https://id.invalid/.well-known/jwks.json", "algorithms": ["ES256", "RS256"],
             "issuer": "https://id.invalid/", "audience": ["shop"] },
    "api_keys": { "file": "keys.json" }
  }
}`

// TestSignedInCases: a case's claims become a token the gateway accepts
// (its issuer and audience checks still apply), its api_key a key of the
// named client; nothing is fetched from the configured JWKS.
func TestSignedInCases(t *testing.T) {
	test := `{ "cases": [
  { "name": "a token", "request": { "path": "/me", "claims": { "sub": "u1", "scope": "profile", "tier": "gold" } },
    "calls": { "user": { "body": { "name": "Ada" } } },
    "expect": { "status": 200, "body": { "name": "Ada", "sub": "u1", "method": "jwt" } } },
  { "name": "a key", "request": { "path": "/me", "api_key": "partner-x" },
    "calls": { "user": { "body": { "name": "Partner" } } },
    "expect": { "status": 200, "body": { "name": "Partner", "sub": "partner-x", "method": "api_key" } } },
  { "name": "no credentials", "request": { "path": "/me" },
    "expect": { "status": 401, "headers": { "WWW-Authenticate": "Bearer realm=\"frontdesk\"" } } },
  { "name": "missing scope", "request": { "path": "/me", "claims": { "sub": "u1", "scope": "cart" } },
    "expect": { "status": 403, "headers": { "WWW-Authenticate": "Bearer error=\"insufficient_scope\"" } } },
  { "name": "allow false", "request": { "path": "/me", "claims": { "sub": "u1", "scope": "profile", "tier": "banned" } },
    "expect": { "status": 403 } },
  { "name": "expired", "request": { "path": "/me", "claims": { "sub": "u1", "scope": "profile", "exp": 1000 } },
    "expect": { "status": 401, "body": { "detail": "The bearer token was refused: it has expired." }, "match": "subset" } },
  { "name": "another audience", "request": { "path": "/me", "claims": { "sub": "u1", "scope": "profile", "aud": "other" } },
    "expect": { "status": 401 } },
  { "name": "the case's own Authorization wins", "request": { "path": "/me", "claims": { "sub": "u1" },
      "headers": { "Authorization": "Bearer junk" } },
    "expect": { "status": 401 } }
] }`
	files := map[string]string{"gateway.json": authGatewayJSON, "me.json": meSpec, "me.test.json": test,
		"keys.json": `{"clients": {"partner-x": {"sha256": ["` + strings.Repeat("ab", 32) + `"], "scopes": ["profile"]}}}`}
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	fr := (&spectest.Runner{FS: fsys, Config: "gateway.json"}).RunFile(context.Background(), "me.test.json")
	if fr.Err != nil || fr.Failed() != 0 {
		t.Fatalf("want every case to pass:\n%s", text(t, fr))
	}
	if sent := fr.Cases[0].Sent; len(sent) != 1 || sent[0].Header.Get("X-User-Id") != "u1" {
		t.Errorf("the backend got %+v", sent)
	}
}

func TestSignInErrors(t *testing.T) {
	test := `{ "cases": [
  { "name": "unknown client", "request": { "path": "/me", "api_key": "nobody" }, "expect": { "status": 200 } }
] }`
	fsys := fstest.MapFS{"gateway.json": {Data: []byte(authGatewayJSON)}, "me.json": {Data: []byte(meSpec)}, "me.test.json": {Data: []byte(test)},
		"keys.json": {Data: []byte(`{"clients": {"partner-x": {"sha256": []}}}`)}}
	fr := (&spectest.Runner{FS: fsys, Config: "gateway.json"}).RunFile(context.Background(), "me.test.json")
	f := fr.Cases[0].Failures
	if len(f) != 1 || f[0] != `request.api_key (line 2): the keys file has no client "nobody" (it has "partner-x")` {
		t.Errorf("failures = %q", f)
	}
	// Without gateway.json, a token still signs in (no issuer or
	// audience to check).
	test = `{ "cases": [ { "name": "t", "request": { "path": "/me", "claims": { "sub": "u2", "scope": "profile" } },
  "calls": { "user": { "body": { "name": "B" } } }, "expect": { "status": 200, "body": { "name": "B", "sub": "u2", "method": "jwt" } } } ] }`
	fr = run(t, map[string]string{"me.json": meSpec, "me.test.json": test}, "me.test.json")
	if fr.Failed() != 0 {
		t.Errorf("without gateway.json:\n%s", text(t, fr))
	}
}

func TestFileErrors(t *testing.T) {
	cases := []struct {
		name, files, want string
	}{
		{"syntax", `{ "cases": [ } `, "t.test.json:1:14: unexpected '}', expected a value"},
		{"unknown member", `{ "cases": [ { "name": "x", "request": { "path": "/greet/u1", "verb": "GET" }, "expect": {} } ] }`,
			`t.test.json:1:63: unknown member "verb" of cases[0].request (a request has method, path, query, headers, body, claims and api_key)`},
		{"bad match", `{ "cases": [ { "name": "x", "request": { "path": "/" }, "expect": { "match": "fuzzy" } } ] }`,
			`t.test.json:1:78: cases[0].expect.match must be "exact" or "subset", not "fuzzy"`},
		{"duplicate names", `{ "cases": [ { "name": "x", "request": { "path": "/" }, "expect": {} }, { "name": "x", "request": { "path": "/" }, "expect": {} } ] }`,
			`t.test.json:1:73: case name "x" is used twice (first at line 1)`},
		{"body and text", `{ "cases": [ { "name": "x", "request": { "path": "/" }, "calls": { "user": { "body": {}, "text": "" } }, "expect": {} } ] }`,
			`t.test.json:1:98: cases[0].calls.user has both body and text; give one`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fr := run(t, map[string]string{"t.json": greetSpec, "t.test.json": tc.files}, "t.test.json")
			if fr.Err == nil || fr.Err.Error() != tc.want {
				t.Errorf("err = %v\nwant  %s", fr.Err, tc.want)
			}
			if fr.Failed() != 1 {
				t.Errorf("failed = %d", fr.Failed())
			}
		})
	}
}

func TestSpecThatDoesNotLoad(t *testing.T) {
	fr := run(t, map[string]string{
		"greet.json":      strings.Replace(greetSpec, `"'Hello, ' + user.name"`, `"'Hello, ' + "`, 1),
		"greet.test.json": `{ "cases": [` + happyCase + `] }`,
	}, "greet.test.json")
	if fr.Err == nil || !strings.HasPrefix(fr.Err.Error(), "the spec does not load:\ngreet.json:") {
		t.Fatalf("err = %v", fr.Err)
	}
	if fr.Failed() != 1 || !strings.HasPrefix(text(t, fr), "FAIL greet.test.json\n    the spec does not load:\n    greet.json:") {
		t.Errorf("output:\n%s", text(t, fr))
	}
	fr = run(t, map[string]string{"greet.test.json": `{ "cases": [` + happyCase + `] }`}, "greet.test.json")
	if fr.Err == nil || fr.Err.Error() != "greet.test.json: the spec it tests, greet.json, cannot be read: file does not exist" {
		t.Errorf("err = %v", fr.Err)
	}
}

// TestUpdate: --update rewrites the failing expectations in place, keeps
// every other byte, and the file then passes; a second update is a no-op.
func TestUpdate(t *testing.T) {
	test := `{
  "$schema": "../schemas/test.schema.json",
  "cases": [
    {
      "name": "stale exact",
      "request": { "path": "/greet/u1" },
      "calls": {
        "user":   { "body": { "id": "u1", "name": "Ada Lovelace", "skus": ["A1", "B2"] } },
        "recs":   { "body": { "items": [ { "sku": "C3", "name": "Milk jug, 350 ml" } ] } },
        "prices": [ { "body": { "sku": "A1", "qty": 2 } }, { "body": { "sku": "B2", "qty": 1 } } ]
      },
      "expect": { "status": 201, "body": { "hello": "Hello" } }
    },
    {
      "name": "passing, untouched",
      "request": { "path": "/greet/u1" },
      "calls": { "user": { "body": { "id": "u1", "name": "Ada", "skus": [] } }, "recs": { "body": { "items": [] } } },
      "expect": { "body": { "hello":   "Hello, Ada" }, "match": "subset" }
    },
    {
      "name": "stale subset",
      "request": { "path": "/greet/u2" },
      "calls": { "user": { "body": { "id": "u2", "name": "Grace", "skus": [] } }, "recs": { "status": 500 } },
      "expect": { "headers": { "Partial-Response": "recs" }, "body": { "hello": "Hello, Ada", "gone": 1 }, "match": "subset" }
    },
    {
      "name": "unstubbed, not updated",
      "request": { "path": "/greet/u1" },
      "calls": { "user": { "body": { "id": "u1", "name": "Ada", "skus": [] } } },
      "expect": { "body": { "hello": "nope" } }
    }
  ]
}
`
	fsys := fstest.MapFS{
		"greet.json":      {Data: []byte(greetSpec)},
		"greet.test.json": {Data: []byte(test)},
	}
	r := &spectest.Runner{FS: fsys}
	fr := r.RunFile(context.Background(), "greet.test.json")
	if fr.Failed() != 3 {
		t.Fatalf("want 3 failures:\n%s", text(t, fr))
	}
	src, names, err := fr.Update()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, "|") != "stale exact|stale subset" {
		t.Errorf("updated %q", names)
	}
	want := strings.Replace(test, `"expect": { "status": 201, "body": { "hello": "Hello" } }`, `"expect": { "status": 200, "body": {
        "hello": "Hello, Ada Lovelace",
        "items": [{ "qty": 2, "sku": "A1" }, { "qty": 1, "sku": "B2" }],
        "recs": [{ "sku": "C3", "name": "Milk jug, 350 ml" }]
      } }`, 1)
	want = strings.Replace(want, `"body": { "hello": "Hello, Ada", "gone": 1 }`, `"body": { "hello": "Hello, Grace" }`, 1)
	if string(src) != want {
		t.Errorf("updated file:\n%s\nwant:\n%s", src, want)
	}

	fsys["greet.test.json"] = &fstest.MapFile{Data: src}
	fr = r.RunFile(context.Background(), "greet.test.json")
	if fr.Failed() != 1 || fr.Cases[3].OK() {
		t.Errorf("after update, only the unstubbed case should fail:\n%s", text(t, fr))
	}
	again, names, err := fr.Update()
	if err != nil || len(names) != 0 || !bytes.Equal(again, src) {
		t.Errorf("a second update changed %q (err %v)", names, err)
	}
}

// TestJSONReportStable: the JSON report of the same run is byte for byte
// the same, and has the documented shape.
func TestJSONReportStable(t *testing.T) {
	test := `{ "cases": [` + happyCase + `, {
  "name": "fails",
  "request": { "path": "/greet/u1" },
  "calls": { "user": { "body": { "id": "u1", "name": "Ada", "skus": ["A1", "B2"] } }, "recs": { "body": { "items": [] } },
             "prices": { "body": { "sku": "A1", "qty": 1 } } },
  "expect": { "body": { "hello": "Hello, Ada", "items": [] }, "match": "subset" }
} ] }`
	var outs []string
	for range 3 {
		fr := run(t, map[string]string{"greet.json": greetSpec, "greet.test.json": test}, "greet.test.json")
		var b bytes.Buffer
		if err := (&spectest.Report{Files: []*spectest.FileResult{fr}, Untested: []string{"other.json"}}).WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b.String())
	}
	if outs[0] != outs[1] || outs[1] != outs[2] {
		t.Fatalf("JSON output differs between runs:\n%s\n%s", outs[0], outs[1])
	}
	want := `{
  "files": [
    {
      "file": "greet.test.json",
      "passed": 1,
      "failed": 1,
      "cases": [
        {
          "name": "happy path",
          "ok": true,
          "status": 200,
          "failures": [],
          "requests": [
            "prices[0]: GET http://catalog.invalid/prices/A1",
            "prices[1]: GET http://catalog.invalid/prices/B2",
            "recs: GET http://catalog.invalid/recs?user=u1",
            "user: GET http://user.invalid/users/u1"
          ]
        },
        {
          "name": "fails",
          "ok": false,
          "status": 200,
          "failures": [
            "$.items[0]: unexpected",
            "$.items[1]: unexpected"
          ],
          "requests": [
            "prices[0]: GET http://catalog.invalid/prices/A1",
            "prices[1]: GET http://catalog.invalid/prices/B2",
            "recs: GET http://catalog.invalid/recs?user=u1",
            "user: GET http://user.invalid/users/u1"
          ]
        }
      ]
    }
  ],
  "untested": [
    "other.json"
  ],
  "passed": 1,
  "failed": 1
}
`
	if outs[0] != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", outs[0], want)
	}
}

func TestDiff(t *testing.T) {
	parse := func(s string) *engine.Node {
		n, err := engine.ParseJSON([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	cases := []struct {
		want, got string
		subset    bool
		diff      string
	}{
		{`{"a": 1, "b": [1, 2.50]}`, `{"b": [1.0, 2.5e0], "a": 1e0}`, false, ""},
		{`{"a": 1}`, `{"a": 1, "b": 2}`, false, "$.b: unexpected"},
		{`{"a": 1}`, `{"a": 1, "b": 2}`, true, ""},
		{`{"a": [1]}`, `{"a": [1, 2]}`, true, "$.a[1]: unexpected"},
		{`{"a": [1, 2]}`, `{"a": [1]}`, true, "$.a[1]: missing"},
		{`{"a": {"x": null}}`, `{"a": {"x": false}}`, false, "$.a.x: want null, got false"},
		{`{"Content-Type": "1", "a b": {"c": 1}}`, `{"Content-Type": 1, "a b": {}}`, false,
			`$["Content-Type"]: want "1", got 1|$["a b"].c: missing`},
		{`[{"a": "x"}]`, `[{"a": "y", "b": 1}]`, true, `$[0].a: want "x", got "y"`},
		{`"<a/>"`, `{"a": ""}`, false, `$: want "<a/>", got {"a":""}`},
		{`0.1`, `0.10000000000000001`, false, `$: want 0.1, got 0.10000000000000001`},
	}
	for _, tc := range cases {
		got := strings.Join(spectest.Diff(parse(tc.want), parse(tc.got), tc.subset), "|")
		if got != tc.diff {
			t.Errorf("Diff(%s, %s, subset=%v) = %q, want %q", tc.want, tc.got, tc.subset, got, tc.diff)
		}
	}
}

// TestExamples runs every shipped spec test with the shipped gateway.json,
// and checks that every example endpoint has one.
func TestExamples(t *testing.T) {
	fsys := os.DirFS("../..")
	tests, untested, err := spectest.Find(fsys, []string{"endpoints"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(untested) > 0 {
		t.Errorf("example endpoints without a spec test: %v", untested)
	}
	if len(tests) < 4 {
		t.Errorf("found only %v", tests)
	}
	r := &spectest.Runner{FS: fsys, Config: "endpoints/gateway.json", Env: func(string) (string, bool) { return "", false }}
	rep := &spectest.Report{}
	for _, tf := range tests {
		fr := r.RunFile(context.Background(), tf)
		if len(fr.Cases) < 4 {
			t.Errorf("%s has only %d cases", tf, len(fr.Cases))
		}
		rep.Files = append(rep.Files, fr)
	}
	if _, failed := rep.Totals(); failed > 0 {
		t.Errorf("example spec tests fail:\n%s", text(t, rep.Files...))
	}
}

// TestCasesWithHosts: with gateway.json's hosts, a case's request names a
// listed host unless it sets Host itself, so it is served; a case may
// still send another host and expect the 421.
func TestCasesWithHosts(t *testing.T) {
	for _, hosts := range []string{`["shop.example.com", "*.shop.example.com"]`, `["*.shop.example.com"]`} {
		test := `{ "cases": [` + happyCase + `,
  { "name": "another host", "request": { "path": "/greet/u1", "headers": { "Host": "evil.example" } },
    "expect": { "status": 421, "body": { "type": "urn:frontdesk:misdirected" }, "match": "subset" } }
] }`
		fsys := fstest.MapFS{
			"gateway.json":    {Data: []byte(`{"endpoints": ["."], "hosts": ` + hosts + `}`)},
			"greet.json":      {Data: []byte(greetSpec)},
			"greet.test.json": {Data: []byte(test)},
		}
		fr := (&spectest.Runner{FS: fsys, Config: "gateway.json"}).RunFile(context.Background(), "greet.test.json")
		if fr.Err != nil || fr.Failed() != 0 || fr.Passed() != 2 {
			t.Errorf("hosts %s: want both cases to pass:\n%s", hosts, text(t, fr))
		}
	}
}

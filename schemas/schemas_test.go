package schemas_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"frontdesk/schemas"
)

// base is where the compiler files the embedded schemas; nothing is fetched.
const base = "https://frontdesk.invalid/schemas/"

// compile compiles every embedded schema, checking each against the draft
// 2020-12 meta-schema on the way.
func compile(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	for _, name := range schemas.Names() {
		raw, err := schemas.Read(name)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.AddResource(base+name, doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for _, name := range schemas.Names() {
		s, err := c.Compile(base + name)
		if err != nil {
			t.Fatalf("%s does not compile: %v", name, err)
		}
		out[name] = s
	}
	return out
}

func validate(t *testing.T, s *jsonschema.Schema, src []byte) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, src)
	}
	return s.Validate(doc)
}

func TestEmbedded(t *testing.T) {
	entries, err := fs.ReadDir(schemas.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if want := []string{schemas.Endpoint, schemas.Gateway, schemas.Keys, schemas.Test}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("embedded files = %v, want %v", got, want)
	}
	compile(t)
}

func TestFor(t *testing.T) {
	for in, want := range map[string]string{
		"gateway.json":                 schemas.Gateway,
		"deploy/gateway.json":          schemas.Gateway,
		"endpoints/web/checkout.json":  schemas.Endpoint,
		`endpoints\web\home.json`:      schemas.Endpoint,
		"endpoints/checkout.test.json": schemas.Test,
		"endpoints/keys.json":          schemas.Keys,
		"deploy/partners.keys.json":    schemas.Keys,
		"README.md":                    "",
		"endpoints/embed.go":           "",
	} {
		if got := schemas.For(in); got != want {
			t.Errorf("For(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestExampleFiles validates every JSON file under endpoints/ against the
// schema For names.
func TestExampleFiles(t *testing.T) {
	compiled := compile(t)
	fsys := os.DirFS("../endpoints")
	count := map[string]int{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := schemas.For(p)
		if name == "" {
			return nil
		}
		count[name]++
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if err := validate(t, compiled[name], src); err != nil {
			t.Errorf("endpoints/%s against %s:\n%v", p, name, err)
		}
		// An editor follows "$schema" from the file's folder.
		var head struct {
			Schema *string `json:"$schema"`
		}
		if json.Unmarshal(src, &head) == nil && head.Schema != nil {
			if got := path.Join("endpoints", path.Dir(p), *head.Schema); got != "schemas/"+name {
				t.Errorf("endpoints/%s: \"$schema\": %q leads to %s, not schemas/%s", p, *head.Schema, got, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count[schemas.Gateway] != 1 || count[schemas.Endpoint] == 0 {
		t.Errorf("found %d gateway.json and %d endpoint specs under endpoints/; want 1 and at least 1", count[schemas.Gateway], count[schemas.Endpoint])
	}
}

// The examples of docs' spec-format page, which must stay valid.
const (
	formatGateway = `{
  "$schema": "./schemas/gateway.schema.json",
  "listen": ":8080",
  "admin_listen": "127.0.0.1:9090",
  "endpoints": ["endpoints"],
  "services": {
    "user":      { "urls": ["http://127.0.0.1:9101"] },
    "cart":      { "urls": ["http://127.0.0.1:9102", "http://127.0.0.1:9112"], "balance": "round_robin" },
    "inventory": { "urls": ["${INVENTORY_URL:-http://127.0.0.1:9104}"], "timeout": "800ms" },
    "catalog":   { "urls": ["http://127.0.0.1:9105"] }
  },
  "auth": {
    "jwt": {
      "jwks_url": "https://id.example.com/.well-known/jwks.json",
      "issuer": "https://id.example.com/",
      "audience": ["shop-api"],
      "algorithms": ["RS256", "ES256"],
      "leeway": "30s"
    },
    "api_keys": { "header": "X-API-Key", "file": "keys.json" }
  },
  "rate_limit": { "default": { "rate": "100/s", "burst": 200, "key": "client" }, "store": "memory" },
  "cache":      { "max_size": "256MB", "store": "memory" },
  "redis":      { "url": "redis://127.0.0.1:6379/0" },
  "limits":     { "max_request_body": "1MB", "max_backend_body": "8MB", "max_calls_per_request": 64 }
}`
	formatEndpoint = `{
  "$schema": "../schemas/endpoint.schema.json",
  "method": "GET",
  "path": "/checkout/{cart_id}",
  "summary": "Everything the checkout screen shows, in one call",
  "auth": { "require": ["jwt"], "scopes": ["checkout:read"] },
  "rate_limit": { "rate": "10/s", "burst": 20, "key": "auth.sub" },
  "cache": { "ttl": "30s", "scope": "user", "vary": ["query.currency"] },
  "timeout": "2s",
  "calls": {
    "cart":  { "service": "cart", "path": "/carts/${params.cart_id}" },
    "user":  { "service": "user", "path": "/users/${auth.sub}", "optional": true, "timeout": "300ms" },
    "stock": { "service": "inventory", "path": "/stock",
               "query": { "skus": "join(map(cart.items, .sku), ',')" }, "decode": "xml" },
    "prices": { "service": "catalog", "for_each": "cart.items", "path": "/prices/${item.sku}",
                "cache": { "ttl": "5m" } }
  },
  "response": {
    "body": {
      "greeting": "user?.name ?? 'guest'",
      "items": "filter(cart.items, .qty > 0)",
      "total": "cart.total",
      "in_stock": "stock.inventory.available == 'true'",
      "prices": "prices"
    },
    "formats": ["json", "xml"],
    "xml_root": "checkout"
  }
}`
	formatTest = `{
  "$schema": "../schemas/test.schema.json",
  "cases": [
    {
      "name": "empty lines are hidden",
      "request": { "method": "GET", "path": "/checkout/c1", "headers": { "Accept": "application/json" },
                   "claims": { "sub": "u1", "scope": "checkout:read" } },
      "calls": {
        "cart":  { "status": 200, "body": { "items": [ { "sku": "A1", "qty": 0 } ], "total": 0 } },
        "user":  { "status": 503 },
        "stock": { "status": 200, "headers": { "Content-Type": "application/xml" }, "text": "<inventory/>" }
      },
      "expect": { "status": 200, "headers": { "Partial-Response": "user" },
                  "body": { "greeting": "guest", "items": [] }, "match": "subset" }
    }
  ]
}`
)

// edit returns src (a JSON object) with the value at key, a "/"-separated
// path, replaced by v, or removed when v is remove. List elements are named
// by their index.
func edit(t *testing.T, src, key string, v any) []byte {
	t.Helper()
	var doc any
	if err := json.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(key, "/")
	cur := doc
	for i, k := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if v == remove {
					delete(c, k)
				} else {
					c[k] = v
				}
			}
			cur = c[k]
		case []any:
			n, err := strconv.Atoi(k)
			if err != nil || n < 0 || n >= len(c) {
				t.Fatalf("edit %s: no element %q", key, k)
			}
			if last {
				c[n] = v
			}
			cur = c[n]
		default:
			t.Fatalf("edit %s: %s is not an object or list", key, strings.Join(parts[:i], "/"))
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var remove = &struct{}{}

const minimalSpec = `{"method": "GET", "path": "/x", "calls": {"a": {"service": "s", "path": "/a"}}}`

func TestValidDocuments(t *testing.T) {
	compiled := compile(t)
	for _, c := range []struct {
		name   string
		schema string
		src    []byte
	}{
		{"spec-format gateway", schemas.Gateway, []byte(formatGateway)},
		{"spec-format endpoint", schemas.Endpoint, []byte(formatEndpoint)},
		{"spec-format test", schemas.Test, []byte(formatTest)},
		{"minimal endpoint", schemas.Endpoint, []byte(minimalSpec)},
		{"empty gateway", schemas.Gateway, []byte(`{}`)},
		{"duration from the environment", schemas.Gateway, edit(t, formatGateway, "shutdown_timeout", "${STOP:-15s}")},
		{"jwt with a secret", schemas.Gateway, edit(t, formatGateway, "auth/jwt", map[string]any{"secret": "${JWT_SECRET}", "algorithms": []any{"HS256"}})},
		{"ipv6 listen", schemas.Gateway, edit(t, formatGateway, "listen", "[::1]:8080")},
		{"fractional duration", schemas.Endpoint, edit(t, minimalSpec, "timeout", "1.5s")},
		{"compound duration", schemas.Endpoint, edit(t, minimalSpec, "timeout", "1m30s")},
		{"size with a space", schemas.Endpoint, edit(t, minimalSpec, "limits", map[string]any{"max_request_body": "512 KB"})},
		{"body as one expression", schemas.Endpoint, edit(t, minimalSpec, "response", map[string]any{"body": "a", "status": "201"})},
		{"rest parameter", schemas.Endpoint, edit(t, minimalSpec, "path", "/files/{rest...}")},
		{"for_each answers", schemas.Test, edit(t, formatTest, "cases/0/calls/cart", []any{map[string]any{"body": 1}, map[string]any{"status": 404, "delay": "10ms"}})},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := validate(t, compiled[c.schema], c.src); err != nil {
				t.Fatalf("valid document rejected by %s:\n%v\n%s", c.schema, err, c.src)
			}
		})
	}
}

func TestInvalidDocuments(t *testing.T) {
	compiled := compile(t)
	for _, c := range []struct {
		name   string
		schema string
		src    []byte
		at     string // JSON pointer of the value the schema must blame
	}{
		{"unknown endpoint key", schemas.Endpoint, edit(t, minimalSpec, "methdo", "GET"), ""},
		{"missing path", schemas.Endpoint, edit(t, minimalSpec, "path", remove), ""},
		{"lower-case method", schemas.Endpoint, edit(t, minimalSpec, "method", "get"), "/method"},
		{"relative endpoint path", schemas.Endpoint, edit(t, minimalSpec, "path", "x/{id}"), "/path"},
		{"query in endpoint path", schemas.Endpoint, edit(t, minimalSpec, "path", "/x?y=1"), "/path"},
		{"call name starts with a digit", schemas.Endpoint, edit(t, minimalSpec, "calls/1cart", map[string]any{"service": "s", "path": "/"}), "/calls/1cart"},
		{"call without service", schemas.Endpoint, edit(t, minimalSpec, "calls/a/service", remove), "/calls/a"},
		{"unknown call key", schemas.Endpoint, edit(t, minimalSpec, "calls/a/retries", 2), "/calls/a"},
		{"call path not absolute", schemas.Endpoint, edit(t, minimalSpec, "calls/a/path", "carts/1"), "/calls/a/path"},
		{"duration in words", schemas.Endpoint, edit(t, minimalSpec, "timeout", "2 seconds"), "/timeout"},
		{"zero duration", schemas.Endpoint, edit(t, minimalSpec, "calls/a/timeout", "0s"), "/calls/a/timeout"},
		{"duration as a number", schemas.Endpoint, edit(t, minimalSpec, "timeout", 2), "/timeout"},
		{"decode yaml", schemas.Endpoint, edit(t, minimalSpec, "calls/a/decode", "yaml"), "/calls/a/decode"},
		{"encode msgpack", schemas.Endpoint, edit(t, minimalSpec, "calls/a/encode", "msgpack"), "/calls/a/encode"},
		{"query value not a string", schemas.Endpoint, edit(t, minimalSpec, "calls/a/query", map[string]any{"n": 1}), "/calls/a/query/n"},
		{"bad header name", schemas.Endpoint, edit(t, minimalSpec, "calls/a/headers", map[string]any{"X Bad": "'1'"}), "/calls/a/headers/X Bad"},
		{"after names no call", schemas.Endpoint, edit(t, minimalSpec, "calls/a/after", []any{"not a name"}), "/calls/a/after/0"},
		{"accept_status out of range", schemas.Endpoint, edit(t, minimalSpec, "calls/a/accept_status", []any{99}), "/calls/a/accept_status/0"},
		{"xml cast as a string", schemas.Endpoint, edit(t, minimalSpec, "calls/a/xml", map[string]any{"cast": "yes"}), "/calls/a/xml/cast"},
		{"response status as a number", schemas.Endpoint, edit(t, minimalSpec, "response", map[string]any{"status": 201}), "/response/status"},
		{"format yaml", schemas.Endpoint, edit(t, minimalSpec, "response", map[string]any{"formats": []any{"yaml"}}), "/response/formats/0"},
		{"rate in words", schemas.Endpoint, edit(t, minimalSpec, "rate_limit", map[string]any{"rate": "10 per second"}), "/rate_limit/rate"},
		{"cache without ttl", schemas.Endpoint, edit(t, minimalSpec, "cache", map[string]any{"scope": "shared"}), "/cache"},
		{"require oauth", schemas.Endpoint, edit(t, minimalSpec, "auth", map[string]any{"require": []any{"oauth"}}), "/auth/require/0"},
		{"$schema below the top", schemas.Endpoint, edit(t, minimalSpec, "calls/a/$schema", "x"), "/calls/a"},

		{"unknown gateway key", schemas.Gateway, edit(t, formatGateway, "listen_addr", ":80"), ""},
		{"size in MiB", schemas.Gateway, edit(t, formatGateway, "limits/max_request_body", "1MiB"), "/limits/max_request_body"},
		{"calls per request zero", schemas.Gateway, edit(t, formatGateway, "limits/max_calls_per_request", 0), "/limits/max_calls_per_request"},
		{"listen without port", schemas.Gateway, edit(t, formatGateway, "listen", "localhost"), "/listen"},
		{"service without urls", schemas.Gateway, edit(t, formatGateway, "services/user/urls", remove), "/services/user"},
		{"service url with a query", schemas.Gateway, edit(t, formatGateway, "services/user/urls", []any{"http://h/?a=1"}), "/services/user/urls/0"},
		{"balance random", schemas.Gateway, edit(t, formatGateway, "services/cart/balance", "random"), "/services/cart/balance"},
		{"service name with a dot", schemas.Gateway, edit(t, formatGateway, "services/a.b", map[string]any{"urls": []any{"http://h"}}), "/services/a.b"},
		{"jwt alg none", schemas.Gateway, edit(t, formatGateway, "auth/jwt/algorithms", []any{"none"}), "/auth/jwt/algorithms/0"},
		{"jwt without algorithms", schemas.Gateway, edit(t, formatGateway, "auth/jwt/algorithms", remove), "/auth/jwt"},
		{"jwt with two key sources", schemas.Gateway, edit(t, formatGateway, "auth/jwt/secret", "s"), "/auth/jwt"},
		{"store disk", schemas.Gateway, edit(t, formatGateway, "cache/store", "disk"), "/cache/store"},
		{"redis url over http", schemas.Gateway, edit(t, formatGateway, "redis/url", "http://127.0.0.1:6379"), "/redis/url"},

		{"no cases", schemas.Test, []byte(`{"cases": []}`), "/cases"},
		{"match fuzzy", schemas.Test, edit(t, formatTest, "cases/0/expect/match", "fuzzy"), "/cases/0/expect/match"},
		{"answer with body and text", schemas.Test, edit(t, formatTest, "cases/0/calls/stock/body", map[string]any{}), "/cases/0/calls/stock"},
		{"answer status as a string", schemas.Test, edit(t, formatTest, "cases/0/calls/user/status", "503"), "/cases/0/calls/user"},
		{"request header not a string", schemas.Test, edit(t, formatTest, "cases/0/request/headers", map[string]any{"Accept": 1}), "/cases/0/request/headers/Accept"},
		{"case without expect", schemas.Test, edit(t, formatTest, "cases/0/expect", remove), "/cases/0"},
		{"unknown case key", schemas.Test, edit(t, formatTest, "cases/0/skip", true), "/cases/0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := validate(t, compiled[c.schema], c.src)
			if err == nil {
				t.Fatalf("invalid document accepted by %s:\n%s", c.schema, c.src)
			}
			var ve *jsonschema.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error is %T, not a ValidationError: %v", err, err)
			}
			if !blames(ve, c.at) {
				t.Errorf("error does not point at %q:\n%v", c.at, err)
			}
		})
	}
}

// blames reports whether e or any of its causes is located exactly at the
// JSON pointer at. A bad key (propertyNames) counts as located at the key
// itself; its InstanceLocation is not reliable in jsonschema v6.0.3, which
// shares the slice with later siblings.
func blames(e *jsonschema.ValidationError, at string) bool {
	if k, ok := e.ErrorKind.(*kind.PropertyNames); ok && strings.HasSuffix(at, "/"+k.Property) {
		return true
	}
	var ptr strings.Builder
	for _, tok := range e.InstanceLocation {
		ptr.WriteString("/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(tok))
	}
	if ptr.String() == at {
		return true
	}
	for _, c := range e.Causes {
		if blames(c, at) {
			return true
		}
	}
	return false
}

// TestSchemaStyle keeps the schemas useful in an editor: every property
// has a description, and every object with fixed keys rejects others.
func TestSchemaStyle(t *testing.T) {
	for _, name := range schemas.Names() {
		raw, err := schemas.Read(name)
		if err != nil {
			t.Fatal(err)
		}
		var root map[string]any
		if err := json.Unmarshal(raw, &root); err != nil {
			t.Fatal(err)
		}
		if root["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema is %v, want draft 2020-12", name, root["$schema"])
		}
		props, _ := root["properties"].(map[string]any)
		if _, ok := props["$schema"]; !ok {
			t.Errorf("%s: the top level must allow \"$schema\" for editors", name)
		}
		var walk func(node any, at string)
		walk = func(node any, at string) {
			switch n := node.(type) {
			case []any:
				for _, e := range n {
					walk(e, at)
				}
			case map[string]any:
				if p, ok := n["properties"].(map[string]any); ok {
					if n["additionalProperties"] != false {
						t.Errorf("%s: %s has properties but does not set \"additionalProperties\": false", name, at)
					}
					for k, v := range p {
						d, _ := v.(map[string]any)["description"].(string)
						switch {
						case strings.TrimSpace(d) == "":
							t.Errorf("%s: property %s/properties/%s has no description", name, at, k)
						case len(d) > 320:
							t.Errorf("%s: description of %s/properties/%s is %d characters; keep tooltips to a sentence or two", name, at, k, len(d))
						}
					}
				}
				if n["type"] == "object" && n["properties"] == nil && n["additionalProperties"] == nil && !strings.HasSuffix(at, "claims") {
					t.Errorf("%s: %s is an object with neither properties nor additionalProperties", name, at)
				}
				for k, v := range n {
					if k == "examples" || k == "default" || k == "enum" || k == "const" {
						continue
					}
					walk(v, path.Join(at, k))
				}
			}
		}
		walk(root, "#")
	}
}

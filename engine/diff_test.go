package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"frontdesk/engine"
	"frontdesk/transform"
)

// bodyTransport answers every backend request with one JSON body: the one
// its client request carries in its context (withBody).
type bodyTransport struct{}

type bodyKey struct{}

// withBody makes r's backend requests answered with body.
func withBody(r *http.Request, body []byte) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), bodyKey{}, body))
}

func (bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	body, _ := r.Context().Value(bodyKey{}).([]byte)
	return &http.Response{
		StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r,
	}, nil
}

// diffSpecs read the same backend answer in every way the fast paths treat
// specially: whole results, paths of each depth, paths that meet a list or
// a scalar, partial decoding, and expressions over the same values.
var diffSpecs = map[string]string{
	"e/paths.json": `{"method": "GET", "path": "/paths", "calls": {
		"a": {"service": "s", "path": "/a"},
		"b": {"service": "s", "path": "/b", "when": "false"},
		"c": {"service": "s", "path": "/c", "optional": true, "fallback": "a"}},
	  "response": {"body": {
		"whole": "a", "skipped": "b", "c": "c",
		"x": "a.x", "xy": "a.x.y", "xyz": "a.x.y.z", "items": "a.items", "n": "a.n", "s": "a.s",
		"bracket": "a['x']", "first": "first(a.items ?? [])",
		"mapped": "map(a.items ?? [], #)", "picked": "pick(a ?? {}, 'x', 'items')",
		"list": "[a.x, a.items]", "obj": "{'k': a.x}"}}}`,
	"e/default.json": `{"method": "GET", "path": "/default", "calls": {
		"a": {"service": "s", "path": "/a"}, "b": {"service": "s", "path": "/b"}}}`,
	"e/keys.json": `{"method": "GET", "path": "/keys", "calls": {"a": {"service": "s", "path": "/a"}},
	  "response": {"body": {"x": "a?.x", "items": "a?.items", "count": "len(a?.items ?? [])"}}}`,
}

// elemExprs read lists only through closures, so only some keys of each
// element are decoded; each is an endpoint of its own, so one failing does
// not hide the others.
var elemExprs = []string{
	"map(a.items, .b)",
	"map(filter(a.items, .a != nil), {{'x': .a, 'y': .b}})",
	"count(a.items, .a == 1)",
	"len(a.items)",
	"sum(a.items, 1)",
	"map(a.items, any(.x ?? [], # == 1))",
	"map(a.items, #index)",
	"{'m': map(a.items, .b), 'whole': a.items}",
	// The shapes compiled natively (transform.Native), and their edges.
	"map(filter(a.items, .a > 0), {{'b': .b, 'a': .a, 'k': 'lit', 'n': 1.50, 'z': nil}})",
	"map(a.items, {{'f': first(.x), 'l': last(.x), 'n': len(.x), 'deep': .b.k}})",
	"filter(a.items, .a == 1 || .b == 's' && !(.a != nil))",
	"filter(a.items, .a >= 1 and .a < 3 or .b <= 'm')",
	"len(filter(a.items, .a > 0))",
	"count(a.items, 0 < .a)",
	"count(a.items, .flag)",
	"sum(a.items, .a)",
	"sum(a.x)",
	"sum(map(a.items, .a ?? 0))",
	"map(a.items, .a ?? .b ?? 'none')",
	"count(a.items, (.a ?? 0) > 1)",
	"{'c': a.missing ?? 0, 's': sum(a.items, .a ?? 1), 'i': sum(map(a.items, 2))}",
	"{'ok': a.items != nil, 'any': any(a.items, .a > 1), 'all': all(a.items, .b == 's'), 'one': one(a.items, .flag), 'none': none(a.items, .a == nil)}",
	"map(a.items, .a != nil && !(.b == 's'))",
	"first(a.items)",
	"last(filter(a.items, .a != 2))",
	"first(a.missing)",
	"pick(a, 's', 'x.y', 'x.y.z', 'n', 'nope.deeper', 'items')",
	"pick(a, 'x.y.z', 'x.w')",
	"{'len': len(a.items), 's': a.s, 'n': a.n, 'sum': sum(a.items, .a)}",
	"map(a.items, pick(#, 'a', 'b.k'))",
	"map(a.items, map(.x, #))",
	"map(filter(a.items, .b == nil), .a)",
	"filter(a.items, .s > 'a')",
	"map(a.x, #)",
}

func init() {
	for i, e := range elemExprs {
		diffSpecs[fmt.Sprintf("e/elems%d.json", i)] = fmt.Sprintf(`{"method": "GET", "path": "/elems/%d",
		  "calls": {"a": {"service": "s", "path": "/a"}}, "response": {"body": {"v": %q}}}`, i, e)
	}
}

// diffGateways are the diff specs loaded with and without fast paths,
// once: the body each request's calls get travels in its context.
var diffGateways = sync.OnceValues(func() ([2]*engine.Gateway, error) {
	fsys := fstest.MapFS{"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"s": {"urls": ["http://backend.invalid"]}}}`)}}
	for name, spec := range diffSpecs {
		fsys[name] = &fstest.MapFile{Data: []byte(spec)}
	}
	var gws [2]*engine.Gateway
	for i, noFast := range []bool{false, true} {
		g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: bodyTransport{}, NoFastPaths: noFast})
		if err != nil {
			return gws, err
		}
		gws[i] = g
	}
	return gws, nil
})

func serveBoth(t testing.TB, body []byte, path string) (fast, general string) {
	gws, err := diffGateways()
	if err != nil {
		t.Fatal(err)
	}
	out := [2]string{}
	for i, g := range gws {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("X-Request-Id", "diff")
		g.ServeHTTP(w, withBody(r, body))
		out[i] = w.Result().Status + "\n" + w.Body.String()
	}
	return out[0], out[1]
}

// FuzzFastPaths: whatever JSON a backend answers, splicing from its bytes
// and decoding only some keys give exactly what evaluating every expression
// on the whole decoded body gives.
func FuzzFastPaths(f *testing.F) {
	for _, s := range []string{
		`{"x":{"y":{"z":1.50}},"items":[{"b":1,"a":2},{}],"n":null,"s":"caf\u00e9 <&>"}`,
		`{"x":[1,2],"items":"not a list","dup":1,"dup":2}`,
		`{"x":{"y":"str"},"items":[[1],[2,{"k":"\ud83d\ude00"}]]}`,
		`[1,2,3]`, `"text"`, `null`, `{"x":1e400}`, `{ "x" : { "y" : 2 } , "items" : [ ] }`,
		`{"x":{"y":{"z":-0}},"n":12345678901234567890}`,
		`{"items":[{"a":1,"b":{"k":[1]},"x":[1,2]},{"a":null,"b":"s"},3,"str",null,{"a":1,"a":2}]}`,
		`{"items":{"a":1}}`, `{"items":[{"a":"1"}]}`,
		"{\"x\":{\"y\":\"\xff\xed\xa0\x80\"},\"s\":\"\\ud800\",\"n\":1E5,\"items\":[{\"a\":1.50,\"b\":\"\\udc00\"}]}",
		`{"x":{"y":{"z":0.0}},"n":100000000000000000000000,"s":"\ud83d\ude00"}`, `1.50`, `-0.0`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := transform.ScanJSON(body, 20); err != nil {
			return // the gateway refuses it either way
		}
		paths := []string{"/paths", "/default", "/keys"}
		for i := range elemExprs {
			paths = append(paths, fmt.Sprintf("/elems/%d", i))
		}
		for _, path := range paths {
			fast, general := serveBoth(t, body, path)
			if fast != general {
				t.Fatalf("%s over %q:\nfast:    %s\ngeneral: %s", path, body, fast, general)
			}
		}
	})
}

func TestFastPathsOnSeeds(t *testing.T) {
	fast, general := serveBoth(t, []byte(`{"x":{"y":{"z":1.50}},"items":[{"b":1,"a":2}],"s":"a"}`), "/paths")
	if fast != general {
		t.Fatalf("fast:\n%s\ngeneral:\n%s", fast, general)
	}
	if !strings.Contains(fast, `"items":[{"b":1,"a":2}]`) || !strings.Contains(fast, `"xyz":1.50,`) {
		t.Errorf("unchanged lists and numbers keep the backend's bytes:\n%s", fast)
	}
}

package cache

import (
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

func req(parts ...Part) *Request {
	return &Request{Method: "GET", Route: "/checkout/{cart_id}", Parts: parts}
}

func part(name string, values ...string) Part { return Part{Name: name, Values: values} }

// TestKeysApart: requests that differ in any way a spec can see never
// share a key, however their values are crafted.
func TestKeysApart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		scope Scope
		a, b  *Request
	}{
		{"value case", ScopeShared, req(part("headers.X-Currency", "EUR")), req(part("headers.X-Currency", "eur"))},
		{"repeated parameter", ScopeShared, req(part("query.a", "1", "2")), req(part("query.a", "1"))},
		{"repeated parameter, other order", ScopeShared, req(part("query.a", "1", "2")), req(part("query.a", "2", "1"))},
		{"repeated vs comma", ScopeShared, req(part("query.a", "1", "2")), req(part("query.a", "1,2"))},
		{"repeated vs joined", ScopeShared, req(part("query.a", "1", "2")), req(part("query.a", "12"))},
		{"crafted query string", ScopeShared, req(part("query.a", "1"), part("query.b", "2")), req(part("query.a", "1&b=2"), part("query.b"))},
		{"absent vs empty", ScopeShared, req(Part{Name: "query.a"}), req(part("query.a", ""))},
		{"no value vs one empty", ScopeShared, req(Part{Name: "query.a", Values: []string{}}), req(part("query.a", ""))},
		{"name/value boundary", ScopeShared, req(part("ab", "c")), req(part("a", "bc"))},
		{"value holding a length prefix", ScopeShared, req(part("a", "x\x01y"), part("b", "z")), req(part("a", "x"), part("y\x01b", "z"))},
		{"value holding NULs", ScopeShared, req(part("a", "\x00\x00"), part("b", "")), req(part("a", "\x00"), part("\x00b", ""))},
		{"value spilling into the next part", ScopeShared, req(part("a", "1\x01\x01b\x01\x012")), req(part("a", "1"), part("b", "2"))},
		{"two values vs two parts", ScopeShared, req(part("a", "1", "2")), req(part("a", "1"), part("a", "2"))},
		{"part vs vary", ScopeShared, req(part("a", "1")), &Request{Method: "GET", Route: "/checkout/{cart_id}", Vary: []Part{part("a", "1")}}},
		{"method", ScopeShared, &Request{Method: "GET", Route: "/x"}, &Request{Method: "HEAD", Route: "/x"}},
		{"route", ScopeShared, &Request{Method: "GET", Route: "/a/{x}"}, &Request{Method: "GET", Route: "/a/{y}"}},
		{"method/route boundary", ScopeShared, &Request{Method: "GET", Route: "/x"}, &Request{Method: "GET/", Route: "x"}},
		{"identity", ScopeUser, &Request{Method: "GET", Route: "/x", Identity: "alice"}, &Request{Method: "GET", Route: "/x", Identity: "bob"}},
		{"identity vs a part", ScopeUser, &Request{Method: "GET", Route: "/x", Identity: "\x01a\x01\x01b"}, &Request{Method: "GET", Route: "/x", Parts: []Part{part("a", "b")}}},
		{"identity case", ScopeUser, &Request{Method: "GET", Route: "/x", Identity: "Alice"}, &Request{Method: "GET", Route: "/x", Identity: "alice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if BuildKey(tc.scope, tc.a) == BuildKey(tc.scope, tc.b) {
				t.Errorf("%+v and %+v share a key", tc.a, tc.b)
			}
		})
	}
	// Scopes: the identity keys a user cache only, and a user cache never
	// shares a key with a shared one.
	a := &Request{Method: "GET", Route: "/x", Identity: "alice"}
	b := &Request{Method: "GET", Route: "/x", Identity: "bob"}
	if BuildKey(ScopeShared, a) != BuildKey(ScopeShared, b) {
		t.Error("a shared cache keys on the identity")
	}
	if BuildKey(ScopeUser, &Request{Method: "GET", Route: "/x"}) == BuildKey(ScopeShared, &Request{Method: "GET", Route: "/x"}) {
		t.Error("user and shared scopes share a key")
	}
	if k := BuildKey(ScopeUser, a); len(k) != 64 || k != BuildKey(ScopeUser, &Request{Method: "GET", Route: "/x", Identity: "alice"}) {
		t.Errorf("key %q is not stable or not 64 hex digits", k)
	}
}

// TestReadParts: values come from a real request, every value of a
// repeated parameter or header in order, header names canonical.
func TestReadParts(t *testing.T) {
	sources := []Source{{Param, "cart_id"}, {Query, "currency"}, {Query, "missing"}, {Query, "tag"}, {Header, "accept-language"}, {Header, "X-Absent"}}
	var got []Part
	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkout/{cart_id}", func(w http.ResponseWriter, r *http.Request) { got = ReadParts(r, sources, nil) })
	r := httptest.NewRequest("GET", "/checkout/c%2F1?currency=EUR&tag=a&tag=b&tag=", nil)
	r.Header.Add("Accept-Language", "fr")
	r.Header.Add("accept-language", "en")
	mux.ServeHTTP(httptest.NewRecorder(), r)
	want := []Part{
		{"params.cart_id", []string{"c/1"}},
		{"query.currency", []string{"EUR"}},
		{"query.missing", nil},
		{"query.tag", []string{"a", "b", ""}},
		{"headers.Accept-Language", []string{"fr", "en"}},
		{"headers.X-Absent", nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// A header's name in another case is the same header: the same key,
	// as expressions see the same value.
	r1 := httptest.NewRequest("GET", "/", nil)
	r1.Header["x-currency"] = nil
	r1.Header.Set("x-currency", "EUR")
	r2 := httptest.NewRequest("GET", "/", nil)
	r2.Header.Set("X-CURRENCY", "EUR")
	src := []Source{{Header, "X-Currency"}}
	k1 := BuildKey(ScopeShared, &Request{Method: "GET", Route: "/", Parts: ReadParts(r1, src, nil)})
	k2 := BuildKey(ScopeShared, &Request{Method: "GET", Route: "/", Parts: ReadParts(r2, src, nil)})
	if k1 != k2 {
		t.Error("header name case changed the key")
	}
}

// parseKeyInput reads back what appendKeyInput wrote: that it can is the
// proof no two different requests write the same input.
func parseKeyInput(b []byte) (Scope, *Request, bool) {
	if len(b) < len(keyDomain) || string(b[:len(keyDomain)]) != keyDomain {
		return 0, nil, false
	}
	b = b[len(keyDomain):]
	field := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	parts := func() ([]Part, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)) {
			return nil, false
		}
		b = b[k:]
		var ps []Part
		for range n {
			name, ok := field()
			if !ok || len(b) == 0 {
				return nil, false
			}
			p := Part{Name: name}
			present := b[0]
			b = b[1:]
			if present == 1 {
				m, k := binary.Uvarint(b)
				if k <= 0 || m > uint64(len(b)) {
					return nil, false
				}
				b = b[k:]
				p.Values = []string{}
				for range m {
					v, ok := field()
					if !ok {
						return nil, false
					}
					p.Values = append(p.Values, v)
				}
			}
			ps = append(ps, p)
		}
		return ps, true
	}
	r := &Request{}
	var ok bool
	if r.Method, ok = field(); !ok {
		return 0, nil, false
	}
	if r.Route, ok = field(); !ok {
		return 0, nil, false
	}
	if r.Parts, ok = parts(); !ok {
		return 0, nil, false
	}
	if r.Vary, ok = parts(); !ok || len(b) == 0 {
		return 0, nil, false
	}
	scope := ScopeShared
	if b[0] == 'u' {
		scope = ScopeUser
		b = b[1:]
		if r.Identity, ok = field(); !ok {
			return 0, nil, false
		}
	} else {
		b = b[1:]
	}
	return scope, r, len(b) == 0
}

// requestFrom builds a request from fuzz bytes: fields split at 0xff.
func requestFrom(data []byte) (Scope, *Request) {
	var fields []string
	start := 0
	for i, c := range data {
		if c == 0xff {
			fields = append(fields, string(data[start:i]))
			start = i + 1
		}
	}
	fields = append(fields, string(data[start:]))
	next := func() string {
		if len(fields) == 0 {
			return ""
		}
		f := fields[0]
		fields = fields[1:]
		return f
	}
	r := &Request{Method: next(), Route: next(), Identity: next()}
	scope := ScopeUser
	if len(data)%2 == 1 {
		scope = ScopeShared
	}
	for i := 0; len(fields) > 0; i++ {
		p := Part{Name: next()}
		switch n := len(p.Name) % 4; n {
		case 0:
		default:
			p.Values = []string{}
			for range n - 1 {
				p.Values = append(p.Values, next())
			}
		}
		if i%3 == 2 {
			r.Vary = append(r.Vary, p)
		} else {
			r.Parts = append(r.Parts, p)
		}
	}
	return scope, r
}

// FuzzKeyInput: every request's key input reads back as exactly that
// request, so the input, and therefore the key, is unambiguous.
func FuzzKeyInput(f *testing.F) {
	f.Add([]byte("GET\xff/x\xffalice\xffquery.a\xff1\xff2"))
	f.Add([]byte("GET\xff/x\xff\xff\x01\x01\xff\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		scope, r := requestFrom(data)
		if scope == ScopeShared {
			r.Identity = ""
		}
		gotScope, got, ok := parseKeyInput(appendKeyInput(nil, scope, r))
		if !ok || gotScope != scope || !reflect.DeepEqual(got, r) {
			t.Fatalf("%+v (%v) read back as %+v (%v, %v)", r, scope, got, gotScope, ok)
		}
	})
}

func BenchmarkBuildKey(b *testing.B) {
	r := &Request{Method: "GET", Route: "/checkout/{cart_id}", Identity: "jwt:user-1234",
		Parts: []Part{part("params.cart_id", "c1"), part("auth.sub", "user-1234"), part("headers.Accept", "application/json")},
		Vary:  []Part{part("query.currency", "EUR")}}
	b.ReportAllocs()
	for b.Loop() {
		BuildKey(ScopeUser, r)
	}
}

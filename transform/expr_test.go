package transform

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// testScope is what a spec with calls cart, user and stock declares.
func testScope() *Scope {
	calls := []string{"cart", "user", "stock"}
	return NewScope(calls).With(calls...)
}

func TestCompileAnalysis(t *testing.T) {
	cases := []struct {
		name  string
		src   string
		reads []string
		meta  []string
		path  []string
	}{
		{"literal", `1 + 2`, nil, nil, nil},
		{"string literal", `'EUR'`, nil, nil, nil},
		{"name", `cart`, []string{"cart"}, nil, []string{"cart"}},
		{"member", `cart.total`, []string{"cart"}, nil, []string{"cart", "total"}},
		{"deep member", `user.address.city`, []string{"user"}, nil, []string{"user", "address", "city"}},
		{"bracket member", `cart['total']`, []string{"cart"}, nil, []string{"cart", "total"}},
		{"optional member is no path", `user?.name`, []string{"user"}, nil, nil},
		{"index is no path", `cart.items[0]`, []string{"cart"}, nil, nil},
		{"computed member is no path", `cart[query.k]`, []string{"cart", "query"}, nil, nil},
		{"call is no path", `upper(user.name)`, []string{"user"}, nil, nil},
		{"request names", `params.id + query.q + headers['Accept'] + auth.sub`, []string{"auth", "headers", "params", "query"}, nil, nil},
		{"body", `body.items`, []string{"body"}, nil, []string{"body", "items"}},
		{"two calls sorted", `user.name + cart.id`, []string{"cart", "user"}, nil, nil},
		{"read twice, listed once", `cart.a + cart.b`, []string{"cart"}, nil, nil},
		{"nil coalescing", `user?.name ?? 'guest'`, []string{"user"}, nil, nil},
		{"closure with pointer", `map(cart.items, .sku)`, []string{"cart"}, nil, nil},
		{"closure reading another call", `filter(cart.items, .qty > user.min)`, []string{"cart", "user"}, nil, nil},
		{"closure with #", `any(stock.items, # == cart.sku)`, []string{"cart", "stock"}, nil, nil},
		{"map of filter (fused by the optimizer)", `map(filter(cart.items, .qty > 0), .sku)`, []string{"cart"}, nil, nil},
		{"map of filter reading a call inside", `map(filter(cart.items, .qty > user.min), {{'sku': .sku, 'n': stock.n}})`, []string{"cart", "stock", "user"}, nil, nil},
		{"count of filter", `count(cart.items, .qty > 0) + len(filter(stock.items, .ok))`, []string{"cart", "stock"}, nil, nil},
		{"pipe", `cart.items | filter(.qty > 0) | map(.sku) | join(',')`, []string{"cart"}, nil, nil},
		{"let variable is not a read", `let s = stock.items; len(s) + len(s)`, []string{"stock"}, nil, nil},
		{"let inside a closure", `map(cart.items, {let c = #; c.sku + user.id})`, []string{"cart", "user"}, nil, nil},
		{"conditional", `cart == nil ? user : stock`, []string{"cart", "stock", "user"}, nil, nil},
		{"map literal keys are not reads", `{cart: 1, 'user': 2}`, nil, nil, nil},
		{"meta", `meta.cart.status`, []string{"meta"}, []string{"cart"}, []string{"meta", "cart", "status"}},
		{"meta in brackets", `meta['user'].status`, []string{"meta"}, []string{"user"}, []string{"meta", "user", "status"}},
		{"meta optional", `meta.stock?.error`, []string{"meta"}, []string{"stock"}, nil},
		{"meta of two calls", `meta.user.status == 200 && meta.cart.duration_ms < 100`, []string{"meta"}, []string{"cart", "user"}, nil},
		{"meta in a closure", `map(cart.items, meta.stock.status)`, []string{"cart", "meta"}, []string{"stock"}, nil},
		{"gateway functions", `merge(pick(cart, 'id'), omit(user, 'password'))`, []string{"cart", "user"}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.src, testScope())
			if err != nil {
				t.Fatalf("Compile(%q): %v", tc.src, err)
			}
			if p.Source != tc.src {
				t.Errorf("Source = %q", p.Source)
			}
			if !reflect.DeepEqual(p.Reads, tc.reads) {
				t.Errorf("Reads = %q, want %q", p.Reads, tc.reads)
			}
			if !reflect.DeepEqual(p.MetaReads, tc.meta) {
				t.Errorf("MetaReads = %q, want %q", p.MetaReads, tc.meta)
			}
			if !reflect.DeepEqual(p.Path, tc.path) {
				t.Errorf("Path = %q, want %q", p.Path, tc.path)
			}
		})
	}
}

func TestCompileItem(t *testing.T) {
	withItem := testScope().With("item")
	p, err := Compile(`item.sku + cart.id`, withItem)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Reads, []string{"cart", "item"}) {
		t.Errorf("Reads = %q", p.Reads)
	}
	if _, err := Compile(`item.sku`, testScope()); err == nil {
		t.Error("item compiles outside its scope")
	}
}

func TestCompileParams(t *testing.T) {
	s := testScope().WithParams([]string{"cart_id", "sku"})
	if !s.Has("cart") || !s.Has("params") {
		t.Fatal("WithParams lost names")
	}
	p, err := Compile(`params.cart_id + params['sku']`, s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Reads, []string{"params"}) {
		t.Errorf("Reads = %q", p.Reads)
	}
	_, err = Compile(`params.cartid`, s)
	var ce *CompileError
	if !errors.As(err, &ce) || ce.Message != "unknown field cartid" || ce.Offset != 7 {
		t.Errorf("params.cartid: %#v", err)
	}
	// Without WithParams any name is allowed.
	if _, err := Compile(`params.anything`, testScope()); err != nil {
		t.Error(err)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name    string
		src     string
		msg     string // CompileError.Message, or its prefix when it ends in "*"
		offset  int
		snippet bool
	}{
		{"unknown name", `stok.available`, "unknown name stok", 0, true},
		{"unknown name later", `cart.total + stok`, "unknown name stok", 13, true},
		{"unknown name after unicode", `'é' + stok`, "unknown name stok", 7, true},
		{"unknown name after emoji", `'😀😀' + stok`, "unknown name stok", 13, true},
		{"unquoted literal", `EUR`, "unknown name EUR", 0, true},
		{"item outside for_each", `item.sku`, "unknown name item", 0, true},
		{"auth field", `auth.bad`, "unknown field bad", 5, true},
		{"meta of an unknown call", `meta.crat.status`, "unknown field crat", 5, true},
		{"meta field", `meta.cart.stauts`, "unknown field stauts", 10, true},
		{"syntax", `cart.total +`, "unexpected token EOF", 11, true},
		{"unclosed call", `filter(cart.items, .qty > 0`, "unexpected token EOF", 26, true},
		{"unknown function", `frobnicate(cart)`, "unknown name frobnicate", 0, true},
		{"dynamic meta", `meta[query.call].status`, ErrDynamicMeta.Error(), 4, false},
		{"dynamic meta after unicode", `'é' + meta[query.c].error`, ErrDynamicMeta.Error(), 11, false},
		{"meta through let", `let m = meta; m.cart.status`, ErrDynamicMeta.Error(), 8, false},
		{"meta as a whole", `meta`, ErrDynamicMeta.Error(), 0, false},
		{"meta passed to a function", `len(values(meta))`, ErrDynamicMeta.Error(), 11, false},
		{"meta beside a good read", `meta.cart.status + len(keys(meta))`, ErrDynamicMeta.Error(), 28, false},
		{"$env", `$env.cart`, ErrEnv.Error(), 0, false},
		{"$env with a computed name", `$env[query.c]`, ErrEnv.Error(), 0, false},
		{"redeclared call name", `let cart = 1; cart`, "cannot redeclare cart", 4, true},
		{"too many nodes", strings.Repeat("1+", MaxNodes) + "1", "compilation failed: expression exceeds maximum allowed nodes*", -1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.src, testScope())
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile(%q) = %v, %v; want a CompileError", tc.src, p, err)
			}
			if prefix, ok := strings.CutSuffix(tc.msg, "*"); ok {
				if !strings.HasPrefix(ce.Message, prefix) {
					t.Errorf("Message = %q, want %q...", ce.Message, prefix)
				}
			} else if ce.Message != tc.msg {
				t.Errorf("Message = %q, want %q", ce.Message, tc.msg)
			}
			if tc.offset >= 0 && ce.Offset != tc.offset {
				t.Errorf("Offset = %d, want %d (%q)", ce.Offset, tc.offset, tc.src[min(ce.Offset, len(tc.src)):])
			}
			if ce.Source != tc.src {
				t.Errorf("Source = %q", ce.Source)
			}
			if (ce.Snippet != "") != tc.snippet {
				t.Errorf("Snippet = %q", ce.Snippet)
			}
			if !strings.HasPrefix(ce.Error(), ce.Message) {
				t.Errorf("Error() = %q", ce.Error())
			}
		})
	}
}

func TestScope(t *testing.T) {
	s := NewScope([]string{"cart"})
	for _, n := range []string{"params", "query", "headers", "body", "auth", "meta"} {
		if !s.Has(n) {
			t.Errorf("NewScope lacks %s", n)
		}
	}
	if s.Has("cart") {
		t.Error("a call name is declared before With")
	}
	w := s.With("cart", "item")
	if !w.Has("cart") || !w.Has("item") || s.Has("item") {
		t.Error("With must copy, not change, the scope")
	}
}

func TestRun(t *testing.T) {
	scope := testScope().With("item")
	env := map[string]any{
		"cart":  map[string]any{"id": "c1", "items": []any{map[string]any{"sku": "A", "qty": 2.0}, map[string]any{"sku": "B", "qty": 0.0}}},
		"user":  nil,
		"query": map[string]any{"currency": "EUR"},
		"meta":  map[string]any{"cart": map[string]any{"status": 200}},
		"item":  map[string]any{"sku": "Z"},
	}
	cases := []struct {
		name, src, want string
	}{
		{"member", `cart.id`, `"c1"`},
		{"map of filter", `map(filter(cart.items, .qty > 0), .sku)`, `["A"]`},
		{"nil user", `user?.name ?? 'guest'`, `"guest"`},
		{"join", `join(map(cart.items, .sku), ',')`, `"A,B"`},
		{"query", `query.currency`, `"EUR"`},
		{"missing query", `query.nope`, `null`},
		{"meta status", `meta.cart.status == 200`, `true`},
		{"item", `item.sku`, `"Z"`},
		{"object literal", `{'n': len(cart.items)}`, `{"n":2}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.src, scope)
			if err != nil {
				t.Fatal(err)
			}
			v, err := p.Run(env)
			if err != nil {
				t.Fatal(err)
			}
			if got := jsonString(t, v); got != tc.want {
				t.Errorf("%s = %s, want %s", tc.src, got, tc.want)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	scope := testScope()
	cases := []struct {
		name, src string
		env       map[string]any
		want      string
	}{
		{"member of nil", `cart.total`, map[string]any{"cart": nil}, "cannot fetch total from <nil>"},
		{"wrong type", `cart + 1`, map[string]any{"cart": "x"}, "invalid operation"},
		{"memory budget", `len(map(1..2000000, #))`, map[string]any{}, "memory budget exceeded"},
		{"pick of a string", `pick(cart, 'a')`, map[string]any{"cart": "s"}, "pick: first argument must be an object, not a string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.src, scope)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Run(tc.env)
			var re *RunError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v (%T), want a RunError", err, err)
			}
			if re.Source != tc.src || !strings.HasPrefix(err.Error(), tc.src+": ") {
				t.Errorf("RunError names %q: %v", re.Source, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
			if errors.Unwrap(err) == nil {
				t.Error("RunError does not unwrap")
			}
		})
	}
}

// TestRunConcurrent: one Program serves every request at once.
func TestRunConcurrent(t *testing.T) {
	p, err := Compile(`map(filter(cart.items, .qty > 0), .sku)`, testScope())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			items := []any{map[string]any{"sku": "A", "qty": float64(i)}}
			for range 100 {
				v, err := p.Run(map[string]any{"cart": map[string]any{"items": items}})
				if err != nil {
					t.Error(err)
					return
				}
				want := `["A"]`
				if i == 0 {
					want = `[]`
				}
				if got := jsonString(t, v); got != want {
					t.Errorf("got %s, want %s", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestCompileKeys(t *testing.T) {
	sc := NewScope([]string{"cart", "user"}).With("cart", "user")
	// want: name -> key -> "whole" or the element keys, comma-separated
	// ("" for none); a name mapped to nil is read whole.
	for _, tc := range []struct {
		src  string
		want map[string]map[string]string
	}{
		{"cart.total", map[string]map[string]string{"cart": {"total": "whole"}}},
		{"cart.total + len(cart.items)", map[string]map[string]string{"cart": {"total": "whole", "items": ""}}},
		{"map(filter(cart.items, .qty > 0), .sku)", map[string]map[string]string{"cart": {"items": "qty,sku"}}},
		{"map(cart.items, {{'s': .sku, 'n': #.name, 'i': #index}})", map[string]map[string]string{"cart": {"items": "sku,name"}}},
		{"map(cart.items, any(.tags, # == 'x'))", map[string]map[string]string{"cart": {"items": "tags"}}},
		{"sum(cart.items, .qty) + count(cart.items, .gift)", map[string]map[string]string{"cart": {"items": "qty,gift"}}},
		{"filter(cart.items, .qty > 0)", map[string]map[string]string{"cart": {"items": "whole"}}},
		{"map(cart.items, #)", map[string]map[string]string{"cart": {"items": "whole"}}},
		{"map(cart.items, pick(#, 'sku'))", map[string]map[string]string{"cart": {"items": "whole"}}},
		{"first(cart.items).sku", map[string]map[string]string{"cart": {"items": "whole"}}},
		{"[map(cart.items, .sku), cart.items]", map[string]map[string]string{"cart": {"items": "whole"}}},
		{"map(cart.items, {let i = #; i.sku})", map[string]map[string]string{"cart": {"items": "whole"}}},
		{"user?.name ?? 'guest'", map[string]map[string]string{"user": {"name": "whole"}}},
		{"cart['total']", map[string]map[string]string{"cart": {"total": "whole"}}},
		{"pick(cart, 'id')", map[string]map[string]string{"cart": nil}},
		{"cart.total + len(cart)", map[string]map[string]string{"cart": nil}},
		{"let c = cart; c.total", map[string]map[string]string{"cart": nil}},
		{"cart.items[0].sku", map[string]map[string]string{"cart": {"items": "whole"}}},
		{"user.name + cart.id", map[string]map[string]string{"user": {"name": "whole"}, "cart": {"id": "whole"}}},
	} {
		p, err := Compile(tc.src, sc)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		got := map[string]map[string]string{}
		for n, uses := range p.Keys {
			if uses == nil {
				got[n] = nil
				continue
			}
			got[n] = map[string]string{}
			for k, u := range uses {
				if u.Whole {
					got[n][k] = "whole"
				} else {
					got[n][k] = strings.Join(u.Elems, ",")
				}
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Keys = %v, want %v", tc.src, got, tc.want)
		}
	}
}

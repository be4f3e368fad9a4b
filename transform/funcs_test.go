package transform

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// obj parses a JSON object literal for test inputs, so every case starts
// from values shaped like decoded backend bodies.
func obj(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

// deepCopy copies a decoded JSON value, so a test can check its inputs were
// not mutated.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

func jsonString(t testing.TB, v any) string {
	t.Helper()
	b, err := AppendJSON(nil, v)
	if err != nil {
		t.Fatalf("AppendJSON(%#v): %v", v, err)
	}
	return string(b)
}

func TestMerge(t *testing.T) {
	cases := []struct {
		name string
		args []string // JSON of each argument; "" is a Go nil
		want string
	}{
		{"no arguments", nil, "null"},
		{"only nils", []string{"", ""}, "null"},
		{"one object", []string{`{"a":1}`}, `{"a":1}`},
		{"nil skipped first", []string{"", `{"a":1}`}, `{"a":1}`},
		{"nil skipped last", []string{`{"a":1}`, ""}, `{"a":1}`},
		{"nil skipped between", []string{`{"a":1}`, "", `{"b":2}`}, `{"a":1,"b":2}`},
		{"disjoint keys", []string{`{"a":1}`, `{"b":2}`}, `{"a":1,"b":2}`},
		{"later wins on scalars", []string{`{"a":1,"b":1}`, `{"a":2}`}, `{"a":2,"b":1}`},
		{"deep merge", []string{`{"u":{"name":"x","age":3}}`, `{"u":{"age":4,"city":"y"}}`}, `{"u":{"age":4,"city":"y","name":"x"}}`},
		{"three levels", []string{`{"a":{"b":{"c":1,"d":1}}}`, `{"a":{"b":{"d":2}}}`, `{"a":{"b":{"e":3}}}`}, `{"a":{"b":{"c":1,"d":2,"e":3}}}`},
		{"lists are replaced, not concatenated", []string{`{"l":[1,2]}`, `{"l":[3]}`}, `{"l":[3]}`},
		{"object replaced by scalar", []string{`{"a":{"b":1}}`, `{"a":5}`}, `{"a":5}`},
		{"scalar replaced by object", []string{`{"a":5}`, `{"a":{"b":1}}`}, `{"a":{"b":1}}`},
		{"null member overwrites", []string{`{"a":{"b":1}}`, `{"a":null}`}, `{"a":null}`},
		{"non-objects: later wins", []string{`1`, `"x"`}, `"x"`},
		{"object then scalar", []string{`{"a":1}`, `true`}, `true`},
		{"scalar then object", []string{`[1]`, `{"a":1}`}, `{"a":1}`},
		{"empty objects", []string{`{}`, `{}`}, `{}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := make([]any, len(tc.args))
			for i, a := range tc.args {
				if a != "" {
					args[i] = obj(t, a)
				}
			}
			before := deepCopy(args)
			got, err := Merge(args...)
			if err != nil {
				t.Fatal(err)
			}
			if s := jsonString(t, got); s != tc.want {
				t.Errorf("Merge = %s, want %s", s, tc.want)
			}
			if !reflect.DeepEqual(args, before) {
				t.Errorf("Merge mutated its arguments: %v, was %v", args, before)
			}
		})
	}
}

// TestMergeResultIsFresh: the merged object shares no map with an input
// that a later write could reach.
func TestMergeResultIsFresh(t *testing.T) {
	a := obj(t, `{"u":{"n":1}}`).(map[string]any)
	b := obj(t, `{"u":{"m":2}}`).(map[string]any)
	got, _ := Merge(a, b)
	m := got.(map[string]any)
	m["u"].(map[string]any)["z"] = 9
	m["new"] = 1
	if jsonString(t, a) != `{"u":{"n":1}}` || jsonString(t, b) != `{"u":{"m":2}}` {
		t.Errorf("writing the result changed an input: %s %s", jsonString(t, a), jsonString(t, b))
	}
}

func TestPickOmit(t *testing.T) {
	const src = `{"id":7,"name":"n","owner":{"name":"o","email":"e","address":{"city":"c","zip":"z"}},"items":[1,2],"empty":{}}`
	cases := []struct {
		name    string
		fn      func(...any) (any, error)
		obj     string // "" is a Go nil
		keys    []any
		want    string
		wantErr string
	}{
		{"pick one key", Pick, src, []any{"id"}, `{"id":7}`, ""},
		{"pick keeps nesting", Pick, src, []any{"id", "owner.name"}, `{"id":7,"owner":{"name":"o"}}`, ""},
		{"pick two under one parent", Pick, src, []any{"owner.name", "owner.address.city"}, `{"owner":{"address":{"city":"c"},"name":"o"}}`, ""},
		{"pick missing key is left out", Pick, src, []any{"nope", "id"}, `{"id":7}`, ""},
		{"pick missing nested leaves no empty parent", Pick, src, []any{"owner.nope"}, `{}`, ""},
		{"pick through a non-object", Pick, src, []any{"id.x"}, `{}`, ""},
		{"pick through a list", Pick, src, []any{"items.0"}, `{}`, ""},
		{"pick keys as a list", Pick, src, []any{[]any{"id", "name"}}, `{"id":7,"name":"n"}`, ""},
		{"pick nothing", Pick, src, nil, `{}`, ""},
		{"pick whole then part", Pick, src, []any{"owner", "owner.name"}, `{"owner":{"address":{"city":"c","zip":"z"},"email":"e","name":"o"}}`, ""},
		{"pick part then whole", Pick, src, []any{"owner.name", "owner"}, `{"owner":{"address":{"city":"c","zip":"z"},"email":"e","name":"o"}}`, ""},
		{"pick whole then missing part", Pick, src, []any{"empty", "empty.x"}, `{"empty":{}}`, ""},
		{"pick whole then deeper missing part", Pick, `{"b":{"c":{}}}`, []any{"b", "b.c.x"}, `{"b":{"c":{}}}`, ""},
		{"pick part then deeper part", Pick, src, []any{"owner.address", "owner.address.city"}, `{"owner":{"address":{"city":"c","zip":"z"}}}`, ""},
		{"pick empty object value", Pick, src, []any{"empty"}, `{"empty":{}}`, ""},
		{"pick from nil", Pick, "", []any{"a"}, `null`, ""},
		{"pick with no arguments", Pick, "-", nil, ``, "pick needs an object and at least one key"},
		{"pick from a list", Pick, `[1]`, []any{"a"}, ``, "pick: first argument must be an object, not []interface {}"},
		{"pick from a string", Pick, `"s"`, []any{"a"}, ``, "pick: first argument must be an object, not string"},
		{"pick with a number key", Pick, src, []any{1.0}, ``, "pick: keys must be strings, not float64"},
		{"pick with a number in a key list", Pick, src, []any{[]any{"id", 2.0}}, ``, "pick: keys must be strings, not float64"},
		{"pick with a nil key", Pick, src, []any{nil}, ``, "pick: keys must be strings, not <nil>"},

		{"omit one key", Omit, src, []any{"items", "empty", "owner"}, `{"id":7,"name":"n"}`, ""},
		{"omit nested", Omit, `{"a":1,"b":{"c":2,"d":3}}`, []any{"b.c"}, `{"a":1,"b":{"d":3}}`, ""},
		{"omit deep", Omit, src, []any{"owner.address.zip", "owner.email", "items", "empty", "name"}, `{"id":7,"owner":{"address":{"city":"c"},"name":"o"}}`, ""},
		{"omit missing", Omit, `{"a":1}`, []any{"b", "a.x", "c.d"}, `{"a":1}`, ""},
		{"omit keys as a list", Omit, `{"a":1,"b":2,"c":3}`, []any{[]any{"a", "c"}}, `{"b":2}`, ""},
		{"omit nothing copies", Omit, `{"a":1}`, nil, `{"a":1}`, ""},
		{"omit from nil", Omit, "", []any{"a"}, `null`, ""},
		{"omit from a number", Omit, `3`, []any{"a"}, ``, "omit: first argument must be an object, not float64"},
		{"omit with a bool key", Omit, `{}`, []any{true}, ``, "omit: keys must be strings, not bool"},
		{"omit with no arguments", Omit, "-", nil, ``, "omit needs an object and at least one key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var args []any
			if tc.obj != "-" {
				var o any
				if tc.obj != "" {
					o = obj(t, tc.obj)
				}
				args = append([]any{o}, tc.keys...)
			}
			before := deepCopy(args)
			got, err := tc.fn(args...)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := jsonString(t, got); s != tc.want {
				t.Errorf("got %s, want %s", s, tc.want)
			}
			if !reflect.DeepEqual(args, before) {
				t.Errorf("inputs mutated: %s, was %s", jsonString(t, args), jsonString(t, before))
			}
		})
	}
}

// TestOmitResultIsFresh: writing into what Omit returns never reaches the
// input, even when no path matched.
func TestOmitResultIsFresh(t *testing.T) {
	in := obj(t, `{"a":{"b":1,"c":2},"d":3}`).(map[string]any)
	out, _ := Omit(in, "a.b")
	o := out.(map[string]any)
	o["x"] = 1
	o["a"].(map[string]any)["y"] = 2
	if got := jsonString(t, in); got != `{"a":{"b":1,"c":2},"d":3}` {
		t.Errorf("input changed to %s", got)
	}
}

// TestFuncsConcurrent runs pick, omit and merge over one shared input from
// many goroutines, as the expressions of one request do with a decoded
// backend body; -race reports any write.
func TestFuncsConcurrent(t *testing.T) {
	in := obj(t, `{"b":{"c":{"d":1,"e":{}}},"f":[1,{"g":2}]}`)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				_, _ = Pick(in, "b", "b.c.d", "b.c.e.x", "f")
				_, _ = Pick(in, "b.c", "b.c.d", "b.c.e", "b.c.e.z")
				_, _ = Omit(in, "b.c.d", "f")
				_, _ = Merge(in, map[string]any{"b": map[string]any{"c": i}}, in)
			}
		}()
	}
	wg.Wait()
	if got := jsonString(t, in); got != `{"b":{"c":{"d":1,"e":{}}},"f":[1,{"g":2}]}` {
		t.Errorf("shared input changed to %s", got)
	}
}

// TestFuncsInExpressions: merge, pick and omit as the spec writes them.
func TestFuncsInExpressions(t *testing.T) {
	scope := NewScope(nil).With("cart", "user")
	env := map[string]any{
		"cart": obj(t, `{"id":"c1","owner":{"name":"ann","email":"a@x"},"total":10}`),
		"user": obj(t, `{"name":"Ann","password":"p","prefs":{"lang":"fr"}}`),
	}
	cases := []struct{ name, src, want string }{
		{"merge", `merge(cart, {'total': 11}, nil)`, `{"id":"c1","owner":{"email":"a@x","name":"ann"},"total":11}`},
		{"pick", `pick(cart, 'id', 'owner.name')`, `{"id":"c1","owner":{"name":"ann"}}`},
		{"omit", `omit(user, 'password', 'prefs.lang')`, `{"name":"Ann","prefs":{}}`},
		{"pick list of keys", `pick(user, ['name', 'prefs.lang'])`, `{"name":"Ann","prefs":{"lang":"fr"}}`},
		{"merge nil", `merge(nil, nil)`, `null`},
		{"pick nil", `pick(nil, 'a')`, `null`},
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
	p, err := Compile(`pick(cart.total, 'a')`, scope)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Run(env)
	var re *RunError
	if err == nil || !strings.Contains(err.Error(), "first argument must be an object") || !asRunError(err, &re) {
		t.Errorf("pick of a number: err = %v, want a RunError", err)
	}
}

func asRunError(err error, re **RunError) bool {
	r, ok := err.(*RunError)
	*re = r
	return ok
}

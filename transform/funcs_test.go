package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
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
		{"pick from a list", Pick, `[1]`, []any{"a"}, ``, "pick: first argument must be an object, not a list"},
		{"pick from a string", Pick, `"s"`, []any{"a"}, ``, "pick: first argument must be an object, not a string"},
		{"pick with a number key", Pick, src, []any{1.0}, ``, "pick: keys must be strings, not a number"},
		{"pick with a number in a key list", Pick, src, []any{[]any{"id", 2.0}}, ``, "pick: keys must be strings, not a number"},
		{"pick with a nil key", Pick, src, []any{nil}, ``, "pick: keys must be strings, not null"},

		{"omit one key", Omit, src, []any{"items", "empty", "owner"}, `{"id":7,"name":"n"}`, ""},
		{"omit nested", Omit, `{"a":1,"b":{"c":2,"d":3}}`, []any{"b.c"}, `{"a":1,"b":{"d":3}}`, ""},
		{"omit deep", Omit, src, []any{"owner.address.zip", "owner.email", "items", "empty", "name"}, `{"id":7,"owner":{"address":{"city":"c"},"name":"o"}}`, ""},
		{"omit missing", Omit, `{"a":1}`, []any{"b", "a.x", "c.d"}, `{"a":1}`, ""},
		{"omit keys as a list", Omit, `{"a":1,"b":2,"c":3}`, []any{[]any{"a", "c"}}, `{"b":2}`, ""},
		{"omit nothing copies", Omit, `{"a":1}`, nil, `{"a":1}`, ""},
		{"omit from nil", Omit, "", []any{"a"}, `null`, ""},
		{"omit from a number", Omit, `3`, []any{"a"}, ``, "omit: first argument must be an object, not a number"},
		{"omit with a bool key", Omit, `{}`, []any{true}, ``, "omit: keys must be strings, not a boolean"},
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

// jsonArgs decodes each JSON argument; "" is a Go nil.
func jsonArgs(t testing.TB, in []string) []any {
	t.Helper()
	args := make([]any, len(in))
	for i, a := range in {
		if a != "" {
			args[i] = obj(t, a)
		}
	}
	return args
}

// checkFunc runs fn on args and compares the result's JSON with want, or
// the error with wantErr, then checks that args were not mutated.
func checkFunc(t *testing.T, fn func(...any) (any, error), args []any, want, wantErr string) any {
	t.Helper()
	before := deepCopy(args)
	got, err := fn(args...)
	if !reflect.DeepEqual(args, before) {
		t.Errorf("inputs mutated: %#v, was %#v", args, before)
	}
	if wantErr != "" {
		if err == nil || err.Error() != wantErr {
			t.Fatalf("err = %v, want %q", err, wantErr)
		}
		if got != nil {
			t.Errorf("got %#v with an error, want nil", got)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if s := jsonString(t, got); s != want {
		t.Errorf("got %s, want %s", s, want)
	}
	return got
}

func TestRename(t *testing.T) {
	const src = `{"id":7,"name":"n","owner":{"name":"o","address":{"city":"c"}},"tags":["a"]}`
	cases := []struct {
		name    string
		args    []string // JSON of each argument; "" is a Go nil
		want    string
		wantErr string
	}{
		{"one key", []string{src, `{"id":"cart_id"}`}, `{"cart_id":7,"name":"n","owner":{"address":{"city":"c"},"name":"o"},"tags":["a"]}`, ""},
		{"several keys", []string{`{"a":1,"b":2,"c":3}`, `{"a":"x","b":"y"}`}, `{"c":3,"x":1,"y":2}`, ""},
		{"swap", []string{`{"a":1,"b":2}`, `{"a":"b","b":"a"}`}, `{"a":2,"b":1}`, ""},
		{"chain applies to the input", []string{`{"a":1,"b":2}`, `{"a":"b","b":"c"}`}, `{"b":1,"c":2}`, ""},
		{"renamed value replaces an existing key", []string{`{"a":1,"b":2}`, `{"a":"b"}`}, `{"b":1}`, ""},
		{"missing key skipped", []string{`{"a":1}`, `{"zz":"y"}`}, `{"a":1}`, ""},
		{"same name is a no-op", []string{`{"a":1}`, `{"a":"a"}`}, `{"a":1}`, ""},
		{"null value kept", []string{`{"a":null}`, `{"a":"b"}`}, `{"b":null}`, ""},
		{"nested path", []string{src, `{"owner.name":"full_name"}`}, `{"id":7,"name":"n","owner":{"address":{"city":"c"},"full_name":"o"},"tags":["a"]}`, ""},
		{"deep path", []string{src, `{"owner.address.city":"town"}`}, `{"id":7,"name":"n","owner":{"address":{"town":"c"},"name":"o"},"tags":["a"]}`, ""},
		{"parent and child together", []string{src, `{"owner":"seller","owner.name":"nick","name":"title"}`}, `{"id":7,"seller":{"address":{"city":"c"},"nick":"o"},"tags":["a"],"title":"n"}`, ""},
		{"path through a non-object skipped", []string{src, `{"id.x":"y","tags.0":"z"}`}, src2(t, src), ""},
		{"path through a missing key skipped", []string{src, `{"nope.x":"y"}`}, src2(t, src), ""},
		{"unicode keys", []string{`{"prénom":"Zoé","名前":"太郎"}`, `{"prénom":"first_name","名前":"имя"}`}, `{"first_name":"Zoé","имя":"太郎"}`, ""},
		{"empty renames copy", []string{`{"a":1}`, `{}`}, `{"a":1}`, ""},
		{"nil renames copy", []string{`{"a":1}`, ""}, `{"a":1}`, ""},
		{"empty object", []string{`{}`, `{"a":"b"}`}, `{}`, ""},
		{"nil object", []string{"", `{"a":"b"}`}, `null`, ""},
		{"nil object, bad renames still an error", []string{"", `{"a":1}`}, ``, `rename: new name for "a" must be a string, not a number`},
		{"list object", []string{`[{"a":1}]`, `{"a":"b"}`}, ``, "rename: first argument must be an object, not a list"},
		{"string object", []string{`"s"`, `{"a":"b"}`}, ``, "rename: first argument must be an object, not a string"},
		{"renames as a string", []string{`{"a":1}`, `"a"`}, ``, `rename: second argument must be an object of renames, such as {"old": "new"}, not a string`},
		{"renames as a list", []string{`{"a":1}`, `["a","b"]`}, ``, `rename: second argument must be an object of renames, such as {"old": "new"}, not a list`},
		{"new name not a string", []string{`{"a":1}`, `{"a":null}`}, ``, `rename: new name for "a" must be a string, not null`},
		{"new name empty", []string{`{"a":1}`, `{"a":""}`}, ``, `rename: new name "" for "a" must be a non-empty key without '.'; rename keeps a value in the same object`},
		{"new name with a dot", []string{`{"a":1}`, `{"a":"b.c"}`}, ``, `rename: new name "b.c" for "a" must be a non-empty key without '.'; rename keeps a value in the same object`},
		{"two keys to one name", []string{`{"a":1,"b":2}`, `{"b":"x","a":"x"}`}, ``, `rename: "a" and "b" are both renamed to "x"`},
		{"two keys to one name, one absent", []string{`{"a":1}`, `{"a":"x","b":"x"}`}, ``, `rename: "a" and "b" are both renamed to "x"`},
		{"key to its own name and another to it", []string{`{"a":1,"b":2}`, `{"a":"a","b":"a"}`}, ``, `rename: "a" and "b" are both renamed to "a"`},
		{"nested collision names the path", []string{src, `{"owner.name":"x","owner.address":"x"}`}, ``, `rename: "owner.address" and "owner.name" are both renamed to "x"`},
		{"one argument", []string{`{"a":1}`}, ``, `rename needs an object and an object of renames, such as rename(o, {"old": "new"}); got 1 arguments`},
		{"three arguments", []string{`{"a":1}`, `"a"`, `"b"`}, ``, `rename needs an object and an object of renames, such as rename(o, {"old": "new"}); got 3 arguments`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkFunc(t, Rename, jsonArgs(t, tc.args), tc.want, tc.wantErr)
		})
	}
}

// src2 re-encodes a JSON text the way jsonString writes it.
func src2(t testing.TB, s string) string { return jsonString(t, obj(t, s)) }

// TestRenameResultIsFresh: writing into what Rename returns never reaches
// the input, whether or not a name matched; untouched nested objects are
// shared, not copied.
func TestRenameResultIsFresh(t *testing.T) {
	const src = `{"a":{"b":1,"c":2},"d":{"e":3}}`
	for _, renames := range []map[string]any{{"a.b": "x"}, {"zz": "y"}, {}, nil, {"d": "d"}} {
		in := obj(t, src).(map[string]any)
		out, err := Rename(in, renames)
		if err != nil {
			t.Fatal(err)
		}
		o := out.(map[string]any)
		if sameMap(o, in) {
			t.Errorf("rename %v returned its input", renames)
		}
		o["new"] = 1
		if a, ok := o["a"].(map[string]any); ok && renames["a.b"] != nil {
			a["y"] = 2
		}
		if got := jsonString(t, in); got != src2(t, src) {
			t.Errorf("rename %v: input changed to %s", renames, got)
		}
		if !sameMap(o["d"].(map[string]any), in["d"].(map[string]any)) {
			t.Errorf("rename %v copied an untouched object", renames)
		}
	}
}

func TestCoalesce(t *testing.T) {
	cases := []struct {
		name string
		args []string // JSON of each argument; "" is a Go nil
		want string
	}{
		{"no arguments", nil, `null`},
		{"only nils", []string{"", "", ""}, `null`},
		{"first non-nil", []string{"", `"x"`, `"y"`}, `"x"`},
		{"first wins", []string{`1`, `2`}, `1`},
		{"empty string counts", []string{`""`, `"fallback"`}, `""`},
		{"zero counts", []string{"", `0`, `5`}, `0`},
		{"false counts", []string{`false`, `true`}, `false`},
		{"empty list counts", []string{`[]`, `[1]`}, `[]`},
		{"empty object counts", []string{`{}`, `{"a":1}`}, `{}`},
		{"object returned as is", []string{"", `{"é":{"ü":[1,null]}}`}, `{"é":{"ü":[1,null]}}`},
		{"unicode string", []string{"", `"日本語"`}, `"日本語"`},
		{"last is nil", []string{`"a"`, ""}, `"a"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := jsonArgs(t, tc.args)
			got := checkFunc(t, Coalesce, args, tc.want, "")
			for _, a := range args {
				if a != nil {
					if m, ok := a.(map[string]any); ok && !sameMap(m, got.(map[string]any)) {
						t.Errorf("coalesce copied its argument")
					}
					break
				}
			}
		})
	}
}

func TestToNumber(t *testing.T) {
	cases := []struct {
		name    string
		in      any
		want    any // float64 or nil
		wantErr string
	}{
		{"nil", nil, nil, ""},
		{"float", 3.5, 3.5, ""},
		{"negative float", -0.25, -0.25, ""},
		{"int", 3, 3.0, ""},
		{"int64", int64(-4), -4.0, ""},
		{"int32", int32(5), 5.0, ""},
		{"uint8", uint8(6), 6.0, ""},
		{"float32", float32(1.5), 1.5, ""},
		{"integer string", "12", 12.0, ""},
		{"negative decimal string", "-3.5", -3.5, ""},
		{"plus sign", "+4", 4.0, ""},
		{"surrounding spaces", " 7 ", 7.0, ""},
		{"tabs and newlines", "\t8\n", 8.0, ""},
		{"no-break spaces", "\u00a09\u00a0", 9.0, ""},
		{"leading zeros", "007", 7.0, ""},
		{"exponent", "1e3", 1000.0, ""},
		{"upper exponent with sign", "2.5E-2", 0.025, ""},
		{"leading point", ".5", 0.5, ""},
		{"trailing point", "5.", 5.0, ""},
		{"zero", "0", 0.0, ""},
		{"negative zero is zero", "-0", 0.0, ""},
		{"underflow is zero", "1e-400", 0.0, ""},
		{"big integer", "12345678901234567890", 12345678901234567890.0, ""},
		{"empty string", "", nil, ""},
		{"only spaces", "   ", nil, ""},
		{"letters", "abc", nil, ""},
		{"trailing letters", "12abc", nil, ""},
		{"inner space", "1 000", nil, ""},
		{"comma decimal", "1,5", nil, ""},
		{"underscores", "1_000", nil, ""},
		{"hex", "0x10", nil, ""},
		{"hex float", "0x1p-2", nil, ""},
		{"NaN string", "NaN", nil, ""},
		{"Inf string", "Inf", nil, ""},
		{"Infinity string", "-Infinity", nil, ""},
		{"overflow", "1e400", nil, ""},
		{"lone point", ".", nil, ""},
		{"lone sign", "-", nil, ""},
		{"double sign", "--1", nil, ""},
		{"exponent without digits", "1e", nil, ""},
		{"exponent only", "e5", nil, ""},
		{"two points", "1.2.3", nil, ""},
		{"arabic-indic digits", "١٢", nil, ""},
		{"fullwidth digits", "１２", nil, ""},
		{"currency", "$5", nil, ""},
		{"true", true, nil, ""},
		{"false", false, nil, ""},
		{"infinite float", math.Inf(1), nil, ""},
		{"NaN float", math.NaN(), nil, ""},
		{"object", map[string]any{"value": 1.0}, nil, "to_number: cannot convert an object to a number"},
		{"empty list", []any{}, nil, "to_number: cannot convert a list to a number"},
		{"list", []any{"1"}, nil, "to_number: cannot convert a list to a number"},
		{"time", time.Unix(0, 0), nil, "to_number: cannot convert a value of another kind to a number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []any{tc.in}
			before := deepCopy(args)
			got, err := ToNumber(args...)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tc.want { // float64 or nil, compared with their types
				t.Errorf("to_number(%#v) = %#v, want %#v", tc.in, got, tc.want)
			}
			if f, ok := got.(float64); ok && math.Signbit(f) && f == 0 {
				t.Errorf("to_number(%#v) = -0", tc.in)
			}
			if f, ok := tc.in.(float64); !(ok && math.IsNaN(f)) && !reflect.DeepEqual(args, before) {
				t.Errorf("input mutated")
			}
		})
	}
	for _, args := range [][]any{nil, {"1", "2"}} {
		if _, err := ToNumber(args...); err == nil || err.Error() != fmt.Sprintf("to_number needs one argument, got %d", len(args)) {
			t.Errorf("ToNumber(%d arguments): err = %v", len(args), err)
		}
	}
}

// point3 is 0.1 + 0.2 computed in float64, not as an exact constant.
var point1, point2 = 0.1, 0.2
var point3 = point1 + point2

func TestToString(t *testing.T) {
	cases := []struct {
		name    string
		in      any
		want    any // string or nil
		wantErr string
	}{
		{"nil", nil, nil, ""},
		{"string as is", "héllo <b>", "héllo <b>", ""},
		{"empty string", "", "", ""},
		{"integral float", 12.0, "12", ""},
		{"fraction", 3.5, "3.5", ""},
		{"negative", -0.25, "-0.25", ""},
		{"shortest form", point3, "0.30000000000000004", ""},
		{"large integral", 1e20, "100000000000000000000", ""},
		{"1e21 as JSON writes it", 1e21, "1e+21", ""},
		{"tiny as AppendFloat writes it", 1e-7, "1e-07", ""},
		{"small without exponent", 0.000001, "0.000001", ""},
		{"int", 7, "7", ""},
		{"int64", int64(-8), "-8", ""},
		{"true", true, "true", ""},
		{"false", false, "false", ""},
		{"object as compact JSON, keys sorted", obj(t, `{"b":[true,null],"a":1.5}`), `{"a":1.5,"b":[true,null]}`, ""},
		{"unicode object", obj(t, `{"ключ":"é","名":"\"q\""}`), `{"ключ":"é","名":"\"q\""}`, ""},
		{"list", obj(t, `[1,"a",{}]`), `[1,"a",{}]`, ""},
		{"empty list", []any{}, `[]`, ""},
		{"empty object", map[string]any{}, `{}`, ""},
		{"time as RFC 3339", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), "2024-05-06T07:08:09Z", ""},
		{"duration", 90 * time.Second, "1m30s", ""},
		{"NaN", math.NaN(), nil, "to_string: NaN cannot be written as JSON"},
		{"infinity", math.Inf(-1), nil, "to_string: -Inf cannot be written as JSON"},
		{"infinity inside a list", []any{1.0, math.Inf(1)}, nil, "to_string: +Inf cannot be written as JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []any{tc.in}
			before := deepCopy(args)
			got, err := ToString(args...)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("to_string(%#v) = %#v, want %#v", tc.in, got, tc.want)
			}
			if tc.wantErr == "" && !reflect.DeepEqual(args, before) {
				t.Errorf("input mutated")
			}
		})
	}
	if _, err := ToString(); err == nil || err.Error() != "to_string needs one argument, got 0" {
		t.Errorf("ToString(): err = %v", err)
	}
}

// TestToStringMatchesStringify: to_string writes scalars exactly as the
// gateway writes them into query parameters and headers.
func TestToStringMatchesStringify(t *testing.T) {
	for _, v := range []any{0.0, 1.0, -1.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, 7, int64(9), true, "x"} {
		want, ok := Stringify(v)
		if !ok {
			t.Fatalf("Stringify(%v) not ok", v)
		}
		if got, err := ToString(v); err != nil || got != want {
			t.Errorf("to_string(%v) = %#v, %v; Stringify gives %q", v, got, err, want)
		}
	}
}

func TestIndexBy(t *testing.T) {
	const users = `[{"id":"u1","name":"Ann"},{"id":"u2","name":"Bob"}]`
	cases := []struct {
		name    string
		args    []string // JSON of each argument; "" is a Go nil
		want    string
		wantErr string
	}{
		{"string keys", []string{users, `"id"`}, `{"u1":{"id":"u1","name":"Ann"},"u2":{"id":"u2","name":"Bob"}}`, ""},
		{"numeric keys as to_string writes them", []string{`[{"id":7},{"id":1.5},{"id":1e21},{"id":-0.5}]`, `"id"`}, `{"-0.5":{"id":-0.5},"1.5":{"id":1.5},"1e+21":{"id":1e+21},"7":{"id":7}}`, ""},
		{"boolean keys", []string{`[{"ok":true,"n":1},{"ok":false,"n":2}]`, `"ok"`}, `{"false":{"n":2,"ok":false},"true":{"n":1,"ok":true}}`, ""},
		{"later duplicate wins", []string{`[{"id":1,"v":"first"},{"id":2,"v":"x"},{"id":1,"v":"last"}]`, `"id"`}, `{"1":{"id":1,"v":"last"},"2":{"id":2,"v":"x"}}`, ""},
		{"number and string with the same text collide", []string{`[{"id":1,"v":"n"},{"id":"1","v":"s"}]`, `"id"`}, `{"1":{"id":"1","v":"s"}}`, ""},
		{"elements without the key skipped", []string{`[{"id":"a"},{"name":"no id"},{"id":null},{"id":{"x":1}},{"id":[1]},{"id":"b"}]`, `"id"`}, `{"a":{"id":"a"},"b":{"id":"b"}}`, ""},
		{"non-object elements skipped", []string{`[1,"s",null,true,["id"],{"id":"a"}]`, `"id"`}, `{"a":{"id":"a"}}`, ""},
		{"empty string key value", []string{`[{"id":""}]`, `"id"`}, `{"":{"id":""}}`, ""},
		{"dotted path", []string{`[{"owner":{"id":"o1"},"n":1},{"owner":"flat","n":2},{"n":3}]`, `"owner.id"`}, `{"o1":{"n":1,"owner":{"id":"o1"}}}`, ""},
		{"unicode key and values", []string{`[{"名前":"東京","n":1},{"名前":"Zürich","n":2}]`, `"名前"`}, `{"Zürich":{"n":2,"名前":"Zürich"},"東京":{"n":1,"名前":"東京"}}`, ""},
		{"key missing everywhere", []string{users, `"nope"`}, `{}`, ""},
		{"empty list", []string{`[]`, `"id"`}, `{}`, ""},
		{"nil list", []string{"", `"id"`}, `null`, ""},
		{"nil list, bad key still an error", []string{"", `1`}, ``, "index_by: key must be a string, not a number"},
		{"object instead of a list", []string{`{"id":"a"}`, `"id"`}, ``, "index_by: first argument must be a list, not an object"},
		{"string instead of a list", []string{`"abc"`, `"id"`}, ``, "index_by: first argument must be a list, not a string"},
		{"number key", []string{users, `1`}, ``, "index_by: key must be a string, not a number"},
		{"nil key", []string{users, ""}, ``, "index_by: key must be a string, not null"},
		{"list key", []string{users, `["id"]`}, ``, "index_by: key must be a string, not a list"},
		{"one argument", []string{users}, ``, `index_by needs a list and a key, such as index_by(users, "id"); got 1 arguments`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkFunc(t, IndexBy, jsonArgs(t, tc.args), tc.want, tc.wantErr)
		})
	}
}

// TestIndexByResultIsFresh: the index is a new object; its values are the
// input's elements, shared rather than copied.
func TestIndexByResultIsFresh(t *testing.T) {
	in := obj(t, `[{"id":"a"}]`).([]any)
	out, _ := IndexBy(in, "id")
	o := out.(map[string]any)
	if !sameMap(o["a"].(map[string]any), in[0].(map[string]any)) {
		t.Errorf("index_by copied an element")
	}
	o["b"] = 1
	if got := jsonString(t, in); got != `[{"id":"a"}]` {
		t.Errorf("input changed to %s", got)
	}
}

// TestMoreFuncsConcurrent runs rename, coalesce, to_number, to_string and
// index_by over one shared input from many goroutines; -race reports any
// write.
func TestMoreFuncsConcurrent(t *testing.T) {
	const src = `{"a":{"b":{"c":"1.5"}},"l":[{"id":1,"x":{"y":2}},{"id":"2"},{"id":1}]}`
	in := obj(t, src).(map[string]any)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				_, _ = Rename(in, map[string]any{"a": "z", "a.b": "q", "a.b.c": "d", "l": "m"})
				_, _ = Rename(in, map[string]any{"zz": "y"})
				_, _ = Coalesce(nil, in, in["a"])
				_, _ = ToNumber(in["a"].(map[string]any)["b"].(map[string]any)["c"])
				_, _ = ToString(in)
				_, _ = IndexBy(in["l"], "id")
				_, _ = IndexBy(in["l"], "x.y")
			}
		}()
	}
	wg.Wait()
	if got := jsonString(t, in); got != src2(t, src) {
		t.Errorf("shared input changed to %s", got)
	}
}

// TestMoreFuncsInExpressions compiles and runs each function, and expr's own
// sum and flatten, as a spec writes them, over JSON-decoded backend bodies.
func TestMoreFuncsInExpressions(t *testing.T) {
	scope := NewScope(nil).With("cart", "user", "stock", "nothing")
	envJSON := `{
		"cart": {"id": "c1", "currency": "", "items": [
			{"sku": "A-1", "qty": 2, "price": "9.5", "tags": ["new", "sale"]},
			{"sku": "B-2", "qty": 1, "price": "N/A", "tags": []},
			{"sku": "C-3", "qty": 3, "price": 1.25, "tags": [["x"], "y"]}
		]},
		"user": {"user_id": 7, "display_name": "Zoé", "nick": null, "prénom": "Zoé", "address": {"zip_code": "75001"}},
		"stock": [{"sku": "A-1", "level": 4}, {"sku": "C-3", "level": 0}, {"level": 9}],
		"nothing": null
	}`
	env := obj(t, envJSON).(map[string]any)
	before := deepCopy(env)
	cases := []struct{ name, src, want string }{
		{"rename", `rename(user, {"user_id": "id", "display_name": "name", "address.zip_code": "zip"})`, `{"address":{"zip":"75001"},"id":7,"name":"Zoé","nick":null,"prénom":"Zoé"}`},
		{"rename nil", `rename(nothing, {"a": "b"})`, `null`},
		{"rename in map", `map(cart.items, rename(pick(#, "sku", "qty"), {"qty": "quantity"}))`, `[{"quantity":2,"sku":"A-1"},{"quantity":1,"sku":"B-2"},{"quantity":3,"sku":"C-3"}]`},
		{"coalesce", `coalesce(user.nick, user.missing, user.display_name, "anonymous")`, `"Zoé"`},
		{"coalesce keeps empty string", `coalesce(cart.currency, "EUR")`, `""`},
		{"coalesce skipping empty string", `coalesce(cart.currency == "" ? nil : cart.currency, "EUR")`, `"EUR"`},
		{"coalesce all nil", `coalesce(nothing, user.nick)`, `null`},
		{"to_number", `map(cart.items, to_number(.price))`, `[9.5,null,1.25]`},
		{"to_number with default", `map(cart.items, to_number(.price) ?? 0)`, `[9.5,0,1.25]`},
		{"to_number in arithmetic", `sum(cart.items, (to_number(.price) ?? 0) * .qty)`, `22.75`},
		{"to_number of a zip", `to_number(user.address.zip_code)`, `75001`},
		{"to_number nil", `to_number(nothing)`, `null`},
		{"to_string", `to_string(user.user_id) + "-" + to_string(2.50) + "-" + to_string(true)`, `"7-2.5-true"`},
		{"to_string of an object", `to_string(user.address)`, `"{\"zip_code\":\"75001\"}"`},
		{"to_string nil", `to_string(nothing) ?? "none"`, `"none"`},
		{"to_string for join", `join(map(cart.items, to_string(.qty)), ",")`, `"2,1,3"`},
		{"index_by", `index_by(stock, "sku")`, `{"A-1":{"level":4,"sku":"A-1"},"C-3":{"level":0,"sku":"C-3"}}`},
		{"index_by lookup", `map(cart.items, index_by(stock, "sku")[.sku]?.level ?? 0)`, `[4,0,0]`},
		{"index_by numeric", `index_by([user], "user_id")`, `{"7":{"address":{"zip_code":"75001"},"display_name":"Zoé","nick":null,"prénom":"Zoé","user_id":7}}`},
		{"index_by nil", `index_by(nothing, "sku")`, `null`},
		{"built-in sum of a mapped list", `sum(map(cart.items, .qty))`, `6`},
		{"built-in sum with a predicate", `sum(stock, .level)`, `13`},
		{"built-in sum of nil via ??", `sum(nothing ?? [])`, `0`},
		{"built-in flatten", `flatten(map(cart.items, .tags))`, `["new","sale","x","y"]`},
		{"built-in flatten of nil via ??", `flatten(nothing ?? [])`, `[]`},
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
	if !reflect.DeepEqual(env, before) {
		t.Errorf("expressions mutated the environment: %s", jsonString(t, env))
	}

	runErrs := []struct{ name, src, want string }{
		{"to_number of an object", `to_number(user)`, "to_number: cannot convert an object to a number"},
		{"rename of a list", `rename(cart.items, {"a": "b"})`, "rename: first argument must be an object, not a list"},
		{"rename collision", `rename(user, {"nick": "n", "display_name": "n"})`, `rename: "display_name" and "nick" are both renamed to "n"`},
		{"index_by of an object", `index_by(user, "id")`, "index_by: first argument must be a list, not an object"},
	}
	for _, tc := range runErrs {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.src, scope)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Run(env)
			var re *RunError
			if err == nil || !strings.Contains(err.Error(), tc.want) || !asRunError(err, &re) {
				t.Errorf("%s: err = %v, want a RunError with %q", tc.src, err, tc.want)
			}
		})
	}

	// The checker sees the functions' arity, and rename's and index_by's
	// argument kinds when they are literals, when the spec loads.
	compileErrs := []struct{ src, want string }{
		{`to_number()`, "not enough arguments to call to_number"},
		{`to_number(1, 2)`, "too many arguments to call to_number"},
		{`to_string()`, "not enough arguments to call to_string"},
		{`rename(user)`, "not enough arguments to call rename"},
		{`rename(user, "nick", "n")`, "too many arguments to call rename"},
		{`rename(user, "nick")`, "cannot use string as argument"},
		{`rename([1], {})`, "cannot use []interface {} as argument"},
		{`index_by(stock)`, "not enough arguments to call index_by"},
		{`index_by(stock, 1)`, "cannot use int as argument"},
		{`index_by({"a": 1}, "a")`, "cannot use map[string]interface {} as argument"},
	}
	for _, tc := range compileErrs {
		_, err := Compile(tc.src, scope)
		var ce *CompileError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ce) {
			t.Errorf("Compile(%s): err = %v, want a CompileError with %q", tc.src, err, tc.want)
		}
	}
}

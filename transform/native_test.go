package transform

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// docRoots serves documents to native expressions by name.
type docRoots map[string][]byte

func (d docRoots) RawRoot(name string) ([]byte, bool) {
	b, ok := d[name]
	return b, ok
}

func (d docRoots) RootMember(name, key string) ([]byte, bool, bool) {
	b, ok := d[name]
	if !ok {
		return nil, false, false
	}
	ms, ok := TopMembers(nil, b)
	if !ok {
		return nil, false, false
	}
	v, found := FindMember(ms, key)
	return v, found, true
}

// indexedRoots keeps each document's members, as the engine does per
// answer.
type indexedRoots struct {
	docs docRoots
	mems map[string][]Member
}

func (r indexedRoots) RawRoot(name string) ([]byte, bool) { return r.docs.RawRoot(name) }

func (r indexedRoots) RootMember(name, key string) ([]byte, bool, bool) {
	ms, ok := r.mems[name]
	if !ok {
		return nil, false, false
	}
	v, found := FindMember(ms, key)
	return v, found, true
}

// general evaluates p as the engine does without fast paths: each name
// decoded (only the keys p reads, with spans), expr run, the value written
// by an encoder over the spans.
func general(p *Program, docs docRoots) (string, error) {
	env := map[string]any{}
	enc := NewEncoder()
	for _, name := range p.Reads {
		doc, ok := docs[name]
		if !ok {
			return "", fmt.Errorf("no document %s", name)
		}
		var v any
		var sp *Spans
		var err error
		if keys := p.Keys[name]; keys == nil {
			v, sp, err = DecodeSpans(doc)
		} else {
			v, sp, err = DecodeKeys(doc, keys)
		}
		if err != nil {
			return "", err
		}
		env[name] = v
		enc.Add(sp)
	}
	v, err := p.Run(env)
	if err != nil {
		return "", err
	}
	out, err := enc.Append(nil, v)
	return string(out), err
}

// compact gives the document as the engine keeps a backend's answer.
func compact(t testing.TB, doc string) []byte {
	rewrite, err := ScanJSON([]byte(doc), 64)
	if err != nil {
		t.Fatalf("test document %s: %v", doc, err)
	}
	if rewrite {
		return Compact(nil, []byte(doc))
	}
	return []byte(doc)
}

func compileNativeTest(t testing.TB, src string) *Program {
	t.Helper()
	p, err := compileNativeScope(src)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return p
}

func compileNativeScope(src string) (*Program, error) {
	return Compile(src, NewScope([]string{"a", "b"}).With("a", "b"))
}

// checkNative reports a native result that differs from expr's, or one
// given where expr fails. It returns whether the native path answered.
func checkNative(t testing.TB, p *Program, docs docRoots) bool {
	t.Helper()
	want, gerr := general(p, docs)
	got, ok := p.Native.Append([]byte("prefix"), docs)
	if !ok {
		if string(got) != "prefix" {
			t.Fatalf("%s: a refusal left %q in dst", p.Source, got)
		}
		return false
	}
	if gerr != nil {
		t.Fatalf("%s over %s: native wrote %s where expr fails: %v", p.Source, docs["a"], got[6:], gerr)
	}
	if string(got[6:]) != want {
		t.Fatalf("%s over %s:\nnative: %s\nexpr:   %s", p.Source, docs["a"], got[6:], want)
	}
	return true
}

func TestNativeShapes(t *testing.T) {
	doc := compact(t, `{"name":"Ada","email":"a@x.io","tier":"gold","address":{"city":"Lyon","country":"FR","zip":"69001"},
		"items":[{"sku":"A1","name":"Pen <b>","qty":2,"line_total":49.00,"gift":false},{"sku":"B2","qty":0,"line_total":0},
		         {"sku":"C3","name":"caf\u00e9","qty":1,"line_total":1e2,"gift":true,"images":["i1","i2"]}],
		"n":12345678901234567890,"s":"str","x":[1,2.50,-0]}`)
	docs := docRoots{"a": doc, "b": compact(t, `{"products":[{"sku":"A1","images":[{"u":"x"}]},{"sku":"B2","images":[]}]}`)}
	for _, c := range []struct{ src, want string }{
		{`map(filter(a.items, .qty > 0), {{'sku': .sku, 'name': .name, 'qty': .qty, 'price': .line_total, 'gift': .gift}})`,
			`[{"gift":false,"name":"Pen \u003cb\u003e","price":49.00,"qty":2,"sku":"A1"},{"gift":true,"name":"café","price":1e2,"qty":1,"sku":"C3"}]`},
		{`map(b.products, {{'sku': .sku, 'image': first(.images)}})`, `[{"image":{"u":"x"},"sku":"A1"},{"image":null,"sku":"B2"}]`},
		{`pick(a, 'name', 'email', 'tier', 'address.city', 'address.country')`,
			`{"address":{"city":"Lyon","country":"FR"},"email":"a@x.io","name":"Ada","tier":"gold"}`},
		{`len(filter(a.items, .qty > 0))`, `2`},
		{`count(a.items, .gift == true)`, `1`},
		{`sum(a.items, .line_total)`, `149`},
		{`sum(a.x)`, `3.5`},
		{`sum(filter(a.x, # > 100))`, `0`},
		{`last(a.x)`, `-0`},
		{`map(a.items, .sku)`, `["A1","B2","C3"]`},
		{`filter(a.x, # >= 2)`, `[2.50]`},
		{`{'n': a.n, 'c': len(a.items)}`, `{"c":3,"n":12345678901234567890}`},
		{`pick(a, 'address', 'address.city')`, `{"address":{"city":"Lyon","country":"FR","zip":"69001"}}`},
		{`pick(a, 'address.nope', 'name.first')`, `{}`},
		{`map(a.items, {.sku})`, `["A1","B2","C3"]`},
		{`sum(map(a.items, .qty ?? 0))`, `3`},
		{`sum(a.items, .nope ?? 2)`, `6`},
		{`sum(map(a.items, .nope ?? 2))`, `6`},
		{`sum(map(filter(a.items, .qty > 0), .line_total ?? 0))`, `149`},
		{`map(a.items, .name ?? .sku)`, `["Pen \u003cb\u003e","B2","café"]`},
		{`map(a.items, .gift ?? 'no')`, `[false,"no",true]`},
		{`map(a.items, .images ?? {'none': true})`, `[{"none":true},{"none":true},["i1","i2"]]`},
		{`a.nope ?? a.address.city`, `"Lyon"`},
		{`{'c': a.nope ?? 0, 'n': len(a.items)}`, `{"c":0,"n":3}`},
		{`count(a.items, (.gift ?? false) == false)`, `2`},
		{`filter(a.x, (# ?? 0) > 1)`, `[2.50]`},
		{`a.items != nil`, `true`},
		{`a.nope == nil && a.s == 'str'`, `true`},
		{`!(a.n > 1)`, `false`},
		{`map(a.items, .qty > 0)`, `[true,false,true]`},
		{`any(a.items, .qty > 1)`, `true`},
		{`all(a.items, .qty > 1)`, `false`},
		{`none(a.items, .qty > 5)`, `true`},
		{`one(a.items, .qty > 1)`, `true`},
		{`any(filter(a.items, .qty > 0), .gift)`, `true`},
		{`{'ok': a.items != nil, 'n': len(a.items)}`, `{"n":3,"ok":true}`},
	} {
		p := compileNativeTest(t, c.src)
		if p.Native == nil {
			t.Errorf("%s: not compiled natively", c.src)
			continue
		}
		got, ok := p.Native.Append(nil, docs)
		if !ok || string(got) != c.want {
			t.Errorf("%s:\n got %s (ok %v)\nwant %s", c.src, got, ok, c.want)
		}
		checkNative(t, p, docs)
	}
}

// TestNativeLeavesToExpr: what native code does not cover, or where expr
// fails, is refused (expr then answers or says why).
func TestNativeLeavesToExpr(t *testing.T) {
	docs := docRoots{"a": compact(t, `{"items":[{"qty":"2"},{"qty":null},{}],"o":{"k":1},"s":"str","l":[1,"x"]}`)}
	for _, src := range []string{
		`map(filter(a.items, .qty > 0), .qty)`, // a string compared with a number
		`count(a.items, .qty)`,                 // not a boolean
		`len(a.o)`, `len(a.s)`, `map(a.o, #)`, `first(a.s)`,
		`sum(a.l)`, `pick(a.s, 'x')`, `map(a.items, .qty.x)`,
		`map(a.missing.deeper, #)`,
		`sum(map(a.items, .qty ?? 1))`, `sum(a.items, .qty ?? 's')`, `map(a.items, .qty.x ?? 0)`,
		`any(a.items, .qty > 0)`, `a.s > 1`,
	} {
		p := compileNativeTest(t, src)
		if p.Native == nil {
			t.Errorf("%s: expected a native form", src)
			continue
		}
		if checkNative(t, p, docs) {
			t.Errorf("%s: native answered; expr should", src)
		}
	}
	for _, src := range []string{
		`a.items`, `a.o.k`, `map(a.items, #index)`, `map(a.items, upper(.s))`, `filter(a.items, .x > .y)`,
		`map(a.items, {{'k': a.s}})`, `{'a': 1, 'a': 2}`, `a?.items`, `map(a.items, .qty + 1)`,
		`let x = a.items; map(x, #)`, `sortBy(a.items, .qty)`, `a.l[0]`, `last(filter(a.items, .qty > 0))`,
	} {
		if p := compileNativeTest(t, src); p.Native != nil {
			t.Errorf("%s: compiled natively, but native code does not cover it", src)
		}
	}
}

// TestNativeBudget: a result past expr's memory budget is left to expr,
// which refuses it.
func TestNativeBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := range nativeBudget / 4 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"a":1}`)
	}
	b.WriteString(`]}`)
	docs := docRoots{"a": []byte(b.String())}
	p := compileNativeTest(t, `map(a.items, {{'a': .a, 'b': .a, 'c': .a, 'd': .a, 'e': .a, 'f': .a, 'g': .a, 'h': .a, 'i': .a}})`)
	if _, ok := p.Native.Append(nil, docs); ok {
		t.Fatal("native answered past the budget")
	}
	if _, err := general(p, docs); err == nil {
		t.Fatal("expr answered past its budget: the native bound is not needed")
	}
	small := compileNativeTest(t, `len(a.items)`)
	if !checkNative(t, small, docs) {
		t.Fatal("len of a long list is refused")
	}
}

// TestNativeMatchesExpr: random documents and random expressions of the
// native shapes give, natively, exactly what expr gives, and native code
// answers only where expr does.
func TestNativeMatchesExpr(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 4000
	if testing.Short() {
		n = 500
	}
	answered, exprOK, refused := 0, 0, 0
	for range n {
		docs := docRoots{"a": compact(t, genDoc(rng, 0))}
		src := genTop(rng)
		p, err := compileNativeScope(src)
		if err != nil {
			refused++ // expr's checker sees a type error (true > .a): no program at all
			continue
		}
		if p.Native == nil {
			t.Fatalf("%s: the generator's shapes all compile natively", src)
		}
		if _, err := general(p, docs); err == nil {
			exprOK++
		}
		if checkNative(t, p, docs) {
			answered++
		}
	}
	// The generator is hostile (types mixed at random), so expr fails
	// often; where it answers, native code should nearly always answer too.
	if refused > n/4 || exprOK < n/5 || answered < exprOK*9/10 {
		t.Errorf("of %d expressions, %d do not compile, expr answers %d and native code %d: the generator tests too little",
			n, refused, exprOK, answered)
	}
}

// FuzzNative: for any document, the expressions a seed picks agree.
func FuzzNative(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"a":1,"b":"s"},{"a":"1"},null,{"a":2,"a":3}],"x":[1,"2",{"k":[]}],"s":"\u2028<&>"}`,
		`{"items":[{"a":1.50,"b":{"k":-0},"flag":true,"x":[[1]]}],"n":1E5}`, `[]`, `null`, `{"items":{}}`,
	} {
		f.Add([]byte(s), uint64(len(s)))
	}
	f.Fuzz(func(t *testing.T, doc []byte, seed uint64) {
		rewrite, err := ScanJSON(doc, 20)
		if err != nil {
			return
		}
		if rewrite {
			doc = Compact(nil, doc)
		}
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		for range 8 {
			if p, err := compileNativeScope(genTop(rng)); err == nil {
				checkNative(t, p, docRoots{"a": doc})
			}
		}
	})
}

var (
	genKeys    = []string{"a", "b", "s", "x", "items", "flag", "k"}
	genNumbers = []string{"0", "1", "2", "-1", "2.50", "-0", "1e2", "0.1", "12345678901234567890", "3", "1.0"}
	genStrings = []string{`"s"`, `"m"`, `""`, `"a\"b"`, `"<&>"`, `"caf\u00e9"`, `"é"`, `"\u2028"`, `"zz"`, `"\ud83d\ude00"`}
)

func genDoc(rng *rand.Rand, depth int) string {
	var b strings.Builder
	b.WriteByte('{')
	n := rng.IntN(6)
	if depth == 0 && rng.IntN(5) > 0 {
		items := make([]string, rng.IntN(5))
		for i := range items {
			items[i] = genItem(rng)
		}
		b.WriteString(`"items":[` + strings.Join(items, ",") + "]")
		if n > 0 {
			b.WriteByte(',')
		}
	}
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		k := genKeys[rng.IntN(len(genKeys))]
		fmt.Fprintf(&b, "%q:", k)
		if k == "items" || k == "x" {
			b.WriteString(genList(rng, depth))
		} else {
			b.WriteString(genValue(rng, depth))
		}
	}
	b.WriteByte('}')
	return b.String()
}

// genItem is mostly an element of the usual shape (a number, a string, a
// boolean, a nested object and list), sometimes anything.
func genItem(rng *rand.Rand) string {
	if rng.IntN(6) == 0 {
		return genValue(rng, 2)
	}
	var parts []string
	if rng.IntN(8) > 0 {
		parts = append(parts, `"a":`+genNumbers[rng.IntN(len(genNumbers))])
	}
	if rng.IntN(8) > 0 {
		parts = append(parts, `"s":`+genStrings[rng.IntN(len(genStrings))])
	}
	if rng.IntN(3) > 0 {
		parts = append(parts, `"flag":`+pickOne(rng, "true", "false"))
	}
	if rng.IntN(3) > 0 {
		parts = append(parts, `"b":{"k":`+genValue(rng, 3)+`}`)
	}
	if rng.IntN(3) > 0 {
		parts = append(parts, `"x":[`+strings.Join(genNumbers[:rng.IntN(4)], ",")+`]`)
	}
	if rng.IntN(10) == 0 {
		parts = append(parts, `"a":`+genValue(rng, 3)) // a duplicate: the last counts
	}
	rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	return "{" + strings.Join(parts, ",") + "}"
}

func genList(rng *rand.Rand, depth int) string {
	if rng.IntN(8) == 0 {
		return genValue(rng, depth)
	}
	parts := make([]string, rng.IntN(5))
	for i := range parts {
		if rng.IntN(4) > 0 && depth < 3 {
			parts[i] = genDoc(rng, depth+1)
		} else {
			parts[i] = genValue(rng, depth)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func genValue(rng *rand.Rand, depth int) string {
	switch r := rng.IntN(10); {
	case r < 3:
		return genNumbers[rng.IntN(len(genNumbers))]
	case r < 5:
		return genStrings[rng.IntN(len(genStrings))]
	case r == 5:
		return []string{"true", "false", "null"}[rng.IntN(3)]
	case r == 6 && depth < 3:
		return genList(rng, depth+1)
	case r == 7 && depth < 3:
		return genDoc(rng, depth+1)
	}
	return genNumbers[rng.IntN(len(genNumbers))]
}

func pickOne(rng *rand.Rand, s ...string) string { return s[rng.IntN(len(s))] }

func genField(rng *rand.Rand) string {
	return pickOne(rng, ".a", ".b", ".s", ".flag", ".b.k", ".k", "#", ".x")
}

// genScalar is a field, a constant, or a ?? of them.
func genScalar(rng *rand.Rand, depth int) string {
	switch r := rng.IntN(6); {
	case r < 2 || depth > 1:
		return genField(rng)
	case r == 2:
		return genConst(rng)
	case r == 3:
		return genField(rng) + " ?? " + pickOne(rng, "0", "1", "-2", "2.5", "nil", "'s'", "9007199254740993")
	}
	return "(" + genField(rng) + " ?? " + genScalar(rng, depth+1) + ")"
}

func genConst(rng *rand.Rand) string {
	return pickOne(rng, "0", "1", "2.5", "-1", "'s'", "'m'", "nil", "true", "false", "''", "'é'")
}

func genCond(rng *rand.Rand, depth int) string {
	field := genField(rng)
	if rng.IntN(6) == 0 {
		field = "(" + genField(rng) + " ?? " + genConst(rng) + ")"
	}
	switch r := rng.IntN(10); {
	case r < 5 || depth > 2:
		op := pickOne(rng, "==", "!=", "<", "<=", ">", ">=")
		if rng.IntN(4) == 0 {
			return genConst(rng) + " " + op + " " + field
		}
		return field + " " + op + " " + genConst(rng)
	case r == 5:
		return field
	case r == 6:
		return "!(" + genCond(rng, depth+1) + ")"
	case r == 7:
		return "true"
	}
	return "(" + genCond(rng, depth+1) + pickOne(rng, " && ", " || ", " and ", " or ") + genCond(rng, depth+1) + ")"
}

// genTopCond compares values of the answer, as a value.
func genTopCond(rng *rand.Rand, depth int) string {
	field := pickOne(rng, "a.s", "a.b.k", "a.x", "a.items", "a.missing", "a.flag", "a.k")
	if rng.IntN(5) == 0 {
		field = "(" + field + " ?? " + genConst(rng) + ")"
	}
	switch r := rng.IntN(6); {
	case r < 3 || depth > 1:
		return field + " " + pickOne(rng, "==", "!=", "<", "<=", ">", ">=") + " " + genConst(rng)
	case r == 3:
		return "!(" + genTopCond(rng, depth+1) + ")"
	}
	return "(" + genTopCond(rng, depth+1) + pickOne(rng, " && ", " || ") + genTopCond(rng, depth+1) + ")"
}

func genList2(rng *rand.Rand, inElem bool, depth int) string {
	base := pickOne(rng, "a.items", "a.x", "a.s", "a.missing", "a.items", "a.b.k", "a.items", "a.items")
	if inElem {
		base = pickOne(rng, ".x", ".items", ".b", "#")
	}
	if rng.IntN(3) == 0 && depth < 3 {
		return "filter(" + genList2(rng, inElem, depth+1) + ", " + genCond(rng, 0) + ")"
	}
	return base
}

func genElemValue(rng *rand.Rand, depth int) string {
	switch r := rng.IntN(14); {
	case r < 4 || depth > 2:
		return genField(rng)
	case r == 11:
		return genField(rng) + " ?? " + pickOne(rng, genConst(rng), genField(rng), genElemValue(rng, depth+1))
	case r == 4:
		return genConst(rng)
	case r == 5:
		return "{" + fmt.Sprintf("'k%d': %s, 'b': %s", rng.IntN(3), genElemValue(rng, depth+1), genElemValue(rng, depth+1)) + "}"
	case r == 6:
		l := genList2(rng, true, depth+1)
		if strings.HasPrefix(l, "filter") {
			return pickOne(rng, "first", "len") + "(" + l + ")"
		}
		return pickOne(rng, "first", "last", "len") + "(" + l + ")"
	case r == 7:
		return "pick(" + pickOne(rng, "#", ".b") + ", 'a', 'b.k', 'k')"
	case r == 8:
		return "map(" + genList2(rng, true, depth+1) + ", {" + genElemValue(rng, depth+1) + "})"
	case r == 9:
		return "count(" + genList2(rng, true, depth+1) + ", " + genCond(rng, 0) + ")"
	case r == 10:
		return "sum(" + genList2(rng, true, depth+1) + ")"
	case r == 12:
		if rng.IntN(2) == 0 {
			return genCond(rng, 0)
		}
		return pickOne(rng, "any", "all", "none", "one") + "(" + genList2(rng, true, depth+1) + ", " + genCond(rng, 0) + ")"
	}
	return genField(rng)
}

func genTop(rng *rand.Rand) string {
	list := genList2(rng, false, 0)
	switch rng.IntN(12) {
	case 0, 1, 2:
		return "map(" + list + ", {" + genElemValue(rng, 0) + "})"
	case 3:
		return "filter(" + list + ", " + genCond(rng, 0) + ")"
	case 4:
		return "len(" + list + ")"
	case 5:
		return "count(" + list + ", " + genCond(rng, 0) + ")"
	case 6:
		switch rng.IntN(4) {
		case 0:
			return "sum(" + list + ")"
		case 1:
			return "sum(" + list + ", " + genField(rng) + ")"
		case 2:
			return "sum(map(" + list + ", " + genScalar(rng, 0) + "))"
		}
		return "sum(" + list + ", " + genScalar(rng, 0) + ")"
	case 7:
		if strings.HasPrefix(list, "filter") {
			return "first(" + list + ")" // last(filter()) is left to expr
		}
		return pickOne(rng, "first", "last") + "(" + list + ")"
	case 8:
		paths := []string{"'a'", "'b.k'", "'items'", "'b'", "'x.a'", "'s.k'", "'b.k.z'"}
		rng.Shuffle(len(paths), func(i, j int) { paths[i], paths[j] = paths[j], paths[i] })
		return "pick(" + pickOne(rng, "a", "a.b", "a.missing") + ", " + strings.Join(paths[:1+rng.IntN(4)], ", ") + ")"
	case 9:
		return "{'one': " + genTop(rng) + ", 'two': a.s, 'three': len(" + genList2(rng, false, 1) + ")}"
	case 10:
		if rng.IntN(2) == 0 {
			return pickOne(rng, "any", "all", "none", "one") + "(" + list + ", " + genCond(rng, 0) + ")"
		}
		return genTopCond(rng, 0)
	}
	return "map(" + list + ", {{'v': " + genElemValue(rng, 0) + ", 'w': " + genField(rng) + "}})"
}

// BenchmarkNative compares, for the load test's template expressions over
// a cart, native code on the bytes with decoding, expr and encoding.
func BenchmarkNative(b *testing.B) {
	docs := docRoots{
		"a": compact(b, `{"id":"c1","currency":"EUR","total":138,"items":[{"sku":"A1","name":"Pen","qty":2,"line_total":49,"gift":false},{"sku":"B2","name":"Ink","qty":1,"line_total":89,"gift":true},{"sku":"C3","name":"Pad","qty":0,"line_total":0,"gift":false}]}`),
		"b": compact(b, `{"name":"Ada","email":"a@x.io","tier":"gold","address":{"city":"Lyon","country":"FR"},"loyalty":{"points":10}}`),
	}
	var products []string
	for i := range 4 {
		products = append(products, fmt.Sprintf(`{"sku":"S%d","brand":"Acme","description":%q,"rating":4.5,"images":["https://img.example/%d/a.jpg","https://img.example/%d/b.jpg"],"long_description":%q,"attributes":{"color":"blue","size":"M"}}`,
			i, strings.Repeat("A sturdy thing, well made. ", 8), i, i, strings.Repeat("Longer text about the product, with details. ", 20)))
	}
	docs["c"] = compact(b, `{"products":[`+strings.Join(products, ",")+`]}`)
	for _, src := range []string{
		`map(c.products, {{'sku': .sku, 'brand': .brand, 'rating': .rating, 'image': first(.images)}})`,
		`map(filter(a.items, .qty > 0), {{'sku': .sku, 'name': .name, 'qty': .qty, 'price': .line_total, 'gift': .gift}})`,
		`len(filter(a.items, .qty > 0))`,
		`pick(b, 'name', 'email', 'tier', 'address.city', 'address.country')`,
	} {
		p, err := Compile(src, NewScope([]string{"a", "b", "c"}).With("a", "b", "c"))
		if err != nil {
			b.Fatal(err)
		}
		name := src[:strings.IndexByte(src, '(')]
		if strings.HasPrefix(src, "map(c.") {
			name = "products"
		}
		idx := indexedRoots{docs: docs, mems: map[string][]Member{}}
		for n, d := range docs {
			idx.mems[n], _ = TopMembers(nil, d)
		}
		b.Run(name+"/native", func(b *testing.B) {
			b.ReportAllocs()
			var dst []byte
			for b.Loop() {
				dst, _ = p.Native.Append(dst[:0], idx)
			}
		})
		b.Run(name+"/expr", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := general(p, docs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLoadTestTemplateIsNative: every expression of the load test's
// template case (case 3) runs without expr, natively or as a plain path,
// so a change that loses a shape shows here, not as a slower load run.
func TestLoadTestTemplateIsNative(t *testing.T) {
	b, err := os.ReadFile("../testdata/loadtest/cases/3_checkout_template.json")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Calls    map[string]any `json:"calls"`
		Response struct {
			Body any `json:"body"`
		} `json:"response"`
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range spec.Calls {
		names = append(names, n)
	}
	scope := NewScope(names).With(names...)
	var walk func(v any)
	count := 0
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case string:
			count++
			p, err := Compile(v, scope)
			if err != nil {
				t.Fatalf("%s: %v", v, err)
			}
			if p.Path == nil && p.Native == nil {
				t.Errorf("%s runs on expr", v)
			}
		}
	}
	walk(spec.Response.Body)
	if count < 6 {
		t.Fatalf("found %d expressions in the template", count)
	}
}

// TestSkipFast: over any document ScanJSON accepts, skipFast ends every
// value where skipValue does.
func TestSkipFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	docs := []string{`"a\\"`, `"\\\\\""`, `["\\\"",{"k\\\\":"v\"\\\\"}]`, `{"a":"x\\\\\"y"}`, `"é\u2028"`}
	for range 500 {
		docs = append(docs, genDoc(rng, 0))
	}
	for _, d := range docs {
		b := compact(t, d)
		for i := range b {
			if b[i] == '"' || b[i] == '{' || b[i] == '[' || isNumberByte(b[i]) {
				if got, want := skipFast(b, i), skipValue(b, i); got != want && want >= 0 {
					t.Fatalf("%s at %d: skipFast %d, skipValue %d", b, i, got, want)
				}
			}
		}
	}
}

// TestNativeSlotsBound: an object literal reading more keys of the
// element than one pass holds (maxSlots) reads the rest one by one, with
// the same result.
func TestNativeSlotsBound(t *testing.T) {
	var fields, pairs []string
	for i := range maxSlots + 3 {
		fields = append(fields, fmt.Sprintf(`"f%02d":%d`, i, i))
		pairs = append(pairs, fmt.Sprintf("'k%02d': .f%02d", i, i))
	}
	doc := compact(t, `{"items":[{`+strings.Join(fields, ",")+`},{"f00":"x"}]}`)
	p := compileNativeTest(t, "map(a.items, {{"+strings.Join(pairs, ", ")+"}})")
	if p.Native == nil || len(p.Native.root.kids[0].slotKeys) != maxSlots {
		t.Fatalf("want a native form with %d slots", maxSlots)
	}
	if !checkNative(t, p, docRoots{"a": doc}) {
		t.Fatal("native code refused an object literal past the slots")
	}
}

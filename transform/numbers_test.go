package transform

import (
	"math"
	"math/big"
	"strings"
	"testing"
)

// TestNumbersKeepTheirSpelling: a number that passes unchanged from a
// document decoded with spans is written as the document spelled it, on
// every way out of the encoder (alone, in a list or object an expression
// built, in a spliced container); a number computed or made elsewhere is
// canonical even when its value equals one the backend sent.
func TestNumbersKeepTheirSpelling(t *testing.T) {
	long := "1" + strings.Repeat("0", 299) // 1e299 as 300 digits
	raw := []byte(`{"big":12345678901234567890,"p":1.50,"p2":1.5,"e":1E5,"nz":-0,"nz2":-0.0,"z":0.0,"z2":0,` +
		`"tiny":4.9406564584124654e-324,"under":1e-400,"long":` + long + `,"small":42,"dec":10.25,"l":[2.00,2.0,2]}`)
	v, spans, err := DecodeSpans(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	l := m["l"].([]any)
	enc := NewEncoder(spans)
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"an integer above 2^53", m["big"], `12345678901234567890`},
		{"a trailing fraction zero", m["p"], `1.50`},
		{"the same value spelled canonically", m["p2"], `1.5`},
		{"an exponent", m["e"], `1E5`},
		{"minus zero is canonical", m["nz"], `-0`},
		{"minus zero with a fraction", m["nz2"], `-0.0`},
		{"zero with a fraction", m["z"], `0.0`},
		{"plain zero", m["z2"], `0`},
		{"a denormal spelled long", m["tiny"], `4.9406564584124654e-324`},
		{"an underflow", m["under"], `1e-400`},
		{"300 digits", m["long"], long},
		{"canonical integer", m["small"], `42`},
		{"canonical decimal", m["dec"], `10.25`},
		{"three spellings of 2 in one list", []any{l[0], l[1], l[2]}, `[2.00,2.0,2]`},
		{"in a list an expression built", []any{m["big"], m["p"], m["p2"]}, `[12345678901234567890,1.50,1.5]`},
		{"in an object an expression built", map[string]any{"b": m["big"], "a": m["e"]}, `{"a":1E5,"b":12345678901234567890}`},
		{"arithmetic is canonical", m["p"].(float64) * 1, `1.5`},
		{"a value equal to a recorded one is canonical", 12345678901234567890.0, `12345678901234567000`},
		{"a copy made by a type switch is canonical", any(m["big"].(float64)), `12345678901234567000`},
	} {
		got, err := enc.Append(nil, tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	if got, _ := enc.Append(nil, m); string(got) != string(raw) {
		t.Errorf("whole document: %s", got)
	}
	// Without the table, or with another document's, numbers are canonical.
	_, other, _ := DecodeSpans([]byte(`[12345678901234567890,1.50]`))
	for _, e := range []*Encoder{nil, NewEncoder(), NewEncoder(other)} {
		if got, _ := e.Append(nil, []any{m["big"], m["p"]}); string(got) != `[12345678901234567000,1.5]` {
			t.Errorf("without the document's table: %s", got)
		}
	}
	// AddNumbers keeps the numbers, not the containers.
	var byNum Encoder
	byNum.AddNumbers(spans)
	if got, _ := byNum.Append(nil, map[string]any{"x": l}); string(got) != `{"x":[2.00,2.0,2]}` {
		t.Errorf("AddNumbers: %s", got)
	}
	if got, _ := byNum.Append(nil, l); string(got) != `[2.00,2.0,2]` {
		t.Errorf("AddNumbers: %s", got)
	}
	if _, ok := spans.Lookup(m["small"]); ok {
		t.Error("a canonical number is not recorded")
	}
	if b, ok := spans.Lookup(m["big"]); !ok || string(b) != `12345678901234567890` {
		t.Errorf("Lookup(big) = %s, %v", b, ok)
	}
	if f := m["nz2"].(float64); f != 0 || !math.Signbit(f) {
		t.Errorf("-0.0 decodes to %v", f)
	}
}

// TestNumbersManyInOneTable: past the linear scan the table is indexed, and
// every number is still found, also from encoders in several goroutines.
func TestNumbersManyInOneTable(t *testing.T) {
	var b strings.Builder
	b.WriteByte('[')
	for i := range 200 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.Repeat("9", 17) + string(rune('0'+i%10)))
		b.WriteString(",1.")
		b.WriteString(strings.Repeat("0", i%3+1))
	}
	b.WriteByte(']')
	raw := []byte(b.String())
	v, spans, err := DecodeSpans(raw)
	if err != nil {
		t.Fatal(err)
	}
	l := v.([]any)
	copied := append([]any(nil), l...) // a new list: encoded, numbers looked up one by one
	done := make(chan string)
	for range 4 {
		go func() {
			out, _ := NewEncoder(spans).Append(nil, copied)
			done <- string(out)
		}()
	}
	for range 4 {
		if got := <-done; got != string(raw) {
			t.Fatalf("got %s\nwant %s", got, raw)
		}
	}
}

// TestCanonicalText: the shortcut never calls a number canonical that
// AppendFloat would write differently.
func TestCanonicalText(t *testing.T) {
	for _, s := range []string{"0", "-0", "7", "123456789012345", "1234567890123456", "12345678901234567890",
		"1.5", "1.50", "0.5", "-0.25", "0.000001", "0.0000001", "0.0000015", "123456789012.345", "1234567890123.456",
		"0.1", "0.123456789012345", "0.1234567890123456", "99999999999999.9", "999999999999999.9", "1e5", "1E5",
		"1.0", "10", "100000000000000000000", "0.30000000000000004", "9007199254740993"} {
		v, err := DecodeJSON([]byte(s))
		if err != nil {
			t.Fatal(s, err)
		}
		out, _ := AppendFloat(nil, v.(float64))
		if canonicalText([]byte(s)) && string(out) != s {
			t.Errorf("canonicalText(%s) is true, AppendFloat writes %s", s, out)
		}
	}
}

func FuzzCanonicalText(f *testing.F) {
	for _, s := range []string{"1.5", "0.000001", "123456789012.345", "-0.001", "99999999999999.9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := Scan([]byte(s), 1); err != nil || s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
			return
		}
		v, err := DecodeJSON([]byte(s))
		if err != nil {
			return
		}
		out, _ := AppendFloat(nil, v.(float64))
		if canonicalText([]byte(s)) && string(out) != s {
			t.Errorf("canonicalText(%s) is true, AppendFloat writes %s", s, out)
		}
	})
}

// TestNumbersThroughExpressions: expressions hand numbers on unchanged
// (members, indexes, ??, conditionals, let, literals, gateway functions),
// so they keep the backend's spelling; arithmetic gives new, canonical
// numbers.
func TestNumbersThroughExpressions(t *testing.T) {
	raw := []byte(`{"id":12345678901234567890,"price":1.50,"items":[{"sku":"A","qty":1E2,"n":9007199254740993}],"zero":0.0}`)
	v, spans, err := DecodeSpans(raw)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]any{"cart": v, "user": nil, "stock": nil}
	for _, tc := range []struct{ src, want string }{
		{`cart.id`, `12345678901234567890`},
		{`cart['price']`, `1.50`},
		{`cart.items[0].qty`, `1E2`},
		{`user?.id ?? cart.id`, `12345678901234567890`},
		{`cart.id > 0 ? cart.price : 0`, `1.50`},
		{`let p = cart.price; [p, p]`, `[1.50,1.50]`},
		{`{'id': cart.id, 'z': cart.zero}`, `{"id":12345678901234567890,"z":0.0}`},
		{`map(cart.items, .n)`, `[9007199254740993]`},
		{`map(cart.items, {{'q': .qty, 'sku': .sku}})`, `[{"q":1E2,"sku":"A"}]`},
		{`first(cart.items).qty`, `1E2`},
		{`pick(cart, 'id', 'price')`, `{"id":12345678901234567890,"price":1.50}`},
		{`max([cart.price, 1])`, `1.50`},
		{`to_number(cart.price)`, `1.50`},
		{`cart.price * 1`, `1.5`},
		{`cart.id + 0`, `12345678901234567000`},
		{`cart.price + cart.price`, `3`},
	} {
		p, err := Compile(tc.src, testScope())
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		out, err := p.Run(env)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		got, err := NewEncoder(spans).Append(nil, out)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s = %s, %v; want %s", tc.src, got, err, tc.want)
		}
	}
}

// TestEncoderPending: a table added pending is used from the first value
// written after it is done, containers and numbers alike.
func TestEncoderPending(t *testing.T) {
	raw := []byte(`{"z":1,"a":[1.50,12345678901234567890]}`)
	var v any
	var spans *Spans
	calls := 0
	enc := NewEncoder()
	enc.AddPending(func() (*Spans, bool) { calls++; return spans, spans != nil })
	enc.AddPending(func() (*Spans, bool) { return nil, true }) // done, nothing to add
	if out, _ := enc.Append(nil, 1.5); string(out) != `1.5` {
		t.Fatalf("before: %s", out)
	}
	v, spans, _ = DecodeSpans(raw)
	if out, _ := enc.Append(nil, v); string(out) != string(raw) {
		t.Errorf("after: %s", out)
	}
	if b, ok := enc.NumberText(v.(map[string]any)["a"].([]any)[1]); !ok || string(b) != `12345678901234567890` {
		t.Errorf("NumberText = %s, %v", b, ok)
	}
	if _, ok := enc.NumberText(v.(map[string]any)["z"]); ok {
		t.Error("NumberText of a canonical number")
	}
	enc.Append(nil, v)
	if calls != 2 || len(enc.pending) != 0 {
		t.Errorf("get called %d times, %d still pending", calls, len(enc.pending))
	}
}

func TestCanonicalNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "-0": true, "28": true, "10.5": true, "0.001": true, "100000000": true, "1e+21": true, "1e-07": true, "1e-7": false,
		"12345678901234567890": false, "1.50": false, "1E5": false, "1e5": false, "-0.0": false, "0.0": false,
		"1e-400": false, "100000000000000000000000": false, "0.30000000000000004": true, "9007199254740993": false,
	} {
		if got := CanonicalNumber([]byte(s)); got != want {
			t.Errorf("CanonicalNumber(%s) = %v", s, got)
		}
	}
}

// TestXMLNumbersKeepDigits: the XML writer (and form encoding) writes a
// number's own digits in plain decimal, never going through float64.
func TestXMLNumbersKeepDigits(t *testing.T) {
	for in, want := range map[string]string{
		"1e8": "100000000", "1E+8": "100000000", "10.50": "10.5", "-0.0": "0", "0e10": "0", "1e-7": "0.0000001",
		"0.5e-3": "0.0005", "12.5e-1": "1.25", "100.0": "100", "-1.5E2": "-150", "1.25e1": "12.5", "9.99e-1": "0.999",
		"0.1000000000000000055511151231257827":   "0.1000000000000000055511151231257827",
		"12345678901234567890.5":                 "12345678901234567890.5",
		"1234567890123456789012345678901234e-10": "123456789012345678901234.5678901234",
		"1e-400":                                 "0", // more than 330 zeros: the float64's value
		"12345678901234567890":                   "12345678901234567890",
		"-0":                                     "0",
	} {
		got, err := appendXMLNumber(nil, []byte(in))
		if err != nil || string(got) != want {
			t.Errorf("appendXMLNumber(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if got, _ := appendXMLNumber(nil, []byte("1e308")); string(got) != "1"+strings.Repeat("0", 308) {
		t.Errorf("1e308: %s", got)
	}
}

// FuzzPlainDecimal: a plain decimal has the literal's exact value, no
// exponent, no leading or trailing zero that carries nothing.
func FuzzPlainDecimal(f *testing.F) {
	for _, s := range []string{"1.50", "1e5", "-0.5e-3", "12.5e-1", "0.0", "1234.5678e2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) == 0 || len(s) > 60 || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
			return
		}
		if j, ok := scanNumber([]byte(s), 0); !ok || j != len(s) || !strings.ContainsAny(s, ".eE") {
			return
		}
		out, ok := appendPlainDecimal(nil, []byte(s))
		if !ok {
			return
		}
		want, ok1 := new(big.Rat).SetString(s)
		got, ok2 := new(big.Rat).SetString(string(out))
		if !ok1 || !ok2 || want.Cmp(got) != 0 {
			t.Fatalf("%s -> %s", s, out)
		}
		o := strings.TrimPrefix(string(out), "-")
		if strings.ContainsAny(o, "eE+") || (len(o) > 1 && o[0] == '0' && o[1] != '.') ||
			(strings.Contains(o, ".") && strings.HasSuffix(o, "0")) || strings.HasSuffix(o, ".") || string(out) == "-0" {
			t.Fatalf("%s -> %s: not plain", s, out)
		}
	})
}

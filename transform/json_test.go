package transform

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendFloat(t *testing.T) {
	cases := []struct {
		name string
		in   float64
		want string
	}{
		{"zero", 0, "0"},
		{"negative zero", math.Copysign(0, -1), "-0"},
		{"integer", 28, "28"},
		{"negative integer", -3, "-3"},
		{"half", 10.5, "10.5"},
		{"tenth", 0.1, "0.1"},
		{"1e8 without exponent", 1e8, "100000000"},
		{"negative 1e8", -1e8, "-100000000"},
		{"1e20 without exponent", 1e20, "100000000000000000000"},
		{"just below 1e21", 999999999999999900000, "999999999999999900000"},
		{"1e21 with exponent", 1e21, "1e+21"},
		{"large fraction", 123456789.125, "123456789.125"},
		{"max float", math.MaxFloat64, "1.7976931348623157e+308"},
		{"1e-6 without exponent", 1e-6, "0.000001"},
		{"small fraction", 0.000123, "0.000123"},
		{"1e-7 with exponent", 1e-7, "1e-07"},
		{"smallest denormal", 5e-324, "5e-324"},
		{"2^53", 9007199254740992, "9007199254740992"},
		{"shortest round trip", 0.30000000000000004, "0.30000000000000004"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppendFloat([]byte("x"), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "x"+tc.want {
				t.Errorf("AppendFloat(%v) = %s, want %s", tc.in, got[1:], tc.want)
			}
			back, err := strconv.ParseFloat(string(got[1:]), 64)
			if err != nil || back != tc.in {
				t.Errorf("%s reads back as %v (%v)", got[1:], back, err)
			}
			if !json.Valid(got[1:]) {
				t.Errorf("%s is not JSON", got[1:])
			}
		})
	}
}

func TestAppendFloatNonFinite(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		t.Run(strconv.FormatFloat(f, 'g', -1, 64), func(t *testing.T) {
			dst := []byte("[1,")
			got, err := AppendFloat(dst, f)
			var nf *NonFiniteError
			if !errors.As(err, &nf) {
				t.Fatalf("err = %v, want NonFiniteError", err)
			}
			if string(got) != "[1," {
				t.Errorf("dst changed to %q", got)
			}
			if !strings.Contains(err.Error(), "cannot be written as JSON") {
				t.Errorf("message %q", err)
			}
		})
	}
}

type point struct {
	X int `json:"x"`
}

type textKey string

func TestAppendJSON(t *testing.T) {
	one := 1.5
	var nilPtr *float64
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, "null"},
		{"true", true, "true"},
		{"false", false, "false"},
		{"string", "héllo", `"héllo"`},
		{"float integer", 3.0, "3"},
		{"float 1e8", 1e8, "100000000"},
		{"int", 42, "42"},
		{"int64", int64(-7), "-7"},
		{"int32", int32(5), "5"},
		{"uint64", uint64(math.MaxUint64), "18446744073709551615"},
		{"int8 by reflection", int8(-8), "-8"},
		{"uint16 by reflection", uint16(16), "16"},
		{"float32", float32(0.5), "0.5"},
		{"empty list", []any{}, "[]"},
		{"nil []any", []any(nil), "[]"},
		{"list", []any{1.0, "a", nil, true, []any{}}, `[1,"a",null,true,[]]`},
		{"strings", []string{"a", "b"}, `["a","b"]`},
		{"ints by reflection", []int{1, 2}, "[1,2]"},
		{"nil []int", []int(nil), "null"},
		{"array by reflection", [2]bool{true, false}, "[true,false]"},
		{"empty object", map[string]any{}, "{}"},
		{"keys sorted", map[string]any{"b": 1.0, "a": 2.0, "A": 3.0, "": 4.0, "é": 5.0}, `{"":4,"A":3,"a":2,"b":1,"é":5}`},
		{"nested sorted", map[string]any{"z": map[string]any{"y": 1.0, "x": []any{map[string]any{"b": 1.0, "a": 2.0}}}}, `{"z":{"x":[{"a":2,"b":1}],"y":1}}`},
		{"map[string]string sorted", map[string]string{"b": "1", "a": "2"}, `{"a":"2","b":"1"}`},
		{"map with named string keys", map[textKey]int{"b": 1, "a": 2}, `{"a":2,"b":1}`},
		{"map with int keys", map[int]string{2: "b", 1: "a"}, `{"1":"a","2":"b"}`},
		{"key escaped", map[string]any{"a\"<b": 1.0}, `{"a\"\u003cb":1}`},
		{"raw JSON spliced", RawJSON(`{"k":[1,2]}`), `{"k":[1,2]}`},
		{"json.RawMessage spliced", json.RawMessage(`[true]`), `[true]`},
		{"raw inside list", []any{RawJSON(`{}`), 1.0}, `[{},1]`},
		{"pointer", &one, "1.5"},
		{"nil pointer", nilPtr, "null"},
		{"struct via encoding/json", point{X: 3}, `{"x":3}`},
		{"named string", textKey("k"), `"k"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppendJSON([]byte("x"), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "x"+tc.want {
				t.Errorf("AppendJSON(%#v) = %s, want %s", tc.in, got[1:], tc.want)
			}
			if !json.Valid(got[1:]) {
				t.Errorf("%s is not JSON", got[1:])
			}
		})
	}
}

func TestAppendJSONErrors(t *testing.T) {
	cases := []struct {
		name      string
		in        any
		nonFinite bool
	}{
		{"NaN", math.NaN(), true},
		{"Inf in list", []any{1.0, math.Inf(1)}, true},
		{"NaN in object", map[string]any{"a": map[string]any{"b": math.NaN()}}, true},
		{"-Inf float32", float32(math.Inf(-1)), true},
		{"NaN in []float64", []float64{math.NaN()}, true},
		{"NaN in map[string]float64", map[string]float64{"x": math.NaN()}, true},
		{"channel", make(chan int), false},
		{"func", func() {}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AppendJSON(nil, tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			var nf *NonFiniteError
			if errors.As(err, &nf) != tc.nonFinite {
				t.Errorf("err = %v (%T), NonFiniteError expected: %v", err, err, tc.nonFinite)
			}
		})
	}
}

func TestAppendString(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", `""`},
		{"plain", "abc", `"abc"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"newline, return, tab", "a\nb\rc\td", `"a\nb\rc\td"`},
		{"other controls", "\x00\x01\b\f\x1f", `"\u0000\u0001\u0008\u000c\u001f"`},
		{"html", "<a href='x'>&</a>", `"\u003ca href='x'\u003e\u0026\u003c/a\u003e"`},
		{"DEL kept", "\x7f", "\"\x7f\""},
		{"unicode kept", "héllo 世界 😀", `"héllo 世界 😀"`},
		{"line separators escaped", "a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"invalid UTF-8 replaced", "a\xffb", "\"a\uFFFDb\""},
		{"truncated rune replaced", "a\xe4\xb8", "\"a\uFFFD\uFFFD\""},
		{"encoded surrogate replaced", "\xed\xa0\x80", "\"\uFFFD\uFFFD\uFFFD\""},
		{"U+FFFD kept", "\uFFFD", "\"\uFFFD\""},
		{"slash kept", "a/b", `"a/b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := string(AppendString(nil, tc.in))
			if got != tc.want {
				t.Errorf("AppendString(%q) = %s, want %s", tc.in, got, tc.want)
			}
			var back string
			if err := json.Unmarshal([]byte(got), &back); err != nil {
				t.Fatalf("%s does not decode: %v", got, err)
			}
			if want := validUTF8(tc.in); back != want {
				t.Errorf("decodes to %q, want %q", back, want)
			}
		})
	}
}

// validUTF8 replaces each invalid byte with U+FFFD, as AppendString does.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

func TestCheckJSON(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	cases := []struct {
		name     string
		in       string
		maxDepth int
		wantErr  string // "" for none; "deep" for ErrTooDeep
	}{
		{"scalar", `1`, 0, ""},
		{"string", `"x"`, 0, ""},
		{"null with spaces", " null\n", 1, ""},
		{"object", `{"a":[1,{"b":null}]}`, 3, ""},
		{"object one too deep", `{"a":[1,{"b":null}]}`, 2, "deep"},
		{"depth exactly the limit", deep(64), 64, ""},
		{"one over the limit", deep(65), 64, "deep"},
		{"empty list at depth 0", `[]`, 0, "deep"},
		{"brackets inside strings do not count", `["[[[[{{{{"]`, 1, ""},
		{"escaped quote inside string", `["\"[[[[", "\\"]`, 1, ""},
		{"escaped backslash then bracket", `["\\", [[1]]]`, 3, ""},
		{"escaped backslash then bracket too deep", `["\\", [[1]]]`, 2, "deep"},
		{"siblings do not add up", `[[1],[2],[3],{"a":{}}]`, 3, ""},
		{"number beyond float64", `{"n": 1E700}`, 10, "invalid"},
		{"negative number beyond float64", `[-2e308]`, 10, "invalid"},
		{"long integer beyond float64", "[" + strings.Repeat("9", 400) + "]", 10, "invalid"},
		{"largest float", `[1.7976931348623157e308, -1.7976931348623157E+308]`, 10, ""},
		{"underflow is zero", `[1e-400]`, 10, ""},
		{"long integer within float64", "[" + strings.Repeat("9", 305) + "]", 10, ""},
		{"exponent-like text in a string", `["1e999"]`, 10, ""},
		{"empty input", ``, 10, "invalid"},
		{"only spaces", "  ", 10, "invalid"},
		{"truncated", `{"a":`, 10, "invalid"},
		{"trailing comma", `[1,]`, 10, "invalid"},
		{"two values", `1 2`, 10, "invalid"},
		{"unbalanced closers", `]]]][`, 1, "invalid"},
		{"NaN", `NaN`, 10, "invalid"},
		{"single quotes", `{'a':1}`, 10, "invalid"},
		{"unterminated string", `["abc`, 10, "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckJSON([]byte(tc.in), tc.maxDepth)
			switch tc.wantErr {
			case "":
				if err != nil {
					t.Errorf("CheckJSON(%q, %d) = %v", tc.in, tc.maxDepth, err)
				}
			case "deep":
				if !errors.Is(err, ErrTooDeep) {
					t.Errorf("CheckJSON(%q, %d) = %v, want ErrTooDeep", tc.in, tc.maxDepth, err)
				}
			default:
				if err == nil || errors.Is(err, ErrTooDeep) || !strings.HasPrefix(err.Error(), "invalid JSON") {
					t.Errorf("CheckJSON(%q, %d) = %v, want invalid JSON", tc.in, tc.maxDepth, err)
				}
			}
		})
	}
}

func TestCheckJSONMessages(t *testing.T) {
	err := CheckJSON([]byte(`[1,]`), 10)
	if err == nil || err.Error() != "invalid JSON: invalid character ']' looking for beginning of value at byte 4" {
		t.Errorf("got %v", err)
	}
	err = CheckJSON([]byte(`[[[]]]`), 2)
	if err == nil || err.Error() != "nesting too deep: more than 2 levels at byte 2" {
		t.Errorf("got %v", err)
	}
}

func TestDecodeJSON(t *testing.T) {
	cases := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"empty body is nil", "", "null", false},
		{"blank body is nil", " \n\t", "null", false},
		{"object", `{"b":[1,2.5,"x"],"a":null}`, `{"a":null,"b":[1,2.5,"x"]}`, false},
		{"big number is a float", `12345678901234567890`, `12345678901234567000`, false},
		{"invalid", `{`, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := DecodeJSON([]byte(tc.in))
			if tc.wantErr {
				if err == nil {
					t.Errorf("no error, got %v", v)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := jsonString(t, v); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

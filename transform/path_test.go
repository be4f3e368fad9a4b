package transform

import (
	"errors"
	"math"
	"net/url"
	"reflect"
	"testing"
)

func TestParsePath(t *testing.T) {
	lit := func(s string) PathPart { return PathPart{Literal: s} }
	ex := func(s string, off int) PathPart { return PathPart{Expr: s, Offset: off} }
	cases := []struct {
		name string
		tmpl string
		want []PathPart
	}{
		{"root", "/", []PathPart{lit("/")}},
		{"literal only", "/stock/all", []PathPart{lit("/stock/all")}},
		{"one expression", "/carts/${params.id}/items", []PathPart{lit("/carts/"), ex("params.id", 9), lit("/items")}},
		{"expression at the end", "/users/${auth.sub}", []PathPart{lit("/users/"), ex("auth.sub", 9)}},
		{"two expressions side by side", "/a/${x}${y}", []PathPart{lit("/a/"), ex("x", 5), ex("y", 9)}},
		{"two segments", "/${a}/${b}", []PathPart{lit("/"), ex("a", 3), lit("/"), ex("b", 8)}},
		{"nested braces", "/a/${ {'k': 1}.k }", []PathPart{lit("/a/"), ex(" {'k': 1}.k ", 5)}},
		{"brace in single quotes", "/a/${'}' + x}", []PathPart{lit("/a/"), ex("'}' + x", 5)}},
		{"brace in double quotes", `/a/${"}"}`, []PathPart{lit("/a/"), ex(`"}"`, 5)}},
		{"brace in backquotes", "/a/${`}\\`}", []PathPart{lit("/a/"), ex("`}\\`", 5)}},
		{"escaped quote in string", `/a/${'it\'s}'}`, []PathPart{lit("/a/"), ex(`'it\'s}'`, 5)}},
		{"dollar without brace is literal", "/a/$x/$", []PathPart{lit("/a/$x/$")}},
		{"closing brace in literal", "/a}/b", []PathPart{lit("/a}/b")}},
		{"percent kept as written", "/a%20b", []PathPart{lit("/a%20b")}},
		{"unicode literal", "/café/${x}", []PathPart{lit("/café/"), ex("x", 9)}},
		{"offset after unicode", "/é${x}", []PathPart{lit("/é"), ex("x", 5)}},
		{"expression with a question mark", "/a/${x ? 'y' : 'z'}", []PathPart{lit("/a/"), ex("x ? 'y' : 'z'", 5)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePath(tc.tmpl)
			if err != nil {
				t.Fatalf("ParsePath(%q): %v", tc.tmpl, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParsePath(%q) =\n%#v\nwant\n%#v", tc.tmpl, got, tc.want)
			}
			for _, p := range got {
				if p.Expr != "" && tc.tmpl[p.Offset:p.Offset+len(p.Expr)] != p.Expr {
					t.Errorf("Offset %d does not point at %q", p.Offset, p.Expr)
				}
			}
		})
	}
}

func TestParsePathErrors(t *testing.T) {
	cases := []struct {
		name   string
		tmpl   string
		offset int
		msg    string
	}{
		{"empty", "", 0, `path must start with "/"`},
		{"no leading slash", "carts/${x}", 0, `path must start with "/"`},
		{"expression first", "${x}/a", 0, `path must start with "/"`},
		{"question mark", "/stock?sku=1", 6, `'?' is not allowed in a path; put query parameters in "query"`},
		{"question mark after expression", "/a/${x}?q", 7, `'?' is not allowed in a path; put query parameters in "query"`},
		{"fragment", "/a#top", 2, `'#' is not allowed in a path; put query parameters in "query"`},
		{"space", "/a b", 2, "control characters and spaces are not allowed in a path"},
		{"tab", "/a\tb", 2, "control characters and spaces are not allowed in a path"},
		{"newline", "/a\n", 2, "control characters and spaces are not allowed in a path"},
		{"carriage return", "/a\rb", 2, "control characters and spaces are not allowed in a path"},
		{"DEL", "/a\x7f", 2, "control characters and spaces are not allowed in a path"},
		{"NUL", "/\x00", 1, "control characters and spaces are not allowed in a path"},
		{"unclosed", "/carts/${params.id", 7, "unclosed ${ in path"},
		{"unclosed after a nested brace", "/a/${ {x}", 3, "unclosed ${ in path"},
		{"unclosed at the end", "/a/${", 3, "unclosed ${ in path"},
		{"second one unclosed", "/${a}/${b", 6, "unclosed ${ in path"},
		{"empty expression", "/a/${}", 3, "empty ${} in path"},
		{"blank expression", "/a/${  }", 3, "empty ${} in path"},
		{"unterminated single quote", "/a/${'x}", 5, "unterminated string in ${...}"},
		{"unterminated double quote", `/a/${"x\"}`, 5, "unterminated string in ${...}"},
		{"unterminated backquote", "/a/${`x}", 5, "unterminated string in ${...}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := ParsePath(tc.tmpl)
			var pe *PathError
			if !errors.As(err, &pe) {
				t.Fatalf("ParsePath(%q) = %v, %v; want a PathError", tc.tmpl, parts, err)
			}
			if pe.Offset != tc.offset || pe.Message != tc.msg || pe.Error() != tc.msg {
				t.Errorf("ParsePath(%q) = %d %q, want %d %q", tc.tmpl, pe.Offset, pe.Message, tc.offset, tc.msg)
			}
			if parts != nil {
				t.Errorf("parts %v returned with an error", parts)
			}
		})
	}
}

func TestAppendSegment(t *testing.T) {
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"plain", "abc", "abc"},
		{"unreserved kept", "AZaz09-_.~", "AZaz09-_.~"},
		{"slash", "a/b", "a%2Fb"},
		{"climb", "../admin", "..%2Fadmin"},
		{"dot", ".", "%2E"},
		{"dot dot", "..", "%2E%2E"},
		{"three dots are a name", "...", "..."},
		{"dot prefix", ".env", ".env"},
		{"question mark", "a?x=1", "a%3Fx%3D1"},
		{"hash", "#top", "%23top"},
		{"percent", "100%", "100%25"},
		{"already encoded stays literal", "%2e%2e", "%252e%252e"},
		{"CR LF", "a\r\nSet-Cookie: x", "a%0D%0ASet-Cookie%3A%20x"},
		{"space and plus", "a b+c", "a%20b%2Bc"},
		{"backslash", `a\b`, "a%5Cb"},
		{"semicolon and comma", "a;b,c", "a%3Bb%2Cc"},
		{"NUL", "\x00", "%00"},
		{"unicode", "café", "caf%C3%A9"},
		{"emoji", "😀", "%F0%9F%98%80"},
		{"invalid UTF-8", "\xff", "%FF"},
		{"integer float", 42.0, "42"},
		{"1e8", 1e8, "100000000"},
		{"fraction", -10.5, "-10.5"},
		{"1e21", 1e21, "1e%2B21"},
		{"int", 7, "7"},
		{"negative int64", int64(-9), "-9"},
		{"true", true, "true"},
		{"false", false, "false"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppendSegment([]byte("/p/"), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "/p/"+tc.want {
				t.Errorf("AppendSegment(%#v) = %q, want %q", tc.in, got[3:], tc.want)
			}
			if s, ok := tc.in.(string); ok {
				back, err := url.PathUnescape(tc.want)
				if err != nil || back != s {
					t.Errorf("%q unescapes to %q (%v)", tc.want, back, err)
				}
			}
		})
	}
}

func TestAppendSegmentErrors(t *testing.T) {
	cases := []struct {
		name string
		in   any
		is   error
		msg  string
	}{
		{"nil", nil, ErrNilSegment, "nil value in path"},
		{"empty string", "", ErrEmptySegment, "empty value in path"},
		{"NaN", math.NaN(), nil, "NaN cannot be written as JSON"},
		{"Inf", math.Inf(1), nil, "+Inf cannot be written as JSON"},
		{"object", map[string]any{"a": 1}, nil, "an object cannot be a path segment"},
		{"list", []any{"a"}, nil, "a list cannot be a path segment"},
		{"uint", uint(3), nil, "a value of another kind cannot be a path segment"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppendSegment([]byte("/p/"), tc.in)
			if err == nil {
				t.Fatalf("no error, got %q", got)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want %v", err, tc.is)
			}
			if err.Error() != tc.msg {
				t.Errorf("message %q, want %q", err, tc.msg)
			}
			if string(got) != "/p/" {
				t.Errorf("dst changed to %q", got)
			}
		})
	}
}

func TestStringify(t *testing.T) {
	cases := []struct {
		name string
		in   any
		want string
		ok   bool
	}{
		{"string", "a b", "a b", true},
		{"empty string", "", "", true},
		{"float", 2.5, "2.5", true},
		{"1e8", 1e8, "100000000", true},
		{"int", -4, "-4", true},
		{"int64", int64(5), "5", true},
		{"bool", true, "true", true},
		{"nil", nil, "", false},
		{"NaN", math.NaN(), "", false},
		{"object", map[string]any{}, "", false},
		{"list", []any{}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Stringify(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Stringify(%#v) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

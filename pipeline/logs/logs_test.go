package logs

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// perByte replaces each invalid byte with U+FFFD, the engine's rule.
func perByte(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteString("\ufffd")
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// lineFor writes the access line of a request whose client and request
// id are s, and parses it.
func lineFor(t *testing.T, s string) (map[string]any, []byte) {
	t.Helper()
	var buf bytes.Buffer
	o := New(&buf)
	w := NewRecorder(httptest.NewRecorder(), "/r")
	defer w.Release()
	w.Rec.Client = s
	o.Request("GET", s, w, time.Millisecond)
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%q gives a line that is not JSON: %v\n%s", s, err, buf.Bytes())
	}
	return m, buf.Bytes()
}

// Whatever a token's subject or a client's request id holds, the line is
// one valid JSON object holding it (each invalid byte as U+FFFD).
func TestLineStringsValid(t *testing.T) {
	for _, s := range []string{"plain", `q"uote`, `back\slash`, "nl\nline\r\t", "\x00\x1f\x7f", "bad\xff\xfeutf8", "é中\U0001F600", "\u2028\u2029", strings.Repeat("x", 1000)} {
		m, b := lineFor(t, s)
		if m["client"] != perByte(s) || m["request_id"] != perByte(s) || bytes.Count(b, []byte("\n")) != 1 {
			t.Errorf("%q: line %s", s, b)
		}
	}
}

func FuzzLineStrings(f *testing.F) {
	f.Add("a\"b")
	f.Add("\xff")
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return // an empty client is left out of the line
		}
		if m, b := lineFor(t, s); m["client"] != perByte(s) || bytes.Count(b, []byte("\n")) != 1 {
			t.Fatalf("%q: line %s", s, b)
		}
	})
}

func TestRequestLine(t *testing.T) {
	var buf bytes.Buffer
	o := New(&buf)
	o.now = func() time.Time { return time.Date(2026, 12, 1, 10, 0, 0, 5e6, time.UTC) }
	w := NewRecorder(httptest.NewRecorder(), "/checkout/{cart_id}")
	w.Rec.Client = "u1"
	w.Rec.Cache = "miss"
	w.Rec.Calls = append(w.Rec.Calls, Call{Name: "cart", Status: 200, Duration: 1500 * time.Microsecond},
		Call{Name: "stock", Status: 503, Duration: 2 * time.Millisecond, Error: "status"})
	w.WriteHeader(502)
	w.Write([]byte("12345"))
	o.Request("GET", "rid", w, 3250*time.Microsecond)
	want := `{"time":"2026-12-01T10:00:00.005Z","level":"INFO","msg":"request","request_id":"rid","method":"GET","route":"/checkout/{cart_id}",` +
		`"status":502,"duration_ms":3.25,"bytes":5,"client":"u1","cache":"miss","calls":[{"name":"cart","status":200,"duration_ms":1.5},` +
		`{"name":"stock","status":503,"duration_ms":2,"error":"status"}]}` + "\n"
	if buf.String() != want {
		t.Fatalf("line:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	o.Set(0, true, true)
	o.Request("GET", "r i\"d", w, 3250*time.Microsecond)
	wantText := `time=2026-12-01T10:00:00.005Z level=INFO msg=request request_id="r i\"d" method=GET route=/checkout/{cart_id} status=502 duration_ms=3.25 bytes=5 client=u1 cache=miss calls="cart:200:1.5ms stock:503:2ms:status"` + "\n"
	if buf.String() != wantText {
		t.Fatalf("text line:\n%s\nwant:\n%s", buf.String(), wantText)
	}
	// A pooled recorder keeps nothing of the request it served.
	w.Release()
	again := NewRecorder(httptest.NewRecorder(), "/x")
	if again.Rec.Client != "" || again.Rec.Cache != "" || len(again.Rec.Calls) != 0 || again.Status != 0 || again.Bytes != 0 {
		t.Fatalf("a recorder from the pool holds %+v", again)
	}
	for _, c := range again.Rec.Calls[:cap(again.Rec.Calls)] {
		if c.Name != "" {
			t.Fatalf("the pooled calls' room still holds %+v", c)
		}
	}
	again.Release()
}

package engine_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestCookieLinesJoined: two Cookie header lines from a client reach a
// backend as one Cookie header joined with "; " (RFC 6265 5.4), not with
// the ", " of other repeated fields (RFC 9110 5.3), which would turn two
// cookies into one whose value holds a comma.
func TestCookieLinesJoined(t *testing.T) {
	got := make(chan string, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Cookie") + "|" + r.Header.Get("X-Tags")
		io.WriteString(w, `{}`)
	}))
	defer backend.Close()
	g := loadOne(t, backend.URL, `{}`, `{"method": "GET", "path": "/x", "calls": {"c": {"service": "s", "path": "/",
		"headers": {"Cookie": "headers.Cookie", "X-Tags": "headers['X-Tag']"}}}}`)
	front := httptest.NewServer(g)
	defer front.Close()
	req, _ := http.NewRequest("GET", front.URL+"/x", nil)
	req.Header.Add("Cookie", "session=abc")
	req.Header.Add("Cookie", "theme=dark")
	req.Header.Add("X-Tag", "a")
	req.Header.Add("X-Tag", "b")
	resp, err := front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if s := <-got; s != "session=abc; theme=dark|a, b" {
		t.Fatalf("the backend got Cookie|X-Tags %q, want %q", s, "session=abc; theme=dark|a, b")
	}
}

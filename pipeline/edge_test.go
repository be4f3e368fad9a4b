package pipeline

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

// TestRequestID: a well-formed client id is kept on the request and
// answered; a missing or malformed one is replaced by a new one, the same
// on both sides, which a later Add on either side leaves the other alone.
func TestRequestID(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, sent := range []string{"", "client-id-1", "bad id", string(make([]byte, 129))} {
		var seen []string
		h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = r.Header.Values(HeaderRequestID)
			r.Header.Add(HeaderRequestID, "r-extra")
			w.Header().Add(HeaderRequestID, "w-extra")
		}))
		r := httptest.NewRequest("GET", "/", nil)
		if sent != "" {
			r.Header.Set(HeaderRequestID, sent)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := w.Header().Values(HeaderRequestID)
		if len(seen) != 1 || len(got) != 2 || got[0] != seen[0] || got[1] != "w-extra" {
			t.Fatalf("sent %q: request had %q, answer %q", sent, seen, got)
		}
		if sent == "client-id-1" && seen[0] != sent || sent != "client-id-1" && !hex32.MatchString(seen[0]) {
			t.Errorf("sent %q: got id %q", sent, seen[0])
		}
		if rv := r.Header.Values(HeaderRequestID); len(rv) != 2 || rv[0] != seen[0] || rv[1] != "r-extra" {
			t.Errorf("sent %q: request's values %q", sent, rv)
		}
	}
}

package backend

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"frontdesk/pipeline"
)

// TestHostileBackends: each misbehaviour costs at most the call's deadline
// and its body limit, and fails the call with an error that names it.
func TestHostileBackends(t *testing.T) {
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(bytes.Repeat([]byte("0"), 16<<20)) // 16 MB of zeros in some 16 KB: 16 times the limit
	zw.Close()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fl := w.(http.Flusher)
		switch r.URL.Path {
		case "/gzip-bomb":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(bomb.Bytes())
		case "/endless":
			chunk := []byte(strings.Repeat("x", 4096))
			for {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "/trickle":
			for {
				if _, err := w.Write([]byte("x")); err != nil {
					return
				}
				fl.Flush()
				select {
				case <-time.After(10 * time.Millisecond):
				case <-r.Context().Done():
					return
				case <-stop:
					return
				}
			}
		case "/close-mid-body":
			w.Header().Set("Content-Length", "1000")
			w.Write([]byte("partial"))
			fl.Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		case "/silent":
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		}
	}))
	defer srv.Close()
	defer close(stop)
	const limit = 1 << 20
	c := newClient(t, limit, srv.URL)
	for _, tc := range []struct {
		path string
		want pipeline.CallFailure
	}{
		{"/gzip-bomb", pipeline.FailBody},
		{"/endless", pipeline.FailBody},
		{"/trickle", pipeline.FailTimeout},
		{"/close-mid-body", pipeline.FailTruncated},
		{"/silent", pipeline.FailTimeout},
	} {
		t.Run(tc.path, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			req := get(tc.path)
			req.Method = "POST" // one try: the fault, not the retry, is under test
			start := time.Now()
			_, err := c.Do(ctx, req)
			took := time.Since(start)
			if failure(err) != tc.want || !strings.Contains(err.Error(), `call "c"`) {
				t.Errorf("got %v, want failure %d naming the call", err, tc.want)
			}
			if took > 3*time.Second {
				t.Errorf("took %v; the deadline was 300ms", took)
			}
		})
	}
}

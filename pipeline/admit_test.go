package pipeline

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"
)

// TestAdmit: with every slot taken a request waits its queue time for one,
// is served when one frees within it, and is answered 503 with
// Retry-After when none does.
func TestAdmit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		started := make(chan struct{}, 4)
		h := NewAdmit(2, 100*time.Millisecond).Stage(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			if r.URL.Path == "/hold" {
				<-release
			}
			w.WriteHeader(204)
		}))
		serve := func(path string) chan *httptest.ResponseRecorder {
			out := make(chan *httptest.ResponseRecorder, 1)
			go func() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
				out <- w
			}()
			return out
		}
		a, b := serve("/hold"), serve("/hold")
		<-started
		<-started
		// Both slots held: a third request waits 100ms, then is refused.
		t0 := time.Now()
		w := <-serve("/x")
		if w.Code != 503 || w.Header().Get("Retry-After") != "1" {
			t.Errorf("over the bound: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
		}
		if waited := time.Since(t0); waited != 100*time.Millisecond {
			t.Errorf("waited %s, want 100ms", waited)
		}
		// A slot that frees within the queue time admits the waiter.
		c := serve("/x")
		time.Sleep(50 * time.Millisecond)
		release <- struct{}{}
		if w := <-c; w.Code != 204 {
			t.Errorf("a queued request got %d", w.Code)
		}
		close(release)
		<-a
		<-b
	})
}

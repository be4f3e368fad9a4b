package cache

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"
)

// TestStageTTL: an entry answers hits with a growing Age until its ttl,
// and from the ttl on the calls run again; two endpoints' ttls on one
// store are each their own.
func TestStageTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, err := NewMemory(MemoryOptions{LongestTTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		calls := 0
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			fmt.Fprintf(w, "call %d", calls)
		})
		short, _ := New(st, Config{TTL: 30 * time.Second, Scope: ScopeShared}, keyOf, nil)
		long, _ := New(st, Config{TTL: time.Hour, Scope: ScopeShared}, func(r *http.Request) (*Request, error) {
			return &Request{Method: r.Method, Route: "/long"}, nil
		}, nil)
		get := func(c *Cache) (string, string, string) {
			w := httptest.NewRecorder()
			c.Stage(handler).ServeHTTP(w, httptest.NewRequest("GET", "/items/1", nil))
			b, _ := io.ReadAll(w.Result().Body)
			return w.Header().Get("Cache-Status"), w.Header().Get("Age"), string(b)
		}
		get(short)
		get(long)
		time.Sleep(29*time.Second + 999*time.Millisecond)
		if status, age, body := get(short); status != "frontdesk; hit" || age != "29" || body != "call 1" {
			t.Fatalf("at 29.999s: %s, Age %s, %q", status, age, body)
		}
		time.Sleep(time.Millisecond)
		if status, _, body := get(short); status != "frontdesk; fwd=miss" || body != "call 3" {
			t.Fatalf("at 30s: %s %q", status, body)
		}
		if status, age, _ := get(long); status != "frontdesk; hit" || age != "30" {
			t.Fatalf("the hour-long entry at 30s: %s, Age %s", status, age)
		}
		time.Sleep(time.Hour)
		if status, _, _ := get(long); status != "frontdesk; fwd=miss" {
			t.Fatalf("the hour-long entry after an hour: %s", status)
		}
	})
}

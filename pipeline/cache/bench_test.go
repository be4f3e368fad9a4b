package cache

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"frontdesk/pipeline/store/redistest"
)

// nopWriter is a ResponseWriter that keeps nothing but its header map.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) WriteHeader(int)             {}
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }

var benchBody = []byte(`{"greeting":"Ada","items":[{"sku":"A1","qty":2},{"sku":"B7","qty":1}],"total":41.5,"in_stock":true}` + strings.Repeat(" ", 1400))

func benchHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(benchBody)
	})
}

func benchCache(b *testing.B, st Store, key func(*http.Request) (*Request, error)) http.Handler {
	c, err := New(st, Config{TTL: time.Hour, Scope: ScopeUser}, key, nil)
	if err != nil {
		b.Fatal(err)
	}
	return c.Stage(benchHandler())
}

func benchHit(b *testing.B, st Store) {
	h := benchCache(b, st, func(r *http.Request) (*Request, error) {
		return &Request{Method: r.Method, Route: "/checkout/{cart_id}", Identity: "jwt:user-1",
			Parts: []Part{{"params.cart_id", []string{"c1"}}, {"headers.Accept", r.Header["Accept"]}}}, nil
	})
	r := httptest.NewRequest("GET", "/checkout/c1", nil)
	r.Header.Set("Accept", "application/json")
	w := &nopWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	if w.h.Get("Cache-Status") != statusMiss {
		b.Fatal(w.h)
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
	if w.h.Get("Cache-Status") != statusHit {
		b.Fatal(w.h)
	}
}

// BenchmarkHit: a hit from the memory store, key built, entry decoded,
// headers and 1.5 KB written.
func BenchmarkHit(b *testing.B) { benchHit(b, newMemory(b, MemoryOptions{})) }

// BenchmarkHitRedis: the same from Redis on loopback.
func BenchmarkHitRedis(b *testing.B) {
	benchHit(b, redisStore(b, redistest.URL(b), redistest.Prefix(b), time.Second, 0))
}

// BenchmarkMiss: a miss on a new key each time: lookup, the fill
// (singleflight, a detached context, the recorder), storing.
func BenchmarkMiss(b *testing.B) {
	i := 0
	h := benchCache(b, newMemory(b, MemoryOptions{MaxSize: 256 << 20}), func(r *http.Request) (*Request, error) {
		i++
		return &Request{Method: r.Method, Route: "/checkout/{cart_id}", Parts: []Part{{"n", []string{strconv.Itoa(i)}}}}, nil
	})
	r := httptest.NewRequest("GET", "/checkout/c1", nil)
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// BenchmarkMissCoalesced: 8 requests at once on one new key, per op: one
// fill, seven waiters (or hits, for those that come after it).
func BenchmarkMissCoalesced(b *testing.B) {
	var mu sync.Mutex
	gen := 0
	h := benchCache(b, newMemory(b, MemoryOptions{MaxSize: 256 << 20}), func(r *http.Request) (*Request, error) {
		mu.Lock()
		defer mu.Unlock()
		return &Request{Method: r.Method, Route: "/checkout/{cart_id}", Parts: []Part{{"gen", []string{strconv.Itoa(gen)}}}}, nil
	})
	r := httptest.NewRequest("GET", "/checkout/c1", nil)
	b.ReportAllocs()
	var wg sync.WaitGroup
	for b.Loop() {
		mu.Lock()
		gen++
		mu.Unlock()
		for range 8 {
			wg.Go(func() { h.ServeHTTP(&nopWriter{h: http.Header{}}, r) })
		}
		wg.Wait()
	}
}

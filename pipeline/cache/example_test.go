package cache_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"frontdesk/pipeline/cache"
)

// An endpoint's cache on a memory store, keyed on its path parameter and
// the client, in front of the endpoint's handler.
func Example() {
	st, err := cache.NewMemory(cache.MemoryOptions{MaxSize: 64 << 20})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	keyOf := func(r *http.Request) (*cache.Request, error) {
		return &cache.Request{
			Method: r.Method, Route: "/checkout/{cart_id}",
			Parts:    cache.ReadParts(r, []cache.Source{{Kind: cache.Param, Name: "cart_id"}}, nil),
			Identity: r.Header.Get("X-Client"),
		}, nil
	}
	c, err := cache.New(st, cache.Config{TTL: 30 * time.Second, Scope: cache.ScopeUser}, keyOf, nil)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /checkout/{cart_id}", c.Stage(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"total":41.5}`)
	})))
	for _, client := range []string{"ios-app", "ios-app", "web"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/checkout/c1", nil)
		r.Header.Set("X-Client", client)
		mux.ServeHTTP(w, r)
		fmt.Println(client, w.Header().Get("Cache-Status"), w.Header().Get("Cache-Control"))
	}
	// Output:
	// ios-app frontdesk; fwd=miss private, max-age=30
	// ios-app frontdesk; hit private, max-age=30
	// web frontdesk; fwd=miss private, max-age=30
}

package limit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"frontdesk/pipeline/limit"
)

// A limiter per endpoint from a store, and the Guard stage in front of
// the endpoint's handler.
func Example() {
	cfg, err := limit.ParseConfig("10/s", 2)
	if err != nil {
		panic(err)
	}
	lim, _ := limit.NewMemory(limit.MemoryOptions{}).Limiter("GET /checkout/{cart_id}", cfg)
	g := &limit.Guard{Pick: func(r *http.Request) (limit.Limiter, string, error) {
		return lim, r.Header.Get("X-Client"), nil
	}}
	h := g.Stage(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for range 3 {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/checkout/c1", nil)
		r.Header.Set("X-Client", "ios-app")
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("RateLimit-Remaining"), w.Header().Values("Retry-After"))
	}
	d, _ := lim.Allow(context.Background(), "another-client")
	fmt.Println(d.Allowed, d.Limit, d.Remaining)
	// Output:
	// 200 1 []
	// 200 0 []
	// 429 0 [1]
	// true 2 1
}

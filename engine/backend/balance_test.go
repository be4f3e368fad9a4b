package backend

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestBalanceSpread: with equal instances, both balancers spread calls
// evenly: round robin exactly, least requests within a tenth under
// concurrent callers.
func TestBalanceSpread(t *testing.T) {
	for _, least := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			tr := &fakeTransport{answer: func(*http.Request) (int, time.Duration, error) { return 200, 10 * time.Millisecond, nil }}
			c := New(Config{Name: "svc", URLs: []string{"http://a", "http://b", "http://c"}, LeastRequests: least, MaxBody: 64, Transport: tr})
			var wg sync.WaitGroup
			for range 9 {
				wg.Go(func() {
					for range 100 {
						c.Do(context.Background(), get("/"))
					}
				})
			}
			wg.Wait()
			for _, h := range []string{"a", "b", "c"} {
				if n := tr.count(h); n < 270 || n > 330 {
					t.Errorf("least requests %v: %s got %d of 900 calls, want 300 ± 30", least, h, n)
				}
			}
		})
	}
}

// TestLeastRequestsAvoidsSlow: an instance ten times slower gets far fewer
// calls under least requests (its calls pile up in flight), and half
// under round robin.
func TestLeastRequestsAvoidsSlow(t *testing.T) {
	for _, least := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			tr := &fakeTransport{answer: func(r *http.Request) (int, time.Duration, error) {
				if r.URL.Host == "slow" {
					return 200, 100 * time.Millisecond, nil
				}
				return 200, 10 * time.Millisecond, nil
			}}
			c := New(Config{Name: "svc", URLs: []string{"http://slow", "http://fast"}, LeastRequests: least, MaxBody: 64, Transport: tr})
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range 50 {
						c.Do(context.Background(), get("/"))
					}
				})
			}
			wg.Wait()
			slow := tr.count("slow")
			switch {
			case least && slow > 400/4:
				t.Errorf("least requests: the slow instance got %d of 400 calls, want under a quarter", slow)
			case !least && (slow < 180 || slow > 220):
				t.Errorf("round robin: the slow instance got %d of 400 calls, want about half", slow)
			}
		})
	}
}

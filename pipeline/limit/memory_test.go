package limit

import (
	"context"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func mustLimiter(t testing.TB, s interface {
	Limiter(string, Config) (Limiter, error)
}, name, rate string, burst int) Limiter {
	t.Helper()
	cfg, err := ParseConfig(rate, burst)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Limiter(name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func allow(t testing.TB, l Limiter, key string) Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestMemoryRefill: a 10/s bucket of 3 lets 3 through at once, refuses
// the 4th with the exact time until one comes back, and refills one
// request every 100ms, to the nanosecond on the fake clock.
func TestMemoryRefill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustLimiter(t, NewMemory(MemoryOptions{}), "GET /x", "10/s", 3)
		for i, want := range []int{2, 1, 0} {
			d := allow(t, l, "k")
			if !d.Allowed || d.Remaining != want || d.Limit != 3 || d.RetryAfter != 0 {
				t.Fatalf("request %d: %+v", i+1, d)
			}
			if wantReset := time.Duration(3-want) * 100 * time.Millisecond; d.Reset != wantReset {
				t.Errorf("request %d: reset %s, want %s", i+1, d.Reset, wantReset)
			}
		}
		d := allow(t, l, "k")
		if d.Allowed || d.Remaining != 0 || d.RetryAfter != 100*time.Millisecond || d.Reset != 300*time.Millisecond {
			t.Fatalf("over the limit: %+v", d)
		}
		time.Sleep(99 * time.Millisecond)
		if d := allow(t, l, "k"); d.Allowed || d.RetryAfter != time.Millisecond {
			t.Fatalf("1ms early: %+v", d)
		}
		time.Sleep(time.Millisecond)
		if d := allow(t, l, "k"); !d.Allowed || d.Remaining != 0 {
			t.Fatalf("on time: %+v", d)
		}
		// A quiet time longer than the bucket's span fills it, no more.
		time.Sleep(time.Hour)
		if d := allow(t, l, "k"); !d.Allowed || d.Remaining != 2 || d.Reset != 100*time.Millisecond {
			t.Fatalf("after an hour: %+v", d)
		}
	})
}

// TestMemorySlowRates: per minute and per hour refill at their own pace.
func TestMemorySlowRates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMemory(MemoryOptions{})
		perMin := mustLimiter(t, m, "m", "60/m", 1)
		perHour := mustLimiter(t, m, "h", "2/h", 2)
		allow(t, perMin, "k")
		if d := allow(t, perMin, "k"); d.Allowed || d.RetryAfter != time.Second {
			t.Fatalf("60/m: %+v", d)
		}
		allow(t, perHour, "k")
		allow(t, perHour, "k")
		if d := allow(t, perHour, "k"); d.Allowed || d.RetryAfter != 30*time.Minute || d.Reset != time.Hour {
			t.Fatalf("2/h: %+v", d)
		}
		time.Sleep(30 * time.Minute)
		if d := allow(t, perHour, "k"); !d.Allowed || d.Reset != time.Hour {
			t.Fatalf("2/h after 30m: %+v", d)
		}
	})
}

// TestMemoryBucketsApart: a bucket belongs to one endpoint and one key
// value; a long key is held by its hash and still apart from others.
func TestMemoryBucketsApart(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	a := mustLimiter(t, m, "GET /a", "1/h", 1)
	b := mustLimiter(t, m, "GET /b", "1/h", 1)
	long1, long2 := strings.Repeat("x", 100)+"1", strings.Repeat("x", 100)+"2"
	for _, k := range []string{"u1", "u2", long1, long2, ""} {
		if !allow(t, a, k).Allowed || !allow(t, b, k).Allowed {
			t.Errorf("key %.10q: the first request was refused", k)
		}
		if allow(t, a, k).Allowed || allow(t, b, k).Allowed {
			t.Errorf("key %.10q: the second request passed", k)
		}
	}
	// The same name and config again (a reload) is the same limiter.
	if again := mustLimiter(t, m, "GET /a", "1/h", 1); allow(t, again, "u1").Allowed {
		t.Error("a reload with the same config reset the bucket")
	}
	if other := mustLimiter(t, m, "GET /a", "2/h", 2); !allow(t, other, "u1").Allowed {
		t.Error("a new config kept the old bucket")
	}
}

// keysInShard returns n distinct keys that land in shard i of m.
func keysInShard(m *Memory, i uint64, n int, tag string) []string {
	var keys []string
	for j := 0; len(keys) < n; j++ {
		k := tag + strconv.Itoa(j)
		if maphash.String(m.seed, k)%shardCount == i {
			keys = append(keys, k)
		}
	}
	return keys
}

// TestMemoryForgetsIdleKeys: once a bucket is full again it is removed as
// traffic passes, two per request, least recently used first, and a
// bucket still refilling is kept.
func TestMemoryForgetsIdleKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMemory(MemoryOptions{})
		l := mustLimiter(t, m, "e", "10/s", 5) // full 100ms after one request
		keys := keysInShard(m, 0, 11, "k")
		for _, k := range keys[:10] {
			allow(t, l, k)
		}
		if m.Len() != 10 {
			t.Fatalf("len %d", m.Len())
		}
		// 99ms later none is full yet: nothing goes.
		time.Sleep(99 * time.Millisecond)
		allow(t, l, keys[0])
		if m.Len() != 10 {
			t.Fatalf("a bucket still refilling was removed: len %d", m.Len())
		}
		// keys[0] was just used again; the other nine are full at 100ms.
		time.Sleep(time.Millisecond)
		for i := 0; i < 5; i++ {
			allow(t, l, keys[10])
		}
		if m.Len() != 2 {
			t.Fatalf("after 5 requests, len %d; want 2 (keys[0] refilling, keys[10] in use)", m.Len())
		}
		if m.Evicted() != 0 {
			t.Errorf("evicted %d", m.Evicted())
		}
	})
}

// TestMemoryBounded: a flood of distinct keys never holds more buckets
// than MaxKeys; the buckets pushed out early are counted.
func TestMemoryBounded(t *testing.T) {
	m := NewMemory(MemoryOptions{MaxKeys: 128})
	l := mustLimiter(t, m, "e", "1/h", 10)
	for i := range 20000 {
		allow(t, l, "flood-"+strconv.Itoa(i))
	}
	if n := m.Len(); n > 128 {
		t.Fatalf("len %d over the bound", n)
	}
	if m.Evicted() < 20000-128 {
		t.Errorf("evicted %d", m.Evicted())
	}
}

// TestMemoryConcurrent: many goroutines on one key get exactly the burst.
func TestMemoryConcurrent(t *testing.T) {
	l := mustLimiter(t, NewMemory(MemoryOptions{}), "e", "1/h", 100)
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				if allow(t, l, "shared").Allowed {
					allowed.Add(1)
				}
				allow(t, l, "own-"+strconv.Itoa(g)+"-"+strconv.Itoa(i%50))
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 100 {
		t.Errorf("allowed %d of 4000, want the burst, 100", allowed.Load())
	}
}

// BenchmarkMemoryAllow: one check of a known key, the hot path (after
// the burst, the refused path: the same work). About 65ns of it is
// time.Now on a KVM guest clock.
func BenchmarkMemoryAllow(b *testing.B) {
	l := mustLimiter(b, NewMemory(MemoryOptions{}), "GET /checkout/{cart_id}", "100/s", 200)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(ctx, "client-42")
	}
}

// BenchmarkMemoryAllowParallel: known keys from every core at once.
func BenchmarkMemoryAllowParallel(b *testing.B) {
	l := mustLimiter(b, NewMemory(MemoryOptions{}), "GET /checkout/{cart_id}", "100/s", 200)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "client-" + strconv.Itoa(i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(ctx, keys[i%len(keys)])
			i++
		}
	})
}

// BenchmarkMemoryAllowNewKeys: every check a new key in a full table
// (a flood): insert and evict.
func BenchmarkMemoryAllowNewKeys(b *testing.B) {
	l := mustLimiter(b, NewMemory(MemoryOptions{MaxKeys: 10000}), "e", "100/s", 100)
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = "flood-" + strconv.Itoa(i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(ctx, keys[i%len(keys)])
		i++
	}
}

func TestMemoryRetain(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	cfg := Config{Rate: Rate{N: 1, Per: time.Hour}, Burst: 1}
	a, _ := m.Limiter("GET /a", cfg)
	b, _ := m.Limiter("GET /b", cfg)
	ctx := context.Background()
	a.Allow(ctx, "k")
	b.Allow(ctx, "k")
	if m.Len() != 2 {
		t.Fatalf("buckets = %d, want 2", m.Len())
	}
	m.Retain([]Limiter{a})
	if m.Len() != 1 || m.Limiters() != 1 {
		t.Fatalf("after Retain: buckets %d limiters %d, want 1 and 1", m.Len(), m.Limiters())
	}
	// The kept limiter kept its count: the key is still spent.
	again, _ := m.Limiter("GET /a", cfg)
	if d, _ := again.Allow(ctx, "k"); d.Allowed {
		t.Fatal("a kept limiter lost its count")
	}
	// Another config under the same name is another limiter, and the
	// first is left as it was (a refused reload asks, then never serves).
	changed, _ := m.Limiter("GET /a", Config{Rate: Rate{N: 2, Per: time.Hour}, Burst: 2})
	if d, _ := changed.Allow(ctx, "k"); !d.Allowed {
		t.Fatal("a changed limit kept the old count")
	}
	if first, _ := m.Limiter("GET /a", cfg); first != again {
		t.Fatal("asking with another config replaced the first limiter")
	}
	if d, _ := again.Allow(ctx, "k"); d.Allowed {
		t.Fatal("the first limiter lost its count when another config was asked for")
	}
	m.Retain([]Limiter{changed})
	if m.Len() != 1 || m.Limiters() != 1 {
		t.Fatalf("after keeping only the changed one: buckets %d limiters %d, want 1 and 1", m.Len(), m.Limiters())
	}
}

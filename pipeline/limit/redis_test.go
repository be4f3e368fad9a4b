package limit

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"frontdesk/pipeline/store"
	"frontdesk/pipeline/store/redistest"
)

// openRedis is a connection to url with a test prefix of its own.
func openRedis(t testing.TB, url, prefix string, timeout time.Duration) *store.Redis {
	t.Helper()
	conn, err := store.Open(store.Config{URL: url, Prefix: prefix, Timeout: timeout, DownFor: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestRedisGCRA: the shared bucket answers as the memory one does: the
// burst at once, then refusals saying when one request comes back, and
// the key lives until the bucket is full again.
func TestRedisGCRA(t *testing.T) {
	conn := openRedis(t, redistest.URL(t), redistest.Prefix(t), time.Second)
	l := mustLimiter(t, NewRedis(conn), "GET /x", "1/h", 5)
	for i := range 5 {
		d := allow(t, l, "u1")
		if !d.Allowed || d.Limit != 5 || d.Remaining != 4-i || d.RetryAfter != 0 {
			t.Fatalf("request %d: %+v", i+1, d)
		}
		if want := time.Duration(i+1) * time.Hour; d.Reset < want-time.Second || d.Reset > want {
			t.Errorf("request %d: reset %s, want about %s", i+1, d.Reset, want)
		}
	}
	d := allow(t, l, "u1")
	if d.Allowed || d.Remaining != 0 || d.RetryAfter < time.Hour-time.Second || d.RetryAfter > time.Hour {
		t.Fatalf("over the limit: %+v", d)
	}
	if err := d.Err(); err == nil {
		t.Fatal("no LimitError")
	}
	// Another key and another endpoint have buckets of their own.
	if !allow(t, l, "u2").Allowed || !allow(t, mustLimiter(t, NewRedis(conn), "GET /y", "1/h", 5), "u1").Allowed {
		t.Error("buckets are shared across keys or endpoints")
	}
	// The key, under the prefix, expires when the bucket is full again.
	key := l.(*redisLimiter).Key("u1")
	if !strings.HasPrefix(key, conn.Prefix()+"rl:6:GET /x:v:") {
		t.Errorf("key %q", key)
	}
	ttl, err := conn.Client().PTTL(context.Background(), key).Result()
	if err != nil || ttl < 5*time.Hour-5*time.Second || ttl > 5*time.Hour {
		t.Errorf("the key's TTL is %s (%v), want about 5h", ttl, err)
	}
	long := strings.Repeat("k", 200)
	if k := l.(*redisLimiter).Key(long); len(k) > len(conn.Prefix())+100 || !strings.Contains(k, ":h:") {
		t.Errorf("a long key value is held as %q", k)
	}
}

// TestRedisRefill: a refused request is allowed once its RetryAfter has
// passed on the server's clock, and not before.
func TestRedisRefill(t *testing.T) {
	conn := openRedis(t, redistest.URL(t), redistest.Prefix(t), time.Second)
	l := mustLimiter(t, NewRedis(conn), "e", "2/s", 2) // one back every 500ms: room for a loaded machine
	allow(t, l, "k")
	allow(t, l, "k")
	d := allow(t, l, "k")
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 500*time.Millisecond || d.Reset > time.Second {
		t.Fatalf("over the limit: %+v", d)
	}
	// Waiting the time the limiter gave (the feature under test, not a
	// guess) makes one request pass, and only one.
	<-time.After(d.RetryAfter)
	if d := allow(t, l, "k"); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after RetryAfter: %+v", d)
	}
	if d := allow(t, l, "k"); d.Allowed {
		t.Fatalf("a second request passed: %+v", d)
	}
}

// TestRedisFractionalInterval: 3/s has an interval of 333333.3µs; a burst
// of 3 is still 3 requests at once, not 2.
func TestRedisFractionalInterval(t *testing.T) {
	conn := openRedis(t, redistest.URL(t), redistest.Prefix(t), time.Second)
	l := mustLimiter(t, NewRedis(conn), "e", "3/s", 3)
	for i := range 3 {
		if d := allow(t, l, "k"); !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("request %d: %+v", i+1, d)
		}
	}
	if allow(t, l, "k").Allowed {
		t.Fatal("a 4th request passed")
	}
}

// TestRedisTwoReplicas: two gateways (two connection pools) on one Redis,
// hammered at once, let exactly the burst through together.
func TestRedisTwoReplicas(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	var replicas []Limiter
	for range 2 {
		replicas = append(replicas, mustLimiter(t, NewRedis(openRedis(t, url, prefix, time.Second)), "GET /checkout/{cart_id}", "1/h", 50))
	}
	var allowed [2]atomic.Int32
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 50 {
				if allow(t, replicas[g%2], "client-a").Allowed {
					allowed[g%2].Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed[0].Load() + allowed[1].Load(); n != 50 {
		t.Errorf("the replicas let %d+%d through, want 50 together", allowed[0].Load(), allowed[1].Load())
	}
	// That the two share one bucket is shown in order, not by racing
	// them (which one wins a race is the scheduler's): a second key, 30
	// through one replica, then the other has exactly 20 left.
	for i := range 30 {
		if !allow(t, replicas[0], "client-b").Allowed {
			t.Fatalf("replica 0 refused request %d of 30", i+1)
		}
	}
	for i := range 20 {
		if !allow(t, replicas[1], "client-b").Allowed {
			t.Fatalf("replica 1 refused request %d of the 20 left: are they sharing?", i+1)
		}
	}
	if allow(t, replicas[1], "client-b").Allowed || allow(t, replicas[0], "client-b").Allowed {
		t.Error("a request past the shared burst of 50 passed: the replicas do not share the bucket")
	}
}

// TestRedisNeverHangs: a server that accepts connections and never
// answers costs each check its timeout, no more.
func TestRedisNeverHangs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); ln.Close(); conns.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { <-stop; c.Close() }) // reads nothing, answers nothing
		}
	}()
	conn := openRedis(t, "redis://"+ln.Addr().String()+"/0", "", 50*time.Millisecond)
	l := mustLimiter(t, NewRedis(conn), "e", "1/s", 1)
	for i := range 3 {
		t0 := time.Now()
		_, err := l.Allow(context.Background(), "k")
		if err == nil {
			t.Fatal("a silent server answered")
		}
		if el := time.Since(t0); el > time.Second {
			t.Fatalf("check %d took %s with a 50ms timeout", i, el)
		}
	}
	// A client that goes away ends the wait at once, too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Allow(ctx, "k"); !errors.Is(err, context.Canceled) && !errors.Is(err, store.ErrDown) {
		t.Errorf("a cancelled check: %v", err)
	}
}

// BenchmarkRedisAllow: one check, one round trip on loopback.
func BenchmarkRedisAllow(b *testing.B) {
	conn := openRedis(b, redistest.URL(b), redistest.Prefix(b), time.Second)
	l := mustLimiter(b, NewRedis(conn), "GET /checkout/{cart_id}", "100/s", 200)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := l.Allow(ctx, "client-"+strconv.Itoa(i%64)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

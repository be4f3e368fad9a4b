package cache

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"frontdesk/pipeline/store"
	"frontdesk/pipeline/store/redistest"
)

func redisStore(t testing.TB, url, prefix string, timeout time.Duration, maxEntry int) *Redis {
	t.Helper()
	conn, err := store.Open(store.Config{URL: url, Prefix: prefix, Timeout: timeout, DownFor: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s, err := NewRedis(conn, maxEntry)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRedisSharedAcrossReplicas: an answer one gateway caches is a hit on
// another (its own connection, its own backend, never called), with the
// same body, headers and Age.
func TestRedisSharedAcrossReplicas(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	cfg := Config{Scope: ScopeUser, Headers: []string{"X-Call"}}
	a := newRig(t, redisStore(t, url, prefix, time.Second, 0), cfg, nil)
	b := newRig(t, redisStore(t, url, prefix, time.Second, 0), cfg, nil)
	first := a.do("GET", "/items/1", "X-User", "alice")
	if first.header.Get("Cache-Status") != "frontdesk; fwd=miss" {
		t.Fatalf("first: %v", first.header)
	}
	r := b.do("GET", "/items/1", "X-User", "alice")
	if r.header.Get("Cache-Status") != "frontdesk; hit" || r.body != first.body || r.header.Get("X-Call") != "1" || r.header.Get("Age") != "0" {
		t.Fatalf("on the other replica: %v %s", r.header, r.body)
	}
	if b.calls.Load() != 0 || a.calls.Load() != 1 {
		t.Errorf("backend calls %d and %d", a.calls.Load(), b.calls.Load())
	}
	// Bob's request on either replica is his own.
	if r := b.do("GET", "/items/1", "X-User", "bob"); r.header.Get("Cache-Status") != "frontdesk; fwd=miss" || strings.Contains(r.body, "alice") {
		t.Errorf("bob: %v %s", r.header, r.body)
	}
	// The entry lives under the prefix, with the ttl as its expiry.
	conn, _ := store.Open(store.Config{URL: url})
	defer conn.Close()
	keys, err := conn.Client().Keys(t.Context(), prefix+"c:*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %q %v", keys, err)
	}
	if ttl := conn.Client().PTTL(t.Context(), keys[0]).Val(); ttl <= 29*time.Second || ttl > 30*time.Second {
		t.Errorf("PTTL %s", ttl)
	}
}

// TestRedisEntryBound: an answer over the Redis store's bound is not
// stored there, and counted.
func TestRedisEntryBound(t *testing.T) {
	st := redisStore(t, redistest.URL(t), redistest.Prefix(t), time.Second, 1024)
	g := newRig(t, st, Config{Scope: ScopeShared}, nil)
	g.do("GET", "/items/1?v="+strings.Repeat("x", 10)) // small: stored
	if s := g.cache.Stats(); s.Stored != 1 {
		t.Fatalf("stats %+v", s)
	}
	big := newRig(t, st, Config{Scope: ScopeShared}, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, strings.Repeat("y", 2048)) })
	big.do("GET", "/items/2")
	if r := big.do("GET", "/items/2"); r.header.Get("Cache-Status") != "frontdesk; fwd=miss" || len(r.body) != 2048 {
		t.Errorf("an entry over the bound: %v, %d bytes", r.header, len(r.body))
	}
	if s := big.cache.Stats(); s.TooBig != 2 {
		t.Errorf("stats %+v", s)
	}
}

// TestRedisCacheStopped: Redis killed mid-run. Every request is a miss:
// the calls run, the answer is served (not stored), within the timeout,
// and the errors are counted; once Redis is back, answers are stored and
// hit again.
func TestRedisCacheStopped(t *testing.T) {
	srv := redistest.Start(t)
	const timeout = 100 * time.Millisecond
	g := newRig(t, redisStore(t, srv.URL(), "", timeout, 0), Config{Scope: ScopeShared}, nil)
	g.do("GET", "/items/1")
	if r := g.do("GET", "/items/1"); r.header.Get("Cache-Status") != "frontdesk; hit" {
		t.Fatalf("with Redis up: %v", r.header)
	}
	srv.Stop()
	for i := range 5 {
		t0 := time.Now()
		r := g.do("GET", "/items/1")
		if el := time.Since(t0); el > 2*timeout+time.Second {
			t.Fatalf("request %d took %s with a %s timeout per command", i, el, timeout)
		}
		if r.status != 200 || r.header.Get("Cache-Status") != "frontdesk; fwd=miss" {
			t.Fatalf("request %d with Redis down: %d %v", i, r.status, r.header)
		}
	}
	if n := g.calls.Load(); n != 6 {
		t.Errorf("backend calls %d, want 6 (1, then 5 while Redis was down)", n)
	}
	if s := g.cache.Stats(); s.StoreErrors < 5 || s.Stored != 1 {
		t.Errorf("stats %+v", s)
	}
	srv.Start() // an empty server: nothing was saved
	deadline := time.Now().Add(10 * time.Second)
	for g.do("GET", "/items/1").header.Get("Cache-Status") != "frontdesk; hit" {
		if time.Now().After(deadline) {
			t.Fatalf("Redis is back, but no hit: %+v", g.cache.Stats())
		}
		<-time.After(10 * time.Millisecond) // the store's 50ms fail-fast window
	}
}

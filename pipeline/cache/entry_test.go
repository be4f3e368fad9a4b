package cache

import (
	"bytes"
	"context"
	"net/http"
	"reflect"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

func TestEntryRoundTrip(t *testing.T) {
	e := Entry{Status: 203, Body: []byte(`{"a":1}`), StoredAt: time.Unix(1700000000, 123456789),
		Header: http.Header{"Content-Type": {"application/json"}, "X-Multi": {"a", "b"}, "X-Empty": {""}}}
	got, err := decodeEntry(appendEntry(nil, &e))
	if err != nil || got.Status != e.Status || !got.StoredAt.Equal(e.StoredAt) || !bytes.Equal(got.Body, e.Body) || !reflect.DeepEqual(got.Header, e.Header) {
		t.Fatalf("got %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0}, {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 5, 3, 'a'}, {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}} {
		if _, err := decodeEntry(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

// FuzzDecodeEntry: whatever a store hands back, decoding fails or works;
// it never panics or reads past the value.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(appendEntry(nil, &Entry{Status: 200, Header: http.Header{"A": {"b"}}, Body: []byte("x")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, err := decodeEntry(b); err == nil {
			if len(e.Header) > maxHeaders || len(e.Body) > len(b) {
				t.Fatalf("%+v", e)
			}
		}
	})
}

func newMemory(t testing.TB, o MemoryOptions) *Memory {
	t.Helper()
	m, err := NewMemory(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestMemoryTTL: each entry has its own expiry, whatever the others'
// (bigcache's one life window notwithstanding): a miss from its ttl on.
func TestMemoryTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := NewMemory(MemoryOptions{LongestTTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		ctx := context.Background()
		m.Set(ctx, "short", []byte("s"), 2*time.Second)
		m.Set(ctx, "long", []byte("l"), time.Hour)
		time.Sleep(2*time.Second - time.Nanosecond)
		if v, ok, _ := m.Get(ctx, "short"); !ok || string(v) != "s" {
			t.Fatal("the short entry expired early")
		}
		time.Sleep(time.Nanosecond)
		if _, ok, _ := m.Get(ctx, "short"); ok {
			t.Fatal("the short entry outlived its ttl")
		}
		time.Sleep(time.Hour - 2*time.Second - time.Nanosecond)
		if _, ok, _ := m.Get(ctx, "long"); !ok {
			t.Fatal("the long entry expired early")
		}
		time.Sleep(time.Nanosecond)
		if _, ok, _ := m.Get(ctx, "long"); ok {
			t.Fatal("the long entry outlived its ttl")
		}
	})
}

// TestMemoryBounds: an entry over MaxEntry is refused; filling past
// MaxSize pushes the oldest out and never grows past it.
func TestMemoryBounds(t *testing.T) {
	m := newMemory(t, MemoryOptions{MaxSize: 1 << 20, MaxEntry: 64 << 10})
	ctx := context.Background()
	if m.MaxEntry() != 64<<10 {
		t.Errorf("max entry %d", m.MaxEntry())
	}
	if err := m.Set(ctx, "big", make([]byte, 64<<10+1), time.Minute); err != ErrTooBig {
		t.Errorf("an entry over the bound: %v", err)
	}
	val := make([]byte, 10<<10)
	for i := range 1000 { // 10 MB into 1 MB
		if err := m.Set(ctx, "k"+strconv.Itoa(i), val, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.Len(); n > 100 {
		t.Errorf("%d entries of 10 KB held in 1 MB", n)
	}
	if _, ok, _ := m.Get(ctx, "k0"); ok {
		t.Error("the oldest entry survived")
	}
	if _, ok, _ := m.Get(ctx, "k999"); !ok {
		t.Error("the newest entry is gone")
	}
	// A max entry larger than a quarter of the size is lowered to it.
	if m := newMemory(t, MemoryOptions{MaxSize: 1 << 20}); m.MaxEntry() != 256<<10 {
		t.Errorf("max entry %d in a 1MB store", m.MaxEntry())
	}
}

func BenchmarkMemoryGet(b *testing.B) {
	m := newMemory(b, MemoryOptions{})
	ctx := context.Background()
	m.Set(ctx, "k", make([]byte, 1500), time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		m.Get(ctx, "k")
	}
}

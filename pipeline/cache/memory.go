package cache

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"
	"time"

	"github.com/allegro/bigcache/v3"
)

// Defaults and bounds of a Memory store.
const (
	DefaultMaxSize = 64 << 20 // gateway.json cache.max_size
	minMaxSize     = 1 << 20  // bigcache counts its bound in whole MB
	maxShards      = 64
)

// MemoryOptions configures a Memory store.
type MemoryOptions struct {
	// MaxSize bounds the bytes of all entries (gateway.json
	// cache.max_size); the oldest go first when it is full. 0 is
	// DefaultMaxSize; it is rounded down to whole MB, at least 1MB.
	MaxSize int64
	// MaxEntry bounds one encoded entry; 0 is DefaultMaxEntry. It is
	// lowered to a quarter of a shard (MaxSize / shards) when larger.
	MaxEntry int
	// LongestTTL is the longest ttl of the endpoints using the store;
	// bigcache drops anything older than it. 0 is MaxTTL.
	LongestTTL time.Duration
}

// Memory is a Store in this process, on bigcache: entries live off the
// garbage collector's sight in a bounded byte queue per shard. bigcache
// has one life window for all entries, so each value carries its own
// expiry in front and an expired one is a miss; the life window is only
// the longest ttl, so nothing outlives every spec. It starts no goroutine
// (expired entries are dropped when met, or pushed out as the queue
// fills).
type Memory struct {
	c        *bigcache.BigCache
	maxEntry int
}

// NewMemory makes a Memory store.
func NewMemory(o MemoryOptions) (*Memory, error) {
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MaxSize < 0 {
		return nil, fmt.Errorf("cache.max_size: %d is negative", o.MaxSize)
	}
	o.MaxSize = max(o.MaxSize, minMaxSize)
	mb := int(o.MaxSize >> 20)
	if o.MaxEntry == 0 {
		o.MaxEntry = DefaultMaxEntry
	}
	if o.MaxEntry < 0 {
		return nil, fmt.Errorf("cache max entry: %d is negative", o.MaxEntry)
	}
	if o.LongestTTL <= 0 || o.LongestTTL > MaxTTL {
		o.LongestTTL = MaxTTL
	}
	// As many shards (less lock contention) as leave each room for four
	// of the largest entries, a power of two, at most maxShards.
	total := mb << 20
	shards := 1
	if n := total / (4 * o.MaxEntry); n > 1 {
		shards = min(1<<(bits.Len(uint(n))-1), maxShards)
	}
	o.MaxEntry = min(o.MaxEntry, total/shards/4)
	c, err := bigcache.New(context.Background(), bigcache.Config{
		Shards:     shards,
		LifeWindow: o.LongestTTL + time.Second, // bigcache's clock is in whole seconds
		// No cleaner goroutine: an entry's own expiry is checked on Get.
		CleanWindow: 0,
		// Only the initial allocation: queues grow as entries come, up
		// to the hard bound.
		MaxEntriesInWindow: shards * 16,
		MaxEntrySize:       1024,
		HardMaxCacheSize:   mb,
		Verbose:            false,
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return &Memory{c: c, maxEntry: o.MaxEntry}, nil
}

// MaxEntry is the largest value Set takes.
func (m *Memory) MaxEntry() int { return m.maxEntry }

// Get returns key's value while its own expiry has not passed.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	b, err := m.c.Get(key)
	if err != nil {
		return nil, false, nil // bigcache.ErrEntryNotFound: its only error
	}
	if len(b) < 8 || time.Now().UnixNano() >= int64(binary.BigEndian.Uint64(b)) {
		m.c.Delete(key)
		return nil, false, nil
	}
	return b[8:], true, nil
}

// Set stores value under key until ttl has passed.
func (m *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if len(value) > m.maxEntry {
		return ErrTooBig
	}
	b := make([]byte, 8, 8+len(value))
	binary.BigEndian.PutUint64(b, uint64(time.Now().Add(ttl).UnixNano()))
	b = append(b, value...)
	if err := m.c.Set(key, b); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// Len is the number of entries held, expired ones included until met.
func (m *Memory) Len() int { return m.c.Len() }

// Close releases the store.
func (m *Memory) Close() error { return m.c.Close() }

package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Verified-token cache bounds.
const (
	// DefaultCacheSize is how many verified tokens are remembered.
	DefaultCacheSize = 10000
	// CacheTTL is the longest a verified token is remembered, whatever its
	// exp says.
	CacheTTL    = 5 * time.Minute
	cacheShards = 16
)

// tokenCache remembers verified tokens by the SHA-256 of the whole token:
// a collision would need a second preimage, so a forged token cannot take a
// cached one's place. Each entry lives until the token's exp, at most
// CacheTTL, and only under the key-set generation it was verified with. It
// is bounded: a full shard first drops its expired entries, then an
// arbitrary quarter of the rest.
type tokenCache struct {
	shards [cacheShards]cacheShard
	per    int // entries per shard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	id    *Identity
	until int64 // unix nanoseconds
	gen   uint64
}

// newTokenCache makes a cache of about size entries; nil (no cache) when
// size is negative.
func newTokenCache(size int) *tokenCache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = DefaultCacheSize
	}
	c := &tokenCache{per: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[[sha256.Size]byte]cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(sum *[sha256.Size]byte) *cacheShard {
	return &c.shards[sum[0]%cacheShards]
}

// get returns the identity of a token verified under generation gen and
// still valid at now, or nil.
func (c *tokenCache) get(sum *[sha256.Size]byte, now time.Time, gen uint64) *Identity {
	if c == nil {
		return nil
	}
	s := c.shard(sum)
	s.mu.RLock()
	e, ok := s.m[*sum]
	s.mu.RUnlock()
	if !ok || e.gen != gen || now.UnixNano() >= e.until {
		return nil
	}
	return e.id
}

// put remembers id until exp, at most CacheTTL from now.
func (c *tokenCache) put(sum *[sha256.Size]byte, id *Identity, now, exp time.Time, gen uint64) {
	if c == nil {
		return
	}
	until := min(exp.UnixNano(), now.Add(CacheTTL).UnixNano())
	if until <= now.UnixNano() {
		return
	}
	s := c.shard(sum)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.per {
		n := now.UnixNano()
		for k, e := range s.m {
			if n >= e.until || e.gen != gen {
				delete(s.m, k)
			}
		}
		for k := range s.m { // map order is random: an arbitrary quarter
			if len(s.m) < c.per*3/4 {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[*sum] = cacheEntry{id: id, until: until, gen: gen}
}

// len counts the entries, for tests.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].m)
		c.shards[i].mu.RUnlock()
	}
	return n
}

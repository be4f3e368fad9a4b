package limit

import (
	"context"
	"crypto/sha256"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds the buckets a Memory store holds, across all its
// limiters. A bucket takes about 250 bytes plus its key (keys longer than
// maxKeyLen are held as their 32-byte SHA-256).
const DefaultMaxKeys = 100_000

const (
	shardCount = 64
	// maxKeyLen: a longer key value (an expression's value can be
	// anything a client sends) is held as its SHA-256, so no client can
	// make one bucket cost more than a few hundred bytes.
	maxKeyLen = 64
	// sweepPerCall bounds the idle buckets one Allow removes.
	sweepPerCall = 2
)

// MemoryOptions configures a Memory store.
type MemoryOptions struct {
	// MaxKeys is the most buckets held at once; 0 is DefaultMaxKeys.
	MaxKeys int
}

// Memory keeps a token bucket per endpoint and key value, in this process
// only, in a table of at most MaxKeys buckets. A bucket that is full again
// is the same as no bucket, so it is removed as traffic passes (each
// Allow removes up to two such buckets from the least recently used end);
// a new key when the table is full evicts the least recently used bucket
// even if it is not full (counted: Evicted), so a flood of distinct keys
// costs a bounded amount of memory and, at worst, gives a bucket back its
// burst early.
//
// Time is time.Now, so testing/synctest's fake clock drives it. It is safe
// for concurrent use and starts no goroutine.
type Memory struct {
	seed     maphash.Seed
	perShard int
	shards   [shardCount]shard
	evicted  atomic.Uint64

	mu       sync.Mutex
	limiters map[limKey]*memLimiter
}

// limKey names a limiter: a name with one config. A load that asks for
// another config under the same name (a reload, perhaps one that is then
// refused) gets a limiter of its own and never disturbs the one serving.
type limKey struct {
	name string
	cfg  Config
}

type shard struct {
	mu         sync.Mutex
	m          map[bucketKey]*bucket
	head, tail *bucket  // most and least recently used
	_          [40]byte // keep shards on their own cache lines
}

// bucketKey names a bucket: its limiter (one endpoint) and key value.
// hashed tells a SHA-256 held for a long key from a short key of the same
// bytes.
type bucketKey struct {
	l      *memLimiter
	hashed bool
	k      string
}

type bucket struct {
	key        bucketKey
	lim        *rate.Limiter
	fullAt     time.Time // when the bucket is full again
	prev, next *bucket
}

// NewMemory makes an empty store.
func NewMemory(o MemoryOptions) *Memory {
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	m := &Memory{seed: maphash.MakeSeed(), perShard: max(1, (o.MaxKeys+shardCount-1)/shardCount),
		limiters: map[limKey]*memLimiter{}}
	for i := range m.shards {
		m.shards[i].m = make(map[bucketKey]*bucket)
	}
	return m
}

// Limiter is the limiter of one endpoint (name, such as its route): its
// buckets are its own. Names come from the configuration (routes, API key
// clients), never from requests. Asking again with the same name and
// config (a reload) gives the same limiter, so counts survive; another
// config is another limiter, with new buckets, and the first stays as it
// is until Retain drops it.
func (m *Memory) Limiter(name string, cfg Config) (Limiter, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := limKey{name, cfg}
	if l := m.limiters[k]; l != nil {
		return l, nil
	}
	l := &memLimiter{m: m, cfg: cfg, limit: rate.Limit(cfg.Rate.PerSecond()),
		perToken: float64(cfg.Rate.Per) / float64(cfg.Rate.N)}
	m.limiters[k] = l
	return l, nil
}

// Len is the number of buckets held.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// Evicted counts buckets evicted before they were full again because the
// table was full.
func (m *Memory) Evicted() uint64 { return m.evicted.Load() }

type memLimiter struct {
	m        *Memory
	cfg      Config
	limit    rate.Limit
	perToken float64 // nanoseconds one token takes to come back
}

// Allow takes one request from key's bucket. It never fails and does not
// allocate unless key is new (or longer than maxKeyLen).
func (l *memLimiter) Allow(_ context.Context, key string) (Decision, error) {
	now := time.Now()
	bk := bucketKey{l: l, k: key}
	if len(key) > maxKeyLen {
		sum := sha256.Sum256([]byte(key))
		bk.hashed, bk.k = true, string(sum[:])
	}
	s := &l.m.shards[maphash.String(l.m.seed, bk.k)%shardCount]
	s.mu.Lock()
	b := s.m[bk]
	if b == nil {
		b = s.insert(l.m, bk, rate.NewLimiter(l.limit, l.cfg.Burst), now)
	} else {
		s.touch(b)
	}
	ok := b.lim.AllowN(now, 1)
	tokens := b.lim.TokensAt(now)
	reset := time.Duration((float64(l.cfg.Burst) - tokens) * l.perToken)
	b.fullAt = now.Add(reset)
	s.sweep(now, b)
	s.mu.Unlock()

	d := Decision{Allowed: ok, Limit: l.cfg.Burst, Remaining: int(tokens), Reset: reset}
	if !ok {
		d.RetryAfter = time.Duration((1 - tokens) * l.perToken)
	}
	return d, nil
}

// insert adds b as the most recently used, evicting the least recently
// used bucket when the shard is full.
func (s *shard) insert(m *Memory, k bucketKey, lim *rate.Limiter, now time.Time) *bucket {
	if len(s.m) >= m.perShard {
		old := s.tail
		if old.fullAt.After(now) {
			m.evicted.Add(1)
		}
		s.remove(old)
	}
	b := &bucket{key: k, lim: lim}
	s.m[k] = b
	s.pushFront(b)
	return b
}

// sweep removes up to sweepPerCall least recently used buckets that are
// full again at now; keep is the bucket in use.
func (s *shard) sweep(now time.Time, keep *bucket) {
	for range sweepPerCall {
		b := s.tail
		if b == nil || b == keep || b.fullAt.After(now) {
			return
		}
		s.remove(b)
	}
}

func (s *shard) touch(b *bucket) {
	if s.head == b {
		return
	}
	s.unlink(b)
	s.pushFront(b)
}

func (s *shard) remove(b *bucket) {
	s.unlink(b)
	delete(s.m, b.key)
}

func (s *shard) pushFront(b *bucket) {
	b.prev, b.next = nil, s.head
	if s.head != nil {
		s.head.prev = b
	}
	s.head = b
	if s.tail == nil {
		s.tail = b
	}
}

func (s *shard) unlink(b *bucket) {
	if b.prev != nil {
		b.prev.next = b.next
	} else {
		s.head = b.next
	}
	if b.next != nil {
		b.next.prev = b.prev
	} else {
		s.tail = b.prev
	}
	b.prev, b.next = nil, nil
}

// Retain drops every limiter but those in keep, with their buckets: a
// reload that removes an endpoint or changes its limit frees what the old
// limiter counted, and the limiters a refused load asked for go too.
// Limiters kept go on counting.
func (m *Memory) Retain(keep []Limiter) {
	live := map[*memLimiter]bool{}
	for _, l := range keep {
		if ml, ok := l.(*memLimiter); ok && ml.m == m {
			live[ml] = true
		}
	}
	m.mu.Lock()
	for k, l := range m.limiters {
		if !live[l] {
			delete(m.limiters, k)
		}
	}
	m.mu.Unlock()
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for b := s.head; b != nil; {
			next := b.next
			if !live[b.key.l] {
				s.remove(b)
			}
			b = next
		}
		s.mu.Unlock()
	}
}

// Limiters is the number of limiters held.
func (m *Memory) Limiters() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.limiters)
}

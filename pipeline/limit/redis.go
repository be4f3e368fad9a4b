package limit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"frontdesk/pipeline/store"
)

// gcra is the whole decision in one round trip. The bucket is its
// theoretical arrival time (TAT, in microseconds of the server's clock, so
// replicas with skewed clocks agree): a request is allowed when moving the
// TAT one interval later keeps it within burst intervals of now. The key
// expires when the bucket is full again, so idle keys cost Redis nothing.
//
// KEYS[1] the bucket; ARGV[1] the interval in microseconds (may be
// fractional); ARGV[2] the burst. Returns {allowed, remaining, reset µs,
// retry-after µs}.
const gcra = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now) or now
if tat < now then tat = now end
local span = burst * interval
local new_tat = tat + interval
-- 1µs of slack: a fractional interval summed burst times may round a
-- hair past span.
if new_tat - now > span + 1 then
  return {0, 0, math.ceil(tat - now), math.max(1, math.ceil(new_tat - now - span))}
end
redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', math.max(1, math.ceil((new_tat - now) / 1000)))
return {1, math.max(0, math.floor((span - (new_tat - now)) / interval + 1e-9)), math.ceil(new_tat - now), 0}
`

var gcraScript = redis.NewScript(gcra)

// Redis keeps one bucket per endpoint and key value in a Redis server that
// every replica shares, so together they never let more than the limit
// through. Each Allow is one script call (EVALSHA, EVAL when the server
// does not have it yet), bounded by the connection's timeout.
type Redis struct {
	conn *store.Redis
}

// NewRedis makes a store on conn.
func NewRedis(conn *store.Redis) *Redis { return &Redis{conn: conn} }

// Limiter is the limiter of one endpoint (name, such as its route). Its
// keys are PREFIX "rl:" len(name) ":" name ":" then "v:" and the key
// value, or "h:" and the key value's SHA-256 in hex when it is longer
// than 64 bytes: no two endpoints or key values share a Redis key, and no
// client value can make a key long.
func (s *Redis) Limiter(name string, cfg Config) (Limiter, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	interval := float64(cfg.Rate.Per/time.Microsecond) / float64(cfg.Rate.N)
	return &redisLimiter{
		conn:     s.conn,
		base:     s.conn.Prefix() + "rl:" + strconv.Itoa(len(name)) + ":" + name + ":",
		cfg:      cfg,
		interval: strconv.FormatFloat(interval, 'f', -1, 64),
		burst:    strconv.Itoa(cfg.Burst),
	}, nil
}

type redisLimiter struct {
	conn            *store.Redis
	base            string
	cfg             Config
	interval, burst string
}

// Key is the Redis key of a key value's bucket.
func (l *redisLimiter) Key(key string) string {
	if len(key) > maxKeyLen {
		sum := sha256.Sum256([]byte(key))
		return l.base + "h:" + hex.EncodeToString(sum[:])
	}
	return l.base + "v:" + key
}

func (l *redisLimiter) Allow(ctx context.Context, key string) (Decision, error) {
	var res []int64
	err := l.conn.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		var err error
		res, err = gcraScript.Run(ctx, c, []string{l.Key(key)}, l.interval, l.burst).Int64Slice()
		return err
	})
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit store: %w", err)
	}
	if len(res) != 4 {
		return Decision{}, errors.New("rate limit store: unexpected script answer")
	}
	return Decision{
		Allowed:    res[0] == 1,
		Limit:      l.cfg.Burst,
		Remaining:  int(res[1]),
		Reset:      time.Duration(res[2]) * time.Microsecond,
		RetryAfter: time.Duration(res[3]) * time.Microsecond,
	}, nil
}

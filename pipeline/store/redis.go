package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults of gateway.json "redis".
const (
	DefaultPrefix  = "frontdesk:"
	DefaultTimeout = 100 * time.Millisecond
)

// Bounds of the fail-fast latch and of the configuration.
const (
	// downAfter consecutive failed commands make the store fail fast
	// (ErrDown, no network) for the DownFor window.
	downAfter = 5
	// MaxTimeout bounds redis.timeout: a store that may take longer than
	// this per command is a hang in all but name.
	MaxTimeout = 10 * time.Second
	maxPrefix  = 256
	poolSize   = 64
)

// ErrDown is a command refused without being sent: the last commands all
// failed, and the store waits out DownFor before it tries again.
var ErrDown = errors.New("redis: down, not tried")

// Config is gateway.json "redis".
type Config struct {
	URL     string        // redis:// or rediss://, with the database number
	Prefix  string        // put in front of every key; "" is DefaultPrefix
	Timeout time.Duration // for each command; 0 is DefaultTimeout
	// DownFor is how long the store fails fast after downAfter
	// consecutive failures; 0 is one second.
	DownFor time.Duration
}

// Redis is a Redis connection pool with the gateway's rules: every
// command is bounded by Timeout, no command is retried, and while the
// server keeps failing commands fail at once (ErrDown) for DownFor. It is
// safe for concurrent use.
type Redis struct {
	client  *redis.Client
	prefix  string
	timeout time.Duration
	downFor time.Duration

	fails     atomic.Int32
	downUntil atomic.Int64 // unix nanoseconds
	errs      atomic.Uint64
}

// quiet silences go-redis's own log (a line per failed dial, unbounded
// while Redis is down, on standard error): the stores count every failure
// and their stages log them at a bounded rate.
var quiet sync.Once

type discard struct{}

func (discard) Printf(context.Context, string, ...any) {}

// Open checks cfg and makes the pool; it connects lazily, so a Redis that
// is down at start is not a load error (its commands fail, and each
// store's policy decides).
func Open(cfg Config) (*Redis, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if len(cfg.Prefix) > maxPrefix {
		return nil, fmt.Errorf("redis.prefix: longer than %d bytes", maxPrefix)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Timeout < 0 || cfg.Timeout > MaxTimeout {
		return nil, fmt.Errorf("redis.timeout: %s is not between 0 and %s", cfg.Timeout, MaxTimeout)
	}
	if cfg.DownFor <= 0 {
		cfg.DownFor = time.Second
	}
	if !strings.HasPrefix(cfg.URL, "redis://") && !strings.HasPrefix(cfg.URL, "rediss://") {
		return nil, errors.New("redis.url: must start with redis:// or rediss://")
	}
	quiet.Do(func() { redis.SetLogger(discard{}) })
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		// go-redis's message may quote the URL, password included.
		return nil, errors.New("redis.url: not a valid Redis URL")
	}
	// Every wait of the client is bounded by the command timeout, and a
	// failed command is not tried again: the caller's policy decides.
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout = cfg.Timeout
	opt.DialerRetries = 1
	opt.ReadTimeout = cfg.Timeout
	opt.WriteTimeout = cfg.Timeout
	opt.PoolTimeout = cfg.Timeout
	opt.MaxRetries = -1
	opt.PoolSize = poolSize
	// RESP2 and no handshake extras: nothing at connect that an older or
	// managed server could answer slowly or refuse.
	opt.Protocol = 2
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return &Redis{client: redis.NewClient(opt), prefix: cfg.Prefix, timeout: cfg.Timeout, downFor: cfg.DownFor}, nil
}

// Client is the go-redis client, for stores that run their own commands
// through Do.
func (r *Redis) Client() *redis.Client { return r.client }

// Prefix is put in front of every key.
func (r *Redis) Prefix() string { return r.prefix }

// Timeout bounds each command.
func (r *Redis) Timeout() time.Duration { return r.timeout }

// Errors is the number of commands that failed (timeouts, connection
// errors, ErrDown), for frontdesk_store_errors_total{store="redis"}.
func (r *Redis) Errors() uint64 { return r.errs.Load() }

// Down reports whether commands fail fast now.
func (r *Redis) Down() bool { return time.Now().UnixNano() < r.downUntil.Load() }

// Do runs one command within Timeout: f gets a context that ends then.
// It returns f's error, or ErrDown without calling f while the store is
// down. redis.Nil (a missing key) is not a failure.
func (r *Redis) Do(ctx context.Context, f func(ctx context.Context, c *redis.Client) error) error {
	if r.Down() {
		r.errs.Add(1)
		return ErrDown
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	err := f(cctx, r.client)
	cancel()
	if err != nil && ctx.Err() != nil {
		return err // the caller gave up: no news about the server
	}
	if err != nil && !errors.Is(err, redis.Nil) && !isReply(err) {
		r.errs.Add(1)
		if r.fails.Add(1) >= downAfter {
			r.downUntil.Store(time.Now().Add(r.downFor).UnixNano())
		}
		return err
	}
	r.fails.Store(0)
	return err
}

func isDown(err error) bool { return errors.Is(err, ErrDown) }

// isReply is an error the server answered (a script error, a wrong type):
// the server is up, so it does not count towards the latch, though the
// caller still sees it.
func isReply(err error) bool {
	_, ok := errors.AsType[redis.Error](err)
	return ok && !errors.Is(err, context.DeadlineExceeded)
}

// Close closes the pool.
func (r *Redis) Close() error { return r.client.Close() }

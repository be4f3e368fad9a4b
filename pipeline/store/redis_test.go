package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		err string
	}{
		{Config{URL: "http://127.0.0.1:6379"}, "must start with redis://"},
		{Config{URL: "redis://:s3cret@127.0.0.1:notaport/0"}, "not a valid Redis URL"},
		{Config{URL: "redis://127.0.0.1:6379/0", Timeout: -time.Second}, "redis.timeout"},
		{Config{URL: "redis://127.0.0.1:6379/0", Timeout: time.Minute}, "redis.timeout"},
		{Config{URL: "redis://127.0.0.1:6379/0", Prefix: strings.Repeat("p", 300)}, "redis.prefix"},
	} {
		_, err := Open(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%+v: %v", tc.cfg, err)
		}
	}
	r, err := Open(Config{URL: "redis://127.0.0.1:6379/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Prefix() != DefaultPrefix || r.Timeout() != DefaultTimeout {
		t.Errorf("defaults: %q %s", r.Prefix(), r.Timeout())
	}
}

type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

// TestDownLatch: five failures in a row make the store fail fast for
// DownFor without running the command; then it tries again. Answers from
// the server (a script error, a missing key) and a caller that gave up do
// not count as failures.
func TestDownLatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := Open(Config{URL: "redis://127.0.0.1:1/0", DownFor: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ctx := context.Background()
		ran := 0
		fail := func(context.Context, *redis.Client) error { ran++; return errors.New("dial tcp: connection refused") }
		ok := func(context.Context, *redis.Client) error { ran++; return nil }
		reply := func(context.Context, *redis.Client) error { ran++; return replyError("ERR wrong type") }
		missing := func(context.Context, *redis.Client) error { ran++; return redis.Nil }
		for range 4 {
			r.Do(ctx, fail)
		}
		r.Do(ctx, reply)
		r.Do(ctx, missing)
		if r.Down() {
			t.Fatal("down after replies")
		}
		r.Do(ctx, fail) // the fifth failure, but the replies reset the count
		if r.Down() {
			t.Fatal("replies did not reset the count")
		}
		for range 4 {
			r.Do(ctx, fail)
		}
		if !r.Down() {
			t.Fatal("not down after 5 failures in a row")
		}
		ran = 0
		if err := r.Do(ctx, ok); !errors.Is(err, ErrDown) || ran != 0 {
			t.Fatalf("while down: %v, ran %d", err, ran)
		}
		time.Sleep(time.Second)
		if err := r.Do(ctx, ok); err != nil || ran != 1 || r.Down() {
			t.Fatalf("after DownFor: %v, ran %d", err, ran)
		}
		// A caller that gave up says nothing about the server.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		for range 10 {
			r.Do(cctx, func(ctx context.Context, _ *redis.Client) error { return ctx.Err() })
		}
		if r.Down() {
			t.Error("cancelled callers made the store down")
		}
		if r.Errors() != 10 {
			t.Errorf("errors %d, want 10 (9 failures, 1 refused while down)", r.Errors())
		}
	})
}

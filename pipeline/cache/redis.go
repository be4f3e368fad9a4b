package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"frontdesk/pipeline/store"
)

// Redis is a Store in the Redis server the replicas share: an answer
// cached by one is a hit on every other. Keys are PREFIX "c:" and the
// 64-byte key; each entry expires in Redis (SET PX). Every command is
// bounded by the connection's timeout; an error is the caller's miss.
type Redis struct {
	conn     *store.Redis
	base     string
	maxEntry int
}

// NewRedis makes a store on conn; maxEntry 0 is DefaultMaxEntry.
func NewRedis(conn *store.Redis, maxEntry int) (*Redis, error) {
	if maxEntry == 0 {
		maxEntry = DefaultMaxEntry
	}
	if maxEntry < 0 || maxEntry > 512<<20 {
		return nil, fmt.Errorf("cache max entry: %d is not between 0 and 512MB", maxEntry)
	}
	return &Redis{conn: conn, base: conn.Prefix() + "c:", maxEntry: maxEntry}, nil
}

// MaxEntry is the largest value Set takes.
func (s *Redis) MaxEntry() int { return s.maxEntry }

// Get is GET.
func (s *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	var b []byte
	err := s.conn.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		var err error
		b, err = c.Get(ctx, s.base+key).Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("cache store: %w", err)
	}
	if len(b) > s.maxEntry {
		return nil, false, nil // written by a replica with a larger bound
	}
	return b, true, nil
}

// Set is SET PX.
func (s *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if len(value) > s.maxEntry {
		return ErrTooBig
	}
	ms := max(ttl.Milliseconds(), 1)
	err := s.conn.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		return c.Do(ctx, "SET", s.base+key, value, "PX", ms).Err()
	})
	if err != nil {
		return fmt.Errorf("cache store: %w", err)
	}
	return nil
}

package cache

import (
	"context"
	"errors"
	"time"
)

// Store holds encoded entries by key, each until its own expiry.
// Implementations are safe for concurrent use.
type Store interface {
	// Get returns the value under key, and false when there is none or it
	// has expired. An error means the store could not answer (a miss, for
	// the caller, counted).
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores value under key for ttl. A value over MaxEntry is not
	// stored: ErrTooBig. The store keeps no reference to value.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// MaxEntry is the largest value Set takes, in bytes.
	MaxEntry() int
}

// ErrTooBig is a value over the store's MaxEntry: not cached, counted.
var ErrTooBig = errors.New("cache: the entry is larger than the store's max entry size")

// DefaultMaxEntry bounds one cached answer, encoded, unless a store is told
// otherwise.
const DefaultMaxEntry = 1 << 20

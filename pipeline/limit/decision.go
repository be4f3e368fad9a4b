package limit

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"frontdesk/pipeline"
)

// Decision is a limiter's answer to one request.
type Decision struct {
	Allowed bool
	// Limit is the bucket's size (the burst): RateLimit-Limit.
	Limit int
	// Remaining is the whole requests left now, after this one:
	// RateLimit-Remaining.
	Remaining int
	// Reset is the time until the bucket is full again: RateLimit-Reset,
	// in whole seconds rounded up.
	Reset time.Duration
	// RetryAfter is the time until one request is allowed; 0 when this one
	// was.
	RetryAfter time.Duration
}

// Limiter decides whether one more request with a key value may go on now.
// Implementations are safe for concurrent use.
//
// Allow returns an error only when its store could not answer (a Redis
// timeout or connection error); the Decision is then the zero value and
// the caller's OnStoreError policy decides.
type Limiter interface {
	Allow(ctx context.Context, key string) (Decision, error)
}

// Header names of the rate-limit state.
const (
	HeaderLimit     = "RateLimit-Limit"
	HeaderRemaining = "RateLimit-Remaining"
	HeaderReset     = "RateLimit-Reset"
)

// SetHeaders writes d's RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset on h, under their canonical keys (Ratelimit-Limit: names
// are case-insensitive, and Get finds only canonical keys).
func (d Decision) SetHeaders(h http.Header) {
	h.Set(HeaderLimit, strconv.Itoa(d.Limit))
	h.Set(HeaderRemaining, strconv.Itoa(max(d.Remaining, 0)))
	h.Set(HeaderReset, strconv.FormatInt(ceilSeconds(d.Reset), 10))
}

// Err is nil for an allowed request, else the *pipeline.LimitError the
// error table answers 429 with Retry-After (whole seconds, at least 1).
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	return &pipeline.LimitError{RetryAfter: d.RetryAfter}
}

// ceilSeconds is d in whole seconds, rounded up, never negative.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

package backend

import (
	"sync"
	"time"
)

// retryBudget counts a service's requests and retries over a rolling
// window, so that retries (hedges included) stay a share of the traffic:
// a failing backend then gets at most that much more load, never a storm.
type retryBudget struct {
	mu      sync.Mutex
	period  int64 // nanoseconds per bucket
	buckets [breakerBuckets]budgetBucket
}

type budgetBucket struct {
	at       int64 // the bucket's number, now / period
	requests int64
	retries  int64
}

func newRetryBudget(window time.Duration) *retryBudget {
	return &retryBudget{period: max(int64(window)/breakerBuckets, 1)}
}

// bucket returns the current bucket, emptied when it last held an older
// period.
func (b *retryBudget) bucket(now int64) *budgetBucket {
	at := now / b.period
	k := &b.buckets[at%breakerBuckets]
	if k.at != at {
		*k = budgetBucket{at: at}
	}
	return k
}

// request counts one request (a call's first try).
func (b *retryBudget) request() {
	b.mu.Lock()
	b.bucket(time.Now().UnixNano()).requests++
	b.mu.Unlock()
}

// allow reports whether one more retry fits in share of the window's
// requests (at least MinRetriesPerWindow), and counts it when it does.
func (b *retryBudget) allow(share float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now().UnixNano()
	cur := b.bucket(now)
	var requests, retries int64
	for i := range b.buckets {
		if k := &b.buckets[i]; k.at > cur.at-breakerBuckets {
			requests += k.requests
			retries += k.retries
		}
	}
	if float64(retries) >= max(share*float64(requests), MinRetriesPerWindow) {
		return false
	}
	cur.retries++
	return true
}

package backend

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"sync/atomic"
	"time"
)

// CallCache is a call's cache: its answers are kept in Store for TTL,
// under the call's whole request (method, target, every header the call
// sends, X-Forwarded-Host and -Proto included, the body) and, when the
// call reads auth, Identity. A cached call's request carries no value
// that is not in its key (Request.Shared): the engine leaves out the
// request id, X-Forwarded-For and the client's trace context; the
// exchange adds only the gateway's own X-Request-Timeout-Ms and span.
type CallCache struct {
	Store    Store
	TTL      time.Duration
	Identity string // "" unless the call reads auth
}

// Store is where call answers are kept: the gateway's cache store
// (pipeline/cache.Memory or Redis), whose methods these are.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	MaxEntry() int
}

// CacheStats counts what call caches of a client did.
type CacheStats struct {
	Hits, Misses, Stored, StoreErrors uint64
}

type cacheCounters struct {
	hits, misses, stored, storeErrors atomic.Uint64
}

// CacheStats is a snapshot of the client's call cache counters.
func (c *Client) CacheStats() CacheStats {
	return CacheStats{Hits: c.cc.hits.Load(), Misses: c.cc.misses.Load(), Stored: c.cc.stored.Load(), StoreErrors: c.cc.storeErrors.Load()}
}

// cache is the first layer: a request with a CallCache is answered from
// its store when an answer is there; otherwise the layers below run
// (retries included) and a 2xx answer without Set-Cookie is stored. A
// store that fails is a miss, counted; it never fails the call.
func (c *Client) cache(next roundTrip) roundTrip {
	return func(ctx context.Context, a *attempt) (*Response, error) {
		cc := a.req.Cache
		if cc == nil || (a.req.Method != http.MethodGet && a.req.Method != http.MethodHead) {
			return next(ctx, a)
		}
		key := callKey(c.name, a.req, cc.Identity)
		if b, ok, err := cc.Store.Get(ctx, key); err != nil {
			c.cc.storeErrors.Add(1)
		} else if ok {
			var e cachedAnswer
			if json.Unmarshal(b, &e) == nil && e.Status != 0 {
				c.cc.hits.Add(1)
				return &Response{Status: e.Status, Header: e.Header, Body: e.Body}, nil
			}
			c.cc.storeErrors.Add(1)
		}
		c.cc.misses.Add(1)
		resp, err := next(ctx, a)
		if err != nil || resp.Status < 200 || resp.Status > 299 || len(resp.Header["Set-Cookie"]) > 0 {
			return resp, err
		}
		b, jerr := json.Marshal(cachedAnswer{Status: resp.Status, Header: resp.Header, Body: resp.Body})
		if jerr != nil || len(b) > cc.Store.MaxEntry() {
			return resp, nil
		}
		if err := cc.Store.Set(context.WithoutCancel(ctx), key, b, cc.TTL); err != nil {
			c.cc.storeErrors.Add(1)
		} else {
			c.cc.stored.Add(1)
		}
		return resp, nil
	}
}

type cachedAnswer struct {
	Status int         `json:"s"`
	Header http.Header `json:"h"`
	Body   []byte      `json:"b"`
}

// callKey hashes the service, the request and the identity, each field
// with its length in front, so no value can make two requests share a key.
func callKey(service string, req *Request, identity string) string {
	b := make([]byte, 0, 256+len(req.Body))
	field := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	field("frontdesk call cache v1")
	field(service)
	field(req.Method)
	field(req.Target)
	names := make([]string, 0, len(req.Header))
	for k := range req.Header {
		names = append(names, k) // every one: a backend may build its answer from any
	}
	sort.Strings(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, k := range names {
		field(k)
		b = binary.AppendUvarint(b, uint64(len(req.Header[k])))
		for _, v := range req.Header[k] {
			field(v)
		}
	}
	if req.Body == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		field(string(req.Body))
	}
	field(identity)
	sum := sha256.Sum256(b)
	return "call:" + hex.EncodeToString(sum[:])
}

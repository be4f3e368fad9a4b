// Package cache is the response-cache stage of the edge: auth -> rate
// limit -> cache -> plan. A hit answers at once (Cache-Status: frontdesk;
// hit, with Age); a miss runs the rest of the chain once per key however
// many clients ask at the same moment (singleflight, detached from any one
// client), stores the answer when it may be stored, and answers
// Cache-Status: frontdesk; fwd=miss.
//
// The engine makes one Cache per endpoint with cache, from the endpoint's
// Config, the gateway's Store (Memory on bigcache, or Redis shared by the
// replicas) and a KeyFunc that gives each request's key parts: the method
// and route, every request value the endpoint's expressions read (ReadParts
// reads params, query and headers; the engine adds auth and body values),
// the vary values, and the client's identity. BuildKey turns them into one
// unambiguous, fixed-size key.
//
//	store, err := cache.NewMemory(cache.MemoryOptions{MaxSize: 256 << 20})
//	c, err := cache.New(store, cache.Config{TTL: 30 * time.Second, Scope: cache.ScopeUser}, keyOf, log)
//	handler := c.Stage(plan)
//
// Never stored: answers other than 2xx, answers with Partial-Response or
// Set-Cookie, answers whose own Cache-Control says no-store (or private,
// in a shared cache), answers to requests with Cache-Control: no-store,
// and entries over the store's MaxEntry (counted). Only GET and HEAD are
// cached.
package cache

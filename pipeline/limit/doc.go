// Package limit is the rate-limit stage of the edge: auth -> rate limit ->
// cache -> plan. A request over its limit is answered 429 at once
// (*pipeline.LimitError) and no backend is called; every answer of a
// limited endpoint carries RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset.
//
// A bucket belongs to one endpoint and one key value. The engine makes one
// Limiter per endpoint (and per API key client with a rate_limit of its
// own) from a Store, naming the endpoint, and gives the stage the key value
// of each request (the client, the IP, or an expression's value):
//
//	mem := limit.NewMemory(limit.MemoryOptions{})            // or limit.NewRedis(conn)
//	lim, err := mem.Limiter("GET /checkout/{cart_id}", cfg) // cfg from ParseConfig
//	stage := (&limit.Guard{Pick: ..., OnStoreError: limit.Allow}).Stage
//
// Two stores: Memory holds a token bucket per key (golang.org/x/time/rate)
// in a bounded table that forgets idle keys; Redis shares one bucket per
// key between every replica, as GCRA in one Lua script per request, and
// when Redis does not answer within its timeout the Guard's OnStoreError
// decides (Allow, or Deny: 503 store-unavailable).
package limit

// Package pipeline is the shared edge every endpoint sits behind: panic
// recovery, request ids, and the one place request errors become
// application/problem+json responses. Later stages (auth, rate limit, cache)
// join the list in Edge, in execution order.
//
// pipeline never imports engine: engine builds each Plan's handler and wraps
// it with Chain(p, Edge(log)...).
package pipeline

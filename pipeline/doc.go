// Package pipeline is the shared edge every endpoint sits behind: panic
// recovery, request ids, admission, and the one place request errors become
// application/problem+json responses. Stages with a configuration of their
// own live in packages below it (pipeline/cors, pipeline/auth); Edge lists
// every stage in execution order, and later ones (rate limit, cache) join
// that list as they are built.
//
// pipeline never imports engine: engine builds each Plan's handler and wraps
// it with Chain(p, Edge(EdgeParts{...})...), the Auth part being the plan's
// own.
package pipeline

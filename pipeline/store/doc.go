// Package store is the connection to the Redis server that gateway replicas
// share (gateway.json "redis"): the rate-limit and cache stores of
// pipeline/limit and pipeline/cache both run their commands through one
// *Redis, so both get the same prefix, the same per-command timeout, the
// same error count and the same fail-fast latch while Redis is down.
//
// It sits below the edge stages: pipeline/limit and pipeline/cache import
// it; it imports neither, nor engine.
package store

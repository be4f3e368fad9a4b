// Package schemas holds the JSON Schemas (draft 2020-12) of the spec format:
// gateway.json, endpoint specs, spec tests and the API key file. They are embedded so the
// binary can hand them to editors and tools, and so tests can check them
// against the files in endpoints/.
//
// Every property carries a description, which editors show as a tooltip.
// The strict decoders in package engine remain the authority on what loads;
// engine's schema_sync_test.go fails when a key is known to one and not the
// other, so the two cannot drift apart. Keys the decoders accept but answer
// "not supported by this build yet" (rate_limit, cache, redis, a call's
// cache) are described here already, per the spec format.
//
// This package uses only the standard library; validating a document is up
// to the caller's JSON Schema implementation (the tests use
// github.com/santhosh-tekuri/jsonschema/v6).
package schemas

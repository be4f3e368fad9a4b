// Package tracing is the gateway's OpenTelemetry tracing: one Tracer per
// loaded gateway (never the global provider or propagator, so a reload's
// new gateway and the old one it replaces each export and shut down their
// own spans), a server span stage for the edge, and client spans for the
// backend client's attempts.
//
// Its place in the flow: Stage sits right after the metrics stage in
// pipeline.Edge, so the server span covers recover, auth, the rate limit
// and the cache; engine/backend starts a client span per attempt (below
// balance, so each try and hedge has its own) and injects its context as
// W3C traceparent/tracestate into that attempt's request.
//
// A nil *Tracer is tracing off: the engine then leaves the stage and the
// backend layer out entirely, so a request pays one nil check.
//
// No header value, token, cookie or API key is ever put in an attribute.
package tracing

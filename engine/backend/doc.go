// Package backend is the gateway's client for one backend service: built
// once at load from the service's configuration, it takes a request the
// engine has built (method, path and query, headers, body) and returns the
// backend's whole answer or a typed call failure.
//
// A Client is a short list of layers, each in its own file and each
// testable alone; layers lists them in the order they run:
//
//	cache     -> a call's cached answer (calls.NAME.cache), before any try
//	breaker   -> fail at once while the service's circuit breaker is open
//	retry     -> another try, on another instance, after a retryable failure
//	hedge     -> a second try elsewhere when the first is slow
//	connLimit -> wait for a free connection under max_connections
//	balance   -> pick an instance; passive health (ejection)
//	span      -> a client span per attempt (only with a tracer)
//	exchange  -> the HTTP round trip, the body limit, and the status kept
//
// Picking an instance sits below retry, not above it, because each try
// goes to another instance. The status is classified (accept_status) in
// Do, around the list, since retry and health need the raw status first.
// Client spans are one more layer (span.go), at the bottom when tracing is
// on; metrics will be another, not an edit in the middle of a long function.
//
// Errors are *pipeline.CallError values naming the call, so the edge maps
// them to a status and a problem document through its one table.
package backend

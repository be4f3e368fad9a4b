// Package engine turns spec files into running endpoints.
//
// Load reads gateway.json and every endpoint spec through a JSON parser that
// keeps positions (ParseJSON), decodes them strictly, checks them against
// the embedded JSON Schemas, compiles every expression and path template,
// infers each endpoint's call graph from the names its expressions read, and
// reports every problem at once with file:line:col and a rule id. Lint and
// the server both call Load: what lints clean serves.
//
// A Plan is one compiled endpoint: immutable, an http.Handler, shared by
// every request. Serving a request is an exchange (exchange.go): the
// request's names are read once (request.go, env.go), every call starts as
// soon as the calls it reads are done (schedule.go), each call's request is
// built (callrequest.go) and sent through its service's client
// (engine/backend), backend bodies are checked and kept as bytes
// (answer.go, result.go), and the response is appended in spec order
// (compose.go). Only the keys expressions read are decoded; plain
// paths are spliced from the backend's bytes (Options.NoFastPaths turns
// that off, and the differential tests hold both ways to one output).
//
// Each Plan is mounted behind the edge that pipeline.Edge lists, built at
// load: the stages every endpoint shares (admission, CORS from gateway.json's
// cors) and the plan's own auth stage (pipeline/auth, from its "auth" rule
// and gateway.json's auth providers: authconfig.go decodes them, authload.go
// builds them, authrule.go compiles the rule). The identity that stage
// proves is what expressions see as auth. Gateway.Start fetches a JWKS and
// keeps it fresh; Gateway.Close stops that.
//
// The other stages are built at load too: rate limits (pipeline/limit,
// ratelimit.go) and the response cache (pipeline/cache, cache.go), on the
// Redis connection of pipeline/store when gateway.json names one. Each
// exchange writes its access log line through pipeline/logs, its spans
// through pipeline/tracing (tracing.go) and its figures to engine/metrics.
//
// In the flow: cmd -> engine -> {engine/backend, engine/metrics, pipeline,
// pipeline/auth, pipeline/cache, pipeline/cors, pipeline/limit,
// pipeline/logs, pipeline/store, pipeline/tracing, schemas, transform}.
package engine

// Package auth is the auth stage of the edge: it finds a client's
// credentials (a bearer token, a JWT cookie, an API key), verifies them, and
// checks the endpoint's rule (require, scopes, allow) before anything else
// of the endpoint runs. A refused request is answered 401 or 403 as
// application/problem+json through pipeline.WriteError, and no backend is
// called.
//
// Its place in the flow (pipeline.Edge lists it):
//
//	recover -> request id -> admit -> CORS -> auth -> plan
//
// The gateway-wide parts are built once at load: a JWT verifier (NewJWT:
// a shared secret, PEM public keys, or a JWKS URL kept fresh in the
// background) and an API key set (NewAPIKeys: SHA-256 hashes only). Each
// endpoint's rule becomes its own stage (NewStage), which only runs: nothing
// is parsed or looked up by name per request beyond the credentials
// themselves.
//
// The identity a request proves travels on its context (FromContext); the
// engine shows it to expressions as auth (Identity.Env). Tokens and keys
// never appear in logs, metrics or problem documents: refusals carry a
// fixed phrase (Refusal) and nothing of what the client sent.
package auth

package auth

import "errors"

// MaxCredential bounds a token or an API key: a longer one is refused (401)
// before it is hashed, decoded or looked up.
const MaxCredential = 8 << 10

// Refusal is why credentials were refused: a fixed phrase that names the
// fault and nothing the client sent, so it is safe in a problem document
// and a log line.
type Refusal struct{ reason string }

func (r *Refusal) Error() string { return r.reason }

func refusal(s string) *Refusal { return &Refusal{s} }

// The reasons a token or key is refused.
var (
	ErrTooLarge      = refusal("it is larger than 8 KB")
	ErrMalformed     = refusal("it is not a well-formed JSON Web Token")
	ErrAlgorithm     = refusal("its signing algorithm is not accepted")
	ErrSignature     = refusal("its signature does not verify")
	ErrUnknownKey    = refusal("it names a key the issuer does not publish")
	ErrExpired       = refusal("it has expired")
	ErrNotYetValid   = refusal("it is not valid yet")
	ErrIssuedFuture  = refusal("it was issued in the future")
	ErrNoExpiry      = refusal("it has no exp claim")
	ErrIssuer        = refusal("its issuer is not accepted")
	ErrAudience      = refusal("its audience is not accepted")
	ErrClaims        = refusal("its claims are malformed")
	ErrUnknownAPIKey = refusal("it is not known")
)

// ErrUnavailable is a token that cannot be checked because the issuer's
// key set has never been fetched: the gateway answers 503 (with
// Retry-After), not 401, so a client keeps a token that may well be good.
var ErrUnavailable = errors.New("the issuer's keys have not been fetched yet")

package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"frontdesk/pipeline"
	"frontdesk/transform"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

// JWTConfig is the gateway's auth.jwt, with its files read. Exactly one of
// Secret, PublicKeys and JWKSURL is set.
type JWTConfig struct {
	Secret     []byte
	PublicKeys []PEMFile
	JWKSURL    string

	Issuer     string   // the iss a token must carry; "" checks none
	Audience   []string // a token's aud must name one of these; none checks none
	Algorithms []string // the allow-list; "none" is never in it
	Leeway     time.Duration
	Cookie     string // also read the token from this cookie when no Authorization: Bearer is sent

	// Logger receives JWKS refresh failures; nil discards them.
	Logger *slog.Logger
	// HTTPClient fetches the JWKS; nil means one with a 5s timeout.
	HTTPClient *http.Client
	// JWKSRefresh and JWKSUnknownKID change DefaultJWKSRefresh and
	// DefaultJWKSUnknownKID.
	JWKSRefresh, JWKSUnknownKID time.Duration
	// CacheSize bounds the verified-token cache (DefaultCacheSize when 0;
	// negative turns it off).
	CacheSize int
}

// PEMFile is one file of public_keys: its name, for messages, and its bytes.
type PEMFile struct {
	Name string
	Data []byte
}

// ConfigError is a problem with a JWTConfig, naming the key it is about
// (and the list element, for algorithms and public_keys) so the loader can
// point at it. NewJWT may return several, joined (errors.Join).
type ConfigError struct {
	Field string // "algorithms", "public_keys", "secret", "jwks_url", "cookie"
	Index int    // the element of a list field, else -1
	Msg   string
}

func (e *ConfigError) Error() string { return e.Field + ": " + e.Msg }

func cfgErr(field string, i int, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Index: i, Msg: fmt.Sprintf(format, args...)}
}

// JWT verifies bearer tokens. It is built once per gateway and safe for
// concurrent use.
type JWT struct {
	parser *jwt.Parser
	algs   []string
	cookie string
	static any   // the key (a []byte secret) or a keySet of PEM keys
	jwks   *jwks // or the JWKS the keys come from
	cache  *tokenCache
	// lookups counts key lookups: signatures checked, not served from the
	// cache (tests read it).
	lookups atomic.Int64
}

// keySet is the typed keys of public_keys.
type keySet []any

// NewJWT checks cfg and builds the verifier. It starts nothing: with a
// jwks_url, Start fetches the key set and keeps it fresh; without Start the
// first token fetches it.
func NewJWT(cfg JWTConfig) (*JWT, error) {
	sources := 0
	for _, set := range []bool{cfg.Secret != nil, cfg.PublicKeys != nil, cfg.JWKSURL != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, cfgErr("jwt", -1, "give exactly one key source: jwks_url, public_keys or secret (%d given)", sources)
	}
	if len(cfg.Algorithms) == 0 {
		return nil, cfgErr("algorithms", -1, "list the accepted signing algorithms explicitly, such as [\"RS256\"]")
	}
	var errs []error // every problem of the list at once
	for i, a := range cfg.Algorithms {
		switch {
		case strings.EqualFold(a, "none"):
			errs = append(errs, cfgErr("algorithms", i, "\"none\" is never accepted: an unsigned token proves nothing"))
		case !slices.Contains(Algorithms, a):
			errs = append(errs, cfgErr("algorithms", i, "%q is not one of %s", a, strings.Join(Algorithms, ", ")))
		case slices.Contains(cfg.Algorithms[:i], a):
			errs = append(errs, cfgErr("algorithms", i, "%q is listed twice", a))
		case cfg.Secret != nil && !hmacAlg(a):
			errs = append(errs, cfgErr("algorithms", i, "%s needs a public key, but the key source is a secret, which only HS256, HS384 and HS512 use", a))
		case cfg.Secret == nil && hmacAlg(a):
			errs = append(errs, cfgErr("algorithms", i, "%s needs a shared secret; with jwks_url or public_keys only public-key algorithms apply", a))
		case cfg.Secret != nil && len(cfg.Secret) < hmacKeyBytes(a):
			errs = append(errs, cfgErr("secret", -1, "%s needs a secret of at least %d bytes (RFC 7518 3.2); this one has %d", a, hmacKeyBytes(a), len(cfg.Secret)))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.Cookie != "" && !pipeline.IsToken(cfg.Cookie) {
		return nil, cfgErr("cookie", -1, "%q is not a cookie name", cfg.Cookie)
	}
	v := &JWT{algs: slices.Clone(cfg.Algorithms), cookie: cfg.Cookie, cache: newTokenCache(cfg.CacheSize)}
	switch {
	case cfg.Secret != nil:
		v.static = slices.Clone(cfg.Secret)
	case cfg.PublicKeys != nil:
		var keys keySet
		for i, f := range cfg.PublicKeys {
			k, err := ParsePublicKeys(f.Data)
			if err != nil {
				return nil, cfgErr("public_keys", i, "%s: %v", f.Name, err)
			}
			keys = append(keys, k...)
		}
		for i, a := range cfg.Algorithms {
			if !slices.ContainsFunc(keys, func(k any) bool { return keyFits(a, k) }) {
				kinds := make([]string, len(keys))
				for j, k := range keys {
					kinds[j] = describeKey(k)
				}
				return nil, cfgErr("algorithms", i, "%s cannot verify with any key of public_keys (%s)", a, strings.Join(slices.Compact(kinds), ", "))
			}
		}
		v.static = keys
	default:
		log := cfg.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		j, err := newJWKS(cfg.JWKSURL, cfg.HTTPClient, log, cfg.JWKSRefresh, cfg.JWKSUnknownKID)
		if err != nil {
			return nil, cfgErr("jwks_url", -1, "%v", err)
		}
		v.jwks = j
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.algs),
		jwt.WithStrictDecoding(), // one token, one spelling: no second encoding of the same bytes verifies
		jwt.WithJSONNumber(),     // claims are read again, with their digits, by claimsOf
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if len(cfg.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(cfg.Audience...))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Start fetches the JWKS (when the keys come from one) and keeps it fresh
// until ctx ends or Close is called. A failed fetch is returned, naming the
// URL; the verifier still works, answering ErrUnavailable until a later
// fetch (in the background, or for a token) succeeds.
func (v *JWT) Start(ctx context.Context) error {
	if v.jwks == nil {
		return nil
	}
	return v.jwks.start(ctx)
}

// Close stops the background refresh Start began, and waits for it.
func (v *JWT) Close() {
	if v.jwks != nil {
		v.jwks.close()
	}
}

// Cookie is the cookie tokens may come in, or "".
func (v *JWT) Cookie() string { return v.cookie }

// Verify checks token and returns who it proves. A refused token gives a
// *Refusal; a token that cannot be checked yet, ErrUnavailable.
//
// A verified token is remembered, keyed by the SHA-256 of the whole token,
// until its exp and at most CacheTTL, and only while the key set it was
// verified with is unchanged: a hot client pays for its signature once.
func (v *JWT) Verify(ctx context.Context, token string) (*Identity, error) {
	if len(token) > MaxCredential {
		return nil, ErrTooLarge
	}
	if token == "" {
		return nil, ErrMalformed
	}
	gen := v.generation()
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
	now := time.Now()
	if id := v.cache.get(&sum, now, gen); id != nil {
		return id, nil
	}
	claims := jwt.MapClaims{}
	tok, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) { return v.key(ctx, t) })
	if err != nil {
		return nil, v.refusalOf(tok, claims, err)
	}
	values, spans, err := claimsOf(token)
	if err != nil {
		return nil, ErrClaims
	}
	id, err := identityOf(values)
	if err != nil {
		return nil, err
	}
	id.ClaimSpans = spans
	exp, _ := claims.GetExpirationTime() // required: the parser checked it
	v.cache.put(&sum, id, now, exp.Time, gen)
	return id, nil
}

func (v *JWT) generation() uint64 {
	if v.jwks != nil {
		return v.jwks.generation()
	}
	return 0
}

// key returns the key that verifies t: the secret, the PEM keys that fit
// t's algorithm, or the JWKS key its kid names.
func (v *JWT) key(ctx context.Context, t *jwt.Token) (any, error) {
	v.lookups.Add(1)
	alg := t.Method.Alg()
	switch k := v.static.(type) {
	case []byte:
		return k, nil // only HS algorithms are allowed with a secret
	case keySet:
		var fit []jwt.VerificationKey
		for _, key := range k {
			if keyFits(alg, key) {
				fit = append(fit, key)
			}
		}
		switch len(fit) {
		case 0:
			return nil, ErrUnknownKey
		case 1:
			return fit[0], nil
		}
		return jwt.VerificationKeySet{Keys: fit}, nil
	}
	return v.jwks.key(ctx, t)
}

// refusalOf turns the parser's error into the fixed reason the client is
// told.
func (v *JWT) refusalOf(tok *jwt.Token, claims jwt.MapClaims, err error) error {
	r, refused := errors.AsType[*Refusal](err)
	switch {
	case errors.Is(err, ErrUnavailable):
		return ErrUnavailable
	case refused:
		return r
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ErrMalformed
	case tok != nil && (tok.Method == nil || !slices.Contains(v.algs, tok.Method.Alg())):
		return ErrAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return ErrSignature
	case claims["exp"] == nil:
		return ErrNoExpiry
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return ErrNotYetValid
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ErrIssuedFuture
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && claims["iss"] == nil:
		return ErrIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience), errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && claims["aud"] == nil:
		return ErrAudience
	}
	return ErrClaims
}

// identityOf reads sub and the scopes: the scope claim (space-separated),
// else scp, else scopes (a list, or a space-separated string).
// claimsOf decodes a verified token's claims as the gateway decodes any
// JSON, so a numeric claim past 2^53 (a 64-bit user id) keeps its digits
// where it is passed on unchanged, through the spans.
func claimsOf(token string) (map[string]any, *transform.Spans, error) {
	parts := strings.SplitN(token, ".", 3)
	if len(parts) != 3 {
		return nil, nil, ErrMalformed
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return nil, nil, err
	}
	if _, err := transform.ScanJSON(raw, 64); err != nil {
		return nil, nil, err
	}
	raw = transform.Compact(nil, raw)
	v, spans, err := transform.DecodeSpans(raw)
	if err != nil {
		return nil, nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, ErrClaims
	}
	return m, spans, nil
}

func identityOf(claims map[string]any) (*Identity, error) {
	var sub string
	if s, ok := claims["sub"]; ok {
		if sub, ok = s.(string); !ok {
			return nil, ErrClaims
		}
	}
	var scopes []string
	for _, name := range []string{"scope", "scp", "scopes"} {
		c, ok := claims[name]
		if !ok {
			continue
		}
		switch c := c.(type) {
		case string:
			scopes = strings.Fields(c)
		case []any:
			for _, s := range c {
				str, ok := s.(string)
				if !ok {
					return nil, ErrClaims
				}
				scopes = append(scopes, str)
			}
		default:
			return nil, ErrClaims
		}
		break
	}
	return newIdentity(MethodJWT, sub, scopes, claims), nil
}

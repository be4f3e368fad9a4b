package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

var allAlgs = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// TestAcceptedPerAlgorithm: a token of every algorithm, signed with a key
// made here, verifies against a gateway configured for that algorithm.
func TestAcceptedPerAlgorithm(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			k := keyFor(t, alg)
			v := newJWT(t, k.config())
			id, err := v.Verify(context.Background(), k.mint(t, claims(nil)))
			if err != nil {
				t.Fatal(err)
			}
			if id.Method != MethodJWT || id.Subject != "u1" || !slices.Equal(id.Scopes, []string{"checkout:read", "profile"}) || id.Claims["tier"] != "gold" {
				t.Errorf("identity %+v", id)
			}
			env := id.Env()
			if env["sub"] != "u1" || env["method"] != "jwt" || len(env["scopes"].([]any)) != 2 {
				t.Errorf("auth as expressions see it: %v", env)
			}
		})
	}
}

func TestCertificateKey(t *testing.T) {
	makeKeys(t)
	k := keyFor(t, "RS256")
	c := k.config()
	c.PublicKeys = []PEMFile{{Name: "cert.pem", Data: certPEM(t, rsaKey)}}
	if _, err := newJWT(t, c).Verify(context.Background(), k.mint(t, claims(nil))); err != nil {
		t.Fatal(err)
	}
}

// TestSeveralPublicKeys: with two RSA keys in public_keys, a token signed
// by either verifies (both are tried), and one signed by a third does not.
func TestSeveralPublicKeys(t *testing.T) {
	makeKeys(t)
	c := keyFor(t, "RS256").config()
	c.PublicKeys = []PEMFile{{Name: "a.pem", Data: publicPEM(t, &rsaKey.PublicKey)}, {Name: "b.pem", Data: publicPEM(t, &rsaKey2.PublicKey)}}
	v := newJWT(t, c)
	for _, key := range []any{rsaKey, rsaKey2} {
		tok, _ := Sign("RS256", key, claims(nil), "")
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Error(err)
		}
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestRefused: each token is refused, with the reason the client is told.
func TestRefused(t *testing.T) {
	rs := keyFor(t, "RS256")
	good := rs.mint(t, claims(nil))
	parts := strings.Split(good, ".")
	exp := time.Now().Add(time.Hour).Unix()
	payload := fmt.Sprintf(`{"sub":"u1","iss":"https://id.test/","aud":"shop","exp":%d}`, exp)
	hsWithPublicKey, err := Sign("HS256", rs.pem, claims(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"alg none", b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(payload) + ".", ErrAlgorithm},
		{"alg None", b64(`{"alg":"None","typ":"JWT"}`) + "." + b64(payload) + ".", ErrAlgorithm},
		{"HS256 signed with the RSA public key", hsWithPublicKey, ErrAlgorithm},
		{"expired", rs.mint(t, claims(map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})), ErrExpired},
		{"nbf in the future", rs.mint(t, claims(map[string]any{"nbf": time.Now().Add(time.Minute).Unix()})), ErrNotYetValid},
		{"iat in the future", rs.mint(t, claims(map[string]any{"iat": time.Now().Add(time.Minute).Unix()})), ErrIssuedFuture},
		{"no exp", rs.mint(t, claims(map[string]any{"exp": nil})), ErrNoExpiry},
		{"exp a string", rs.mint(t, claims(map[string]any{"exp": "tomorrow"})), ErrClaims},
		{"wrong issuer", rs.mint(t, claims(map[string]any{"iss": "https://evil.test/"})), ErrIssuer},
		{"no issuer", rs.mint(t, claims(map[string]any{"iss": nil})), ErrIssuer},
		{"wrong audience", rs.mint(t, claims(map[string]any{"aud": []string{"other"}})), ErrAudience},
		{"sub a number", rs.mint(t, claims(map[string]any{"sub": 7})), ErrClaims},
		{"scope a number", rs.mint(t, claims(map[string]any{"scope": 7})), ErrClaims},
		{"tampered payload", parts[0] + "." + b64(strings.Replace(payload, `"u1"`, `"admin"`, 1)) + "." + parts[2], ErrSignature},
		{"tampered header", b64(`{"alg":"RS256","typ":"JWT","kid":"other"}`) + "." + parts[1] + "." + parts[2], ErrSignature},
		{"header says RS384", b64(`{"alg":"RS384","typ":"JWT"}`) + "." + parts[1] + "." + parts[2], ErrAlgorithm},
		{"signature cut", parts[0] + "." + parts[1] + "." + parts[2][:20], ErrSignature},
		{"64 KB", parts[0] + "." + strings.Repeat("A", 64<<10) + "." + parts[2], ErrTooLarge},
		{"garbage base64", "abc.d!e@f.ghi", ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], ErrMalformed},
		{"empty", "", ErrMalformed},
		{"signed by another key", func() string { s, _ := Sign("RS256", rsaKey2, claims(nil), ""); return s }(), ErrSignature},
		{"ES256 with an RSA-only config", keyFor(t, "ES256").mint(t, claims(nil)), ErrAlgorithm},
	}
	v := newJWT(t, rs.config())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := v.Verify(context.Background(), tc.token)
			if err == nil {
				t.Fatalf("accepted as %+v", id)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("refused with %q, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.token[:min(len(tc.token), 20)]) && tc.token != "" {
				t.Errorf("the reason repeats the token: %q", err)
			}
		})
	}
	// The good token still passes, and was never confused with the others.
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatal(err)
	}
}

// TestTypedKeys: with a secret, a token claiming an RSA algorithm is
// refused; with RSA keys, an HS token is refused, whatever its secret.
func TestTypedKeys(t *testing.T) {
	hs := keyFor(t, "HS256")
	rs := keyFor(t, "RS256")
	vHS := newJWT(t, hs.config())
	if _, err := vHS.Verify(context.Background(), rs.mint(t, claims(nil))); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("RS256 token against a secret: %v", err)
	}
	if keyFits("HS256", &rsaKey.PublicKey) || keyFits("RS256", secret) || keyFits("ES256", &ecKeys["ES384"].PublicKey) || !keyFits("ES384", &ecKeys["ES384"].PublicKey) {
		t.Error("keyFits lets a key of one kind serve another")
	}
}

func TestConfigErrors(t *testing.T) {
	rs := keyFor(t, "RS256")
	cases := []struct {
		name  string
		cfg   JWTConfig
		field string
		want  string
	}{
		{"no source", JWTConfig{Algorithms: []string{"RS256"}}, "jwt", "exactly one key source"},
		{"two sources", JWTConfig{Algorithms: []string{"HS256"}, Secret: secret, JWKSURL: "https://x/"}, "jwt", "(2 given)"},
		{"no algorithms", JWTConfig{Secret: secret}, "algorithms", "explicitly"},
		{"none", JWTConfig{Secret: secret, Algorithms: []string{"HS256", "none"}}, "algorithms", "never accepted"},
		{"unknown", JWTConfig{Secret: secret, Algorithms: []string{"HS257"}}, "algorithms", "is not one of"},
		{"twice", JWTConfig{Secret: secret, Algorithms: []string{"HS256", "HS256"}}, "algorithms", "twice"},
		{"RS with a secret", JWTConfig{Secret: secret, Algorithms: []string{"RS256"}}, "algorithms", "needs a public key"},
		{"HS with keys", JWTConfig{PublicKeys: rs.config().PublicKeys, Algorithms: []string{"HS256"}}, "algorithms", "needs a shared secret"},
		{"HS with a JWKS", JWTConfig{JWKSURL: "https://id.test/jwks", Algorithms: []string{"HS256"}}, "algorithms", "needs a shared secret"},
		{"short secret", JWTConfig{Secret: []byte("short"), Algorithms: []string{"HS256"}}, "secret", "at least 32 bytes"},
		{"HS512 secret", JWTConfig{Secret: make([]byte, 40), Algorithms: []string{"HS256", "HS512"}}, "secret", "at least 64 bytes"},
		{"no key fits", JWTConfig{PublicKeys: rs.config().PublicKeys, Algorithms: []string{"RS256", "ES256"}}, "algorithms", "ES256 cannot verify with any key of public_keys (a 2048-bit RSA key)"},
		{"bad PEM", JWTConfig{PublicKeys: []PEMFile{{Name: "k.pem", Data: []byte("x")}}, Algorithms: []string{"RS256"}}, "public_keys", "k.pem: holds no PEM block"},
		{"bad cookie", JWTConfig{Secret: secret, Algorithms: []string{"HS256"}, Cookie: "a b"}, "cookie", "not a cookie name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewJWT(tc.cfg)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err %v, want a ConfigError", err)
			}
			if ce.Field != tc.field || !strings.Contains(ce.Msg, tc.want) {
				t.Errorf("%s: %s, want field %s and %q", ce.Field, ce.Msg, tc.field, tc.want)
			}
		})
	}
}

// TestLeeway: exp and nbf are honoured with the configured leeway, on the
// fake clock of a synctest bubble.
func TestLeeway(t *testing.T) {
	k := keyFor(t, "HS256")
	synctest.Test(t, func(t *testing.T) {
		strict := k.config()
		strict.CacheSize = -1
		lenient := strict
		lenient.Leeway = 30 * time.Second
		vs, vl := newJWT(t, strict), newJWT(t, lenient)
		now := time.Now()
		expiring := k.mint(t, claims(map[string]any{"exp": now.Add(10 * time.Second).Unix()}))
		early := k.mint(t, claims(map[string]any{"nbf": now.Add(20 * time.Second).Unix(), "iat": now.Add(20 * time.Second).Unix()}))
		ctx := context.Background()
		if _, err := vs.Verify(ctx, early); !errors.Is(err, ErrNotYetValid) {
			t.Errorf("nbf in 20s, no leeway: %v", err)
		}
		if _, err := vl.Verify(ctx, early); err != nil {
			t.Errorf("nbf in 20s, 30s leeway: %v", err)
		}
		if _, err := vs.Verify(ctx, expiring); err != nil {
			t.Errorf("exp in 10s: %v", err)
		}
		time.Sleep(25 * time.Second)
		if _, err := vs.Verify(ctx, expiring); !errors.Is(err, ErrExpired) {
			t.Errorf("15s past exp, no leeway: %v", err)
		}
		if _, err := vl.Verify(ctx, expiring); err != nil {
			t.Errorf("15s past exp, 30s leeway: %v", err)
		}
		time.Sleep(20 * time.Second)
		if _, err := vl.Verify(ctx, expiring); !errors.Is(err, ErrExpired) {
			t.Errorf("35s past exp, 30s leeway: %v", err)
		}
	})
}

// TestCache: a verified token is served from the cache until its exp or
// CacheTTL, whichever is first; a token past its exp is never served.
func TestCache(t *testing.T) {
	k := keyFor(t, "ES256")
	synctest.Test(t, func(t *testing.T) {
		v := newJWT(t, k.config())
		ctx := context.Background()
		long := k.mint(t, claims(nil)) // exp in an hour
		short := k.mint(t, claims(map[string]any{"exp": time.Now().Add(2 * time.Minute).Unix()}))
		for range 3 {
			if _, err := v.Verify(ctx, long); err != nil {
				t.Fatal(err)
			}
		}
		if n := v.lookups.Load(); n != 1 {
			t.Errorf("3 verifications of one token checked %d signatures, want 1", n)
		}
		if _, err := v.Verify(ctx, short); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Minute)
		if _, err := v.Verify(ctx, short); !errors.Is(err, ErrExpired) {
			t.Errorf("a cached token past its exp: %v", err)
		}
		before := v.lookups.Load()
		v.Verify(ctx, long)
		if v.lookups.Load() != before {
			t.Error("a token verified 3 minutes ago was checked again")
		}
		time.Sleep(CacheTTL)
		v.Verify(ctx, long)
		if v.lookups.Load() != before+1 {
			t.Errorf("a token cached for longer than %s was not checked again", CacheTTL)
		}
	})
}

func TestCacheBounded(t *testing.T) {
	k := keyFor(t, "HS256")
	c := k.config()
	c.CacheSize = 64
	v := newJWT(t, c)
	for i := range 500 {
		if _, err := v.Verify(context.Background(), k.mint(t, claims(map[string]any{"sub": fmt.Sprint(i)}))); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.cache.len(); n > 64 {
		t.Errorf("cache holds %d entries, bound 64", n)
	}
}

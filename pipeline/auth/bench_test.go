package auth

import (
	"context"
	"net/http/httptest"
	"testing"
)

// BenchmarkVerify checks one token's signature and claims per iteration,
// the cache turned off: what a token costs the first time it is seen.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			k := keyFor(b, alg)
			c := k.config()
			c.CacheSize = -1
			v := newJWT(b, c)
			tok := k.mint(b, claims(nil))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyCached is a hot client: its token was verified already,
// so each request pays for a SHA-256 of the token and a map lookup.
func BenchmarkVerifyCached(b *testing.B) {
	k := keyFor(b, "RS256")
	v := newJWT(b, k.config())
	tok := k.mint(b, claims(nil))
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStageCached is the whole auth stage for a hot client: header,
// cached token, scope check, identity on the context.
func BenchmarkStageCached(b *testing.B) {
	k := keyFor(b, "RS256")
	h, _ := stageFor(b, Providers{JWT: newJWT(b, k.config())}, Rule{Require: []Method{MethodJWT}, Scopes: []string{"checkout:read"}})
	r := get(bearer(k.mint(b, claims(nil)))...)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}

func BenchmarkAPIKey(b *testing.B) {
	keys := testAPIKeys(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := keys.Lookup(iosKey); !ok {
			b.Fatal("not found")
		}
	}
}

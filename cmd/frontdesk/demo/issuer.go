package demo

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"time"

	"github.com/MicahParks/jwkset"

	"frontdesk/pipeline/auth"
)

// The demo issuer: a JWKS served by the "issuer" demo service, and the key
// behind it, from which `frontdesk demo-token` signs tokens the demo
// gateway accepts. The key is derived from a fixed, public seed so that any
// frontdesk binary signs for any other's demo: it protects nothing but the
// demo, and no real gateway may trust it.
const (
	IssuerName   = "frontdesk-demo"
	IssuerKeyID  = "demo-1"
	IssuerAlg    = "EdDSA"
	DemoAudience = "frontdesk-demo"
	// DemoAPIKey is the demo partner's API key; endpoints/keys.json holds
	// only its SHA-256.
	DemoAPIKey = "demo-partner-key-2026"
	issuerSeed = "frontdesk demo issuer: a public seed, never a secret"
)

// IssuerKey is the demo issuer's signing key.
func IssuerKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(issuerSeed))
	return ed25519.NewKeyFromSeed(seed[:])
}

// Token signs a demo token for sub with the space-separated scopes, valid
// for ttl.
func Token(sub, scopes string, ttl time.Duration, now time.Time) (string, error) {
	return auth.Sign(IssuerAlg, IssuerKey(), map[string]any{
		"iss": IssuerName, "aud": DemoAudience, "sub": sub, "scope": scopes,
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(),
	}, IssuerKeyID)
}

// issuerHandler serves the demo issuer's key set at
// /.well-known/jwks.json.
func issuerHandler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		k, err := jwkset.NewJWKFromKey(IssuerKey().Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
			KID: IssuerKeyID, ALG: jwkset.AlgEdDSA, USE: jwkset.UseSig}})
		if err != nil {
			http.Error(w, "the demo key does not marshal", http.StatusInternalServerError)
			return
		}
		b, _ := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{k.Marshal()}})
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "max-age=300")
		w.Write(b)
	})
	return m
}

package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestIssuer signs tokens with a key made in this process, for spec tests
// (frontdesk test): a case's claims become a token the gateway's own checks
// accept, with the issuer, audience and other checks of gateway.json still
// applied. Its key never leaves the process.
type TestIssuer struct {
	alg    string
	sign   any // private key, or the HMAC secret
	public any // the key the gateway verifies with
}

var (
	testIssuersMu sync.Mutex
	testIssuers   = map[string]*TestIssuer{}
)

// TestIssuerFor returns the process's test issuer for alg, making its key
// the first time (an RSA key takes a moment, so it is made once).
func TestIssuerFor(alg string) (*TestIssuer, error) {
	testIssuersMu.Lock()
	defer testIssuersMu.Unlock()
	if t, ok := testIssuers[alg]; ok {
		return t, nil
	}
	t := &TestIssuer{alg: alg}
	var err error
	switch alg {
	case "HS256", "HS384", "HS512":
		b := make([]byte, 64)
		rand.Read(b)
		t.sign, t.public = b, b
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		var k *rsa.PrivateKey
		if k, err = rsa.GenerateKey(rand.Reader, 2048); err == nil {
			t.sign, t.public = k, &k.PublicKey
		}
	case "ES256", "ES384", "ES512":
		var k *ecdsa.PrivateKey
		if k, err = ecdsa.GenerateKey(curveOf(alg), rand.Reader); err == nil {
			t.sign, t.public = k, &k.PublicKey
		}
	case "EdDSA":
		var pub ed25519.PublicKey
		var priv ed25519.PrivateKey
		if pub, priv, err = ed25519.GenerateKey(rand.Reader); err == nil {
			t.sign, t.public = priv, pub
		}
	default:
		return nil, fmt.Errorf("%q is not a signing algorithm", alg)
	}
	if err != nil {
		return nil, err
	}
	testIssuers[alg] = t
	return t, nil
}

// Alg is the algorithm the issuer signs with.
func (t *TestIssuer) Alg() string { return t.alg }

// Config is base with its key source replaced by the issuer's key and its
// algorithms by the issuer's one; issuer, audience, leeway and cookie stay.
func (t *TestIssuer) Config(base JWTConfig) JWTConfig {
	c := base
	c.Secret, c.PublicKeys, c.JWKSURL = nil, nil, ""
	c.Algorithms = []string{t.alg}
	if b, ok := t.public.([]byte); ok {
		c.Secret = b
		return c
	}
	der, _ := x509.MarshalPKIXPublicKey(t.public)
	c.PublicKeys = []PEMFile{{Name: "the test issuer's key", Data: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}}
	return c
}

// Mint signs claims. Unless claims set them, the token gets base's issuer
// as iss, its first audience as aud, iat now and exp an hour from now; a
// claim set to nil is left out, so a case can test a token without exp.
func (t *TestIssuer) Mint(base JWTConfig, claims map[string]any) (string, error) {
	now := time.Now()
	c := jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if base.Issuer != "" {
		c["iss"] = base.Issuer
	}
	if len(base.Audience) > 0 {
		c["aud"] = base.Audience[0]
	}
	maps.Copy(c, claims)
	for k, v := range c {
		if v == nil {
			delete(c, k)
		}
	}
	return Sign(t.alg, t.sign, c, "")
}

// Sign signs claims with key (a private key, or an HMAC secret), putting
// kid in the header when it is not "". Tests and the demo issuer use it.
func Sign(alg string, key any, claims map[string]any, kid string) (string, error) {
	m := jwt.GetSigningMethod(alg)
	if m == nil {
		return "", fmt.Errorf("%q is not a signing algorithm", alg)
	}
	tok := jwt.NewWithClaims(m, jwt.MapClaims(claims))
	if kid != "" {
		tok.Header["kid"] = kid
	}
	return tok.SignedString(key)
}

// WithTestKey returns a copy of k that also accepts key for client, for
// spec tests, which cannot know a real key (the file holds only hashes).
func (k *APIKeys) WithTestKey(client, key string) (*APIKeys, error) { return k.withKey(client, key) }

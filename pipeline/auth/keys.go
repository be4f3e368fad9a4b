package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Algorithms lists every signing algorithm the gateway knows, in the order
// messages list them. "none" is not one of them and never will be.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"}

// hmacAlg reports whether alg is one of HS256, HS384, HS512.
func hmacAlg(alg string) bool { return strings.HasPrefix(alg, "HS") }

// hmacKeyBytes is the least secret RFC 7518 3.2 allows for alg: as long as
// the hash.
func hmacKeyBytes(alg string) int {
	switch alg {
	case "HS384":
		return 48
	case "HS512":
		return 64
	}
	return 32
}

// minRSABits is the smallest RSA key accepted.
const minRSABits = 2048

// keyFits reports whether key is the type alg verifies with: keys are typed,
// so a token can never choose how its key is used (an HS256 token checked
// with an RSA public key as its HMAC secret is refused here, whatever else
// lets it through).
func keyFits(alg string, key any) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		_, ok := key.(*rsa.PublicKey)
		return ok
	case "ES256", "ES384", "ES512":
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve == curveOf(alg)
	case "EdDSA":
		_, ok := key.(ed25519.PublicKey)
		return ok
	case "HS256", "HS384", "HS512":
		_, ok := key.([]byte)
		return ok
	}
	return false
}

func curveOf(alg string) elliptic.Curve {
	switch alg {
	case "ES256":
		return elliptic.P256()
	case "ES384":
		return elliptic.P384()
	case "ES512":
		return elliptic.P521()
	}
	return nil
}

// describeKey names a key's type for messages: "an RSA key", "a P-256 EC
// key", "an Ed25519 key".
func describeKey(key any) string {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("a %d-bit RSA key", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "a " + k.Curve.Params().Name + " EC key"
	case ed25519.PublicKey:
		return "an Ed25519 key"
	}
	return "a key of an unsupported kind"
}

// ParsePublicKeys reads every public key of a PEM file: PUBLIC KEY (PKIX),
// RSA PUBLIC KEY (PKCS #1) and CERTIFICATE blocks. A private key is refused
// (the gateway never needs one, and a file that holds one should not be
// deployed with it), and so are RSA keys under 2048 bits and key kinds no
// JWT algorithm uses. A certificate serves only as the holder of its key:
// its dates and issuer are not checked.
func ParsePublicKeys(data []byte) ([]any, error) {
	var keys []any
	rest := data
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		var key any
		var err error
		switch b.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(b.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(b.Bytes); err == nil {
				key = c.PublicKey
			}
		default:
			if strings.Contains(b.Type, "PRIVATE KEY") {
				return nil, fmt.Errorf("PEM block %d is a private key (%s); give the issuer's public key or certificate: the gateway never needs the private one", n, b.Type)
			}
			return nil, fmt.Errorf("PEM block %d is a %q, not a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", n, b.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s) does not parse: %v", n, b.Type, err)
		}
		switch k := key.(type) {
		case *rsa.PublicKey:
			if k.N.BitLen() < minRSABits {
				return nil, fmt.Errorf("PEM block %d is a %d-bit RSA key; at least %d bits are required", n, k.N.BitLen(), minRSABits)
			}
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
				return nil, fmt.Errorf("PEM block %d is an EC key on a curve no JWT algorithm uses", n)
			}
		case ed25519.PublicKey:
		default:
			return nil, fmt.Errorf("PEM block %d holds a key of a kind no JWT algorithm verifies (not RSA, EC or Ed25519)", n)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("holds no PEM block: want -----BEGIN PUBLIC KEY----- or -----BEGIN CERTIFICATE-----")
	}
	return keys, nil
}

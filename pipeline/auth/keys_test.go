package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKey is a signing key made for the tests and the public half the
// gateway verifies with.
type testKey struct {
	alg    string
	sign   any
	public any
	pem    []byte // the public key as PEM (nil for HMAC)
}

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	rsaKey2  *rsa.PrivateKey
	ecKeys   map[string]*ecdsa.PrivateKey
	edKey    ed25519.PrivateKey
	secret   = []byte(strings.Repeat("s3cr3t-", 10)) // 70 bytes: long enough for HS512
)

func makeKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		ecKeys = map[string]*ecdsa.PrivateKey{}
		for alg, c := range map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()} {
			if ecKeys[alg], err = ecdsa.GenerateKey(c, rand.Reader); err != nil {
				panic(err)
			}
		}
		if _, edKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
}

func publicPEM(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func certPEM(t testing.TB, priv *rsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "issuer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// keyFor is the test key of alg.
func keyFor(t testing.TB, alg string) testKey {
	t.Helper()
	makeKeys(t)
	switch alg[:2] {
	case "HS":
		return testKey{alg: alg, sign: secret, public: secret}
	case "RS", "PS":
		return testKey{alg: alg, sign: rsaKey, public: &rsaKey.PublicKey, pem: publicPEM(t, &rsaKey.PublicKey)}
	case "ES":
		k := ecKeys[alg]
		return testKey{alg: alg, sign: k, public: &k.PublicKey, pem: publicPEM(t, &k.PublicKey)}
	}
	return testKey{alg: alg, sign: edKey, public: edKey.Public(), pem: publicPEM(t, edKey.Public())}
}

// config is a JWTConfig that verifies k's tokens, for issuer "https://id.test/"
// and audience "shop".
func (k testKey) config() JWTConfig {
	c := JWTConfig{Algorithms: []string{k.alg}, Issuer: "https://id.test/", Audience: []string{"shop"}}
	if k.pem == nil {
		c.Secret = secret
	} else {
		c.PublicKeys = []PEMFile{{Name: "issuer.pem", Data: k.pem}}
	}
	return c
}

// claims are valid claims for config(), expiring in an hour.
func claims(extra map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{"sub": "u1", "iss": "https://id.test/", "aud": "shop", "scope": "checkout:read profile",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "tier": "gold"}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func (k testKey) mint(t testing.TB, c map[string]any) string {
	t.Helper()
	s, err := Sign(k.alg, k.sign, c, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newJWT(t testing.TB, c JWTConfig) *JWT {
	t.Helper()
	v, err := NewJWT(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func TestParsePublicKeys(t *testing.T) {
	makeKeys(t)
	both := append(publicPEM(t, &rsaKey.PublicKey), certPEM(t, rsaKey2)...)
	keys, err := ParsePublicKeys(both)
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %d, err %v", len(keys), err)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)})
	if _, err := ParsePublicKeys(pkcs1); err != nil {
		t.Errorf("PKCS #1: %v", err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"private key": {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), "is a private key"},
		"no PEM":      {[]byte("not a key"), "holds no PEM block"},
		"small RSA":   {publicPEM(t, &small.PublicKey), "1024-bit RSA key"},
		"bad block":   {pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}), "does not parse"},
		"other block": {pem.EncodeToMemory(&pem.Block{Type: "DH PARAMETERS", Bytes: []byte("x")}), `"DH PARAMETERS"`},
	} {
		if _, err := ParsePublicKeys(tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", name, err, tc.want)
		}
	}
}

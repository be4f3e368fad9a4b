package auth

import (
	"context"
	"strings"
	"testing"
)

// FuzzVerify: no string verifies unless it is the token signed with the
// key, and none makes Verify panic.
func FuzzVerify(f *testing.F) {
	k := keyFor(f, "ES256")
	good := k.mint(f, claims(nil))
	parts := strings.Split(good, ".")
	for _, s := range []string{good, "", ".", "..", "a.b.c", parts[0] + "." + parts[1] + ".", parts[0] + ".e30." + parts[2],
		b64(`{"alg":"none"}`) + "." + parts[1] + ".", b64(`{"alg":"ES256","kid":{}}`) + "." + parts[1] + "." + parts[2]} {
		f.Add(s)
	}
	c := k.config()
	c.CacheSize = -1
	v, err := NewJWT(c)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := v.Verify(context.Background(), tok)
		if err == nil && tok != good {
			t.Fatalf("a token that was never signed verified as %+v", id)
		}
		if err != nil && id != nil {
			t.Fatal("an identity with an error")
		}
	})
}

// FuzzParsePublicKeys: any bytes give keys or an error, never a panic.
func FuzzParsePublicKeys(f *testing.F) {
	makeKeys(f)
	f.Add(publicPEM(f, &rsaKey.PublicKey))
	f.Add(certPEM(f, rsaKey))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParsePublicKeys(data)
		if err == nil && len(keys) == 0 {
			t.Fatal("no keys and no error")
		}
	})
}

package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net"
	"net/http"
	"time"

	"github.com/MicahParks/jwkset"

	"frontdesk/pipeline/auth"
)

// The issuer of case 6 (the checkout behind JWT): an RSA key made for the
// run, its JWKS served by the harness on loopback (LT_JWKS_URL), and one
// RS256 token for every request of the run, as a hot client sends.
const (
	ltIssuer   = "frontdesk-loadtest"
	ltAudience = "frontdesk-loadtest"
	ltKeyID    = "lt-1"
)

type issuer struct {
	url   string // the JWKS URL
	token string
	srv   *http.Server
}

func startIssuer() (*issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	jwk, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: ltKeyID, ALG: jwkset.AlgRS256, USE: jwkset.UseSig}})
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	now := time.Now()
	tok, err := auth.Sign("RS256", key, map[string]any{"iss": ltIssuer, "aud": ltAudience, "sub": "u1",
		"scope": "checkout:read", "iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix()}, ltKeyID)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(body)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return &issuer{url: "http://" + ln.Addr().String() + "/.well-known/jwks.json", token: tok, srv: srv}, nil
}

func (i *issuer) close() { i.srv.Close() }

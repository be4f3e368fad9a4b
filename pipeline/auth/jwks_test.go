package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/MicahParks/jwkset"
)

// issuer is a JWKS server for the tests: its key set can change, and it
// counts the fetches it answers.
type issuer struct {
	mu    sync.Mutex
	keys  map[string]any // kid -> public key
	fail  bool           // answer 500
	hits  atomic.Int64
	fetch chan struct{} // one value per answered fetch
}

func newIssuer(keys map[string]any) *issuer {
	return &issuer{keys: keys, fetch: make(chan struct{}, 100)}
}

func (s *issuer) set(keys map[string]any) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

func (s *issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() { s.fetch <- struct{}{} }()
	s.hits.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	set := jwkset.JWKSMarshal{}
	for kid, pub := range s.keys {
		k, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: jwkset.UseSig}})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		set.Keys = append(set.Keys, k.Marshal())
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(set)
}

// inProcess is a transport that serves requests with h directly, for
// synctest bubbles (no network).
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func jwksConfig(url string, client *http.Client) JWTConfig {
	return JWTConfig{JWKSURL: url, HTTPClient: client, Algorithms: []string{"RS256", "ES256", "EdDSA"},
		Issuer: "https://id.test/", Audience: []string{"shop"}}
}

func mintKid(t testing.TB, alg string, key any, kid string, extra map[string]any) string {
	t.Helper()
	s, err := Sign(alg, key, claims(extra), kid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitFetch waits (at most 5s) for the issuer to answer one more fetch.
func waitFetch(t *testing.T, s *issuer) {
	t.Helper()
	select {
	case <-s.fetch:
	case <-time.After(5 * time.Second):
		t.Fatal("the gateway did not fetch the key set within 5s")
	}
}

// TestJWKSRotation, on loopback: a token with a new kid works without a
// restart, a kid the set lacks is a 401 at once, and a key removed from the
// set stops being accepted after one refresh, cached tokens included.
func TestJWKSRotation(t *testing.T) {
	makeKeys(t)
	is := newIssuer(map[string]any{"a": &rsaKey.PublicKey})
	srv := httptest.NewServer(is)
	defer srv.Close()
	cfg := jwksConfig(srv.URL+"/.well-known/jwks.json", nil)
	cfg.JWKSRefresh = time.Hour // refreshes below are the ones the test asks for
	v := newJWT(t, cfg)
	fetched := make(chan error, 10)
	v.jwks.afterFetch = func(err error) { fetched <- err }
	if err := v.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFetch(t, is)
	<-fetched
	ctx := context.Background()
	tokA := mintKid(t, "RS256", rsaKey, "a", nil)
	if _, err := v.Verify(ctx, tokA); err != nil {
		t.Fatalf("token of kid a: %v", err)
	}

	// Rotation: the issuer adds kid b; the first token naming it fetches
	// the set at once and is accepted.
	is.set(map[string]any{"a": &rsaKey.PublicKey, "b": &ecKeys["ES256"].PublicKey})
	tokB := mintKid(t, "ES256", ecKeys["ES256"], "b", nil)
	if _, err := v.Verify(ctx, tokB); err != nil {
		t.Fatalf("token of the new kid b: %v", err)
	}
	waitFetch(t, is)
	hits := is.hits.Load()

	// A kid the set lacks, within the unknown-kid rate limit: refused at
	// once, without a fetch.
	start := time.Now()
	_, err := v.Verify(ctx, mintKid(t, "RS256", rsaKey2, "c", nil))
	if !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown kid c: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("an unknown kid within the rate limit took %s", d)
	}
	if is.hits.Load() != hits {
		t.Error("an unknown kid within the rate limit fetched the set")
	}

	// Removal: kid a leaves the set. Its token, cached, stays accepted
	// until the next refresh and is refused from then on.
	is.set(map[string]any{"b": &ecKeys["ES256"].PublicKey})
	if _, err := v.Verify(ctx, tokA); err != nil {
		t.Errorf("token of kid a before the refresh: %v", err)
	}
	if err := v.jwks.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	waitFetch(t, is)
	if _, err := v.Verify(ctx, tokA); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("token of the removed kid a after the refresh: %v", err)
	}
	if _, err := v.Verify(ctx, tokB); err != nil {
		t.Errorf("token of kid b after the refresh: %v", err)
	}
}

// TestJWKSBackgroundRefresh, on the fake clock: the set is fetched again
// every refresh interval; unknown kids fetch at most once per
// DefaultJWKSUnknownKID, and are refused at once in between.
func TestJWKSBackgroundRefresh(t *testing.T) {
	makeKeys(t)
	synctest.Test(t, func(t *testing.T) {
		is := newIssuer(map[string]any{"a": &rsaKey.PublicKey})
		v := newJWT(t, jwksConfig("https://id.test/jwks.json", &http.Client{Transport: inProcess{is}}))
		if err := v.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := is.hits.Load(); n != 1 {
			t.Fatalf("%d fetches at start", n)
		}
		time.Sleep(DefaultJWKSRefresh + time.Second)
		synctest.Wait()
		if n := is.hits.Load(); n != 2 {
			t.Fatalf("%d fetches after one refresh interval, want 2", n)
		}
		ctx := context.Background()
		if _, err := v.Verify(ctx, mintKid(t, "RS256", rsaKey2, "x", nil)); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("unknown kid x: %v", err)
		}
		if n := is.hits.Load(); n != 3 {
			t.Errorf("the first unknown kid made %d fetches, want 1", n-2)
		}
		start := time.Now()
		for _, kid := range []string{"y", "z"} {
			if _, err := v.Verify(ctx, mintKid(t, "RS256", rsaKey2, kid, nil)); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("unknown kid %s: %v", kid, err)
			}
		}
		if time.Since(start) != 0 || is.hits.Load() != 3 {
			t.Errorf("unknown kids within the rate limit waited %s or fetched (%d fetches)", time.Since(start), is.hits.Load())
		}
		// The issuer now publishes kid y; past the rate limit, its token
		// fetches and is accepted.
		is.set(map[string]any{"a": &rsaKey.PublicKey, "y": &rsaKey2.PublicKey})
		time.Sleep(DefaultJWKSUnknownKID)
		if _, err := v.Verify(ctx, mintKid(t, "RS256", rsaKey2, "y", nil)); err != nil {
			t.Errorf("kid y once published: %v", err)
		}
		v.Close()
		synctest.Wait()
	})
}

// TestJWKSUnknownKidJoinsFetchInFlight, on the fake clock: a token whose
// kid the set lacks, arriving while the background refresh is fetching,
// waits for that fetch instead of making a second one, and is accepted
// when that fetch brings its key.
func TestJWKSUnknownKidJoinsFetchInFlight(t *testing.T) {
	makeKeys(t)
	synctest.Test(t, func(t *testing.T) {
		is := newIssuer(map[string]any{"a": &rsaKey.PublicKey})
		var hold atomic.Bool
		release := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hold.Load() {
				<-release
			}
			is.ServeHTTP(w, r)
		})
		v := newJWT(t, jwksConfig("https://id.test/jwks.json", &http.Client{Transport: inProcess{h}}))
		if err := v.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		// The issuer publishes kid b; the next background refresh is held
		// in flight.
		is.set(map[string]any{"a": &rsaKey.PublicKey, "b": &rsaKey2.PublicKey})
		hold.Store(true)
		time.Sleep(DefaultJWKSRefresh + time.Second)
		synctest.Wait()
		tok := mintKid(t, "RS256", rsaKey2, "b", nil)
		done := make(chan error, 1)
		go func() {
			_, err := v.Verify(context.Background(), tok)
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			close(release)
			t.Fatalf("the token of kid b did not wait for the fetch in flight: %v", err)
		default:
		}
		close(release)
		if err := <-done; err != nil {
			t.Errorf("the token of kid b after the fetch in flight: %v", err)
		}
		if n := is.hits.Load(); n != 2 {
			t.Errorf("%d fetches, want 2 (the start and the refresh the token waited for)", n)
		}
		v.Close()
		synctest.Wait()
	})
}

// TestJWKSUnavailable: a set that cannot be fetched at start is an error
// naming the URL; tokens are then ErrUnavailable (503), and accepted once a
// background retry succeeds.
func TestJWKSUnavailable(t *testing.T) {
	makeKeys(t)
	synctest.Test(t, func(t *testing.T) {
		is := newIssuer(map[string]any{"a": &rsaKey.PublicKey})
		is.fail = true
		v := newJWT(t, jwksConfig("https://id.test/jwks.json", &http.Client{Transport: inProcess{is}}))
		err := v.Start(t.Context())
		if err == nil || !strings.Contains(err.Error(), "https://id.test/jwks.json") || !strings.Contains(err.Error(), "answered 500") {
			t.Fatalf("start: %v", err)
		}
		tok := mintKid(t, "RS256", rsaKey, "a", nil)
		ctx := context.Background()
		for range 2 { // the first fetches (and fails), the second is within the rate limit
			if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrUnavailable) {
				t.Errorf("before any fetch succeeded: %v", err)
			}
		}
		is.mu.Lock()
		is.fail = false
		is.mu.Unlock()
		time.Sleep(jwksRetryFirst + time.Second)
		synctest.Wait()
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Errorf("after the retry: %v", err)
		}
	})
}

// TestJWKSLazyFetch: a verifier never started (lint, explain, a test)
// fetches the set for its first token.
func TestJWKSLazyFetch(t *testing.T) {
	makeKeys(t)
	is := newIssuer(map[string]any{"a": &ecKeys["ES256"].PublicKey})
	v := newJWT(t, jwksConfig("https://id.test/jwks.json", &http.Client{Transport: inProcess{is}}))
	if _, err := v.Verify(context.Background(), mintKid(t, "ES256", ecKeys["ES256"], "a", nil)); err != nil {
		t.Fatal(err)
	}
	if is.hits.Load() != 1 {
		t.Errorf("%d fetches", is.hits.Load())
	}
}

// TestJWKSKeyKinds: a token whose alg does not fit the key under its kid is
// refused, and a token without a kid is checked with every key that fits.
func TestJWKSKeyKinds(t *testing.T) {
	makeKeys(t)
	is := newIssuer(map[string]any{"r": &rsaKey.PublicKey, "e": &ecKeys["ES256"].PublicKey})
	v := newJWT(t, jwksConfig("https://id.test/jwks.json", &http.Client{Transport: inProcess{is}}))
	ctx := context.Background()
	if _, err := v.Verify(ctx, mintKid(t, "ES256", ecKeys["ES256"], "r", nil)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("ES256 token naming an RSA key: %v", err)
	}
	if _, err := v.Verify(ctx, mintKid(t, "RS256", rsaKey, "", nil)); err != nil {
		t.Errorf("RS256 token without kid: %v", err)
	}
	if _, err := v.Verify(ctx, mintKid(t, "EdDSA", edKey, "", nil)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("EdDSA token without kid, no Ed25519 key in the set: %v", err)
	}
}

func TestJWKSBadAnswers(t *testing.T) {
	for name, tc := range map[string]struct {
		body string
		want string
	}{
		"not JSON":  {"<html>", "not a JWK set"},
		"too large": {`{"keys":[` + strings.Repeat(" ", maxJWKSBody) + `]}`, "larger than"},
		"too many":  {`{"keys":[` + strings.Repeat(`{"kty":"oct"},`, maxJWKSKeys) + `{"kty":"oct"}]}`, "more than 100"},
	} {
		t.Run(name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(tc.body)) })
			v := newJWT(t, jwksConfig("https://id.test/jwks.json", &http.Client{Transport: inProcess{h}}))
			err := v.Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestJWKSKidlessTokenBounded: a token without a kid is tried against the
// few keys of its kind, but past maxKeysWithoutKID of them it must name
// one: a garbage token cannot cost a signature check per key of the set.
func TestJWKSKidlessTokenBounded(t *testing.T) {
	makeKeys(t)
	keys := map[string]any{"r": &rsaKey.PublicKey}
	for i := range maxKeysWithoutKID {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		keys[fmt.Sprint("other", i)] = &k.PublicKey
	}
	is := newIssuer(keys)
	v := newJWT(t, jwksConfig("https://id.test/jwks.json", &http.Client{Transport: inProcess{is}}))
	ctx := context.Background()
	if _, err := v.Verify(ctx, mintKid(t, "RS256", rsaKey, "", nil)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("a kid-less token against %d RSA keys: %v", len(keys), err)
	}
	if _, err := v.Verify(ctx, mintKid(t, "RS256", rsaKey, "r", nil)); err != nil {
		t.Errorf("the same token naming its kid: %v", err)
	}
}

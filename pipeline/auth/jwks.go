package auth

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// JWKS timing defaults (see JWTConfig to change them).
const (
	// DefaultJWKSRefresh is how often the key set is fetched again in the
	// background: a key the issuer removes stops being accepted within it.
	DefaultJWKSRefresh = 5 * time.Minute
	// DefaultJWKSUnknownKID is the least time between two fetches caused by
	// tokens naming a key the set lacks. Within it, such tokens are refused
	// at once, without waiting for anything.
	DefaultJWKSUnknownKID = time.Minute
	// jwksRetryFirst is the wait before fetching again after a failed
	// fetch; it doubles on each failure, up to the refresh interval.
	jwksRetryFirst = 5 * time.Second
	// jwksTimeout bounds one fetch.
	jwksTimeout = 5 * time.Second
	// maxJWKSBody and maxJWKSKeys bound what one fetch may hold.
	maxJWKSBody = 1 << 20
	maxJWKSKeys = 100
)

// jwks is a key set fetched from an issuer's URL: kept in a jwkset memory
// storage that keyfunc reads, fetched again in the background, and at once
// (rate limited, never waited for) when a token names a key it lacks.
type jwks struct {
	url     string
	client  *http.Client
	log     *slog.Logger
	every   time.Duration // background refresh
	unknown time.Duration // least time between unknown-kid fetches

	store *jwkset.MemoryJWKSet
	kf    keyfunc.Keyfunc
	// gen counts changes of the key set; cached tokens remember the
	// generation they were verified under, so a change (a removed key)
	// makes every cached token be verified again.
	gen     atomic.Uint64
	fetched atomic.Bool // the set has been fetched at least once

	last        []byte        // the body of the last fetch that changed the set; read and written by the fetch in flight
	mu          sync.Mutex    // guards flight, lastUnknown, cancel and done
	flight      chan struct{} // one fetch at a time: closed when the fetch in flight ends; nil between fetches
	lastUnknown time.Time

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
	closed   bool

	// afterFetch, when set (by tests), is called after every fetch with
	// its outcome.
	afterFetch func(error)
}

func newJWKS(url string, client *http.Client, log *slog.Logger, every, unknown time.Duration) (*jwks, error) {
	if client == nil {
		// Its own transport, so Close can end its connections; redirects
		// are refused (a key set is fetched from the URL configured, never
		// from wherever it points, nor downgraded from https).
		client = &http.Client{Timeout: jwksTimeout, Transport: &http.Transport{Proxy: nil, MaxIdleConns: 2, IdleConnTimeout: time.Minute},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if every <= 0 {
		every = DefaultJWKSRefresh
	}
	if unknown <= 0 {
		unknown = DefaultJWKSUnknownKID
	}
	j := &jwks{url: url, client: client, log: log, every: every, unknown: unknown, store: jwkset.NewMemoryStorage()}
	kf, err := keyfunc.New(keyfunc.Options{Storage: j.store})
	if err != nil {
		return nil, err
	}
	j.kf = kf
	return j, nil
}

// start fetches the set once and starts the background refresh, which
// runs until ctx ends or close is called. A failed first fetch is returned
// (naming the URL) but the refresh still runs, retrying sooner.
func (j *jwks) start(ctx context.Context) error {
	j.mu.Lock()
	if j.cancel != nil || j.closed {
		j.mu.Unlock()
		return nil // started already, or closed: nothing to start
	}
	ctx, j.cancel = context.WithCancel(ctx)
	j.done = make(chan struct{})
	j.mu.Unlock()
	err := j.refresh(ctx)
	go j.loop(ctx, err == nil)
	return err
}

func (j *jwks) loop(ctx context.Context, ok bool) {
	defer close(j.done)
	retry := jwksRetryFirst
	for {
		wait := j.every
		if !ok {
			wait = min(retry, j.every)
			retry *= 2
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := j.refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			j.log.Warn("JWKS refresh failed; the last key set stays in use", "url", j.url, "error", err.Error())
			ok = false
			continue
		}
		ok, retry = true, jwksRetryFirst
	}
}

// close stops the background refresh and waits for it.
func (j *jwks) close() {
	j.stopOnce.Do(func() {
		j.mu.Lock()
		cancel, done := j.cancel, j.done
		j.closed = true
		j.mu.Unlock()
		if cancel != nil {
			cancel()
			<-done
		}
		j.client.CloseIdleConnections()
	})
}

// beginFetch makes the caller the fetch in flight and returns nil, unless
// another fetch is in flight: then it returns the channel closed when that
// one ends.
func (j *jwks) beginFetch() <-chan struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.flight != nil {
		return j.flight
	}
	j.flight = make(chan struct{})
	return nil
}

// endFetch ends the caller's fetch and wakes those waiting for it.
func (j *jwks) endFetch() {
	j.mu.Lock()
	close(j.flight)
	j.flight = nil
	j.mu.Unlock()
}

// refreshOnce is refresh, unless a fetch is in flight: then it waits for
// that one to end, so no caller waits for two fetches.
func (j *jwks) refreshOnce(ctx context.Context) error {
	if wait := j.beginFetch(); wait != nil {
		<-wait
		return nil
	}
	defer j.endFetch()
	return j.refreshLocked(ctx)
}

// refresh fetches the set and, when it changed, replaces the stored one;
// a fetch in flight is let end first.
func (j *jwks) refresh(ctx context.Context) error {
	for wait := j.beginFetch(); wait != nil; wait = j.beginFetch() {
		<-wait
	}
	defer j.endFetch()
	return j.refreshLocked(ctx)
}

// refreshLocked is one fetch: the caller is the fetch in flight.
func (j *jwks) refreshLocked(ctx context.Context) (err error) {
	body, keys, err := j.fetch(ctx)
	if j.afterFetch != nil {
		defer func() { j.afterFetch(err) }()
	}
	if err != nil {
		return fmt.Errorf("jwks_url %s: %w", j.url, err)
	}
	if j.fetched.Load() && bytes.Equal(body, j.last) {
		return nil
	}
	if err := j.store.KeyReplaceAll(ctx, keys); err != nil {
		return fmt.Errorf("jwks_url %s: %w", j.url, err)
	}
	j.last = body
	j.gen.Add(1)
	j.fetched.Store(true)
	return nil
}

func (j *jwks) fetch(ctx context.Context) ([]byte, []jwkset.JWK, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("answered %d, not 200", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the key set: %w", err)
	}
	if len(body) > maxJWKSBody {
		return nil, nil, fmt.Errorf("the key set is larger than %d bytes", maxJWKSBody)
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, nil, fmt.Errorf("the answer is not a JWK set: %v", err)
	}
	if len(set.Keys) > maxJWKSKeys {
		return nil, nil, fmt.Errorf("the key set holds %d keys, more than %d", len(set.Keys), maxJWKSKeys)
	}
	keys := make([]jwkset.JWK, 0, len(set.Keys))
	for _, m := range set.Keys {
		if m.USE != "" && m.USE != jwkset.UseSig {
			continue // an encryption key never verifies a signature
		}
		k, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			continue // a key this build cannot use (or a symmetric one, never published): skipped, as RFC 7517 5 says
		}
		if rk, ok := k.Key().(*rsa.PublicKey); ok && rk.N.BitLen() < minRSABits {
			j.log.Warn("JWKS key skipped: RSA key too short", "url", j.url, "kid", m.KID, "bits", rk.N.BitLen())
			continue // held to the rule public_keys are
		}
		keys = append(keys, k)
	}
	return body, keys, nil
}

// generation is the current key set's generation.
func (j *jwks) generation() uint64 { return j.gen.Load() }

// key finds the key for tok: by its kid, or every key that fits its alg
// when it has none. A kid the set lacks makes one fetch at once, at most
// once per j.unknown; within that, it is refused at once.
func (j *jwks) key(ctx context.Context, tok *jwt.Token) (any, error) {
	alg := tok.Method.Alg()
	k, err := j.lookup(tok, alg)
	if !errors.Is(err, errNotInSet) {
		return k, err
	}
	if !j.mayFetch() {
		if !j.fetched.Load() {
			return nil, ErrUnavailable
		}
		return nil, ErrUnknownKey
	}
	// Detached from the request: a client that goes away must not waste
	// the one fetch an unknown kid may make per j.unknown. A fetch already
	// in flight (the background refresh) is waited for, not repeated.
	if err := j.refreshOnce(context.WithoutCancel(ctx)); err != nil {
		j.log.Warn("JWKS fetch for an unknown key failed", "url", j.url, "error", err.Error())
		if !j.fetched.Load() {
			return nil, ErrUnavailable
		}
		return nil, ErrUnknownKey
	}
	k, err = j.lookup(tok, alg)
	if errors.Is(err, errNotInSet) {
		return nil, ErrUnknownKey
	}
	return k, err
}

var errNotInSet = errors.New("no such key in the set")

func (j *jwks) lookup(tok *jwt.Token, alg string) (any, error) {
	k, err := j.kf.Keyfunc(tok)
	if err != nil {
		if errors.Is(err, jwkset.ErrKeyNotFound) {
			return nil, errNotInSet
		}
		return nil, ErrUnknownKey // a kid that is not a string, a key whose alg differs from the token's
	}
	if set, ok := k.(jwt.VerificationKeySet); ok {
		fit := set.Keys[:0:0]
		for _, key := range set.Keys {
			if keyFits(alg, key) {
				fit = append(fit, key)
			}
		}
		switch {
		case len(fit) == 0:
			return nil, errNotInSet
		case len(fit) > maxKeysWithoutKID:
			// A token that names no key would cost a signature check per
			// key that fits: past a few, it must say which (kid).
			return nil, ErrUnknownKey
		}
		return jwt.VerificationKeySet{Keys: fit}, nil
	}
	if !keyFits(alg, k) {
		return nil, ErrUnknownKey // the key under that kid is of another kind: typed keys refuse it
	}
	return k, nil
}

// maxKeysWithoutKID is how many keys of its algorithm a token without a
// kid may be tried against.
const maxKeysWithoutKID = 3

// mayFetch takes the unknown-kid fetch allowance, when there is one.
func (j *jwks) mayFetch() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := time.Now()
	if !j.lastUnknown.IsZero() && now.Sub(j.lastUnknown) < j.unknown {
		return false
	}
	j.lastUnknown = now
	return true
}

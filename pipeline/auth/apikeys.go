package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"frontdesk/pipeline"
	"frontdesk/pipeline/limit"
	"slices"
	"sort"
	"unsafe"
)

// DefaultAPIKeyHeader is the header API keys come in when api_keys.header
// is not set.
const DefaultAPIKeyHeader = "X-API-Key"

// Client is one entry of the keys file.
type Client struct {
	Name string
	// SHA256 lists the lowercase hex SHA-256 of each key the client may
	// send: several while a key is rotated.
	SHA256 []string
	Scopes []string
	// RateLimit is the client's own rate limit, which replaces the
	// endpoint's for that client; nil when it has none.
	RateLimit *limit.Config
}

// APIKeysConfig is the gateway's api_keys with its file read.
type APIKeysConfig struct {
	Header  string // default DefaultAPIKeyHeader
	Clients []Client
}

// APIKeys is the set of API keys the gateway accepts, by hash. It holds no
// key in clear, only hashes; it is immutable and safe for concurrent use.
type APIKeys struct {
	header  string
	byHash  map[[sha256.Size]byte]*apiKey
	ids     map[string]*Identity // by client name
	clients []string
}

type apiKey struct {
	hash [sha256.Size]byte
	id   *Identity
}

// NewAPIKeys checks cfg and builds the set: every hash must be 64
// lowercase hex digits, and no hash may belong to two clients.
func NewAPIKeys(cfg APIKeysConfig) (*APIKeys, error) {
	k := &APIKeys{header: cfg.Header, byHash: map[[sha256.Size]byte]*apiKey{}, ids: map[string]*Identity{}}
	if k.header == "" {
		k.header = DefaultAPIKeyHeader
	}
	if !pipeline.IsToken(k.header) {
		return nil, fmt.Errorf("api_keys.header %q is not a header name", k.header)
	}
	owner := map[[sha256.Size]byte]string{}
	for _, c := range cfg.Clients {
		if c.Name == "" {
			return nil, fmt.Errorf("a client has an empty name")
		}
		if slices.Contains(k.clients, c.Name) {
			return nil, fmt.Errorf("client %q is listed twice", c.Name)
		}
		k.clients = append(k.clients, c.Name)
		id := newIdentity(MethodAPIKey, c.Name, c.Scopes, nil)
		id.RateLimit = c.RateLimit
		k.ids[c.Name] = id
		for _, h := range c.SHA256 {
			sum, err := ParseHash(h)
			if err != nil {
				return nil, fmt.Errorf("client %q: %v", c.Name, err)
			}
			if other, dup := owner[sum]; dup {
				if other == c.Name {
					return nil, fmt.Errorf("client %q lists the same hash twice", c.Name)
				}
				return nil, fmt.Errorf("client %q has a hash that client %q has too: each key belongs to one client", c.Name, other)
			}
			owner[sum] = c.Name
			k.byHash[sum] = &apiKey{hash: sum, id: id}
		}
	}
	sort.Strings(k.clients)
	return k, nil
}

// ParseHash reads a lowercase hex SHA-256, as the keys file holds them.
func ParseHash(h string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if len(h) != 2*sha256.Size {
		return sum, fmt.Errorf("%q is not a SHA-256: want 64 lowercase hex digits (printf %%s \"$KEY\" | sha256sum)", clip(h))
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return sum, fmt.Errorf("%q is not a SHA-256: want 64 lowercase hex digits (printf %%s \"$KEY\" | sha256sum)", clip(h))
		}
	}
	hex.Decode(sum[:], []byte(h))
	return sum, nil
}

// clip keeps messages about a malformed hash short; a value that long may
// also be a key pasted by mistake, which a message should not repeat whole.
func clip(s string) string {
	if len(s) > 12 {
		return s[:8] + "…"
	}
	return s
}

// HashKey is the lowercase hex SHA-256 of key, as the keys file lists it.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Header is the name of the header API keys come in, as configured (the
// challenge names it so).
func (k *APIKeys) Header() string { return k.header }

// Clients lists the clients' names, sorted.
func (k *APIKeys) Clients() []string { return k.clients }

// Lookup returns the identity of the client key belongs to. The key is
// hashed and found by its hash; the stored hash is then compared in
// constant time. What a lookup's timing could tell is about the hash, not
// the key.
func (k *APIKeys) Lookup(key string) (*Identity, bool) {
	if key == "" || len(key) > MaxCredential {
		return nil, false
	}
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(key), len(key)))
	e, ok := k.byHash[sum]
	if !ok {
		return nil, false
	}
	if subtle.ConstantTimeCompare(sum[:], e.hash[:]) != 1 {
		return nil, false
	}
	return e.id, true
}

// withKey returns a copy of k that also accepts key for client, for spec
// tests (which cannot know a real key: the file holds only hashes).
func (k *APIKeys) withKey(client, key string) (*APIKeys, error) {
	id, ok := k.ids[client]
	if !ok {
		return nil, fmt.Errorf("the keys file has no client %q", client)
	}
	c := &APIKeys{header: k.header, byHash: make(map[[sha256.Size]byte]*apiKey, len(k.byHash)+1), ids: k.ids, clients: k.clients}
	for h, e := range k.byHash {
		c.byHash[h] = e
	}
	sum := sha256.Sum256([]byte(key))
	c.byHash[sum] = &apiKey{hash: sum, id: id}
	return c, nil
}

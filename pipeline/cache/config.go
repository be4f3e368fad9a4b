package cache

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"time"
)

// Scope says who shares a cached answer.
type Scope uint8

const (
	// ScopeUser keeps one copy per client identity: the default when the
	// endpoint requires auth. Answers say Cache-Control: private.
	ScopeUser Scope = iota
	// ScopeShared serves one copy to every client; it must be asked for.
	// Answers say Cache-Control: public.
	ScopeShared
)

// ParseScope reads a spec's cache.scope; "" is def (ScopeUser when the
// endpoint requires auth, else the engine's choice).
func ParseScope(s string, def Scope) (Scope, error) {
	switch s {
	case "":
		return def, nil
	case "user":
		return ScopeUser, nil
	case "shared":
		return ScopeShared, nil
	}
	return def, fmt.Errorf("cache.scope %q: want user or shared", s)
}

func (s Scope) String() string {
	if s == ScopeShared {
		return "shared"
	}
	return "user"
}

// Bounds of a Config.
const (
	MaxTTL             = 24 * time.Hour
	DefaultFillTimeout = 30 * time.Second
	MaxFillTimeout     = 10 * time.Minute
	maxReplay          = 64
)

// Config is one endpoint's cache.
type Config struct {
	TTL   time.Duration
	Scope Scope
	// Headers are the response headers a hit replays besides Content-Type
	// and Cache-Control: the spec's response.headers. Set-Cookie is never
	// replayed (an answer carrying it is not stored at all).
	Headers []string
	// HonorClientNoCache is gateway.json cache.honor_client_no_cache: a
	// request with Cache-Control: no-cache skips the lookup and refreshes
	// the entry.
	HonorClientNoCache bool
	// FillTimeout bounds one fill, which runs detached from the clients
	// waiting on it; 0 is DefaultFillTimeout. The engine gives the
	// endpoint's timeout and a little more.
	FillTimeout time.Duration
	// WriteTimeout bounds each 64 KB of an answer the stage writes
	// (pipeline.WriteBody); 0 leaves it to the server.
	WriteTimeout time.Duration
	// Endpoint names the endpoint in log lines.
	Endpoint string
}

// normalize checks c and fills its defaults.
func (c Config) normalize() (Config, error) {
	if c.TTL <= 0 || c.TTL > MaxTTL {
		return c, fmt.Errorf("cache.ttl: %s is not between 0 and %s", c.TTL, MaxTTL)
	}
	if c.Scope != ScopeUser && c.Scope != ScopeShared {
		return c, errors.New("cache.scope: unknown")
	}
	if c.FillTimeout == 0 {
		c.FillTimeout = DefaultFillTimeout
	}
	if c.FillTimeout < 0 || c.FillTimeout > MaxFillTimeout {
		return c, fmt.Errorf("cache fill timeout: %s is not between 0 and %s", c.FillTimeout, MaxFillTimeout)
	}
	if len(c.Headers) > maxReplay {
		return c, fmt.Errorf("cache: more than %d response headers to replay", maxReplay)
	}
	hs := []string{"Content-Type", "Cache-Control"}
	for _, h := range c.Headers {
		h = textproto.CanonicalMIMEHeaderKey(h)
		switch h {
		case "Set-Cookie", "Set-Cookie2":
			return c, fmt.Errorf("cache: %s is never replayed from a cache", h)
		case "Content-Type", "Cache-Control", "Age", "Cache-Status", "Content-Length":
			continue
		}
		hs = append(hs, h)
	}
	c.Headers = hs
	return c, nil
}

// cacheControl is what a request's or response's Cache-Control says that
// matters here.
type cacheControl struct {
	noCache, noStore, private bool
}

// parseCacheControl reads the directives of every Cache-Control line;
// unknown directives and arguments are ignored.
func parseCacheControl(h http.Header) cacheControl {
	var cc cacheControl
	for _, line := range h["Cache-Control"] {
		for len(line) > 0 {
			var d string
			d, line = nextDirective(line)
			switch {
			case equalFold(d, "no-cache"):
				cc.noCache = true
			case equalFold(d, "no-store"):
				cc.noStore = true
			case equalFold(d, "private"):
				cc.private = true
			}
		}
	}
	return cc
}

// nextDirective splits "a=1, b" into the name "a" and the rest " b". A
// quoted argument may hold commas.
func nextDirective(s string) (name, rest string) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
		i++
	}
	s = s[i:]
	j := 0
	for j < len(s) && s[j] != ',' && s[j] != '=' && s[j] != ' ' && s[j] != '\t' {
		j++
	}
	name = s[:j]
	s = s[j:]
	quoted := false
	k := 0
	for k < len(s) {
		switch c := s[k]; {
		case c == '"':
			quoted = !quoted
		case c == '\\' && quoted:
			k++
		case c == ',' && !quoted:
			return name, s[k+1:]
		}
		k++
	}
	return name, ""
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x := a[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != b[i] {
			return false
		}
	}
	return true
}

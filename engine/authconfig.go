package engine

import (
	"errors"
	"io/fs"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"frontdesk/pipeline"
	"frontdesk/pipeline/auth"
	"frontdesk/pipeline/cors"
	"frontdesk/pipeline/limit"
	"frontdesk/schemas"
)

// AuthConfig is gateway.json's auth, decoded. The files it names
// (public_keys, api_keys.file) are read by Load, relative to gateway.json's
// folder.
type AuthConfig struct {
	JWT     *auth.JWTConfig // nil without auth.jwt
	APIKeys *APIKeysConfig  // nil without auth.api_keys

	node       *Node
	jwtNode    *Node
	publicKeys []*Node // the elements of public_keys, for reading them
	// jwtUnknown is set when a key source or the algorithms could not be
	// read (a missing ${VAR}, a wrong type): that was reported, and the
	// verifier's own checks would only repeat it in other words.
	jwtUnknown bool
}

// APIKeysConfig is gateway.json's auth.api_keys.
type APIKeysConfig struct {
	Header string
	File   string // as written: relative to gateway.json's folder
	node   *Node
}

// Keys accepted in auth, auth.jwt, auth.api_keys and cors; the schemas
// must list the same ones.
var (
	authKeys    = []string{"jwt", "api_keys"}
	jwtKeys     = []string{"jwks_url", "secret", "public_keys", "issuer", "audience", "algorithms", "leeway", "cookie"}
	apiKeysKeys = []string{"header", "file"}
	corsKeys    = []string{"allow_origins", "allow_methods", "allow_headers", "expose_headers", "allow_credentials", "max_age"}
)

func (d *decoder) auth(n *Node) *AuthConfig {
	a := &AuthConfig{node: n}
	if !d.object(n, "auth", authKeys...) {
		return a
	}
	if v := n.Get("jwt"); v != nil {
		before := len(d.errs)
		a.JWT, a.publicKeys = d.jwt(v)
		a.jwtNode = v
		for _, e := range d.errs[before:] {
			switch fieldPath(e.Field) {
			case "auth.jwt", "auth.jwt.secret", "auth.jwt.public_keys", "auth.jwt.jwks_url", "auth.jwt.algorithms":
				a.jwtUnknown = true
			}
		}
		for _, k := range []string{"secret", "public_keys", "jwks_url", "algorithms"} {
			if e := v.Get(k); e != nil && (d.envFailed[e] || e.Kind != KindString && e.Kind != KindArray) {
				a.jwtUnknown = true
			}
		}
	}
	if v := n.Get("api_keys"); v != nil && d.object(v, "auth.api_keys", apiKeysKeys...) {
		k := &APIKeysConfig{Header: auth.DefaultAPIKeyHeader, node: v}
		if h := v.Get("header"); h != nil {
			k.Header = d.str(h, "auth.api_keys.header")
			if h.Kind == KindString && !pipeline.IsToken(k.Header) {
				d.errorf(h.Pos, RuleSchema, "auth.api_keys.header", "auth.api_keys.header: %q is not a header name", k.Header)
			}
		}
		if f := v.Get("file"); f != nil {
			k.File = d.str(f, "auth.api_keys.file")
		} else {
			d.errorf(v.Pos, RuleSchema, "auth.api_keys", "auth.api_keys needs \"file\": the JSON file of clients and key hashes")
		}
		a.APIKeys = k
	}
	return a
}

func (d *decoder) jwt(n *Node) (*auth.JWTConfig, []*Node) {
	c := &auth.JWTConfig{}
	var keys []*Node
	if !d.object(n, "auth.jwt", jwtKeys...) {
		return c, nil
	}
	for _, m := range n.Members {
		v := m.Value
		f := "auth.jwt." + m.Key
		switch m.Key {
		case "jwks_url":
			c.JWKSURL = d.str(v, f)
			if v.Kind == KindString && !d.envFailed[v] {
				d.jwksURL(v)
			}
		case "secret":
			s := d.str(v, f)
			if v.Kind == KindString && !d.envFailed[v] {
				if s == "" {
					d.errorf(v.Pos, RuleSchema, f, "auth.jwt.secret is empty; set it from the environment: \"${JWT_SECRET}\"")
				} else if !d.fromEnv[v] {
					d.add(v.Pos, SevWarning, RuleClearSecret, f,
						"auth.jwt.secret is written in gateway.json in clear, where anyone who reads the file can sign tokens; give it from the environment: \"${JWT_SECRET}\"")
				}
				c.Secret = []byte(s)
			}
		case "public_keys":
			d.strList(v, f)
			if v.Kind == KindArray {
				c.PublicKeys = []auth.PEMFile{} // read by Load
				for _, e := range v.Elems {
					if e.Kind == KindString {
						keys = append(keys, e)
					}
				}
				if len(v.Elems) == 0 {
					d.errorf(v.Pos, RuleSchema, f, "auth.jwt.public_keys lists no file")
				}
			}
		case "issuer":
			c.Issuer = d.str(v, f)
			if v.Kind == KindString && c.Issuer == "" && !d.envFailed[v] {
				d.errorf(v.Pos, RuleSchema, f, "auth.jwt.issuer is empty, which would turn the issuer check off; leave the key out to accept any issuer")
			}
		case "audience":
			if v.Kind == KindString {
				c.Audience = []string{v.Str}
			} else {
				c.Audience = d.strList(v, f)
			}
			if slices.Contains(c.Audience, "") && !d.envFailed[v] {
				d.errorf(v.Pos, RuleSchema, f, "auth.jwt.audience holds an empty value; name the audiences tokens must be for")
			}
		case "algorithms":
			c.Algorithms = d.strList(v, f)
		case "leeway":
			c.Leeway = d.nonNegativeDuration(v, f)
			switch {
			case c.Leeway > maxLeeway:
				d.errorf(v.Pos, RuleDuration, f, "auth.jwt.leeway %s is more than %s: exp and nbf would mean little", c.Leeway, maxLeeway)
			case c.Leeway > leewayWarn:
				d.add(v.Pos, SevWarning, RuleDuration, f, "auth.jwt.leeway %s is long: tokens stay accepted that long after they expire", c.Leeway)
			}
		case "cookie":
			c.Cookie = d.str(v, f)
		}
	}
	if n.Get("algorithms") == nil {
		d.errorf(n.Pos, RuleSchema, "auth.jwt.algorithms", "auth.jwt needs \"algorithms\", the accepted signing algorithms listed explicitly, such as [\"RS256\"]")
	}
	if n.Get("audience") == nil && (n.Get("jwks_url") != nil || n.Get("public_keys") != nil) {
		d.add(n.Pos, SevWarning, RuleNoAudience, "auth.jwt.audience",
			"auth.jwt names no audience: every token the issuer signs, for any application, is accepted; set \"audience\"")
	}
	return c, keys
}

// Leeway bounds: past leewayWarn a warning, past maxLeeway an error.
const (
	leewayWarn = 5 * time.Minute
	maxLeeway  = time.Hour
)

// jwksURL checks a jwks_url: an http(s) URL, and a warning for plain http
// beyond loopback, where anyone on the path could swap the keys.
func (d *decoder) jwksURL(n *Node) {
	u, err := url.Parse(n.Str)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.errorf(n.Pos, RuleSchema, "auth.jwt.jwks_url", "auth.jwt.jwks_url: %q is not an http(s) URL such as \"https://id.example.com/.well-known/jwks.json\"", n.Str)
		return
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		d.add(n.Pos, SevWarning, RulePlainJWKS, "auth.jwt.jwks_url",
			"auth.jwt.jwks_url is plain http to %s: whoever is on the path can replace the keys and sign any token; use https", u.Hostname())
	}
}

func loopbackHost(h string) bool {
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// nonNegativeDuration reads a duration that may be zero ("0s").
func (d *decoder) nonNegativeDuration(n *Node, field string) time.Duration {
	if d.envFailed[n] {
		return 0
	}
	s := d.str(n, field)
	if n.Kind != KindString {
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		d.errorf(n.Pos, RuleDuration, field, "%s: %q is not a duration such as \"30s\" (\"0s\" for none)", field, s)
		return 0
	}
	return v
}

func (d *decoder) cors(n *Node) *cors.Config {
	c := &cors.Config{}
	if !d.object(n, "cors", corsKeys...) {
		return c
	}
	for _, m := range n.Members {
		v := m.Value
		f := "cors." + m.Key
		switch m.Key {
		case "allow_origins":
			c.AllowOrigins = d.strList(v, f)
		case "allow_methods":
			c.AllowMethods = d.strList(v, f)
		case "allow_headers":
			c.AllowHeaders = d.strList(v, f)
		case "expose_headers":
			c.ExposeHeaders = d.strList(v, f)
		case "allow_credentials":
			c.AllowCredentials = d.boolean(v, f)
		case "max_age":
			c.MaxAge = d.nonNegativeDuration(v, f)
		}
	}
	if n.Get("allow_origins") == nil {
		d.errorf(n.Pos, RuleSchema, "cors.allow_origins", "cors needs \"allow_origins\", the origins browsers may call from, such as [\"https://shop.example.com\"]")
	}
	if o := n.Get("allow_origins"); c.AllowCredentials && o != nil {
		for _, e := range o.Elems {
			if u, err := url.Parse(e.Str); e.Kind == KindString && err == nil && u.Scheme == "http" && !loopbackHost(strings.TrimPrefix(u.Hostname(), "*.")) {
				d.add(e.Pos, SevWarning, RulePlainOrigin, "cors.allow_origins",
					"cors: %s is plain http and credentials are allowed: whoever is on that network can read the answers sent with the user's credentials; use https", e.Str)
			}
		}
	}
	return c
}

// atIndex is the node of element i of list field key of n (or the key's
// value, or n itself), for errors that name a list element.
func atIndex(n *Node, key string, i int) Pos {
	if n == nil {
		return Pos{1, 1, 0}
	}
	v := n.Get(key)
	if v == nil {
		return n.Pos
	}
	if i >= 0 && i < len(v.Elems) {
		return v.Elems[i].Pos
	}
	return v.Pos
}

// readPublicKeys reads the PEM files of auth.jwt.public_keys, relative to
// gateway.json's folder.
func (d *decoder) readPublicKeys(fsys fs.FS, dir string, a *AuthConfig) {
	for _, e := range a.publicKeys {
		if d.envFailed[e] {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Str))
		if err != nil {
			d.errorf(e.Pos, RuleIO, "auth.jwt.public_keys", "auth.jwt.public_keys: %q: %v", e.Str, unwrapPathErr(err))
			continue
		}
		a.JWT.PublicKeys = append(a.JWT.PublicKeys, auth.PEMFile{Name: e.Str, Data: b})
	}
}

// jwtError reports a problem auth.NewJWT found, at the key it names.
func (d *decoder) jwtError(a *AuthConfig, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			d.jwtError(a, e)
		}
		return
	}
	ce, ok := errors.AsType[*auth.ConfigError](err)
	if !ok {
		d.errorf(a.jwtNode.Pos, RuleSchema, "auth.jwt", "auth.jwt: %v", err)
		return
	}
	pos := a.jwtNode.Pos
	if ce.Field == "jwt" {
		d.errorf(pos, RuleSchema, "auth.jwt", "auth.jwt: %s", ce.Msg)
		return
	}
	pos = atIndex(a.jwtNode, ce.Field, ce.Index)
	d.errorf(pos, RuleSchema, "auth.jwt."+ce.Field, "auth.jwt.%s", ce.Error())
}

// keysFileKeys are the keys of the API key file and of one client in it.
var (
	keysFileKeys  = []string{"clients"}
	keyClientKeys = []string{"sha256", "scopes", "rate_limit"}
	rateLimitKeys = []string{"rate", "burst"}
	hashRE        = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// keysFile decodes the API key file (its own decoder: its problems name
// that file).
func (d *decoder) keysFile(n *Node) []auth.Client {
	if !d.object(n, "the API key file", keysFileKeys...) {
		return nil
	}
	cl := n.Get("clients")
	if cl == nil {
		d.errorf(n.Pos, RuleSchema, "clients", "the API key file needs \"clients\": {\"NAME\": {\"sha256\": [\"<hex SHA-256 of the key>\"]}}")
		return nil
	}
	if !d.want(cl, KindObject, "clients") {
		return nil
	}
	var out []auth.Client
	owner := map[string]string{}
	for _, m := range cl.Members {
		field := "clients." + m.Key
		c := auth.Client{Name: m.Key}
		if m.Key == "" {
			d.errorf(m.KeyPos, RuleSchema, "clients", "a client needs a name")
			continue
		}
		if !d.object(m.Value, "client "+quote(m.Key), keyClientKeys...) {
			continue
		}
		for _, mm := range m.Value.Members {
			f := field + "." + mm.Key
			v := mm.Value
			switch mm.Key {
			case "sha256":
				d.strList(v, f)
				for _, e := range v.Elems {
					if e.Kind != KindString {
						continue
					}
					if !hashRE.MatchString(e.Str) {
						d.errorf(e.Pos, RuleSchema, f, "%s: not a SHA-256: each entry is the 64 lowercase hex digits of the key's SHA-256 (printf %%s \"$KEY\" | sha256sum, or frontdesk hash-key), never the key itself", f)
						continue
					}
					if other, dup := owner[e.Str]; dup {
						d.errorf(e.Pos, RuleSchema, f, "%s: client %q has this hash too: each key belongs to one client", f, other)
						continue
					}
					owner[e.Str] = m.Key
					c.SHA256 = append(c.SHA256, e.Str)
				}
			case "scopes":
				c.Scopes = d.strList(v, f)
			case "rate_limit":
				c.RateLimit = d.clientRate(v, f)
			}
		}
		if m.Value.Get("sha256") == nil {
			d.errorf(m.KeyPos, RuleSchema, field, "client %q needs \"sha256\": the hashes of its keys", m.Key)
		}
		out = append(out, c)
	}
	return out
}

// clientRate reads a client's rate_limit: {"rate": "50/s", "burst": 100};
// burst defaults to the rate's count. The rate is read as an endpoint's is.
func (d *decoder) clientRate(n *Node, field string) *limit.Config {
	if !d.object(n, field, rateLimitKeys...) {
		return nil
	}
	r := n.Get("rate")
	if r == nil {
		d.errorf(n.Pos, RuleSchema, field, "%s needs \"rate\", such as \"50/s\"", field)
		return nil
	}
	burst := 0
	if b := n.Get("burst"); b != nil {
		if burst = d.integer(b, field+".burst", 1, limit.MaxBurst); burst == 0 {
			return nil
		}
	}
	if !d.want(r, KindString, field+".rate") {
		return nil
	}
	cfg, err := limit.ParseConfig(r.Str, burst)
	if err != nil {
		d.errorf(r.Pos, RuleSchema, field+".rate", "%s: %v", field+".rate", err)
		return nil
	}
	return &cfg
}

// readKeysFile reads and decodes api_keys.file, relative to gateway.json's
// folder; its problems name that file.
func readKeysFile(fsys fs.FS, dir string, k *APIKeysConfig, cfgDecoder *decoder, display func(string) string) ([]auth.Client, LoadErrors) {
	p := path.Join(dir, k.File)
	fd := &decoder{file: display(p)}
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		pos := k.node.Pos
		if f := k.node.Get("file"); f != nil {
			pos = f.Pos
		}
		cfgDecoder.errorf(pos, RuleIO, "auth.api_keys.file", "auth.api_keys.file %q: %v", k.File, unwrapPathErr(err))
		return nil, nil
	}
	n, err := ParseJSON(b)
	if err != nil {
		if se, ok := errors.AsType[*SyntaxError](err); ok {
			fd.errorf(se.Pos, RuleSyntax, "", "%s", se.Msg)
		} else {
			fd.errorf(Pos{1, 1, 0}, RuleSyntax, "", "%v", err)
		}
		return nil, fd.errs
	}
	clients := fd.keysFile(n)
	fd.validateSchema(schemas.Keys, b, n)
	return clients, fd.errs
}

// corsError reports a problem cors.New found, at the key it names.
func (d *decoder) corsError(n *Node, err error) {
	ce, ok := errors.AsType[*cors.ConfigError](err)
	if !ok {
		d.errorf(n.Pos, RuleSchema, "cors", "cors: %v", err)
		return
	}
	d.errorf(atIndex(n, ce.Field, ce.Index), RuleSchema, "cors."+ce.Field, "cors.%s", ce.Error())
}

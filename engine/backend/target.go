package backend

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// baseURL is an instance's base, parsed once, so that a try's URL is the
// base's fields plus the target's path and query: base+target is not
// concatenated and parsed on every try. resolve gives exactly the URL that
// url.Parse(base+target) gives (and NewRequest then sends), or says the
// target is one to leave to url.Parse.
type baseURL struct {
	ok     bool // the base is plain scheme://authority[/path]: else every try parses base+target
	scheme string
	user   *url.Userinfo // never written: shared by every try's URL
	host   string        // as NewRequest leaves it (an empty port removed)
	path   string        // the base's path as written (escaped): "" or "/..."
}

func parseBase(base string) baseURL {
	if strings.ContainsAny(base, "?#") {
		return baseURL{}
	}
	hr, err := http.NewRequest(http.MethodGet, base, nil)
	if err != nil {
		return baseURL{}
	}
	u := hr.URL
	if u.Scheme == "" || u.Opaque != "" || u.OmitHost || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return baseURL{}
	}
	// The base after "scheme:" is "//authority" and its path: the path is
	// what follows the authority's first slash, as url.Parse cuts it.
	rest := base[len(u.Scheme)+1:]
	if !strings.HasPrefix(rest, "//") {
		return baseURL{}
	}
	path := ""
	if i := strings.IndexByte(rest[2:], '/'); i >= 0 {
		path = rest[2+i:]
	}
	return baseURL{ok: true, scheme: u.Scheme, user: u.User, host: u.Host, path: path}
}

// resolve is the URL of base+target, as url.Parse (and NewRequest's empty
// port removal) makes it. ok is false for a target this does not handle
// (not starting with a slash, with a fragment, a control byte or a bad
// escape): the caller then parses base+target, which also reports an
// invalid target as before.
func (b *baseURL) resolve(target string) (u url.URL, ok bool) {
	if !b.ok || target == "" || target[0] != '/' {
		return u, false
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c < 0x20 || c == 0x7f || c == '#' {
			return u, false
		}
	}
	// As url.parse: a lone '?' at the end forces an empty query; else the
	// query is all after the first '?'. The base holds no '?'.
	p, force := target, false
	if q := strings.IndexByte(target, '?'); q == len(target)-1 {
		p, force = target[:q], true
	} else if q >= 0 {
		p, u.RawQuery = target[:q], target[q+1:]
	}
	p = b.path + p
	u.Scheme, u.User, u.Host, u.ForceQuery = b.scheme, b.user, b.host, force
	u.Path = p
	if strings.IndexByte(p, '%') >= 0 {
		// url.PathUnescape unescapes as url.Parse does a path.
		path, err := url.PathUnescape(p)
		if err != nil {
			return url.URL{}, false
		}
		u.Path = path
	}
	// As url.URL.setPath: RawPath only when the default escaping of Path
	// is not what was written.
	if u.EscapedPath() != p {
		u.RawPath = p
	}
	return u, true
}

// newRequest is NewRequestWithContext of base+target, the URL built from
// the parsed base where resolve can.
func (in *instance) newRequest(ctx context.Context, method, target string, body io.Reader) (*http.Request, error) {
	u, ok := in.url.resolve(target)
	if !ok {
		return http.NewRequestWithContext(ctx, method, in.base+target, body)
	}
	// A request for "/" (which parses without a copy), its URL then
	// overwritten: NewRequestWithContext checks the method and sets up
	// the body and context as for any URL; only URL and Host come from it.
	hr, err := http.NewRequestWithContext(ctx, method, "/", body)
	if err != nil {
		return nil, err
	}
	*hr.URL = u
	hr.Host = u.Host
	return hr, nil
}

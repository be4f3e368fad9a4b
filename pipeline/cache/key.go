package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"net/url"
	"sync"
)

// Part is one request value an endpoint's expressions read, such as
// ("query.currency", ["EUR"]) or ("auth.sub", ["u1"]). Values nil means
// absent, which is not the same as one empty value; a repeated query
// parameter or header has each value, in order.
type Part struct {
	Name   string
	Values []string
}

// Request is what a request's cache key is made of.
type Request struct {
	Method string
	Route  string // the endpoint's path as written, "/checkout/{cart_id}"
	// Parts are every request value the endpoint's expressions read, in
	// the order the engine compiled them (the same order every time).
	Parts []Part
	// Vary are the values of the cache's vary expressions, in spec order.
	Vary []Part
	// Identity is the client (API key client, or auth.method and
	// auth.sub); only ScopeUser keys on it.
	Identity string
}

// keyDomain starts every key's input, so a key never equals a hash of
// anything else the gateway hashes.
const keyDomain = "frontdesk cache key v1\x00"

// BuildKey is the cache key of req under scope: SHA-256 in hex, 64 bytes
// whatever the request. Its input writes every field, part name and value
// with its length in front (and the number of parts and values, and
// whether a value is present), so no value, whatever bytes it holds, can
// make two different requests share a key: not a crafted query string, a
// value holding the separators, a repeated parameter, nor an identity that
// looks like a part. ScopeShared leaves the identity out.
func BuildKey(scope Scope, req *Request) string {
	bp := keyBufs.Get().(*[]byte)
	b := appendKeyInput((*bp)[:0], scope, req)
	sum := sha256.Sum256(b)
	if cap(b) <= 64<<10 {
		*bp = b
		keyBufs.Put(bp)
	}
	var dst [2 * sha256.Size]byte
	hex.Encode(dst[:], sum[:])
	return string(dst[:])
}

var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendKeyInput writes the unambiguous input BuildKey hashes.
func appendKeyInput(b []byte, scope Scope, req *Request) []byte {
	b = append(b, keyDomain...)
	b = appendField(b, req.Method)
	b = appendField(b, req.Route)
	b = appendParts(b, req.Parts)
	b = appendParts(b, req.Vary)
	if scope == ScopeShared {
		return append(b, 's')
	}
	b = append(b, 'u')
	return appendField(b, req.Identity)
}

func appendParts(b []byte, parts []Part) []byte {
	b = binary.AppendUvarint(b, uint64(len(parts)))
	for _, p := range parts {
		b = appendField(b, p.Name)
		if p.Values == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(p.Values)))
		for _, v := range p.Values {
			b = appendField(b, v)
		}
	}
	return b
}

func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// SourceKind is where in a request a value comes from.
type SourceKind uint8

const (
	Param  SourceKind = iota + 1 // a path parameter: params.NAME
	Query                        // a query parameter: query.NAME, every value
	Header                       // a request header: headers.NAME, every line
)

// Source names one request value the endpoint reads.
type Source struct {
	Kind SourceKind
	Name string // as the spec writes it; header names are canonicalized
}

// ReadParts appends to dst the parts sources name, read from r: path
// parameters by r.PathValue, query parameters with every value in order,
// headers with every line in order under their canonical name (so
// x-currency and X-Currency are the same header, as they are to
// expressions, while their values are compared exactly).
func ReadParts(r *http.Request, sources []Source, dst []Part) []Part {
	var q url.Values
	for _, s := range sources {
		switch s.Kind {
		case Param:
			dst = append(dst, Part{Name: "params." + s.Name, Values: []string{r.PathValue(s.Name)}})
		case Query:
			if q == nil {
				q = r.URL.Query()
			}
			dst = append(dst, Part{Name: "query." + s.Name, Values: q[s.Name]})
		case Header:
			name := textproto.CanonicalMIMEHeaderKey(s.Name)
			dst = append(dst, Part{Name: "headers." + name, Values: r.Header[name]})
		}
	}
	return dst
}

package engine

import (
	"frontdesk/engine/metrics"
	"time"

	"frontdesk/engine/backend"
	"frontdesk/pipeline"
	"frontdesk/transform"
)

// Plan is one compiled endpoint. It is immutable after Load and safe for
// concurrent use; it serves requests as an http.Handler.
type Plan struct {
	Method  string
	Route   string // the path as written in the spec
	File    string
	Summary string
	Timeout time.Duration
	Calls   []*Call // in file order

	pattern  string
	metrics  *metrics.Endpoint // its series, made at load
	pathPos  Pos
	params   []string
	roots    []int
	response *response
	reads    map[string]bool // top-level names any expression reads
	callIdx  map[string]int  // call name -> index in Calls
	limits   Limits
	rt       *shared
	formats  []pipeline.Format // in the spec's order of preference
	xmlRoot  string
	xmlOut   *transform.XMLCodec // writes the response as XML
	xmlIn    *transform.XMLCodec // reads an XML request body
	auth     *authRule           // nil: a public endpoint
	limit    *rateRule           // nil: not limited (but for API key clients with limits of their own)
	cache    *cacheRule          // nil: not cached
}

// authRule is an endpoint's compiled auth.
type authRule struct {
	require []string
	scopes  []string
	allow   *expression
}

// Call is one compiled backend call.
type Call struct {
	Name     string
	Method   string
	Optional bool
	Timeout  time.Duration

	idx         int
	service     *ServiceConfig
	client      *backend.Client
	path        []pathPart
	query       []namedExpr // names query-escaped at load
	headers     []namedExpr
	body        *template
	when        *expression
	forEach     *expression
	fallback    *expression
	after       []int
	deps        []int // calls this one waits for, sorted
	dependents  []int // calls that wait for this one
	decode      decodeMode
	forward     []string
	acceptable  []int
	expose      bool
	decodeKeys  map[string]*transform.KeyUse // the only keys expressions read
	decodeWhole bool                         // expressions read the result whole
	encode      encodeMode
	xmlRoot     string              // root element with encode xml
	codec       *transform.XMLCodec // decode xml, encode xml
	cacheTTL    time.Duration       // calls.NAME.cache.ttl; 0: not cached
	cacheAuth   bool                // the call reads auth: cached per client
	cacheStore  backend.Store       // the gateway's cache store, set at load
	retry       backend.Retry       // the service's, the call's keys over it
	hedgeAfter  time.Duration       // 0: no hedging
}

// Deps returns the names of the calls c waits for.
func (p *Plan) Deps(c *Call) []string {
	out := make([]string, len(c.deps))
	for i, j := range c.deps {
		out[i] = p.Calls[j].Name
	}
	return out
}

// decodeMode is how a call's answer is read, fixed at load.
type decodeMode uint8

const (
	decodeAuto decodeMode = iota // by Content-Type
	decodeJSON
	decodeXML
	decodeText
)

var decodeModes = map[string]decodeMode{"auto": decodeAuto, "json": decodeJSON, "xml": decodeXML, "text": decodeText}

// encodeMode is how a call's body is sent, fixed at load.
type encodeMode uint8

const (
	encodeJSON encodeMode = iota
	encodeXML
	encodeForm
)

var encodeModes = map[string]encodeMode{"json": encodeJSON, "xml": encodeXML, "form": encodeForm}

type pathPart struct {
	lit  string
	expr *expression
}

type response struct {
	status  *expression
	headers []namedExpr
	body    *template
}

// eachExpr calls f for every expression of the call.
func (c *Call) eachExpr(f func(*expression)) {
	add := func(e *expression) {
		if e != nil {
			f(e)
		}
	}
	for _, p := range c.path {
		add(p.expr)
	}
	for _, q := range c.query {
		add(q.expr)
	}
	for _, h := range c.headers {
		add(h.expr)
	}
	if c.body != nil {
		c.body.reads(add)
	}
	add(c.when)
	add(c.forEach)
	add(c.fallback)
}

// eachExpr calls f for every expression of the plan.
func (p *Plan) eachExpr(f func(*expression)) {
	for _, c := range p.Calls {
		c.eachExpr(f)
	}
	if r := p.response; r != nil {
		if r.status != nil {
			f(r.status)
		}
		for _, h := range r.headers {
			if h.expr != nil {
				f(h.expr)
			}
		}
		if r.body != nil {
			r.body.reads(func(e *expression) { f(e) })
		}
	}
}

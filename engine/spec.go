package engine

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/builtin"

	"frontdesk/pipeline"
	"frontdesk/transform"
)

// Spec is a decoded endpoint file, before compilation. Expression fields keep
// their Nodes so compile errors can point into the file.
type Spec struct {
	File        string
	Node        *Node
	Method      string
	Path        string
	PathNode    *Node
	Summary     string
	Timeout     time.Duration
	TimeoutNode *Node
	Limits      Limits
	Calls       []*CallSpec
	Response    *ResponseSpec
	Auth        *AuthSpec // nil: a public endpoint
	RateLimit   *RateSpec // nil: gateway.json's rate_limit.default, if any
	Cache       *CacheSpec
}

// AuthSpec is an endpoint's "auth": who may call it.
type AuthSpec struct {
	Node    *Node
	Require []*Node // "jwt", "api_key"
	Scopes  []string
	Allow   *Node // an expression
}

// endpointAuthKeys are the keys of an endpoint's auth;
// schemas/endpoint.schema.json must list the same ones.
var endpointAuthKeys = []string{"require", "scopes", "allow"}

func (d *decoder) endpointAuth(n *Node) *AuthSpec {
	a := &AuthSpec{Node: n}
	if !d.object(n, "auth", endpointAuthKeys...) {
		return a
	}
	for _, m := range n.Members {
		v := m.Value
		f := "auth." + m.Key
		switch m.Key {
		case "require":
			d.strList(v, f)
			seen := map[string]bool{}
			for i, e := range v.Elems {
				if e.Kind != KindString {
					continue
				}
				switch {
				case e.Str != "jwt" && e.Str != "api_key":
					d.errorf(e.Pos, RuleSchema, f, "%s[%d]: %q is not \"jwt\" or \"api_key\"%s", f, i, e.Str, didYouMean(e.Str, []string{"jwt", "api_key"}))
				case seen[e.Str]:
					d.errorf(e.Pos, RuleSchema, f, "%s[%d]: %q is listed twice", f, i, e.Str)
				default:
					seen[e.Str] = true
					a.Require = append(a.Require, e)
				}
			}
			if v.Kind == KindArray && len(v.Elems) == 0 {
				d.errorf(v.Pos, RuleSchema, f, "auth.require lists no way of signing in: name \"jwt\", \"api_key\" or both (or leave \"auth\" out for a public endpoint)")
			}
		case "scopes":
			a.Scopes = d.strList(v, f)
			for i, e := range v.Elems {
				if e.Kind == KindString && (e.Str == "" || strings.ContainsAny(e.Str, " \t\r\n")) {
					d.errorf(e.Pos, RuleSchema, f, "%s[%d]: %q is not a scope (one word, no spaces)", f, i, e.Str)
				}
			}
		case "allow":
			if d.want(v, KindString, f) {
				a.Allow = v
			}
		}
	}
	if n.Get("require") == nil {
		d.errorf(n.Pos, RuleSchema, "auth.require", "auth needs \"require\": [\"jwt\"], [\"api_key\"] or both")
	}
	return a
}

// CallSpec is one entry of "calls".
type CallSpec struct {
	Name           string
	NamePos        Pos
	Node           *Node
	Service        string
	ServiceNode    *Node
	Method         string
	Path           *Node
	Query          []Member
	Headers        []Member
	Body           *Node
	When           *Node
	ForEach        *Node
	Fallback       *Node
	After          []*Node
	Optional       bool
	Decode         string
	Encode         string
	Timeout        time.Duration
	TimeoutNode    *Node
	ForwardHeaders []*Node
	AcceptStatus   []int
	ExposeErrors   bool
	XML            *XMLSpec
	CacheTTL       time.Duration // calls.NAME.cache.ttl; 0: not cached
	CacheNode      *Node
	Retry          *CallRetry    // nil: the service's
	HedgeAfter     time.Duration // 0: the service's
}

// callCacheKeys are the keys of a call's cache; schemas/endpoint.schema.json
// must list the same ones.
var callCacheKeys = []string{"ttl"}

// XMLSpec is a call's "xml" object: how an XML answer becomes JSON, and the
// root element of a body sent with encode xml.
type XMLSpec struct {
	Node    *Node
	Options transform.XMLOptions
	Root    string
}

// xmlKeys are the keys of a call's "xml"; schemas/endpoint.schema.json must
// list the same ones.
var xmlKeys = []string{"lists", "cast", "attr_prefix", "text_key", "namespaces", "root"}

func (d *decoder) xmlOptions(n *Node, field string) *XMLSpec {
	x := &XMLSpec{Node: n}
	if !d.object(n, field, xmlKeys...) {
		return x
	}
	for _, m := range n.Members {
		f := field + "." + m.Key
		switch m.Key {
		case "lists":
			x.Options.Lists = d.strList(m.Value, f)
		case "cast":
			x.Options.Cast = d.boolean(m.Value, f)
		case "attr_prefix":
			x.Options.AttrPrefix = d.str(m.Value, f)
		case "text_key":
			x.Options.TextKey = d.str(m.Value, f)
		case "namespaces":
			x.Options.Namespaces = d.str(m.Value, f)
			if m.Value.Kind == KindString && x.Options.Namespaces != "strip" && x.Options.Namespaces != "keep" {
				d.errorf(m.Value.Pos, RuleSchema, f, "%s must be \"strip\" or \"keep\", not %q", f, x.Options.Namespaces)
			}
		case "root":
			x.Root = d.str(m.Value, f)
		}
	}
	return x
}

// ResponseSpec is the "response" object.
type ResponseSpec struct {
	Node    *Node
	Status  *Node
	Headers []Member
	Body    *Node
	Formats []string
	XMLRoot string
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reservedNames may not be used as call names: they are request names,
// expr keywords or built-in functions.
var reservedNames = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range []string{"params", "query", "headers", "body", "auth", "meta", "item",
		"true", "false", "nil", "in", "not", "and", "or", "let", "if", "else", "matches",
		"contains", "startsWith", "endsWith", "merge", "pick", "omit", "rename", "coalesce", "to_number", "to_string", "index_by", "env", "$env"} {
		m[n] = true
	}
	for _, n := range builtin.Names {
		m[n] = true
	}
	return m
}()

var endpointKeys = []string{"method", "path", "summary", "timeout", "calls", "response", "limits", "auth", "rate_limit", "cache"}

var callKeys = []string{"service", "method", "path", "query", "headers", "body", "when", "after", "for_each", "optional",
	"decode", "encode", "timeout", "forward_headers", "fallback", "accept_status", "expose_errors", "xml", "cache",
	"retry", "hedge_after"}

// endpointLimitsKeys and responseKeys are the keys accepted in an endpoint's
// limits and response; schemas/endpoint.schema.json must list the same ones.
var (
	endpointLimitsKeys = []string{"max_request_body"}
	responseKeys       = []string{"status", "headers", "body", "formats", "xml_root"}
)

var methodRE = regexp.MustCompile(`^[A-Z]+$`)

func (d *decoder) spec(n *Node) *Spec {
	s := &Spec{File: d.file, Node: n}
	if !d.object(n, "endpoint", endpointKeys...) {
		return s
	}
	for _, m := range n.Members {
		v := m.Value
		switch m.Key {
		case "$schema":
		case "method":
			s.Method = d.str(v, "method")
			if s.Method != "" && (!methodRE.MatchString(s.Method) || !slices.Contains(pipeline.Methods, s.Method)) {
				d.errorf(v.Pos, RuleSchema, "method", "method %q is not one of %s%s", s.Method, strings.Join(pipeline.Methods, ", "), didYouMean(strings.ToUpper(s.Method), pipeline.Methods))
				s.Method = ""
			}
		case "path":
			s.Path = d.str(v, "path")
			s.PathNode = v
		case "summary":
			s.Summary = d.str(v, "summary")
		case "timeout":
			s.Timeout = d.duration(v, "timeout")
			s.TimeoutNode = v
		case "limits":
			if d.object(v, "limits", endpointLimitsKeys...) {
				s.Limits.MaxRequestBody = d.size(v.Get("max_request_body"), "limits.max_request_body", MaxBodySize)
			}
		case "calls":
			if !d.want(v, KindObject, "calls") {
				continue
			}
			for _, c := range v.Members {
				s.Calls = append(s.Calls, d.call(c))
			}
		case "response":
			s.Response = d.response(v)
		case "auth":
			s.Auth = d.endpointAuth(v)
		case "rate_limit":
			s.RateLimit = d.rateSpec(v, "rate_limit")
		case "cache":
			s.Cache = d.endpointCache(v)
		default:
			if slices.Contains(endpointKeys, m.Key) { // unknown keys are reported by d.object
				d.errorf(m.KeyPos, RuleUnsupported, m.Key, "%q is part of the spec format but not supported by this build yet", m.Key)
			}
		}
	}
	for _, req := range []string{"method", "path"} {
		if n.Get(req) == nil {
			d.errorf(n.Pos, RuleSchema, req, "endpoint needs %q", req)
		}
	}
	return s
}

func (d *decoder) call(m Member) *CallSpec {
	c := &CallSpec{Name: m.Key, NamePos: m.KeyPos, Node: m.Value, Method: http.MethodGet, Decode: "auto", Encode: "json"}
	field := fmt.Sprintf("calls.%s", m.Key)
	switch {
	case !identRE.MatchString(m.Key):
		d.errorf(m.KeyPos, RuleSchema, field, "call name %q must be an identifier: letters, digits and '_', not starting with a digit", m.Key)
	case reservedNames[m.Key]:
		d.errorf(m.KeyPos, RuleReservedName, field, "call name %q shadows a reserved name; choose another", m.Key)
	}
	n := m.Value
	if !d.object(n, "call "+quote(m.Key), callKeys...) {
		return c
	}
	for _, mm := range n.Members {
		v := mm.Value
		f := field + "." + mm.Key
		switch mm.Key {
		case "service":
			c.Service = d.str(v, f)
			c.ServiceNode = v
		case "method":
			c.Method = d.str(v, f)
			if v.Kind == KindString && !slices.Contains(pipeline.Methods, c.Method) {
				d.errorf(v.Pos, RuleSchema, f, "%s: %q is not one of %s%s", f, c.Method, strings.Join(pipeline.Methods, ", "), didYouMean(strings.ToUpper(c.Method), pipeline.Methods))
			}
		case "path":
			if d.want(v, KindString, f) {
				c.Path = v
			}
		case "query", "headers":
			if !d.want(v, KindObject, f) {
				continue
			}
			for _, q := range v.Members {
				if q.Value.Kind != KindString {
					d.errorf(q.Value.Pos, RuleSchema, f+"."+q.Key, "%s.%s must be an expression in a string, not a %s", f, q.Key, q.Value.Kind)
					continue
				}
				if mm.Key == "headers" {
					if !pipeline.IsToken(q.Key) {
						d.errorf(q.KeyPos, RuleSchema, f, "%s: %q is not a valid header name", f, q.Key)
						continue
					}
					q.Key = http.CanonicalHeaderKey(q.Key)
				}
				if mm.Key == "query" {
					c.Query = append(c.Query, q)
				} else {
					c.Headers = append(c.Headers, q)
				}
			}
		case "body":
			c.Body = v
		case "when":
			if d.want(v, KindString, f) {
				c.When = v
			}
		case "for_each":
			if d.want(v, KindString, f) {
				c.ForEach = v
			}
		case "fallback":
			if d.want(v, KindString, f) {
				c.Fallback = v
			}
		case "after":
			if d.want(v, KindArray, f) {
				for i, e := range v.Elems {
					if d.want(e, KindString, fmt.Sprintf("%s[%d]", f, i)) {
						c.After = append(c.After, e)
					}
				}
			}
		case "optional":
			c.Optional = d.boolean(v, f)
		case "decode":
			c.Decode = d.str(v, f)
			if !slices.Contains([]string{"auto", "json", "text", "xml"}, c.Decode) {
				d.errorf(v.Pos, RuleSchema, f, "decode must be \"auto\", \"json\", \"xml\" or \"text\", not %q", c.Decode)
			}
		case "encode":
			c.Encode = d.str(v, f)
			if v.Kind == KindString && !slices.Contains([]string{"json", "xml", "form"}, c.Encode) {
				d.errorf(v.Pos, RuleSchema, f, "%s must be \"json\", \"xml\" or \"form\", not %q", f, c.Encode)
			}
		case "xml":
			c.XML = d.xmlOptions(v, f)
		case "timeout":
			c.Timeout = d.duration(v, f)
			c.TimeoutNode = v
		case "forward_headers":
			if d.want(v, KindArray, f) {
				for i, e := range v.Elems {
					if d.want(e, KindString, fmt.Sprintf("%s[%d]", f, i)) {
						if !pipeline.IsToken(e.Str) {
							d.errorf(e.Pos, RuleSchema, f, "%s: %q is not a valid header name", f, e.Str)
							continue
						}
						c.ForwardHeaders = append(c.ForwardHeaders, e)
					}
				}
			}
		case "accept_status":
			if d.want(v, KindArray, f) {
				for i, e := range v.Elems {
					c.AcceptStatus = append(c.AcceptStatus, d.integer(e, fmt.Sprintf("%s[%d]", f, i), 100, 599))
				}
			}
		case "expose_errors":
			c.ExposeErrors = d.boolean(v, f)
		case "cache":
			c.CacheNode = v
			if d.object(v, f, callCacheKeys...) {
				if t := v.Get("ttl"); t == nil {
					d.errorf(v.Pos, RuleSchema, f, "%s needs \"ttl\", such as \"5m\"", f)
				} else if c.CacheTTL = d.duration(t, f+".ttl"); c.CacheTTL > 24*time.Hour {
					d.errorf(t.Pos, RuleDuration, f+".ttl", "%s.ttl: %s is longer than 24h0m0s", f, c.CacheTTL)
					c.CacheTTL = 0
				}
			}
		case "retry", "hedge_after":
			d.callResilience(c, mm, field)
		default:
			if slices.Contains(callKeys, mm.Key) { // unknown keys are reported by d.object
				d.errorf(mm.KeyPos, RuleUnsupported, f, "%q is part of the spec format but not supported by this build yet", mm.Key)
			}
		}
	}
	if n.Get("service") == nil {
		d.errorf(m.KeyPos, RuleSchema, field, "call %q needs a \"service\"", m.Key)
	}
	if n.Get("path") == nil {
		d.errorf(m.KeyPos, RuleSchema, field, "call %q needs a \"path\"", m.Key)
	}
	return c
}

func (d *decoder) response(n *Node) *ResponseSpec {
	r := &ResponseSpec{Node: n, Formats: []string{"json"}}
	if !d.object(n, "response", responseKeys...) {
		return r
	}
	for _, m := range n.Members {
		v := m.Value
		f := "response." + m.Key
		switch m.Key {
		case "status":
			if d.want(v, KindString, f) {
				r.Status = v
			}
		case "headers":
			if !d.want(v, KindObject, f) {
				continue
			}
			for _, h := range v.Members {
				if !pipeline.IsToken(h.Key) {
					d.errorf(h.KeyPos, RuleSchema, f, "%s: %q is not a valid header name", f, h.Key)
					continue
				}
				if d.want(h.Value, KindString, f+"."+h.Key) {
					h.Key = http.CanonicalHeaderKey(h.Key)
					r.Headers = append(r.Headers, h)
				}
			}
		case "body":
			r.Body = v
		case "formats":
			r.Formats = d.strList(v, f)
			for _, e := range v.Elems {
				if s := e.Str; e.Kind == KindString && s != "json" && s != "xml" {
					d.errorf(e.Pos, RuleSchema, f, "%s: format %q is not \"json\" or \"xml\"", f, s)
				}
			}
		case "xml_root":
			r.XMLRoot = d.str(v, f)
		}
	}
	return r
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

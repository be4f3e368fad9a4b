// Package spectest runs spec tests: NAME.test.json beside an endpoint spec
// NAME.json holds cases (a client request, what each backend call answers,
// and the response expected), and each case runs through the real engine
// with the backends replaced by an in-process http.RoundTripper.
//
// The file format is the one in schemas/test.schema.json:
//
//	{
//	  "$schema": "../../schemas/test.schema.json",
//	  "cases": [
//	    {
//	      "name": "what the case checks",
//	      "request": { "method": "GET", "path": "/checkout/c1", "query": {}, "headers": {}, "body": ..., "claims": {}, "api_key": "client" },
//	      "calls":   { "NAME": answer, "FOR_EACH_NAME": [answer, ...] },
//	      "expect":  { "status": 200, "headers": {}, "body": ..., "match": "exact" | "subset" }
//	    }
//	  ]
//	}
//
// where an answer is { "status": 200, "headers": {}, "body": JSON | "text": "...", "delay": "50ms" }.
package spectest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"frontdesk/engine"
	"frontdesk/pipeline"
)

// File is a parsed spec-test file.
type File struct {
	Path  string // fs path of NAME.test.json
	Spec  string // fs path of NAME.json beside it
	Name  string // how messages name the test file
	Src   []byte
	Cases []*Case
}

// Case is one test case.
type Case struct {
	Name    string
	Request Request
	Calls   map[string]*Stub
	Expect  Expect

	callOrder []string
	callPos   map[string]engine.Pos
}

// Request is the client request of a case.
type Request struct {
	Method string
	Path   string
	Query  [][2]string // in file order
	Header http.Header
	Body   []byte // JSON, nil for none
	// Claims, when set, are signed into a token the gateway accepts for
	// the run (engine.Gateway.MintToken), sent as Authorization: Bearer.
	Claims  map[string]any
	claimsP engine.Pos
	// APIKey, when set, names a client of the API key file; the request
	// carries a key the gateway accepts for it during the run.
	APIKey  string
	apiKeyP engine.Pos
}

// Stub is what one call answers: one answer for every request of the call,
// or (List) one per for_each element.
type Stub struct {
	List    bool
	Answers []*Answer
}

// Answer is one backend response.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
	Delay  time.Duration
}

// Expect is what the response must be. Zero Status and nil Body are not
// checked.
type Expect struct {
	Status  int
	Headers [][2]string // canonical name, value; in file order
	Body    *engine.Node
	Subset  bool

	statusNode *engine.Node
	bodyNode   *engine.Node
	node       *engine.Node // the expect object
}

// TestSuffix ends every spec-test file name.
const TestSuffix = ".test.json"

// SpecFor returns the spec file a test file tests: dir/NAME.json for
// dir/NAME.test.json.
func SpecFor(testPath string) string {
	return strings.TrimSuffix(testPath, TestSuffix) + ".json"
}

// TestFor returns the test file of a spec: dir/NAME.test.json for
// dir/NAME.json.
func TestFor(specPath string) string {
	return strings.TrimSuffix(specPath, ".json") + TestSuffix
}

// ParseError lists every problem of a spec-test file, each as
// "file:line:col: message".
type ParseError struct {
	Problems []string
}

func (e *ParseError) Error() string { return strings.Join(e.Problems, "\n") }

type fileParser struct {
	name string
	errs []string
}

func (p *fileParser) errorf(pos engine.Pos, format string, args ...any) {
	p.errs = append(p.errs, fmt.Sprintf("%s:%d:%d: %s", p.name, pos.Line, pos.Col, fmt.Sprintf(format, args...)))
}

// ParseFile parses the spec-test file src, read from fs path p and named
// name in messages. Every problem is reported at once, as a *ParseError.
func ParseFile(p, name string, src []byte) (*File, error) {
	f := &File{Path: p, Spec: SpecFor(p), Name: name, Src: src}
	fp := &fileParser{name: name}
	root, err := engine.ParseJSON(src)
	if err != nil {
		if se, ok := errors.AsType[*engine.SyntaxError](err); ok {
			fp.errorf(se.Pos, "%s", se.Msg)
		} else {
			fp.errs = append(fp.errs, fmt.Sprintf("%s: %v", name, err))
		}
		return nil, &ParseError{fp.errs}
	}
	if root.Kind != engine.KindObject {
		fp.errorf(root.Pos, "a spec-test file is an object with \"cases\", not %s", root.Kind)
		return nil, &ParseError{fp.errs}
	}
	var cases *engine.Node
	for _, m := range root.Members {
		switch m.Key {
		case "$schema":
			fp.want(m.Value, engine.KindString, "$schema")
		case "cases":
			cases = m.Value
		default:
			fp.errorf(m.KeyPos, "unknown member %q (a spec-test file has \"$schema\" and \"cases\")", m.Key)
		}
	}
	switch {
	case cases == nil:
		fp.errorf(root.Pos, "\"cases\" is missing")
	case fp.want(cases, engine.KindArray, "cases"):
		if len(cases.Elems) == 0 {
			fp.errorf(cases.Pos, "\"cases\" is empty; write at least one case")
		}
		seen := map[string]engine.Pos{}
		for i, cn := range cases.Elems {
			c := fp.parseCase(cn, fmt.Sprintf("cases[%d]", i))
			if c == nil {
				continue
			}
			if first, dup := seen[c.Name]; dup {
				fp.errorf(cn.Pos, "case name %q is used twice (first at line %d)", c.Name, first.Line)
			}
			seen[c.Name] = cn.Pos
			f.Cases = append(f.Cases, c)
		}
	}
	if len(fp.errs) > 0 {
		return nil, &ParseError{fp.errs}
	}
	return f, nil
}

func (p *fileParser) want(n *engine.Node, k engine.Kind, field string) bool {
	if n.Kind != k {
		p.errorf(n.Pos, "%s must be %s %s, not %s", field, article(k), k, n.Kind)
		return false
	}
	return true
}

func article(k engine.Kind) string {
	if k == engine.KindArray || k == engine.KindObject {
		return "an"
	}
	return "a"
}

func (p *fileParser) parseCase(n *engine.Node, field string) *Case {
	if !p.want(n, engine.KindObject, field) {
		return nil
	}
	c := &Case{Calls: map[string]*Stub{}, callPos: map[string]engine.Pos{}}
	var haveName, haveReq, haveExpect bool
	for _, m := range n.Members {
		v := m.Value
		switch m.Key {
		case "name":
			haveName = true
			if p.want(v, engine.KindString, field+".name") {
				c.Name = v.Str
				if strings.TrimSpace(c.Name) == "" {
					p.errorf(v.Pos, "%s.name is empty", field)
				}
			}
		case "request":
			haveReq = true
			p.parseRequest(v, field+".request", &c.Request)
		case "calls":
			if !p.want(v, engine.KindObject, field+".calls") {
				continue
			}
			for _, cm := range v.Members {
				s := p.parseStub(cm.Value, field+".calls."+cm.Key)
				if s != nil {
					c.Calls[cm.Key] = s
					c.callOrder = append(c.callOrder, cm.Key)
					c.callPos[cm.Key] = cm.KeyPos
				}
			}
		case "expect":
			haveExpect = true
			p.parseExpect(v, field+".expect", &c.Expect)
		default:
			p.errorf(m.KeyPos, "unknown member %q of %s (a case has name, request, calls and expect)", m.Key, field)
		}
	}
	if !haveName {
		p.errorf(n.Pos, "%s has no \"name\"", field)
	}
	if !haveReq {
		p.errorf(n.Pos, "%s has no \"request\"", field)
	}
	if !haveExpect {
		p.errorf(n.Pos, "%s has no \"expect\"", field)
	}
	return c
}

func (p *fileParser) parseRequest(n *engine.Node, field string, r *Request) {
	r.Method = http.MethodGet
	r.Header = http.Header{}
	if !p.want(n, engine.KindObject, field) {
		return
	}
	havePath := false
	for _, m := range n.Members {
		v := m.Value
		switch m.Key {
		case "method":
			if p.want(v, engine.KindString, field+".method") {
				r.Method = v.Str
				ok := false
				for _, k := range pipeline.Methods {
					ok = ok || k == v.Str
				}
				if !ok {
					p.errorf(v.Pos, "%s.method %q is not one of %s", field, v.Str, strings.Join(pipeline.Methods, ", "))
				}
			}
		case "path":
			havePath = true
			if p.want(v, engine.KindString, field+".path") {
				r.Path = v.Str
				if !strings.HasPrefix(v.Str, "/") || strings.ContainsAny(v.Str, "?# \t\r\n") {
					p.errorf(v.Pos, "%s.path must start with / and hold no query, fragment or spaces (put parameters in \"query\")", field)
				}
			}
		case "query":
			if p.want(v, engine.KindObject, field+".query") {
				for _, q := range v.Members {
					if p.want(q.Value, engine.KindString, field+".query."+q.Key) {
						r.Query = append(r.Query, [2]string{q.Key, q.Value.Str})
					}
				}
			}
		case "headers":
			p.headers(v, field+".headers", r.Header)
		case "body":
			r.Body = compact(nil, v)
		case "claims":
			if p.want(v, engine.KindObject, field+".claims") {
				r.Claims = map[string]any{}
				json.Unmarshal(compact(nil, v), &r.Claims)
				r.claimsP = m.KeyPos
			}
		case "api_key":
			if p.want(v, engine.KindString, field+".api_key") {
				r.APIKey = v.Str
				r.apiKeyP = m.KeyPos
				if v.Str == "" {
					p.errorf(v.Pos, "%s.api_key is empty: name a client of the API key file", field)
				}
			}
		default:
			p.errorf(m.KeyPos, "unknown member %q of %s (a request has method, path, query, headers, body, claims and api_key)", m.Key, field)
		}
	}
	if !havePath {
		p.errorf(n.Pos, "%s has no \"path\"", field)
	}
}

func (p *fileParser) headers(n *engine.Node, field string, h http.Header) {
	if !p.want(n, engine.KindObject, field) {
		return
	}
	for _, m := range n.Members {
		if !pipeline.IsToken(m.Key) {
			p.errorf(m.KeyPos, "%q is not a valid header name", m.Key)
			continue
		}
		if !p.want(m.Value, engine.KindString, field+"."+m.Key) {
			continue
		}
		if strings.ContainsAny(m.Value.Str, "\r\n\x00") {
			p.errorf(m.Value.Pos, "header %s holds a line break or NUL", m.Key)
			continue
		}
		h.Add(m.Key, m.Value.Str)
	}
}

func (p *fileParser) parseStub(n *engine.Node, field string) *Stub {
	if n.Kind == engine.KindArray {
		s := &Stub{List: true}
		for i, e := range n.Elems {
			if a := p.parseAnswer(e, fmt.Sprintf("%s[%d]", field, i)); a != nil {
				s.Answers = append(s.Answers, a)
			}
		}
		return s
	}
	a := p.parseAnswer(n, field)
	if a == nil {
		return nil
	}
	return &Stub{Answers: []*Answer{a}}
}

func (p *fileParser) parseAnswer(n *engine.Node, field string) *Answer {
	if n.Kind != engine.KindObject {
		p.errorf(n.Pos, "%s must be an answer object (or, for a for_each call, a list of them), not %s", field, n.Kind)
		return nil
	}
	a := &Answer{Status: http.StatusOK, Header: http.Header{}}
	var body, text *engine.Node
	for _, m := range n.Members {
		v := m.Value
		switch m.Key {
		case "status":
			if p.want(v, engine.KindNumber, field+".status") {
				s, err := strconv.Atoi(v.Str)
				if err != nil || s < 100 || s > 599 {
					p.errorf(v.Pos, "%s.status must be a whole number from 100 to 599", field)
				}
				a.Status = s
			}
		case "headers":
			p.headers(v, field+".headers", a.Header)
		case "body":
			body = v
		case "text":
			if p.want(v, engine.KindString, field+".text") {
				text = v
			}
		case "delay":
			if p.want(v, engine.KindString, field+".delay") {
				d, err := time.ParseDuration(v.Str)
				if err != nil || d < 0 {
					p.errorf(v.Pos, "%s.delay %q is not a duration such as \"50ms\"", field, v.Str)
				}
				a.Delay = d
			}
		default:
			p.errorf(m.KeyPos, "unknown member %q of %s (an answer has status, headers, body or text, and delay)", m.Key, field)
		}
	}
	switch {
	case body != nil && text != nil:
		p.errorf(text.Pos, "%s has both body and text; give one", field)
	case body != nil:
		a.Body = compact(nil, body)
		if a.Header.Get("Content-Type") == "" {
			a.Header.Set("Content-Type", "application/json")
		}
	case text != nil:
		a.Body = []byte(text.Str)
		if a.Header.Get("Content-Type") == "" {
			if strings.HasPrefix(strings.TrimSpace(text.Str), "<") {
				a.Header.Set("Content-Type", "application/xml")
			} else {
				a.Header.Set("Content-Type", "text/plain; charset=utf-8")
			}
		}
	}
	return a
}

func (p *fileParser) parseExpect(n *engine.Node, field string, e *Expect) {
	e.node = n
	if !p.want(n, engine.KindObject, field) {
		return
	}
	for _, m := range n.Members {
		v := m.Value
		switch m.Key {
		case "status":
			if p.want(v, engine.KindNumber, field+".status") {
				s, err := strconv.Atoi(v.Str)
				if err != nil || s < 100 || s > 599 {
					p.errorf(v.Pos, "%s.status must be a whole number from 100 to 599", field)
				}
				e.Status = s
				e.statusNode = v
			}
		case "headers":
			h := http.Header{}
			p.headers(v, field+".headers", h)
			if v.Kind == engine.KindObject {
				for _, hm := range v.Members {
					if hm.Value.Kind == engine.KindString {
						e.Headers = append(e.Headers, [2]string{textproto.CanonicalMIMEHeaderKey(hm.Key), hm.Value.Str})
					}
				}
			}
		case "body":
			e.Body = v
			e.bodyNode = v
		case "match":
			if p.want(v, engine.KindString, field+".match") {
				switch v.Str {
				case "exact":
				case "subset":
					e.Subset = true
				default:
					p.errorf(v.Pos, "%s.match must be \"exact\" or \"subset\", not %q", field, v.Str)
				}
			}
		default:
			p.errorf(m.KeyPos, "unknown member %q of %s (expect has status, headers, body and match)", m.Key, field)
		}
	}
}

// compact appends n as compact JSON.
func compact(dst []byte, n *engine.Node) []byte {
	switch n.Kind {
	case engine.KindNull:
		return append(dst, "null"...)
	case engine.KindBool:
		return strconv.AppendBool(dst, n.Bool)
	case engine.KindNumber:
		return append(dst, n.Str...)
	case engine.KindString:
		return appendString(dst, n.Str)
	case engine.KindArray:
		dst = append(dst, '[')
		for i, e := range n.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = compact(dst, e)
		}
		return append(dst, ']')
	default:
		dst = append(dst, '{')
		for i, m := range n.Members {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, m.Key)
			dst = append(dst, ':')
			dst = compact(dst, m.Value)
		}
		return append(dst, '}')
	}
}

// appendString appends s as a JSON string, without HTML escaping.
func appendString(dst []byte, s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return append(dst, bytes.TrimRight(b.Bytes(), "\n")...)
}

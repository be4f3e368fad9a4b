package engine

import (
	"errors"
	"fmt"
	"frontdesk/pipeline"
	"frontdesk/transform"
	"strconv"
	"strings"
)

// env builds the variables for one evaluation of e: only the names e reads.
// While the response is composed (one goroutine, every call done) all
// expressions share one map, filled as names are first read.
func (x *exchange) env(e *expression, item any) (map[string]any, error) {
	var env map[string]any
	if x.composing {
		if x.respEnv == nil {
			x.respEnv = make(map[string]any, len(x.p.Calls)+2)
		}
		env = x.respEnv
	} else {
		env = make(map[string]any, len(e.Reads))
	}
	for _, n := range e.Reads {
		if x.composing && n != "meta" {
			if _, ok := env[n]; ok {
				continue
			}
		}
		switch n {
		case "params":
			env[n] = x.params
		case "query":
			env[n] = x.query
		case "headers":
			env[n] = x.headers
		case "body":
			env[n] = x.body
		case "auth":
			env[n] = x.auth
		case "item":
			env[n] = item
		case "meta":
			m := make(map[string]any, len(e.MetaReads))
			for _, c := range e.MetaReads {
				m[c] = x.meta(x.p.callIndex(c))
			}
			env[n] = m
		default:
			v, err := x.results[x.p.callIndex(n)].value(x.budget)
			if errors.Is(err, transform.ErrBudget) || errors.Is(err, transform.ErrBusy) {
				return nil, x.overBudget(n, err)
			}
			if err != nil {
				return nil, &pipeline.ExprError{Field: e.field, Err: fmt.Errorf("reading %s: %w", n, err), Reason: "the answer of call " + strconv.Quote(n) + " could not be decoded"}
			}
			env[n] = v
		}
	}
	return env, nil
}

func (p *Plan) callIndex(name string) int {
	if i, ok := p.callIdx[name]; ok {
		return i
	}
	return -1
}

// meta describes call i for meta.NAME.
func (x *exchange) meta(i int) map[string]any {
	r := &x.results[i]
	var errv any
	if r.err != nil {
		errv = pipeline.ProblemFor(r.err).Detail // what a client may see, never the raw error
	}
	status, header := r.status, r.header
	if r.items != nil {
		for k := range r.items {
			status = max(status, r.items[k].status)
			if header == nil {
				header = r.items[k].header
			}
		}
	}
	hm := make(map[string]any, len(header))
	for k, v := range header {
		hm[k] = strings.Join(v, ", ")
	}
	return map[string]any{
		"status":      status,
		"headers":     hm,
		"duration_ms": float64(r.dur.Microseconds()) / 1000,
		"error":       errv,
	}
}

func (x *exchange) eval(e *expression, item any) (any, error) {
	if e.Path != nil && !x.p.rt.general {
		if v, ok := x.lookup(e.Path); ok {
			return v, nil
		}
	}
	env, err := x.env(e, item)
	if err != nil {
		return nil, err
	}
	v, err := e.Run(env)
	if err != nil {
		return nil, &pipeline.ExprError{Field: e.field, Err: err, Reason: transform.Reason(err)}
	}
	return v, nil
}

// RawRoot gives native expressions (transform.Native) the bytes of call
// name's answer: a JSON document that came whole from one backend. Any
// other answer (skipped, failed with a fallback, text, for_each's list)
// leaves the expression to expr.
func (x *exchange) RawRoot(name string) ([]byte, bool) {
	i, ok := x.p.callIdx[name]
	if !ok {
		return nil, false
	}
	r := &x.results[i]
	if r.state != stateOK || r.items != nil || r.isText || len(r.body) == 0 {
		return nil, false
	}
	return r.body, true
}

// RootMember gives native expressions a top-level member of call name's
// answer, from the answer's index.
func (x *exchange) RootMember(name, key string) ([]byte, bool, bool) {
	i, ok := x.p.callIdx[name]
	if !ok {
		return nil, false, false
	}
	return x.results[i].member(key)
}

// lookup is the fast path of a plain path expression: params.id,
// query.cart, headers["Accept-Language"] and auth.sub are read from the
// request's maps, and a path into a call's result that ends at a scalar is
// read from the backend's bytes, all without running expr. ok is false
// where expr must decide (anything else, or a path that meets a non-object,
// whose error expr reports), so the value is always what expr would give.
func (x *exchange) lookup(path []string) (any, bool) {
	var m map[string]any
	switch path[0] {
	case "params":
		m = x.params
	case "query":
		m = x.query
	case "headers":
		m = x.headers
	case "auth":
		m = x.auth
	default:
		i, ok := x.p.callIdx[path[0]]
		if !ok || len(path) < 2 {
			return nil, false
		}
		raw, found, ok := x.results[i].lookup(path[1:])
		switch {
		case !ok:
			return nil, false
		case !found:
			return nil, true
		case raw[0] == '{' || raw[0] == '[':
			return nil, false // a container: the decoded value, with its spans
		case isNumber(raw) && !transform.CanonicalNumber(raw):
			return nil, false // spelled its own way: the decoded value, with its spans
		}
		v, err := transform.DecodeJSON(raw)
		return v, err == nil
	}
	if len(path) != 2 || m == nil {
		return nil, false
	}
	return m[path[1]], true
}

// overBudget is call name's answer passing the request's max_decoded, or
// the process's max_decoded_total (then the gateway is busy: 503).
func (x *exchange) overBudget(name string, err error) error {
	if errors.Is(err, transform.ErrBusy) {
		return fmt.Errorf("%w: decoding the answer of call %q: %v", pipeline.ErrOverloaded, name, err)
	}
	return &pipeline.CallError{Call: name, Failure: pipeline.FailBody, Err: err,
		Reason: fmt.Sprintf("holding it would take the request past its limit of %s of bodies and decoded data (limits.max_decoded)", formatSize(x.budget.Limit()))}
}

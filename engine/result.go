package engine

import (
	"frontdesk/transform"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Result states.
const (
	statePending int32 = iota
	stateOK
	stateSkipped
	stateFailed
)

// result is what one call produced. Written only by the goroutine running
// the call; read by others only after that call is done (the scheduler's
// atomic counters order the two).
type result struct {
	state  int32
	status int
	header http.Header
	body   []byte // JSON bytes (XML converted), or text
	isText bool
	items  []result // for_each: one per element, in list order
	dur    time.Duration
	err    error

	fallback any

	// Decoding, on first read: only keys when the plan reads nothing
	// else of this call, with spans so unchanged objects and lists are
	// written back as the backend sent them.
	keys    map[string]*transform.KeyUse
	whole   bool
	once    sync.Once
	val     any
	valErr  error
	spans   *transform.Spans
	decoded atomic.Bool // val and spans are set
	inEnc   bool        // spans added to the response's encoder

	// The members of an object body, indexed once for the lookups of
	// plain paths and native expressions into it.
	memOnce sync.Once
	mems    []transform.Member
	memsOK  bool

	// pending counts the calls this one reads that are not done yet: it
	// is ready at zero (the scheduler's counter, schedule.go).
	pending atomic.Int32
}

// member looks up a top-level key of a JSON object body through the
// index, made on first use; ok is false when the body is not an object
// (or r is not a whole JSON answer).
func (r *result) member(key string) (raw []byte, found, ok bool) {
	if r.state != stateOK || r.items != nil || r.isText || len(r.body) == 0 {
		return nil, false, false
	}
	r.memOnce.Do(func() {
		r.mems, r.memsOK = transform.TopMembers(make([]transform.Member, 0, 16), r.body)
	})
	if !r.memsOK {
		return nil, false, false
	}
	raw, found = transform.FindMember(r.mems, key)
	return raw, found, true
}

// lookup finds path (object keys, from the top) in a JSON object body, as
// transform.Lookup does, through the index of its members.
func (r *result) lookup(path []string) (raw []byte, found, ok bool) {
	v, found, ok := r.member(path[0])
	switch {
	case !ok:
		return nil, false, false
	case !found:
		return nil, false, len(path) == 1
	case len(path) == 1:
		return v, true, true
	}
	return transform.Lookup(v, path[1:])
}

// value is the call's result as expressions see it, decoded once on first
// read.
func (r *result) value(budget *transform.Budget) (any, error) {
	switch r.state {
	case stateSkipped:
		return nil, nil
	case stateFailed:
		return r.fallback, nil
	}
	r.once.Do(func() {
		if r.items != nil {
			list := make([]any, len(r.items))
			for i := range r.items {
				v, err := r.items[i].value(budget)
				if err != nil {
					r.valErr = err
					return
				}
				list[i] = v
			}
			r.val = list
			return
		}
		switch {
		case r.isText:
			r.val = string(r.body)
		case len(r.body) == 0:
			r.val = nil
		case r.whole:
			r.val, r.spans, r.valErr = budget.DecodeSpans(r.body)
		default:
			r.val, r.spans, r.valErr = budget.DecodeKeys(r.body, r.keys)
		}
		r.decoded.Store(true)
	})
	return r.val, r.valErr
}

// decodedSpans gives r's spans once r is decoded.
func (r *result) decodedSpans() (*transform.Spans, bool) {
	if !r.decoded.Load() {
		return nil, false
	}
	return r.spans, true
}

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

	// pending counts the calls this one reads that are not done yet: it
	// is ready at zero (the scheduler's counter, schedule.go).
	pending atomic.Int32
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

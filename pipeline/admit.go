package pipeline

import (
	"net/http"
	"time"
)

// Admit is the stage that bounds the requests in flight across every
// endpoint of the process: a request over the bound waits up to wait for a
// slot (while its client is there), then is answered 503 with Retry-After.
// It holds no request's data, only a slot.
type Admit struct {
	slots chan struct{}
	wait  time.Duration
}

// NewAdmit bounds requests in flight to max; max <= 0 means no bound.
func NewAdmit(max int, wait time.Duration) *Admit {
	if max <= 0 {
		return &Admit{}
	}
	return &Admit{slots: make(chan struct{}, max), wait: wait}
}

// Stage is the edge stage of a.
func (a *Admit) Stage(next http.Handler) http.Handler {
	if a.slots == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case a.slots <- struct{}{}:
		default:
			if !a.queue(r) {
				WriteError(w, r, ErrOverloaded)
				return
			}
		}
		defer func() { <-a.slots }()
		next.ServeHTTP(w, r)
	})
}

// queue waits for a slot within a.wait.
func (a *Admit) queue(r *http.Request) bool {
	if a.wait <= 0 {
		return false
	}
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-r.Context().Done():
	}
	return false
}

// InFlight is the number of requests holding a slot.
func (a *Admit) InFlight() int { return len(a.slots) }

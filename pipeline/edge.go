package pipeline

import (
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"slices"
)

// HeaderRequestID carries the request id in and out.
const HeaderRequestID = "X-Request-Id"

// Methods are the HTTP methods an endpoint, a backend call or a CORS rule
// may name, in the order messages list them.
var Methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

// Stage is one stage of the edge: it wraps the rest of the chain.
type Stage func(next http.Handler) http.Handler

// EdgeParts are the stages of the edge that are configured: Admit and CORS
// are shared by every endpoint of a gateway, Auth is one endpoint's own.
// A nil stage is left out.
type EdgeParts struct {
	Log     *slog.Logger
	Observe Stage // nil without metrics: counts the endpoint's requests
	Trace   Stage // nil with tracing off: the endpoint's server span
	Admit   *Admit
	CORS    Stage // nil without gateway.json cors
	Auth    Stage // nil for a public endpoint
	Limit   Stage // nil for an endpoint without a rate limit
	Cache   Stage // nil for an endpoint without a response cache
}

// Edge lists the stages one endpoint sits behind, in the order a request
// meets them: the rate limit and the cache come after auth, so the limit's
// key and a user-scoped cache entry may be the client.
func Edge(e EdgeParts) []Stage {
	var admit Stage
	if e.Admit != nil {
		admit = e.Admit.Stage
	}
	stages := []Stage{
		e.Observe, // first: it sees every answer, a panic's 500 included
		e.Trace,   // the server span covers recover, auth, the limit and the cache
		Recover(e.Log),
		CloseSmuggled,
		RequestID,
		admit,
		e.CORS, // a preflight is answered here, before auth
		e.Auth,
		e.Limit, // after auth: the key may be the client
		e.Cache, // after the limit: a hit counts against it
	}
	return slices.DeleteFunc(stages, func(s Stage) bool { return s == nil })
}

// Chain puts h behind stages, listed in execution order: stages[0] sees the
// request first, h last.
func Chain(h http.Handler, stages ...Stage) http.Handler {
	for _, s := range slices.Backward(stages) {
		h = s(h)
	}
	return h
}

// Recover turns a panic in the rest of the chain into a 500 problem for
// that request only.
func Recover(log *slog.Logger) Stage {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					if log != nil {
						log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
					}
					WriteError(w, r, &PanicError{Value: v})
				}
			}()
			h.ServeHTTP(w, r)
		})
	}
}

// RequestID accepts a well-formed X-Request-ID from the client or makes one,
// sets it on the request (so calls pass it on) and on the response.
func RequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// As Header.Set (the name is canonical), the request's value and
		// the response's in one array, each slice capped at its element.
		id := r.Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			ids := make([]string, 2)
			ids[0] = NewRequestID()
			ids[1] = ids[0]
			r.Header[HeaderRequestID] = ids[0:1:1]
			w.Header()[HeaderRequestID] = ids[1:2:2]
		} else {
			w.Header()[HeaderRequestID] = []string{id}
		}
		h.ServeHTTP(w, r)
	})
}

// validRequestID accepts 1 to 128 visible ASCII characters.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= 0x20 || id[i] >= 0x7f {
			return false
		}
	}
	return true
}

// NewRequestID returns 128 random bits in hex. They name a request in
// logs; they are not secrets, so the fast per-thread generator serves.
func NewRequestID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	var x [32]byte
	hex.Encode(x[:], b[:])
	return string(x[:])
}

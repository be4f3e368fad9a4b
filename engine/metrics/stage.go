package metrics

import (
	"net/http"
	"time"

	"frontdesk/pipeline"
	"frontdesk/pipeline/logs"
)

// Stage counts each request of e: in flight while it runs, then its status
// and duration; and with out, writes its access line. It sits first in an
// endpoint's chain, so answers the edge writes (429, cache hits, auth
// refusals) count too. e nil (unrouted requests) only logs. route is the
// endpoint's path as written, for the access line.
func Stage(e *Endpoint, out *logs.Output, route string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			if e != nil {
				e.Inflight.Inc()
			}
			sw := logs.NewRecorder(w, route)
			defer func() {
				// A panic passed on (http.ErrAbortHandler: the connection
				// is dropped) is counted and logged as what the client
				// got, then passed on.
				v := recover()
				d := time.Since(start)
				if v != nil && sw.Status == 0 {
					sw.Status = pipeline.StatusClientClosed
					if v != http.ErrAbortHandler {
						sw.Status = http.StatusInternalServerError
					}
				}
				if sw.Aborted {
					// The answer was cut short (a write deadline, a client
					// that stopped reading): whatever its headers said, the
					// client did not get it.
					sw.Status = pipeline.StatusClientClosed
				}
				status := sw.Status
				if status == 0 {
					status = http.StatusOK
					if r.Context().Err() != nil {
						status = pipeline.StatusClientClosed
					}
					sw.Status = status
				}
				if e != nil {
					e.Inflight.Dec()
					e.Done(status, d)
				}
				out.Request(r.Method, w.Header().Get(pipeline.HeaderRequestID), sw, d)
				sw.Release()
				if v != nil {
					panic(v)
				}
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

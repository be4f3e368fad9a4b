package metrics

import (
	"net/http"
	"time"
)

// StatusClientClosed is the status of a request whose client went away
// before an answer was written.
const StatusClientClosed = 499

// Stage counts each request of e: in flight while it runs, then its status
// and duration. It sits first in an endpoint's chain, so answers the edge
// writes (429, cache hits, auth refusals) count too.
func Stage(e *Endpoint) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			e.Inflight.Inc()
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				e.Inflight.Dec()
				status := sw.status
				if status == 0 {
					status = http.StatusOK
					if r.Context().Err() != nil {
						status = StatusClientClosed
					}
				}
				e.Done(status, time.Since(start))
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes a flush on.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

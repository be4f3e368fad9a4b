// Package metrics holds the gateway's Prometheus metrics: one Set per
// loaded gateway, on its own registry, with a child series per endpoint
// and call made at load so that every series exists at zero from load on
// and an observation is a pointer away (no label lookup per request).
package metrics

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Call outcomes, the outcome label of frontdesk_call_duration_seconds.
const (
	OutcomeOK      = "ok"
	OutcomeSkipped = "skipped"
	OutcomeFailed  = "failed"
	OutcomeTimeout = "timeout"
	OutcomeNotRun  = "not_run" // the request ended before the call ran
)

// Outcomes lists every outcome, in the order of the Outcome index.
var Outcomes = [...]string{OutcomeOK, OutcomeSkipped, OutcomeFailed, OutcomeTimeout, OutcomeNotRun}

// Outcome indexes Outcomes.
type Outcome uint8

const (
	OK Outcome = iota
	Skipped
	Failed
	Timeout
	NotRun
)

// Cache results, the result label of frontdesk_cache_requests_total.
var CacheResults = [...]string{"hit", "miss", "bypass", "refresh"}

// preStatus are the statuses whose series exist from load on; others
// appear on first use.
var preStatus = [...]int{200}

// Set is the metrics of one gateway.
type Set struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	inflight     *prometheus.GaugeVec
	callDuration *prometheus.HistogramVec
	funcs        *funcCollector
	reloads      *prometheus.CounterVec
	lastReload   prometheus.Gauge
	connRefused  *prometheus.CounterVec
	refusedBy    [len(ConnRefusedReasons)]prometheus.Counter
}

// ConnRefusedReasons are the reason label's values of
// frontdesk_connections_refused_total (pipeline's Refused* reasons); each
// series exists from start.
var ConnRefusedReasons = [...]string{"per_ip", "idle_evicted", "headerless_evicted"}

// New makes a Set on a registry of its own, with the Go and process
// collectors.
func New() *Set {
	s := &Set{reg: prometheus.NewRegistry()}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "frontdesk_requests_total",
		Help: "Requests answered, by endpoint (the route as written) and status (499: the client went away)."},
		[]string{"endpoint", "status"})
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "frontdesk_request_duration_seconds",
		Help: "Time from the request's arrival to the end of its answer.", Buckets: prometheus.DefBuckets},
		[]string{"endpoint"})
	s.inflight = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "frontdesk_inflight_requests",
		Help: "Requests being served now."}, []string{"endpoint"})
	s.callDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "frontdesk_call_duration_seconds",
		Help: "Time of each backend call, by outcome (ok, skipped, failed, timeout, not_run).", Buckets: prometheus.DefBuckets},
		[]string{"endpoint", "call", "outcome"})
	s.funcs = &funcCollector{}
	s.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "frontdesk_reloads_total",
		Help: "Reloads of the configuration, by result: ok (swapped in) or error (refused; the old one serves on)."}, []string{"result"})
	s.reloads.WithLabelValues("ok")
	s.reloads.WithLabelValues("error")
	s.lastReload = prometheus.NewGauge(prometheus.GaugeOpts{Name: "frontdesk_reload_last_success_timestamp_seconds",
		Help: "Unix time of the last configuration that loaded clean: the start, or the last successful reload."})
	s.lastReload.SetToCurrentTime()
	s.connRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "frontdesk_connections_refused_total",
		Help: "Client connections the public listener closed, by reason: per_ip (its client address held max_connections_per_ip already), idle_evicted or headerless_evicted (idle, or without a complete request, closed to make room at max_connections)."},
		[]string{"reason"})
	for i, r := range ConnRefusedReasons {
		s.refusedBy[i] = s.connRefused.WithLabelValues(r)
	}
	s.reg.MustRegister(s.requests, s.duration, s.inflight, s.callDuration, s.funcs, s.reloads, s.lastReload, s.connRefused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return s
}

// Registry is the Set's registry.
func (s *Set) Registry() *prometheus.Registry { return s.reg }

// Handler serves the registry in the Prometheus text format.
func (s *Set) Handler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
}

// Endpoint makes the series of one endpoint and its calls.
func (s *Set) Endpoint(route string, calls []string) *Endpoint {
	e := &Endpoint{route: route, requests: s.requests, Inflight: s.inflight.WithLabelValues(route),
		Duration: s.duration.WithLabelValues(route), Calls: make([]Call, len(calls))}
	for _, st := range preStatus {
		e.status(st)
	}
	for i, c := range calls {
		for o, name := range Outcomes {
			e.Calls[i][o] = s.callDuration.WithLabelValues(route, c, name)
		}
	}
	return e
}

// Endpoint is the series of one endpoint.
type Endpoint struct {
	route    string
	requests *prometheus.CounterVec
	Inflight prometheus.Gauge
	Duration prometheus.Observer
	// byStatus holds the counter of each status code met so far.
	byStatus [600]atomic.Pointer[prometheus.Counter]
	Calls    []Call // in the plan's call order
}

// Call is the duration histograms of one call, by Outcome.
type Call [len(Outcomes)]prometheus.Observer

func (e *Endpoint) status(code int) prometheus.Counter {
	if code < 0 || code >= len(e.byStatus) {
		code = 0
	}
	if c := e.byStatus[code].Load(); c != nil {
		return *c
	}
	c := e.requests.WithLabelValues(e.route, itoa(code))
	e.byStatus[code].Store(&c)
	return c
}

// Done records one answered request.
func (e *Endpoint) Done(status int, d time.Duration) {
	e.status(status).Inc()
	e.Duration.Observe(d.Seconds())
}

// ObserveCall records one call's time.
func (e *Endpoint) ObserveCall(i int, o Outcome, d time.Duration) {
	e.Calls[i][o].Observe(d.Seconds())
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [8]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// Forget removes every series of the endpoint route (a reload dropped
// it), so dashboards stop showing it.
func (s *Set) Forget(route string) {
	l := prometheus.Labels{"endpoint": route}
	s.requests.DeletePartialMatch(l)
	s.duration.DeletePartialMatch(l)
	s.inflight.DeletePartialMatch(l)
	s.callDuration.DeletePartialMatch(l)
}

// ConnectionRefused counts one client connection the public listener
// closed, with its reason. The Set, and so the count, lives as long as the
// process: a reload's gateway keeps its predecessor's Set.
func (s *Set) ConnectionRefused(reason string) {
	for i, r := range ConnRefusedReasons {
		if r == reason {
			s.refusedBy[i].Inc()
			return
		}
	}
	s.connRefused.WithLabelValues(reason).Inc()
}

// Reloaded records one reload: ok when it was swapped in at at, else
// refused.
func (s *Set) Reloaded(ok bool, at time.Time) {
	if !ok {
		s.reloads.WithLabelValues("error").Inc()
		return
	}
	s.reloads.WithLabelValues("ok").Inc()
	s.lastReload.Set(float64(at.UnixNano()) / 1e9)
}

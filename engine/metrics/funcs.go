package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Counters the gateway already keeps (the rate limiter's rejections, the
// cache's results, the stores' errors) are read at scrape time: the
// request path pays nothing more for them.
var (
	cacheDesc = prometheus.NewDesc("frontdesk_cache_requests_total",
		"Requests that met an endpoint's response cache, by result (hit, miss, bypass, refresh).", []string{"endpoint", "result"}, nil)
	rejectedDesc = prometheus.NewDesc("frontdesk_ratelimit_rejected_total",
		"Requests answered 429 by an endpoint's rate limit.", []string{"endpoint"}, nil)
	storeErrDesc = prometheus.NewDesc("frontdesk_store_errors_total",
		"Failures of a rate-limit or cache store (memory or redis).", []string{"store"}, nil)
)

type funcMetric struct {
	desc   *prometheus.Desc
	labels []string
	read   func() uint64
}

type funcCollector struct {
	mu      sync.Mutex
	metrics []funcMetric
	stores  map[string][]func() uint64
}

func (f *funcCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cacheDesc
	ch <- rejectedDesc
	ch <- storeErrDesc
}

func (f *funcCollector) Collect(ch chan<- prometheus.Metric) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(m.read()), m.labels...)
	}
	for name, reads := range f.stores {
		var n uint64
		for _, r := range reads {
			n += r()
		}
		ch <- prometheus.MustNewConstMetric(storeErrDesc, prometheus.CounterValue, float64(n), name)
	}
}

func (f *funcCollector) add(d *prometheus.Desc, read func() uint64, labels ...string) {
	f.mu.Lock()
	f.metrics = append(f.metrics, funcMetric{desc: d, labels: labels, read: read})
	f.mu.Unlock()
}

// CacheFuncs reads an endpoint cache's counters, one per CacheResults.
type CacheFuncs [len(CacheResults)]func() uint64

// Cache exposes an endpoint cache's results.
func (s *Set) Cache(route string, read CacheFuncs) {
	for i, r := range read {
		s.funcs.add(cacheDesc, r, route, CacheResults[i])
	}
}

// RateLimit exposes an endpoint rate limit's rejections.
func (s *Set) RateLimit(route string, rejected func() uint64) {
	s.funcs.add(rejectedDesc, rejected, route)
}

// StoreErrors adds a source of errors of the store named store ("memory"
// or "redis"); the series is their sum.
func (s *Set) StoreErrors(store string, read func() uint64) {
	s.funcs.mu.Lock()
	defer s.funcs.mu.Unlock()
	if s.funcs.stores == nil {
		s.funcs.stores = map[string][]func() uint64{}
	}
	s.funcs.stores[store] = append(s.funcs.stores[store], read)
}

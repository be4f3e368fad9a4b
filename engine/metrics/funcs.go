package metrics

import (
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Counters and states the gateway already keeps (the rate limiter's
// rejections, the cache's results, the stores' errors, the backend
// clients' retries, hedges, breakers and ejections) are read at scrape
// time: the request path pays nothing more for them. A loaded gateway
// lists them in a Sources; Use publishes it, and a reload's gateway
// publishes its own in place of the old one's.
var (
	cacheDesc = prometheus.NewDesc("frontdesk_cache_requests_total",
		"Requests that met an endpoint's response cache, by result (hit, miss, bypass, refresh).", []string{"endpoint", "result"}, nil)
	rejectedDesc = prometheus.NewDesc("frontdesk_ratelimit_rejected_total",
		"Requests answered 429 by an endpoint's rate limit.", []string{"endpoint"}, nil)
	storeErrDesc = prometheus.NewDesc("frontdesk_store_errors_total",
		"Failures of a rate-limit or cache store (memory or redis).", []string{"store"}, nil)
	retriesDesc = prometheus.NewDesc("frontdesk_call_retries_total",
		"Tries of a backend request after its first (retries), by service.", []string{"service"}, nil)
	hedgesDesc = prometheus.NewDesc("frontdesk_call_hedges_total",
		"Hedged second tries sent, by service.", []string{"service"}, nil)
	breakerDesc = prometheus.NewDesc("frontdesk_breaker_open",
		"1 while the service's circuit breaker is open, else 0.", []string{"service"}, nil)
	ejectedDesc = prometheus.NewDesc("frontdesk_instance_ejected",
		"1 while the instance is ejected from its service's balancing, else 0.", []string{"service", "instance"}, nil)
)

// Sources are the scrape-time series of one loaded gateway.
type Sources struct {
	list   []source
	stores map[string][]source // store errors, summed per store name
}

// source is one series: a counter (read gives its count since owner was
// made) or a gauge.
type source struct {
	desc   *prometheus.Desc
	labels []string
	gauge  bool
	read   func() float64
	owner  any // what keeps the count: the same owner in a later Sources continues it
}

func (s source) key() string {
	return s.desc.String() + "\x00" + strings.Join(s.labels, "\x00")
}

// NewSources makes an empty Sources.
func NewSources() *Sources { return &Sources{stores: map[string][]source{}} }

func (src *Sources) counter(d *prometheus.Desc, owner any, read func() uint64, labels ...string) {
	src.list = append(src.list, source{desc: d, labels: labels, owner: owner, read: func() float64 { return float64(read()) }})
}

// CacheFuncs reads an endpoint cache's counters, one per CacheResults.
type CacheFuncs [len(CacheResults)]func() uint64

// Cache exposes an endpoint cache's results; owner is the cache.
func (src *Sources) Cache(route string, owner any, read CacheFuncs) {
	for i, r := range read {
		src.counter(cacheDesc, owner, r, route, CacheResults[i])
	}
}

// RateLimit exposes an endpoint rate limit's rejections.
func (src *Sources) RateLimit(route string, owner any, rejected func() uint64) {
	src.counter(rejectedDesc, owner, rejected, route)
}

// StoreErrors adds a source of errors of the store named store ("memory"
// or "redis"); the series is their sum.
func (src *Sources) StoreErrors(store string, owner any, read func() uint64) {
	src.stores[store] = append(src.stores[store], source{owner: owner, read: func() float64 { return float64(read()) }})
}

// Service exposes a backend client's retries, hedges, breaker and
// instances; owner is the client.
func (src *Sources) Service(name string, owner any, retries, hedges func() uint64, breakerOpen func() bool, instances []string, ejected func(int) bool) {
	src.counter(retriesDesc, owner, retries, name)
	src.counter(hedgesDesc, owner, hedges, name)
	src.list = append(src.list, source{desc: breakerDesc, labels: []string{name}, gauge: true, read: func() float64 { return b2f(breakerOpen()) }})
	for i, in := range instances {
		src.list = append(src.list, source{desc: ejectedDesc, labels: []string{name, in}, gauge: true, read: func() float64 { return b2f(ejected(i)) }})
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// funcCollector collects the published Sources. A counter continues
// across a swap: when the new Sources has the same series from another
// owner (a rebuilt cache, a new limiter), the old count is carried as its
// base, so counters never go back; with the same owner (a reused backend
// client) the count goes on by itself. Series the new Sources lacks are
// gone.
type funcCollector struct {
	mu    sync.Mutex
	cur   *Sources
	base  map[string]float64 // per series key
	sbase map[string]float64 // per store name
}

func (f *funcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cacheDesc, rejectedDesc, storeErrDesc, retriesDesc, hedgesDesc, breakerDesc, ejectedDesc} {
		ch <- d
	}
}

func (f *funcCollector) Collect(ch chan<- prometheus.Metric) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur == nil {
		return
	}
	for _, s := range f.cur.list {
		if s.gauge {
			ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, s.read(), s.labels...)
			continue
		}
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.CounterValue, f.base[s.key()]+s.read(), s.labels...)
	}
	names := make([]string, 0, len(f.cur.stores))
	for name := range f.cur.stores {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ch <- prometheus.MustNewConstMetric(storeErrDesc, prometheus.CounterValue, f.sbase[name]+sumOf(f.cur.stores[name]), name)
	}
}

func sumOf(list []source) float64 {
	var n float64
	for _, s := range list {
		n += s.read()
	}
	return n
}

// use publishes next in place of what was published.
func (f *funcCollector) use(next *Sources) {
	f.mu.Lock()
	defer f.mu.Unlock()
	base := map[string]float64{}
	if old := f.cur; old != nil {
		prev := map[string]source{}
		for _, s := range old.list {
			if !s.gauge {
				prev[s.key()] = s
			}
		}
		for _, s := range next.list {
			if s.gauge {
				continue
			}
			k := s.key()
			o, ok := prev[k]
			switch {
			case !ok:
			case o.owner == s.owner:
				base[k] = f.base[k] // the same count goes on
			default:
				base[k] = f.base[k] + o.read()
			}
		}
		sbase := map[string]float64{}
		for name, list := range next.stores {
			// Store errors are a sum over owners: those that carry over
			// keep counting; the others' counts join the base.
			kept := map[any]bool{}
			for _, s := range list {
				kept[s.owner] = true
			}
			b := f.sbase[name]
			for _, s := range old.stores[name] {
				if !kept[s.owner] {
					b += s.read()
				}
			}
			sbase[name] = b
		}
		f.sbase = sbase
	} else {
		f.sbase = map[string]float64{}
	}
	f.base = base
	f.cur = next
}

// Use publishes src: the Set's scrape-time series are src's from now on.
func (s *Set) Use(src *Sources) { s.funcs.use(src) }

package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TEMPORARY until the backendmetrics branch lands its Reloaded.
var reloadsVec = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "frontdesk_reloads_total_tmp"}, []string{"result"})

// Reloaded records one reload.
func (s *Set) Reloaded(ok bool, at time.Time) {
	_ = at
	if ok {
		reloadsVec.WithLabelValues("ok").Inc()
	} else {
		reloadsVec.WithLabelValues("error").Inc()
	}
}

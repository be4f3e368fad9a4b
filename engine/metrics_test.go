package engine_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"frontdesk/engine"
)

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// find returns the metric of fam whose labels are all of want, or nil.
func find(fam *dto.MetricFamily, want map[string]string) *dto.Metric {
	if fam == nil {
		return nil
	}
next:
	for _, m := range fam.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func TestMetricsScraped(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id": 1}`)
	}))
	defer backend.Close()
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"cart": {"urls": ["` + backend.URL + `"]}}}`)},
		"e/c.json": {Data: []byte(`{"method": "GET", "path": "/checkout/{cart_id}",
			"rate_limit": {"rate": "3/m", "burst": 3, "key": "ip"},
			"calls": {"cart": {"service": "cart", "path": "/carts/{params.cart_id}"}}}`)},
	}
	g, err := engine.Load(fsys, "gateway.json", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	pub := httptest.NewServer(g)
	defer pub.Close()
	admin := httptest.NewServer(g.Metrics.Handler())
	defer admin.Close()

	const route = "GET /checkout/{cart_id}"
	fams := scrape(t, admin.URL)
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"frontdesk_requests_total", map[string]string{"endpoint": route, "status": "200"}},
		{"frontdesk_request_duration_seconds", map[string]string{"endpoint": route}},
		{"frontdesk_inflight_requests", map[string]string{"endpoint": route}},
		{"frontdesk_call_duration_seconds", map[string]string{"endpoint": route, "call": "cart", "outcome": "ok"}},
		{"frontdesk_call_duration_seconds", map[string]string{"endpoint": route, "call": "cart", "outcome": "failed"}},
		{"frontdesk_ratelimit_rejected_total", map[string]string{"endpoint": route}},
		{"frontdesk_store_errors_total", map[string]string{"store": "memory"}},
	} {
		if find(fams[c.name], c.labels) == nil {
			t.Errorf("before any request: no %s%v", c.name, c.labels)
		}
	}

	for i := range 5 {
		resp, err := http.Get(fmt.Sprintf("%s/checkout/%d", pub.URL, i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	fams = scrape(t, admin.URL)
	if m := find(fams["frontdesk_requests_total"], map[string]string{"endpoint": route, "status": "200"}); m == nil || m.Counter.GetValue() != 3 {
		t.Errorf("200s: %v, want 3", m)
	}
	if m := find(fams["frontdesk_requests_total"], map[string]string{"endpoint": route, "status": "429"}); m == nil || m.Counter.GetValue() != 2 {
		t.Errorf("429s: %v, want 2", m)
	}
	if m := find(fams["frontdesk_ratelimit_rejected_total"], map[string]string{"endpoint": route}); m == nil || m.Counter.GetValue() != 2 {
		t.Errorf("rejected: %v, want 2", m)
	}
	if m := find(fams["frontdesk_request_duration_seconds"], map[string]string{"endpoint": route}); m == nil || m.Histogram.GetSampleCount() != 5 {
		t.Errorf("duration count: %v, want 5", m)
	}
	if m := find(fams["frontdesk_call_duration_seconds"], map[string]string{"endpoint": route, "call": "cart", "outcome": "ok"}); m == nil || m.Histogram.GetSampleCount() != 3 {
		t.Errorf("call ok count: %v, want 3", m)
	}
	if m := find(fams["frontdesk_inflight_requests"], map[string]string{"endpoint": route}); m == nil || m.Gauge.GetValue() != 0 {
		t.Errorf("in flight after: %v, want 0", m)
	}
}

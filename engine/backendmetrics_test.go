package engine_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	dto "github.com/prometheus/client_model/go"

	"frontdesk/engine"
)

// TestBackendMetrics: retries, hedges, an ejected instance and an open
// breaker show in /metrics with the counts the traffic made.
func TestBackendMetrics(t *testing.T) {
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer bad.Close()
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok": true}`)
	}))
	defer good.Close()
	// The slow backend holds its first request of each pair until the
	// hedge has been sent (the second arrives), so each request hedges.
	var slowSeen atomic.Int64
	release := make(chan struct{}, 100)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slowSeen.Add(1)%2 == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			case <-time.After(5 * time.Second):
			}
		} else {
			release <- struct{}{}
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok": true}`)
	}))
	defer slow.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer down.Close()

	gw := `{"endpoints": ["e"], "services": {
		"flaky": {"urls": ["` + bad.URL + `", "` + good.URL + `"], "balance": "round_robin", "eject_after": 2, "eject_for": "1h",
		          "breaker": {"failure_ratio": 0.99, "min_requests": 1000, "window": "10s", "open_for": "1h"}},
		"hedged": {"urls": ["` + slow.URL + `", "` + slow.URL + `/"], "hedge_after": "1ms", "retry": {"attempts": 1}},
		"down": {"urls": ["` + down.URL + `"], "retry": {"attempts": 1},
		         "breaker": {"failure_ratio": 0.5, "min_requests": 3, "window": "10s", "open_for": "1h"}}}}`
	spec := func(path, svc string) string {
		return `{"method": "GET", "path": "` + path + `", "calls": {"c": {"service": "` + svc + `", "path": "/", "optional": true}}}`
	}
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(gw)},
		"e/f.json":     {Data: []byte(spec("/f", "flaky"))},
		"e/h.json":     {Data: []byte(spec("/h", "hedged"))},
		"e/d.json":     {Data: []byte(spec("/d", "down"))},
	}
	g, err := engine.Load(fsys, "gateway.json", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	srv := httptest.NewServer(g)
	defer srv.Close()
	metricsSrv := httptest.NewServer(g.Metrics.Handler())
	defer metricsSrv.Close()

	// Before any request every series is there at zero.
	fams := scrape(t, metricsSrv.URL)
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"frontdesk_call_retries_total", map[string]string{"service": "flaky"}},
		{"frontdesk_call_hedges_total", map[string]string{"service": "hedged"}},
		{"frontdesk_breaker_open", map[string]string{"service": "down"}},
		{"frontdesk_instance_ejected", map[string]string{"service": "flaky", "instance": bad.URL}},
		{"frontdesk_reloads_total", map[string]string{"result": "ok"}},
		{"frontdesk_reloads_total", map[string]string{"result": "error"}},
	} {
		if v := value(find(fams[c.name], c.labels)); v != 0 {
			t.Errorf("%s%v before any request = %v, want a series at 0", c.name, c.labels, v)
		}
	}
	if ts := value(find(fams["frontdesk_reload_last_success_timestamp_seconds"], nil)); ts < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("reload_last_success_timestamp_seconds = %v, want the load time", ts)
	}

	get := func(path string) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// Round robin starts somewhere; every request that lands on the bad
	// instance first is retried on the good one, until the bad one has
	// failed twice and is ejected.
	for range 6 {
		get("/f")
	}
	for range 3 {
		get("/h")
	}
	for range 4 {
		get("/d")
	}
	fams = scrape(t, metricsSrv.URL)
	if v := value(find(fams["frontdesk_call_retries_total"], map[string]string{"service": "flaky"})); v != 2 {
		t.Errorf("retries of flaky = %v, want 2 (one per failure of the bad instance before its ejection)", v)
	}
	if v := value(find(fams["frontdesk_instance_ejected"], map[string]string{"service": "flaky", "instance": bad.URL})); v != 1 {
		t.Errorf("the failing instance: ejected = %v, want 1", v)
	}
	if v := value(find(fams["frontdesk_instance_ejected"], map[string]string{"service": "flaky", "instance": good.URL})); v != 0 {
		t.Errorf("the good instance: ejected = %v, want 0", v)
	}
	if v := value(find(fams["frontdesk_call_hedges_total"], map[string]string{"service": "hedged"})); v != 3 {
		t.Errorf("hedges = %v, want 3", v)
	}
	if v := value(find(fams["frontdesk_breaker_open"], map[string]string{"service": "down"})); v != 1 {
		t.Errorf("breaker of down = %v, want 1 after 4 failures in a row", v)
	}
	if v := value(find(fams["frontdesk_breaker_open"], map[string]string{"service": "flaky"})); v != 0 {
		t.Errorf("breaker of flaky = %v, want 0", v)
	}
}

// value is a counter's or gauge's value, -1 when the series is missing.
func value(m *dto.Metric) float64 {
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return -1
}

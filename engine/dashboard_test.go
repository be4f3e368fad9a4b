package engine_test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	dto "github.com/prometheus/client_model/go"

	"frontdesk/engine"
)

// TestDashboardMetricsExist: every metric the Grafana dashboard in
// docs/grafana queries is served by a loaded gateway, before any request
// (series exist from load on), so no panel is silently empty.
func TestDashboardMetricsExist(t *testing.T) {
	b, err := os.ReadFile("../docs/grafana/frontdesk.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct{ Query any }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if s, ok := v.Query.(string); ok {
			exprs = append(exprs, s)
		}
	}

	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {
			"s": {"urls": ["http://127.0.0.1:1", "http://127.0.0.1:2"], "hedge_after": "50ms"}}}`)},
		"e/a.json": {Data: []byte(`{"method": "GET", "path": "/a", "cache": {"ttl": "1m"}, "calls": {"c": {"service": "s", "path": "/"}}}`)},
		"e/b.json": {Data: []byte(`{"method": "GET", "path": "/b", "rate_limit": {"rate": "10/s", "burst": 10, "key": "ip"}, "calls": {"c": {"service": "s", "path": "/"}}}`)},
	}
	gw, err := engine.Load(fsys, "gateway.json", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	ms := httptest.NewServer(gw.Metrics.Handler())
	defer ms.Close()
	fams := scrape(t, ms.URL)

	name := regexp.MustCompile(`frontdesk_[a-z_]+`)
	used := 0
	for _, e := range exprs {
		for _, m := range name.FindAllString(e, -1) {
			used++
			fam := fams[m]
			if fam == nil {
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if base, ok := strings.CutSuffix(m, suf); ok && fams[base] != nil && fams[base].GetType() == dto.MetricType_HISTOGRAM {
						fam = fams[base]
					}
				}
			}
			if fam == nil || len(fam.Metric) == 0 {
				t.Errorf("the dashboard queries %s (in %q), which the gateway does not serve", m, e)
			}
		}
	}
	if used < 15 {
		t.Fatalf("only %d metric uses found in the dashboard: is the file the dashboard?", used)
	}
}

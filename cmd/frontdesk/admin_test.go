package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"frontdesk/engine"
)

func TestAdminServesMetrics(t *testing.T) {
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"s": {"urls": ["http://s.invalid"]}}}`)},
		"e/a.json":     {Data: []byte(`{"method": "GET", "path": "/a/{id}", "calls": {"user": {"service": "s", "path": "/x"}}}`)},
	}
	gw, err := engine.Load(fsys, "gateway.json", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	live := engine.NewLive(t.Context(), gw, nil, nil)
	defer live.Close()
	srv := httptest.NewServer(adminMux(live, new(atomic.Bool)))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `frontdesk_call_duration_seconds_count{call="user",endpoint="GET /a/{id}",outcome="ok"} 0`) {
		t.Errorf("/metrics: %d\n%s", resp.StatusCode, b)
	}
}

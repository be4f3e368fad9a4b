package engine_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"frontdesk/engine"
)

// TestFrozenSingleInstance: the one instance of an optional call's service
// stops answering (connections open, nothing comes back, as a SIGSTOPped
// process). After a few requests that wait out the call's timeout, the
// service's breaker opens on its timeouts in a row, and every request after
// that is answered 200 with Partial-Response at once, not after the call's
// timeout each, however many successes the breaker's window holds.
func TestFrozenSingleInstance(t *testing.T) {
	main := jsonBackend(t, `{"id": 1}`)
	var frozen atomic.Bool
	stop := make(chan struct{})
	recs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if frozen.Load() {
			select { // until the test ends: a frozen process never answers
			case <-stop:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"items": [1, 2]}`)
	}))
	t.Cleanup(recs.Close)
	t.Cleanup(func() { close(stop) }) // runs before recs.Close
	const callTimeout = 300 * time.Millisecond
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {
			"main": {"urls": ["` + main.URL + `"]},
			"recs": {"urls": ["` + recs.URL + `"], "timeout": "` + callTimeout.String() + `"}}}`)},
		"e/home.json": {Data: []byte(`{"method": "GET", "path": "/home", "calls": {
			"main": {"service": "main", "path": "/"},
			"recs": {"service": "recs", "path": "/", "optional": true}}}`)},
	}
	tr := engine.NewTransport()
	t.Cleanup(tr.CloseIdleConnections)
	g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	front := httptest.NewServer(g)
	t.Cleanup(front.Close)
	get := func() (status int, partial string, took time.Duration) {
		t.Helper()
		start := time.Now()
		resp, err := front.Client().Get(front.URL + "/home")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Partial-Response"), time.Since(start)
	}
	for i := range 100 { // the breaker's window fills with successes
		if status, partial, _ := get(); status != 200 || partial != "" {
			t.Fatalf("request %d before the freeze: %d, Partial-Response %q", i, status, partial)
		}
	}
	frozen.Store(true)
	// The default consecutive_timeouts is 5: the breaker is open by the
	// sixth request; a few more are allowed for scheduling.
	const within = 10
	slow := 0
	for {
		status, partial, took := get()
		if status != 200 || partial != "recs" {
			t.Fatalf("after the freeze: %d, Partial-Response %q", status, partial)
		}
		if took < callTimeout/2 {
			break
		}
		if slow++; slow == within {
			t.Fatalf("%d requests in a row after the freeze each waited out the call's timeout", within)
		}
	}
	t.Logf("%d requests waited out the call's timeout", slow)
	for i := range 20 { // and the rest are quick too, without the call
		status, partial, took := get()
		if status != 200 || partial != "recs" || took >= callTimeout/2 {
			t.Fatalf("request %d with the breaker open: %d, Partial-Response %q, after %v", i, status, partial, took)
		}
	}
}

package engine_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"frontdesk/engine"
)

// scheduleBackend answers /ok... at once, /fail with 500 once a /hang is in
// flight (so that the failure has something to cancel), holds /hang until
// the gateway gives up on it (sending on hung whether it saw it do so), and holds
// each /meet/NAME/N until N requests for it are in flight together: a call
// graph that does not overlap what it should never gets past a meeting
// (the call's timeout ends it, as a failure).
type scheduleBackend struct {
	mu       sync.Mutex
	meetings map[string]*meeting
	hanging  chan struct{} // a /hang arrived
	hung     chan bool
}

// awaitHang waits for a /hang request to be in flight.
func (b *scheduleBackend) awaitHang() {
	select {
	case <-b.hanging:
	case <-time.After(20 * time.Second): // only so that a broken gateway cannot hang the test
	}
}

type meeting struct {
	arrived int
	all     chan struct{}
}

func (b *scheduleBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(r.URL.Path, "/ok"):
		io.WriteString(w, `{"ok":true}`)
	case r.URL.Path == "/fail":
		b.awaitHang()
		w.WriteHeader(http.StatusInternalServerError)
	case r.URL.Path == "/hang":
		b.hanging <- struct{}{}
		select {
		case <-r.Context().Done():
			b.hung <- true
		case <-time.After(20 * time.Second): // only so that a broken gateway cannot hang the test
			b.hung <- false
		}
	case strings.HasPrefix(r.URL.Path, "/meet/"):
		var name string
		var n int
		fmt.Sscanf(strings.ReplaceAll(r.URL.Path[len("/meet/"):], "/", " "), "%s %d", &name, &n)
		b.mu.Lock()
		m := b.meetings[name]
		if m == nil {
			m = &meeting{all: make(chan struct{})}
			b.meetings[name] = m
		}
		if m.arrived++; m.arrived == n {
			close(m.all)
		}
		b.mu.Unlock()
		select {
		case <-m.all:
			io.WriteString(w, `{"met":true}`)
		case <-r.Context().Done():
		}
	}
}

// scheduleGateway loads one endpoint per spec, GET /eN, on b's service; a
// call to /boom panics in the transport, to /boom/late once a /hang is in
// flight. The calls' retries are off, so a failure ends a call at once.
func scheduleGateway(t *testing.T, b *scheduleBackend, specs ...string) http.Handler {
	t.Helper()
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"s": {"urls": ["` + srv.URL + `"], "retry": {"attempts": 1}}}}`)},
	}
	for i, s := range specs {
		fsys[fmt.Sprintf("e/e%d.json", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(`{"method": "GET", "path": "/e%d", "timeout": "30s", "calls": {%s}}`, i, s))}
	}
	tr := engine.NewTransport()
	t.Cleanup(tr.CloseIdleConnections)
	g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: lateBoom{b, &panicTransport{base: tr, prefix: "/boom"}}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

type lateBoom struct {
	b    *scheduleBackend
	next http.RoundTripper
}

func (l lateBoom) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/boom/late" {
		l.b.awaitHang()
	}
	return l.next.RoundTrip(r)
}

func serveGet(g http.Handler, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	return w
}

// TestScheduleOverlaps: calls that are ready together are in flight
// together, whichever goroutine runs each: three roots (one of them on the
// request's goroutine), and two calls a finished one made ready at once (one
// of them on the finished call's goroutine); a call reading both then runs,
// and a chain runs in order.
func TestScheduleOverlaps(t *testing.T) {
	b := &scheduleBackend{meetings: map[string]*meeting{}}
	g := scheduleGateway(t, b, `
		"r1": {"service": "s", "path": "/meet/roots/3", "timeout": "10s"},
		"r2": {"service": "s", "path": "/meet/roots/3", "timeout": "10s"},
		"r3": {"service": "s", "path": "/meet/roots/3", "timeout": "10s"},
		"a": {"service": "s", "path": "/ok"},
		"b": {"service": "s", "path": "/meet/fan/2", "timeout": "10s", "after": ["a"]},
		"c": {"service": "s", "path": "/meet/fan/2", "timeout": "10s", "after": ["a"]},
		"d": {"service": "s", "path": "/ok/${b.met}/${c.met}"},
		"e": {"service": "s", "path": "/ok", "after": ["d", "r1"]},
		"f": {"service": "s", "path": "/ok", "after": ["e"]}`)
	w := serveGet(g, "/e0")
	want := `{"r1":{"met":true},"r2":{"met":true},"r3":{"met":true},"a":{"ok":true},"b":{"met":true},"c":{"met":true},"d":{"ok":true},"e":{"ok":true},"f":{"ok":true}}`
	if got := strings.TrimSpace(w.Body.String()); w.Code != http.StatusOK || got != want {
		t.Errorf("status %d, body %s\nwant %s", w.Code, got, want)
	}
}

// TestScheduleFailureCancelsTheRest: a required call's failure ends the
// calls still in flight and is the answer, whether the failing call runs
// on the request's goroutine or on another, and so does a panic, wherever
// it happens; the gateway goes on serving.
func TestScheduleFailureCancelsTheRest(t *testing.T) {
	b := &scheduleBackend{hanging: make(chan struct{}, 1), hung: make(chan bool, 1)}
	specs := []string{
		`"bad": {"service": "s", "path": "/fail"}, "slow": {"service": "s", "path": "/hang"}`,
		`"slow": {"service": "s", "path": "/hang"}, "bad": {"service": "s", "path": "/fail"}`,
		`"a": {"service": "s", "path": "/ok"}, "bad": {"service": "s", "path": "/fail", "after": ["a"]}, "slow": {"service": "s", "path": "/hang"}`,
		`"slow": {"service": "s", "path": "/hang"}, "a": {"service": "s", "path": "/ok"}, "bad": {"service": "s", "path": "/fail", "after": ["a"]}`,
		`"boom": {"service": "s", "path": "/boom/late"}, "slow": {"service": "s", "path": "/hang"}`,
		`"slow": {"service": "s", "path": "/hang"}, "boom": {"service": "s", "path": "/boom/late"}`,
		`"a": {"service": "s", "path": "/ok"}, "boom": {"service": "s", "path": "/boom/late", "after": ["a"]}, "slow": {"service": "s", "path": "/hang"}`,
		`"boom": {"service": "s", "path": "/boom"}`,
		`"ok": {"service": "s", "path": "/ok"}`,
	}
	g := scheduleGateway(t, b, specs...)
	for i, s := range specs {
		want := http.StatusBadGateway
		switch {
		case strings.Contains(s, "/boom"):
			want = http.StatusInternalServerError
		case !strings.Contains(s, "/fail"):
			want = http.StatusOK
		}
		w := serveGet(g, fmt.Sprintf("/e%d", i))
		if w.Code != want {
			t.Errorf("%s: status %d, want %d: %s", s, w.Code, want, w.Body)
		}
		if strings.Contains(s, "/hang") && !<-b.hung {
			t.Errorf("%s: the slow call was not cancelled", s)
		}
	}
}

package backend

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"frontdesk/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newClient is a client of the given servers, on a transport closed at the
// end of the test.
func newClient(t *testing.T, maxBody int64, urls ...string) *Client {
	t.Helper()
	tr := NewTransport()
	t.Cleanup(tr.CloseIdleConnections)
	return New(Config{Name: "svc", URLs: urls, MaxBody: maxBody, Transport: tr})
}

func get(target string) *Request {
	return &Request{Call: "c", Method: http.MethodGet, Target: target, Header: http.Header{}}
}

func failure(err error) pipeline.CallFailure {
	var ce *pipeline.CallError
	if errors.As(err, &ce) {
		return ce.Failure
	}
	return 0
}

func TestLayersInOrder(t *testing.T) {
	var order []string
	mark := func(name string) layer {
		return func(next roundTrip) roundTrip {
			return func(ctx context.Context, a *attempt) (*Response, error) {
				order = append(order, name)
				return next(ctx, a)
			}
		}
	}
	rt := compose([]layer{mark("a"), mark("b"), mark("c")}, func(context.Context, *attempt) (*Response, error) {
		order = append(order, "bottom")
		return &Response{Status: 200}, nil
	})
	rt(context.Background(), &attempt{req: get("/")})
	if got := strings.Join(order, " "); got != "a b c bottom" {
		t.Errorf("ran %q", got)
	}
}

// TestExchange: the bottom layer against a real server, one fault per
// path.
func TestExchange(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"a":1}`)
		case "/big":
			io.WriteString(w, strings.Repeat("x", 100))
		case "/short":
			w.Header().Set("Content-Length", "50")
			io.WriteString(w, "only twenty bytes...")
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/teapot":
			w.WriteHeader(418)
			io.WriteString(w, `{"secret":"backend data"}`)
		case "/headers":
			io.WriteString(w, r.Header.Get("X-Test")+" "+r.URL.RawQuery)
		}
	}))
	defer srv.Close()
	c := newClient(t, 64, srv.URL)
	ctx := context.Background()

	resp, err := c.Do(ctx, get("/ok"))
	if err != nil || resp.Status != 200 || string(resp.Body) != `{"a":1}` {
		t.Errorf("ok: %v %+v", err, resp)
	}
	if _, err := c.Do(ctx, get("/big")); failure(err) != pipeline.FailBody {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := c.Do(ctx, get("/short")); failure(err) != pipeline.FailTruncated {
		t.Errorf("short body: %v", err)
	}
	resp, err = c.Do(ctx, get("/redirect"))
	if failure(err) != pipeline.FailStatus || resp == nil || resp.Status != http.StatusFound {
		t.Errorf("a redirect must be a failed call, not followed: %v %+v", err, resp)
	}
	req := get("/redirect")
	req.Accept = []int{http.StatusFound}
	if resp, err := c.Do(ctx, req); err != nil || resp.Status != http.StatusFound {
		t.Errorf("an accepted redirect is the answer: %v %+v", err, resp)
	}
	_, err = c.Do(ctx, get("/teapot"))
	var ce *pipeline.CallError
	if !errors.As(err, &ce) || ce.Status != 418 || ce.Body != nil {
		t.Errorf("418 without expose: %#v", err)
	}
	req = get("/teapot")
	req.Expose = true
	if _, err := c.Do(ctx, req); !errors.As(err, &ce) || string(ce.Body) != `{"secret":"backend data"}` {
		t.Errorf("418 with expose: %#v", err)
	}
	req = get("/headers?a=1")
	req.Header.Set("X-Test", "sent")
	if resp, err := c.Do(ctx, req); err != nil || string(resp.Body) != "sent a=1" {
		t.Errorf("headers and query: %v %q", err, resp.Body)
	}
}

// TestExchangeTimeout: a backend that sends nothing is a timeout when the
// call's deadline passes.
func TestExchangeTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := newClient(t, 64, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Do(ctx, get("/")); failure(err) != pipeline.FailTimeout {
		t.Errorf("got %v, want a timeout", err)
	}
}

// TestRetryGoesElsewhere: a GET that meets a refused connection or a 503
// is tried once more on the other instance; a POST is not.
func TestRetryGoesElsewhere(t *testing.T) {
	var good atomic.Int32
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		good.Add(1)
		io.WriteString(w, "fine")
	}))
	defer ok.Close()
	var bad atomic.Int32
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad.Add(1)
		w.WriteHeader(503)
	}))
	defer unavailable.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	l.Close()

	for _, tc := range []struct {
		name     string
		first    string
		method   string
		want     int // status
		wantFail pipeline.CallFailure
		good     int32
	}{
		{"GET after refused", refused, "GET", 200, 0, 1},
		{"GET after 503", unavailable.URL, "GET", 200, 0, 1},
		{"POST after 503", unavailable.URL, "POST", 0, pipeline.FailStatus, 0},
		{"POST after refused", refused, "POST", 0, pipeline.FailUnreachable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good.Store(0)
			c := newClient(t, 64, tc.first, ok.URL) // round robin: the first try goes to the first URL
			req := get("/")
			req.Method = tc.method
			resp, err := c.Do(context.Background(), req)
			if tc.wantFail != 0 {
				if failure(err) != tc.wantFail {
					t.Errorf("got %v, want failure %d", err, tc.wantFail)
				}
			} else if err != nil || resp.Status != tc.want {
				t.Errorf("got %v %+v", err, resp)
			}
			if good.Load() != tc.good {
				t.Errorf("the healthy instance saw %d requests, want %d", good.Load(), tc.good)
			}
		})
	}
}

// TestBalanceEjects: five failures in a row take an instance out; the
// other takes every request until then.
func TestBalanceEjects(t *testing.T) {
	var hits [2]atomic.Int32
	srvs := make([]*httptest.Server, 2)
	for i := range srvs {
		srvs[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			if i == 0 {
				w.WriteHeader(500)
			}
		}))
		defer srvs[i].Close()
	}
	c := newClient(t, 64, srvs[0].URL, srvs[1].URL)
	for range 20 {
		req := get("/")
		req.Method = "POST" // no retries: each request is one attempt
		c.Do(context.Background(), req)
	}
	if got := hits[0].Load(); got != DefaultEjectAfter {
		t.Errorf("the failing instance saw %d requests, want %d (then ejected)", got, DefaultEjectAfter)
	}
	if got := hits[1].Load(); got != 20-DefaultEjectAfter {
		t.Errorf("the healthy instance saw %d requests, want %d", got, 20-DefaultEjectAfter)
	}
	if name := c.Name(); name != "svc" {
		t.Errorf("name %q", name)
	}
}

// TestFrozenInstanceEjected: an instance that accepts connections but never
// answers (a SIGSTOPped process) times out while its sibling answers; those
// timeouts count as its failures, so it is ejected and the calls that
// follow all go to the sibling.
func TestFrozenInstanceEjected(t *testing.T) {
	release := make(chan struct{})
	var frozenHits atomic.Int32
	frozen := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		frozenHits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer frozen.Close()
	defer close(release)
	var okHits atomic.Int32
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		okHits.Add(1)
	}))
	defer ok.Close()
	c := newClient(t, 64, frozen.URL, ok.URL)
	// Concurrent callers, as under load: while one waits on the frozen
	// instance, others are answered by the healthy one.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				req := get("/")
				req.Timeout = 100 * time.Millisecond
				req.Method = "POST" // one attempt each: no retry hides the timeout
				c.Do(ctx, req)
				cancel()
			}
		})
	}
	wg.Wait()
	if got := frozenHits.Load(); got > DefaultEjectAfter+3 {
		t.Errorf("the frozen instance got %d requests; it should be ejected after %d timeouts", got, DefaultEjectAfter)
	}
	before := frozenHits.Load()
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req := get("/")
		req.Method = "POST"
		_, err := c.Do(ctx, req)
		cancel()
		if err != nil {
			t.Fatalf("after ejection: %v", err)
		}
	}
	if frozenHits.Load() != before {
		t.Error("the ejected instance still gets requests")
	}
}

// TestFrozenInstanceSequential: one client calling one request at a time
// (no overlap) still gets the frozen instance ejected: its timeouts count
// once the other instance has answered since it last did.
func TestFrozenInstanceSequential(t *testing.T) {
	release := make(chan struct{})
	var frozenHits atomic.Int32
	frozen := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		frozenHits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer frozen.Close()
	defer close(release)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	c := newClient(t, 64, frozen.URL, ok.URL)
	for range 30 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		req := get("/")
		req.Method, req.Timeout = "POST", 50*time.Millisecond
		c.Do(ctx, req)
		cancel()
	}
	// The first try comes before anyone has answered, so it does not count.
	if got := frozenHits.Load(); got != DefaultEjectAfter+1 {
		t.Errorf("the frozen instance got %d of 30 requests, want %d (then ejected)", got, DefaultEjectAfter+1)
	}
}

// TestTimeoutCutShortIsNotTheInstances: a try cut short by a deadline it
// did not own (the endpoint's, with little left) is no mark against the
// instance.
func TestTimeoutCutShortIsNotTheInstances(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer fast.Close()
	c := newClient(t, 64, slow.URL, fast.URL)
	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		req := get("/")
		req.Method, req.Timeout = "POST", 2*time.Second // the call had 2s; the endpoint left it 20ms
		c.Do(ctx, req)
		cancel()
	}
	if in := c.pool.instances[0]; in.until.Load() != 0 || in.ejections.Load() != 0 {
		t.Error("an instance was ejected for deadlines that were not its call's")
	}
}

func TestEjectDuration(t *testing.T) {
	const ejectFor = DefaultEjectFor
	for e, want := range map[int32]time.Duration{1: ejectFor, 2: 2 * ejectFor, 3: 4 * ejectFor, 5: ejectMax, 30: ejectMax, 64: ejectMax, 1 << 30: ejectMax} {
		if got := ejectDuration(ejectFor, e); got != want {
			t.Errorf("ejection %d: %s, want %s", e, got, want)
		}
	}
	if got := ejectDuration(time.Second, 3); got != 4*time.Second {
		t.Errorf("eject_for 1s, third ejection: %s, want 4s", got)
	}
	if got := ejectDuration(time.Hour, 2); got != time.Hour {
		t.Errorf("eject_for 1h is not shortened to 5m: %s", got)
	}
}

// TestEjectConfigured: eject_after 2 takes the failing instance out after
// two failures in a row.
func TestEjectConfigured(t *testing.T) {
	var hits [2]atomic.Int32
	srvs := make([]*httptest.Server, 2)
	for i := range srvs {
		srvs[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			if i == 0 {
				w.WriteHeader(500)
			}
		}))
		defer srvs[i].Close()
	}
	tr := NewTransport()
	defer tr.CloseIdleConnections()
	c := New(Config{Name: "svc", URLs: []string{srvs[0].URL, srvs[1].URL}, MaxBody: 64, Transport: tr, EjectAfter: 2, EjectFor: time.Minute})
	for range 10 {
		req := get("/")
		req.Method = "POST"
		c.Do(context.Background(), req)
	}
	if got := hits[0].Load(); got != 2 {
		t.Errorf("the failing instance saw %d requests, want 2 (eject_after 2)", got)
	}
	if until := time.Unix(0, c.pool.instances[0].until.Load()); time.Until(until) < 50*time.Second {
		t.Errorf("ejected until %v, want about a minute from now", until)
	}
}

// TestRetryPolicy: a call's attempts and idempotent flag decide how often
// a request is sent.
func TestRetryPolicy(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(503)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		method string
		retry  *Retry
		want   int32
	}{
		{"GET, the service's default", "GET", nil, 2},
		{"GET, 3 attempts", "GET", &Retry{Attempts: 3, Budget: 1}, 3},
		{"GET, 1 attempt", "GET", &Retry{Attempts: 1}, 1},
		{"POST, not idempotent", "POST", &Retry{Attempts: 3, Budget: 1}, 1},
		{"POST, idempotent", "POST", &Retry{Attempts: 3, Budget: 1, Idempotent: true}, 3},
		{"DELETE, idempotent", "DELETE", &Retry{Attempts: 2, Budget: 1, Idempotent: true}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n.Store(0)
			c := newClient(t, 64, srv.URL)
			req := get("/")
			req.Method, req.Retry = tc.method, tc.retry
			c.Do(context.Background(), req)
			if got := n.Load(); got != tc.want {
				t.Errorf("sent %d times, want %d", got, tc.want)
			}
		})
	}
}

// TestLeastRequestsTwoChoices: over more than two instances, least
// requests draws two and takes the less loaded, so a busy instance is never
// picked while any other is idle, and the idle ones share the calls.
func TestLeastRequestsTwoChoices(t *testing.T) {
	p := newPool([]string{"http://a", "http://b", "http://c", "http://d"}, true, 5, 30*time.Second)
	p.instances[0].inflight.Store(100)
	picked := map[string]int{}
	for range 3000 {
		picked[p.pick(nil).base]++
	}
	if picked["http://a"] != 0 {
		t.Errorf("the busy instance was picked %d times", picked["http://a"])
	}
	for _, b := range []string{"http://b", "http://c", "http://d"} {
		if picked[b] < 500 {
			t.Errorf("%s picked %d of 3000 times: the idle ones should share", b, picked[b])
		}
	}
	// Ejected instances are never drawn while others are in.
	p.instances[1].until.Store(time.Now().Add(time.Hour).UnixNano())
	for range 1000 {
		if in := p.pick(nil); in == p.instances[1] {
			t.Fatal("an ejected instance was picked")
		}
	}
}

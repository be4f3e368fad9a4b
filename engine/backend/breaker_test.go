package backend

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"frontdesk/pipeline"
)

// fakeTransport answers every request with answer (on the bubble's clock
// inside synctest, where real sockets cannot be used) and counts them by
// host.
type fakeTransport struct {
	mu     sync.Mutex
	answer func(r *http.Request) (int, time.Duration, error) // status, delay, or a connection error
	hits   map[string]int
}

func (f *fakeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	if f.hits == nil {
		f.hits = map[string]int{}
	}
	f.hits[r.URL.Host]++
	answer := f.answer
	f.mu.Unlock()
	status, delay, err := answer(r)
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), ContentLength: 0, Request: r}, nil
}

func (f *fakeTransport) set(answer func(r *http.Request) (int, time.Duration, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = answer
}

func (f *fakeTransport) count(host string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[host]
}

func statusAnswer(status int) func(*http.Request) (int, time.Duration, error) {
	return func(*http.Request) (int, time.Duration, error) { return status, 0, nil }
}

// TestBreakerOpensHalfOpensCloses, on synctest's clock: enough failures in
// the window open the breaker, which then fails calls at once without
// sending them; after open_for it lets probes through, and their successes
// close it; a failed probe opens it again.
func TestBreakerOpensHalfOpensCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTransport{answer: statusAnswer(500)}
		c := New(Config{Name: "cart", URLs: []string{"http://a"}, MaxBody: 64, Transport: tr,
			Breaker: Breaker{FailureRatio: 0.5, MinRequests: 4, Window: 10 * time.Second, OpenFor: 5 * time.Second}})
		post := func() error {
			req := get("/")
			req.Method = "POST" // one try each
			_, err := c.Do(context.Background(), req)
			return err
		}
		for range 4 {
			if err := post(); failure(err) != pipeline.FailStatus {
				t.Fatalf("closed: %v", err)
			}
		}
		err := post()
		var ce *pipeline.CallError
		if !errors.As(err, &ce) || ce.Failure != pipeline.FailBreakerOpen || ce.Service != "cart" || ce.Call != "c" {
			t.Fatalf("open: got %#v, want a breaker-open failure naming call and service", err)
		}
		if n := tr.count("a"); n != 4 {
			t.Errorf("the backend saw %d requests; an open breaker sends none", n)
		}

		time.Sleep(5 * time.Second)
		if failure(post()) != pipeline.FailBreakerOpen {
			t.Error("the breaker let a call through before open_for passed")
		}
		time.Sleep(time.Millisecond)
		// Half-open: a failed probe opens it again at once.
		if failure(post()) != pipeline.FailStatus {
			t.Error("half-open: the probe was not sent")
		}
		if failure(post()) != pipeline.FailBreakerOpen {
			t.Error("a failed probe did not open the breaker again")
		}
		time.Sleep(5*time.Second + time.Millisecond)
		tr.set(statusAnswer(200))
		for i := range halfOpenProbes {
			if err := post(); err != nil {
				t.Fatalf("probe %d: %v", i, err)
			}
		}
		// Closed again: failures count afresh from zero.
		tr.set(statusAnswer(500))
		for i := range 3 {
			if failure(post()) != pipeline.FailStatus {
				t.Fatalf("closed again, call %d was not sent", i)
			}
		}
	})
}

// TestBreakerCounts: a client's cancel and a 4xx answer are not failures;
// a timeout and a refused connection are.
func TestBreakerCounts(t *testing.T) {
	breaker := Breaker{FailureRatio: 1, MinRequests: 3, Window: time.Minute, OpenFor: time.Minute}
	for _, tc := range []struct {
		name   string
		answer func(*http.Request) (int, time.Duration, error)
		call   func(c *Client) error
		opens  bool
	}{
		{"cancelled by the client", func(*http.Request) (int, time.Duration, error) { return 200, time.Hour, nil }, func(c *Client) error {
			ctx, cancel := context.WithCancel(context.Background())
			go func() { time.Sleep(10 * time.Millisecond); cancel() }()
			_, err := c.Do(ctx, get("/"))
			return err
		}, false},
		{"404", statusAnswer(404), nil, false},
		{"timeout", func(*http.Request) (int, time.Duration, error) { return 200, time.Hour, nil }, func(c *Client) error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			_, err := c.Do(ctx, get("/"))
			return err
		}, true},
		{"refused", func(*http.Request) (int, time.Duration, error) { return 0, 0, errors.New("connection refused") }, nil, true},
		{"503", statusAnswer(503), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := &fakeTransport{answer: tc.answer}
				c := New(Config{Name: "svc", URLs: []string{"http://a"}, MaxBody: 64, Transport: tr, Breaker: breaker})
				call := tc.call
				if call == nil {
					call = func(c *Client) error { _, err := c.Do(context.Background(), get("/")); return err }
				}
				for range 3 {
					call(c)
				}
				tr.set(statusAnswer(200))
				_, err := c.Do(context.Background(), get("/"))
				if open := failure(err) == pipeline.FailBreakerOpen; open != tc.opens {
					t.Errorf("after three: breaker open %v, want %v (%v)", open, tc.opens, err)
				}
			})
		})
	}
}

// TestBreakerOpensOnTimeoutsInRow, on synctest's clock: a single instance
// that stops answering opens the breaker after consecutive_timeouts calls
// in a row have each waited out their own timeout, however many successes
// the window holds; the next call fails at once. Timeouts the endpoint's
// deadline cut short, and a row broken by an answer, do not open it.
func TestBreakerOpensOnTimeoutsInRow(t *testing.T) {
	frozen := func(*http.Request) (int, time.Duration, error) { return 200, time.Hour, nil }
	breaker := Breaker{FailureRatio: 0.5, MinRequests: 20, Window: 10 * time.Second, OpenFor: 5 * time.Second, ConsecutiveTimeouts: 3}
	// call makes one call with its own timeout of 500ms, under a context
	// that ends after within (the endpoint's deadline, or the call's).
	call := func(c *Client, within time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		req := get("/")
		req.Timeout = 500 * time.Millisecond
		_, err := c.Do(ctx, req)
		return err
	}
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTransport{answer: statusAnswer(200)}
		c := New(Config{Name: "svc", URLs: []string{"http://a"}, MaxBody: 64, Transport: tr, Breaker: breaker})
		for range 100 { // a window full of successes
			if err := call(c, 500*time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
		tr.set(frozen)
		start := time.Now()
		for i := range 3 {
			if f := failure(call(c, 500*time.Millisecond)); f != pipeline.FailTimeout {
				t.Fatalf("call %d: failure %d, want a timeout", i, f)
			}
		}
		if took := time.Since(start); took != 1500*time.Millisecond {
			t.Errorf("three timeouts took %v", took)
		}
		start = time.Now()
		if f := failure(call(c, 500*time.Millisecond)); f != pipeline.FailBreakerOpen {
			t.Fatalf("after three timeouts in a row: failure %d, want the breaker open", f)
		}
		if took := time.Since(start); took != 0 {
			t.Errorf("a call with the breaker open took %v", took)
		}
		if n := tr.count("a"); n != 103 {
			t.Errorf("the backend saw %d requests, want 103", n)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTransport{answer: frozen}
		c := New(Config{Name: "svc", URLs: []string{"http://a"}, MaxBody: 64, Transport: tr, Breaker: breaker})
		for i := range 10 { // cut short by the endpoint's deadline: not the service's fault
			if f := failure(call(c, 100*time.Millisecond)); f != pipeline.FailTimeout {
				t.Fatalf("cut short %d: failure %d", i, f)
			}
		}
		for i := range 10 { // two timeouts, an answer, and again
			if i%3 == 2 {
				tr.set(statusAnswer(200))
			} else {
				tr.set(frozen)
			}
			if f := failure(call(c, 500*time.Millisecond)); f == pipeline.FailBreakerOpen {
				t.Fatalf("call %d: the breaker opened without three timeouts in a row", i)
			}
		}
	})
	synctest.Test(t, func(t *testing.T) {
		off := breaker
		off.ConsecutiveTimeouts = 0
		tr := &fakeTransport{answer: statusAnswer(200)}
		c := New(Config{Name: "svc", URLs: []string{"http://a"}, MaxBody: 64, Transport: tr, Breaker: off})
		for range 100 {
			call(c, 500*time.Millisecond)
		}
		tr.set(frozen)
		for i := range 10 {
			if f := failure(call(c, 500*time.Millisecond)); f != pipeline.FailTimeout {
				t.Fatalf("consecutive_timeouts 0, call %d: failure %d, want a timeout", i, f)
			}
		}
	})
}

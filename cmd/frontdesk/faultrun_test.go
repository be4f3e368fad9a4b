package main

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"frontdesk/cmd/frontdesk/demo"
	"frontdesk/endpoints"
	"frontdesk/engine"
)

// lastTo records when a request was last sent to one host.
type lastTo struct {
	inner http.RoundTripper
	host  string
	last  atomic.Int64 // unix nanoseconds
}

func (l *lastTo) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == l.host {
		l.last.Store(time.Now().UnixNano())
	}
	return l.inner.RoundTrip(r)
}

// TestFaultRunCartKilled is the demo checkout under load with two cart
// instances, one killed mid-run (its listener and connections closed): no
// client sees an error (a GET that meets the dead instance is retried on
// the live one) and the dead one stops getting requests once it is
// ejected, well within a second.
func TestFaultRunCartKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("a load run")
	}
	live, err := demo.Start(time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	doomed, err := demo.Start(time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer doomed.Close()
	fsys := fstest.MapFS{}
	err = fs.WalkDir(endpoints.FS, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(endpoints.FS, p)
		fsys[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	second := doomed.URLs()["cart"]
	gw := string(fsys["gateway.json"].Data)
	withTwo := strings.Replace(gw, `"urls": ["${CART_URL:-http://127.0.0.1:9102}"]`, `"urls": ["${CART_URL}", "`+second+`"]`, 1)
	if withTwo == gw {
		t.Fatal("the demo gateway.json no longer has the cart line this test replaces")
	}
	fsys["gateway.json"] = &fstest.MapFile{Data: []byte(withTwo)}
	// The endpoint's 2s deadline covers composing and writing too: on two
	// cores shared with other test binaries under -race, a request starved
	// that long would be a 504 that says nothing about the failover this
	// test is about.
	spec := string(fsys["web/checkout.json"].Data)
	if longer := strings.Replace(spec, `"timeout": "2s"`, `"timeout": "10s"`, 1); longer != spec {
		fsys["web/checkout.json"] = &fstest.MapFile{Data: []byte(longer)}
	} else {
		t.Fatal("the demo web/checkout.json no longer has the timeout this test lengthens")
	}
	env := live.Env()
	tr := engine.NewTransport()
	defer tr.CloseIdleConnections()
	rec := &lastTo{inner: tr, host: strings.TrimPrefix(second, "http://")}
	g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: rec,
		Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	g.Start(context.Background())
	defer g.Close()
	srv := httptest.NewServer(g)
	defer srv.Close()
	ct := &http.Transport{MaxIdleConnsPerHost: 16}
	defer ct.CloseIdleConnections()
	client := &http.Client{Transport: ct, Timeout: 10 * time.Second}

	// 8 clients; the second instance is killed once 60 requests are done,
	// and the run ends 200 requests after the kill.
	const killAfter, runAfter = 60, 200
	var mu sync.Mutex
	var before, after []time.Duration
	statuses := map[int]int{}
	kill := make(chan struct{})
	killedAt := make(chan time.Time, 1)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				mu.Lock()
				done := len(after) >= runAfter
				mu.Unlock()
				if done {
					return
				}
				t0 := time.Now()
				resp, err := client.Get(srv.URL + "/checkout/c1")
				st := 0
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					st = resp.StatusCode
				}
				mu.Lock()
				select {
				case <-kill:
					after = append(after, time.Since(t0))
					statuses[st]++
				default:
					before = append(before, time.Since(t0))
					if len(before) == killAfter {
						close(kill)
						killedAt <- time.Now()
						doomed.Close()
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	killed := <-killedAt
	if len(statuses) != 1 || statuses[200] == 0 {
		t.Errorf("answers after the kill: %v, want only 200s", statuses)
	}
	out := time.Unix(0, rec.last.Load()).Sub(killed)
	if out > time.Second {
		t.Errorf("the killed instance got requests until %v after the kill", out)
	}
	p99 := func(l []time.Duration) time.Duration {
		slices.Sort(l)
		if len(l) == 0 {
			return 0
		}
		return l[len(l)*99/100]
	}
	t.Logf("before: %d requests, p99 %v; after the kill: %d, p99 %v, statuses %v; last request to the dead instance %v after the kill",
		len(before), p99(before), len(after), p99(after), statuses, out)
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Result is what one load run measured, from wrk or from the Go generator.
type Result struct {
	Requests int64   `json:"requests"` // completed responses, any status
	Errors   int64   `json:"errors"`   // connect, read, write and timeout errors
	Non2xx   int64   `json:"non2xx"`   // responses outside 200..399
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50      float64 `json:"p50_us"`
	P90      float64 `json:"p90_us"`
	P99      float64 `json:"p99_us"`
	Max      float64 `json:"max_us"`
	Bytes    int64   `json:"bytes"` // response bytes read, headers included (wrk) or bodies only (go)
	Tool     string  `json:"tool"`
}

// genMain is `loadtest gen`: a closed-loop HTTP/1.1 load generator. Each of
// -c connections sends a request, reads the whole answer, and sends the next
// at once, for -d. It prints one JSON Result on stdout. It runs in its own
// process so that its CPU time is nobody else's.
func genMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("gen", flag.ContinueOnError)
	fl.SetOutput(stderr)
	target := fl.String("url", "", "URL to GET (http://127.0.0.1:PORT/...)")
	conns := fl.Int("c", 32, "connections")
	dur := fl.Duration("d", 10*time.Second, "duration")
	timeout := fl.Duration("timeout", 5*time.Second, "per-request timeout")
	header := fl.String("H", "", "a header to send with every request, \"Name: value\"")
	if err := fl.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("gen: -url %q is not an http URL", *target)
	}
	if err := loopbackOnly(u.Host); err != nil {
		return err
	}
	if *conns < 1 || *dur <= 0 {
		return errors.New("gen: -c and -d must be positive")
	}
	if strings.ContainsAny(*header, "\r\n") || *header != "" && !strings.Contains(*header, ":") {
		return fmt.Errorf("gen: -H %q is not one \"Name: value\" header", *header)
	}
	res := generate(ctx, u, *conns, *dur, *timeout, *header)
	return json.NewEncoder(stdout).Encode(res)
}

// loopbackOnly refuses any target but 127.0.0.1 / ::1 / localhost.
func loopbackOnly(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to load %q: only loopback addresses are load-test targets", hostport)
}

type worker struct {
	lat      []int64 // nanoseconds
	requests int64
	errors   int64
	non2xx   int64
	bytes    int64
}

// generate drives u with n connections for d and returns what it measured.
func generate(ctx context.Context, u *url.URL, n int, d, timeout time.Duration, header string) Result {
	path := u.RequestURI()
	extra := ""
	if header != "" {
		extra = header + "\r\n"
	}
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: frontdesk-loadtest\r\nAccept: */*\r\n" + extra + "\r\n")
	workers := make([]*worker, n)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{lat: make([]int64, 0, 1<<14)}
		workers[i] = w
		wg.Go(func() { w.loop(ctx, u.Host, req, deadline, timeout) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	var all []int64
	res := Result{Tool: "go", Seconds: elapsed.Seconds()}
	for _, w := range workers {
		all = append(all, w.lat...)
		res.Requests += w.requests
		res.Errors += w.errors
		res.Non2xx += w.non2xx
		res.Bytes += w.bytes
	}
	slices.Sort(all)
	res.P50 = percentile(all, 50) / 1e3
	res.P90 = percentile(all, 90) / 1e3
	res.P99 = percentile(all, 99) / 1e3
	res.Max = percentile(all, 100) / 1e3
	if elapsed > 0 {
		res.RPS = float64(res.Requests) / elapsed.Seconds()
	}
	return res
}

// loop is one connection: request, whole response, next request, until the
// deadline; a broken connection is redialled.
func (w *worker) loop(ctx context.Context, host string, req []byte, deadline time.Time, timeout time.Duration) {
	var conn net.Conn
	var br *bufio.Reader
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if conn == nil {
			c, err := net.DialTimeout("tcp", host, timeout)
			if err != nil {
				w.errors++
				time.Sleep(10 * time.Millisecond) // no hot loop against a dead port
				continue
			}
			conn, br = c, bufio.NewReaderSize(c, 16<<10)
		}
		t0 := time.Now()
		conn.SetDeadline(t0.Add(timeout))
		ok := false
		if _, err := conn.Write(req); err == nil {
			if resp, err := http.ReadResponse(br, nil); err == nil {
				nb, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil {
					ok = true
					w.lat = append(w.lat, int64(time.Since(t0)))
					w.requests++
					w.bytes += nb
					if resp.StatusCode < 200 || resp.StatusCode > 399 {
						w.non2xx++
					}
					if resp.Close {
						conn.Close()
						conn = nil
					}
				}
			}
		}
		if !ok {
			w.errors++
			if conn != nil {
				conn.Close()
				conn = nil
			}
		}
	}
}

// percentile is the nearest-rank percentile of sorted values: the smallest
// value with at least p% of the values at or below it. Empty gives 0.
func percentile(sorted []int64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return float64(sorted[rank-1])
}

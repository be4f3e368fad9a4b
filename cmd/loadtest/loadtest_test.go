package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// wrk 4.1.0's report, as printed with --latency (this one against a server
// that answered 404).
const wrkSample = `Running 1s test @ http://127.0.0.1:45207/nonexistent
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   151.83ms  189.99ms 516.01ms   73.68%
    Req/Sec    19.25     25.34    60.00     75.00%
  Latency Distribution
     50%   47.01ms
     75%  387.83ms
     90%  500.94ms
     99%  516.01ms
  19 requests in 1.07s, 9.65KB read
  Non-2xx or 3xx responses: 19
Requests/sec:     17.74
Transfer/sec:      9.01KB
`

const wrkBusy = `Running 10s test @ http://127.0.0.1:8180/lt/checkout/c1?user=u1&skus=A1,B2,C3,D4
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.31ms    1.02ms  41.20ms   88.15%
    Req/Sec     7.01k   612.33     8.12k    71.50%
  Latency Distribution
     50%  812.00us
     75%    2.61ms
     90%    3.40ms
     99%    1.02s 
  139512 requests in 10.00s, 1.04GB read
  Socket errors: connect 0, read 2, write 0, timeout 3
Requests/sec:  13949.71
Transfer/sec:    106.51MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Tool: "wrk", Requests: 19, Non2xx: 19, Seconds: 1.07, RPS: 17.74,
		P50: 47010, P90: 500940, P99: 516010, Max: 516010, Bytes: 9881} // 9.65 KiB
	if !resultsClose(r, want) {
		t.Errorf("parseWrk =\n %+v\nwant\n %+v", r, want)
	}

	r, err = parseWrk(wrkBusy)
	if err != nil {
		t.Fatal(err)
	}
	want = Result{Tool: "wrk", Requests: 139512, Errors: 5, Seconds: 10, RPS: 13949.71,
		P50: 812, P90: 3400, P99: 1.02e6, Max: 41200, Bytes: 1116691496} // 1.04 GiB
	if !resultsClose(r, want) {
		t.Errorf("parseWrk =\n %+v\nwant\n %+v", r, want)
	}

	for _, bad := range []string{
		"unable to connect to 127.0.0.1:1 Connection refused\n",
		strings.Replace(wrkBusy, "Requests/sec:", "Reqs:", 1),
		strings.Replace(wrkBusy, "  Latency Distribution\n     50%  812.00us\n     75%    2.61ms\n     90%    3.40ms\n     99%    1.02s \n", "", 1),
		strings.Replace(wrkBusy, "812.00us", "812.00xs", 1),
	} {
		if _, err := parseWrk(bad); err == nil {
			t.Errorf("parseWrk accepted %q", bad)
		}
	}
}

func resultsClose(a, b Result) bool {
	close := func(x, y float64) bool { return math.Abs(x-y) <= 1e-6*math.Max(1, math.Abs(y)) }
	return a.Tool == b.Tool && a.Requests == b.Requests && a.Errors == b.Errors && a.Non2xx == b.Non2xx &&
		close(a.Seconds, b.Seconds) && close(a.RPS, b.RPS) && close(a.P50, b.P50) && close(a.P90, b.P90) &&
		close(a.P99, b.P99) && close(a.Max, b.Max) && a.Bytes == b.Bytes
}

func TestWrkUnits(t *testing.T) {
	for s, want := range map[string]float64{"0.00us": 0, "812.00us": 812, "1.50ms": 1500, "2.00s": 2e6, "1.50m": 90e6, "1.00h": 3600e6} {
		if got, err := wrkTimeUS(s); err != nil || math.Abs(got-want) > 1e-6 {
			t.Errorf("wrkTimeUS(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "ms", "1.0", "1.0d"} {
		if _, err := wrkTimeUS(s); err == nil {
			t.Errorf("wrkTimeUS(%q) accepted", s)
		}
	}
	for _, c := range []struct {
		s      string
		binary bool
		want   float64
	}{{"789.00", false, 789}, {"7.01k", false, 7010}, {"1.5M", false, 1.5e6}, {"9.65K", true, 9.65 * 1024}, {"2.00M", true, 2 << 20}} {
		if got, err := wrkNumber(c.s, c.binary); err != nil || math.Abs(got-c.want) > 1e-6 {
			t.Errorf("wrkNumber(%q, %v) = %v, %v; want %v", c.s, c.binary, got, err, c.want)
		}
	}
}

func TestWrkArgs(t *testing.T) {
	got := wrkArgs("http://127.0.0.1:1/x", 4, 8, 1500*time.Millisecond, "")
	want := []string{"-t", "4", "-c", "4", "-d", "2s", "--timeout", "5s", "--latency", "http://127.0.0.1:1/x"}
	if !slices.Equal(got, want) {
		t.Errorf("wrkArgs = %q, want %q", got, want)
	}
	got = wrkArgs("http://127.0.0.1:1/x", 4, 2, time.Second, "Authorization: Bearer t")
	want = []string{"-t", "2", "-c", "4", "-d", "1s", "--timeout", "5s", "--latency", "-H", "Authorization: Bearer t", "http://127.0.0.1:1/x"}
	if !slices.Equal(got, want) {
		t.Errorf("wrkArgs with a header = %q, want %q", got, want)
	}
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and a ')' of its own; utime 1500, stime 250.
	line := "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 8802 0 0 0 1500 250 0 0 20 0 9 0 1234567 1300000000 5000 18446744073709551615\n"
	u, s, err := parseStat([]byte(line))
	if err != nil || u != 1500 || s != 250 {
		t.Errorf("parseStat = %d, %d, %v; want 1500, 250", u, s, err)
	}
	for _, bad := range []string{"", "4242 (x S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 4242 4242 0 -1 4194560 8802 0 0 0 abc 250 0"} {
		if _, _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		if _, err := cpuTicks(os.Getpid()); err != nil {
			t.Errorf("cpuTicks(self): %v", err)
		}
		if kb, err := rssKB(os.Getpid(), "VmRSS"); err != nil || kb <= 0 {
			t.Errorf("rssKB(self) = %d, %v", kb, err)
		}
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tfrontdesk\nVmPeak:\t 1300000 kB\nVmHWM:\t   30120 kB\nVmRSS:\t   28760 kB\nThreads:\t9\n"
	if kb, err := parseStatusKB([]byte(status), "VmRSS"); err != nil || kb != 28760 {
		t.Errorf("VmRSS = %d, %v", kb, err)
	}
	if kb, err := parseStatusKB([]byte(status), "VmHWM"); err != nil || kb != 30120 {
		t.Errorf("VmHWM = %d, %v", kb, err)
	}
	if _, err := parseStatusKB([]byte(status), "VmSwap"); err == nil {
		t.Error("a missing field was found")
	}
}

func TestPercentile(t *testing.T) {
	var v []int64
	for i := int64(1); i <= 100; i++ {
		v = append(v, i)
	}
	for p, want := range map[float64]float64{0: 1, 1: 1, 50: 50, 90: 90, 99: 99, 99.9: 100, 100: 100} {
		if got := percentile(v, p); got != want {
			t.Errorf("percentile(1..100, %v) = %v, want %v", p, got, want)
		}
	}
	if got := percentile([]int64{7}, 50); got != 7 {
		t.Errorf("percentile([7], 50) = %v", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(nil, 50) = %v", got)
	}
	// Ten samples: the median is the 5th, p99 the 10th.
	v = []int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 1000}
	if percentile(v, 50) != 50 || percentile(v, 99) != 1000 {
		t.Errorf("percentile of 10: p50 %v p99 %v", percentile(v, 50), percentile(v, 99))
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:80", "127.1.2.3:1", "[::1]:8080", "localhost:9", "127.0.0.1"} {
		if err := loopbackOnly(ok); err != nil {
			t.Errorf("loopbackOnly(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"10.0.0.5:80", "example.com:80", "0.0.0.0:80", "[::]:80"} {
		if err := loopbackOnly(bad); err == nil {
			t.Errorf("loopbackOnly(%q) accepted", bad)
		}
	}
}

// TestFloorAndGen runs the floor against stand-in backends and drives it
// with the Go generator for a moment, all on loopback.
func TestFloorAndGen(t *testing.T) {
	backend := func(body string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, strings.ReplaceAll(body, "PATH", r.URL.RequestURI()))
		}))
	}
	user, cart, catalog := backend(`{"u":"PATH"}`), backend(`{"c":"PATH"}`), backend(`{"p":"PATH"}`)
	defer user.Close()
	defer cart.Close()
	defer catalog.Close()
	tr := floorTransport()
	defer tr.CloseIdleConnections()
	f := &floor{client: &http.Client{Transport: tr},
		fast: map[string]string{"user": user.URL, "cart": cart.URL, "catalog": catalog.URL}}
	fs := httptest.NewServer(f.mux())
	defer fs.Close()

	get := func(path string) (int, string) {
		resp, err := http.Get(fs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/checkout/c1?user=u1&skus=A1,B2"); code != 200 ||
		body != `{"user":{"u":"/users/u1"},"cart":{"c":"/carts/c1"},"products":{"p":"/products?skus=A1%2CB2"}}`+"\n" {
		t.Errorf("checkout: %d %s", code, body)
	}
	if code, body := get("/one/c1"); code != 200 || body != `{"cart":{"c":"/carts/c1"}}`+"\n" {
		t.Errorf("one: %d %s", code, body)
	}
	if code, _ := get("/slow/checkout/c1"); code != 404 {
		t.Errorf("slow without -slow-backends: %d", code)
	}
	var out map[string]any
	if _, body := get("/checkout/c1?user=u1&skus=A1"); json.Unmarshal([]byte(body), &out) != nil {
		t.Errorf("not JSON: %s", body)
	}
	http.DefaultClient.CloseIdleConnections()

	u, _ := url.Parse(fs.URL + "/checkout/c1?user=u1&skus=A1")
	res := generate(context.Background(), u, 2, 200*time.Millisecond, 2*time.Second, "")
	if res.Requests == 0 || res.Errors != 0 || res.Non2xx != 0 {
		t.Fatalf("generate: %+v", res)
	}
	// With -H, every request carries the header.
	var seen, without atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer t0k" {
			seen.Add(1)
		} else {
			without.Add(1)
		}
	}))
	hu, _ := url.Parse(hs.URL + "/x")
	if res := generate(context.Background(), hu, 1, 100*time.Millisecond, time.Second, "Authorization: Bearer t0k"); res.Requests == 0 || seen.Load() != res.Requests || without.Load() != 0 {
		t.Errorf("generate with a header: %+v, %d with it, %d without", res, seen.Load(), without.Load())
	}
	hs.Close()
	if !(res.P50 > 0 && res.P50 <= res.P90 && res.P90 <= res.P99 && res.P99 <= res.Max) || res.RPS <= 0 {
		t.Errorf("generate: percentiles out of order: %+v", res)
	}
	// A dead target is errors, not a hang.
	dead := httptest.NewServer(http.NotFoundHandler())
	du, _ := url.Parse(dead.URL + "/")
	dead.Close()
	res = generate(context.Background(), du, 1, 100*time.Millisecond, time.Second, "")
	if res.Requests != 0 || res.Errors == 0 {
		t.Errorf("generate against a closed port: %+v", res)
	}
}

// TestAddRound: rounds add up their requests and seconds, and average CPU
// per request and latency weighted by requests.
func TestAddRound(t *testing.T) {
	a := runResult{Key: "case2", CPUUS: map[string]float64{"gateway": 100}, RSSKB: 1,
		Result: Result{Requests: 100, Seconds: 1, P50: 1000, Max: 5000}}
	b := runResult{Key: "case2", CPUUS: map[string]float64{"gateway": 200}, RSSKB: 2,
		Result: Result{Requests: 300, Seconds: 1, P50: 2000, Max: 4000, Errors: 1}}
	sum := addRound(addRound(runResult{}, a, 0), b, 1)
	if sum.Result.Requests != 400 || sum.Result.Seconds != 2 || sum.Result.RPS != 200 || sum.Result.Errors != 1 {
		t.Errorf("counts: %+v", sum.Result)
	}
	if got := sum.CPUUS["gateway"]; got != 175 {
		t.Errorf("CPU per request %v, want 175 (weighted by requests)", got)
	}
	if sum.Result.P50 != 1750 || sum.Result.Max != 5000 || sum.RSSKB != 2 {
		t.Errorf("latency %v max %v RSS %v", sum.Result.P50, sum.Result.Max, sum.RSSKB)
	}
}

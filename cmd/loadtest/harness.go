package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	duration, warmup, soak, readyTimeout, slowDelay time.Duration
	conns, slowConns, threads, rounds               int
	gen, frontdesk, config, cases, jsonOut, profile string
	keepLogs                                        bool
}

// What every case asks for: cart c1 of user u1 and its four products.
const (
	cartID = "c1"
	query  = "?user=u1&skus=A1,B2,C3,D4"
)

// target is one thing to load: a URL, how many connections, and whose CPU
// time is the row's.
type target struct {
	key, label string
	url        string
	conns      int
	owner      *proc    // the process whose CPU per request the row reports
	keys       []string // top-level JSON members the answer must have
	header     string   // sent with every request ("Name: value"), or ""
}

// run is one measured load run.
type runResult struct {
	Key      string             `json:"key"`
	Label    string             `json:"label"`
	URL      string             `json:"url"`
	Conns    int                `json:"connections"`
	Result   Result             `json:"result"`
	CPUUS    map[string]float64 `json:"cpu_us_per_request"` // by process: gateway, floor, backends, backends-slow, generator
	RSSKB    int64              `json:"rss_kb"`             // of the row's process, after the run
	RespSize int                `json:"response_bytes"`
}

type harnessState struct {
	o       options
	out     io.Writer // the report
	log     io.Writer // progress
	clk     int64
	tool    string // "wrk" or "go"
	wrkPath string
	self    string
	ps      *procs
	client  *http.Client
	// every process whose CPU is recorded per run, by name
	watched []*proc
	// admin is each gateway process's admin listener (host:port)
	admin map[*proc]string
}

func harness(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	var o options
	fl := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.DurationVar(&o.duration, "duration", 10*time.Second, "measured duration of each run")
	fl.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each run (0: none)")
	fl.IntVar(&o.conns, "connections", 32, "connections for the direct row, the floor and every case but 5")
	fl.IntVar(&o.slowConns, "slow-connections", 4, "connections for case 5 and its direct and floor runs")
	fl.DurationVar(&o.slowDelay, "slow-delay", 5*time.Millisecond, "delay of every answer of the slow backends (case 5)")
	fl.IntVar(&o.threads, "threads", 2, "wrk threads (at most -connections)")
	fl.StringVar(&o.gen, "gen", "auto", "load generator: wrk, go, or auto (wrk when it is on PATH)")
	fl.StringVar(&o.frontdesk, "frontdesk", "", "frontdesk binary to run (default: go build ./cmd/frontdesk into a temporary folder)")
	fl.StringVar(&o.config, "config", "", "gateway.json of the cases (default testdata/loadtest/gateway.json of this module)")
	fl.StringVar(&o.cases, "cases", "1,2,3,4,5,6,7,8,9,10", "cases to run, comma-separated (1-10)")
	fl.DurationVar(&o.soak, "soak", 0, "after the cases, load case 3 this long (e.g. 60s), sampling the gateway's RSS, and compare its goroutines before and after")
	fl.DurationVar(&o.readyTimeout, "ready-timeout", 30*time.Second, "how long each started process may take to answer")
	fl.StringVar(&o.jsonOut, "json", "", "also write every run's measurements to this file")
	fl.IntVar(&o.rounds, "rounds", 3, "measure every case this many times, each for -duration/rounds, in turn (case, floor, case, ...), and add the rounds up: the machine's speed drifts, and interleaving lets a case and its floor see the same machine")
	fl.StringVar(&o.profile, "profile", "", "write a CPU profile of the gateway under each case's run to this folder (CASE.pprof, from the admin listener's /debug/pprof/profile)")
	fl.BoolVar(&o.keepLogs, "keep-logs", false, "keep the started processes' logs (they are kept anyway on failure)")
	if err := fl.Parse(args); err != nil {
		return exitCode(2)
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "loadtest: unexpected argument %q\n", fl.Arg(0))
		return exitCode(2)
	}
	if o.duration <= 0 || o.conns < 1 || o.slowConns < 1 || o.warmup < 0 || o.soak < 0 || o.rounds < 1 || o.rounds > 100 {
		fmt.Fprintln(stderr, "loadtest: -duration, -connections, -slow-connections and -rounds (at most 100) must be positive")
		return exitCode(2)
	}
	cases := map[int]bool{}
	for c := range strings.SplitSeq(o.cases, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 || n > 10 {
			fmt.Fprintf(stderr, "loadtest: -cases: %q is not a case from 1 to 10\n", c)
			return exitCode(2)
		}
		cases[n] = true
	}
	if o.soak > 0 {
		cases[3] = true
	}

	h := &harnessState{o: o, out: stdout, log: stderr,
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}}
	defer h.client.Transport.(*http.Transport).CloseIdleConnections()
	switch o.gen {
	case "auto", "wrk":
		if p, err := exec.LookPath("wrk"); err == nil {
			h.tool, h.wrkPath = "wrk", p
		} else if o.gen == "wrk" {
			return fmt.Errorf("-gen wrk: %v", err)
		} else {
			h.tool = "go"
		}
	case "go":
		h.tool = "go"
	default:
		fmt.Fprintf(stderr, "loadtest: -gen %q: want wrk, go or auto\n", o.gen)
		return exitCode(2)
	}
	if h.self, err = os.Executable(); err != nil {
		return err
	}
	var clkKnown bool
	h.clk, clkKnown = clockTicks()
	if !clkKnown {
		fmt.Fprintln(stderr, "loadtest: getconf CLK_TCK failed; assuming 100 ticks per second")
	}

	root := moduleRoot()
	if o.config == "" {
		if root == "" {
			return errors.New("not inside the frontdesk module: give -config")
		}
		o.config = filepath.Join(root, "testdata", "loadtest", "gateway.json")
		h.o.config = o.config
	}
	dir, err := os.MkdirTemp("", "frontdesk-loadtest-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil || o.keepLogs {
			os.Remove(filepath.Join(dir, "frontdesk")) // the binary it built, if it did
			fmt.Fprintf(stderr, "loadtest: logs of the started processes are in %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	h.ps = &procs{dir: dir}
	defer func() {
		fmt.Fprintln(stderr, "loadtest: stopping the started processes")
		h.ps.stopAll(5 * time.Second)
	}()

	fd := o.frontdesk
	if fd == "" {
		if root == "" {
			return errors.New("not inside the frontdesk module: give -frontdesk")
		}
		fd = filepath.Join(dir, "frontdesk")
		fmt.Fprintln(stderr, "loadtest: building frontdesk")
		bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		cmd := exec.CommandContext(bctx, "go", "build", "-o", fd, "./cmd/frontdesk")
		cmd.Dir, cmd.Stdout, cmd.Stderr = root, stderr, stderr
		err := cmd.Run()
		cancel()
		if err != nil {
			return fmt.Errorf("building frontdesk: %w", err)
		}
	} else if fd, err = filepath.Abs(fd); err != nil {
		return err
	}

	err = h.runAll(ctx, fd, cases)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "loadtest: interrupted")
		return exitCode(130)
	}
	return err
}

// moduleRoot is the folder of the frontdesk go.mod above the working
// directory, or "".
func moduleRoot() string {
	d, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.HasPrefix(string(b), "module frontdesk\n") {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

func (h *harnessState) runAll(ctx context.Context, fd string, cases map[int]bool) error {
	o := h.o
	// The processes.
	be, beURLs, err := h.startBackends(ctx, fd, "backends", 0)
	if err != nil {
		return err
	}
	slowURLs := beURLs
	var slowBe *proc
	if cases[5] {
		if slowBe, slowURLs, err = h.startBackends(ctx, fd, "backends-slow", o.slowDelay); err != nil {
			return err
		}
	}
	// The issuer of case 6, served whatever the cases, so the gateway's
	// JWKS fetch at start always succeeds.
	iss, err := startIssuer()
	if err != nil {
		return fmt.Errorf("the case 6 issuer: %w", err)
	}
	defer iss.close()
	env := []string{"LISTEN=127.0.0.1:0", "ADMIN_LISTEN=127.0.0.1:0", "LT_JWKS_URL=" + iss.url}
	for _, s := range []string{"user", "cart", "catalog", "inventory"} {
		env = append(env, strings.ToUpper(s)+"_URL="+beURLs[s], "SLOW_"+strings.ToUpper(s)+"_URL="+slowURLs[s])
	}
	gw, gwURL, adminAddr, err := h.startGateway(ctx, "gateway", env, fd, o.config)
	if err != nil {
		return err
	}
	h.admin = map[*proc]string{gw: adminAddr}
	// Case 9's gateway: the same cases with the access log on (to a file,
	// as the harness keeps every process's log), so case 2 on the first
	// gateway is the same checkout with the edge off.
	var gwEdge *proc
	gwEdgeURL := ""
	if cases[9] || cases[10] {
		edgeConfig := filepath.Join(filepath.Dir(o.config), "gateway-edge.json")
		var edgeAdmin string
		if gwEdge, gwEdgeURL, edgeAdmin, err = h.startGateway(ctx, "gateway-edge", env, fd, edgeConfig); err != nil {
			return err
		}
		h.admin[gwEdge] = edgeAdmin
	}
	adminURL := "http://" + adminAddr
	fl, err := h.ps.start("floor", nil, h.self, "floor", "-addr", "127.0.0.1:0",
		"-backends", svcList(beURLs), "-slow-backends", svcList(slowURLs))
	if err != nil {
		return err
	}
	floorURL, err := fl.waitLine(ctx, o.readyTimeout, func(l string) (string, bool) {
		return strings.CutPrefix(l, "floor listening on ")
	})
	if err != nil {
		return err
	}
	for _, u := range []string{adminURL + "/readyz", floorURL + "/healthz"} {
		if err := pollReady(ctx, h.client, u, o.readyTimeout); err != nil {
			return err
		}
	}
	h.watched = []*proc{gw, fl, be}
	if gwEdge != nil {
		h.watched = append(h.watched, gwEdge)
	}
	if slowBe != nil {
		h.watched = append(h.watched, slowBe)
	}
	fmt.Fprintf(h.log, "loadtest: gateway %s (pid %d, admin %s), floor %s (pid %d), backends pid %d",
		gwURL, gw.pid(), adminAddr, floorURL, fl.pid(), be.pid())
	if slowBe != nil {
		fmt.Fprintf(h.log, ", slow backends pid %d", slowBe.pid())
	}
	fmt.Fprintln(h.log)

	// The runs, in an order that puts each case next to its floor.
	checkout := []string{"user", "cart", "products"}
	var ts []target
	ts = append(ts, target{"direct", "direct: cart backend", beURLs["cart"] + "/carts/" + cartID, o.conns, be, []string{"id", "items"}, ""})
	if cases[1] {
		ts = append(ts,
			target{"floor1", "floor, 1 call", floorURL + "/one/" + cartID, o.conns, fl, []string{"cart"}, ""},
			target{"case1", "1 one backend, passthrough", gwURL + "/lt/one/" + cartID, o.conns, gw, []string{"cart"}, ""})
	}
	if cases[2] || cases[3] || cases[6] || cases[7] || cases[8] || cases[9] || cases[10] {
		ts = append(ts, target{"floor3", "floor, 3 calls", floorURL + "/checkout/" + cartID + query, o.conns, fl, checkout, ""})
	}
	if cases[2] || cases[9] || cases[10] {
		ts = append(ts, target{"case2", "2 checkout, 3 JSON, default", gwURL + "/lt/checkout/" + cartID + query, o.conns, gw, checkout, ""})
	}
	if cases[6] {
		ts = append(ts, target{"case6", "6 case 2 behind JWT (RS256)", gwURL + "/lt/checkout-jwt/" + cartID + query, o.conns, gw, checkout,
			"Authorization: Bearer " + iss.token})
	}
	if cases[7] {
		ts = append(ts, target{"case7", "7 case 2 behind a rate limit", gwURL + "/lt/checkout-limited/" + cartID + query, o.conns, gw, checkout, ""})
	}
	if cases[10] {
		ts = append(ts, target{"case10", "10 case 2, access log on", gwEdgeURL + "/lt/checkout/" + cartID + query, o.conns, gwEdge, checkout, ""})
	}
	if cases[9] {
		ts = append(ts, target{"case9", "9 case 2, JWT+limit+log", gwEdgeURL + "/lt/checkout-edge/" + cartID + query, o.conns, gwEdge, checkout,
			"Authorization: Bearer " + iss.token})
	}
	if cases[8] {
		ts = append(ts, target{"case8", "8 case 2, a cache hit", gwURL + "/lt/checkout-cached/" + cartID + query, o.conns, gw, checkout, ""})
	}
	if cases[3] {
		ts = append(ts, target{"case3", "3 checkout, 3 JSON, template", gwURL + "/lt/checkout-template/" + cartID + query, o.conns, gw,
			[]string{"customer", "loyalty_points", "lines", "products", "summary"}, ""})
	}
	if cases[4] {
		ts = append(ts, target{"floor4", "floor, 4 calls (XML)", floorURL + "/checkout-xml/" + cartID + query, o.conns, fl,
			[]string{"user", "cart", "products", "stock"}, ""})
		ts = append(ts, target{"case4", "4 checkout + XML inventory", gwURL + "/lt/checkout-xml/" + cartID + query, o.conns, gw,
			[]string{"user", "cart", "products", "stock"}, ""})
	}
	if cases[5] {
		ts = append(ts,
			target{"direct5", "direct: 5 ms backend", slowURLs["cart"] + "/carts/" + cartID, o.slowConns, slowBe, []string{"id", "items"}, ""},
			target{"floor5", "floor, 3 calls × 5 ms", floorURL + "/slow/checkout/" + cartID + query, o.slowConns, fl, checkout, ""},
			target{"case5", "5 3 calls × 5 ms", gwURL + "/lt/slow/" + cartID + query, o.slowConns, gw, checkout, ""})
	}
	// Every answer is checked once before any load.
	sizes := map[string]int{}
	for _, t := range ts {
		n, err := h.check(ctx, t)
		if err != nil {
			return err
		}
		sizes[t.key] = n
	}

	per := o.duration / time.Duration(o.rounds)
	perRun := o.warmup + o.duration + time.Duration(o.rounds)*300*time.Millisecond
	fmt.Fprintf(h.log, "loadtest: %d runs of %s in %d rounds (+%s warm-up) with %s; about %s\n",
		len(ts), o.duration, o.rounds, o.warmup, h.tool, (time.Duration(len(ts))*perRun + o.soak).Round(time.Second))
	runs := make([]runResult, len(ts))
	for round := range o.rounds {
		for i, t := range ts {
			fmt.Fprintf(h.log, "loadtest: round %d/%d %-30s %3d connections  %s\n", round+1, o.rounds, t.label, t.conns, t.url)
			r, err := h.measure(ctx, t, per, round == 0, round)
			if err != nil {
				return fmt.Errorf("%s: %w", t.label, err)
			}
			r.RespSize = sizes[t.key]
			runs[i] = addRound(runs[i], r, round)
		}
	}
	var soak *soakResult
	if o.soak > 0 {
		t := ts[slices.IndexFunc(ts, func(t target) bool { return t.key == "case3" })]
		if soak, err = h.soak(ctx, t, adminURL); err != nil {
			return fmt.Errorf("soak: %w", err)
		}
	}
	h.report(runs, soak)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(map[string]any{"runs": runs, "soak": soak, "tool": h.tool,
			"duration_s": o.duration.Seconds(), "cpus": runtime.NumCPU(), "clk_tck": h.clk}, "", "  ")
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	for _, r := range runs {
		if r.Result.Errors > 0 || r.Result.Non2xx > 0 {
			return fmt.Errorf("%s had %d socket errors and %d non-2xx answers: its numbers are not valid", r.Label, r.Result.Errors, r.Result.Non2xx)
		}
	}
	return nil
}

func svcList(urls map[string]string) string {
	s := "user=" + urls["user"] + ",cart=" + urls["cart"] + ",catalog=" + urls["catalog"]
	if urls["inventory"] != "" {
		s += ",inventory=" + urls["inventory"]
	}
	return s
}

// startBackends starts `frontdesk demo-backends` on free ports and reads
// the URLs it prints.
func (h *harnessState) startBackends(ctx context.Context, fd, name string, delay time.Duration) (*proc, map[string]string, error) {
	p, err := h.ps.start(name, nil, fd, "demo-backends", "-addr", "127.0.0.1:0", "-delay", delay.String())
	if err != nil {
		return nil, nil, err
	}
	if _, err := p.waitLine(ctx, h.o.readyTimeout, func(l string) (string, bool) { return "", l == "demo backends ready" }); err != nil {
		return nil, nil, err
	}
	urls := map[string]string{}
	p.mu.Lock()
	for _, l := range p.lines {
		if f := strings.Fields(l); len(f) >= 2 && strings.HasPrefix(f[1], "http://127.0.0.1:") {
			urls[f[0]] = f[1]
		}
	}
	p.mu.Unlock()
	for _, s := range []string{"user", "cart", "catalog", "inventory"} {
		if urls[s] == "" {
			return nil, nil, fmt.Errorf("%s printed no URL for %s:\n%s", name, s, p.tail(10))
		}
	}
	if err := pollReady(ctx, h.client, urls["user"]+"/users/u1", h.o.readyTimeout); err != nil {
		return nil, nil, err
	}
	return p, urls, nil
}

// check GETs t once and makes sure it answers 200 with the JSON members
// the case is about, so no run measures error pages.
func (h *harnessState) check(ctx context.Context, t target) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if name, value, ok := strings.Cut(t.header, ": "); ok {
		req.Header.Set(name, value)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", t.label, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", t.label, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: GET %s answered %d: %.300s", t.label, t.url, resp.StatusCode, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return 0, fmt.Errorf("%s: GET %s: not a JSON object: %v", t.label, t.url, err)
	}
	for _, k := range t.keys {
		if m[k] == nil {
			return 0, fmt.Errorf("%s: GET %s: no %q in %.300s", t.label, t.url, k, b)
		}
	}
	return len(b), nil
}

// measure warms t up, then loads it for the run's duration with CPU
// snapshots of every watched process on both sides.
// addRound adds round r of a run to the rounds before it in sum:
// requests, errors, bytes and seconds add up, CPU per request and the
// latency percentiles are averaged weighted by requests (an approximation
// of the whole run's percentiles), the maximum is the largest, RSS the
// last.
func addRound(sum, r runResult, round int) runResult {
	if round == 0 {
		return r
	}
	a, b := float64(sum.Result.Requests), float64(r.Result.Requests)
	if a+b == 0 {
		return sum
	}
	avg := func(x, y float64) float64 { return (x*a + y*b) / (a + b) }
	for name, v := range r.CPUUS {
		sum.CPUUS[name] = avg(sum.CPUUS[name], v)
	}
	s, n := &sum.Result, r.Result
	s.P50, s.P90, s.P99 = avg(s.P50, n.P50), avg(s.P90, n.P90), avg(s.P99, n.P99)
	s.Max = max(s.Max, n.Max)
	s.Requests += n.Requests
	s.Errors += n.Errors
	s.Non2xx += n.Non2xx
	s.Bytes += n.Bytes
	s.Seconds += n.Seconds
	if s.Seconds > 0 {
		s.RPS = float64(s.Requests) / s.Seconds
	}
	if r.RSSKB > 0 {
		sum.RSSKB = r.RSSKB
	}
	return sum
}

func (h *harnessState) measure(ctx context.Context, t target, d time.Duration, warm bool, round int) (runResult, error) {
	if h.o.warmup > 0 && warm {
		if _, _, err := h.load(ctx, t.url, t.conns, h.o.warmup, t.header); err != nil {
			return runResult{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	if err := sleep(ctx, 300*time.Millisecond); err != nil {
		return runResult{}, err
	}
	before, err := h.snapshot()
	if err != nil {
		return runResult{}, err
	}
	profiled := h.profile(ctx, t, d, round)
	res, genCPU, err := h.load(ctx, t.url, t.conns, d, t.header)
	if err != nil {
		return runResult{}, err
	}
	if err := <-profiled; err != nil {
		fmt.Fprintf(h.log, "loadtest: %s: no profile: %v\n", t.label, err)
	}
	after, err := h.snapshot()
	if err != nil {
		return runResult{}, err
	}
	r := runResult{Key: t.key, Label: t.label, URL: t.url, Conns: t.conns, Result: res, CPUUS: map[string]float64{}}
	if res.Requests > 0 {
		for name, a := range after {
			r.CPUUS[name] = float64(a-before[name]) * 1e6 / float64(h.clk) / float64(res.Requests)
		}
		r.CPUUS["generator"] = float64(genCPU.Microseconds()) / float64(res.Requests)
	}
	if kb, err := rssKB(t.owner.pid(), "VmRSS"); err == nil {
		r.RSSKB = kb
	}
	return r, nil
}

// profile, with -profile, fetches a CPU profile of t's gateway over most
// of the run about to start and writes it to the folder as KEY-rROUND.pprof
// (go tool pprof adds up the rounds given together); the
// channel gives its outcome once the profile is written (at once when
// there is nothing to profile). Sampling costs the gateway about 1%.
func (h *harnessState) profile(ctx context.Context, t target, d time.Duration, round int) <-chan error {
	done := make(chan error, 1)
	admin, ok := h.admin[t.owner]
	if h.o.profile == "" || !ok {
		done <- nil
		return done
	}
	secs := max(1, int((d - 500*time.Millisecond).Seconds()))
	go func() {
		done <- func() error {
			pctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+30*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(pctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, secs), nil)
			resp, err := (&http.Client{Transport: h.client.Transport}).Do(req) // bounded by pctx, not the 5 s of h.client
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("admin answered %s", resp.Status)
			}
			b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
			if err != nil {
				return err
			}
			if err := os.MkdirAll(h.o.profile, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(h.o.profile, fmt.Sprintf("%s-r%d.pprof", t.key, round+1)), b, 0o644)
		}()
	}()
	return done
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// snapshot reads the CPU ticks of every watched process.
func (h *harnessState) snapshot() (map[string]uint64, error) {
	m := map[string]uint64{}
	for _, p := range h.watched {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s (pid %d) exited (%v):\n%s", p.name, p.pid(), p.waitErr, p.tail(20))
		default:
		}
		n, err := cpuTicks(p.pid())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		m[p.name] = n
	}
	return m, nil
}

// load runs the load generator, in a process of its own, and returns what
// it measured and the CPU time it took itself.
func (h *harnessState) load(ctx context.Context, url string, conns int, d time.Duration, header string) (Result, time.Duration, error) {
	var argv []string
	if h.tool == "wrk" {
		argv = append([]string{h.wrkPath}, wrkArgs(url, conns, h.o.threads, d, header)...)
	} else {
		argv = []string{h.self, "gen", "-url", url, "-c", strconv.Itoa(conns), "-d", d.String(), "-H", header}
	}
	lctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(lctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, 0, ctx.Err()
		}
		return Result{}, 0, fmt.Errorf("%s: %v\n%s%s", filepath.Base(argv[0]), err, out, stderr.String())
	}
	var cpu time.Duration
	if ps := cmd.ProcessState; ps != nil {
		cpu = ps.UserTime() + ps.SystemTime()
	}
	var res Result
	if h.tool == "wrk" {
		res, err = parseWrk(string(out))
	} else {
		err = json.Unmarshal(out, &res)
	}
	if err != nil {
		return res, cpu, fmt.Errorf("reading %s's output: %v\n%s", h.tool, err, out)
	}
	return res, cpu, nil
}

type soakResult struct {
	Duration         float64 `json:"duration_s"`
	Result           Result  `json:"result"`
	RSSKB            []int64 `json:"rss_kb"` // sampled during the run
	Every            float64 `json:"sample_every_s"`
	GoroutinesBefore int     `json:"goroutines_before"`
	GoroutinesAfter  int     `json:"goroutines_after"`
	HWMKB            int64   `json:"vm_hwm_kb"`
}

// soak loads t for -soak, sampling the gateway's RSS, and reads its
// goroutine count from the admin listener before and after (after a second
// of idle, so finished requests' goroutines are gone).
func (h *harnessState) soak(ctx context.Context, t target, adminURL string) (*soakResult, error) {
	s := &soakResult{Duration: h.o.soak.Seconds()}
	var err error
	if s.GoroutinesBefore, err = h.goroutines(ctx, adminURL); err != nil {
		return nil, err
	}
	every := max(time.Second, h.o.soak/12)
	s.Every = every.Seconds()
	fmt.Fprintf(h.log, "loadtest: soak: %s for %s, RSS every %s\n", t.label, h.o.soak, every)
	done := make(chan struct{})
	sampled := make(chan []int64)
	go func() {
		var rss []int64
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if kb, err := rssKB(t.owner.pid(), "VmRSS"); err == nil {
				rss = append(rss, kb)
			}
			select {
			case <-done:
				sampled <- rss
				return
			case <-tick.C:
			}
		}
	}()
	s.Result, _, err = h.load(ctx, t.url, t.conns, h.o.soak, t.header)
	close(done)
	s.RSSKB = <-sampled
	if kb, err := rssKB(t.owner.pid(), "VmRSS"); err == nil {
		s.RSSKB = append(s.RSSKB, kb)
	}
	if err != nil {
		return nil, err
	}
	if err := sleep(ctx, time.Second); err != nil {
		return nil, err
	}
	if s.GoroutinesAfter, err = h.goroutines(ctx, adminURL); err != nil {
		return nil, err
	}
	s.HWMKB, _ = rssKB(t.owner.pid(), "VmHWM")
	return s, nil
}

func (h *harnessState) goroutines(ctx context.Context, adminURL string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, adminURL+"/goroutines", nil)
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s/goroutines answered %d (a frontdesk without the admin /goroutines endpoint?)", adminURL, resp.StatusCode)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// startGateway starts frontdesk serve with config as the process name and
// waits for its public and admin addresses.
func (h *harnessState) startGateway(ctx context.Context, name string, env []string, fd, config string) (*proc, string, string, error) {
	o := h.o
	gw, err := h.ps.start(name, env, fd, "serve", "-c", config)
	if err != nil {
		return nil, "", "", err
	}
	gwURL, err := gw.waitLine(ctx, o.readyTimeout, func(l string) (string, bool) {
		rest, ok := strings.CutPrefix(l, "frontdesk listening on ")
		if !ok {
			return "", false
		}
		return strings.Fields(rest)[0], true
	})
	if err != nil {
		return nil, "", "", err
	}
	// The admin address, from its log line in either format.
	adminAddr, err := gw.waitLine(ctx, o.readyTimeout, func(l string) (string, bool) {
		if !strings.Contains(l, "admin listening") {
			return "", false
		}
		a := loopbackAddr.FindString(l)
		return a, a != ""
	})
	if err != nil {
		return nil, "", "", err
	}
	if err := pollReady(ctx, h.client, "http://"+adminAddr+"/readyz", o.readyTimeout); err != nil {
		return nil, "", "", err
	}
	return gw, gwURL, adminAddr, nil
}

var loopbackAddr = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)

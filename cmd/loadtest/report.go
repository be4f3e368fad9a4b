package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// floorOf says which floor run each case is compared with, and directOf
// which direct run.
var (
	floorOf = map[string]string{"case1": "floor1", "case2": "floor3", "case3": "floor3", "case4": "floor4", "case5": "floor5",
		"case6": "floor3", "case7": "floor3", "case8": "floor1", "case9": "floor3", "case10": "floor3"}
	directOf = map[string]string{"case1": "direct", "case2": "direct", "case3": "direct", "case4": "direct", "case5": "direct5",
		"case6": "direct", "case7": "direct", "case8": "direct", "case9": "direct", "case10": "direct",
		"floor1": "direct", "floor3": "direct", "floor4": "direct", "floor5": "direct5"}
)

// targets are issue 14's: the most CPU per request a case may cost, as a
// multiple of the CPU per request of the row it is held against (a floor,
// or for case 9 case 2 on the gateway with the edge off).
var targets = map[string]struct {
	ratio   float64
	against string
}{
	"case1": {1.10, "floor1"}, "case2": {1.10, "floor3"}, "case3": {1.30, "floor3"},
	"case4": {1.25, "floor4"}, "case8": {1.00, "floor1"}, "case9": {1.15, "case2"},
}

// case3RSSTargetMiB bounds the gateway's RSS after the template case.
const case3RSSTargetMiB = 100

// case 5's target: the gateway's p50 at most this much over one direct call's.
const case5TargetUS = 500

func (h *harnessState) report(runs []runResult, soak *soakResult) {
	w := h.out
	byKey := map[string]*runResult{}
	for i := range runs {
		byKey[runs[i].Key] = &runs[i]
	}
	short := h.o.duration < 10*time.Second
	fmt.Fprintln(w)
	title := fmt.Sprintf("Frontdesk load test: %s per run in %d interleaved rounds, %d connections (case 5: %d), generator %s", h.o.duration, h.o.rounds, h.o.conns, h.o.slowConns, h.tool)
	if short {
		title += "  [SHORT RUN: NOISY, NOT A MEASUREMENT]"
	}
	fmt.Fprintln(w, title)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-30s %5s %8s %8s %8s %10s %10s %7s %-24s %7s  %s\n",
		"case", "conns", "req/s", "p50", "p99", "CPU µs/req", "floor µs", "×floor", "target", "RSS MiB", "p50 vs direct")
	fmt.Fprintln(w, strings.Repeat("-", 147))
	var verdicts []string
	for _, r := range runs {
		cpu := r.CPUUS[ownerName(r.Key)]
		floorCol, ratioCol, directCol := "-", "-", "-"
		if f := byKey[floorOf[r.Key]]; f != nil {
			fc := f.CPUUS["floor"]
			floorCol = fmt.Sprintf("%.0f", fc)
			if fc > 0 {
				ratioCol = fmt.Sprintf("%.2f", cpu/fc)
			}
		}
		if d := byKey[directOf[r.Key]]; d != nil && d.Result.P50 > 0 {
			directCol = fmt.Sprintf("×%.2f (%+.2f ms)", r.Result.P50/d.Result.P50, (r.Result.P50-d.Result.P50)/1e3)
			if r.Key == "case5" {
				diff := r.Result.P50 - d.Result.P50
				ok := "met"
				if diff > case5TargetUS {
					ok = "MISSED"
				}
				directCol += fmt.Sprintf(" target ≤ +%.1f ms: %s", case5TargetUS/1e3, ok)
				verdicts = append(verdicts, fmt.Sprintf("case 5: p50 %s vs direct %s, %+.2f ms (target ≤ +0.5 ms: %s)",
					ms(r.Result.P50), ms(d.Result.P50), diff/1e3, ok))
			}
		}
		targetCol := "-"
		if tg, ok := targets[r.Key]; ok {
			if a := byKey[tg.against]; a != nil && a.CPUUS[ownerName(a.Key)] > 0 {
				ratio := cpu / a.CPUUS[ownerName(a.Key)]
				ok := "met"
				if ratio > tg.ratio {
					ok = "MISSED"
				}
				targetCol = fmt.Sprintf("%.2f ≤%.2f %s %s", ratio, tg.ratio, againstName(tg.against), ok)
				verdicts = append(verdicts, fmt.Sprintf("%s: %.2f× %s, target ≤ %.2f×: %s", r.Label, ratio, againstName(tg.against), tg.ratio, ok))
			}
		}
		rss := "-"
		if r.RSSKB > 0 {
			rss = fmt.Sprintf("%.1f", float64(r.RSSKB)/1024)
			if r.Key == "case3" {
				ok := "met"
				if float64(r.RSSKB)/1024 >= case3RSSTargetMiB {
					ok = "MISSED"
				}
				verdicts = append(verdicts, fmt.Sprintf("%s: RSS %.1f MiB at %d connections, target < %d MiB: %s", r.Label, float64(r.RSSKB)/1024, r.Conns, case3RSSTargetMiB, ok))
			}
		}
		label := r.Label
		if r.Result.Errors > 0 || r.Result.Non2xx > 0 {
			label += " [ERRORS]"
		}
		fmt.Fprintf(w, "%-30s %5d %8.0f %8s %8s %10.0f %10s %7s %-24s %7s  %s\n",
			label, r.Conns, r.Result.RPS, ms(r.Result.P50), ms(r.Result.P99), cpu, floorCol, ratioCol, targetCol, rss, directCol)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CPU µs/req: the row's own process (gateway; floor; demo backends for direct rows), utime+stime from /proc/PID/stat")
	fmt.Fprintln(w, "  over the measured run, divided by the requests completed. ×floor: the gateway's CPU per request over the floor's")
	fmt.Fprintln(w, "  for the same job (cases 1 and 8: floor 1 call; cases 2, 3, 6, 7, 9: floor 3 calls; case 4: floor 4 calls, the fourth")
	fmt.Fprintln(w, "  the XML inventory read with encoding/xml into typed structs and written with encoding/json; case 5: floor 3 calls × 5 ms).")
	fmt.Fprintln(w, "  target: issue 14's bound on the CPU ratio (case 9: held against case 2, the same checkout with JWT, limit and access log")
	fmt.Fprintln(w, "  off; case 8, a cache hit: against the floor's passthrough). RSS: VmRSS after the run.")
	if c2, c10 := byKey["case2"], byKey["case10"]; c2 != nil && c10 != nil {
		fmt.Fprintf(w, "Case 10 is case 2 with the access log on (JSON, to the harness's log file): %.0f µs/req, %.0f off: %+.0f µs/req.\n",
			c10.CPUUS["gateway-edge"], c2.CPUUS["gateway"], c10.CPUUS["gateway-edge"]-c2.CPUUS["gateway"])
	}
	if c2, c6 := byKey["case2"], byKey["case6"]; c2 != nil && c6 != nil {
		fmt.Fprintf(w, "Case 6 is case 2 behind JWT (RS256, one token for every request, as a hot client: verified once, then cached):\n")
		fmt.Fprintf(w, "  %.0f µs/req with JWT, %.0f without: %+.0f µs/req.\n", c6.CPUUS["gateway"], c2.CPUUS["gateway"], c6.CPUUS["gateway"]-c2.CPUUS["gateway"])
	}
	if len(verdicts) > 0 {
		fmt.Fprintln(w, "Targets:")
	}
	for _, v := range verdicts {
		fmt.Fprintln(w, "  "+v)
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every run, CPU µs per request of each process:")
	fmt.Fprintf(w, "%-30s %9s %6s %6s %8s %8s %8s %8s %8s %8s %8s %8s %9s\n",
		"run", "requests", "errors", "non2xx", "p90", "max", "resp B", "gateway", "floor", "backends", "slow-be", "generator", "secs")
	for _, r := range runs {
		fmt.Fprintf(w, "%-30s %9d %6d %6d %8s %8s %8d %8s %8s %8s %8s %8s %9.2f\n",
			r.Label, r.Result.Requests, r.Result.Errors, r.Result.Non2xx, ms(r.Result.P90), ms(r.Result.Max), r.RespSize,
			num(r.CPUUS, "gateway"), num(r.CPUUS, "floor"), num(r.CPUUS, "backends"), num(r.CPUUS, "backends-slow"), num(r.CPUUS, "generator"),
			r.Result.Seconds)
	}
	if soak != nil {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "Soak: case 3 for %.0fs: %d requests (%.0f req/s, p50 %s, p99 %s, %d errors, %d non-2xx)\n",
			soak.Duration, soak.Result.Requests, soak.Result.RPS, ms(soak.Result.P50), ms(soak.Result.P99), soak.Result.Errors, soak.Result.Non2xx)
		var rs []string
		for _, kb := range soak.RSSKB {
			rs = append(rs, fmt.Sprintf("%.1f", float64(kb)/1024))
		}
		fmt.Fprintf(w, "  gateway RSS MiB every %.0fs: %s (peak VmHWM %.1f)\n", soak.Every, strings.Join(rs, " "), float64(soak.HWMKB)/1024)
		fmt.Fprintf(w, "  gateway goroutines: %d before, %d after (1s idle; pooled backend connections keep 2 each)\n",
			soak.GoroutinesBefore, soak.GoroutinesAfter)
	}

	fmt.Fprintln(w)
	res := ""
	if len(runs) > 0 && runs[0].Result.Requests > 0 {
		res = fmt.Sprintf("; at %d requests a tick is %.1f µs/req", runs[0].Result.Requests,
			1e6/float64(h.clk)/float64(runs[0].Result.Requests))
	}
	fmt.Fprintf(w, "Machine: %d CPUs. The load generator (%s), the demo backends, the floor and the gateway all share them,\n", runtime.NumCPU(), h.tool)
	fmt.Fprintf(w, "  so latency and req/s include contention with the generator; CPU per request is each process's own. Clock: %d ticks/s%s.\n", h.clk, res)
	fmt.Fprintln(w, "  Everything is on 127.0.0.1.")
	if short {
		fmt.Fprintf(w, "  Runs of %s are too short for stable numbers: use the default 10s on a quiet machine.\n", h.o.duration)
	}
}

// againstName says in a few words what a target holds a case against.
func againstName(key string) string {
	switch key {
	case "floor1":
		return "floor 1 call"
	case "floor3":
		return "floor 3 calls"
	case "floor4":
		return "floor 4 calls"
	case "case2":
		return "case 2"
	}
	return key
}

func ownerName(key string) string {
	switch {
	case key == "case9", key == "case10":
		return "gateway-edge"
	case key == "direct":
		return "backends"
	case key == "direct5":
		return "backends-slow"
	case strings.HasPrefix(key, "floor"):
		return "floor"
	}
	return "gateway"
}

// ms formats microseconds as milliseconds.
func ms(us float64) string { return fmt.Sprintf("%.2fms", us/1e3) }

func num(m map[string]float64, k string) string {
	v, ok := m[k]
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

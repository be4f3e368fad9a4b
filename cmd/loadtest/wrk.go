package main

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkArgs is a Lua-free wrk invocation with the latency distribution,
// sending header ("Name: value") with every request when it is not "".
// wrk takes whole seconds.
func wrkArgs(target string, conns, threads int, d time.Duration, header string) []string {
	secs := max(1, int(math.Ceil(d.Seconds())))
	threads = max(1, min(threads, conns))
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", strconv.Itoa(secs) + "s",
		"--timeout", "5s", "--latency"}
	if header != "" {
		args = append(args, "-H", header)
	}
	return append(args, target)
}

var (
	wrkLatencyRe  = regexp.MustCompile(`(?m)^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)`)
	wrkPctRe      = regexp.MustCompile(`(?m)^\s*(\d+(?:\.\d+)?)%\s+(\S+)\s*$`)
	wrkRequestsRe = regexp.MustCompile(`(?m)^\s*(\d+) requests in (\S+), (\S+)B read`)
	wrkSocketRe   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xxRe   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkRPSRe      = regexp.MustCompile(`(?m)^Requests/sec:\s+(\S+)`)
)

// parseWrk reads wrk's text report (run with --latency).
func parseWrk(out string) (Result, error) {
	r := Result{Tool: "wrk"}
	m := wrkRequestsRe.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk output has no \"N requests in T\" line")
	}
	r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	secs, err := wrkTimeUS(m[2])
	if err != nil {
		return r, err
	}
	r.Seconds = secs / 1e6
	if b, err := wrkNumber(m[3], true); err == nil {
		r.Bytes = int64(b)
	}
	m = wrkRPSRe.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk output has no Requests/sec line")
	}
	if r.RPS, err = strconv.ParseFloat(m[1], 64); err != nil {
		return r, fmt.Errorf("wrk Requests/sec %q: %v", m[1], err)
	}
	if m := wrkLatencyRe.FindStringSubmatch(out); m != nil {
		if r.Max, err = wrkTimeUS(m[3]); err != nil {
			return r, err
		}
	}
	pcts := wrkPctRe.FindAllStringSubmatch(out, -1)
	if len(pcts) == 0 {
		return r, fmt.Errorf("wrk output has no latency distribution (run it with --latency)")
	}
	for _, p := range pcts {
		v, err := wrkTimeUS(p[2])
		if err != nil {
			return r, err
		}
		switch p[1] {
		case "50", "50.000":
			r.P50 = v
		case "90", "90.000":
			r.P90 = v
		case "99", "99.000":
			r.P99 = v
		}
	}
	if r.P50 == 0 && r.P99 == 0 {
		return r, fmt.Errorf("wrk latency distribution has no 50%% or 99%% line")
	}
	if m := wrkSocketRe.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.Errors += n
		}
	}
	if m := wrkNon2xxRe.FindStringSubmatch(out); m != nil {
		r.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r, nil
}

// wrkTimeUS turns wrk's "812.00us", "1.23ms", "2.00s", "1.50m" or "1.00h"
// into microseconds.
func wrkTimeUS(s string) (float64, error) {
	units := []struct {
		suffix string
		us     float64
	}{{"us", 1}, {"ms", 1e3}, {"s", 1e6}, {"m", 60e6}, {"h", 3600e6}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				break
			}
			return v * u.us, nil
		}
	}
	return 0, fmt.Errorf("wrk time %q: unknown format", s)
}

// wrkNumber turns wrk's "789.00", "1.23k" or "4.56M" into a number. Byte
// counts ("12.34M" of "12.34MB read") are binary: K, M, G, T are powers of
// 1024; other counts are decimal.
func wrkNumber(s string, binary bool) (float64, error) {
	mult := 1.0
	for i, suffix := range []string{"K", "M", "G", "T", "P"} {
		if binary {
			if num, ok := strings.CutSuffix(s, suffix); ok {
				s, mult = num, math.Pow(1024, float64(i+1))
				break
			}
			continue
		}
		if num, ok := strings.CutSuffix(s, strings.Replace(suffix, "K", "k", 1)); ok {
			s, mult = num, math.Pow(1000, float64(i+1))
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("wrk number %q: %v", s, err)
	}
	return v * mult, nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"frontdesk/cmd/frontdesk/demo"
)

// demoBackends runs the demo services alone, in their own process, until
// ctx ends (SIGINT or SIGTERM from main). The load-test harness starts it
// so the backends' CPU time is not the gateway's.
func demoBackends(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("demo-backends", flag.ContinueOnError)
	fl.SetOutput(stderr)
	addr := fl.String("addr", "127.0.0.1:9101", "first address: the services take five consecutive ports from it (port 0: any free ports)")
	delay := fl.Duration("delay", 0, "wait this long before every answer")
	delayOf := fl.String("delay-of", "", "per-service delays, overriding -delay: service=duration,... (e.g. user=5ms,cart=20ms)")
	pos, err := parseArgs(fl, args)
	if err != nil {
		return exitCode(2)
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "demo-backends: unexpected argument %q\n", pos[0])
		return exitCode(2)
	}
	delays, err := parseDelays(*delay, *delayOf)
	if err != nil {
		fmt.Fprintln(stderr, "demo-backends:", err)
		return exitCode(2)
	}
	d, err := demo.StartOnEach(*addr, delays)
	if err != nil {
		return fmt.Errorf("starting demo services: %w", err)
	}
	defer d.Close()
	urls := d.URLs()
	for _, name := range demo.Services {
		line := fmt.Sprintf("%-10s %s", name, urls[name])
		if delays[name] > 0 {
			line += fmt.Sprintf("  (delay %s)", delays[name])
		}
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintln(stdout, "demo backends ready")
	<-ctx.Done()
	return nil
}

// parseDelays gives every demo service def, then applies "name=dur,..."
// from spec.
func parseDelays(def time.Duration, spec string) (map[string]time.Duration, error) {
	if def < 0 {
		return nil, fmt.Errorf("-delay %s is negative", def)
	}
	m := map[string]time.Duration{}
	for _, name := range demo.Services {
		m[name] = def
	}
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, dur, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("-delay-of: %q is not service=duration", part)
		}
		name = strings.TrimSpace(name)
		if !slices.Contains(demo.Services, name) {
			return nil, fmt.Errorf("-delay-of: unknown service %q (services: %s)", name, strings.Join(demo.Services, ", "))
		}
		d, err := time.ParseDuration(strings.TrimSpace(dur))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("-delay-of: %q is not a duration for %s", dur, name)
		}
		m[name] = d
	}
	return m, nil
}

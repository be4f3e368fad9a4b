package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"frontdesk/engine"
)

// explain prints the compiled plan of one endpoint: what stands in front of
// it, each call with its service, timeout and the calls it waits for, and
// the critical path with its worst case.
func explain(args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("explain", flag.ContinueOnError)
	fl.SetOutput(stderr)
	config := fl.String("c", "", "gateway.json (default ./gateway.json, or endpoints/gateway.json)")
	format := fl.String("format", "text", "output format: text, mermaid or json")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: frontdesk explain [-c gateway.json] [--format text|mermaid|json] METHOD PATH")
		fl.PrintDefaults()
	}
	pos, err := parseArgs(fl, args)
	if err != nil {
		return exitCode(2)
	}
	if len(pos) != 2 {
		fl.Usage()
		return exitCode(2)
	}
	method, path := strings.ToUpper(pos[0]), pos[1]
	cfg := *config
	if cfg == "" && !exists("gateway.json") && exists("endpoints/gateway.json") {
		cfg = "endpoints/gateway.json"
	}
	sf, err := locate(cfg, nil)
	if err != nil {
		fmt.Fprintln(stderr, "frontdesk explain:", err)
		return exitCode(2)
	}
	if sf.config == "" {
		fmt.Fprintln(stderr, "frontdesk explain: no gateway.json here; name one with -c")
		return exitCode(2)
	}
	gw, err := engine.Load(sf.fsys, sf.config, engine.Options{Env: env, DisplayPath: sf.display})
	if le, ok := errors.AsType[engine.LoadErrors](err); ok {
		for _, e := range le {
			fmt.Fprintln(stderr, e.Error())
		}
		return exitCode(1)
	} else if err != nil {
		fmt.Fprintln(stderr, "frontdesk explain:", err)
		return exitCode(2)
	}
	p := gw.Match(method, path)
	if p == nil {
		fmt.Fprintf(stderr, "frontdesk explain: no endpoint serves %s %s\n", method, path)
		return exitCode(1)
	}
	switch *format {
	case "text":
		explainText(stdout, p)
	case "mermaid":
		explainMermaid(stdout, p)
	case "json":
		explainJSON(stdout, p)
	default:
		fmt.Fprintf(stderr, "frontdesk explain: --format must be text, mermaid or json, not %q\n", *format)
		return exitCode(2)
	}
	return nil
}

// limitText is the endpoint's rate limit in a few words:
// "10/s, burst 20, key client" or "none".
func limitText(p *engine.Plan) string {
	rl := p.RateLimit()
	if rl == nil {
		return "none"
	}
	s := fmt.Sprintf("%s, burst %d, key %s", rl.Rate, rl.Burst, rl.Key)
	if rl.Default {
		s += " (gateway default)"
	}
	return s
}

// limitJSON is the rate limit for --format json: "none" or its parts.
func limitJSON(p *engine.Plan) any {
	rl := p.RateLimit()
	if rl == nil {
		return "none"
	}
	return map[string]any{"rate": rl.Rate, "burst": rl.Burst, "key": rl.Key, "gateway_default": rl.Default}
}

// cacheText is the endpoint's response cache: "30s, scope user, key
// method + route + ..." or "none".
func cacheText(p *engine.Plan) string {
	c := p.Cache()
	if c == nil {
		return "none"
	}
	return fmt.Sprintf("%s, scope %s, key %s", c.TTL, c.Scope, strings.Join(c.Parts, " + "))
}

func cacheJSON(p *engine.Plan) any {
	c := p.Cache()
	if c == nil {
		return "none"
	}
	return map[string]any{"ttl_ms": ms(c.TTL), "scope": c.Scope, "key": c.Parts}
}

// authJSON is an endpoint's auth for --format json: "none", or its rule.
func authJSON(p *engine.Plan) any {
	r := p.Auth()
	if r == nil {
		return "none"
	}
	scopes := r.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return map[string]any{"require": r.Require, "scopes": scopes, "allow": r.Allow}
}

func explainText(w io.Writer, p *engine.Plan) {
	fmt.Fprintf(w, "%s %s  (%s)\n", p.Method, p.Route, p.File)
	if p.Summary != "" {
		fmt.Fprintf(w, "  %s\n", p.Summary)
	}
	fmt.Fprintf(w, "  timeout %s; auth: %s\n  rate limit: %s\n  cache: %s\n\n", p.Timeout, p.Auth().Describe(), limitText(p), cacheText(p))
	if len(p.Calls) == 0 {
		fmt.Fprintln(w, "  no calls")
		return
	}
	fmt.Fprintln(w, "  calls (each starts as soon as the calls it waits for are done):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "    CALL\tSERVICE\tTIMEOUT\tWAITS FOR\tNOTES")
	for _, c := range p.Calls {
		deps := strings.Join(p.Deps(c), ", ")
		if deps == "" {
			deps = "-"
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\n", c.Name, c.Service(), c.Timeout, deps, notes(c))
	}
	tw.Flush()
	explainResilience(w, p)
	path, worst := p.CriticalPath()
	fmt.Fprintf(w, "\n  critical path: %s (worst case %s", strings.Join(path, " -> "), worst)
	if worst == p.Timeout {
		fmt.Fprint(w, ", cut short by the endpoint's timeout")
	}
	fmt.Fprintln(w, ")")
}

func notes(c *engine.Call) string {
	var n []string
	if c.Method != "GET" {
		n = append(n, c.Method)
	}
	if c.Optional {
		n = append(n, "optional")
	}
	if f := c.ForEach(); f != "" {
		n = append(n, "for each of "+f)
	}
	if f := c.When(); f != "" {
		n = append(n, "when "+f)
	}
	if ttl := c.CacheTTL(); ttl > 0 {
		n = append(n, "cached "+ttl.String())
	}
	return strings.Join(n, "; ")
}

// explainMermaid writes a flowchart GitHub renders: the client, one node per
// call, an edge per dependency, the critical path in bold.
func explainMermaid(w io.Writer, p *engine.Plan) {
	path, worst := p.CriticalPath()
	onPath := map[string]bool{}
	for _, c := range path {
		onPath[c] = true
	}
	fmt.Fprintln(w, "```mermaid")
	fmt.Fprintln(w, "flowchart LR")
	fmt.Fprintf(w, "  client([%s])\n", mermaidText(p.Method+" "+p.Route))
	for _, c := range p.Calls {
		label := fmt.Sprintf("%s<br/>%s · %s", c.Name, c.Service(), c.Timeout)
		if nt := notes(c); nt != "" {
			label += "<br/><i>" + nt + "</i>"
		}
		fmt.Fprintf(w, "  %s[%s]\n", c.Name, mermaidText(label))
	}
	fmt.Fprintf(w, "  response([%s])\n", mermaidText(fmt.Sprintf("response · worst case %s", worst)))
	waitedFor := map[string]bool{}
	for _, c := range p.Calls {
		deps := p.Deps(c)
		if len(deps) == 0 {
			fmt.Fprintf(w, "  client %s %s\n", arrow(onPath[c.Name]), c.Name)
		}
		for _, d := range deps {
			waitedFor[d] = true
			fmt.Fprintf(w, "  %s %s %s\n", d, arrow(onPath[d] && onPath[c.Name]), c.Name)
		}
	}
	for _, c := range p.Calls {
		if !waitedFor[c.Name] {
			fmt.Fprintf(w, "  %s %s response\n", c.Name, arrow(len(path) > 0 && path[len(path)-1] == c.Name))
		}
	}
	fmt.Fprintln(w, "```")
}

func arrow(bold bool) string {
	if bold {
		return "==>"
	}
	return "-->"
}

func mermaidText(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"`
}

type explainedCall struct {
	Name      string   `json:"name"`
	Service   string   `json:"service"`
	Method    string   `json:"method"`
	TimeoutMS int64    `json:"timeout_ms"`
	WaitsFor  []string `json:"waits_for"`
	Optional  bool     `json:"optional"`
	ForEach   string   `json:"for_each,omitempty"`
	When      string   `json:"when,omitempty"`
	CacheMS   int64    `json:"cache_ttl_ms,omitempty"`
	// Resilience: the balancing, breaker, retry and hedge settings that
	// apply (see resilienceJSON).
	Resilience map[string]any `json:"resilience"`
}

func explainJSON(w io.Writer, p *engine.Plan) {
	b, _ := json.MarshalIndent(explainValue(p), "", "  ")
	fmt.Fprintf(w, "%s\n", b)
}

// explainValue is one endpoint as explain --format json and the admin
// listener's /routes show it.
func explainValue(p *engine.Plan) map[string]any {
	path, worst := p.CriticalPath()
	calls := []explainedCall{}
	for _, c := range p.Calls {
		calls = append(calls, explainedCall{Name: c.Name, Service: c.Service(), Method: c.Method, TimeoutMS: ms(c.Timeout),
			WaitsFor: p.Deps(c), Optional: c.Optional, ForEach: c.ForEach(), When: c.When(), CacheMS: ms(c.CacheTTL()),
			Resilience: resilienceJSON(c)})
	}
	if path == nil {
		path = []string{}
	}
	out := map[string]any{
		"method": p.Method, "route": p.Route, "file": p.File, "summary": p.Summary, "timeout_ms": ms(p.Timeout),
		"auth": authJSON(p), "rate_limit": limitJSON(p), "cache": cacheJSON(p), "calls": calls,
		"critical_path": map[string]any{"calls": path, "worst_case_ms": ms(worst)},
	}
	return out
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

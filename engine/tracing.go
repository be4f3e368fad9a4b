package engine

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"frontdesk/pipeline/tracing"
)

// tracingKeys are the keys of gateway.json's tracing;
// schemas/gateway.schema.json must list the same ones.
var tracingKeys = []string{"otlp_endpoint", "sample_ratio", "service_name"}

// DefaultSampleRatio is tracing.sample_ratio when it is left out: every
// request without a parent is sampled.
const DefaultSampleRatio = 1.0

// tracingShutdown bounds the flush of the spans still queued when a
// gateway closes.
const tracingShutdown = 5 * time.Second

func (d *decoder) tracing(n *Node) *tracing.Config {
	tc := &tracing.Config{SampleRatio: DefaultSampleRatio, ServiceName: tracing.DefaultServiceName}
	if !d.object(n, "tracing", tracingKeys...) {
		return tc
	}
	for _, m := range n.Members {
		v := m.Value
		f := "tracing." + m.Key
		switch m.Key {
		case "otlp_endpoint":
			tc.Endpoint = d.str(v, f)
			if v.Kind != KindString || d.envFailed[v] {
				continue // reported already
			}
			u, err := url.Parse(tc.Endpoint)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				d.errorf(v.Pos, RuleSchema, f, "%s: %q is not an http(s) base URL of an OTLP/HTTP collector such as \"http://127.0.0.1:4318\" (%s is appended)",
					f, redactURL(tc.Endpoint), tracing.TracesPath)
				tc.Endpoint = ""
				continue
			}
			tc.Endpoint = strings.TrimSuffix(tc.Endpoint, "/")
		case "sample_ratio":
			if r, ok := d.ratio(v, f, true); ok {
				tc.SampleRatio = r
			}
		case "service_name":
			tc.ServiceName = d.str(v, f)
			if v.Kind == KindString && (tc.ServiceName == "" || len(tc.ServiceName) > 256) {
				d.errorf(v.Pos, RuleSchema, f, "%s must be 1 to 256 characters; leave it out for %q", f, tracing.DefaultServiceName)
				tc.ServiceName = tracing.DefaultServiceName
			}
		}
	}
	if n.Get("otlp_endpoint") == nil {
		d.errorf(n.Pos, RuleSchema, "tracing", "tracing needs \"otlp_endpoint\", such as \"http://127.0.0.1:4318\"")
	}
	return tc
}

// redactURL keeps a password written in a URL out of messages.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

// buildTracer makes the gateway's tracer when gateway.json has tracing
// and it decoded clean; nil otherwise.
func buildTracer(cfg *Config) *tracing.Tracer {
	tc := cfg.Tracing
	if tc == nil || tc.Endpoint == "" {
		return nil
	}
	t, err := tracing.New(*tc)
	if err != nil {
		return nil // the decoder has reported it
	}
	return t
}

// traceStage is the server span stage of p, nil with tracing off.
func (g *Gateway) traceStage(route string) func(http.Handler) http.Handler {
	if g.rt.tracer == nil {
		return nil
	}
	return g.rt.tracer.Stage(route)
}

// closeTracer flushes the spans still queued and stops the exporter,
// within tracingShutdown.
func (g *Gateway) closeTracer() {
	if g.rt == nil || g.rt.tracer == nil || !g.owns(g.rt.tracer) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdown)
	defer cancel()
	if err := g.rt.tracer.Shutdown(ctx); err != nil {
		g.rt.log.Warn("tracing shutdown", "error", err.Error())
	}
}

package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"frontdesk/pipeline"
)

// Config is gateway.json's tracing, validated by the engine's decoder.
type Config struct {
	// Endpoint is the collector's base URL ("http://127.0.0.1:4318");
	// TracesPath is appended to it.
	Endpoint string
	// SampleRatio is the share of requests without a sampled parent that
	// are sampled, 0 to 1. A client's sampled parent is always honored.
	SampleRatio float64
	// ServiceName is the resource's service.name.
	ServiceName string
}

// TracesPath is appended to Config.Endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT
// works.
const TracesPath = "/v1/traces"

// Bounds of the export pipeline: spans wait in a queue of at most
// MaxQueue (more are dropped, never blocking a request), go out in batches
// of at most MaxBatch every BatchEvery, and each export, its retries
// included, gives up after ExportTimeout.
const (
	MaxQueue      = 4096
	MaxBatch      = 512
	BatchEvery    = 2 * time.Second
	ExportTimeout = 5 * time.Second
)

// DefaultServiceName is service.name when the config names none.
const DefaultServiceName = "frontdesk"

const scope = "frontdesk"

// Attribute keys the gateway's own (OpenTelemetry's semantic conventions
// name the rest).
const (
	AttrService = "frontdesk.service"
	AttrCall    = "frontdesk.call"
	AttrAttempt = "frontdesk.attempt"
)

// Tracer holds one gateway's tracer provider, exporter and propagator. It
// is safe for concurrent use. A nil *Tracer is tracing off.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TraceContext
}

// New builds the tracer of cfg: an OTLP/HTTP exporter to cfg.Endpoint +
// TracesPath behind a bounded batch span processor, sampling
// ParentBased(TraceIDRatioBased(cfg.SampleRatio)). Nothing is dialed until
// the first batch. Shutdown must be called to flush and stop it.
func New(cfg Config) (*Tracer, error) {
	if cfg.SampleRatio < 0 || cfg.SampleRatio > 1 {
		return nil, fmt.Errorf("sample_ratio %v is outside 0 to 1", cfg.SampleRatio)
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = DefaultServiceName
	}
	return newTracer(cfg, sdktrace.WithBatcher(mustExporter(cfg.Endpoint),
		sdktrace.WithMaxQueueSize(MaxQueue), sdktrace.WithMaxExportBatchSize(MaxBatch),
		sdktrace.WithBatchTimeout(BatchEvery), sdktrace.WithExportTimeout(ExportTimeout)))
}

func mustExporter(endpoint string) sdktrace.SpanExporter {
	// otlptracehttp.New only records its options: it makes no connection
	// and cannot fail with these.
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(strings.TrimSuffix(endpoint, "/")+TracesPath),
		otlptracehttp.WithTimeout(ExportTimeout),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true,
			InitialInterval: 500 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: ExportTimeout}))
	if err != nil {
		return failingExporter{err}
	}
	return exp
}

// failingExporter stands in for an exporter that could not be built, so a
// gateway still serves; every export reports why.
type failingExporter struct{ err error }

func (f failingExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return f.err }
func (f failingExporter) Shutdown(context.Context) error                             { return nil }

func newTracer(cfg Config, opts ...sdktrace.TracerProviderOption) (*Tracer, error) {
	res := resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName))
	opts = append(opts, sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))))
	tp := sdktrace.NewTracerProvider(opts...)
	return &Tracer{provider: tp, tracer: tp.Tracer(scope)}, nil
}

// Shutdown flushes the spans still queued and stops the exporter, within
// ctx. It is safe on a nil Tracer and to call more than once.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	err := t.provider.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("tracing: spans not flushed before the shutdown timeout: %w", err)
	}
	return err
}

// Stage is the server span stage of one endpoint, route its method and
// path as written ("GET /checkout/{cart_id}"), the span's name and
// http.route. A client's traceparent and tracestate make the span their
// child; the request's context carries the span on to the calls.
func (t *Tracer) Stage(route string) func(http.Handler) http.Handler {
	method, path, _ := strings.Cut(route, " ")
	start := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("http.route", path))}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			ctx, span := t.tracer.Start(ctx, route, start...)
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				status := sw.status
				if sw.aborted {
					status = pipeline.StatusClientClosed // the answer was not delivered: the connection closed
				}
				if status == 0 {
					status = http.StatusOK
					if r.Context().Err() != nil {
						status = pipeline.StatusClientClosed // the client went away; nothing was written
					}
				}
				span.SetAttributes(attribute.Int("http.response.status_code", status))
				if status >= 500 {
					span.SetStatus(codes.Error, http.StatusText(status))
				}
				span.End()
			}()
			next.ServeHTTP(sw, r.WithContext(ctx))
		})
	}
}

// ClientSpan is one backend attempt's span.
type ClientSpan struct{ span trace.Span }

// StartClient starts the client span of one backend attempt under the span
// in ctx: its name is the method and the call ("GET cart"); service, call,
// server.address and server.port name where it goes. The returned context
// carries it, for Inject.
func (t *Tracer) StartClient(ctx context.Context, method, service, call, host string, port, try int) (context.Context, ClientSpan) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && !sc.IsSampled() {
		// The request is not sampled, so neither is this child: a
		// non-recording span that only carries the context on, made
		// without attributes.
		ctx, span := t.tracer.Start(ctx, call, trace.WithSpanKind(trace.SpanKindClient))
		return ctx, ClientSpan{span}
	}
	attrs := []attribute.KeyValue{attribute.String(AttrService, service), attribute.String(AttrCall, call),
		attribute.String("http.request.method", method), attribute.String("server.address", host), attribute.Int(AttrAttempt, try)}
	if port > 0 {
		attrs = append(attrs, attribute.Int("server.port", port))
	}
	ctx, span := t.tracer.Start(ctx, method+" "+call, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, ClientSpan{span}
}

// End records the attempt's outcome: the status when there was an answer
// (0: none), and errType, the kind of failure ("" when it succeeded). A
// status of 400 or more, or a failure, is an error status.
func (s ClientSpan) End(status int, errType string) {
	if !s.span.IsRecording() {
		s.span.End()
		return
	}
	if status > 0 {
		s.span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	switch {
	case errType != "":
		s.span.SetAttributes(attribute.String("error.type", errType))
		s.span.SetStatus(codes.Error, errType)
	case status >= 400:
		s.span.SetAttributes(attribute.String("error.type", fmt.Sprint(status)))
		s.span.SetStatus(codes.Error, http.StatusText(status))
	}
	s.span.End()
}

// Inject writes the span context of ctx into h as W3C traceparent and
// tracestate, replacing any the client sent.
func (t *Tracer) Inject(ctx context.Context, h http.Header) {
	t.prop.Inject(ctx, propagation.HeaderCarrier(h))
}

type statusWriter struct {
	http.ResponseWriter
	status  int
	aborted bool // a write or flush failed: the client did not get the answer
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	if err != nil {
		s.aborted = true
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes a flush on.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// FlushError passes a flush on and returns its error, so that
// http.ResponseController sees a flush that failed.
func (s *statusWriter) FlushError() error {
	err := http.NewResponseController(s.ResponseWriter).Flush()
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.aborted = true
	}
	return err
}

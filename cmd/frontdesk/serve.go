package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"frontdesk/cmd/frontdesk/demo"
	"frontdesk/endpoints"
	"frontdesk/engine"
	"frontdesk/engine/watch"
	"frontdesk/pipeline"
	"frontdesk/pipeline/logs"
)

func serve(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(stderr)
	config := fl.String("c", "", "path to gateway.json (default ./gateway.json; with --demo, the bundled examples)")
	demoMode := fl.Bool("demo", false, "start the built-in demo services and serve the example endpoints")
	listen := fl.String("listen", "", "override the listen address of gateway.json")
	logLevel := fl.String("log-level", "", "debug, info, warn or error (overrides gateway.json's log.level)")
	logFormat := fl.String("log-format", "", "json or text (overrides gateway.json's log.format)")
	pos, err := parseArgs(fl, args)
	if err != nil {
		return exitCode(2)
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "frontdesk serve: unexpected argument %q\n", pos[0])
		return exitCode(2)
	}
	if *logLevel != "" {
		if _, ok := logs.ParseLevel(*logLevel); !ok {
			fmt.Fprintf(stderr, "frontdesk serve: --log-level must be debug, info, warn or error, not %q\n", *logLevel)
			return exitCode(2)
		}
	}
	if *logFormat != "" && *logFormat != "json" && *logFormat != "text" {
		fmt.Fprintf(stderr, "frontdesk serve: --log-format must be json or text, not %q\n", *logFormat)
		return exitCode(2)
	}
	// One output for every line: slog's and the access log's. The flags
	// hold from the start; gateway.json's log applies once it is loaded,
	// and again on each reload.
	out := logs.New(stderr)
	applyLog := func(lc engine.LogConfig) {
		if *logLevel != "" {
			lc.Level = *logLevel
		}
		if *logFormat != "" {
			lc.Format = *logFormat
		}
		level, _ := logs.ParseLevel(lc.Level)
		out.Set(level, lc.Format == "text", lc.Access)
	}
	applyLog(engine.DefaultLog)
	log := out.Logger()
	gcPercent := tuneGC(env)

	if *demoMode {
		d, err := demo.Start(0)
		if err != nil {
			return fmt.Errorf("starting demo services: %w", err)
		}
		defer d.Close()
		base := env
		env = func(k string) (string, bool) {
			if v, ok := d.Env()[k]; ok {
				return v, true
			}
			return base(k)
		}
		for name, u := range d.URLs() {
			log.Info("demo service", "name", name, "url", u)
		}
	}
	fsys, cfgPath, display, err := configFS(*config, *demoMode)
	if err != nil {
		return err
	}
	tuneMemory(env, log)
	memLimit := debug.SetMemoryLimit(-1)
	load := func(prev *engine.Gateway) (*engine.Gateway, error) {
		return engine.Load(fsys, cfgPath, engine.Options{Env: env, Logger: log, Output: out, DisplayPath: display,
			MemoryLimit: memLimit, GCPercent: gcPercent, Previous: prev})
	}
	gw, err := load(nil)
	if err != nil {
		if le, ok := errors.AsType[engine.LoadErrors](err); ok {
			for _, e := range le {
				fmt.Fprintln(stderr, e.Error())
			}
			return exitCode(1)
		}
		return err
	}
	for _, w := range gw.Warnings {
		fmt.Fprintln(stderr, w.Error())
	}
	applyLog(gw.Config.Log)
	first := gw.Config
	// A reload swaps endpoints, services, auth, limits and caches, and
	// gives the public listener its per-address bound and trusted proxies;
	// the listeners and max_connections stay as they started.
	var ln *pipeline.Listener // set before anything can reload
	reload := func(prev *engine.Gateway) (*engine.Gateway, error) {
		next, err := load(prev)
		if err == nil {
			warnRestartOnly(log, first, next.Config)
			applyLog(next.Config.Log)
			if ln != nil {
				ln.SetPerClient(next.Limits.MaxConnectionsPerIP, next.Config.TrustedProxies)
			}
		}
		return next, err
	}
	// The JWKS, when there is one: fetched beside the listener, which
	// opens at once (a key server that hangs must not keep the gateway
	// closed), and refreshed in the background until the gateway stops.
	// Until the first fetch succeeds, requests with a token are answered
	// 503; a failure is said, and the gateway serves on.
	go func() {
		if err := gw.Start(ctx); err != nil {
			log.Error("the issuer's keys could not be fetched; requests with a token are answered 503 until a retry succeeds", "error", err.Error())
		}
	}()
	live := engine.NewLive(ctx, gw, reload, log)
	defer live.Close()
	// Memory a burst grew is handed back once it is over (memory.go).
	relCtx, stopReleaser := context.WithCancel(ctx)
	released := make(chan struct{})
	go func() {
		defer close(released)
		newReleaser(gcPercent, func() int64 { return live.Gateway().DecodedInUse() }).run(relCtx, releaseEvery)
	}()
	defer func() { stopReleaser(); <-released }()
	addr := gw.Config.Listen
	if *listen != "" {
		addr = *listen
	}
	nofile := raiseFileLimit()
	maxConns := connectionBound(gw.Limits.MaxConnections, gw.Config.Limits.MaxConnections != 0, nofile, log)
	srv := newServer(live, gw, log)
	// Keep-alive is set on the connections the listener admits, not on
	// those it refuses at once.
	pub, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return err
	}
	// The Set lives as long as the process (a reload keeps it), so the
	// listener counts into the first gateway's.
	ln = pipeline.Bound(pub, pipeline.Bounds{Max: maxConns, PerClient: gw.Limits.MaxConnectionsPerIP,
		Trusted: gw.Config.TrustedProxies, Refused: gw.Metrics.ConnectionRefused, KeepAlive: true})
	srv.ConnState = ln.ConnState
	var draining atomic.Bool
	var admin *http.Server
	if a := gw.Config.AdminListen; a != "" {
		aln, err := net.Listen("tcp", a)
		if err != nil {
			ln.Close()
			return err
		}
		admin = &http.Server{Handler: adminMux(live, &draining), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			IdleTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}
		go admin.Serve(pipeline.Limit(aln, adminConnections))
		log.Info("admin listening", "addr", aln.Addr().String())
	}
	fmt.Fprintf(stdout, "frontdesk listening on http://%s with %d endpoints\n", ln.Addr(), len(gw.Plans))
	for _, p := range gw.Plans {
		fmt.Fprintf(stdout, "  %-6s %s  (%s)\n", p.Method, p.Route, p.File)
	}
	if !*demoMode || *config != "" {
		w, err := watch.New(func() []string { return osPaths(live.Gateway().Sources()) }, func() { live.Reload() }, log)
		if err != nil {
			log.Warn("cannot watch the configuration for changes; reload with SIGHUP or POST /reload", "error", err.Error())
		} else {
			defer w.Close()
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for done := false; !done; {
		select {
		case err := <-errc:
			return err
		case <-hup:
			log.Info("SIGHUP received: reloading")
			live.Reload() // its outcome is logged and counted
		case <-ctx.Done():
			done = true
		}
	}
	// Not ready from now on, so a load balancer stops sending; the admin
	// listener closes last, after the public one has drained, so probes
	// see the 503 all along.
	draining.Store(true)
	log.Info("shutting down", "grace", gw.Config.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), live.Gateway().Config.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if admin != nil {
		admin.Shutdown(sctx)
	}
	return err
}

// osPaths turns the gateway's fs paths (rooted at "/") into OS paths.
func osPaths(fsPaths []string) []string {
	out := make([]string, len(fsPaths))
	for i, p := range fsPaths {
		out[i] = "/" + p
	}
	return out
}

// warnRestartOnly says which changed settings a reload does not apply.
func warnRestartOnly(log *slog.Logger, was, now *engine.Config) {
	if was.Listen != now.Listen {
		log.Warn("reload: listen changed; it takes effect at the next restart", "serving", was.Listen, "configured", now.Listen)
	}
	if was.AdminListen != now.AdminListen {
		log.Warn("reload: admin_listen changed; it takes effect at the next restart", "serving", was.AdminListen, "configured", now.AdminListen)
	}
	if was.Limits.MaxConnections != now.Limits.MaxConnections {
		log.Warn("reload: limits.max_connections changed; it takes effect at the next restart")
	}
}

// adminConnections bounds the admin listener's connections: few are ever
// needed, and they must never take the public listener's descriptors.
const adminConnections = 64

// newServer is the public listener's server, with a bound on every side:
// headers within 10s, a body within read_body_timeout (the engine sets the
// exact deadline; this is the backstop), an answer within the longest
// endpoint timeout plus write_timeout (large answers get a deadline per
// 64 KB instead; a reload that brings a longer timeout extends its
// requests' deadline itself), idle connections closed after 2 minutes.
func newServer(live *engine.Live, gw *engine.Gateway, log *slog.Logger) *http.Server {
	longest := gw.LongestEndpoint()
	live.SetWriteBackstop(longest + gw.Limits.WriteTimeout)
	return &http.Server{
		Handler:           live,
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       headerTimeout + gw.Limits.ReadBodyTimeout,
		WriteTimeout:      longest + gw.Limits.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ConnContext:       pipeline.ConnContext,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// headerTimeout is how long a client may take to send its request line
// and headers.
const headerTimeout = 10 * time.Second

// gatewayGCPercent is the garbage collector's target for a serving gateway.
// Its live heap is small (compiled plans, pools) and nearly everything a
// request allocates dies with it, so the default of 100 collects far more
// often than the memory saved is worth: 400 cut CPU per request by 10-20% in
// the load runs, for about 10 MB more RSS. GOGC in the environment wins.
// The heap's growth it allows is counted in the default of
// limits.max_decoded_total (engine.DefaultDecodedTotal), and what a burst
// grew is handed back after it (releaser).
const gatewayGCPercent = 400

// tuneGC sets the gateway's GC percent unless GOGC is set, and returns the
// percent in force (negative: off).
func tuneGC(env func(string) (string, bool)) int {
	if _, ok := env("GOGC"); !ok {
		debug.SetGCPercent(gatewayGCPercent)
		return gatewayGCPercent
	}
	p := debug.SetGCPercent(100) // as the runtime read GOGC
	debug.SetGCPercent(p)
	return p
}

// adminMux is the admin listener's routes. /readyz is 503 once draining
// is set (shutdown has begun).
func adminMux(live *engine.Live, draining *atomic.Bool) *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		live.Gateway().Metrics.Handler().ServeHTTP(w, r)
	})
	text := func(w http.ResponseWriter, status int, s string) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, s)
	}
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { text(w, http.StatusOK, "ok\n") })
	m.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			text(w, http.StatusServiceUnavailable, "shutting down\n")
			return
		}
		text(w, http.StatusOK, "ok\n")
	})
	m.HandleFunc("GET /routes", func(w http.ResponseWriter, r *http.Request) {
		gw := live.Gateway()
		eps := make([]map[string]any, 0, len(gw.Plans))
		for _, p := range gw.Plans {
			eps = append(eps, explainValue(p))
		}
		writeJSON(w, http.StatusOK, map[string]any{"endpoints": eps, "reloads": live.Reloads()})
	})
	m.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		err := live.Reload()
		le, isLoad := errors.AsType[engine.LoadErrors](err)
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, map[string]string{"result": "ok"})
		case isLoad:
			writeJSON(w, http.StatusUnprocessableEntity, le) // as lint --format json prints them
		default:
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"result": "error", "error": err.Error()})
		}
	})
	// The goroutine count, for leak checks under load (cmd/loadtest -soak).
	m.HandleFunc("GET /goroutines", func(w http.ResponseWriter, r *http.Request) {
		text(w, http.StatusOK, fmt.Sprintln(runtime.NumGoroutine()))
	})
	// Profiles, for finding where a request's time goes under load. The
	// admin listener is meant for operators only (127.0.0.1 by default).
	m.HandleFunc("GET /debug/pprof/", pprof.Index)
	m.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	m.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// configFS finds gateway.json: the -c path, ./gateway.json, or with --demo
// and no -c the examples bundled in the binary. Files are read through an
// fs.FS rooted at "/" so endpoint folders may sit anywhere; messages name
// them relative to the working directory.
func configFS(config string, demoMode bool) (fs.FS, string, func(string) string, error) {
	if config == "" && demoMode {
		return endpoints.FS, "gateway.json", func(p string) string { return "endpoints/" + p }, nil
	}
	if config == "" {
		config = "gateway.json"
	}
	abs, err := filepath.Abs(config)
	if err != nil {
		return nil, "", nil, err
	}
	wd, _ := os.Getwd()
	display := func(p string) string {
		full := "/" + p
		if rel, err := filepath.Rel(wd, full); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
		return full
	}
	return os.DirFS("/"), strings.TrimPrefix(filepath.ToSlash(abs), "/"), display, nil
}

package main

import (
	"context"
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
	"syscall"
	"time"

	"frontdesk/cmd/frontdesk/demo"
	"frontdesk/endpoints"
	"frontdesk/engine"
	"frontdesk/pipeline"
)

func serve(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(stderr)
	config := fl.String("c", "", "path to gateway.json (default ./gateway.json; with --demo, the bundled examples)")
	demoMode := fl.Bool("demo", false, "start the built-in demo services and serve the example endpoints")
	listen := fl.String("listen", "", "override the listen address of gateway.json")
	pos, err := parseArgs(fl, args)
	if err != nil {
		return exitCode(2)
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "frontdesk serve: unexpected argument %q\n", pos[0])
		return exitCode(2)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	tuneGC(env)

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
	gw, err := engine.Load(fsys, cfgPath, engine.Options{Env: env, Logger: log, DisplayPath: display,
		MemoryLimit: debug.SetMemoryLimit(-1)})
	if err != nil {
		var le engine.LoadErrors
		if errors.As(err, &le) {
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
	// The JWKS, when there is one: fetched now and refreshed in the
	// background until the gateway stops. A failure is said, and the
	// gateway serves on: tokens are answered 503 until a fetch succeeds.
	if err := gw.Start(ctx); err != nil {
		log.Error("the issuer's keys could not be fetched; requests with a token are answered 503 until a retry succeeds", "error", err.Error())
	}
	defer gw.Close()
	addr := gw.Config.Listen
	if *listen != "" {
		addr = *listen
	}
	nofile := raiseFileLimit()
	maxConns := connectionBound(gw.Limits.MaxConnections, gw.Config.Limits.MaxConnections != 0, nofile, log)
	srv := newServer(gw, log)
	pub, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ln := pipeline.Limit(pub, maxConns)
	var admin *http.Server
	if a := gw.Config.AdminListen; a != "" {
		aln, err := net.Listen("tcp", a)
		if err != nil {
			ln.Close()
			return err
		}
		admin = &http.Server{Handler: adminMux(gw.Metrics.Handler()), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			IdleTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}
		go admin.Serve(pipeline.Limit(aln, adminConnections))
		log.Info("admin listening", "addr", aln.Addr().String())
	}
	fmt.Fprintf(stdout, "frontdesk listening on http://%s with %d endpoints\n", ln.Addr(), len(gw.Plans))
	for _, p := range gw.Plans {
		fmt.Fprintf(stdout, "  %-6s %s  (%s)\n", p.Method, p.Route, p.File)
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
			// Reload comes with the operations work; until then a SIGHUP an
			// operator sends by habit must not stop the gateway.
			log.Info("SIGHUP received: reload is not built yet; serving on with the loaded config")
		case <-ctx.Done():
			done = true
		}
	}
	log.Info("shutting down", "grace", gw.Config.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), gw.Config.ShutdownTimeout)
	defer cancel()
	if admin != nil {
		admin.Shutdown(sctx)
	}
	return srv.Shutdown(sctx)
}

// adminConnections bounds the admin listener's connections: few are ever
// needed, and they must never take the public listener's descriptors.
const adminConnections = 64

// newServer is the public listener's server, with a bound on every side:
// headers within 10s, a body within read_body_timeout (the engine sets the
// exact deadline; this is the backstop), an answer within the longest
// endpoint timeout plus write_timeout (large answers get a deadline per
// 64 KB instead), idle connections closed after 2 minutes.
func newServer(gw *engine.Gateway, log *slog.Logger) *http.Server {
	longest := engine.DefaultEndpointTimeout
	for _, p := range gw.Plans {
		longest = max(longest, p.Timeout)
	}
	return &http.Server{
		Handler:           gw,
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
const gatewayGCPercent = 400

func tuneGC(env func(string) (string, bool)) {
	if _, ok := env("GOGC"); !ok {
		debug.SetGCPercent(gatewayGCPercent)
	}
}

func adminMux(metrics http.Handler) *http.ServeMux {
	m := http.NewServeMux()
	m.Handle("GET /metrics", metrics)
	ok := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	}
	m.HandleFunc("GET /healthz", ok)
	m.HandleFunc("GET /readyz", ok)
	// The goroutine count, for leak checks under load (cmd/loadtest -soak).
	m.HandleFunc("GET /goroutines", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, runtime.NumGoroutine())
	})
	// Profiles, for finding where a request's time goes under load. The
	// admin listener is meant for operators only (127.0.0.1 by default).
	m.HandleFunc("GET /debug/pprof/", pprof.Index)
	m.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	m.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return m
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

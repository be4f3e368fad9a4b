package engine_test

// End-to-end golden tests: each testdata/e2e/NAME.json case loads a gateway
// whose services are real loopback backends (httptest servers), serves it
// on a real listener, sends the case's requests with a real client, and
// compares what the client got and what every backend received with
// testdata/e2e/NAME.golden.
//
//	go test ./engine -run E2E -update   rewrites the golden files
//
// Case file (JSON):
//
//	{
//	  "description": "what the case shows",
//	  "gateway":   { extra gateway.json members: "limits", "services" options (merged
//	                 over the generated {"urls": [backend URL]}), "trusted_proxies"... },
//	  "endpoints": [ endpoint spec, ... ],            // or "endpoint": one spec
//	  "backends":  { "SERVICE": [ answer, ... ] },
//	  "request":   request,                           // or "requests": [request, ...]
//	  "options":   { "repeat": N, "show_headers": ["X-Foo"], "panic_path": "/boom", "log": true }
//	}
//
// An answer: "match" ("GET /carts/c1?x=1", the raw request URI, or "*" for
// anything), "status" (200), "headers" (string or list of strings), "body"
// (JSON, served as application/json) or "text" or "bytes" (served as
// application/json: one byte per character, each U+0000 to U+00FF, so
// "\u00ff" is the byte FF, for bodies that are not UTF-8), "delay" (a duration, cut
// short when the gateway gives up on the request), and synchronisation with
// other answers of the same request: "id" names the answer, "await" and
// "await_answered" wait (at most 2s) until the named answers have arrived or
// answered, "observe" notes in the golden whether the named answers had
// answered when this request arrived.
//
// A request: "method" (GET), "path" (raw, with query), "headers", "body"
// (JSON) or "text" or "bytes" (as in an answer; sent as application/json),
// "chunked" (send the body without Content-Length).
//
// A body the client gets or a backend receives that is not valid UTF-8 is
// marked so in the golden.
//
// Instead of "text", an answer or a request may give "nest": {"open": "<a>",
// "inner": "x", "close": "</a>", "depth": 100000}, the text open repeated
// depth times, then inner, then close depth times: a deeply nested body
// without a huge case file. The golden shows a request's nest, not its text.
//
// The services named in the case get the environment variable
// NAME_URL (upper case) too, and CLOSED_URL is a loopback port nobody
// listens on.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"frontdesk/engine"
)

// -update rewrites golden files. Other tests of this binary may define the
// same flag; they then share it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// e2eCase is one testdata/e2e/NAME.json file.
type e2eCase struct {
	Description string                     `json:"description"`
	Gateway     map[string]json.RawMessage `json:"gateway"`
	Endpoint    json.RawMessage            `json:"endpoint"`
	Endpoints   []json.RawMessage          `json:"endpoints"`
	Backends    map[string][]*e2eAnswer    `json:"backends"`
	Request     *e2eRequest                `json:"request"`
	Requests    []*e2eRequest              `json:"requests"`
	Options     e2eOptions                 `json:"options"`
}

type e2eOptions struct {
	Repeat      int      `json:"repeat"`       // send each request this many times; every run must read the same
	ShowHeaders []string `json:"show_headers"` // response headers shown besides the fixed list
	PanicPath   string   `json:"panic_path"`   // the backend transport panics for request paths with this prefix
	Log         bool     `json:"log"`          // show the gateway's log records (level, message, call, method, path)
}

type e2eAnswer struct {
	Match         string          `json:"match"`
	Status        int             `json:"status"`
	Headers       headerValues    `json:"headers"`
	Body          json.RawMessage `json:"body"`
	Text          *string         `json:"text"`
	Bytes         *string         `json:"bytes"`
	Nest          *e2eNest        `json:"nest"`
	Delay         string          `json:"delay"`
	ID            string          `json:"id"`
	Await         []string        `json:"await"`
	AwaitAnswered []string        `json:"await_answered"`
	Observe       []string        `json:"observe"`
	delay         time.Duration
}

type e2eRequest struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
	Text    *string           `json:"text"`
	Bytes   *string           `json:"bytes"`
	Nest    *e2eNest          `json:"nest"`
	Chunked bool              `json:"chunked"`
}

// latin1 turns a "bytes" string into its bytes, one per character.
func latin1(t testing.TB, s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			t.Fatalf("bytes: %q is not a byte (U+0000 to U+00FF)", r)
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// e2eNest is a generated, deeply nested text: Open Depth times, Inner,
// Close Depth times.
type e2eNest struct {
	Open  string `json:"open"`
	Inner string `json:"inner"`
	Close string `json:"close"`
	Depth int    `json:"depth"`
}

func (n *e2eNest) text() *string {
	s := strings.Repeat(n.Open, n.Depth) + n.Inner + strings.Repeat(n.Close, n.Depth)
	return &s
}

// headerValues reads {"Name": "v"} or {"Name": ["v1", "v2"]}.
type headerValues map[string][]string

func (h *headerValues) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*h = headerValues{}
	for k, v := range raw {
		var one string
		if err := json.Unmarshal(v, &one); err == nil {
			(*h)[k] = []string{one}
			continue
		}
		var many []string
		if err := json.Unmarshal(v, &many); err != nil {
			return fmt.Errorf("header %s: a string or a list of strings", k)
		}
		(*h)[k] = many
	}
	return nil
}

// shownHeaders are the response headers every golden shows when present.
var shownHeaders = []string{
	"Allow", "Cache-Control", "Content-Type", "Partial-Response", "Retry-After",
	"Server-Timing", "Set-Cookie", "Www-Authenticate", "X-Request-Id",
}

// droppedBackendHeaders are what Go's client adds on its own; the rest of
// what a backend sees goes into the golden.
var droppedBackendHeaders = []string{"User-Agent", "Accept-Encoding", "Content-Length"}

const (
	awaitBound  = 2 * time.Second
	clientBound = 10 * time.Second
)

var (
	durRE   = regexp.MustCompile(`dur=[0-9.]+`)
	reqIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

func TestE2E(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "e2e", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no cases in testdata/e2e")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			c := readCase(t, f)
			got := runCase(t, c, false)
			golden := strings.TrimSuffix(f, ".json") + ".golden"
			if !updating() {
				// The differential check: with every fast path off (no
				// splicing from backend bytes, no partial decoding) the
				// gateway must answer byte for byte the same.
				if general := runCase(t, c, true); general != got {
					t.Errorf("the fast paths and the general path differ:\n%s", lineDiff(general, got))
				}
			}
			if updating() {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from what the gateway does now (run with -update and review the diff):\n%s",
					golden, lineDiff(string(want), got))
			}
		})
	}
}

func readCase(t *testing.T, file string) *e2eCase {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	c := &e2eCase{}
	if err := dec.Decode(c); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if c.Endpoint != nil {
		c.Endpoints = append([]json.RawMessage{c.Endpoint}, c.Endpoints...)
	}
	if c.Request != nil {
		c.Requests = append([]*e2eRequest{c.Request}, c.Requests...)
	}
	for _, rq := range c.Requests {
		if rq.Nest != nil {
			rq.Text = rq.Nest.text()
		}
		if rq.Bytes != nil {
			b := latin1(t, *rq.Bytes)
			rq.Text = &b
			if rq.Headers["Content-Type"] == "" {
				if rq.Headers == nil {
					rq.Headers = map[string]string{}
				}
				rq.Headers["Content-Type"] = "application/json"
			}
		}
	}
	if len(c.Endpoints) == 0 || len(c.Requests) == 0 {
		t.Fatalf("%s: a case needs an endpoint and a request", file)
	}
	for svc, answers := range c.Backends {
		for _, a := range answers {
			if a.Match == "" {
				t.Fatalf("%s: backends.%s: an answer needs \"match\"", file, svc)
			}
			if a.Nest != nil {
				a.Text = a.Nest.text()
			}
			if a.Bytes != nil {
				b := latin1(t, *a.Bytes)
				a.Text = &b
				if a.Headers["Content-Type"] == nil {
					if a.Headers == nil {
						a.Headers = headerValues{}
					}
					a.Headers["Content-Type"] = []string{"application/json"}
				}
			}
			if a.Delay != "" {
				if a.delay, err = time.ParseDuration(a.Delay); err != nil {
					t.Fatalf("%s: backends.%s %q: %v", file, svc, a.Match, err)
				}
			}
		}
	}
	if c.Options.Repeat < 1 {
		c.Options.Repeat = 1
	}
	return c
}

// events lets the answers of one request wait for each other.
type events struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func (e *events) ch(key string) chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]chan struct{}{}
	}
	c, ok := e.m[key]
	if !ok {
		c = make(chan struct{})
		e.m[key] = c
	}
	return c
}

func (e *events) fire(key string) {
	c := e.ch(key)
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-c:
	default:
		close(c)
	}
}

func (e *events) done(key string) bool {
	select {
	case <-e.ch(key):
		return true
	default:
		return false
	}
}

// wait waits for key, at most awaitBound or until ctx ends.
func (e *events) wait(ctx context.Context, key string) string {
	timer := time.NewTimer(awaitBound)
	defer timer.Stop()
	select {
	case <-e.ch(key):
		return "ok"
	case <-timer.C:
		return fmt.Sprintf("NOT within %s", awaitBound)
	case <-ctx.Done():
		return "request cancelled while waiting"
	}
}

// backendLog collects what the backends received during one request.
type backendLog struct {
	mu      sync.Mutex
	entries []string
	ev      *events
}

func (l *backendLog) add(s string) {
	l.mu.Lock()
	l.entries = append(l.entries, s)
	l.mu.Unlock()
}

func (l *backendLog) reset() {
	l.mu.Lock()
	l.entries = nil
	l.ev = &events{}
	l.mu.Unlock()
}

func (l *backendLog) events() *events {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ev
}

// sorted returns the entries sorted, so concurrency cannot reorder them.
func (l *backendLog) sorted() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.entries)
	sort.Strings(out)
	return out
}

func backendHandler(t *testing.T, svc string, answers []*e2eAnswer, log *backendLog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev := log.events()
		key := r.Method + " " + r.RequestURI
		var a *e2eAnswer
		for _, cand := range answers {
			if cand.Match == key {
				a = cand
				break
			}
		}
		if a == nil {
			for _, cand := range answers {
				if cand.Match == "*" {
					a = cand
					break
				}
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s: %s\n", svc, key)
		names := make([]string, 0, len(r.Header))
		for k := range r.Header {
			if !slices.Contains(droppedBackendHeaders, k) {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		for _, k := range names {
			for _, v := range r.Header[k] {
				fmt.Fprintf(&b, "    %s: %s\n", k, v)
			}
		}
		body, _ := io.ReadAll(r.Body)
		if len(body) > 0 {
			fmt.Fprintf(&b, "    body: %s\n", body)
			if !utf8.Valid(body) {
				fmt.Fprintf(&b, "    (this body is NOT valid UTF-8)\n")
			}
		}
		if a == nil {
			fmt.Fprintf(&b, "    UNMATCHED: no answer in the case file, answered 599\n")
			log.add(b.String())
			t.Errorf("backend %s: no answer matches %q", svc, key)
			w.WriteHeader(599)
			return
		}
		for _, id := range a.Observe {
			fmt.Fprintf(&b, "    observed on arrival: %s answered=%v\n", id, ev.done(id+":answered"))
		}
		if a.ID != "" {
			ev.fire(a.ID + ":arrived")
		}
		// The entry is logged once the waits are over, with their outcome,
		// and before the answer, so it is in when the gateway responds.
		for _, id := range a.Await {
			fmt.Fprintf(&b, "    await %s arrived: %s\n", id, ev.wait(r.Context(), id+":arrived"))
		}
		for _, id := range a.AwaitAnswered {
			fmt.Fprintf(&b, "    await %s answered: %s\n", id, ev.wait(r.Context(), id+":answered"))
		}
		log.add(b.String())
		if a.delay > 0 {
			timer := time.NewTimer(a.delay)
			select {
			case <-timer.C:
			case <-r.Context().Done():
				timer.Stop()
				return
			}
		}
		h := w.Header()
		for k, vs := range a.Headers {
			h[http.CanonicalHeaderKey(k)] = vs
		}
		var out []byte
		switch {
		case a.Text != nil:
			out = []byte(*a.Text)
			if h.Get("Content-Type") == "" {
				h.Set("Content-Type", "text/plain; charset=utf-8")
			}
		case a.Body != nil:
			out = a.Body
			if h.Get("Content-Type") == "" {
				h.Set("Content-Type", "application/json")
			}
		}
		status := a.Status
		if status == 0 {
			status = http.StatusOK
		}
		if a.ID != "" {
			ev.fire(a.ID + ":answered")
		}
		w.WriteHeader(status)
		w.Write(out)
	})
}

// panicTransport makes the backend client panic for some paths, which is
// how a panic inside a call's goroutine is provoked.
type panicTransport struct {
	base   http.RoundTripper
	prefix string
}

func (p *panicTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if p.prefix != "" && strings.HasPrefix(r.URL.Path, p.prefix) {
		panic("e2e: transport panics for " + r.URL.Path)
	}
	return p.base.RoundTrip(r)
}

// logRecords keeps the gateway's log as "LEVEL message" lines.
type logRecords struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "call" || a.Key == "method" || a.Key == "path" {
			line += " " + a.Key + "=" + a.Value.String()
		}
		return true
	})
	l.lines = append(l.lines, line)
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

func (l *logRecords) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	sort.Strings(out)
	return out
}

// closedURL returns the URL of a loopback port that was just released.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// runCase serves the case and returns the golden text; with general, every
// fast path is off (Options.NoFastPaths).
func runCase(t *testing.T, c *e2eCase, general bool) string {
	log := &backendLog{}
	log.reset()
	env := map[string]string{"CLOSED_URL": closedURL(t)}

	// Backends, one server per service.
	services := map[string]map[string]json.RawMessage{}
	svcNames := make([]string, 0, len(c.Backends))
	for svc := range c.Backends {
		svcNames = append(svcNames, svc)
	}
	sort.Strings(svcNames)
	for _, svc := range svcNames {
		srv := httptest.NewServer(backendHandler(t, svc, c.Backends[svc], log))
		t.Cleanup(srv.Close)
		urls, _ := json.Marshal([]string{srv.URL})
		services[svc] = map[string]json.RawMessage{"urls": urls}
		env[strings.ToUpper(svc)+"_URL"] = srv.URL
	}

	// gateway.json: the generated services, with the case's extras over them.
	gw := map[string]json.RawMessage{"endpoints": json.RawMessage(`["endpoints"]`)}
	for k, v := range c.Gateway {
		if k != "services" {
			gw[k] = v
			continue
		}
		var extra map[string]map[string]json.RawMessage
		if err := json.Unmarshal(v, &extra); err != nil {
			t.Fatalf("gateway.services: %v", err)
		}
		for svc, opts := range extra {
			if services[svc] == nil {
				services[svc] = map[string]json.RawMessage{}
			}
			for k, v := range opts {
				services[svc][k] = v
			}
		}
	}
	sb, err := json.Marshal(services)
	if err != nil {
		t.Fatal(err)
	}
	gw["services"] = sb
	gwJSON, err := json.MarshalIndent(gw, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{"gateway.json": {Data: gwJSON}}
	for i, e := range c.Endpoints {
		fsys[fmt.Sprintf("endpoints/e%02d.json", i)] = &fstest.MapFile{Data: e}
	}

	transport := engine.NewTransport()
	t.Cleanup(transport.CloseIdleConnections)
	logs := &logRecords{}
	g, err := engine.Load(fsys, "gateway.json", engine.Options{
		Env:         func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Transport:   &panicTransport{base: transport, prefix: c.Options.PanicPath},
		Logger:      slog.New(logs),
		NoFastPaths: general,
	})
	if err != nil {
		t.Fatalf("load:\n%v\ngateway.json:\n%s", err, gwJSON)
	}

	front := httptest.NewServer(g)
	t.Cleanup(front.Close)
	clientTransport := &http.Transport{}
	t.Cleanup(clientTransport.CloseIdleConnections)
	client := &http.Client{
		Transport:     clientTransport,
		Timeout:       clientBound,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	gwHost := strings.TrimPrefix(front.URL, "http://")

	var out strings.Builder
	if c.Description != "" {
		for _, line := range strings.Split(strings.TrimSpace(c.Description), "\n") {
			fmt.Fprintf(&out, "# %s\n", line)
		}
	}
	for _, w := range g.Warnings {
		fmt.Fprintf(&out, "# load warning: %s\n", w.Message)
	}
	for i, rq := range c.Requests {
		var first string
		for run := 0; run < c.Options.Repeat; run++ {
			log.reset()
			got := exchange(t, client, front.URL, rq, c.Options)
			got += "--- backends\n"
			entries := log.sorted()
			if len(entries) == 0 {
				got += "(none)\n"
			}
			for _, e := range entries {
				got += e
			}
			if c.Options.Log {
				got += "--- gateway log\n"
				for _, l := range logs.take() {
					got += l + "\n"
				}
			}
			got = normalise(t, got, rq, gwHost)
			if run == 0 {
				first = got
			} else if got != first {
				t.Errorf("request %d, run %d differs from run 1:\n%s", i+1, run+1, lineDiff(first, got))
			}
		}
		if out.Len() > 0 {
			out.WriteString("\n")
		}
		fmt.Fprintf(&out, "=== %s %s\n", method(rq), rq.Path)
		if c.Options.Repeat > 1 {
			fmt.Fprintf(&out, "(the same in each of %d runs)\n", c.Options.Repeat)
		}
		out.WriteString(first)
	}
	return out.String()
}

func method(rq *e2eRequest) string {
	if rq.Method == "" {
		return http.MethodGet
	}
	return rq.Method
}

// exchange sends one request and returns its part of the golden text.
func exchange(t *testing.T, client *http.Client, base string, rq *e2eRequest, opt e2eOptions) string {
	t.Helper()
	var body io.Reader
	var sent string
	switch {
	case rq.Text != nil:
		sent = *rq.Text
	case rq.Body != nil:
		sent = string(rq.Body)
	}
	if rq.Text != nil || rq.Body != nil {
		body = strings.NewReader(sent)
		if rq.Chunked {
			body = io.MultiReader(body) // hides the length: sent chunked
		}
	}
	req, err := http.NewRequest(method(rq), base+rq.Path, body)
	if err != nil {
		t.Fatalf("request %s: %v", rq.Path, err)
	}
	if req.URL.RequestURI() != rq.Path {
		t.Fatalf("the client would send %q, not %q", req.URL.RequestURI(), rq.Path)
	}
	for k, v := range rq.Headers {
		req.Header.Set(k, v)
	}
	if rq.Body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	var b strings.Builder
	names := make([]string, 0, len(req.Header))
	for k := range req.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "> %s: %s\n", k, req.Header.Get(k))
	}
	if body != nil {
		shown := sent
		if n := rq.Nest; n != nil {
			shown = fmt.Sprintf("%q x %d, %q, %q x %d (%d bytes)", n.Open, n.Depth, n.Inner, n.Close, n.Depth, len(sent))
		}
		if rq.Bytes != nil {
			shown = fmt.Sprintf("%q", sent)
		}
		fmt.Fprintf(&b, "> body (%s): %s\n", map[bool]string{true: "chunked", false: "with Content-Length"}[rq.Chunked], shown)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, rq.Path, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, rq.Path, err)
	}
	fmt.Fprintf(&b, "%s %s\n", resp.Proto, resp.Status)
	shown := append(slices.Clone(shownHeaders), opt.ShowHeaders...)
	for i := range shown {
		shown[i] = http.CanonicalHeaderKey(shown[i])
	}
	sort.Strings(shown)
	shown = slices.Compact(shown)
	for _, k := range shown {
		for _, v := range resp.Header.Values(k) {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	if len(rb) > 0 && !utf8.Valid(rb) {
		b.WriteString("(this body is NOT valid UTF-8)\n")
	}
	if len(rb) > 0 {
		var ind bytes.Buffer
		if json.Indent(&ind, rb, "", "  ") == nil {
			b.Write(ind.Bytes())
			if !bytes.HasSuffix(ind.Bytes(), []byte("\n")) {
				b.WriteString("\n")
			}
		} else {
			fmt.Fprintf(&b, "%q\n", rb)
		}
	}
	// The request id the gateway made up (none sent, or one it refused)
	// travels to the backends too: hand it to normalise through a line it
	// removes again.
	if id := resp.Header.Get("X-Request-Id"); id == "" || id != req.Header.Get("X-Request-Id") {
		fmt.Fprintf(&b, "\x00generated-id %s\n", id)
	}
	return b.String()
}

// normalise replaces what changes from run to run: durations, the gateway's
// port, a generated request id (after checking its form).
func normalise(t *testing.T, s string, rq *e2eRequest, gwHost string) string {
	t.Helper()
	if i := strings.Index(s, "\x00generated-id "); i >= 0 {
		end := i + strings.IndexByte(s[i:], '\n')
		id := s[i+len("\x00generated-id ") : end]
		s = s[:i] + s[end+1:]
		if !reqIDRE.MatchString(id) {
			t.Errorf("%s: generated X-Request-Id %q is not 32 hex digits", rq.Path, id)
		} else {
			s = strings.ReplaceAll(s, id, "{generated-request-id}")
		}
	}
	s = strings.ReplaceAll(s, gwHost, "{gateway}")
	var lines []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "Server-Timing:") {
			line = durRE.ReplaceAllString(line, "dur=X")
		}
		// What is left of a call's deadline changes by the millisecond.
		if head, ms, ok := strings.Cut(line, "X-Request-Timeout-Ms: "); ok && strings.TrimSpace(head) == "" {
			if n, err := strconv.Atoi(ms); err != nil || n < 0 {
				t.Errorf("%s: X-Request-Timeout-Ms %q is not whole milliseconds", rq.Path, ms)
			}
			line = head + "X-Request-Timeout-Ms: {ms-left}"
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// lineDiff is a small line-by-line diff for failure messages.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := max(len(w), len(g))
	shown := 0
	for i := 0; i < n && shown < 40; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

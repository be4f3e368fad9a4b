package spectest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"

	"frontdesk/engine"
)

// DefaultCaseTimeout bounds one case when Runner.CaseTimeout is zero; an
// endpoint whose own timeout is longer gets that timeout plus a margin.
const DefaultCaseTimeout = 10 * time.Second

// RequestID is the X-Request-Id a case's request carries unless the case
// sets one, so problem documents (which echo it) are stable.
const RequestID = "frontdesk-test"

// Runner runs spec-test files through the real engine.
type Runner struct {
	// FS holds the config, the specs and the test files.
	FS fs.FS
	// Config is the gateway.json in FS whose services (their URLs and
	// timeouts) and limits the specs run with; "" for none, when every
	// service is a stub at http://NAME.invalid.
	Config string
	// Env looks up ${VAR} in gateway.json; nil means os.LookupEnv.
	Env func(string) (string, bool)
	// DisplayPath names fs paths in messages; nil leaves them as they are.
	DisplayPath func(string) string
	// CaseTimeout bounds each case; zero means DefaultCaseTimeout, or the
	// endpoint's timeout plus 2s when that is longer.
	CaseTimeout time.Duration
}

func (r *Runner) display(p string) string {
	if r.DisplayPath == nil {
		return p
	}
	return r.DisplayPath(p)
}

// FileResult is the outcome of one spec-test file.
type FileResult struct {
	Path string // fs path of the test file
	Name string // its display name
	// Err is set when the file could not run at all: it does not parse, or
	// its spec does not load. Its message may span several lines.
	Err   error
	Cases []*CaseResult

	file *File
}

// Passed and Failed count cases. A file that could not run counts each of
// its cases (or, when it does not parse, one) as failed.
func (fr *FileResult) Passed() int {
	n := 0
	for _, c := range fr.Cases {
		if c.OK() {
			n++
		}
	}
	return n
}

// Failed counts the failed cases; see Passed.
func (fr *FileResult) Failed() int {
	if fr.Err != nil {
		if fr.file != nil && len(fr.file.Cases) > 0 {
			return len(fr.file.Cases)
		}
		return 1
	}
	return len(fr.Cases) - fr.Passed()
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Name string
	// Failures holds one line per difference or problem; none means the
	// case passed.
	Failures []string
	// Sent lists the backend requests the gateway made, by call and element.
	Sent []Sent
	// Status, Header and Body are the response the gateway gave (Status 0
	// when the case did not get as far as a response).
	Status int
	Header http.Header
	Body   []byte

	c             *Case
	updatable     bool         // the case ran clean: every call stubbed, no harness problem
	statusDiffers bool         // expect.status differs
	bodyDiffers   bool         // expect.body differs
	got           *engine.Node // Body parsed, when JSON
}

// OK reports whether the case passed.
func (cr *CaseResult) OK() bool { return len(cr.Failures) == 0 }

// RunFile runs every case of the test file at fs path testPath.
func (r *Runner) RunFile(ctx context.Context, testPath string) *FileResult {
	fr := &FileResult{Path: testPath, Name: r.display(testPath)}
	src, err := fs.ReadFile(r.FS, testPath)
	if err != nil {
		fr.Err = fmt.Errorf("%s: cannot read: %v", fr.Name, unwrapPathErr(err))
		return fr
	}
	f, err := ParseFile(testPath, fr.Name, src)
	if err != nil {
		fr.Err = err
		return fr
	}
	fr.file = f
	if _, err := fs.Stat(r.FS, f.Spec); err != nil {
		fr.Err = fmt.Errorf("%s: the spec it tests, %s, cannot be read: %v", fr.Name, r.display(f.Spec), unwrapPathErr(err))
		return fr
	}
	// Load once up front so a spec that does not load is reported once, not
	// once per case.
	if _, _, err := r.load(f.Spec, newTransport(nil)); err != nil {
		fr.Err = err
		return fr
	}
	for _, c := range f.Cases {
		if ctx.Err() != nil {
			fr.Cases = append(fr.Cases, &CaseResult{Name: c.Name, c: c, Failures: []string{"not run: " + context.Cause(ctx).Error()}})
			continue
		}
		fr.Cases = append(fr.Cases, r.runCase(ctx, f, c))
	}
	return fr
}

func unwrapPathErr(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// load loads the spec alone, with every backend request going to t. Each
// case gets a fresh gateway, so nothing (balancing, caches) carries over
// from one case to the next.
func (r *Runner) load(spec string, t *transport) (*engine.Gateway, *engine.Plan, error) {
	gw, err := engine.Load(r.FS, r.Config, engine.Options{
		Env:          r.Env,
		Transport:    t,
		DisplayPath:  r.DisplayPath,
		Endpoints:    []string{spec},
		StubServices: true,
		TagCalls:     true,
		TestAuth:     true,
	})
	if err != nil {
		if le, ok := errors.AsType[engine.LoadErrors](err); ok {
			lines := make([]string, 0, len(le))
			for _, e := range le {
				if e.Severity == engine.SevError {
					lines = append(lines, e.Error())
				}
			}
			return nil, nil, fmt.Errorf("the spec does not load:\n%s", strings.Join(lines, "\n"))
		}
		return nil, nil, fmt.Errorf("the spec does not load: %v", err)
	}
	if len(gw.Plans) != 1 {
		return nil, nil, fmt.Errorf("%s did not load as one endpoint", r.display(spec))
	}
	return gw, gw.Plans[0], nil
}

func (r *Runner) runCase(ctx context.Context, f *File, c *Case) *CaseResult {
	cr := &CaseResult{Name: c.Name, c: c}
	t := newTransport(c.Calls)
	gw, plan, err := r.load(f.Spec, t)
	if err != nil {
		cr.Failures = append(cr.Failures, err.Error())
		return cr
	}
	defer gw.Close()
	for _, name := range c.callOrder {
		found := false
		for _, call := range plan.Calls {
			found = found || call.Name == name
		}
		if !found {
			names := make([]string, len(plan.Calls))
			for i, call := range plan.Calls {
				names[i] = call.Name
			}
			cr.Failures = append(cr.Failures, fmt.Sprintf("calls.%s (line %d): the endpoint has no call %q (its calls: %s)",
				name, c.callPos[name].Line, name, strings.Join(names, ", ")))
		}
	}
	if len(cr.Failures) > 0 {
		return cr
	}

	timeout := r.CaseTimeout
	if timeout <= 0 {
		timeout = max(DefaultCaseTimeout, plan.Timeout+2*time.Second)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := c.Request.build(cctx)
	if err != nil {
		cr.Failures = append(cr.Failures, "request: "+err.Error())
		return cr
	}
	if req.Host == testHost {
		req.Host = servedHost(gw.Config.Hosts)
	}
	if err := c.Request.signIn(gw, req); err != nil {
		cr.Failures = append(cr.Failures, err.Error())
		return cr
	}
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		gw.ServeHTTP(rec, req)
	}()
	select {
	case <-done:
	case <-cctx.Done():
		// The engine stops on a cancelled request; give it a moment.
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			cr.Failures = append(cr.Failures, fmt.Sprintf("the gateway did not answer within %v and did not stop when the request was cancelled", timeout))
			cr.Sent = t.Sent()
			return cr
		}
	}
	cr.Sent = t.Sent()
	if cctx.Err() != nil {
		if ctx.Err() != nil {
			cr.Failures = append(cr.Failures, "interrupted: "+context.Cause(ctx).Error())
		} else {
			cr.Failures = append(cr.Failures, fmt.Sprintf("the case did not finish within %v", timeout))
		}
		return cr
	}
	problems := t.Problems()
	cr.Failures = append(cr.Failures, problems...)
	res := rec.Result()
	cr.Status = res.StatusCode
	cr.Header = res.Header
	cr.Body = rec.Body.Bytes()
	cr.updatable = len(problems) == 0
	cr.compare()
	return cr
}

// testHost is the host a case's request names unless its headers set Host.
const testHost = "frontdesk.test"

// servedHost is the host a case's request names when gateway.json lists
// hosts (so the gateway does not answer 421): the first name listed, or a
// subdomain of the first wildcard; testHost without hosts.
func servedHost(hosts []string) string {
	for _, h := range hosts {
		if !strings.HasPrefix(h, "*.") {
			if strings.Contains(h, ":") {
				return "[" + h + "]"
			}
			return h
		}
	}
	if len(hosts) > 0 {
		return "test" + strings.TrimPrefix(hosts[0], "*")
	}
	return testHost
}

// build makes the client request.
func (rq *Request) build(ctx context.Context) (*http.Request, error) {
	u, err := url.Parse("http://" + testHost + rq.Path)
	if err != nil {
		return nil, fmt.Errorf("path %q: %v", rq.Path, err)
	}
	if len(rq.Query) > 0 {
		v := url.Values{}
		for _, q := range rq.Query {
			v.Add(q[0], q[1])
		}
		u.RawQuery = v.Encode()
	}
	var body *bytes.Reader
	if rq.Body != nil {
		body = bytes.NewReader(rq.Body)
	} else {
		body = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, rq.Method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header = rq.Header.Clone()
	if rq.Body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if rq.Body == nil {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	if req.Header.Get("X-Request-Id") == "" {
		req.Header.Set("X-Request-Id", RequestID)
	}
	req.RequestURI = u.RequestURI()
	req.RemoteAddr = "192.0.2.1:40000"
	req.Host = u.Host
	if h := req.Header.Get("Host"); h != "" {
		// As a server sees it: Host is the request's, not a header.
		req.Host = h
		req.Header.Del("Host")
	}
	return req, nil
}

// signIn adds the case's credentials to req: a token the gateway accepts
// for its claims, a key the gateway accepts for its API key client. A
// header the case sets itself is left as it is.
func (rq *Request) signIn(gw *engine.Gateway, req *http.Request) error {
	if rq.Claims != nil && req.Header.Get("Authorization") == "" {
		tok, err := gw.MintToken(rq.Claims)
		if err != nil {
			return fmt.Errorf("request.claims (line %d): %v", rq.claimsP.Line, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if rq.APIKey != "" {
		name, key, err := gw.TestAPIKey(rq.APIKey)
		if err != nil {
			return fmt.Errorf("request.api_key (line %d): %v", rq.apiKeyP.Line, err)
		}
		if req.Header.Get(name) == "" {
			req.Header.Set(name, key)
		}
	}
	return nil
}

// compare checks the response against the case's expectations.
func (cr *CaseResult) compare() {
	e := &cr.c.Expect
	if e.Status != 0 && e.Status != cr.Status {
		cr.statusDiffers = true
		cr.Failures = append(cr.Failures, fmt.Sprintf("status: want %d, got %d", e.Status, cr.Status))
		if len(cr.Body) > 0 {
			cr.Failures = append(cr.Failures, "  got body: "+clip(string(bytes.TrimSpace(cr.Body)), 300))
		}
	}
	for _, h := range e.Headers {
		vals := cr.Header.Values(h[0])
		if len(vals) == 0 && h[1] != "" {
			cr.Failures = append(cr.Failures, fmt.Sprintf("header %s: want %s, got none", h[0], strconv.Quote(h[1])))
			continue
		}
		if got := strings.Join(vals, ", "); got != h[1] {
			want := strconv.Quote(h[1])
			if h[1] == "" {
				want = "none"
			}
			cr.Failures = append(cr.Failures, fmt.Sprintf("header %s: want %s, got %s", h[0], want, strconv.Quote(got)))
		}
	}
	if isJSON(cr.Header.Get("Content-Type")) || json1(cr.Body) {
		if n, err := engine.ParseJSON(cr.Body); err == nil {
			cr.got = n
		}
	}
	if e.Body == nil {
		return
	}
	n := len(cr.Failures)
	defer func() { cr.bodyDiffers = len(cr.Failures) > n }()
	switch {
	case len(cr.Body) == 0:
		cr.Failures = append(cr.Failures, "$: want "+show(e.Body)+", got no body")
		cr.updatable = false
	case cr.got != nil:
		cr.Failures = append(cr.Failures, Diff(e.Body, cr.got, e.Subset)...)
	case e.Body.Kind == engine.KindString:
		// Not JSON (XML, text): compared as text.
		got := strings.TrimSuffix(string(cr.Body), "\n")
		if got != strings.TrimSuffix(e.Body.Str, "\n") {
			cr.Failures = append(cr.Failures, "$: want "+show(e.Body)+", got "+clip(string(appendString(nil, got)), maxShown))
		}
	default:
		cr.Failures = append(cr.Failures, "$: want "+show(e.Body)+", got a body that is not JSON: "+clip(string(cr.Body), maxShown))
	}
}

func isJSON(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// json1 guesses JSON for a body without a JSON Content-Type.
func json1(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

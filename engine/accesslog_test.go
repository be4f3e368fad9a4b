package engine_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"frontdesk/engine"
	"frontdesk/pipeline/auth"
	"frontdesk/pipeline/logs"
)

// syncBuffer is a log sink the race detector accepts. Lines written after
// an answer was flushed (the access line is written once the handler
// returns, and the answer is flushed inside it) are waited for with
// waitFor.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{} // a token after each write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	select {
	case s.signal() <- struct{}{}:
	default:
	}
	return n, err
}

// signal is the write channel, made on first use; s.mu is held.
func (s *syncBuffer) signal() chan struct{} {
	if s.wrote == nil {
		s.wrote = make(chan struct{}, 1)
	}
	return s.wrote
}

// waitFor waits until done holds of the lines written, or 10s have
// passed (the caller's check then says what is missing).
func (s *syncBuffer) waitFor(done func(lines []string) bool) {
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		ch := s.signal()
		s.mu.Unlock()
		if done(s.lines()) {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			return
		}
	}
}

// waitLines waits, within a bound, for at least n lines.
func (s *syncBuffer) waitLines(n int) {
	s.waitFor(func(l []string) bool { return len(l) >= n && (n == 0 || l[0] != "") })
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

// accessGateway serves endpoints behind JWT, API keys and a cache, with a
// failing backend, logging to a buffer.
func accessGateway(t *testing.T, logCfg string) (*httptest.Server, *syncBuffer, *logs.Output) {
	t.Helper()
	ok := jsonBackend(t, `{"name": "Ada"}`)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"secret": "backend-internal"}`)
	}))
	t.Cleanup(failing.Close)
	keys := `{"clients": {"partner-x": {"sha256": ["` + auth.HashKey(partnerKey) + `"]}}}`
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"],
  "services": {"user": {"urls": ["` + ok.URL + `"]}, "down": {"urls": ["` + failing.URL + `"], "retry": {"attempts": 1}}},
  "auth": {"jwt": {"public_keys": ["issuer.pem"], "algorithms": ["EdDSA"], "issuer": "https://id.test/", "audience": "shop"},
           "api_keys": {"file": "keys.json"}}` + logCfg + `}`)},
		"issuer.pem": {Data: pemOf(t, edKey(t).Public())},
		"keys.json":  {Data: []byte(keys)},
		"e/me.json": {Data: []byte(`{"method": "GET", "path": "/me/{id}", "auth": {"require": ["jwt"]},
  "calls": {"user": {"service": "user", "path": "/users/${params.id}"}, "extra": {"service": "user", "path": "/x", "when": "false"}}}`)},
		"e/k.json": {Data: []byte(`{"method": "GET", "path": "/k", "auth": {"require": ["api_key"]},
  "calls": {"user": {"service": "user", "path": "/u"}}}`)},
		"e/c.json": {Data: []byte(`{"method": "GET", "path": "/c", "cache": {"ttl": "1h"},
  "calls": {"user": {"service": "user", "path": "/u"}}}`)},
		"e/bad.json": {Data: []byte(`{"method": "GET", "path": "/bad", "calls": {"d": {"service": "down", "path": "/"}}}`)},
	}
	sink := &syncBuffer{}
	out := logs.New(sink)
	gw, err := engine.Load(fsys, "gateway.json", engine.Options{Output: out, Logger: out.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	lc := gw.Config.Log
	level, _ := logs.ParseLevel(lc.Level)
	out.Set(level, lc.Format == "text", lc.Access)
	t.Cleanup(gw.Close)
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv, sink, out
}

func send(t *testing.T, srv *httptest.Server, path string, header ...string) int {
	t.Helper()
	status, _ := sendBody(t, srv, path, header...)
	return status
}

// sendBody sends GET path with the header pairs given and returns the
// status and the length of the body read.
func sendBody(t *testing.T, srv *httptest.Server, path string, header ...string) (int, int) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, len(b)
}

type accessLine struct {
	Time      string  `json:"time"`
	Level     string  `json:"level"`
	Msg       string  `json:"msg"`
	RequestID string  `json:"request_id"`
	Method    string  `json:"method"`
	Route     *string `json:"route"`
	Status    int     `json:"status"`
	Duration  float64 `json:"duration_ms"`
	Bytes     int64   `json:"bytes"`
	Client    string  `json:"client"`
	Cache     string  `json:"cache"`
	Calls     []struct {
		Name     string  `json:"name"`
		Status   int     `json:"status"`
		Duration float64 `json:"duration_ms"`
		Error    string  `json:"error"`
		Skipped  bool    `json:"skipped"`
	} `json:"calls"`
}

// requestLines waits, within a bound, for want "request" lines, then parses
// every line; each must be valid JSON, and the "request" ones are returned
// in order.
func requestLines(t *testing.T, sink *syncBuffer, want int) []accessLine {
	t.Helper()
	sink.waitFor(func(lines []string) bool {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, `"msg":"request"`) {
				n++
			}
		}
		return n >= want
	})
	var out []accessLine
	for _, l := range sink.lines() {
		if l == "" {
			continue
		}
		var a accessLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("a log line is not JSON: %v\n%s", err, l)
		}
		if a.Msg == "request" {
			out = append(out, a)
		}
	}
	return out
}

func TestAccessLog(t *testing.T) {
	srv, sink, _ := accessGateway(t, "")
	tok := token(t, map[string]any{"sub": "user-7"})
	_, meBytes := sendBody(t, srv, "/me/u1?secret=q", "Authorization", "Bearer "+tok, "X-Request-Id", "rid-1", "Cookie", "session=cookie-value")
	send(t, srv, "/k", "X-API-Key", partnerKey)
	send(t, srv, "/c")
	send(t, srv, "/c")
	send(t, srv, "/bad")
	send(t, srv, "/nope")
	send(t, srv, "/me/u1", "Authorization", "Bearer not-a-token")

	lines := requestLines(t, sink, 7)
	if len(lines) != 7 {
		t.Fatalf("%d request lines for 7 requests:\n%s", len(lines), strings.Join(sink.lines(), "\n"))
	}
	me := lines[0]
	if me.Level != "INFO" || me.RequestID != "rid-1" || me.Method != "GET" || me.Route == nil || *me.Route != "/me/{id}" ||
		me.Status != 200 || me.Duration <= 0 || me.Bytes != int64(meBytes) || meBytes == 0 || me.Client != "user-7" || me.Cache != "" || me.Time == "" {
		t.Errorf("the JWT request's line: %+v", me)
	}
	if len(me.Calls) != 2 || me.Calls[0].Name != "user" || me.Calls[0].Status != 200 || me.Calls[0].Error != "" ||
		me.Calls[1].Name != "extra" || !me.Calls[1].Skipped {
		t.Errorf("the JWT request's calls: %+v", me.Calls)
	}
	if k := lines[1]; k.Client != "partner-x" || k.Status != 200 {
		t.Errorf("the API key request's line: %+v", k)
	}
	if miss, hit := lines[2], lines[3]; miss.Cache != "miss" || len(miss.Calls) != 1 || hit.Cache != "hit" || len(hit.Calls) != 0 || hit.Status != 200 {
		t.Errorf("cache miss then hit: %+v / %+v", miss, hit)
	}
	if bad := lines[4]; bad.Status != 502 || len(bad.Calls) != 1 || bad.Calls[0].Status != 503 || bad.Calls[0].Error != "status" {
		t.Errorf("the failed call's line: %+v", bad)
	}
	if nope := lines[5]; nope.Status != 404 || nope.Route != nil || nope.Calls != nil {
		t.Errorf("an unrouted request: %+v (want no route, no calls)", nope)
	}
	if refused := lines[6]; refused.Status != 401 || refused.Client != "" || len(refused.Calls) != 0 {
		t.Errorf("a refused token: %+v", refused)
	}
	all := strings.Join(sink.lines(), "\n")
	for _, secret := range []string{tok, partnerKey, "not-a-token", "cookie-value", "secret=q", "backend-internal", "Bearer"} {
		if strings.Contains(all, secret) {
			t.Errorf("the logs hold %q:\n%s", secret, all)
		}
	}
}

// The subject of a token is the client's to choose: whatever it holds,
// the line stays one valid JSON object.
func TestAccessLogEscapes(t *testing.T) {
	srv, sink, _ := accessGateway(t, "")
	sub := "a\"b\\c\nd\u2028e\x01f\xffg"
	send(t, srv, "/me/u1", "Authorization", "Bearer "+token(t, map[string]any{"sub": sub}))
	lines := requestLines(t, sink, 1)
	if len(lines) != 1 || lines[0].Client != strings.Replace(sub, "\xff", "\ufffd", 1) {
		t.Fatalf("client = %q, want %q", lines[0].Client, sub)
	}
}

func TestAccessLogFormatsAndSwitches(t *testing.T) {
	srv, sink, _ := accessGateway(t, `, "log": {"format": "text"}`)
	send(t, srv, "/c")
	sink.waitLines(1)
	l := sink.lines()
	if len(l) != 1 || !strings.HasPrefix(l[0], "time=") || !strings.Contains(l[0], " level=INFO msg=request ") ||
		!strings.Contains(l[0], " route=/c status=200 ") || !strings.Contains(l[0], ` cache=miss calls="user:200:`) {
		t.Fatalf("text line: %q", l)
	}

	srv, sink, _ = accessGateway(t, `, "log": {"access": false}`)
	send(t, srv, "/c")
	send(t, srv, "/bad")
	if n := len(requestLines(t, sink, 0)); n != 0 {
		t.Fatalf("access false: %d request lines", n)
	}

	srv, sink, _ = accessGateway(t, `, "log": {"level": "warn"}`)
	send(t, srv, "/c")
	if n := len(requestLines(t, sink, 0)); n != 0 {
		t.Fatalf("level warn: %d request lines", n)
	}

	srv, sink, out := accessGateway(t, "")
	out.Set(slog.LevelInfo, true, true) // as a flag or a reload would
	send(t, srv, "/c")
	sink.waitLines(1)
	if l := sink.lines(); len(l) != 1 || !strings.HasPrefix(l[0], "time=") {
		t.Fatalf("after Set to text: %q", l)
	}
}

func TestLogConfigErrors(t *testing.T) {
	for cfg, want := range map[string]string{
		`{"log": {"level": "loud"}}`: `gateway.json:1:19: error: log.level must be "debug", "info", "warn" or "error", not "loud"`,
		`{"log": {"format": "xml"}}`: `gateway.json:1:20: error: log.format must be "json" or "text", not "xml"`,
		`{"log": {"access": "yes"}}`: `gateway.json:1:20:`,
		`{"log": {"colour": true}}`:  `gateway.json:1:10: error: unknown key "colour" in log`,
	} {
		_, err := engine.Load(fstest.MapFS{"gateway.json": {Data: []byte(cfg)}}, "gateway.json", engine.Options{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", cfg, err, want)
		}
	}
}

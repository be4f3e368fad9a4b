package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// startGateway runs the real frontdesk process (this test binary, as
// main) serving one endpoint in front of backend, and returns its address.
// Each line the process logs goes to the returned channel.
func startGateway(t *testing.T, backend string) (*exec.Cmd, string, chan string) {
	t.Helper()
	g := startGatewayIn(t, t.TempDir(), backend)
	return g.cmd, g.addr, g.logs
}

// process is a gateway started by startGatewayIn.
type process struct {
	cmd         *exec.Cmd
	addr, admin string // host:port of the public and the admin listener
	logs        chan string
	dir         string // holds gateway.json and e/x.json
}

var loopbackAddr = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)

func startGatewayIn(t *testing.T, dir, backend string, flags ...string) *process {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "e"), 0o755)
	if _, err := os.Stat(filepath.Join(dir, "gateway.json")); err != nil { // a test may bring its own
		os.WriteFile(filepath.Join(dir, "gateway.json"), []byte(`{"listen": "127.0.0.1:0", "admin_listen": "127.0.0.1:0", "endpoints": ["e"],
		"services": {"s": {"urls": ["`+backend+`"]}}, "shutdown_timeout": "5s"}`), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "e", "x.json"), []byte(`{"method": "GET", "path": "/x", "calls": {"c": {"service": "s", "path": "/"}}}`), 0o644)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, append([]string{"serve", "-c", filepath.Join(dir, "gateway.json")}, flags...)...)
	cmd.Env = append(os.Environ(), "FRONTDESK_RUN_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 100)
	admin := make(chan string, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "frontdesk listening on http://"); ok {
				addr <- strings.Fields(rest)[0]
			}
		}
	}()
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "admin listening") {
				admin <- loopbackAddr.FindString(sc.Text())
			}
			select {
			case logs <- sc.Text():
			default: // nobody is waiting for this one
			}
		}
	}()
	p := &process{cmd: cmd, logs: logs, dir: dir}
	for p.addr == "" || p.admin == "" {
		select {
		case p.addr = <-addr:
		case p.admin = <-admin:
		case <-time.After(30 * time.Second):
			t.Fatal("the gateway did not start")
		}
	}
	return p
}

// okBackend is a backend answering {"ok": true} to everything, closed at
// the test's end.
func okBackend(t *testing.T) *httptest.Server {
	t.Helper()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok": true}`)
	}))
	t.Cleanup(b.Close)
	return b
}

// awaitLog waits, within a bound, for a logged line holding want.
func awaitLog(t *testing.T, logs chan string, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l := <-logs:
			if strings.Contains(l, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no log line with %q within 10s", want)
		}
	}
}

// TestSignals: SIGHUP does not stop the gateway (it logs and keeps
// serving); SIGTERM drains and exits 0.
func TestSignals(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"ok": true}`) }))
	defer backend.Close()
	cmd, addr, logs := startGateway(t, backend.URL)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	get := func() error {
		resp, err := client.Get("http://" + addr + "/x")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		awaitLog(t, logs, "SIGHUP received")
		awaitLog(t, logs, "reloaded")
		if err := get(); err != nil {
			t.Fatalf("after SIGHUP: %v", err)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of SIGTERM")
	}
}

// TestShutdownDrains: a request in flight when SIGTERM arrives is answered
// in full; then the process exits 0.
func TestShutdownDrains(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok": true}`)
	}))
	defer backend.Close()
	g := startGatewayIn(t, t.TempDir(), backend.URL)
	cmd, addr, logs := g.cmd, g.addr, g.logs
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	answered := make(chan error, 1)
	go func() {
		resp, err := client.Get("http://" + addr + "/x")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"ok":true`) {
				err = fmt.Errorf("%d %s", resp.StatusCode, b)
			}
		}
		answered <- err
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the backend")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	awaitLog(t, logs, "shutting down")
	// Not ready while draining; the admin listener is still up.
	resp, err := client.Get("http://" + g.admin + "/readyz")
	if err != nil {
		t.Fatalf("/readyz while draining: %v (the admin listener must close last)", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %d, want 503", resp.StatusCode)
	}
	close(release) // the backend answers only once shutdown has begun
	select {
	case err := <-answered:
		if err != nil {
			t.Errorf("the request in flight at SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request in flight was never answered")
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after draining")
	}
}

// TestListenerOpensBeforeKeys: a JWKS endpoint that hangs does not keep
// the public listener closed. The gateway serves a public endpoint while
// its first key fetch is still held by the key server; without a key set
// a token is answered 503.
func TestListenerOpensBeforeKeys(t *testing.T) {
	backend := okBackend(t)
	release := make(chan struct{})
	fetching := make(chan struct{}, 1)
	var held atomic.Int32 // fetches that arrived and are not over
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held.Add(1)
		defer held.Add(-1)
		select {
		case fetching <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer jwks.Close()
	defer close(release)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "gateway.json"), []byte(`{"listen": "127.0.0.1:0", "admin_listen": "127.0.0.1:0", "endpoints": ["e"],
		"services": {"s": {"urls": ["`+backend.URL+`"]}}, "shutdown_timeout": "5s",
		"auth": {"jwt": {"jwks_url": "`+jwks.URL+`/jwks.json", "algorithms": ["RS256"]}}}`), 0o644)
	g := startGatewayIn(t, dir, backend.URL)
	select {
	case <-fetching:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway never asked for its keys")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + g.addr + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a public endpoint: %d", resp.StatusCode)
	}
	if held.Load() == 0 {
		t.Fatal("the listener opened only after the key fetch was over; it must open at once")
	}
}

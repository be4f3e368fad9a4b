// Package redistest gives tests a Redis server: the shared one named by
// FRONTDESK_REDIS_URL (which .ci/run starts), or a private redis-server
// process a test can stop and start again.
//
// Without a server a test skips with a message saying how to get one;
// with CI set in the environment it fails instead, so CI never passes by
// skipping.
package redistest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvURL names the shared test server.
const EnvURL = "FRONTDESK_REDIS_URL"

// startTimeout bounds the wait for a redis-server to accept connections.
const startTimeout = 10 * time.Second

// missing skips t, or fails it under CI.
func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s, and CI is set: Redis tests must run in CI (.ci/run starts redis-server and sets %s)", why, EnvURL)
	}
	t.Skipf("%s: skipping a test that needs Redis (set %s=redis://127.0.0.1:6379/0, or run .ci/run)", why, EnvURL)
}

// URL is the shared test server's URL, or skips (fails under CI).
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		missing(t, EnvURL+" is not set")
	}
	return u
}

// Prefix is a key prefix of its own for one test, so tests and packages
// sharing one server never see each other's keys.
func Prefix(t testing.TB) string {
	var b [6]byte
	rand.Read(b[:])
	return "fdtest:" + hex.EncodeToString(b[:]) + ":"
}

// Server is a redis-server process of one test, on a free loopback port,
// with nothing saved to disk. Stop and Start may be called in turn; the
// port stays the same, so clients reconnect by themselves.
type Server struct {
	t    testing.TB
	bin  string
	port int
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a private redis-server, stopped when the test ends. It
// skips (fails under CI) when redis-server is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "redis-server is not installed")
	}
	s := &Server{t: t, bin: bin, port: freePort(t), dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Start starts the process (again) and returns once it accepts
// connections, as its own log says, within startTimeout.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", s.dir, "--loglevel", "notice")
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redis-server: %v", err)
	}
	ready := make(chan struct{})
	done := make(chan struct{})
	var log strings.Builder
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		signaled := false
		for sc.Scan() {
			if log.Len() < 16<<10 {
				log.WriteString(sc.Text() + "\n")
			}
			if !signaled && strings.Contains(sc.Text(), "Ready to accept connections") {
				signaled = true
				close(ready)
			}
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
	}()
	t := time.NewTimer(startTimeout)
	defer t.Stop()
	select {
	case <-ready:
	case <-done:
		s.t.Fatalf("redis-server on port %d exited at start:\n%s", s.port, log.String())
	case <-t.C:
		cmd.Process.Kill()
		<-done
		s.t.Fatalf("redis-server on port %d not ready within %s", s.port, startTimeout)
	}
	s.cmd, s.done = cmd, done
}

// Stop kills the process and waits for it to exit: its port refuses
// connections from then on.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd, s.done = nil, nil
}

// freePort asks the kernel for a free loopback port.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// String names the server in messages.
func (s *Server) String() string { return fmt.Sprintf("redis-server on %s", s.Addr()) }

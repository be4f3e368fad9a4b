package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// TestConnectionsPerIP: the real process closes a client address's
// connections past limits.max_connections_per_ip (a reload changes the
// bound), serves other addresses all along, and counts each refusal in
// frontdesk_connections_refused_total{reason="per_ip"}, a count a reload
// keeps. Loopback addresses other than 127.0.0.1 are distinct clients.
func TestConnectionsPerIP(t *testing.T) {
	backend := okBackend(t)
	g := startGatewayIn(t, t.TempDir(), backend.URL)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	admin := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	adminDo := func(method, path string) string {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+g.admin+path, nil)
		resp, err := admin.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return string(b)
	}
	refusedRE := regexp.MustCompile(`(?m)^frontdesk_connections_refused_total\{reason="per_ip"\} (\d+)$`)
	refused := func() string {
		t.Helper()
		m := refusedRE.FindStringSubmatch(adminDo("GET", "/metrics"))
		if m == nil {
			t.Fatal("no frontdesk_connections_refused_total{reason=\"per_ip\"} series")
		}
		return m[1]
	}
	if n := refused(); n != "0" {
		t.Fatalf("refused %s at start", n)
	}

	// The bound down to 2, by a reload.
	cfg := filepath.Join(g.dir, "gateway.json")
	b, _ := os.ReadFile(cfg)
	b = regexp.MustCompile(`"shutdown_timeout"`).ReplaceAll(b, []byte(`"limits": {"max_connections_per_ip": 2}, "shutdown_timeout"`))
	os.WriteFile(cfg+".tmp", b, 0o644)
	os.Rename(cfg+".tmp", cfg)
	adminDo("POST", "/reload")

	dial := func(src string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		return d.Dial("tcp", g.addr)
	}
	// get asks for /x on a new connection from src, which it leaves open.
	get := func(src string) error {
		t.Helper()
		c, err := dial(src)
		if err != nil {
			return err
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("from %s: %d", src, resp.StatusCode)
		}
		return nil
	}
	// refusedNow dials from src and reports whether the connection is
	// closed without an answer.
	refusedNow := func(src string) bool {
		t.Helper()
		c, err := dial(src)
		if errors.Is(err, syscall.ECONNRESET) {
			return true // reset before Dial returned
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
		_, err = http.ReadResponse(bufio.NewReader(c), nil)
		return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
	}
	for i := range 2 {
		if err := get("127.0.0.2"); err != nil {
			t.Fatalf("connection %d within the bound: %v", i, err)
		}
	}
	for i := range 3 {
		if !refusedNow("127.0.0.2") {
			t.Fatalf("connection %d over the bound was served", 2+i)
		}
	}
	if err := get("127.0.0.3"); err != nil {
		t.Errorf("another address was not served: %v", err)
	}
	if n := refused(); n != "3" {
		t.Errorf("refused %s, want 3", n)
	}
	// A reload keeps the count, and counting goes on.
	adminDo("POST", "/reload")
	if n := refused(); n != "3" {
		t.Errorf("refused %s after a reload, want 3", n)
	}
	if !refusedNow("127.0.0.2") {
		t.Fatal("served over the bound after a reload")
	}
	if n := refused(); n != "4" {
		t.Errorf("refused %s, want 4", n)
	}
}

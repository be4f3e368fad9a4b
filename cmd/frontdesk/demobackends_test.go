package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDemoBackends starts `frontdesk demo-backends` on free loopback ports,
// asks each service for what the load test asks, and stops it.
func TestDemoBackends(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo-backends", "-addr", "127.0.0.1:0", "-delay-of", "user=30ms"},
			func(string) (string, bool) { return "", false }, pw, io.Discard)
		pw.Close()
	}()
	urls := map[string]string{}
	ready := make(chan bool, 1)
	go func() {
		lines := bufio.NewScanner(pr)
		ok := false
		for lines.Scan() {
			if lines.Text() == "demo backends ready" {
				ok = true
				break
			}
			if f := strings.Fields(lines.Text()); len(f) >= 2 {
				urls[f[0]] = f[1]
			}
		}
		ready <- ok
		io.Copy(io.Discard, pr)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("demo-backends did not start: %v", <-done)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo-backends printed no ready line in 10s")
	}

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	get := func(svc, path string) (string, http.Header, time.Duration) {
		t.Helper()
		if urls[svc] == "" {
			t.Fatalf("no URL printed for %s: %v", svc, urls)
		}
		t0 := time.Now()
		resp, err := client.Get(urls[svc] + path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s%s: %d %v", svc, path, resp.StatusCode, err)
		}
		return string(b), resp.Header, time.Since(t0)
	}

	// The sizes the load test's cases are modelled on: user ~0.5 KB, cart
	// ~2.3 KB, the cart's products ~4.3 KB, its inventory ~1.6 KB of XML.
	sizes := []struct {
		svc, path string
		min, max  int
	}{
		{"user", "/users/u1", 450, 600},
		{"cart", "/carts/c1", 2100, 2600},
		{"catalog", "/products?skus=A1,B2,C3,D4", 4000, 4700},
		{"inventory", "/stock?skus=A1,B2,C3,D4", 1450, 1800},
	}
	for _, s := range sizes {
		body, h, took := get(s.svc, s.path)
		if len(body) < s.min || len(body) > s.max {
			t.Errorf("%s%s: %d bytes, want %d..%d", s.svc, s.path, len(body), s.min, s.max)
		}
		switch s.svc {
		case "user":
			var u map[string]any
			if err := json.Unmarshal([]byte(body), &u); err != nil || u["name"] != "Ada Lovelace" {
				t.Errorf("user: %v %v", err, u["name"])
			}
			if took < 30*time.Millisecond {
				t.Errorf("user answered in %s despite -delay-of user=30ms", took)
			}
		case "inventory":
			if !strings.HasPrefix(h.Get("Content-Type"), "application/xml") || !strings.Contains(body, `<item sku="D4">`) {
				t.Errorf("inventory: %s %.80q", h.Get("Content-Type"), body)
			}
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo-backends returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo-backends did not stop")
	}
}

func TestParseDelays(t *testing.T) {
	m, err := parseDelays(time.Millisecond, "user=5ms, inventory=0s")
	if err != nil {
		t.Fatal(err)
	}
	if m["user"] != 5*time.Millisecond || m["inventory"] != 0 || m["cart"] != time.Millisecond {
		t.Errorf("delays = %v", m)
	}
	for _, bad := range []string{"user", "nobody=1ms", "user=fast", "user=-1ms"} {
		if _, err := parseDelays(0, bad); err == nil {
			t.Errorf("parseDelays(%q) accepted", bad)
		}
	}
}

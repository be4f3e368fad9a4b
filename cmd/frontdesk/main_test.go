package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain runs the tests, or, with FRONTDESK_RUN_MAIN=1, the command itself,
// so a test can start the real process and send it signals.
func TestMain(m *testing.M) {
	if os.Getenv("FRONTDESK_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestServeDemo starts `frontdesk serve --demo` as a user would and asks for
// the composed checkout.
func TestServeDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	env := func(k string) (string, bool) {
		switch k {
		case "LISTEN", "ADMIN_LISTEN":
			return "127.0.0.1:0", true
		}
		return "", false
	}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--demo"}, env, pw, io.Discard)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	addr := ""
	for lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), "frontdesk listening on "); ok {
			addr = strings.Fields(a)[0]
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if addr == "" {
		cancel()
		t.Fatalf("serve did not start: %v", <-done)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer client.Transport.(*http.Transport).CloseIdleConnections()

	resp, err := client.Get(addr + "/checkout/c1")
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, decode %v", resp.StatusCode, err)
	}
	if out["greeting"] != "Hello, Ada Lovelace" {
		t.Errorf("greeting = %v", out["greeting"])
	}
	if resp.Header.Get("Server-Timing") == "" || resp.Header.Get("Set-Cookie") == "" {
		t.Errorf("headers: %v", resp.Header)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestUnknownCommand(t *testing.T) {
	var stderr strings.Builder
	err := run(context.Background(), []string{"nope"}, func(string) (string, bool) { return "", false }, io.Discard, &stderr)
	if code, ok := err.(exitCode); !ok || code != 2 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(stderr.String(), `unknown command "nope"`) {
		t.Errorf("stderr = %q", stderr.String())
	}
}

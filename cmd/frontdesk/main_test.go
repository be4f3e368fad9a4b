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

	// The protected demo endpoints, as the README's curls use them: a
	// token from demo-token, checked against the demo issuer's JWKS, and
	// the demo partner's API key.
	var tok strings.Builder
	if err := run(ctx, []string{"demo-token", "-sub", "u1"}, env, &tok, io.Discard); err != nil {
		t.Fatal(err)
	}
	get := func(path, header, value string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", addr+path, nil)
		if header != "" {
			req.Header.Set(header, value)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if status, body := get("/account", "Authorization", "Bearer "+strings.TrimSpace(tok.String())); status != 200 || body["name"] != "Ada Lovelace" {
		t.Errorf("/account with a demo token: %d %v", status, body)
	}
	if status, _ := get("/account", "", ""); status != 401 {
		t.Errorf("/account without a token: %d", status)
	}
	if status, body := get("/partner/stock/A1", "X-API-Key", "demo-partner-key-2026"); status != 200 || body["partner"] != "demo-partner" {
		t.Errorf("/partner/stock/A1 with the demo key: %d %v", status, body)
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

func TestHashKey(t *testing.T) {
	defer func(r io.Reader) { stdin = r }(stdin)
	for in, want := range map[string]string{
		"demo-partner-key-2026":   "989bc888275a4d4165dfcb76e1c6a154be195a52b0fc64b4d549b70d0c381451\n",
		"demo-partner-key-2026\n": "989bc888275a4d4165dfcb76e1c6a154be195a52b0fc64b4d549b70d0c381451\n",
	} {
		stdin = strings.NewReader(in)
		var out strings.Builder
		if err := run(context.Background(), []string{"hash-key"}, noEnv, &out, io.Discard); err != nil || out.String() != want {
			t.Errorf("%q: %q, %v", in, out.String(), err)
		}
	}
	stdin = strings.NewReader("")
	var errOut strings.Builder
	if err := run(context.Background(), []string{"hash-key"}, noEnv, io.Discard, &errOut); err != exitCode(2) || !strings.Contains(errOut.String(), "no key") {
		t.Errorf("empty input: %v %q", err, errOut.String())
	}
	if err := run(context.Background(), []string{"hash-key", "my-key"}, noEnv, io.Discard, &errOut); err != exitCode(2) {
		t.Errorf("a key as an argument: %v", err)
	}
}

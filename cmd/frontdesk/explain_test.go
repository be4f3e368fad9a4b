package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func noEnv(string) (string, bool) { return "", false }

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut strings.Builder
	err := run(context.Background(), args, noEnv, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestExplain(t *testing.T) {
	for _, tc := range []struct{ golden, format, method, path string }{
		{"explain/checkout.txt", "text", "GET", "/checkout/c1"},
		{"explain/checkout.mermaid", "mermaid", "GET", "/checkout/{cart_id}"},
		{"explain/home.json", "json", "get", "/m/home"},
		{"explain/product.txt", "text", "GET", "/products/B2"},
		{"explain/account.txt", "text", "GET", "/account"},
		{"explain/partner_stock.json", "json", "GET", "/partner/stock/A1"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out, errOut, err := runCLI(t, "explain", "-c", "../../endpoints/gateway.json", "--format", tc.format, tc.method, tc.path)
			if err != nil {
				t.Fatalf("%v: %s", err, errOut)
			}
			golden(t, tc.golden, out)
		})
	}
}

// TestExplainResilience: each call's balancing, breaker, retry and hedge
// settings, a call's own keys over its service's, and none for a POST.
func TestExplainResilience(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			out, errOut, err := runCLI(t, "explain", "-c", "../../testdata/explain/resilience/gateway.json", "--format", format, "POST", "/order/c1")
			if err != nil {
				t.Fatalf("%v: %s", err, errOut)
			}
			golden(t, "explain/resilience."+map[string]string{"text": "txt", "json": "json"}[format], out)
		})
	}
}

func TestExplainErrors(t *testing.T) {
	_, errOut, err := runCLI(t, "explain", "-c", "../../endpoints/gateway.json", "GET", "/nowhere")
	if err != exitCode(1) || !strings.Contains(errOut, "no endpoint serves GET /nowhere") {
		t.Errorf("unknown route: %v %q", err, errOut)
	}
	_, _, err = runCLI(t, "explain", "-c", "../../endpoints/gateway.json", "GET")
	if err != exitCode(2) {
		t.Errorf("missing PATH: %v", err)
	}
	_, errOut, err = runCLI(t, "explain", "-c", "../../endpoints/gateway.json", "--format", "svg", "GET", "/m/home")
	if err != exitCode(2) || !strings.Contains(errOut, "--format") {
		t.Errorf("bad format: %v %q", err, errOut)
	}
}

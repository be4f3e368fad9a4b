package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		v    bool
		n, c string
	}{
		{args: nil},
		{args: []string{"a", "b"}, pos: []string{"a", "b"}},
		{args: []string{"-n", "3", "a"}, pos: []string{"a"}, n: "3"},
		{args: []string{"a", "-n", "3", "b"}, pos: []string{"a", "b"}, n: "3"},
		{args: []string{"a", "b", "--n=3"}, pos: []string{"a", "b"}, n: "3"},
		{args: []string{"a", "-n", "-v", "b"}, pos: []string{"a", "b"}, n: "-v"},
		// A boolean flag takes no separate value.
		{args: []string{"-v", "a"}, pos: []string{"a"}, v: true},
		{args: []string{"a", "--v", "b", "-c", "x"}, pos: []string{"a", "b"}, v: true, c: "x"},
		{args: []string{"a", "-v=false", "b"}, pos: []string{"a", "b"}},
		// "--" ends the flags, wherever it stands.
		{args: []string{"--", "-v", "a"}, pos: []string{"-v", "a"}},
		{args: []string{"a", "--", "b", "-v", "-n", "3"}, pos: []string{"a", "b", "-v", "-n", "3"}},
		{args: []string{"-n", "3", "--", "a", "-v"}, pos: []string{"a", "-v"}, n: "3"},
		{args: []string{"a", "-v", "--", "--"}, pos: []string{"a", "--"}, v: true},
		// ... but not as a flag's value.
		{args: []string{"-c", "--", "a", "-v"}, pos: []string{"a"}, v: true, c: "--"},
		{args: []string{"a", "-c", "--", "b", "-v"}, pos: []string{"a", "b"}, v: true, c: "--"},
		{args: []string{"a", "-n", "-c", "--", "b", "-v"}, pos: []string{"a", "b", "-v"}, n: "-c"},
		// A lone dash is a positional (stdin, by convention).
		{args: []string{"-", "-v"}, pos: []string{"-"}, v: true},
	} {
		fl := flag.NewFlagSet("t", flag.ContinueOnError)
		fl.SetOutput(io.Discard)
		v := fl.Bool("v", false, "")
		n := fl.String("n", "", "")
		c := fl.String("c", "", "")
		pos, err := parseArgs(fl, tc.args)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !reflect.DeepEqual(pos, tc.pos) || *v != tc.v || *n != tc.n || *c != tc.c {
			t.Errorf("%q: positionals %q, -v %v, -n %q, -c %q; want %q, %v, %q, %q",
				tc.args, pos, *v, *n, *c, tc.pos, tc.v, tc.n, tc.c)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"a", "-nope"},
		{"a", "b", "-n"}, // a value missing at the end
		{"a", "-v=maybe"},
		{"a", "---n", "3"},
	} {
		fl := flag.NewFlagSet("t", flag.ContinueOnError)
		var said strings.Builder
		fl.SetOutput(&said)
		fl.Bool("v", false, "")
		fl.String("n", "", "")
		if pos, err := parseArgs(fl, args); err == nil {
			t.Errorf("%q: no error, positionals %q", args, pos)
		} else if !strings.Contains(said.String(), "Usage of t:") {
			t.Errorf("%q: %v, usage not printed: %q", args, err, said.String())
		}
	}
}

// TestExplainFlagsAfterPositionals is explain as users type it, with the
// flags after METHOD PATH or between them.
func TestExplainFlagsAfterPositionals(t *testing.T) {
	want, err := os.ReadFile("../../testdata/explain/checkout.mermaid")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"explain", "GET", "/checkout/{cart_id}", "--format", "mermaid", "-c", "../../endpoints/gateway.json"},
		{"explain", "GET", "-c=../../endpoints/gateway.json", "/checkout/{cart_id}", "-format=mermaid"},
	} {
		out, errOut, err := runCLI(t, args...)
		if err != nil || out != string(want) {
			t.Errorf("%q: %v\nstdout:\n%s\nstderr:\n%s", args, err, out, errOut)
		}
	}
}

func TestLintFlagsAfterPositionals(t *testing.T) {
	out, errOut, err := runCLI(t, "lint", "../../endpoints", "--format", "json")
	if err != nil || out != "[]\n" {
		t.Errorf("lint ../../endpoints --format json: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
}

func TestSpecTestFlagsAfterPositionals(t *testing.T) {
	dir := stTempSpec(t, stTest)
	stdout, stderr, err := stRun(t, filepath.Join(dir, "api"), "--format", "json", "-c", filepath.Join(dir, "gateway.json"))
	var rep struct{ Passed, Failed int }
	if code, ok := err.(exitCode); !ok || code != 1 || json.Unmarshal([]byte(stdout), &rep) != nil || rep.Passed != 1 || rep.Failed != 1 {
		t.Errorf("err = %v, report %+v\nstdout:\n%s\nstderr:\n%s", err, rep, stdout, stderr)
	}
}

// TestSpecTestDashDash: after "--" every argument is a path, even one that
// looks like a flag.
func TestSpecTestDashDash(t *testing.T) {
	dir := stTempSpec(t, stTest)
	api := filepath.Join(dir, "api")
	stdout, stderr, err := stRun(t, "--", api, "--format", "json")
	if code, ok := err.(exitCode); !ok || code != 2 || !strings.Contains(stderr, "--format") || strings.HasPrefix(stdout, "{") {
		t.Errorf("test -- PATH --format json: err = %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	// A path that starts with a dash, given after "--".
	t.Chdir(dir)
	if err := os.Rename("api", "-api"); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err = stRun(t, "--format", "json", "--", "-api")
	var rep struct{ Passed, Failed int }
	if code, ok := err.(exitCode); !ok || code != 1 || json.Unmarshal([]byte(stdout), &rep) != nil || rep.Passed != 1 {
		t.Errorf("test --format json -- -api: err = %v, report %+v\nstdout:\n%s\nstderr:\n%s", err, rep, stdout, stderr)
	}
}

// runCanceled runs the command with its context already canceled, so that
// one which did start serving would stop at once rather than hang the test.
func runCanceled(args ...string) (string, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env := func(k string) (string, bool) {
		if k == "LISTEN" || k == "ADMIN_LISTEN" {
			return "127.0.0.1:0", true
		}
		return "", false
	}
	var errOut strings.Builder
	err := run(ctx, args, env, io.Discard, &errOut)
	return errOut.String(), err
}

// TestNoPositionalCommands: serve and demo-backends take no positionals;
// the flags after a stray one are still read, and the stray one is named.
// A boolean flag does not swallow the positional after it.
func TestNoPositionalCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--demo", "stray"}, `frontdesk serve: unexpected argument "stray"`},
		{[]string{"serve", "stray", "--listen", "127.0.0.1:0", "--demo"}, `frontdesk serve: unexpected argument "stray"`},
		{[]string{"serve", "stray", "--demo=maybe"}, `invalid boolean value "maybe" for -demo`},
		{[]string{"demo-backends", "stray", "-delay", "soon"}, `invalid value "soon" for flag -delay`},
		{[]string{"demo-backends", "-addr", "127.0.0.1:0", "--", "-delay"}, `demo-backends: unexpected argument "-delay"`},
	} {
		errOut, err := runCanceled(tc.args...)
		if err != exitCode(2) || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: err = %v, stderr = %q, want exit status 2 and %q", tc.args, err, errOut, tc.want)
		}
	}
}

// TestUnknownFlagAfterPositionals: every subcommand reads the flags after
// its positionals, so an unknown one there is a usage error, exit status 2.
func TestUnknownFlagAfterPositionals(t *testing.T) {
	dir := stTempSpec(t, stTest)
	for _, tc := range []struct {
		args  []string
		usage string
	}{
		{[]string{"explain", "-c", "../../endpoints/gateway.json", "GET", "/checkout/c1", "--bogus"}, "usage: frontdesk explain"},
		{[]string{"lint", "../../endpoints", "--bogus"}, "usage: frontdesk lint"},
		{[]string{"test", filepath.Join(dir, "api"), "--bogus"}, "usage: frontdesk test"},
		{[]string{"serve", "stray", "--bogus"}, "Usage of serve:"},
		{[]string{"demo-backends", "stray", "--bogus"}, "Usage of demo-backends:"},
	} {
		errOut, err := runCanceled(tc.args...)
		if err != exitCode(2) || !strings.Contains(errOut, "flag provided but not defined: -bogus") || !strings.Contains(errOut, tc.usage) {
			t.Errorf("%q: err = %v, stderr:\n%s", tc.args, err, errOut)
		}
	}
}

// Command frontdesk is the gateway's CLI: serve, and (as they land) lint,
// test and explain. main only wires flags, signals and the process; all
// behaviour lives in run so tests can call it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr); err != nil {
		if code, ok := err.(exitCode); ok {
			os.Exit(int(code))
		}
		fmt.Fprintln(os.Stderr, "frontdesk:", err)
		os.Exit(1)
	}
}

// exitCode is an error that only carries the process's exit status; the
// command has already said why.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

const usage = `usage: frontdesk <command> [flags]

commands:
  serve    run the gateway (serve -h for flags)
  lint     check gateway.json and endpoint specs: frontdesk lint [-c gateway.json] [--format text|json] [paths...]
  test     run spec tests (NAME.test.json beside NAME.json): frontdesk test [-c gateway.json] [--update] [--format text|json] [paths...]
  explain  print the compiled plan of one endpoint: frontdesk explain [--format text|mermaid|json] METHOD PATH
  demo-backends  run the demo services alone: frontdesk demo-backends [-addr 127.0.0.1:9101] [-delay 0s] [-delay-of service=dur,...]
  demo-token     print a token the demo gateway accepts: frontdesk demo-token [-sub u1] [-scope "account:read"] [-ttl 1h]
  hash-key       print the SHA-256 of an API key read from standard input, for the keys file
`

func run(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitCode(2)
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], env, stdout, stderr)
	case "lint":
		return lint(args[1:], env, stdout, stderr)
	case "test":
		return specTest(ctx, args[1:], env, stdout, stderr)
	case "explain":
		return explain(args[1:], env, stdout, stderr)
	case "demo-backends":
		return demoBackends(ctx, args[1:], stdout, stderr)
	case "demo-token":
		return demoToken(args[1:], stdout, stderr)
	case "hash-key":
		return hashKey(args[1:], stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "frontdesk: unknown command %q\n%s", args[0], usage)
	return exitCode(2)
}

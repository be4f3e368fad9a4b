// Command loadtest measures Frontdesk against a "floor" (the least a
// gateway on net/http can cost for the same job) and against direct backend
// calls, on loopback, and prints one table row per case.
//
//	loadtest [-duration 10s] [-connections 32] [-soak 60s] ...   the harness
//	loadtest floor -addr ... -backends user=URL,cart=URL,catalog=URL
//	loadtest gen -url URL -c 32 -d 10s                           the Go load generator
//
// The harness builds the frontdesk binary, starts the demo backends (twice:
// plain and with a delay for case 5), the gateway and the floor, each as
// its own process so each one's CPU time (/proc/PID/stat) is its own, and
// drives every case with wrk when it is on PATH, else with `loadtest gen`
// in a process of its own. Every process it starts is stopped by PID at the
// end, on error and on Ctrl-C too.
//
// The cases (specs in testdata/loadtest/cases), all for cart c1 of user u1:
//
//  1. one backend (cart), its body under its name: the default response;
//  2. checkout: user, cart and products, independent JSON calls, default
//     composition;
//  3. the calls of 2 with a template that picks, filters and maps fields of
//     all three;
//  4. the calls of 2 plus the XML inventory, decode: xml;
//  5. the calls of 2 against backends that each take -slow-delay (5 ms), at
//     -slow-connections (4);
//  6. case 2 behind JWT: the endpoint requires a token (RS256, from a JWKS
//     the harness serves on loopback), and every request sends the same one,
//     as a hot client does, so its signature is checked once and then cached;
//  7. case 2 behind a memory rate limit that never refuses;
//  8. case 2 answered from the response cache;
//  9. case 2 with the whole edge on: JWT (RS256), a memory rate limit keyed
//     by the client, and (on a second gateway process, gateway-edge.json)
//     the access log; metrics are on in every case;
//  10. case 2 on that second gateway: the access log's cost alone.
//
// The floor (floor.go) does the jobs of 1, 2 and 4 (and of 2 on the slow
// backends for 5) by hand. Cases 2, 3, 6, 7 and 9 are compared with its
// 3-call job, case 4 with its 4-call job (the inventory's XML through
// encoding/xml and encoding/json), cases 1 and 8 with its 1-call job; the
// report prints issue 14's target beside each ratio. The direct rows load
// one backend with no gateway in front.
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
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if code, ok := err.(exitCode); ok {
			os.Exit(int(code))
		}
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// exitCode is an error that only carries the exit status; the reason has
// been printed.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "floor":
			return floorMain(ctx, args[1:], stdout, stderr)
		case "gen":
			return genMain(ctx, args[1:], stdout, stderr)
		}
	}
	return harness(ctx, args, stdout, stderr)
}

package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"frontdesk/cmd/frontdesk/demo"
	"frontdesk/pipeline/auth"
)

const hashKeyUsage = "usage: frontdesk hash-key < key.txt   (or: printf %s \"$KEY\" | frontdesk hash-key)\n"

// stdin is what hash-key reads; tests replace it.
var stdin io.Reader = os.Stdin

// demoToken prints a token the demo gateway (serve --demo, or
// endpoints/gateway.json with demo-backends) accepts: signed with the demo
// issuer's key, for its issuer and audience.
func demoToken(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("demo-token", flag.ContinueOnError)
	fl.SetOutput(stderr)
	sub := fl.String("sub", "u1", "the token's subject: the demo user (u1 or u2)")
	scope := fl.String("scope", "account:read", "space-separated scopes")
	ttl := fl.Duration("ttl", time.Hour, "how long the token is valid")
	pos, err := parseArgs(fl, args)
	if err != nil {
		return exitCode(2)
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "frontdesk demo-token: unexpected argument %q\n", pos[0])
		return exitCode(2)
	}
	if *ttl <= 0 {
		fmt.Fprintln(stderr, "frontdesk demo-token: -ttl must be positive")
		return exitCode(2)
	}
	tok, err := demo.Token(*sub, *scope, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// hashKey prints the lowercase hex SHA-256 of the API key on standard
// input (one line; its line ending is not part of the key), as the keys
// file lists it. Reading the key from standard input keeps it out of the
// shell's history and the process list.
func hashKey(args []string, in io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		io.WriteString(stderr, hashKeyUsage)
		return exitCode(2)
	}
	r := bufio.NewReader(io.LimitReader(in, auth.MaxCredential+2))
	line, err := r.ReadString('\n')
	if err != nil && err != io.EOF {
		return err
	}
	key := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	switch {
	case key == "":
		fmt.Fprintln(stderr, "frontdesk hash-key: no key on standard input")
		return exitCode(2)
	case len(key) > auth.MaxCredential:
		fmt.Fprintf(stderr, "frontdesk hash-key: the key is longer than %d bytes, which the gateway refuses\n", auth.MaxCredential)
		return exitCode(2)
	}
	fmt.Fprintln(stdout, auth.HashKey(key))
	return nil
}

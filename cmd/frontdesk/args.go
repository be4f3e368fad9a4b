package main

import (
	"flag"
	"strings"
)

// parseArgs parses fl over args in which flags and positional arguments may
// be interleaved, as users type them (`frontdesk explain GET /x --format
// mermaid`), and returns the positionals in order. The standard flag package
// stops at the first positional, so parseArgs parses, takes that one
// positional, and parses the rest again, until the args run out. A "--" in a
// flag's place ends the flags: everything after it is positional, even when
// it starts with a dash. Boolean flags take no separate value (`--update
// endpoints` keeps endpoints as a positional); other flags take theirs as
// `-flag=value` or `-flag value`. Errors are fl.Parse's, already reported
// on fl's output as usual.
func parseArgs(fl *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fl.Parse(args); err != nil {
			return nil, err
		}
		rest := fl.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if endsFlags(fl, args[:len(args)-len(rest)]) {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// endsFlags reports whether the last of the arguments that fl.Parse just
// consumed is a "--" that ended the flags. fl.Parse drops that "--" without
// saying so, and a "--" can also be a flag's value (`-c --`), so the
// consumed arguments are walked as fl.Parse walked them: each one in a
// flag's place is a flag, followed by its value unless it is boolean or
// carries `=value`.
func endsFlags(fl *flag.FlagSet, consumed []string) bool {
	for i := 0; i < len(consumed); i++ {
		s := consumed[i]
		if s == "--" {
			return true // fl.Parse stops at it, so it is the last one
		}
		name := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fl.Lookup(name); f != nil && !isBoolFlag(f.Value) {
			i++ // its value
		}
	}
	return false
}

func isBoolFlag(v flag.Value) bool {
	b, ok := v.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

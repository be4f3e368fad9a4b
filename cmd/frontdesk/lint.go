package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"frontdesk/engine"
)

// lint loads gateway.json and the specs exactly as serve does and prints
// every problem: `file:line:col: severity: message (rule)`, expression
// snippets below. Exit 0 when clean (warnings allowed), 1 on any error, 2 on
// usage or I/O errors (a file or folder that cannot be read).
func lint(args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("lint", flag.ContinueOnError)
	fl.SetOutput(stderr)
	config := fl.String("c", "", "gateway.json (default ./gateway.json, or one inside the given folders)")
	format := fl.String("format", "text", "output format: text or json")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: frontdesk lint [-c gateway.json] [--format text|json] [paths...]")
		fl.PrintDefaults()
	}
	paths, err := parseArgs(fl, args)
	if err != nil {
		return exitCode(2)
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "frontdesk lint: --format must be text or json, not %q\n", *format)
		return exitCode(2)
	}
	sf, err := locate(*config, paths)
	if err != nil {
		fmt.Fprintln(stderr, "frontdesk lint:", err)
		return exitCode(2)
	}
	if sf.config == "" && sf.endpoints == nil {
		fmt.Fprintln(stderr, "frontdesk lint: no gateway.json here; name one with -c or give spec files or folders")
		return exitCode(2)
	}
	problems, err := lintProblems(sf, env)
	if err != nil {
		fmt.Fprintln(stderr, "frontdesk lint:", err)
		return exitCode(2)
	}
	if *format == "json" {
		if problems == nil {
			problems = engine.LoadErrors{}
		}
		b, _ := json.MarshalIndent(problems, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		for _, p := range problems {
			fmt.Fprintln(stdout, p.Error())
			if p.Snippet != "" {
				fmt.Fprintln(stdout, strings.TrimPrefix(p.Snippet, "\n"))
			}
		}
	}
	for _, p := range problems {
		if p.Rule == engine.RuleIO {
			return exitCode(2) // something given could not be read at all
		}
	}
	if problems.HasErrors() {
		return exitCode(1)
	}
	return nil
}

// lintProblems loads through the server's own loader and returns every
// problem, warnings included.
func lintProblems(sf *specFiles, env func(string) (string, bool)) (engine.LoadErrors, error) {
	gw, err := engine.Load(sf.fsys, sf.config, engine.Options{
		Env: env, DisplayPath: sf.display, Endpoints: sf.endpoints, StubServices: sf.config == "",
	})
	le, isLoad := errors.AsType[engine.LoadErrors](err)
	switch {
	case isLoad:
		return le, nil
	case err != nil:
		return nil, err
	}
	return gw.Warnings, nil
}

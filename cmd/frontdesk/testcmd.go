package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"

	"frontdesk/engine"
	"frontdesk/engine/spectest"
)

const testUsage = `usage: frontdesk test [-c gateway.json] [--update] [--format text|json] [paths...]

Runs spec tests: every NAME.test.json beside an endpoint spec NAME.json,
through the real engine with the backends answered from the test's stubs.
With no paths, tests the endpoint folders of gateway.json. --update rewrites
the expected status and body of failing cases to what the gateway answered.
Exit status 1 when a case fails, 2 on a usage or I/O error.
`

func specTest(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("test", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(stderr, testUsage)
		fl.PrintDefaults()
	}
	config := fl.String("c", "", "path to gateway.json (default ./gateway.json, else one inside a given folder)")
	update := fl.Bool("update", false, "rewrite the expected status and body of failing cases to what the gateway answered")
	format := fl.String("format", "text", "output format: text or json")
	paths, err := parseArgs(fl, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitCode(2)
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "frontdesk test: --format must be text or json, not %q\n", *format)
		return exitCode(2)
	}
	sf, err := locate(*config, paths)
	if err != nil {
		fmt.Fprintf(stderr, "frontdesk test: %v\n", err)
		return exitCode(2)
	}
	if sf.config != "" {
		if _, err := statPath(sf.config); err != nil {
			fmt.Fprintf(stderr, "frontdesk test: %s: %v\n", sf.display(sf.config), err)
			return exitCode(2)
		}
	}
	folders := sf.endpoints
	if folders == nil {
		if sf.config == "" {
			fmt.Fprintf(stderr, "frontdesk test: no gateway.json here; name the specs or folders to test\n%s", testUsage)
			return exitCode(2)
		}
		gw, err := engine.Load(sf.fsys, sf.config, engine.Options{Env: env, DisplayPath: sf.display, Endpoints: []string{}, StubServices: true})
		if err != nil {
			if le, ok := errors.AsType[engine.LoadErrors](err); ok {
				for _, e := range le {
					fmt.Fprintln(stderr, e.Error())
				}
			} else {
				fmt.Fprintf(stderr, "frontdesk test: %v\n", err)
			}
			return exitCode(2)
		}
		for _, e := range gw.Config.Endpoints {
			folders = append(folders, path.Join(path.Dir(sf.config), e))
		}
	}
	tests, untested, err := spectest.Find(sf.fsys, folders, sf.display)
	if err != nil {
		fmt.Fprintf(stderr, "frontdesk test: %v\n", err)
		return exitCode(2)
	}
	r := &spectest.Runner{FS: sf.fsys, Config: sf.config, Env: env, DisplayPath: sf.display}
	rep := &spectest.Report{}
	for _, u := range untested {
		rep.Untested = append(rep.Untested, sf.display(u))
	}
	// Files run concurrently (each case has its own gateway and stubs);
	// results are reported in path order.
	type outcome struct {
		fr      *spectest.FileResult
		notes   []string
		ioError bool
	}
	outs := make([]outcome, len(tests))
	sem := make(chan struct{}, max(1, min(runtime.GOMAXPROCS(0), 8)))
	var wg sync.WaitGroup
	for i, t := range tests {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			o := &outs[i]
			o.fr = r.RunFile(ctx, t)
			if !*update || o.fr.Failed() == 0 {
				return
			}
			src, names, err := o.fr.Update()
			if err == nil && len(names) > 0 {
				err = writeInPlace(osPath(t), src)
			}
			if err != nil {
				o.notes = append(o.notes, fmt.Sprintf("frontdesk test: %v", err))
				o.ioError = true
				return
			}
			if len(names) == 0 {
				return
			}
			for _, n := range names {
				o.notes = append(o.notes, fmt.Sprintf("updated %s: case %q", o.fr.Name, n))
			}
			o.fr = r.RunFile(ctx, t)
		}()
	}
	wg.Wait()
	ioFailed := false
	for _, o := range outs {
		for _, n := range o.notes {
			fmt.Fprintln(stderr, n)
		}
		ioFailed = ioFailed || o.ioError
		rep.Files = append(rep.Files, o.fr)
	}
	if *format == "json" {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil || ioFailed {
		return exitCode(2)
	}
	if _, failed := rep.Totals(); failed > 0 {
		return exitCode(1)
	}
	if len(tests) == 0 {
		fmt.Fprintln(stderr, "frontdesk test: no spec tests (NAME.test.json) found")
	}
	return nil
}

// osPath turns a path of locate's fs (rooted at "/") into an OS path.
func osPath(p string) string { return filepath.FromSlash("/" + p) }

func statPath(p string) (os.FileInfo, error) {
	fi, err := os.Stat(osPath(p))
	if err != nil {
		if pe, ok := errors.AsType[*os.PathError](err); ok {
			return nil, pe.Err
		}
	}
	return fi, err
}

// writeInPlace replaces the file's content, keeping its mode.
func writeInPlace(p string, b []byte) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	return os.WriteFile(p, b, fi.Mode().Perm())
}

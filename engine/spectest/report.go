package spectest

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Report is the outcome of a run: each test file's result, and the specs
// found without a test.
type Report struct {
	Files    []*FileResult
	Untested []string // display names
}

// Totals counts passed and failed cases over every file.
func (rep *Report) Totals() (passed, failed int) {
	for _, f := range rep.Files {
		passed += f.Passed()
		failed += f.Failed()
	}
	return passed, failed
}

// WriteText prints the report the way go test does:
//
//	ok   endpoints/mobile/home.test.json  4 cases
//	FAIL endpoints/web/checkout.test.json: case "empty lines are hidden"
//	    $.items[0].qty: want 2, got 0
//	    backend requests:
//	        cart: GET http://127.0.0.1:9102/carts/c1
//	?    endpoints/web/search.json  no spec test
//	5 passed, 1 failed
//
// The last line is always "N passed, N failed".
func (rep *Report) WriteText(w io.Writer) error {
	type entry struct {
		name string
		text string
	}
	var entries []entry
	for _, f := range rep.Files {
		var b strings.Builder
		switch {
		case f.Err != nil:
			fmt.Fprintf(&b, "FAIL %s\n", f.Name)
			for _, l := range strings.Split(f.Err.Error(), "\n") {
				fmt.Fprintf(&b, "    %s\n", l)
			}
		case f.Failed() == 0:
			fmt.Fprintf(&b, "ok   %s  %d %s\n", f.Name, len(f.Cases), plural(len(f.Cases), "case", "cases"))
		default:
			for _, c := range f.Cases {
				if c.OK() {
					continue
				}
				fmt.Fprintf(&b, "FAIL %s: case %q\n", f.Name, c.Name)
				for _, l := range c.Failures {
					fmt.Fprintf(&b, "    %s\n", l)
				}
				if len(c.Sent) > 0 {
					b.WriteString("    backend requests:\n")
					for _, s := range c.Sent {
						fmt.Fprintf(&b, "        %s\n", s)
					}
				}
			}
		}
		entries = append(entries, entry{f.Name, b.String()})
	}
	for _, u := range rep.Untested {
		entries = append(entries, entry{u, fmt.Sprintf("?    %s  no spec test\n", u)})
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.text)
	}
	passed, failed := rep.Totals()
	fmt.Fprintf(&b, "%d passed, %d failed\n", passed, failed)
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// JSONReport is the shape of WriteJSON's output.
type JSONReport struct {
	Files    []JSONFile `json:"files"`
	Untested []string   `json:"untested"`
	Passed   int        `json:"passed"`
	Failed   int        `json:"failed"`
}

// JSONFile is one test file in a JSONReport.
type JSONFile struct {
	File   string     `json:"file"`
	Error  string     `json:"error,omitempty"`
	Passed int        `json:"passed"`
	Failed int        `json:"failed"`
	Cases  []JSONCase `json:"cases"`
}

// JSONCase is one case in a JSONReport. Status is the status the gateway
// answered (0 when the case failed before a response).
type JSONCase struct {
	Name     string   `json:"name"`
	OK       bool     `json:"ok"`
	Status   int      `json:"status"`
	Failures []string `json:"failures"`
	Requests []string `json:"requests"`
}

// JSON returns the report as a JSONReport: stable, with no timings.
func (rep *Report) JSON() JSONReport {
	out := JSONReport{Files: []JSONFile{}, Untested: []string{}}
	out.Untested = append(out.Untested, rep.Untested...)
	for _, f := range rep.Files {
		jf := JSONFile{File: f.Name, Passed: f.Passed(), Failed: f.Failed(), Cases: []JSONCase{}}
		if f.Err != nil {
			jf.Error = f.Err.Error()
		}
		for _, c := range f.Cases {
			jc := JSONCase{Name: c.Name, OK: c.OK(), Status: c.Status, Failures: []string{}, Requests: []string{}}
			jc.Failures = append(jc.Failures, c.Failures...)
			for _, s := range c.Sent {
				jc.Requests = append(jc.Requests, s.String())
			}
			jf.Cases = append(jf.Cases, jc)
		}
		out.Files = append(out.Files, jf)
	}
	out.Passed, out.Failed = rep.Totals()
	return out
}

// WriteJSON prints the report as indented JSON (see JSONReport).
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(rep.JSON())
}

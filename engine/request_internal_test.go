package engine

import (
	"testing"
)

func TestMediaType(t *testing.T) {
	for in, want := range map[string]string{
		"application/json":                "application/json",
		"Application/JSON; charset=utf-8": "application/json",
		" text/xml ;q=1":                  "text/xml",
		"":                                "",
	} {
		if got := mediaType(in); got != want {
			t.Errorf("mediaType(%q) = %q, want %q", in, got, want)
		}
	}
}

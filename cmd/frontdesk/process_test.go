package main

import (
	"log/slog"
	"syscall"
	"testing"
)

func TestConnectionBound(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		configured int
		explicit   bool
		nofile     uint64
		want       int
	}{
		{10000, false, 1 << 20, 10000},
		{10000, false, 1024, 512},
		{50000, true, 20000, 10000},
		{100, true, 20000, 100},
		{10000, false, 0, 10000}, // the limit could not be read
	} {
		if got := connectionBound(tc.configured, tc.explicit, tc.nofile, log); got != tc.want {
			t.Errorf("connectionBound(%d, %v, %d) = %d, want %d", tc.configured, tc.explicit, tc.nofile, got, tc.want)
		}
	}
}

func TestLimitsOfThisMachine(t *testing.T) {
	n := raiseFileLimit()
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		t.Fatal(err)
	}
	if n != r.Cur || r.Cur != r.Max {
		t.Errorf("after raising: returned %d, soft %d, hard %d; want all equal", n, r.Cur, r.Max)
	}
	if m := availableMemory(); m < 64<<20 {
		t.Errorf("available memory %d bytes", m)
	}
}

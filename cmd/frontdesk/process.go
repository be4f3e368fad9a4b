package main

import (
	"bufio"
	"bytes"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// raiseFileLimit raises the soft limit on open files to the hard one (Go
// does so at start on Linux too; this makes it explicit everywhere) and
// returns the limit in force.
func raiseFileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	if r.Cur < r.Max {
		want := r
		want.Cur = want.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) == nil {
			r = want
		}
	}
	return r.Cur
}

// connectionBound is the public listener's bound: the configured one, but
// never more than half the descriptors, so backends, the admin listener and
// files keep theirs.
func connectionBound(configured int, explicit bool, nofile uint64, log *slog.Logger) int {
	if nofile == 0 {
		return configured
	}
	half := int(min(nofile/2, 1<<30))
	if configured > half {
		if explicit {
			log.Warn("limits.max_connections is over half the file descriptor limit; lowered", "max_connections", configured, "nofile", nofile, "used", half)
		}
		return half
	}
	return configured
}

// memoryShare is the part of the machine's (or the container's) memory the
// gateway's Go heap is held to when GOMEMLIMIT is not set.
const memoryShare = 0.75

// tuneMemory sets a soft memory limit of memoryShare of the memory
// available, unless GOMEMLIMIT is set: near it the collector works harder
// instead of letting the process be killed.
func tuneMemory(env func(string) (string, bool), log *slog.Logger) {
	if _, ok := env("GOMEMLIMIT"); ok {
		return
	}
	total := availableMemory()
	if total == 0 {
		return
	}
	limit := int64(float64(total) * memoryShare)
	debug.SetMemoryLimit(limit)
	log.Debug("memory limit", "bytes", limit)
}

// availableMemory is the cgroup's memory limit when there is one, else
// the machine's memory, in bytes; 0 when neither can be read.
func availableMemory() uint64 {
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if n, err := strconv.ParseUint(s, 10, 64); err == nil && n > 0 && n < 1<<60 {
			return n
		}
	}
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			if kb, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process the harness started: its output goes to a log
// file, and the first lines are kept to find its addresses.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced whenever a line arrives
	exited  chan struct{}
	waitErr error
	outputs sync.WaitGroup
}

const keepLines = 2000

// procs is every process the harness started, to stop them all at the end.
type procs struct {
	mu   sync.Mutex
	list []*proc
	dir  string // log files
}

// start runs argv[0] with argv[1:] and env added to the harness's own. The
// child gets its own process group, so a Ctrl-C at the terminal reaches the
// harness alone and the harness stops its children in order; if the harness
// dies, Pdeathsig kills them.
func (ps *procs) start(name string, env []string, argv ...string) (*proc, error) {
	f, err := os.Create(fmt.Sprintf("%s/%s.log", ps.dir, name))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		f.Close()
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, log: f, changed: make(chan struct{}), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
	p.outputs.Add(2)
	go p.read(stdout)
	go p.read(stderr)
	go func() {
		p.outputs.Wait() // Wait closes the pipes; read them to the end first
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) read(r io.Reader) {
	defer p.outputs.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		fmt.Fprintln(p.log, line)
		if len(p.lines) < keepLines {
			p.lines = append(p.lines, line)
		}
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	io.Copy(io.Discard, r)
}

// pid is the child's process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// waitLine waits until a line of the child's output satisfies match, and
// returns what match returned. It fails if the child exits or timeout passes.
func (p *proc) waitLine(ctx context.Context, timeout time.Duration, match func(string) (string, bool)) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	seen := 0
	for {
		p.mu.Lock()
		lines, changed := p.lines, p.changed
		p.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if v, ok := match(lines[seen]); ok {
				return v, nil
			}
		}
		select {
		case <-changed:
		case <-p.exited:
			// Read what it printed last, then give up.
			p.mu.Lock()
			lines = p.lines
			p.mu.Unlock()
			for ; seen < len(lines); seen++ {
				if v, ok := match(lines[seen]); ok {
					return v, nil
				}
			}
			return "", fmt.Errorf("%s exited (%v) before it was ready:\n%s", p.name, p.waitErr, p.tail(20))
		case <-t.C:
			return "", fmt.Errorf("%s not ready after %s:\n%s", p.name, timeout, p.tail(20))
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// tail is the last n lines the child printed (of those kept).
func (p *proc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lines[max(0, len(p.lines)-n):]
	if len(l) == 0 {
		return "  (no output)"
	}
	return "  " + strings.Join(l, "\n  ")
}

// stop asks the child to end with SIGTERM and kills it after grace.
func (p *proc) stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// stopAll stops every child, the last started first, each by its PID.
func (ps *procs) stopAll(grace time.Duration) {
	ps.mu.Lock()
	list := ps.list
	ps.list = nil
	ps.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		list[i].stop(grace)
	}
}

// pollReady GETs url until it answers 200, for at most timeout.
func pollReady(ctx context.Context, client *http.Client, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s: %v", url, timeout, last)
}

// CPU time from /proc.

// cpuTicks reads utime+stime of pid from /proc/PID/stat, in clock ticks.
func cpuTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	u, s, err := parseStat(b)
	return u + s, err
}

// parseStat takes utime and stime (fields 14 and 15) out of a
// /proc/PID/stat line. The command name (field 2) is in parentheses and may
// hold spaces and parentheses itself, so fields are counted after the last
// ')'.
func parseStat(b []byte) (utime, stime uint64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("/proc stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("/proc stat: %d fields after the name, want at least 13", len(f))
	}
	if utime, err = strconv.ParseUint(f[11], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("/proc stat utime: %v", err)
	}
	if stime, err = strconv.ParseUint(f[12], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("/proc stat stime: %v", err)
	}
	return utime, stime, nil
}

// rssKB reads a "VmRSS:"-like field of /proc/PID/status, in KiB.
func rssKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusKB(b, field)
}

// parseStatusKB finds "FIELD:   1234 kB" in /proc/PID/status text.
func parseStatusKB(b []byte, field string) (int64, error) {
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc status %s: %v", field, err)
		}
		if len(f) > 1 && f[1] != "kB" {
			return 0, fmt.Errorf("/proc status %s: unit %q", field, f[1])
		}
		return n, nil
	}
	return 0, fmt.Errorf("/proc status: no %s", field)
}

// clockTicks is sysconf(_SC_CLK_TCK) as `getconf CLK_TCK` prints it, or 100.
func clockTicks() (int64, bool) {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n, true
		}
	}
	return 100, false
}

package pipeline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests below take loopback addresses other than 127.0.0.1 as distinct
// clients (Linux routes all of 127/8 to lo).

// serveBounded serves h behind Bound(ln, b), with the server's ConnState
// hooked, and returns the reasons of refused connections as they come.
func serveBounded(t *testing.T, network, addr string, b Bounds, h http.Handler) (*Listener, string, chan string) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	refused := make(chan string, 1000)
	b.Refused = func(reason string) { refused <- reason }
	l := Bound(ln, b)
	srv := &http.Server{Handler: h, ConnContext: ConnContext, ConnState: l.ConnState, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l, ln.Addr().String(), refused
}

// dialFrom connects to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends a request on c and reads its answer, within 5s.
func roundTrip(c net.Conn, req string) (*http.Response, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, req); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

const getReq = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

// get asks for / on a fresh connection from src.
func getFrom(t *testing.T, src, addr string) (net.Conn, error) {
	t.Helper()
	c := dialFrom(t, src, addr)
	_, err := roundTrip(c, getReq)
	return c, err
}

// closedByServer reports whether the server closed c (within 5s): a read
// ends with EOF or a reset, not with the deadline.
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// refusedAtOnce dials addr from src and reports whether the server closed
// the connection (a refusal may reset it before Dial returns).
func refusedAtOnce(t *testing.T, src, addr string) bool {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return closedByServer(c)
}

// awaitReason waits, within 5s, for a refusal and returns its reason.
func awaitReason(t *testing.T, refused chan string) string {
	t.Helper()
	select {
	case r := <-refused:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no connection was refused within 5s")
		return ""
	}
}

// awaitOpen waits, within 5s, for the listener to count n connections.
func awaitOpen(t *testing.T, l *Listener, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.Open() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", l.Open(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// awaitEvictable waits, within 5s, until n connections are idle or
// header-less as the Listener sees them: the server marks a connection
// idle after its answer is out, so a client may have read that answer
// before the server has said so.
func awaitEvictable(t *testing.T, l *Listener, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.evictable.Load() != int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections idle or header-less, want %d", l.evictable.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

// TestPerClientBound: past max_connections_per_ip, a client's connections
// are closed at once and counted; another client and a trusted proxy are
// served all along.
func TestPerClientBound(t *testing.T) {
	l, addr, refused := serveBounded(t, "tcp", "127.0.0.1:0",
		Bounds{Max: 100, PerClient: 3, Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.4/32")}}, okHandler)
	for i := range 3 {
		if _, err := getFrom(t, "127.0.0.2", addr); err != nil {
			t.Fatalf("connection %d, within the bound: %v", i, err)
		}
	}
	for i := range 5 {
		if !refusedAtOnce(t, "127.0.0.2", addr) {
			t.Fatalf("connection %d over the bound was not closed", 3+i)
		}
		if r := awaitReason(t, refused); r != RefusedPerClient {
			t.Errorf("reason %q, want %q", r, RefusedPerClient)
		}
	}
	if _, err := getFrom(t, "127.0.0.3", addr); err != nil {
		t.Errorf("another client was not served: %v", err)
	}
	// A trusted proxy holds more than the bound, and each is served.
	for i := range 6 {
		if _, err := getFrom(t, "127.0.0.4", addr); err != nil {
			t.Fatalf("trusted proxy, connection %d: %v", i, err)
		}
	}
	if got := l.Open(); got != 3+1+6 {
		t.Errorf("%d open, want 10", got)
	}
	select {
	case r := <-refused:
		t.Errorf("a connection within its bound was refused (%s)", r)
	default:
	}
}

// TestPerClientBoundIPv6: an IPv6 client is counted as such, over [::1].
func TestPerClientBoundIPv6(t *testing.T) {
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback:", err)
	} else {
		ln.Close()
	}
	_, addr, refused := serveBounded(t, "tcp", "[::1]:0", Bounds{Max: 100, PerClient: 2}, okHandler)
	for range 2 {
		if _, err := getFrom(t, "::1", addr); err != nil {
			t.Fatal(err)
		}
	}
	if !refusedAtOnce(t, "::1", addr) {
		t.Fatal("the third connection from ::1 was not closed")
	}
	if r := awaitReason(t, refused); r != RefusedPerClient {
		t.Errorf("reason %q", r)
	}
}

// TestClientKey: IPv6 clients are keyed by their /64, IPv4-mapped IPv6 as
// IPv4, IPv4 as is.
func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"},
		{"2001:db8:1:2::1", "2001:db8:1:2::"},
		{"2001:db8:1:3::1", "2001:db8:1:3::"},
		{"fe80::1%eth0", "fe80::"},
		{"::1", "::"},
	} {
		if got := ClientKey(netip.MustParseAddr(tc.in)).String(); got != tc.want {
			t.Errorf("ClientKey(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestFullListenerEvictsForAnotherClient: with every slot taken by one
// address's idle and header-less connections, another address is served
// at once: the oldest of them is closed to make room, and counted.
func TestFullListenerEvictsForAnotherClient(t *testing.T) {
	const max = 20
	l, addr, refused := serveBounded(t, "tcp", "127.0.0.1:0", Bounds{Max: max}, okHandler)
	var flood []net.Conn
	for i := range max {
		c := dialFrom(t, "127.0.0.2", addr)
		if i < max/2 {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n") // a header block that never ends
		} else if _, err := roundTrip(c, getReq); err != nil { // then idle
			t.Fatal(err)
		}
		flood = append(flood, c)
	}
	awaitOpen(t, l, max)
	start := time.Now()
	if _, err := getFrom(t, "127.0.0.3", addr); err != nil {
		t.Fatalf("another client was not served while one address held every slot: %v", err)
	}
	t.Logf("served in %v with %d slots held by one address", time.Since(start), max)
	if r := awaitReason(t, refused); r != RefusedHeaderless {
		t.Errorf("reason %q, want %q", r, RefusedHeaderless)
	}
	if !closedByServer(flood[0]) {
		t.Error("the oldest connection was not the one closed")
	}
	// Once the header-less ones are gone, idle ones make room. (Each new
	// client is another address, holding one.)
	for i := range max / 2 {
		if _, err := getFrom(t, fmt.Sprintf("127.0.0.%d", 10+i), addr); err != nil {
			t.Fatal(err)
		}
	}
	reasons := map[string]int{}
	for range max / 2 {
		reasons[awaitReason(t, refused)]++
	}
	if reasons[RefusedHeaderless] != max/2-1 || reasons[RefusedIdle] != 1 {
		t.Errorf("reasons %v, want %d header-less and 1 idle", reasons, max/2-1)
	}
	if l.Open() > max {
		t.Errorf("%d open, over the bound of %d", l.Open(), max)
	}
}

// TestEvictionPrefersTheLargestHolder: at the bound, the connection closed
// is one of the address holding the most, even when another address's
// are older.
func TestEvictionPrefersTheLargestHolder(t *testing.T) {
	const max = 10
	l, addr, refused := serveBounded(t, "tcp", "127.0.0.1:0", Bounds{Max: max}, okHandler)
	var small, large []net.Conn
	for range 3 { // the oldest
		c, err := getFrom(t, "127.0.0.4", addr)
		if err != nil {
			t.Fatal(err)
		}
		small = append(small, c)
	}
	for range max - 3 {
		c, err := getFrom(t, "127.0.0.2", addr)
		if err != nil {
			t.Fatal(err)
		}
		large = append(large, c)
	}
	awaitOpen(t, l, max)
	awaitEvictable(t, l, max) // else the oldest may still be finishing its answer, not idle yet
	if _, err := getFrom(t, "127.0.0.3", addr); err != nil {
		t.Fatal(err)
	}
	if r := awaitReason(t, refused); r != RefusedIdle {
		t.Errorf("reason %q, want %q", r, RefusedIdle)
	}
	if !closedByServer(large[0]) {
		t.Error("the oldest connection of the address holding the most was not closed")
	}
	for i, c := range small {
		if _, err := roundTrip(c, getReq); err != nil {
			t.Errorf("the smaller holder's connection %d was closed: %v", i, err)
		}
	}
}

// TestInFlightNeverEvicted: at the bound, connections with a request in
// flight (one waiting on its handler, one still sending its body) are
// never closed; an idle one is, and the new client is served.
func TestInFlightNeverEvicted(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
			io.Copy(io.Discard, r.Body)
		}
		io.WriteString(w, "ok")
	})
	l, addr, refused := serveBounded(t, "tcp", "127.0.0.1:0", Bounds{Max: 3}, h)
	var busy []net.Conn
	for _, req := range []string{
		"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab", // the body not all sent
	} {
		c := dialFrom(t, "127.0.0.2", addr) // the address holding the most
		io.WriteString(c, req)
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatal("the slow request did not start")
		}
		busy = append(busy, c)
	}
	idle, err := getFrom(t, "127.0.0.4", addr)
	if err != nil {
		t.Fatal(err)
	}
	awaitOpen(t, l, 3)
	if _, err := getFrom(t, "127.0.0.3", addr); err != nil {
		t.Fatalf("not served at the bound with an idle connection to close: %v", err)
	}
	if r := awaitReason(t, refused); r != RefusedIdle {
		t.Errorf("reason %q, want %q", r, RefusedIdle)
	}
	if !closedByServer(idle) {
		t.Error("the idle connection was not the one closed")
	}
	// Now every slot but the new client's holds a request in flight, and
	// that one is idle: a fourth client takes its place, never theirs.
	if _, err := getFrom(t, "127.0.0.5", addr); err != nil {
		t.Fatal(err)
	}
	awaitReason(t, refused)
	close(release)
	busy[1].Write([]byte("cdefghij"))
	for i, c := range busy {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("the connection with request %d in flight was closed: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("request %d: %d", i, resp.StatusCode)
		}
	}
}

// TestFullOfRequestsWaits: at the bound with every connection's request
// in flight, a new client waits, and is served once one falls idle.
func TestFullOfRequestsWaits(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	})
	l, addr, refused := serveBounded(t, "tcp", "127.0.0.1:0", Bounds{Max: 2}, h)
	var busy []net.Conn
	for range 2 {
		c := dialFrom(t, "127.0.0.2", addr)
		fmt.Fprint(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatal("the slow request did not start")
		}
		busy = append(busy, c)
	}
	c := dialFrom(t, "127.0.0.3", addr)
	io.WriteString(c, getReq)
	// Not served while both are in flight: nothing can tell that but waiting.
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the third connection was answered or closed while two requests were in flight: %v", err)
	}
	if l.Open() != 2 {
		t.Errorf("%d open, want 2", l.Open())
	}
	close(release)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the waiting client was not served once a request ended: %v", err)
	}
	resp.Body.Close()
	for i, b := range busy {
		b.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(b), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("in-flight request %d: %v", i, err)
		} else {
			resp.Body.Close()
		}
	}
	if r := awaitReason(t, refused); r != RefusedIdle || !strings.Contains(r, "idle") {
		t.Errorf("reason %q, want %q", r, RefusedIdle)
	}
}

// TestKeepAliveOnAdmitted: with Bounds.KeepAlive over a listener made
// without keep-alive, admitted connections have it and refused ones were
// never given it.
func TestKeepAliveOnAdmitted(t *testing.T) {
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Bound(ln, Bounds{Max: 10, PerClient: 1, KeepAlive: true})
	defer l.Close()
	dialFrom(t, "127.0.0.2", ln.Addr().String())
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*conn).Conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	on := 0
	raw.Control(func(fd uintptr) { on, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) })
	if on != 1 {
		t.Error("keep-alive is off on an admitted connection")
	}
}

package pipeline

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serveLimited serves h behind Limit(ln, max), with the smuggling stage.
func serveLimited(t *testing.T, max int, h http.Handler) (*Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Limit(ln, max)
	srv := &http.Server{Handler: Chain(h, CloseSmuggled), ConnContext: ConnContext, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l, ln.Addr().String()
}

// TestSmuggledRequestClosesConnection: a request with both Content-Length
// and Transfer-Encoding is answered, then its connection is closed, so the
// request pipelined behind it is never served.
func TestSmuggledRequestClosesConnection(t *testing.T) {
	var served atomic.Int32
	_, addr := serveLimited(t, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, r.URL.Path)
	}))
	for _, tc := range []struct {
		name   string
		first  string
		closed bool
	}{
		{"both headers", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true},
		{"both, other case and order", "POST /a HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\ncontent-LENGTH: 4\r\n\r\n0\r\n\r\n", true},
		{"chunked only", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
		{"length only", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			served.Store(0)
			// The first request and one pipelined behind it, in one write.
			fmt.Fprint(c, tc.first+"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			if resp.Close != tc.closed {
				t.Errorf("Connection: close is %v, want %v", resp.Close, tc.closed)
			}
			_, err = http.ReadResponse(br, nil)
			if tc.closed && err == nil {
				t.Error("the pipelined request was answered")
			}
			if !tc.closed && err != nil {
				t.Errorf("the pipelined request was not answered: %v", err)
			}
		})
	}
}

// TestListenerLimit: with max connections open the next waits, and gets in
// when one closes.
func TestListenerLimit(t *testing.T) {
	l, addr := serveLimited(t, 2, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	get := func(c net.Conn, wait time.Duration) error {
		c.SetDeadline(time.Now().Add(wait))
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr) // the kernel completes the handshake: the third waits in the backlog
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	if err := get(conns[0], 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := get(conns[1], 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Not served while two are open: nothing can tell that but waiting.
	if err := get(conns[2], 300*time.Millisecond); err == nil {
		t.Fatal("a third connection was served while two were open")
	}
	if l.Open() != 2 {
		t.Errorf("open %d, want 2", l.Open())
	}
	conns[0].Close()
	conns[2].SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conns[2]), nil) // its request was sent already
	if err != nil {
		t.Fatalf("the waiting connection was not served after one closed: %v", err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 2))
	if !strings.HasPrefix(string(b), "ok") {
		t.Errorf("got %q", b)
	}
}

// TestWatchAcrossReads: the header watch sees names split over reads, one
// byte at a time included, and forgets a block once it ends.
func TestWatchAcrossReads(t *testing.T) {
	both := "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, step := range []int{1, 2, 7, len(both)} {
		c := &conn{}
		for i := 0; i < len(both); i += step {
			c.watch([]byte(both[i:min(i+step, len(both))]))
		}
		if !c.smuggled.Load() {
			t.Errorf("step %d: not marked", step)
		}
	}
	// The names in two different blocks: no mark.
	c := &conn{}
	c.watch([]byte("POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"))
	if c.smuggled.Load() {
		t.Error("marked for names in separate blocks")
	}
	// A very long line before them changes nothing.
	c = &conn{}
	c.watch([]byte("POST / HTTP/1.1\r\nX-Long: " + strings.Repeat("a", 5000) + "\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"))
	if !c.smuggled.Load() {
		t.Error("a long header line hid the pair")
	}
}

// TestWatchStates: the watch reads header blocks only: an obs-fold line in
// one marks the connection, a body's indented lines do not, and a request
// that follows a body with no newline of its own is still read as one.
func TestWatchStates(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		marked   bool
	}{
		{"obs-fold", "POST / HTTP/1.1\r\nX-A: a\r\n Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", true},
		{"tab fold", "GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n", true},
		{"indented body", "POST / HTTP/1.1\r\nContent-Length: 40\r\n\r\n{\n  \"a\": 1,\n  \"b\": [\n    2\n  ]\n}\n", false},
		{"body naming both, indented", "POST / HTTP/1.1\r\nContent-Length: 60\r\n\r\n  Content-Length: 1\n  Transfer-Encoding: chunked\n\n", false},
		{"pair after a body with no newline", "POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiPOST /b HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true},
		{"pipelined, clean", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"bare LF lines", "POST / HTTP/1.1\nContent-Length: 4\nTransfer-Encoding: chunked\n\n", true},
	} {
		for _, step := range []int{1, 3, len(tc.in)} {
			c := &conn{}
			for i := 0; i < len(tc.in); i += step {
				c.watch([]byte(tc.in[i:min(i+step, len(tc.in))]))
			}
			if c.smuggled.Load() != tc.marked {
				t.Errorf("%s (step %d): marked %v, want %v", tc.name, step, c.smuggled.Load(), tc.marked)
			}
		}
	}
}

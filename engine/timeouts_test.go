package engine_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"frontdesk/engine"
)

// loadOne serves one endpoint in front of backend with the given limits.
func loadOne(t *testing.T, backend, limits, spec string) *engine.Gateway {
	t.Helper()
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"s": {"urls": ["` + backend + `"]}}, "limits": ` + limits + `}`)},
		"e/x.json":     {Data: []byte(spec)},
	}
	tr := engine.NewTransport()
	t.Cleanup(tr.CloseIdleConnections)
	g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestReadBodyTimeout: a client that trickles its body is answered 408
// once read_body_timeout passes, and the connection is closed.
func TestReadBodyTimeout(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{}`) }))
	defer backend.Close()
	g := loadOne(t, backend.URL, `{"read_body_timeout": "300ms"}`,
		`{"method": "POST", "path": "/x", "calls": {"c": {"service": "s", "method": "POST", "path": "/", "body": {"v": "body.v"}}}}`)
	front := httptest.NewServer(g)
	defer front.Close()
	conn, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second)) // the test's own bound
	fmt.Fprintf(conn, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one byte every 50ms: never done within 300ms
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "urn:frontdesk:request-timeout") {
		t.Errorf("got %d %s", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Error("the connection is kept open after a 408")
	}
}

// TestWriteTimeout: a client that never reads a large answer has its
// connection closed once it has not taken a chunk within write_timeout;
// the request's goroutine and memory are freed then, not minutes later.
func TestWriteTimeout(t *testing.T) {
	big := `"` + strings.Repeat("x", 24<<20) + `"`
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"blob": `+big+`}`)
	}))
	defer backend.Close()
	g := loadOne(t, backend.URL, `{"write_timeout": "300ms", "max_backend_body": "32MB"}`,
		`{"method": "GET", "path": "/x", "calls": {"c": {"service": "s", "path": "/"}}}`)
	done := make(chan struct{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.ServeHTTP(w, r)
		close(done)
	}))
	defer front.Close()
	d := net.Dialer{}
	conn, err := d.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
	select { // and never read
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the gateway still holds a request whose client does not read")
	}
}

// TestOverLimitBodyThenSilence: a chunked body over max_request_body from
// a client that then sends nothing is answered 413 (and the connection
// closed) within the body's deadline, not held while the server waits to
// drain what never comes.
func TestOverLimitBodyThenSilence(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{}`) }))
	defer backend.Close()
	g := loadOne(t, backend.URL, `{"read_body_timeout": "300ms", "max_request_body": "1KB"}`,
		`{"method": "POST", "path": "/x", "calls": {"c": {"service": "s", "method": "POST", "path": "/", "body": {"v": "body.v"}}}}`)
	front := httptest.NewServer(g)
	defer front.Close()
	conn, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", 2000, strings.Repeat(" ", 2000))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // the test's own bound
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
		t.Errorf("got %d, close %v; want 413 and the connection closed", resp.StatusCode, resp.Close)
	}
}

// TestRequestBodyOverDecodedBudget: a valid client body that decodes past
// max_decoded is a 413 naming the limit, JSON and XML alike.
func TestRequestBodyOverDecodedBudget(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{}`) }))
	defer backend.Close()
	g := loadOne(t, backend.URL, `{"max_request_body": "8MB", "max_decoded": "1MB"}`,
		`{"method": "POST", "path": "/x", "calls": {"c": {"service": "s", "method": "POST", "path": "/", "body": {"v": "body.v"}}}}`)
	var js, xs strings.Builder
	js.WriteString(`{"v":[`)
	xs.WriteString(`<r>`)
	for i := range 50000 {
		if i > 0 {
			js.WriteByte(',')
		}
		js.WriteString(`{"a":1}`)
		xs.WriteString(`<v><a>1</a></v>`)
	}
	js.WriteString(`]}`)
	xs.WriteString(`</r>`)
	for ct, body := range map[string]string{"application/json": js.String(), "application/xml": xs.String()} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/x", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		g.ServeHTTP(w, r)
		if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "max_decoded") {
			t.Errorf("%s: %d %s", ct, w.Code, w.Body)
		}
	}
}

package engine_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"frontdesk/engine"
	"frontdesk/pipeline/logs"
)

// lineSink is a log sink that says when a line is written.
type lineSink struct {
	mu    sync.Mutex
	b     strings.Builder
	wrote chan struct{} // a token per write, dropped when one is waiting
}

func newLineSink() *lineSink { return &lineSink{wrote: make(chan struct{}, 1)} }

func (s *lineSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.b.Write(p)
	s.mu.Unlock()
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

// accessLine waits, up to bound, for the access line of a request and
// returns it.
func (s *lineSink) accessLine(t *testing.T, bound time.Duration) (accessLine, bool) {
	t.Helper()
	timeout := time.After(bound)
	for {
		s.mu.Lock()
		text := s.b.String()
		s.mu.Unlock()
		for l := range strings.SplitSeq(text, "\n") {
			var a accessLine
			if json.Unmarshal([]byte(l), &a) == nil && a.Msg == "request" {
				return a, true
			}
		}
		select {
		case <-s.wrote:
		case <-timeout:
			return accessLine{}, false
		}
	}
}

// deadlineGateway serves spec in front of backend, with the access log on
// and metrics, and returns the public server, the log and the metrics'
// server.
func deadlineGateway(t *testing.T, backend, limits, spec string) (*httptest.Server, *lineSink, *httptest.Server) {
	t.Helper()
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"s": {"urls": ["` + backend + `"]}}, "limits": ` + limits + `}`)},
		"e/x.json":     {Data: []byte(spec)},
	}
	sink := newLineSink()
	out := logs.New(sink)
	tr := engine.NewTransport()
	t.Cleanup(tr.CloseIdleConnections)
	g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: tr, Output: out, Logger: out.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	front := httptest.NewServer(g)
	t.Cleanup(front.Close)
	admin := httptest.NewServer(g.Metrics.Handler())
	t.Cleanup(admin.Close)
	return front, sink, admin
}

// TestDeadlineDuringComposition: a backend that answers at once, and a
// template whose work takes far longer than the endpoint's timeout. The
// deadline passes while the answer is composed: the client gets 504
// problem+json at about the deadline, not a 200 once composing is done.
func TestDeadlineDuringComposition(t *testing.T) {
	var items strings.Builder
	items.WriteString(`{"items": [`)
	for i := range 20000 {
		if i > 0 {
			items.WriteByte(',')
		}
		fmt.Fprintf(&items, `{"v": %d}`, i%7)
	}
	items.WriteString(`]}`)
	backend := jsonBackend(t, items.String())
	// 400 fields, each a walk over the 20,000 elements: seconds of work.
	var fields []string
	for i := range 400 {
		fields = append(fields, fmt.Sprintf(`"f%d": "reduce(big.items, #acc + #.v * %d, 0)"`, i, i+1))
	}
	spec := `{"method": "GET", "path": "/x", "timeout": "300ms",
		"calls": {"big": {"service": "s", "path": "/"}},
		"response": {"body": {` + strings.Join(fields, ", ") + `}}}`
	front, sink, admin := deadlineGateway(t, backend.URL, `{}`, spec)

	start := time.Now()
	resp, err := front.Client().Get(front.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusGatewayTimeout || resp.Header.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(string(body), "urn:frontdesk:timeout") {
		t.Fatalf("after %v: %d %s\n%.200s", took, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	t.Logf("504 after %v", took)
	line, ok := sink.accessLine(t, 5*time.Second)
	if !ok || line.Status != http.StatusGatewayTimeout || len(line.Calls) != 1 || line.Calls[0].Status != 200 {
		t.Errorf("access line %+v", line)
	}
	fams := scrape(t, admin.URL)
	if v := value(find(fams["frontdesk_requests_total"], map[string]string{"endpoint": "GET /x", "status": "504"})); v != 1 {
		t.Errorf("requests with status 504 = %v, want 1", v)
	}
}

// TestDeadlinePassesDuringWrite: the answer is composed in time, but the
// client does not read it: the endpoint's deadline (3s), well before
// write_timeout (10s), closes the connection, and the access line and
// metrics say 499, not the 200 the headers said. With a write_timeout
// shorter than the deadline, it is write_timeout that cuts, and the
// request is recorded as 499 too.
func TestDeadlinePassesDuringWrite(t *testing.T) {
	big := `"` + strings.Repeat("x", 2<<20) + `"`
	backend := jsonBackend(t, `{"blob": `+big+`}`)
	// 16 copies of the call's answer, spliced whole (no scan): 32 MB, far
	// more than loopback's socket buffers hold.
	var fields []string
	for i := range 16 {
		fields = append(fields, fmt.Sprintf(`"f%d": "c"`, i))
	}
	for _, tc := range []struct {
		name, limits, timeout string
	}{
		{"the endpoint's deadline", `{}`, "3s"},
		{"write_timeout", `{"write_timeout": "300ms"}`, "10s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := `{"method": "GET", "path": "/x", "timeout": "` + tc.timeout + `",
				"calls": {"c": {"service": "s", "path": "/"}},
				"response": {"body": {` + strings.Join(fields, ", ") + `}}}`
			front, sink, admin := deadlineGateway(t, backend.URL, tc.limits, spec)
			conn, err := net.Dial("tcp", front.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// (Its read buffer is left as it is: on loopback, one smaller
			// than a segment stalls even the data already sent.)
			conn.SetDeadline(time.Now().Add(20 * time.Second)) // the test's own bound
			fmt.Fprintf(conn, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
			// Not a byte read until the gateway has given up.
			line, ok := sink.accessLine(t, 8*time.Second)
			if !ok {
				t.Fatal("no access line within 8s: the gateway still writes to a client that does not read")
			}
			if line.Status != 499 || line.Bytes >= 32<<20 {
				t.Errorf("access line: status %d, %d bytes; want 499 and the bytes written before the cut", line.Status, line.Bytes)
			}
			fams := scrape(t, admin.URL)
			if v := value(find(fams["frontdesk_requests_total"], map[string]string{"endpoint": "GET /x", "status": "499"})); v != 1 {
				t.Errorf("requests with status 499 = %v, want 1", v)
			}
			if m := find(fams["frontdesk_requests_total"], map[string]string{"endpoint": "GET /x", "status": "200"}); value(m) != 0 {
				t.Errorf("requests with status 200 = %v, want 0", value(m))
			}
			// What the client gets: headers, part of the body, then the
			// connection closes.
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				return // closed before the headers were out: nothing at all
			}
			n, err := io.Copy(io.Discard, resp.Body)
			if err == nil || n >= resp.ContentLength {
				t.Errorf("the client read %d of %d bytes, then %v; want the connection closed early", n, resp.ContentLength, err)
			}
		})
	}
}

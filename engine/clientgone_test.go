package engine_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"frontdesk/engine"
)

// recordLog keeps every record's level, message and status.
type recordLog struct {
	mu      sync.Mutex
	records []string
}

func (l *recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *recordLog) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "status" {
			line += " status=" + a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, line)
	l.mu.Unlock()
	return nil
}
func (l *recordLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *recordLog) WithGroup(string) slog.Handler      { return l }

// TestClientGoneLoggedOnce: a client that goes away while its calls run
// is logged once, as 499, and nothing is written.
func TestClientGoneLoggedOnce(t *testing.T) {
	arrived := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select { // until the gateway gives up on it
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer backend.Close()
	fsys := fstest.MapFS{
		"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"s": {"urls": ["` + backend.URL + `"]}}}`)},
		"e/slow.json":  {Data: []byte(`{"method": "GET", "path": "/slow", "calls": {"c": {"service": "s", "path": "/x"}}}`)},
	}
	logs := &recordLog{}
	tr := engine.NewTransport()
	defer tr.CloseIdleConnections()
	g, err := engine.Load(fsys, "gateway.json", engine.Options{Transport: tr, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	var wrote bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &writeSpy{ResponseWriter: w}
		g.ServeHTTP(rec, r)
		wrote = rec.wrote
		close(served)
	}))
	defer front.Close()

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", front.URL+"/slow", nil)
	ctr := &http.Transport{}
	defer ctr.CloseIdleConnections()
	client := &http.Client{Transport: ctr}
	go func() {
		<-arrived
		cancel()
	}()
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the request was answered")
	}
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not return after its client went away")
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.records) != 1 || logs.records[0] != "INFO request failed status=499" {
		t.Errorf("log records %q, want one INFO record with status 499", logs.records)
	}
	if wrote {
		t.Error("the gateway wrote an answer nobody reads")
	}
}

type writeSpy struct {
	http.ResponseWriter
	wrote bool
}

func (w *writeSpy) WriteHeader(code int)        { w.wrote = true; w.ResponseWriter.WriteHeader(code) }
func (w *writeSpy) Write(b []byte) (int, error) { w.wrote = true; return w.ResponseWriter.Write(b) }

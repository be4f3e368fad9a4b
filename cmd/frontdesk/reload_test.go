package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReloadProcess: on the real process, a spec added to the endpoints
// folder is served without a signal (the folder watch), a broken spec is
// refused by POST /reload with 422 and the lint errors as JSON while the
// old config serves on, and /routes lists what is loaded.
func TestReloadProcess(t *testing.T) {
	backend := okBackend(t)
	g := startGatewayIn(t, t.TempDir(), backend.URL)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	status := func(method, url string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, _ := status("GET", "http://"+g.addr+"/y"); st != 404 {
		t.Fatalf("/y before: %d", st)
	}

	// An editor's save: written beside, renamed over.
	tmp := filepath.Join(g.dir, "e", ".y.json.tmp")
	os.WriteFile(tmp, []byte(`{"method": "GET", "path": "/y", "calls": {"c": {"service": "s", "path": "/"}}}`), 0o644)
	os.Rename(tmp, filepath.Join(g.dir, "e", "y.json"))
	start := time.Now()
	for {
		if st, _ := status("GET", "http://"+g.addr+"/y"); st == 200 {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("a new spec was not served within 10s of being written")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the new spec served %v after it was written", time.Since(start).Round(time.Millisecond))

	st, body := status("GET", "http://"+g.admin+"/routes")
	var routes struct {
		Endpoints []struct {
			Method, Route string
			Calls         []struct{ Name string }
		}
	}
	if err := json.Unmarshal(body, &routes); st != 200 || err != nil || len(routes.Endpoints) != 2 {
		t.Fatalf("/routes: %d %v %s", st, err, body)
	}

	// A broken spec: the watch refuses it too, and POST /reload says why.
	os.WriteFile(filepath.Join(g.dir, "e", "y.json"), []byte(`{"method": "GET", "path": "/y",
  "calls": {"c": {"service": "missing", "path": "/"}}}`), 0o644)
	st, body = status("POST", "http://"+g.admin+"/reload")
	var problems []struct {
		File           string
		Line, Column   int
		Severity, Rule string
		Message        string
	}
	if err := json.Unmarshal(body, &problems); st != 422 || err != nil || len(problems) == 0 {
		t.Fatalf("POST /reload of a broken spec: %d %v %s", st, err, body)
	}
	if p := problems[0]; !strings.HasSuffix(p.File, "y.json") || p.Line != 2 || p.Column == 0 || p.Severity != "error" {
		t.Fatalf("the problem does not point into y.json: %+v", p)
	}
	if st, _ := status("GET", "http://"+g.addr+"/y"); st != 200 {
		t.Fatalf("the old /y stopped serving after a refused reload: %d", st)
	}
	awaitLog(t, g.logs, "reload refused")

	os.Remove(filepath.Join(g.dir, "e", "y.json"))
	st, body = status("POST", "http://"+g.admin+"/reload")
	if st != 200 || !strings.Contains(string(body), `"result": "ok"`) {
		t.Fatalf("POST /reload: %d %s", st, body)
	}
	if st, _ := status("GET", "http://"+g.addr+"/y"); st != 404 {
		t.Fatalf("a removed spec still served: %d", st)
	}
}

// TestServeLogFlags: on the real process, --log-format text gives
// key=value lines and each request writes its access line; bad flag
// values are usage errors.
func TestServeLogFlags(t *testing.T) {
	backend := okBackend(t)
	g := startGatewayIn(t, t.TempDir(), backend.URL, "--log-format", "text", "--log-level", "info")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + g.addr + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l := <-g.logs:
			if strings.Contains(l, "msg=request") {
				if !strings.HasPrefix(l, "time=") || !strings.Contains(l, " route=/x status=200 ") || !strings.Contains(l, `calls="c:200:`) {
					t.Fatalf("text access line: %q", l)
				}
				return
			}
			if strings.HasPrefix(l, "{") {
				t.Fatalf("a JSON line with --log-format text: %q", l)
			}
		case <-deadline:
			t.Fatal("no access line within 10s")
		}
	}
}

func TestServeBadLogFlags(t *testing.T) {
	for _, args := range [][]string{{"--log-level", "loud"}, {"--log-format", "xml"}} {
		var out, errb strings.Builder
		err := run(t.Context(), append([]string{"serve"}, args...), func(string) (string, bool) { return "", false }, &out, &errb)
		if code, ok := err.(exitCode); !ok || code != 2 || !strings.Contains(errb.String(), "must be") {
			t.Errorf("serve %v: %v, %q", args, err, errb.String())
		}
	}
}

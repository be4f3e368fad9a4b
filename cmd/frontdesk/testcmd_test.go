package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func stNoEnv(string) (string, bool) { return "", false }

func stRun(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb strings.Builder
	err = run(context.Background(), append([]string{"test"}, args...), stNoEnv, &out, &errb)
	return out.String(), errb.String(), err
}

// TestSpecTestExamples is `frontdesk test endpoints` from the repository:
// every shipped spec test passes, and every example endpoint has one.
func TestSpecTestExamples(t *testing.T) {
	stdout, stderr, err := stRun(t, "../../endpoints")
	if err != nil {
		t.Fatalf("err = %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasSuffix(last, " passed, 0 failed") {
		t.Errorf("last line = %q", last)
	}
	for _, name := range []string{"mobile/checkout", "mobile/home", "web/checkout", "web/product"} {
		if !strings.Contains(stdout, "ok   ../../endpoints/"+name+".test.json  ") {
			t.Errorf("no ok line for %s:\n%s", name, stdout)
		}
	}
	if strings.Contains(stdout, "no spec test") {
		t.Errorf("an example endpoint has no spec test:\n%s", stdout)
	}
}

const stSpec = `{
  "method": "GET",
  "path": "/hello/{id}",
  "calls": {
    "user": { "service": "user", "path": "/users/${params.id}" }
  },
  "response": { "body": { "greeting": "'Hello, ' + user.name", "id": "user.id" } }
}
`

// tempSpec writes a spec and its test into a fresh folder, with a
// gateway.json giving the user service a URL.
func stTempSpec(t *testing.T, test string) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "gateway.json"), []byte(`{ "endpoints": ["api"], "services": { "user": { "urls": ["http://users.internal:9101"] } } }`), 0o644))
	must(os.Mkdir(filepath.Join(dir, "api"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "api", "hello.json"), []byte(stSpec), 0o644))
	must(os.WriteFile(filepath.Join(dir, "api", "hello.test.json"), []byte(test), 0o644))
	return dir
}

const stTest = `{
  "$schema": "../schemas/test.schema.json",
  "cases": [
    {
      "name": "greets by name",
      "request": { "path": "/hello/u1" },
      "calls": { "user": { "body": { "id": "u1", "name": "Ada" } } },
      "expect": { "status": 200, "body": { "greeting": "Hello, Ada", "id": "u1" } }
    },
    {
      "name": "stale",
      "request": { "path": "/hello/u2" },
      "calls": { "user": { "body": { "id": "u2", "name": "Grace" } } },
      "expect": {
        "status": 200,
        "body": { "greeting": "Hello, Ada", "id": "u2" }
      }
    }
  ]
}
`

func TestSpecTestFailsWithDiff(t *testing.T) {
	dir := stTempSpec(t, stTest)
	stdout, stderr, err := stRun(t, "-c", filepath.Join(dir, "gateway.json"), filepath.Join(dir, "api"))
	if code, ok := err.(exitCode); !ok || code != 1 {
		t.Fatalf("err = %v, stderr:\n%s", err, stderr)
	}
	// Files under a folder given as an absolute path are named absolutely.
	name := filepath.ToSlash(filepath.Join(dir, "api", "hello.test.json"))
	want := `FAIL ` + name + `: case "stale"
    $.greeting: want "Hello, Ada", got "Hello, Grace"
    backend requests:
        user: GET http://users.internal:9101/users/u2
1 passed, 1 failed
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
}

func TestSpecTestUpdate(t *testing.T) {
	dir := stTempSpec(t, stTest)
	file := filepath.Join(dir, "api", "hello.test.json")
	// Flags after the path work too.
	stdout, stderr, err := stRun(t, dir+"/api", "--update")
	if err != nil {
		t.Fatalf("err = %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	if !strings.HasSuffix(stdout, "2 passed, 0 failed\n") {
		t.Errorf("stdout:\n%s", stdout)
	}
	if want := "updated " + filepath.ToSlash(file) + ": case \"stale\"\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	got, _ := os.ReadFile(file)
	want := strings.Replace(stTest, `"body": { "greeting": "Hello, Ada", "id": "u2" }`, `"body": { "greeting": "Hello, Grace", "id": "u2" }`, 1)
	if string(got) != want {
		t.Errorf("file after update:\n%s\nwant:\n%s", got, want)
	}
	// A plain run now passes and changes nothing.
	if _, _, err := stRun(t, dir+"/api"); err != nil {
		t.Errorf("after update: %v", err)
	}
}

func TestSpecTestJSON(t *testing.T) {
	dir := stTempSpec(t, stTest)
	var outs []string
	for range 2 {
		stdout, _, err := stRun(t, "--format", "json", filepath.Join(dir, "api"))
		if code, ok := err.(exitCode); !ok || code != 1 {
			t.Fatalf("err = %v", err)
		}
		outs = append(outs, stdout)
	}
	if outs[0] != outs[1] {
		t.Fatalf("JSON output is not stable:\n%s\n%s", outs[0], outs[1])
	}
	var rep struct {
		Files []struct {
			File  string `json:"file"`
			Cases []struct {
				Name     string   `json:"name"`
				OK       bool     `json:"ok"`
				Failures []string `json:"failures"`
			} `json:"cases"`
		} `json:"files"`
		Passed, Failed int
	}
	if err := json.Unmarshal([]byte(outs[0]), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Passed != 1 || rep.Failed != 1 || len(rep.Files) != 1 || len(rep.Files[0].Cases) != 2 ||
		rep.Files[0].Cases[1].Failures[0] != `$.greeting: want "Hello, Ada", got "Hello, Grace"` {
		t.Errorf("report: %+v", rep)
	}
}

func TestSpecTestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--format", "xml", "../../endpoints"},
		{"--nope"},
		{"/no/such/folder"},
		{"-c", "/no/such/gateway.json", "../../endpoints"},
	} {
		_, stderr, err := stRun(t, args...)
		if code, ok := err.(exitCode); !ok || code != 2 {
			t.Errorf("%v: err = %v, want exit status 2", args, err)
		}
		if stderr == "" {
			t.Errorf("%v: nothing said on stderr", args)
		}
	}
}

func TestSpecTestNoConfigNoPaths(t *testing.T) {
	t.Chdir(t.TempDir())
	_, stderr, err := stRun(t)
	if code, ok := err.(exitCode); !ok || code != 2 || !strings.Contains(stderr, "no gateway.json here") {
		t.Errorf("err = %v, stderr = %q", err, stderr)
	}
}

func TestSpecTestConfigFolders(t *testing.T) {
	dir := stTempSpec(t, stTest)
	os.WriteFile(filepath.Join(dir, "api", "bye.json"), []byte(strings.Replace(stSpec, "/hello/", "/bye/", 1)), 0o644)
	stdout, _, err := stRun(t, "-c", filepath.Join(dir, "gateway.json"))
	if code, ok := err.(exitCode); !ok || code != 1 {
		t.Fatalf("err = %v", err)
	}
	if want := "/api/bye.json  no spec test\n"; !strings.Contains(stdout, want) || !strings.HasPrefix(stdout, "?    ") {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
}

package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/goleak"
)

// waitTrigger waits for one trigger, within a bound far above MaxDelay.
func waitTrigger(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no reload was triggered", what)
	}
}

func newWatcher(t *testing.T, paths ...string) (*Watcher, <-chan struct{}) {
	t.Helper()
	ch := make(chan struct{}, 100)
	w, err := New(func() []string { return paths }, func() { ch <- struct{}{} }, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, ch
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatchTriggers(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.json")
	eps := filepath.Join(dir, "endpoints")
	sub := filepath.Join(eps, "shop")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, cfg, "{}")
	w, ch := newWatcher(t, cfg, eps)
	if got := len(w.Watching()); got != 3 {
		t.Fatalf("watching %v, want the config's folder, endpoints and endpoints/shop", w.Watching())
	}

	write(t, cfg, `{"listen": ":1"}`)
	waitTrigger(t, ch, "gateway.json written")

	// An editor's save: a new file renamed over the old one.
	tmp := filepath.Join(sub, ".a.json.tmp")
	write(t, tmp, "{}")
	if err := os.Rename(tmp, filepath.Join(sub, "a.json")); err != nil {
		t.Fatal(err)
	}
	waitTrigger(t, ch, "a spec renamed into a subfolder")

	// A new folder under endpoints is watched after the reload it causes.
	nested := filepath.Join(eps, "new")
	if err := os.Mkdir(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	waitTrigger(t, ch, "a folder made")
	write(t, filepath.Join(nested, "b.json"), "{}")
	waitTrigger(t, ch, "a spec in the new folder")
}

// A burst of changes is one reload, not one per event.
func TestWatchCoalesces(t *testing.T) {
	dir := t.TempDir()
	_, ch := newWatcher(t, dir)
	for i := range 50 {
		write(t, filepath.Join(dir, "s.json"), string(rune('a'+i%26)))
	}
	waitTrigger(t, ch, "a burst of writes")
	// The burst took far less than Quiet; wait out one more coalescing
	// window and check nothing else came.
	select {
	case <-ch:
		t.Fatal("a burst of 50 writes gave more than one reload")
	case <-time.After(2 * MaxDelay):
	}
}

// Kubernetes updates a ConfigMap volume by making a new timestamped
// folder, pointing ..data_tmp at it and renaming ..data_tmp over ..data;
// gateway.json is a symlink to ..data/gateway.json and never changes
// itself.
func TestWatchConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	v1 := filepath.Join(dir, "..2026_12_01_v1")
	os.Mkdir(v1, 0o755)
	write(t, filepath.Join(v1, "gateway.json"), "{}")
	if err := os.Symlink(filepath.Base(v1), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "gateway.json")
	os.Symlink(filepath.Join("..data", "gateway.json"), cfg)
	_, ch := newWatcher(t, cfg)

	v2 := filepath.Join(dir, "..2026_12_01_v2")
	os.Mkdir(v2, 0o755)
	write(t, filepath.Join(v2, "gateway.json"), `{"listen": ":2"}`)
	os.Symlink(filepath.Base(v2), filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	waitTrigger(t, ch, "the ..data symlink swapped")
	if b, _ := os.ReadFile(cfg); string(b) != `{"listen": ":2"}` {
		t.Fatalf("the swap did not take: %s", b)
	}
}

// Folders a reload no longer names stop being watched, and Close leaves
// no goroutine behind.
func TestWatchSyncAndClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, b := t.TempDir(), t.TempDir()
	paths := []string{a, b}
	w, err := New(func() []string { return paths }, func() {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Watching()) != 2 {
		t.Fatalf("watching %v", w.Watching())
	}
	paths = []string{a}
	w.Sync()
	if got := w.Watching(); len(got) != 1 || got[0] != a {
		t.Fatalf("after Sync watching %v, want only %s", got, a)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Close() // twice is fine
}

func TestRelevant(t *testing.T) {
	dir := t.TempDir()
	_, ch := newWatcher(t, dir)
	write(t, filepath.Join(dir, ".gateway.json.swp"), "x")
	write(t, filepath.Join(dir, "gateway.json~"), "x")
	select {
	case <-ch:
		t.Fatal("an editor's swap file triggered a reload")
	case <-time.After(2 * MaxDelay):
	}
}

// A tree of more folders than MaxFolders is watched up to the bound, no
// further.
func TestWatchFolderBound(t *testing.T) {
	dir := t.TempDir()
	for i := range MaxFolders + 10 {
		if err := os.Mkdir(filepath.Join(dir, fmt.Sprintf("d%05d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, _, _ := folders([]string{dir}); len(out) != MaxFolders {
		t.Fatalf("%d folders to watch, want the bound %d", len(out), MaxFolders)
	}
}

// Only what the configuration reads counts: a gateway whose standard error
// goes to a file beside gateway.json must not reload on its own log lines,
// while a touch on a file it reads is a reload.
func TestRelevantOnlyConfigFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.json")
	keys := filepath.Join(dir, "keys", "issuer.pem")
	eps := filepath.Join(dir, "endpoints")
	for _, d := range []string{filepath.Dir(keys), filepath.Join(eps, "shop")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, cfg, "{}")
	write(t, keys, "k")
	w, _ := newWatcher(t, cfg, eps, keys)
	newDir := filepath.Join(eps, "new")
	if err := os.Mkdir(newDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		op   fsnotify.Op
		want bool
	}{
		{cfg, fsnotify.Write, true},
		{cfg, fsnotify.Chmod, true}, // touch
		{cfg, fsnotify.Remove, true},
		{cfg, fsnotify.Create, true}, // renamed over
		{keys, fsnotify.Chmod, true},
		{filepath.Join(dir, "gateway.log"), fsnotify.Write, false},
		{filepath.Join(dir, "gateway.json.bak"), fsnotify.Create, false},
		{filepath.Join(dir, "other.json"), fsnotify.Write, false}, // beside gateway.json, not a spec folder
		{filepath.Join(filepath.Dir(keys), "other.pem"), fsnotify.Write, false},
		{filepath.Join(eps, "a.json"), fsnotify.Create, true},
		{filepath.Join(eps, "shop", "b.json"), fsnotify.Write, true},
		{filepath.Join(eps, "shop", "b.json"), fsnotify.Chmod, true},
		{filepath.Join(eps, "shop", "b.json"), fsnotify.Remove, true},
		{filepath.Join(eps, "notes.txt"), fsnotify.Write, false},
		{filepath.Join(eps, "access.log"), fsnotify.Write, false},
		{filepath.Join(eps, ".a.json.swp"), fsnotify.Write, false},
		{newDir, fsnotify.Create, true},
		{filepath.Join(eps, "shop"), fsnotify.Remove, true}, // a watched folder
		{filepath.Join(dir, "..data"), fsnotify.Create, true},
		{filepath.Join(dir, "..data"), fsnotify.Chmod, false},
	} {
		if got := w.relevant(fsnotify.Event{Name: tc.name, Op: tc.op}); got != tc.want {
			rel, _ := filepath.Rel(dir, tc.name)
			t.Errorf("%s %v: relevant %v, want %v", rel, tc.op, got, tc.want)
		}
	}
}

// touch on a spec file (a time change only) reloads, end to end.
func TestWatchTouch(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "a.json")
	write(t, spec, "{}")
	_, ch := newWatcher(t, dir)
	now := time.Now().Add(time.Minute)
	if err := os.Chtimes(spec, now, now); err != nil {
		t.Fatal(err)
	}
	waitTrigger(t, ch, "touch on a spec file")
}

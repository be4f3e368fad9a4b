// Package watch calls for a reload when the files a gateway was loaded
// from change. It watches folders, never files: editors save by writing a
// new file and renaming it over the old one, and Kubernetes updates a
// ConfigMap volume by swapping a symlink (..data) in the folder, and
// neither is seen by a watch on the file itself. Events are coalesced: a
// burst of them (an editor's save, a git checkout, a ConfigMap update)
// gives one reload, at most Quiet after the last event and MaxDelay after
// the first.
//
// Only what a configuration reads counts: the files the gateway names
// (gateway.json, key and certificate files), spec files (.json) and
// folders in a folder tree it names, and Kubernetes' "..data" swap. A log
// file written beside gateway.json, or any other file in those folders,
// never triggers a reload. A permission or time change (touch) on a file
// that counts does, as a common way to ask for a reload.
package watch

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Coalescing bounds: a change is acted on within MaxDelay (the spec
// format promises 2s).
const (
	Quiet    = 250 * time.Millisecond
	MaxDelay = 1500 * time.Millisecond
)

// MaxFolders bounds the folders one gateway may have watched (each is a
// watch, a kernel resource of the process).
const MaxFolders = 4096

// Watcher watches the folders of a set of paths and calls Trigger after
// they change.
type Watcher struct {
	w       *fsnotify.Watcher
	paths   func() []string
	trigger func()
	log     *slog.Logger

	mu      sync.Mutex
	watched map[string]bool
	files   map[string]bool // paths named as files (or missing)
	trees   map[string]bool // folders of the named folder trees
	done    chan struct{}
	wg      sync.WaitGroup
}

// New watches the folders paths names: for a file, the folder it is in;
// for a folder, it and every folder under it. trigger runs on the
// watcher's own goroutine, one call at a time; before and after it, the
// watcher calls paths again (new folders under a watched one, and folders
// a reload names).
func New(paths func() []string, trigger func(), log *slog.Logger) (*Watcher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &Watcher{w: fw, paths: paths, trigger: trigger, log: log, watched: map[string]bool{}, done: make(chan struct{})}
	w.Sync()
	w.wg.Go(w.loop)
	return w, nil
}

// Watching lists the folders watched now, sorted.
func (w *Watcher) Watching() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.watched))
	for d := range w.watched {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// Sync makes the watched folders those paths names now.
func (w *Watcher) Sync() {
	want, files, trees := folders(w.paths())
	w.mu.Lock()
	defer w.mu.Unlock()
	w.files, w.trees = files, trees
	for d := range w.watched {
		if !want[d] {
			w.w.Remove(d) // gone already, when the folder was removed
			delete(w.watched, d)
		}
	}
	for d := range want {
		if w.watched[d] {
			continue
		}
		if err := w.w.Add(d); err != nil {
			w.log.Warn("cannot watch a folder for changes; edits there need a reload by hand", "folder", d, "error", err.Error())
			continue
		}
		w.watched[d] = true
	}
}

// folders is the set of folders that paths need watched, with the paths
// that name files (or nothing yet) and the folders of the trees named.
func folders(paths []string) (out, files, trees map[string]bool) {
	out, files, trees = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, p := range paths {
		p = filepath.Clean(p)
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			// A file, or something missing: its folder tells when it
			// comes (back).
			out[filepath.Dir(p)] = true
			files[p] = true
			continue
		}
		filepath.WalkDir(p, func(fp string, de fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if len(out) >= MaxFolders {
				return filepath.SkipAll
			}
			if de.IsDir() {
				if fp != p && strings.HasPrefix(de.Name(), ".") && !strings.HasPrefix(de.Name(), "..") {
					return filepath.SkipDir // .git and the like
				}
				out[fp] = true
				trees[fp] = true
			}
			return nil
		})
	}
	return out, files, trees
}

// Close stops watching and waits for a reload in progress.
func (w *Watcher) Close() error {
	select {
	case <-w.done:
		return nil
	default:
	}
	close(w.done)
	err := w.w.Close()
	w.wg.Wait()
	return err
}

func (w *Watcher) loop() {
	var (
		timer  *time.Timer
		fire   <-chan time.Time
		first  time.Time
		events = w.w.Events
		errs   = w.w.Errors
	)
	stop := func() {
		if timer != nil {
			timer.Stop()
		}
	}
	defer stop()
	for {
		select {
		case <-w.done:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if !w.relevant(ev) {
				continue
			}
			now := time.Now()
			if fire == nil {
				first = now
			}
			wait := min(Quiet, MaxDelay-now.Sub(first))
			stop()
			timer = time.NewTimer(max(wait, 0))
			fire = timer.C
		case err, ok := <-errs:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost: reload to be sure.
				stop()
				timer = time.NewTimer(0)
				fire = timer.C
				continue
			}
			w.log.Warn("watching for changes", "error", err.Error())
		case <-fire:
			fire = nil
			// Watch new folders before the reload reads them, so a file
			// written there from now on is an event; then again after,
			// for folders the new configuration names.
			w.Sync()
			w.trigger()
			w.Sync()
		}
	}
}

// relevant reports whether an event is about something the configuration
// reads: a file it names; in a folder tree it names, a spec file (.json)
// or a folder; in any watched folder, Kubernetes' ..data swap. Editors'
// swap and backup files never are.
func (w *Watcher) relevant(ev fsnotify.Event) bool {
	name := filepath.Clean(ev.Name)
	base := filepath.Base(name)
	switch {
	case strings.HasSuffix(base, ".swp"), strings.HasSuffix(base, ".swx"), strings.HasSuffix(base, "~"), base == "4913":
		return false
	case strings.HasPrefix(base, ".."):
		return ev.Op != fsnotify.Chmod // the ConfigMap swap
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.files[name] {
		return true // written, replaced, removed or touched
	}
	if !w.trees[filepath.Dir(name)] {
		return false // beside a named file: a log, a backup, anything else
	}
	if strings.HasSuffix(base, ".json") {
		return true
	}
	if ev.Op == fsnotify.Chmod {
		return false
	}
	if w.watched[name] {
		return true // a watched folder removed or renamed
	}
	fi, err := os.Lstat(name)
	return err == nil && fi.IsDir() // a new folder
}

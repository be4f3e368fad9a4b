package main

import (
	"context"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeHeap is a runtime the test drives: busy, it collects every second.
type fakeHeap struct {
	mu       sync.Mutex
	state    heapState
	held     int64
	busy     bool
	frees    int
	lastTick time.Time
}

func (f *fakeHeap) read() heapState {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy && time.Since(f.lastTick) >= time.Second {
		f.state.cycles++
		f.lastTick = time.Now()
	}
	return f.state
}

func (f *fakeHeap) set(fn func(f *fakeHeap)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeHeap) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.frees
}

// TestReleaserAfterBurst: during a burst (collections running, requests
// holding much) nothing is released; once it is over the memory is handed
// back within two ticks, once; a second burst ending within the gap waits
// for the gap.
func TestReleaserAfterBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHeap{state: heapState{retained: 30 << 20, live: 5 << 20, cycles: 3}}
		r := &releaser{gcPercent: 400, slack: releaseSlack, gap: releaseGap, read: f.read,
			held: func() int64 { f.mu.Lock(); defer f.mu.Unlock(); return f.held },
			free: func() {
				f.set(func(f *fakeHeap) {
					f.frees++
					f.state = heapState{retained: 30 << 20, live: 6 << 20, cycles: f.state.cycles + 1}
				})
			}}
		r.start()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); r.run(ctx, releaseEvery) }()
		defer func() { cancel(); <-done }()
		time.Sleep(releaseEvery / 2) // between ticks, from here on

		burst := func() {
			f.set(func(f *fakeHeap) { f.busy, f.held, f.state.retained, f.state.live = true, 500<<20, 2<<30, 600<<20 })
			time.Sleep(5 * time.Second)
			synctest.Wait()
			f.set(func(f *fakeHeap) { f.busy, f.held = false, 0 })
		}
		burst()
		if n := f.count(); n != 0 {
			t.Fatalf("%d releases during the burst", n)
		}
		time.Sleep(2 * releaseEvery)
		synctest.Wait()
		if n := f.count(); n != 1 {
			t.Fatalf("%d releases 2s after the burst, want 1", n)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := f.count(); n != 1 {
			t.Fatalf("%d releases a minute after, want still 1", n)
		}
		// A second burst: it ends 5s after it began, and the release
		// waits for the gap since the first.
		burst()
		time.Sleep(2 * releaseEvery)
		synctest.Wait()
		if n := f.count(); n != 2 {
			t.Fatalf("%d releases after the second burst, want 2", n)
		}
		f.set(func(f *fakeHeap) { f.busy, f.held, f.state.retained = true, 500<<20, 2<<30 })
		time.Sleep(3 * time.Second)
		synctest.Wait()
		f.set(func(f *fakeHeap) { f.busy, f.held = false, 0 })
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if n := f.count(); n != 2 {
			t.Fatalf("%d releases within the gap, want 2", n)
		}
		time.Sleep(releaseGap)
		synctest.Wait()
		if n := f.count(); n != 3 {
			t.Fatalf("%d releases after the gap, want 3", n)
		}
	})
}

// TestReleaserNeed: what the runtime may hold without a release is the
// base and what requests hold, at the collector's growth, plus the slack.
func TestReleaserNeed(t *testing.T) {
	for _, tc := range []struct {
		gc         int
		base, held int64
		retained   uint64
		release    bool
	}{
		{400, 8 << 20, 0, 8<<20*5 + releaseSlack, false},
		{400, 8 << 20, 0, 8<<20*5 + releaseSlack + 1, true},
		{100, 8 << 20, 0, 8<<20*2 + releaseSlack + 1, true},
		{400, 8 << 20, 32 << 20, 40<<20*5 + releaseSlack + 1, true},
		{400, 8 << 20, 32 << 20, 40<<20*5 + releaseSlack, false},
		{400, 8 << 20, releaseSlack + 1, 4 << 30, false}, // requests hold much: a burst is on
		{-1, 8 << 20, 0, 8<<20 + releaseSlack + 1, true}, // GOGC=off
	} {
		frees := 0
		state := heapState{retained: tc.retained, live: uint64(tc.base), cycles: 7}
		r := &releaser{gcPercent: tc.gc, slack: releaseSlack, gap: releaseGap, read: func() heapState { return state },
			held: func() int64 { return tc.held }, free: func() { frees++ }}
		r.start()
		if got := r.tick(time.Now()); got != tc.release || frees != map[bool]int{false: 0, true: 1}[tc.release] {
			t.Errorf("GOGC %d, base %d MB, held %d MB, retained %d: released %v (%d), want %v", tc.gc, tc.base>>20, tc.held>>20, tc.retained, got, frees, tc.release)
		}
	}
}

// TestReleaserReturnsMemory: on the real runtime, memory a burst grew and
// left as garbage is handed back by one release.
func TestReleaserReturnsMemory(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	r := newReleaser(400, func() int64 { return 0 })
	var keep [][]byte
	for range 64 {
		b := make([]byte, 4<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // touched: resident
		}
		keep = append(keep, b)
	}
	runtime.GC() // 256 MB live for the collector, then garbage
	runtime.KeepAlive(keep)
	keep = nil
	grown := readHeap().retained
	if grown < 256<<20 {
		t.Fatalf("the runtime holds %d MB after the burst", grown>>20)
	}
	r.tick(time.Now()) // a collection ran since start: not quiet
	if !r.tick(time.Now()) {
		t.Fatalf("no release with %d MB held and a base of %d MB", grown>>20, r.base>>20)
	}
	if after := readHeap().retained; after > grown/2 {
		t.Errorf("the runtime holds %d MB after the release, %d MB before", after>>20, grown>>20)
	}
}

// TestTuneGC: the gateway's percent unless GOGC is set; the percent in
// force is returned either way, for the default of max_decoded_total.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	if got := tuneGC(func(string) (string, bool) { return "", false }); got != gatewayGCPercent || debug.SetGCPercent(70) != gatewayGCPercent {
		t.Errorf("without GOGC: returned %d, want %d in force", got, gatewayGCPercent)
	}
	if got := tuneGC(func(k string) (string, bool) { return "70", k == "GOGC" }); got != 70 || debug.SetGCPercent(70) != 70 {
		t.Errorf("with GOGC=70: returned %d", got)
	}
}

// TestReleaserPercent: the GC percent follows what requests hold: the one
// at start while they hold little, lowered so the heap's growth stays what
// it is at rest plus the slack, never below the floor; set only when it
// changes.
func TestReleaserPercent(t *testing.T) {
	for _, tc := range []struct {
		gc   int
		held int64
		want int
	}{
		{400, 0, 400},
		{400, 16 << 20, 400}, // (8*4+64)/(8+16) = 400%
		{400, 128 << 20, 70}, // 96 MB over 136 MB
		{400, 1 << 30, gcFloor},
		{100, 64 << 20, 100}, // (8+64)/(8+64)
		{100, 100 << 20, 100 * 72 / 108},
		{30, 1 << 30, 30}, // below the floor already: left alone
		{-1, 1 << 30, -1}, // GOGC=off
	} {
		r := &releaser{gcPercent: tc.gc, slack: releaseSlack, base: releaseBase}
		if got := r.percent(tc.held); got != tc.want {
			t.Errorf("GOGC %d, held %d MB: %d, want %d", tc.gc, tc.held>>20, got, tc.want)
		}
	}
	var set []int
	held := int64(0)
	r := &releaser{gcPercent: 400, slack: releaseSlack, gap: releaseGap, held: func() int64 { return held },
		read: func() heapState { return heapState{retained: 10 << 20, live: 4 << 20, cycles: 1} }, free: func() {},
		setGC: func(p int) { set = append(set, p) }}
	r.start()
	for _, h := range []int64{0, 128 << 20, 128 << 20, 1 << 30, 0, 0} {
		held = h
		r.tick(time.Now())
	}
	if want := []int{70, gcFloor, 400}; !slices.Equal(set, want) {
		t.Errorf("percents set %v, want %v", set, want)
	}
}

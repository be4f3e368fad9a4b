package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// heapState is what the releaser reads of the Go runtime.
type heapState struct {
	retained uint64 // memory the runtime holds from the OS: what it adds to RSS
	live     uint64 // the heap marked live by the last collection
	cycles   uint64 // collections so far
}

var heapSamples = []string{"/memory/classes/total:bytes", "/memory/classes/heap/released:bytes", "/gc/heap/live:bytes", "/gc/cycles/total:gc-cycles"}

// readHeap reads heapState from runtime/metrics (no stop of the world).
func readHeap() heapState {
	s := make([]metrics.Sample, len(heapSamples))
	for i, name := range heapSamples {
		s[i].Name = name
	}
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return heapState{retained: v(0) - min(v(1), v(0)), live: v(2), cycles: v(3)}
}

// releaser hands the heap's free memory back to the OS once a burst is
// over. The collector runs only as the heap grows: after a burst of large
// requests nothing is allocated, so nothing is collected, and the heap the
// burst grew (up to 1 + GOGC/100 times what it held) stays resident until
// the runtime's forced collection, two minutes on, and its slow scavenging
// after that. Each tick (a second) it compares what the runtime holds with
// what the process needs: its own live heap (base: the least a collection
// has found, or what the last release found less what requests held) plus
// what requests hold now (held, the engine's count of bodies and decoded
// values), with the collector's headroom over both, and slack. When it
// holds more, requests hold less than the slack and no collection ran
// since the last tick (the burst is over), it calls debug.FreeOSMemory: a
// collection, and every free page returned. At most once per gap, so a
// steady load never pays it more than that.
//
// Each tick it also sets the GC percent for what requests hold (percent):
// the gateway's while they hold little, lower as they hold more, so the
// heap's growth past what is live stays about what it is at rest instead
// of growing with it (400% of a gigabyte held is 4 GB of garbage).
type releaser struct {
	gcPercent int           // GOGC in force at start
	slack     uint64        // bytes held past the need that are tolerated
	gap       time.Duration // between releases, at least
	held      func() int64
	read      func() heapState
	free      func()
	setGC     func(int) // debug.SetGCPercent; nil leaves the percent alone

	base   uint64 // live heap after the last release (or at start)
	cycles uint64 // collections seen at the last tick
	last   time.Time
	gc     int // the percent set
}

// Defaults of the gateway's releaser.
const (
	releaseEvery = time.Second
	releaseGap   = 10 * time.Second
	releaseSlack = 64 << 20
	// releaseBase is the least live heap assumed at start, before a
	// collection has measured it.
	releaseBase = 8 << 20
	// gcFloor is the least GC percent set for what requests hold.
	gcFloor = 50
)

// newReleaser is a releaser of the process, its base read now (before any
// request, so at least releaseBase).
func newReleaser(gcPercent int, held func() int64) *releaser {
	r := &releaser{gcPercent: gcPercent, slack: releaseSlack, gap: releaseGap, held: held, read: readHeap, free: debug.FreeOSMemory,
		setGC: func(p int) { debug.SetGCPercent(p) }}
	r.start()
	return r
}

// start reads the base and the collections so far.
func (r *releaser) start() {
	s := r.read()
	r.base, r.cycles, r.gc = max(s.live, releaseBase), s.cycles, r.gcPercent
}

// percent is the GC percent while requests hold held bytes: the one at
// start, lowered so the heap grows past what is live by no more than it
// does at rest plus the slack, but never below gcFloor. GOGC off, or
// already at the floor, is left alone.
func (r *releaser) percent(held int64) int {
	if r.gcPercent <= gcFloor {
		return r.gcPercent
	}
	headroom := r.base*uint64(r.gcPercent)/100 + r.slack
	p := headroom * 100 / (r.base + uint64(max(held, 0)))
	return int(max(min(p, uint64(r.gcPercent)), gcFloor))
}

// need is what the runtime may hold without a release: the base and what
// requests hold, times the collector's growth, and the slack.
func (r *releaser) need(held int64) uint64 {
	growth := uint64(100 + max(r.gcPercent, 0))
	return (r.base+uint64(max(held, 0)))*growth/100 + r.slack
}

// tick releases memory if the runtime holds more than it needs and no
// collection ran since the last tick; it reports whether it did.
func (r *releaser) tick(now time.Time) bool {
	s := r.read()
	quiet := s.cycles == r.cycles
	r.cycles = s.cycles
	// The live heap of a collection is an upper bound of the base: what
	// requests held then is in it too.
	r.base = min(r.base, max(s.live, releaseBase))
	held := r.held()
	if p := r.percent(held); p != r.gc && r.setGC != nil {
		r.setGC(p)
		r.gc = p
	}
	if !quiet || held > int64(r.slack) || s.retained <= r.need(held) || !r.last.IsZero() && now.Sub(r.last) < r.gap {
		return false
	}
	r.free()
	after := r.read()
	held = max(r.held(), 0)
	r.base, r.cycles, r.last = max(after.live-min(uint64(held), after.live), releaseBase), after.cycles, now
	return true
}

// run ticks every period until ctx ends.
func (r *releaser) run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.tick(now)
		}
	}
}

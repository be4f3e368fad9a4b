package engine

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Live serves whichever gateway is current and replaces it whole on a
// reload. A request is served to its end by the gateway it began on: a
// reload swaps the pointer new requests read, and the old gateway is
// closed once the last request that holds it is done (or, at the latest,
// after its longest endpoint timeout and write timeout have passed).
//
// Serving costs two atomic adds on the gateway's own counter and one
// load of the pointer; nothing is locked on the request path.
type Live struct {
	ctx  context.Context // what background work (health, JWKS) runs under
	cur  atomic.Pointer[generation]
	mu   sync.Mutex // one reload at a time
	load func(prev *Gateway) (*Gateway, error)
	log  *slog.Logger

	closed   bool
	retiring sync.WaitGroup // old gateways waiting for their requests
	reloads  atomic.Uint64  // clean reloads swapped in
	backstop time.Duration  // the server's WriteTimeout; 0: none
}

// generation is one gateway while it serves and while its last requests
// finish.
type generation struct {
	gw       *Gateway
	longest  time.Duration // gw's longestRequest, when it passes the server's backstop
	active   atomic.Int64
	retiring atomic.Bool
	drained  chan struct{}
	once     sync.Once
}

func newGeneration(gw *Gateway) *generation {
	return &generation{gw: gw, drained: make(chan struct{})}
}

func (g *generation) leave() {
	if g.active.Add(-1) == 0 && g.retiring.Load() {
		g.once.Do(func() { close(g.drained) })
	}
}

// ErrLiveClosed is Reload's error after Close.
var ErrLiveClosed = errors.New("the gateway is shutting down")

// NewLive serves gw, which must have been started (Gateway.Start) under
// ctx. load makes the next gateway from the current one (Load with
// Options.Previous); Reload calls it. log receives what reloads do.
func NewLive(ctx context.Context, gw *Gateway, load func(prev *Gateway) (*Gateway, error), log *slog.Logger) *Live {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Live{ctx: ctx, load: load, log: log}
	l.cur.Store(newGeneration(gw))
	return l
}

// Gateway is the gateway serving now.
func (l *Live) Gateway() *Gateway { return l.cur.Load().gw }

// ServeHTTP serves r on the current gateway.
func (l *Live) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for {
		g := l.cur.Load()
		g.active.Add(1)
		// Counted first, then checked: a reload marks the old gateway
		// retiring and then reads its count, so either it sees this
		// request or this request sees the mark and takes the new one.
		if !g.retiring.Load() {
			if g.longest > 0 {
				http.NewResponseController(w).SetWriteDeadline(time.Now().Add(g.longest))
			}
			serveOn(g, w, r)
			return
		}
		g.leave()
	}
}

func serveOn(g *generation, w http.ResponseWriter, r *http.Request) {
	defer g.leave() // a panic the edge passes on (http.ErrAbortHandler) too
	g.gw.ServeHTTP(w, r)
}

// Reload loads the configuration again. A load with errors changes
// nothing and returns them (a LoadErrors); a clean one is started, takes
// over what it keeps from the current gateway, and serves every request
// from now on. The old gateway is closed in the background when its
// requests are done.
func (l *Live) Reload() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrLiveClosed
	}
	old := l.cur.Load()
	start := time.Now()
	gw, err := l.load(old.gw)
	if err != nil {
		old.gw.Metrics.Reloaded(false, time.Now())
		if le, ok := errors.AsType[LoadErrors](err); ok {
			for _, e := range le {
				if e.Severity == SevError {
					l.log.Error("reload refused: the running configuration keeps serving", "problem", e.Error())
				}
			}
		} else {
			l.log.Error("reload refused: the running configuration keeps serving", "error", err.Error())
		}
		return err
	}
	if err := gw.Start(l.ctx); err != nil {
		l.log.Error("reload: the issuer's keys could not be fetched; requests with a token are answered 503 until a retry succeeds", "error", err.Error())
	}
	gw.Adopt()
	ng := newGeneration(gw)
	// Compared like with like: the server's backstop is the longest
	// endpoint timeout plus write_timeout at start.
	if l.backstop > 0 && gw.LongestEndpoint()+gw.Limits.WriteTimeout > l.backstop {
		ng.longest = gw.longestRequest()
	}
	l.cur.Store(ng)
	old.gw.forgetDropped(gw)
	gw.Metrics.Reloaded(true, time.Now())
	l.reloads.Add(1)
	l.log.Info("reloaded", "endpoints", len(gw.Plans), "took_ms", float64(time.Since(start).Microseconds())/1000)
	l.retire(old)
	return nil
}

// retire closes old once its last request is done, or when the longest
// any of its requests may take has passed.
func (l *Live) retire(old *generation) {
	old.retiring.Store(true)
	if old.active.Load() == 0 {
		old.once.Do(func() { close(old.drained) })
	}
	bound := old.gw.longestRequest()
	l.retiring.Go(func() {
		t := time.NewTimer(bound)
		defer t.Stop()
		select {
		case <-old.drained:
		case <-t.C:
			l.log.Warn("reload: requests on the old configuration outlived its longest timeout; closing it anyway")
		}
		old.gw.Close()
	})
}

// Reloads is the number of clean reloads so far.
func (l *Live) Reloads() uint64 { return l.reloads.Load() }

// Close refuses further reloads, waits for old gateways to close, and
// closes the current one. Call it after the listener has drained.
func (l *Live) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.retiring.Wait()
	l.cur.Load().gw.Close()
}

// longestRequest bounds how long a request on g may run: its longest
// endpoint timeout, the time to read a body and to write an answer, and a
// second besides.
func (g *Gateway) longestRequest() time.Duration {
	return g.LongestEndpoint() + g.Limits.ReadBodyTimeout + g.Limits.WriteTimeout + time.Second
}

// LongestEndpoint is g's longest endpoint timeout (at least the default):
// with write_timeout, the server's backstop deadline for an answer.
func (g *Gateway) LongestEndpoint() time.Duration {
	longest := DefaultEndpointTimeout
	for _, p := range g.Plans {
		longest = max(longest, p.Timeout)
	}
	return longest
}

// forgetDropped removes the metric series of endpoints g served and next
// does not.
func (g *Gateway) forgetDropped(next *Gateway) {
	keep := map[string]bool{}
	for _, p := range next.Plans {
		keep[p.Method+" "+p.Route] = true
	}
	for _, p := range g.Plans {
		if r := p.Method + " " + p.Route; !keep[r] {
			g.Metrics.Forget(r)
		}
	}
}

// SetWriteBackstop tells Live the server's WriteTimeout: a gateway loaded
// later whose requests may run longer sets each request's write deadline
// itself.
func (l *Live) SetWriteBackstop(d time.Duration) { l.backstop = d }

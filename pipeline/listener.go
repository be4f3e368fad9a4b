package pipeline

import (
	"bytes"
	"container/heap"
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Listener bounds the connections open at once on a listener, in all and
// per client, so further clients wait in the kernel's backlog instead of
// taking file descriptors the process needs (for backends, its admin
// listener, its files), and so one client cannot take them all:
//
//   - A connection from a client (an IPv4 address, or an IPv6 /64: see
//     ClientKey) that holds PerClient already is closed at once (reason
//     per_ip); trusted proxies have no such bound.
//   - At Max, a new connection takes the place of one that is idle
//     (between requests) or header-less (accepted, no complete request
//     yet): the oldest such connection of the client that holds the most,
//     trusted proxies last. One with a request in flight is never closed;
//     when every connection has one, Accept waits for one to close or to
//     fall idle.
//
// Eviction needs the server's view of its connections: set the server's
// ConnState to the Listener's. Without it no connection is ever idle, and
// Accept waits at Max as before.
//
// Each connection it accepts also watches the header blocks its client
// sends: one that holds both Content-Length and Transfer-Encoding (the
// shape of request smuggling) marks the connection, and CloseSmuggled
// closes it after its answer (RFC 9112 6.3), whatever proxy sits in front.
type Listener struct {
	net.Listener
	max     int
	per     atomic.Pointer[perClient]
	refused func(reason string)
	track   bool // connections are counted: there is a bound
	alive   bool // set TCP keep-alive on the connections admitted
	done    chan struct{}
	once    sync.Once

	mu      sync.Mutex
	open    atomic.Int64           // written under mu
	clients map[netip.Addr]*client // by ClientKey
	byLoad  clientHeap             // every client, the one holding the most first

	evictable atomic.Int64  // connections idle or header-less now
	waiting   atomic.Bool   // Accept waits for room
	room      chan struct{} // poked when a connection closes or falls idle while Accept waits
}

// Bounds are a Listener's bounds.
type Bounds struct {
	Max       int            // connections open at once; <= 0: no bound
	PerClient int            // connections open at once from one client; <= 0: no bound
	Trusted   []netip.Prefix // peers with no per-client bound (trusted proxies), evicted from last
	// Refused, when set, is told of each connection a bound closed, with
	// its reason: RefusedPerClient, RefusedIdle or RefusedHeaderless.
	Refused func(reason string)
	// KeepAlive sets TCP keep-alive (Go's defaults) on each connection
	// admitted, for a listener made with keep-alive off
	// (net.ListenConfig.KeepAlive -1), so a refused one costs no system
	// calls for it.
	KeepAlive bool
}

// The reasons a Listener closes a connection.
const (
	RefusedPerClient  = "per_ip"             // its client held PerClient already
	RefusedIdle       = "idle_evicted"       // idle between requests, closed to make room at Max
	RefusedHeaderless = "headerless_evicted" // no complete request yet, closed to make room at Max
)

// perClient is the per-client bound and who is exempt from it.
type perClient struct {
	max     int
	trusted []netip.Prefix
}

// Limit wraps ln so at most max connections are open at once; max <= 0
// means no bound (the header watch still runs).
func Limit(ln net.Listener, max int) *Listener { return Bound(ln, Bounds{Max: max}) }

// Bound wraps ln with b's bounds.
func Bound(ln net.Listener, b Bounds) *Listener {
	l := &Listener{Listener: ln, max: b.Max, refused: b.Refused, alive: b.KeepAlive,
		done: make(chan struct{}), room: make(chan struct{}, 1), clients: map[netip.Addr]*client{}}
	l.per.Store(&perClient{max: b.PerClient, trusted: b.Trusted})
	l.track = l.max > 0 || b.PerClient > 0
	return l
}

// SetPerClient changes the per-client bound and the trusted proxies (a
// reload), for the connections accepted from now on. It does not start
// counting on a Listener made with neither bound.
func (l *Listener) SetPerClient(max int, trusted []netip.Prefix) {
	l.per.Store(&perClient{max: max, trusted: trusted})
}

// ClientKey is what a per-client bound counts a client's address by: an
// IPv4 address (an IPv4-mapped IPv6 one too) as is, an IPv6 address by
// its /64, the block one subscriber is usually given, so a client cannot
// pass the bound by taking a new address out of it.
func ClientKey(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// Accept waits for room (a free slot, or an idle or header-less
// connection to close), then for a connection it admits.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		if err := l.waitRoom(); err != nil {
			return nil, err
		}
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !l.track {
			l.keepAlive(nc)
			return &conn{Conn: nc, l: l}, nil
		}
		c, err := l.admit(nc)
		if err != nil {
			return nil, err
		}
		if c != nil {
			return c, nil
		}
	}
}

// waitRoom returns once a connection may be taken in: under Max, or with
// a connection to evict.
func (l *Listener) waitRoom() error {
	for l.max > 0 && l.open.Load() >= int64(l.max) && l.evictable.Load() == 0 {
		l.waiting.Store(true)
		// A close or a fall into idle after the check above pokes room.
		if l.open.Load() < int64(l.max) || l.evictable.Load() > 0 {
			l.waiting.Store(false)
			break
		}
		select {
		case <-l.room:
		case <-l.done:
			l.waiting.Store(false)
			return net.ErrClosed
		}
		l.waiting.Store(false)
	}
	select {
	case <-l.done:
		return net.ErrClosed
	default:
		return nil
	}
}

// poke wakes Accept if it waits for room.
func (l *Listener) poke() {
	if l.waiting.Load() {
		select {
		case l.room <- struct{}{}:
		default:
		}
	}
}

// admit takes nc in, closing it if its client holds PerClient already
// (nil, nil), and at Max evicts a connection to make room, or waits for
// one to close or fall idle.
func (l *Listener) admit(nc net.Conn) (*conn, error) {
	per := l.per.Load()
	key, trusted := clientOf(nc, per.trusted)
	l.mu.Lock()
	if cl := l.clients[key]; per.max > 0 && !trusted && key.IsValid() && cl != nil && cl.n >= per.max {
		l.mu.Unlock()
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset: no TIME_WAIT left behind by a flood
		}
		nc.Close()
		l.count(RefusedPerClient)
		return nil, nil
	}
	for l.max > 0 && l.open.Load() >= int64(l.max) {
		v, reason := l.victim()
		l.mu.Unlock()
		if v == nil {
			if err := l.waitRoom(); err != nil {
				nc.Close()
				return nil, err
			}
		} else {
			v.Close()
			l.count(reason)
		}
		l.mu.Lock()
	}
	c := &conn{Conn: nc, l: l}
	l.add(c, key, trusted)
	l.mu.Unlock()
	l.keepAlive(nc)
	return c, nil
}

// keepAlive sets TCP keep-alive on an admitted connection, if asked.
func (l *Listener) keepAlive(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok && l.alive {
		tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true})
	}
}

func (l *Listener) count(reason string) {
	if l.refused != nil {
		l.refused(reason)
	}
}

// clientOf is nc's client key and whether its peer is a trusted proxy;
// a peer that is not an IP address is the zero key.
func clientOf(nc net.Conn, trusted []netip.Prefix) (netip.Addr, bool) {
	ta, ok := nc.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	a := ta.AddrPort().Addr().Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return ClientKey(a), true
		}
	}
	return ClientKey(a), false
}

// client is the connections open from one client key, oldest first.
type client struct {
	key        netip.Addr
	trusted    bool
	n          int
	head, tail *conn
	idx        int // in byLoad
}

// add counts c as open, the newest of its client's. l.mu is held.
func (l *Listener) add(c *conn, key netip.Addr, trusted bool) {
	cl := l.clients[key]
	if cl == nil {
		cl = &client{key: key, trusted: trusted}
		l.clients[key] = cl
		heap.Push(&l.byLoad, cl)
	}
	c.owner = cl
	c.prev = cl.tail
	if cl.tail != nil {
		cl.tail.next = c
	} else {
		cl.head = c
	}
	cl.tail = c
	cl.n++
	heap.Fix(&l.byLoad, cl.idx)
	l.open.Add(1)
}

// remove counts c as closed. l.mu is held.
func (l *Listener) remove(c *conn) {
	cl := c.owner
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		cl.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		cl.tail = c.prev
	}
	c.prev, c.next = nil, nil
	cl.n--
	if cl.n == 0 {
		heap.Remove(&l.byLoad, cl.idx)
		delete(l.clients, cl.key)
	} else {
		heap.Fix(&l.byLoad, cl.idx)
	}
	l.open.Add(-1)
}

// victim picks the connection to close at Max and marks it gone, so the
// server can no longer make it active: the oldest idle or header-less
// connection of the client holding the most. nil when every connection
// has a request in flight. l.mu is held.
func (l *Listener) victim() (*conn, string) {
	if l.evictable.Load() == 0 {
		return nil, ""
	}
	var tried []*client
	defer func() {
		for _, cl := range tried {
			heap.Push(&l.byLoad, cl)
		}
	}()
	for l.byLoad.Len() > 0 {
		cl := heap.Pop(&l.byLoad).(*client)
		tried = append(tried, cl)
		for c := cl.head; c != nil; c = c.next {
			s := c.state.Load()
			if evictable(s) && c.state.CompareAndSwap(s, connGone) {
				l.evictable.Add(-1)
				if s == connNew {
					return c, RefusedHeaderless
				}
				return c, RefusedIdle
			}
		}
	}
	return nil, ""
}

// clientHeap orders clients by the connections they hold, the most first,
// trusted proxies after every other client.
type clientHeap []*client

func (h clientHeap) Len() int { return len(h) }
func (h clientHeap) Less(i, j int) bool {
	if h[i].trusted != h[j].trusted {
		return !h[i].trusted
	}
	return h[i].n > h[j].n
}
func (h clientHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *clientHeap) Push(x any) {
	cl := x.(*client)
	cl.idx = len(*h)
	*h = append(*h, cl)
}
func (h *clientHeap) Pop() any {
	old := *h
	cl := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return cl
}

// Close stops accepting; open connections are the server's to close.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Open is the number of connections open now (0 without a bound).
func (l *Listener) Open() int { return int(l.open.Load()) }

// ConnState is the http.Server hook that tells the Listener which of its
// connections are idle or header-less, so it may evict them at Max.
func (l *Listener) ConnState(nc net.Conn, s http.ConnState) {
	c, ok := nc.(*conn)
	if !ok || c.l != l || !l.track {
		return
	}
	switch s {
	case http.StateNew:
		c.setState(connNew)
	case http.StateIdle:
		c.setState(connIdle)
	case http.StateActive, http.StateHijacked:
		c.setState(connActive)
	}
}

// A connection's states, as the Listener sees them.
const (
	connAccepted int32 = iota // not yet seen by the server: never evicted
	connNew                   // no complete request yet
	connActive                // a request in flight (or hijacked)
	connIdle                  // between requests
	connGone                  // closed, or chosen for eviction
)

func evictable(s int32) bool { return s == connNew || s == connIdle }

// setState moves c to s, unless it is gone, and keeps the count of
// evictable connections.
func (c *conn) setState(s int32) {
	for {
		from := c.state.Load()
		if from == connGone {
			return
		}
		if !c.state.CompareAndSwap(from, s) {
			continue
		}
		switch {
		case evictable(s) && !evictable(from):
			c.l.evictable.Add(1)
			c.l.poke()
		case !evictable(s) && evictable(from):
			c.l.evictable.Add(-1)
		}
		return
	}
}

// conn is an accepted connection: it frees its slot once, on Close, and
// watches its client's header blocks.
type conn struct {
	net.Conn
	l      *Listener
	closed atomic.Bool

	// Its place among its client's connections (under l.mu) and its
	// state, when the Listener counts them.
	owner      *client
	prev, next *conn
	state      atomic.Int32

	// The header watch: the first bytes of the current line (lower-cased)
	// and its last ones, whether the bytes now are a request's header
	// block or what follows it (a body, or nothing yet), and what the
	// current block has shown so far.
	line     [len("transfer-encoding:")]byte
	n        int // bytes of line held
	seen     int // bytes of the line seen, up to 2: enough to tell a blank one
	tail     [len(" HTTP/1.1\r")]byte
	inHeader bool
	cl, te   bool
	folded   bool // a line that continues the one before (obs-fold)
	smuggled atomic.Bool
}

func (c *conn) Close() error {
	if c.closed.CompareAndSwap(false, true) && c.owner != nil {
		if evictable(c.state.Swap(connGone)) {
			c.l.evictable.Add(-1)
		}
		c.l.mu.Lock()
		c.l.remove(c)
		c.l.mu.Unlock()
		c.l.poke()
	}
	return c.Conn.Close()
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.smuggled.Load() {
		c.watch(p[:n])
	}
	return n, err
}

// watch scans bytes as the server reads them, a line at a time. Outside a
// header block it looks for a request line (one that ends "HTTP/1.x", even
// when the body before it had no newline); inside one, for Content-Length,
// Transfer-Encoding and lines that continue the one before (obs-fold, which
// Go reads as part of the previous header and a proxy may not). A body that
// happens to look like that only costs its client a new connection.
func (c *conn) watch(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		seg := b
		if i >= 0 {
			seg = b[:i]
		}
		for _, ch := range seg {
			if c.n == len(c.line) {
				break // only a line's start matters
			}
			if 'A' <= ch && ch <= 'Z' {
				ch += 'a' - 'A'
			}
			c.line[c.n] = ch
			c.n++
		}
		c.keepTail(seg)
		c.seen = min(c.seen+len(seg), 2)
		if i < 0 {
			return
		}
		c.endLine(c.seen == 0 || c.seen == 1 && c.line[0] == '\r')
		b = b[i+1:]
	}
}

// keepTail keeps the last bytes of the current line.
func (c *conn) keepTail(seg []byte) {
	t := c.tail[:]
	if len(seg) >= len(t) {
		copy(t, seg[len(seg)-len(t):])
		return
	}
	copy(t, t[len(seg):])
	copy(t[len(t)-len(seg):], seg)
}

// endLine ends the current line; empty says it was blank (the end of a
// header block).
func (c *conn) endLine(empty bool) {
	l := c.line[:c.n]
	switch {
	case !c.inHeader:
		c.inHeader = requestLineEnd(c.tail[:])
	case empty:
		if c.cl && c.te || c.folded {
			c.smuggled.Store(true)
		}
		c.cl, c.te, c.folded, c.inHeader = false, false, false, false
	case l[0] == ' ' || l[0] == '\t':
		c.folded = true
	case bytes.HasPrefix(l, []byte("content-length:")):
		c.cl = true
	case bytes.HasPrefix(l, []byte("transfer-encoding:")):
		c.te = true
	}
	c.n, c.seen = 0, 0
	c.tail = [len(c.tail)]byte{}
}

// requestLineEnd reports whether a line ended with an HTTP/1 version:
// " HTTP/1.1", with or without the CR.
func requestLineEnd(t []byte) bool {
	if t[len(t)-1] == '\r' {
		t = t[:len(t)-1]
	} else {
		t = t[1:]
	}
	return bytes.HasPrefix(t, []byte(" HTTP/1.")) && '0' <= t[len(t)-1] && t[len(t)-1] <= '9'
}

// CloseWrite half-closes the connection when it can, as net/http does
// before closing one whose request body it did not read.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

type connKey struct{}

// ConnContext is the http.Server hook that lets CloseSmuggled find a
// request's connection.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if cc, ok := c.(*conn); ok {
		return context.WithValue(ctx, connKey{}, cc)
	}
	return ctx
}

// CloseSmuggled is the stage that answers a request whose connection sent
// both Content-Length and Transfer-Encoding, then closes that connection,
// so nothing pipelined behind it is read as a request of its own.
func CloseSmuggled(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(*conn); ok && c.smuggled.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// Interface guards: the server takes the Listener, and half-closes the
// connections it hands out.
var (
	_ net.Listener                    = (*Listener)(nil)
	_ net.Conn                        = (*conn)(nil)
	_ interface{ CloseWrite() error } = (*conn)(nil)
)

package pipeline

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// Listener bounds the connections open at once on a listener: while max
// are open, Accept waits for one to close, so further clients wait in the
// kernel's backlog instead of taking file descriptors the process needs
// (for backends, its admin listener, its files).
//
// Each connection it accepts also watches the header blocks its client
// sends: one that holds both Content-Length and Transfer-Encoding (the
// shape of request smuggling) marks the connection, and CloseSmuggled
// closes it after its answer (RFC 9112 6.3), whatever proxy sits in front.
type Listener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
}

// Limit wraps ln so at most max connections are open at once; max <= 0
// means no bound (the header watch still runs).
func Limit(ln net.Listener, max int) *Listener {
	l := &Listener{Listener: ln, done: make(chan struct{})}
	if max > 0 {
		l.slots = make(chan struct{}, max)
	}
	return l
}

// Accept waits for a free slot, then for a connection.
func (l *Listener) Accept() (net.Conn, error) {
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		if l.slots != nil {
			<-l.slots
		}
		return nil, err
	}
	return &conn{Conn: c, l: l}, nil
}

// Close stops accepting; open connections are the server's to close.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Open is the number of connections open now (0 without a bound).
func (l *Listener) Open() int { return len(l.slots) }

// conn is an accepted connection: it frees its slot once, on Close, and
// watches its client's header blocks.
type conn struct {
	net.Conn
	l      *Listener
	closed atomic.Bool

	// The header watch: the first bytes of the current line, lower-cased,
	// and what the current block has named so far.
	line     [len("transfer-encoding:")]byte
	n        int // bytes of line held
	seen     int // bytes of the line seen, up to 2: enough to tell a blank one
	cl, te   bool
	smuggled atomic.Bool
}

func (c *conn) Close() error {
	if c.closed.CompareAndSwap(false, true) && c.l.slots != nil {
		<-c.l.slots
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

// watch scans bytes as the server reads them, a line at a time. A body
// line that happens to start with both names in one block only costs its
// client a new connection.
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
		c.seen = min(c.seen+len(seg), 2)
		if i < 0 {
			return
		}
		c.endLine(c.seen == 0 || c.seen == 1 && c.line[0] == '\r')
		b = b[i+1:]
	}
}

// endLine ends the current line; empty says it was blank (the end of a
// header block).
func (c *conn) endLine(empty bool) {
	l := c.line[:c.n]
	switch {
	case empty:
		if c.cl && c.te {
			c.smuggled.Store(true)
		}
		c.cl, c.te = false, false
	case bytes.HasPrefix(l, []byte("content-length:")):
		c.cl = true
	case bytes.HasPrefix(l, []byte("transfer-encoding:")):
		c.te = true
	}
	c.n, c.seen = 0, 0
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

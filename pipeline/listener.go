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

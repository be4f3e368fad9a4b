package cache

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"frontdesk/pipeline"
	"frontdesk/pipeline/logs"
	"frontdesk/pipeline/store"
)

// Header names (RFC 9211, RFC 9111).
const (
	HeaderStatus = "Cache-Status"
	HeaderAge    = "Age"
)

// Cache-Status values.
const (
	statusHit     = "frontdesk; hit"
	statusMiss    = "frontdesk; fwd=miss"
	statusRequest = "frontdesk; fwd=request" // a client's no-cache, honored
	statusMethod  = "frontdesk; fwd=method"  // not GET or HEAD
)

// maxRecord bounds the answer a fill holds to hand to its waiters. The
// engine holds a composed answer whole in memory before writing it, so
// this is a backstop; past it the fill's waiters have their connections
// aborted rather than be served a truncated body.
const maxRecord = 1 << 30

// KeyFunc gives the key parts of a request: the engine builds it from the
// compiled spec (ReadParts for params, query and headers; auth and body
// values; the vary values; the identity). An error is written as the
// request's answer, and nothing is cached.
type KeyFunc func(r *http.Request) (*Request, error)

// Cache is the response cache of one endpoint. Make it with New; it is
// safe for concurrent use.
type Cache struct {
	cfg    Config
	store  Store
	keyOf  KeyFunc
	log    *slog.Logger
	errLog store.ErrorLog
	// cacheControl is the Cache-Control a storable answer gets when it
	// sets none: "private, max-age=N" or "public, max-age=N".
	cacheControl string
	group        singleflight.Group

	hits, misses, refreshes, bypassed              atomic.Uint64
	stored, notStorable, tooBig, storeErrors, join atomic.Uint64

	onJoin func() // tests: a request is waiting on a fill
}

// New checks cfg and makes an endpoint's cache on st. log gets panics
// and store errors (at most one line per 10s); nil logs nothing.
func New(st Store, cfg Config, keyOf KeyFunc, log *slog.Logger) (*Cache, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if st == nil || keyOf == nil {
		return nil, errors.New("cache: a store and a key function are required")
	}
	vis := "private"
	if cfg.Scope == ScopeShared {
		vis = "public"
	}
	return &Cache{cfg: cfg, store: st, keyOf: keyOf, log: log, errLog: store.ErrorLog{Log: log},
		cacheControl: vis + ", max-age=" + strconv.FormatInt(int64(cfg.TTL/time.Second), 10)}, nil
}

// Stats counts what the cache did, for frontdesk_cache_requests_total
// (Hits, Misses, Refreshes, Bypassed) and frontdesk_store_errors_total.
type Stats struct {
	Hits        uint64 // answered from the store
	Misses      uint64 // looked up, not found (store errors included)
	Refreshes   uint64 // honored no-cache: no lookup
	Bypassed    uint64 // not GET or HEAD
	Stored      uint64 // answers written to the store
	NotStorable uint64 // answers that may not be stored (errors, partial, Set-Cookie, ...)
	TooBig      uint64 // storable answers over the store's MaxEntry
	StoreErrors uint64 // store failures: lookups, writes, malformed entries
	Coalesced   uint64 // requests that took another request's fill
}

// Stats is a snapshot of the counters.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Refreshes: c.refreshes.Load(), Bypassed: c.bypassed.Load(),
		Stored: c.stored.Load(), NotStorable: c.notStorable.Load(), TooBig: c.tooBig.Load(),
		StoreErrors: c.storeErrors.Load(), Coalesced: c.join.Load()}
}

// Stage is the pipeline stage in front of next.
func (c *Cache) Stage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := logs.RecordOf(w)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			c.bypassed.Add(1)
			if rec != nil {
				rec.Cache = "bypass"
			}
			w.Header().Set(HeaderStatus, statusMethod)
			next.ServeHTTP(w, r)
			return
		}
		req, err := c.keyOf(r)
		if err != nil {
			pipeline.WriteError(w, r, err)
			return
		}
		key := BuildKey(c.cfg.Scope, req)
		cc := parseCacheControl(r.Header)
		status := statusMiss
		if c.cfg.HonorClientNoCache && cc.noCache {
			status = statusRequest
			c.refreshes.Add(1)
		} else {
			if e, ok := c.lookup(r.Context(), key); ok {
				c.hits.Add(1)
				if rec != nil {
					rec.Cache = "hit"
				}
				c.writeHit(w, r, &e, start)
				return
			}
			if r.Context().Err() != nil {
				return // the client went away during the lookup
			}
			c.misses.Add(1)
		}
		if rec != nil {
			rec.Cache = "miss" // a refresh the client asked for is a miss too: the calls run
		}
		c.serveFill(w, r, next, key, !cc.noStore, status)
	})
}

// lookup is a store Get; a store error or a malformed entry is a miss,
// counted and logged.
func (c *Cache) lookup(ctx context.Context, key string) (Entry, bool) {
	b, ok, err := c.store.Get(ctx, key)
	if err != nil {
		if ctx.Err() == nil {
			c.storeErrors.Add(1)
			c.errLog.Error("cache store lookup failed", err, "endpoint", c.cfg.Endpoint)
		}
		return Entry{}, false
	}
	if !ok {
		return Entry{}, false
	}
	e, err := decodeEntry(b)
	if err != nil {
		c.storeErrors.Add(1)
		c.errLog.Error("cache store entry malformed", err, "endpoint", c.cfg.Endpoint)
		return Entry{}, false
	}
	return e, true
}

// writeHit answers from a stored entry.
func (c *Cache) writeHit(w http.ResponseWriter, r *http.Request, e *Entry, start time.Time) {
	h := w.Header()
	copyHeader(h, e.Header)
	age := max(0, time.Since(e.StoredAt)/time.Second)
	h.Set(HeaderAge, strconv.FormatInt(int64(age), 10))
	h.Set(HeaderStatus, statusHit)
	h.Set("Server-Timing", "total;dur="+strconv.FormatFloat(float64(time.Since(start).Microseconds())/1000, 'f', -1, 64))
	writeAnswer(w, r, e.Status, e.Body, c.cfg.WriteTimeout)
}

// filled is the answer of one fill, read by every request that waited on
// it; nothing in it changes after the fill returns.
type filled struct {
	leader *http.Request // the request whose fill it was
	status int
	header http.Header
	body   []byte
	// shareable: the answer may go to the other waiters (it sets no
	// cookie); those of an answer that is not run their own requests.
	shareable bool
	// calls are the fill's backend calls, for the leader's access line.
	calls []logs.Call
	// abort: the handler aborted (http.ErrAbortHandler) or its answer
	// passed maxRecord: every waiter aborts its connection.
	abort bool
}

// serveFill waits on the one fill of key and writes its answer.
func (c *Cache) serveFill(w http.ResponseWriter, r *http.Request, next http.Handler, key string, store bool, status string) {
	group := key
	if !store {
		group += "/no-store" // a no-store request never decides what others get stored
	}
	ch := c.group.DoChan(group, func() (any, error) { return c.fill(r, next, key, store), nil })
	if c.onJoin != nil {
		c.onJoin()
	}
	var f *filled
	select {
	case res := <-ch:
		f = res.Val.(*filled)
	case <-r.Context().Done():
		return // this client went away; the fill goes on for the others
	}
	if f.abort {
		panic(http.ErrAbortHandler)
	}
	if rec := logs.RecordOf(w); rec != nil && f.leader == r {
		rec.Calls = append(rec.Calls, f.calls...)
	}
	if f.leader != r {
		c.join.Add(1)
		if !f.shareable {
			// Another client's cookie never reaches this one: run this
			// request on its own, uncached.
			w.Header().Set(HeaderStatus, status)
			next.ServeHTTP(w, r)
			return
		}
	}
	copyHeader(w.Header(), f.header)
	w.Header().Set(HeaderStatus, status)
	writeAnswer(w, r, f.status, f.body, c.cfg.WriteTimeout)
}

// fill runs next for r, detached from r's client (its context's values
// stay, its cancellation does not) and bounded by FillTimeout, records the
// answer, and stores it when it may be stored.
func (c *Cache) fill(r *http.Request, next http.Handler, key string, store bool) *filled {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), c.cfg.FillTimeout)
	defer cancel()
	fr := r.WithContext(ctx)
	fr.Body = http.NoBody // GET and HEAD only; the leader's body may be closed if it leaves
	f := &filled{leader: r}
	// The request id the stage in front set, so a problem the fill writes
	// names it (pipeline.WriteError reads it from the answer's headers);
	// copyHeader never hands it to another request.
	rec := &recorder{header: http.Header{}}
	if id := r.Header.Get(pipeline.HeaderRequestID); id != "" {
		rec.header.Set(pipeline.HeaderRequestID, id)
	}
	func() {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					f.abort = true
					return
				}
				if c.log != nil {
					c.log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				}
				rec = &recorder{header: http.Header{}}
				if id := r.Header.Get(pipeline.HeaderRequestID); id != "" {
					rec.header.Set(pipeline.HeaderRequestID, id)
				}
				pipeline.WriteError(rec, fr, &pipeline.PanicError{Value: v})
			}
		}()
		next.ServeHTTP(rec, fr)
	}()
	if rec.overflow {
		f.abort = true
	}
	f.status, f.header, f.body = rec.statusCode(), rec.header, rec.body.Bytes()
	f.calls = rec.log.Calls
	f.shareable = len(f.header["Set-Cookie"]) == 0 && len(f.header["Set-Cookie2"]) == 0
	if !c.storable(f) {
		c.notStorable.Add(1)
		return f
	}
	if f.header.Get("Cache-Control") == "" {
		f.header.Set("Cache-Control", c.cacheControl)
	}
	if store {
		c.put(ctx, key, f)
	}
	return f
}

// storable: a complete 2xx answer with no Partial-Response and no cookie,
// whose own Cache-Control does not forbid it.
func (c *Cache) storable(f *filled) bool {
	if f.abort || f.status < 200 || f.status > 299 || !f.shareable {
		return false
	}
	if _, partial := f.header["Partial-Response"]; partial {
		return false
	}
	cc := parseCacheControl(f.header)
	return !cc.noStore && !(cc.private && c.cfg.Scope == ScopeShared)
}

// put writes f to the store: the headers a hit replays, the body, now.
func (c *Cache) put(ctx context.Context, key string, f *filled) {
	e := Entry{Status: f.status, Header: make(http.Header, len(c.cfg.Headers)), Body: f.body, StoredAt: time.Now()}
	for _, name := range c.cfg.Headers {
		if vs := f.header[name]; len(vs) > 0 {
			e.Header[name] = vs
		}
	}
	b := appendEntry(make([]byte, 0, 64+len(f.body)), &e)
	// The store's own timeout bounds the write, however much of the fill's
	// deadline is left.
	err := c.store.Set(context.WithoutCancel(ctx), key, b, c.cfg.TTL)
	switch {
	case err == nil:
		c.stored.Add(1)
	case errors.Is(err, ErrTooBig):
		c.tooBig.Add(1)
	default:
		c.storeErrors.Add(1)
		c.errLog.Error("cache store write failed", err, "endpoint", c.cfg.Endpoint)
	}
}

// copyHeader sets each of src's headers on dst; Vary lines are added to
// dst's own (CORS may have put Origin there). The slices are clipped, so
// an append by a later stage never writes into an answer other requests
// share.
func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		switch k {
		case "Content-Length", pipeline.HeaderRequestID: // each request keeps its own id
		case "Vary":
			dst[k] = append(dst[k], vs...)
		default:
			dst[k] = slices.Clip(vs)
		}
	}
}

// writeAnswer writes status and body (no body for HEAD).
func writeAnswer(w http.ResponseWriter, r *http.Request, status int, body []byte, perChunk time.Duration) {
	if r.Method != http.MethodHead {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		pipeline.WriteBody(w, body, perChunk, time.Time{})
	}
}

// recorder holds what a fill's handler writes.
type recorder struct {
	header   http.Header
	code     int
	body     bytes.Buffer
	overflow bool
	log      logs.Record // the fill's calls, for the leader's access line
}

// AccessRecord is where the fill's stages note what the access log says.
func (r *recorder) AccessRecord() *logs.Record { return &r.log }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 && code >= 200 { // 1xx are interim: the final status comes later
		r.code = code
	}
}

var errRecordFull = errors.New("cache: answer larger than a fill may hold")

func (r *recorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	if r.body.Len()+len(p) > maxRecord {
		r.overflow = true
		return 0, errRecordFull
	}
	return r.body.Write(p)
}

func (r *recorder) statusCode() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

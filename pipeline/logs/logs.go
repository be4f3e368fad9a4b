// Package logs is the gateway's log output: one writer that slog's lines
// and the access log share (so lines never interleave), the level and
// format gateway.json and the flags choose (changed in place on a reload),
// and the access log: one line per request, written by hand into a pooled
// buffer without reflection, its strings by transform.AppendString (the
// escaping every JSON the gateway writes has).
//
// The access line's members are the spec format's: request_id, method,
// route (the endpoint's path as written), status, duration_ms, bytes,
// client (auth.sub or the API key's client id, never a credential), cache
// and calls. Nothing else from the request is written: no query string,
// no header, no token, no cookie.
package logs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"frontdesk/transform"
)

// Output is where the gateway's logs go.
type Output struct {
	w      *lockedWriter
	level  slog.LevelVar
	text   atomic.Bool
	access atomic.Bool
	json   slog.Handler
	plain  slog.Handler
	now    func() time.Time
}

// lockedWriter makes each Write whole: slog's handlers and the access log
// each write a line in one call.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// New makes an Output writing to w: JSON at info, access log on.
func New(w io.Writer) *Output {
	o := &Output{w: &lockedWriter{w: w}, now: time.Now}
	opts := &slog.HandlerOptions{Level: &o.level}
	o.json = slog.NewJSONHandler(o.w, opts)
	o.plain = slog.NewTextHandler(o.w, opts)
	o.access.Store(true)
	return o
}

// Set changes the level, the format (text or JSON) and whether requests
// are logged. Lines already begun finish as they began.
func (o *Output) Set(level slog.Level, text, access bool) {
	o.level.Set(level)
	o.text.Store(text)
	o.access.Store(access)
}

// Logger is a logger on the Output, following its level and format.
func (o *Output) Logger() *slog.Logger {
	return slog.New(&switchHandler{o: o, json: o.json, plain: o.plain})
}

// Access reports whether request lines are written now.
func (o *Output) Access() bool {
	return o != nil && o.access.Load() && o.level.Level() <= slog.LevelInfo
}

// switchHandler is slog's JSON or text handler, whichever the Output says.
type switchHandler struct {
	o           *Output
	json, plain slog.Handler
}

func (h *switchHandler) pick() slog.Handler {
	if h.o.text.Load() {
		return h.plain
	}
	return h.json
}

func (h *switchHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.o.level.Level()
}

func (h *switchHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.pick().Handle(ctx, r)
}

func (h *switchHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &switchHandler{o: h.o, json: h.json.WithAttrs(as), plain: h.plain.WithAttrs(as)}
}

func (h *switchHandler) WithGroup(name string) slog.Handler {
	return &switchHandler{o: h.o, json: h.json.WithGroup(name), plain: h.plain.WithGroup(name)}
}

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (slog.Level, bool) {
	switch s {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// Record is what the stages of one request tell the access log. The
// outermost stage makes it (pooled) and writes the line when the request
// is over; the others find it through the ResponseWriter (RecordOf).
type Record struct {
	Route  string // the endpoint's path as written; "" for an unrouted request
	Client string // who the request proved to be: auth.sub or the API key's client
	Cache  string // "hit", "miss", "bypass", or "" when no cache was met
	Calls  []Call
}

// Call is one backend call of a request.
type Call struct {
	Name     string
	Status   int // the backend's status, 0 when none came
	Duration time.Duration
	Error    string // a fixed word for the failure, "" when none
	Skipped  bool   // its when was false
}

// recorder is the ResponseWriter the outermost stage passes on: it
// counts the status and bytes, and carries the Record.
type Recorder struct {
	http.ResponseWriter
	Status int
	Bytes  int64
	Rec    Record
	// Aborted: a write or flush of the answer failed (the client stopped
	// reading, a write deadline passed). The connection is broken and
	// the server closes it, whatever status its headers said: the client
	// did not get the answer.
	Aborted bool
}

// WriteHeader notes the status (the first final one) and passes it on.
func (s *Recorder) WriteHeader(code int) {
	if s.Status == 0 && code >= 200 {
		s.Status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write counts the bytes and passes them on.
func (s *Recorder) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.Bytes += int64(n)
	if err != nil {
		s.Aborted = true
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *Recorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes a flush on.
func (s *Recorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// FlushError passes a flush on and returns its error (for
// http.ResponseController): an answer that could not be flushed is
// aborted.
func (s *Recorder) FlushError() error {
	err := http.NewResponseController(s.ResponseWriter).Flush()
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.Aborted = true
	}
	return err
}

var recorders = sync.Pool{New: func() any { return new(Recorder) }}

// NewRecorder wraps w, from a pool; Release returns it.
func NewRecorder(w http.ResponseWriter, route string) *Recorder {
	s := recorders.Get().(*Recorder)
	s.ResponseWriter, s.Rec.Route = w, route
	return s
}

// Release clears s (keeping its calls' room) and pools it.
func (s *Recorder) Release() {
	calls := s.Rec.Calls[:0]
	clear(s.Rec.Calls[:cap(s.Rec.Calls)])
	*s = Recorder{}
	s.Rec.Calls = calls
	recorders.Put(s)
}

// Carrier is a ResponseWriter that carries a Record: the Recorder, and
// writers that run a request's stages apart from it (the cache's fill).
type Carrier interface{ AccessRecord() *Record }

// AccessRecord is s's Record.
func (s *Recorder) AccessRecord() *Record { return &s.Rec }

// RecordOf finds the request's Record through w and the writers wrapping
// it, or nil when there is none (no access log, a test).
func RecordOf(w http.ResponseWriter) *Record {
	for w != nil {
		if s, ok := w.(Carrier); ok {
			return s.AccessRecord()
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Request writes the access line of one request, when access lines are on.
func (o *Output) Request(method, requestID string, s *Recorder, d time.Duration) {
	if !o.Access() {
		return
	}
	bp := buffers.Get().(*[]byte)
	var b []byte
	if o.text.Load() {
		b = o.appendText((*bp)[:0], method, requestID, s, d)
	} else {
		b = o.appendJSON((*bp)[:0], method, requestID, s, d)
	}
	o.w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		buffers.Put(bp)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (o *Output) appendJSON(b []byte, method, requestID string, s *Recorder, d time.Duration) []byte {
	b = append(b, `{"time":"`...)
	b = o.now().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"request","request_id":`...)
	b = transform.AppendString(b, requestID)
	b = append(b, `,"method":`...)
	b = transform.AppendString(b, method)
	if s.Rec.Route != "" {
		b = append(b, `,"route":`...)
		b = transform.AppendString(b, s.Rec.Route)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(s.Status), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, ms(d), 'f', -1, 64)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, s.Bytes, 10)
	if s.Rec.Client != "" {
		b = append(b, `,"client":`...)
		b = transform.AppendString(b, s.Rec.Client)
	}
	if s.Rec.Cache != "" {
		b = append(b, `,"cache":`...)
		b = transform.AppendString(b, s.Rec.Cache)
	}
	if s.Rec.Route != "" {
		b = append(b, `,"calls":[`...)
		for i, c := range s.Rec.Calls {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = transform.AppendString(b, c.Name)
			b = append(b, `,"status":`...)
			b = strconv.AppendInt(b, int64(c.Status), 10)
			b = append(b, `,"duration_ms":`...)
			b = strconv.AppendFloat(b, ms(c.Duration), 'f', -1, 64)
			if c.Skipped {
				b = append(b, `,"skipped":true`...)
			}
			if c.Error != "" {
				b = append(b, `,"error":`...)
				b = transform.AppendString(b, c.Error)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

func (o *Output) appendText(b []byte, method, requestID string, s *Recorder, d time.Duration) []byte {
	b = append(b, "time="...)
	b = o.now().AppendFormat(b, time.RFC3339Nano)
	b = append(b, " level=INFO msg=request request_id="...)
	b = appendTextValue(b, requestID)
	b = append(b, " method="...)
	b = appendTextValue(b, method)
	if s.Rec.Route != "" {
		b = append(b, " route="...)
		b = appendTextValue(b, s.Rec.Route)
	}
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(s.Status), 10)
	b = append(b, " duration_ms="...)
	b = strconv.AppendFloat(b, ms(d), 'f', -1, 64)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, s.Bytes, 10)
	if s.Rec.Client != "" {
		b = append(b, " client="...)
		b = appendTextValue(b, s.Rec.Client)
	}
	if s.Rec.Cache != "" {
		b = append(b, " cache="...)
		b = append(b, s.Rec.Cache...)
	}
	if len(s.Rec.Calls) > 0 {
		// calls="cart:200:1.2ms user:502:3ms:timeout": names are
		// identifiers, errors fixed words, so the value needs no escapes.
		b = append(b, ` calls="`...)
		for i, c := range s.Rec.Calls {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, c.Name...)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(c.Status), 10)
			b = append(b, ':')
			b = strconv.AppendFloat(b, ms(c.Duration), 'f', -1, 64)
			b = append(b, "ms"...)
			if c.Skipped {
				b = append(b, ":skipped"...)
			}
			if c.Error != "" {
				b = append(b, ':')
				b = append(b, c.Error...)
			}
		}
		b = append(b, '"')
	}
	return append(b, '\n')
}

// appendTextValue writes s bare when it is plain, else quoted.
func appendTextValue(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '"' || c == '=' || c >= utf8.RuneSelf || c == '\\' {
			return strconv.AppendQuote(b, s)
		}
	}
	if s == "" {
		return append(b, `""`...)
	}
	return append(b, s...)
}

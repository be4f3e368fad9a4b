package store

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// ErrorLog logs a stage's store errors at a bounded rate: the first, then
// at most one line per Every with the number of errors since the last
// line. While Redis is down every request fails; the log must not grow
// with the traffic. The zero value with Log set is ready; a nil Log logs
// nothing.
type ErrorLog struct {
	Log   *slog.Logger
	Every time.Duration // 0 is 10s

	last    atomic.Int64
	skipped atomic.Uint64
}

// Error logs msg with err and attrs, or counts it towards the next line.
func (l *ErrorLog) Error(msg string, err error, attrs ...any) {
	if l == nil || l.Log == nil {
		return
	}
	every := l.Every
	if every <= 0 {
		every = 10 * time.Second
	}
	now := time.Now().UnixNano()
	last := l.last.Load()
	if (last != 0 && now-last < int64(every)) || !l.last.CompareAndSwap(last, now) {
		l.skipped.Add(1)
		return
	}
	attrs = append(attrs, "error", err.Error(), "store_down", err != nil && isDown(err), "errors_since_last_line", l.skipped.Swap(0)+1)
	l.Log.Warn(msg, attrs...)
}

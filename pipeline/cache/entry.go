package cache

import (
	"encoding/binary"
	"errors"
	"net/http"
	"time"
)

// Entry is one cached answer: its status, the headers a hit replays
// (Content-Type, Cache-Control, the spec's response headers; never
// Set-Cookie), its body, and when it was stored (for Age).
type Entry struct {
	Status   int
	Header   http.Header
	Body     []byte
	StoredAt time.Time
}

const (
	entryVersion = 1
	maxHeaders   = 128
)

var errBadEntry = errors.New("cache: malformed entry")

// appendEntry encodes e: version, stored-at (unix ns), status, the header
// lines, the body.
func appendEntry(b []byte, e *Entry) []byte {
	b = append(b, entryVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(e.StoredAt.UnixNano()))
	b = binary.BigEndian.AppendUint16(b, uint16(e.Status))
	n := 0
	for _, vs := range e.Header {
		n += len(vs)
	}
	b = binary.AppendUvarint(b, uint64(n))
	for name, vs := range e.Header {
		for _, v := range vs {
			b = appendField(b, name)
			b = appendField(b, v)
		}
	}
	return append(b, e.Body...)
}

// decodeEntry reads what appendEntry wrote. Body aliases b. Whatever b
// holds (a store is outside the process), it only returns an error.
func decodeEntry(b []byte) (Entry, error) {
	if len(b) < 11 || b[0] != entryVersion {
		return Entry{}, errBadEntry
	}
	e := Entry{
		StoredAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))),
		Status:   int(binary.BigEndian.Uint16(b[9:11])),
	}
	if e.Status < 100 || e.Status > 999 {
		return Entry{}, errBadEntry
	}
	b = b[11:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxHeaders {
		return Entry{}, errBadEntry
	}
	b = b[k:]
	e.Header = make(http.Header, n)
	for range n {
		var name, value string
		var ok bool
		if name, b, ok = readField(b); !ok {
			return Entry{}, errBadEntry
		}
		if value, b, ok = readField(b); !ok {
			return Entry{}, errBadEntry
		}
		e.Header[name] = append(e.Header[name], value)
	}
	e.Body = b
	return e, nil
}

func readField(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

package backend

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadLimited(t *testing.T) {
	body := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		name      string
		r         io.Reader
		announced int64
		limit     int64
		want      int // bytes read; limit+1 means "over the limit"
	}{
		{"announced, under the limit", strings.NewReader(body), 1000, 4096, 1000},
		{"unannounced, under the limit", strings.NewReader(body), -1, 4096, 1000},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader(body)), -1, 4096, 1000},
		{"exactly the limit", strings.NewReader(body), 1000, 1000, 1000},
		{"over the limit, announced", strings.NewReader(body), 1000, 999, 1000},
		{"over the limit, unannounced", strings.NewReader(body), -1, 10, 11},
		{"announced too short", strings.NewReader(body), 10, 4096, 1000},
		{"empty", strings.NewReader(""), 0, 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := readLimited(tc.r, tc.announced, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != tc.want || !bytes.Equal(b, []byte(body[:len(b)])) {
				t.Errorf("read %d bytes, want %d", len(b), tc.want)
			}
		})
	}
	if _, err := readLimited(iotest.ErrReader(io.ErrUnexpectedEOF), -1, 10); err != io.ErrUnexpectedEOF {
		t.Errorf("error not passed on: %v", err)
	}
}

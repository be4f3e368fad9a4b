package engine

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// TestMaxConnectionsPerIP: limits.max_connections_per_ip is read, defaults
// to 256, and a bad value is a load error at the value.
func TestMaxConnectionsPerIP(t *testing.T) {
	load := func(limits string) (*Gateway, error) {
		return Load(fstest.MapFS{
			"gateway.json": {Data: []byte(`{"endpoints": ["e"], "limits": {` + limits + `}}`)},
			"e/x.json":     {Data: []byte(`{"method": "GET", "path": "/x", "response": {"body": {"ok": "true"}}}`)},
		}, "gateway.json", Options{})
	}
	for _, tc := range []struct {
		limits string
		want   int
	}{{``, DefaultConnsPerIP}, {`"max_connections_per_ip": 8`, 8}} {
		g, err := load(tc.limits)
		if err != nil {
			t.Fatal(err)
		}
		if g.Limits.MaxConnectionsPerIP != tc.want {
			t.Errorf("%s: %d, want %d", tc.limits, g.Limits.MaxConnectionsPerIP, tc.want)
		}
		g.Close()
	}
	_, err := load(`"max_connections_per_ip": 0`)
	var le LoadErrors
	if !errors.As(err, &le) || !strings.Contains(le.Error(), `gateway.json:1:59: error: limits.max_connections_per_ip must be a whole number from 1`) {
		t.Errorf("errors: %v", err)
	}
}

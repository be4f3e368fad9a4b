package engine

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"frontdesk/engine/backend"
)

// TestResilienceKeysDecode: every resilience key of a service and a call
// reaches the compiled call, with the defaults of the spec format where
// the file says nothing, and a call's retry keys replace the service's one
// by one.
func TestResilienceKeysDecode(t *testing.T) {
	gw := `{"endpoints": ["e"], "services": {
		"plain": {"urls": ["http://a.invalid"]},
		"cart": {"urls": ["http://a.invalid", "http://b.invalid"], "balance": "least_requests",
			"eject_after": 3, "eject_for": "10s",
			"health": {"path": "/healthz", "interval": "2s"},
			"breaker": {"failure_ratio": 0.25, "min_requests": 8, "window": "20s", "open_for": "1s", "consecutive_timeouts": 3},
			"retry": {"attempts": 3, "backoff": "25ms", "budget": 0.1},
			"hedge_after": "80ms", "max_connections": 16}}}`
	spec := `{"method": "GET", "path": "/x", "calls": {
		"p": {"service": "plain", "path": "/p"},
		"c": {"service": "cart", "path": "/c"},
		"w": {"service": "cart", "method": "POST", "path": "/w", "retry": {"idempotent": true, "attempts": 4}, "hedge_after": "20ms"}}}`
	fsys := fstest.MapFS{"gateway.json": {Data: []byte(gw)}, "e/x.json": {Data: []byte(spec)}}
	g, err := Load(fsys, "gateway.json", Options{})
	if err != nil {
		t.Fatal(err)
	}
	cart := g.Config.Services["cart"]
	want := Resilience{EjectAfter: 3, EjectFor: 10 * time.Second,
		Health:  &backend.Health{Path: "/healthz", Interval: 2 * time.Second, Timeout: time.Second},
		Breaker: backend.Breaker{FailureRatio: 0.25, MinRequests: 8, Window: 20 * time.Second, OpenFor: time.Second, ConsecutiveTimeouts: 3},
		Retry:   backend.Retry{Attempts: 3, Backoff: 25 * time.Millisecond, Budget: 0.1}, HedgeAfter: 80 * time.Millisecond, MaxConnections: 16}
	if got := cart.Resilience; got.Health == nil || *got.Health != *want.Health || got.Breaker != want.Breaker || got.Retry != want.Retry ||
		got.EjectAfter != want.EjectAfter || got.EjectFor != want.EjectFor || got.HedgeAfter != want.HedgeAfter || got.MaxConnections != want.MaxConnections {
		t.Errorf("cart: %+v (health %+v)\nwant %+v", got, got.Health, want)
	}
	if got := g.Config.Services["plain"].Resilience; got.Health != nil || got != defaultResilience() {
		t.Errorf("plain: %+v, want the defaults %+v", got, defaultResilience())
	}
	p := g.Match("GET", "/x")
	calls := map[string]*Call{}
	for _, c := range p.Calls {
		calls[c.Name] = c
	}
	if c := calls["p"]; c.retry != backend.DefaultRetry || c.hedgeAfter != 0 {
		t.Errorf("p: %+v, %v", c.retry, c.hedgeAfter)
	}
	if c := calls["c"]; c.retry != cart.Retry || c.hedgeAfter != 80*time.Millisecond {
		t.Errorf("c: %+v, %v", c.retry, c.hedgeAfter)
	}
	wantW := backend.Retry{Attempts: 4, Backoff: 25 * time.Millisecond, Budget: 0.1, Idempotent: true}
	if c := calls["w"]; c.retry != wantW || c.hedgeAfter != 20*time.Millisecond {
		t.Errorf("w: %+v, %v; want %+v, 20ms", c.retry, c.hedgeAfter, wantW)
	}
}

// TestResilienceKeysErrors: bad values and unknown keys are load errors at
// the offending key or value.
func TestResilienceKeysErrors(t *testing.T) {
	for _, tc := range []struct {
		name, service, call string
		want                string // file:line:col: ... message part
	}{
		{"eject_after zero", `"eject_after": 0`, "", `gateway.json:1:86: error: services.s.eject_after must be a whole number from 1 to 1000`},
		{"eject_for not a duration", `"eject_for": "soon"`, "", `gateway.json:1:84: error: services.s.eject_for: "soon" is not a positive duration`},
		{"health without path", `"health": {"interval": "1s"}`, "", `gateway.json:1:81: error: services.s.health needs a "path"`},
		{"health path relative", `"health": {"path": "healthz"}`, "", `gateway.json:1:90: error: services.s.health.path: "healthz" is not a path`},
		{"unknown health key", `"health": {"path": "/h", "every": "1s"}`, "", `gateway.json:1:96: error: unknown key "every" in services.s.health`},
		{"failure_ratio over 1", `"breaker": {"failure_ratio": 1.5}`, "", `gateway.json:1:100: error: services.s.breaker.failure_ratio must be a number more than 0 to 1, not 1.5`},
		{"failure_ratio zero", `"breaker": {"failure_ratio": 0}`, "", `services.s.breaker.failure_ratio must be a number more than 0 to 1, not 0`},
		{"unknown breaker key", `"breaker": {"ratio": 0.5}`, "", `unknown key "ratio" in services.s.breaker`},
		{"min_requests zero", `"breaker": {"min_requests": 0}`, "", `services.s.breaker.min_requests must be a whole number from 1`},
		{"retry attempts zero", `"retry": {"attempts": 0}`, "", `services.s.retry.attempts must be a whole number from 1 to 10`},
		{"retry backoff negative", `"retry": {"backoff": "-1s"}`, "", `services.s.retry.backoff: "-1s" is not a duration`},
		{"retry budget over 1", `"retry": {"budget": 2}`, "", `services.s.retry.budget must be a number from 0 to 1, not 2`},
		{"idempotent on a service", `"retry": {"idempotent": true}`, "", `unknown key "idempotent" in services.s.retry`},
		{"hedge_after zero", `"hedge_after": "0s"`, "", `services.s.hedge_after: "0s" is not a positive duration`},
		{"max_connections negative", `"max_connections": -1`, "", `services.s.max_connections must be a whole number from 0 to 1000000`},
		{"call retry idempotent not a bool", "", `"retry": {"idempotent": "yes"}`, `e/x.json:1:103: error: calls.c.retry.idempotent must be a boolean, not a string`},
		{"call retry unknown key", "", `"retry": {"tries": 2}`, `unknown key "tries" in calls.c.retry`},
		{"call hedge_after bad", "", `"hedge_after": "fast"`, `calls.c.hedge_after: "fast" is not a positive duration`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := `"urls": ["http://a.invalid"]`
			if tc.service != "" {
				svc += ", " + tc.service
			}
			call := `"service": "s", "path": "/c"`
			if tc.call != "" {
				call += ", " + tc.call
			}
			fsys := fstest.MapFS{
				"gateway.json": {Data: []byte(`{"endpoints": ["e"], "services": {"s": {` + svc + `}}}`)},
				"e/x.json":     {Data: []byte(`{"method": "GET", "path": "/x", "calls": {"c": {` + call + `}}}`)},
			}
			_, err := Load(fsys, "gateway.json", Options{})
			var le LoadErrors
			if !errors.As(err, &le) {
				t.Fatalf("no load errors: %v", err)
			}
			if !strings.Contains(le.Error(), tc.want) {
				t.Errorf("errors:\n%v\nwant one containing %s", le.Error(), tc.want)
			}
		})
	}
}

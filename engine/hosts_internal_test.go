package engine

import (
	"strings"
	"testing"
)

// FuzzHostAllows: whatever a client writes as its host, the check does not
// panic, and a host it allows is one listed, or a subdomain of a wildcard
// entry, once the port, one trailing dot and case are set aside.
func FuzzHostAllows(f *testing.F) {
	for _, s := range []string{"shop.example.com", "SHOP.example.com:8443", "eu.shop.example.com.", "[::1]:80", "::1",
		"shop.example.com:", "shop.example.com:x", ".shop.example.com", "a..shop.example.com", "evil.example", "", "[", "[::1]x"} {
		f.Add(s)
	}
	d := &decoder{file: "gateway.json"}
	n, err := ParseJSON([]byte(`["shop.example.com", "*.shop.example.com", "10.0.0.5", "[::1]"]`))
	if err != nil {
		f.Fatal(err)
	}
	_, h := d.hosts(n)
	if d.errs.HasErrors() || h == nil {
		f.Fatalf("hosts: %v", d.errs)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if !h.allows(host) {
			return
		}
		name := strings.ToLower(hostOnly(host))
		switch {
		case name == "shop.example.com", name == "10.0.0.5", strings.Contains(name, ":"):
		case strings.HasSuffix(name, ".shop.example.com") && validHostName(name):
		default:
			t.Errorf("%q allowed (name %q)", host, name)
		}
	})
}

// TestHostAllowsNoAlloc: the check every request passes through allocates
// nothing for a lower-case host, listed or matched by a wildcard.
func TestHostAllowsNoAlloc(t *testing.T) {
	d := &decoder{file: "gateway.json"}
	n, err := ParseJSON([]byte(`["shop.example.com", "*.shop.example.com"]`))
	if err != nil {
		t.Fatal(err)
	}
	_, h := d.hosts(n)
	for _, host := range []string{"shop.example.com", "eu.shop.example.com:8443", "evil.example"} {
		if a := testing.AllocsPerRun(100, func() { h.allows(host) }); a != 0 {
			t.Errorf("allows(%q): %v allocations", host, a)
		}
	}
}

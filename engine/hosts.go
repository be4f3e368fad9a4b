package engine

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"frontdesk/pipeline"
)

// hostList is gateway.json's hosts, compiled: the host names (and IP
// addresses) the gateway answers for. A request for any other host is
// answered 421 before any stage runs, so only a listed host reaches a
// backend as X-Forwarded-Host.
type hostList struct {
	exact map[string]bool // lower-case names, canonical IP addresses
	wild  []string        // ".shop.example.com" for "*.shop.example.com"
}

// hosts decodes gateway.json's hosts: a list of host names, each lower-cased,
// a wildcard "*." allowed as the whole first label only. No scheme, port or
// path: a host matches whatever port the request names.
func (d *decoder) hosts(n *Node) ([]string, *hostList) {
	const field = "hosts"
	if !d.want(n, KindArray, field) {
		return nil, nil
	}
	if len(n.Elems) == 0 {
		d.errorf(n.Pos, RuleSchema, field, `hosts is empty, which would refuse every request; list the host names served, such as "shop.example.com", or leave hosts out to serve any host`)
		return nil, nil
	}
	h := &hostList{exact: map[string]bool{}}
	var names []string
	for i, e := range n.Elems {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !d.want(e, KindString, f) || d.envFailed[e] {
			continue
		}
		name, msg := hostEntry(e.Str)
		if msg != "" {
			d.errorf(e.Pos, RuleSchema, field, "%s: %s", f, msg)
			continue
		}
		names = append(names, name)
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			h.wild = append(h.wild, "."+rest)
		} else {
			h.exact[name] = true
		}
	}
	return names, h
}

// hostEntry checks one hosts entry and gives it in the form requests are
// compared with, or a message saying what is wrong.
func hostEntry(s string) (string, string) {
	switch {
	case s == "":
		return "", `the entry is empty; write a host name such as "shop.example.com"`
	case strings.Contains(s, "://"):
		_, rest, _ := strings.Cut(s, "://")
		return "", fmt.Sprintf("%q has a scheme; write the host name alone, such as %q", s, strings.SplitN(rest, "/", 2)[0])
	case strings.ContainsAny(s, "/?#@\\"):
		return "", fmt.Sprintf("%q has a path or user; write the host name alone, such as %q", s, strings.SplitN(s, "/", 2)[0])
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil && a.Zone() == "" {
		return a.Unmap().String(), ""
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		return "", fmt.Sprintf("%q has a port; a host matches whatever port a request names: write %q", s, s[:i])
	}
	lo := strings.TrimSuffix(strings.ToLower(s), ".")
	name := strings.TrimPrefix(lo, "*.")
	if strings.Contains(name, "*") {
		return "", fmt.Sprintf(`%q: a wildcard may only be the whole first label, followed by a domain: "*.example.com"`, s)
	}
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return "", fmt.Sprintf("%q: write an international name in its ASCII (xn--) form", s)
		}
	}
	if !validHostName(name) {
		return "", fmt.Sprintf("%q is not a host name such as \"shop.example.com\"", s)
	}
	return lo, ""
}

// validHostName: lower-case DNS labels of letters, digits, '-' and '_',
// each 1 to 63 bytes, the name at most 253.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
			continue
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
		if label++; label > 63 {
			return false
		}
	}
	return label > 0
}

// allows reports whether the request host (r.Host: the Host header, or
// the host of an absolute-form target, which net/http puts there) names a
// listed host. The port is ignored, letters compare without case and one
// trailing dot is dropped; "*.example.com" matches a.example.com and
// a.b.example.com, never example.com itself.
func (h *hostList) allows(host string) bool {
	name := hostOnly(host)
	if name == "" {
		return false
	}
	if strings.IndexByte(name, ':') >= 0 { // IPv6: compared in canonical form
		a, err := netip.ParseAddr(name)
		return err == nil && h.exact[a.Unmap().String()]
	}
	if hasUpper(name) {
		name = strings.ToLower(name)
	}
	if h.exact[name] {
		return true
	}
	if !validHostName(name) {
		return false
	}
	for _, w := range h.wild {
		if len(name) > len(w) && strings.HasSuffix(name, w) {
			return true
		}
	}
	return false
}

// hostOnly is host without its port, brackets or one trailing dot.
func hostOnly(host string) string {
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return ""
		}
		rest := host[end+1:]
		if rest != "" && (rest[0] != ':' || !allDigits(rest[1:])) {
			return ""
		}
		return host[1:end]
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		if strings.IndexByte(host[:i], ':') >= 0 {
			return host // a bare IPv6 address
		}
		if !allDigits(host[i+1:]) {
			return ""
		}
		host = host[:i]
	}
	return strings.TrimSuffix(host, ".")
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// misdirected answers a request for a host hosts does not list: 421
// problem+json with its X-Request-Id and Server-Timing, nothing else run.
func misdirected(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server-Timing", "total;dur=0")
	pipeline.WriteError(w, r, pipeline.ErrMisdirected)
}

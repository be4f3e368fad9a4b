package pipeline

import (
	"strconv"
	"strings"
)

// Format is a response format a spec can offer.
type Format string

// The formats of response.formats.
const (
	FormatJSON Format = "json"
	FormatXML  Format = "xml"
)

// mediaTypes are the media types that select each format, most specific
// first; the first is the Content-Type written.
var mediaTypes = map[Format][]string{
	FormatJSON: {"application/json"},
	FormatXML:  {"application/xml", "text/xml"},
}

// Negotiate picks the format the client prefers among offers (in the spec's
// order) from an Accept header, honouring q-values and wildcards as RFC 9110
// says: the highest q wins, a more specific range beats a wildcard for the
// same type, and offers earlier in the list win ties. An empty Accept takes
// the first offer, and so does one with no well-formed range. ok is false
// when nothing offered is acceptable (406). contentType is what to write:
// ContentType(f), except that a client preferring text/xml to
// application/xml (Accept: text/xml) gets text/xml, the type it asked for.
func Negotiate(accept string, offers []Format) (f Format, contentType string, ok bool) {
	if len(offers) == 0 {
		return "", "", false
	}
	if strings.TrimSpace(accept) == "" {
		return offers[0], ContentType(offers[0]), true
	}
	ranges := parseAccept(accept)
	if len(ranges) == 0 {
		return offers[0], ContentType(offers[0]), true // nothing parseable: as if absent
	}
	best, bestMT, bestQ := Format(""), "", 0.0
	for _, f := range offers {
		q, typ := 0.0, ""
		for _, mt := range mediaTypes[f] {
			if v, ok := quality(ranges, mt); ok && v > q {
				q, typ = v, mt
			}
		}
		if q > bestQ {
			best, bestMT, bestQ = f, typ, q
		}
	}
	if bestQ == 0 {
		return "", "", false
	}
	ct := ContentType(best)
	if bestMT == "text/xml" {
		ct = "text/xml; charset=utf-8"
	}
	return best, ct, true
}

// ContentType is the Content-Type written for f.
func ContentType(f Format) string {
	switch f {
	case FormatXML:
		return "application/xml; charset=utf-8"
	}
	return "application/json"
}

type mediaRange struct {
	typ, sub string
	q        float64
}

// maxAcceptRanges bounds the work one Accept header can cause.
const maxAcceptRanges = 32

func parseAccept(h string) []mediaRange {
	var out []mediaRange
	for _, part := range strings.Split(h, ",") {
		if len(out) == maxAcceptRanges {
			break
		}
		params := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(params[0]))
		typ, sub, ok := strings.Cut(mt, "/")
		if !ok || typ == "" || sub == "" {
			continue
		}
		r := mediaRange{typ: typ, sub: sub, q: 1}
		for _, p := range params[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || q < 0 || q > 1 {
					q = 0
				}
				r.q = q
			}
		}
		out = append(out, r)
	}
	return out
}

// quality is the q the most specific matching range gives mt.
func quality(ranges []mediaRange, mt string) (float64, bool) {
	typ, sub, _ := strings.Cut(mt, "/")
	spec, q, found := -1, 0.0, false
	for _, r := range ranges {
		s := -1
		switch {
		case r.typ == typ && r.sub == sub:
			s = 2
		case r.typ == typ && r.sub == "*":
			s = 1
		case r.typ == "*" && r.sub == "*":
			s = 0
		}
		if s > spec {
			spec, q, found = s, r.q, true
		}
	}
	return q, found
}

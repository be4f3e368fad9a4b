package transform

// Namespace well-formedness (Namespaces in XML 1.0, third edition), checked
// by the scanner on every start tag:
//
//   - a name has at most one colon, with a name on either side (xmlscan.go,
//     qname), and a processing instruction target has none;
//   - a prefix used by an element or an attribute is declared on that
//     element or an ancestor; xml is always declared;
//   - xmlns:p="" is an error (XML 1.0 namespaces cannot undeclare a prefix);
//   - xml may be declared only with its own namespace name, no other prefix
//     may be bound to that name, xmlns is never declared and its namespace
//     name never bound, and the default namespace is neither of them;
//   - element names do not use the prefix xmlns;
//   - no two attributes of one tag have the same local name and prefixes
//     bound to the same namespace name.
//
// Namespace names are compared as written (attribute values are not
// whitespace-normalized, see xmlscan.go) and never resolved otherwise: the
// decoder works with prefixes.

import (
	"bytes"
	"fmt"
)

const (
	xmlNamespaceURI   = "http://www.w3.org/XML/1998/namespace"
	xmlnsNamespaceURI = "http://www.w3.org/2000/xmlns/"
)

// xmlNamespaceName is xmlNamespaceURI as bytes, never written to.
var xmlNamespaceName = []byte(xmlNamespaceURI)

// xmlNamespaces holds the prefixes in scope: a stack of bindings, innermost
// last, with their text in buf. Past xmlIndexAfter bindings, index maps a
// prefix to its innermost binding, so a document declaring many prefixes
// costs no quadratic time.
type xmlNamespaces struct {
	bind  []xmlBinding
	buf   []byte
	index map[string]int32
	uris  [][]byte // scratch: the namespace names of a tag's attributes
}

type xmlBinding struct {
	prefix, uri int32 // offsets in buf: prefix at buf[prefix:uri], uri up to end
	end         int32
	depth       int   // the depth of the element that declared it
	prev        int32 // with index: the binding of the same prefix it hides, or -1
}

func (ns *xmlNamespaces) reset() {
	ns.bind, ns.buf = ns.bind[:0], ns.buf[:0]
	clear(ns.index)
	ns.index = nil
}

func (ns *xmlNamespaces) release() {
	ns.reset()
	clear(ns.uris)
	if cap(ns.buf) > 1<<16 || cap(ns.bind) > 1<<10 {
		ns.bind, ns.buf, ns.uris = nil, nil, nil
	}
}

func (ns *xmlNamespaces) prefixOf(i int32) []byte {
	b := &ns.bind[i]
	return ns.buf[b.prefix:b.uri]
}

func (ns *xmlNamespaces) uriOf(i int32) []byte {
	b := &ns.bind[i]
	return ns.buf[b.uri:b.end]
}

// push binds prefix to uri for the element at depth.
func (ns *xmlNamespaces) push(prefix, uri []byte, depth int) {
	p := int32(len(ns.buf))
	ns.buf = append(ns.buf, prefix...)
	u := int32(len(ns.buf))
	ns.buf = append(ns.buf, uri...)
	ns.bind = append(ns.bind, xmlBinding{prefix: p, uri: u, end: int32(len(ns.buf)), depth: depth, prev: -1})
	i := int32(len(ns.bind) - 1)
	switch {
	case ns.index != nil:
		ns.link(i)
	case len(ns.bind) > xmlIndexAfter:
		ns.index = make(map[string]int32, 4*xmlIndexAfter)
		for j := range ns.bind {
			ns.link(int32(j))
		}
	}
}

// link makes binding i the innermost of its prefix in the index.
func (ns *xmlNamespaces) link(i int32) {
	p := ns.prefixOf(i)
	if prev, ok := ns.index[string(p)]; ok {
		ns.bind[i].prev = prev
	} else {
		ns.bind[i].prev = -1
	}
	ns.index[string(p)] = i
}

// pop drops the bindings of elements deeper than depth.
func (ns *xmlNamespaces) pop(depth int) {
	for len(ns.bind) > 0 {
		i := int32(len(ns.bind) - 1)
		b := ns.bind[i]
		if b.depth <= depth {
			return
		}
		if ns.index != nil {
			if b.prev >= 0 {
				ns.index[string(ns.prefixOf(i))] = b.prev
			} else {
				delete(ns.index, string(ns.prefixOf(i)))
			}
		}
		ns.bind = ns.bind[:i]
		ns.buf = ns.buf[:b.prefix]
	}
}

// lookup returns the namespace name prefix is bound to.
func (ns *xmlNamespaces) lookup(prefix []byte) ([]byte, bool) {
	if string(prefix) == "xml" {
		return xmlNamespaceName, true
	}
	if ns.index != nil {
		if i, ok := ns.index[string(prefix)]; ok {
			return ns.uriOf(i), true
		}
		return nil, false
	}
	for i := int32(len(ns.bind) - 1); i >= 0; i-- {
		if bytes.Equal(ns.prefixOf(i), prefix) {
			return ns.uriOf(i), true
		}
	}
	return nil, false
}

// namespaces checks the start tag just read (at b[at]) against the rules
// above and brings its declarations into scope.
func (sc *xmlScanner) namespaces(at int) error {
	ns := &sc.ns
	prefixed := 0
	for i := range sc.attrs {
		a := &sc.attrs[i]
		n := a.name
		if n.colon < 0 {
			if string(n.raw) == "xmlns" && reservedNS(a.val) {
				return sc.syntax(at, "the default namespace must not be the reserved namespace "+string(a.val))
			}
			continue
		}
		if string(n.space()) != "xmlns" {
			prefixed++
			continue
		}
		p := n.local()
		switch {
		case string(p) == "xmlns":
			return sc.syntax(at, "the prefix xmlns must not be declared")
		case string(p) == "xml":
			if string(a.val) != xmlNamespaceURI {
				return sc.syntax(at, "the prefix xml must not be bound to a namespace other than "+xmlNamespaceURI)
			}
			continue // always in scope
		case len(a.val) == 0:
			return sc.syntax(at, fmt.Sprintf(`xmlns:%s="" is not allowed: XML 1.0 cannot undeclare a prefix`, qname(p)))
		case reservedNS(a.val):
			return sc.syntax(at, fmt.Sprintf("the prefix %s must not be bound to the reserved namespace %s", qname(p), a.val))
		}
		ns.push(p, a.val, sc.depth+1)
	}
	if n := sc.name; n.colon >= 0 {
		p := n.space()
		if string(p) == "xmlns" {
			return sc.syntax(at, fmt.Sprintf("the element <%s> must not use the prefix xmlns", qname(n.raw)))
		}
		if _, ok := ns.lookup(p); !ok {
			return sc.syntax(at, fmt.Sprintf("the namespace prefix %s of <%s> is not declared", qname(p), qname(n.raw)))
		}
	}
	if prefixed == 0 {
		return nil
	}
	ns.uris = ns.uris[:0]
	for i := range sc.attrs {
		n := sc.attrs[i].name
		if n.colon < 0 || string(n.space()) == "xmlns" {
			ns.uris = append(ns.uris, nil)
			continue
		}
		uri, ok := ns.lookup(n.space())
		if !ok {
			return sc.syntax(at, fmt.Sprintf("the namespace prefix %s of attribute %s is not declared", qname(n.space()), qname(n.raw)))
		}
		ns.uris = append(ns.uris, uri)
	}
	if prefixed == 1 {
		return nil
	}
	return sc.sameAttr(at)
}

// sameAttr refuses two prefixed attributes with the same local name and
// namespace name; ns.uris holds each attribute's namespace name (nil when
// it has no prefix, or is a declaration).
func (sc *xmlScanner) sameAttr(at int) error {
	uris := sc.ns.uris
	report := func(i, j int) error {
		a, b := sc.attrs[i].name.raw, sc.attrs[j].name.raw
		if bytes.Equal(a, b) {
			return sc.syntax(at, fmt.Sprintf("attribute %s repeated in <%s>", qname(a), qname(sc.name.raw)))
		}
		return sc.syntax(at, fmt.Sprintf("attributes %s and %s of <%s> are the same attribute: their prefixes name the same namespace", qname(a), qname(b), qname(sc.name.raw)))
	}
	if len(sc.attrs) <= xmlIndexAfter {
		for j := 1; j < len(sc.attrs); j++ {
			if uris[j] == nil {
				continue
			}
			for i := 0; i < j; i++ {
				if uris[i] != nil && bytes.Equal(sc.attrs[i].name.local(), sc.attrs[j].name.local()) && bytes.Equal(uris[i], uris[j]) {
					return report(i, j)
				}
			}
		}
		return nil
	}
	seen := make(map[string]int, len(sc.attrs))
	for j := range sc.attrs {
		if uris[j] == nil {
			continue
		}
		k := string(uris[j]) + "\x00" + string(sc.attrs[j].name.local())
		if i, ok := seen[k]; ok {
			return report(i, j)
		}
		seen[k] = j
	}
	return nil
}

// Writing with Namespaces "keep": a key prefix:local keeps its colon only
// where the XML written stays namespace-well-formed, so that XMLToJSON
// reads it back; elsewhere the colon is escaped (_x003A_), which reads back
// as the same key. So:
//
//   - an attribute xmlns:p is a declaration when its value is one XML
//     allows (not empty, not a reserved namespace name; for xml, only its
//     own), and an attribute xmlns when its value is not reserved;
//   - an element or attribute prefix is kept when it is declared on that
//     element or an ancestor (or is xml), and is not xmlns;
//   - of two attributes whose prefixes are bound to the same namespace and
//     whose local names are the same, the second has its colon escaped.

// validDecl reports whether xmlns:prefix="uri" may be written as a
// declaration.
func validDecl(prefix, uri []byte) bool {
	switch {
	case string(prefix) == "xmlns":
		return false
	case string(prefix) == "xml":
		return string(uri) == xmlNamespaceURI
	}
	return len(uri) > 0 && !reservedNS(uri)
}

// reservedNS reports whether uri is the namespace name of xml or xmlns.
func reservedNS(uri []byte) bool {
	return string(uri) == xmlNamespaceURI || string(uri) == xmlnsNamespaceURI
}

// nsValue is the namespace name that the attribute value src[v0:v1] (a
// JSON scalar) is written as, as far as validDecl is concerned: a string
// unescaped, null empty, and anything else some non-empty text.
func (e *xmlEncoder) nsValue(v0, v1 int) []byte {
	switch e.src[v0] {
	case 'n':
		return nil
	case '"':
		e.text = appendUnescaped(e.text[:0], e.src[v0+1:v1-1])
		return e.text
	}
	return []byte("0")
}

// declare brings into scope, at depth, the prefixes that the object at
// src[i] declares (the first of duplicate keys wins, as it does for the
// attributes written).
func (e *xmlEncoder) declare(depth, i int) {
	b := e.src
	decl := e.c.attrPrefix + "xmlns:"
	w := walkJSON(b, i)
	for {
		k0, k1, v0, v1, ok := w.member()
		if !ok {
			return
		}
		if v := b[v0]; v == '{' || v == '[' {
			continue
		}
		e.key = appendUnescaped(e.key[:0], b[k0:k1])
		if !bytes.HasPrefix(e.key, []byte(decl)) {
			continue
		}
		p := e.key[len(decl):]
		if len(p) == 0 || bytes.IndexByte(p, ':') >= 0 {
			continue // written with the colon escaped: not a declaration
		}
		e.extra = appendNCName(e.extra[:0], p)
		prefix := e.extra
		uri := e.nsValue(v0, v1)
		if !validDecl(prefix, uri) || string(prefix) == "xml" || e.declaredAt(prefix, depth) {
			continue
		}
		e.ns.push(prefix, uri, depth)
	}
}

// declaredAt reports whether prefix was declared by the element at depth.
func (e *xmlEncoder) declaredAt(prefix []byte, depth int) bool {
	ns := &e.ns
	if ns.index != nil {
		i, ok := ns.index[string(prefix)]
		return ok && ns.bind[i].depth == depth
	}
	for i := int32(len(ns.bind) - 1); i >= 0 && ns.bind[i].depth == depth; i-- {
		if bytes.Equal(ns.prefixOf(i), prefix) {
			return true
		}
	}
	return false
}

// elementNameNS returns the element name to write at depth: name as is,
// or with its colon escaped when its prefix is not in scope.
func (e *xmlEncoder) elementNameNS(depth int, name []byte) []byte {
	c := bytes.IndexByte(name, ':')
	if c < 0 {
		return name
	}
	if _, ok := e.ns.lookup(name[:c]); ok && string(name[:c]) != "xmlns" {
		return name
	}
	for len(e.alt) <= depth {
		e.alt = append(e.alt, nil)
	}
	e.alt[depth] = append(e.alt[depth][:0], name[:c]...)
	e.alt[depth] = append(e.alt[depth], "_x003A_"...)
	e.alt[depth] = append(e.alt[depth], name[c+1:]...)
	return e.alt[depth]
}

// appendAttrNameNS appends the name of the attribute an (its key without
// AttrPrefix), whose value is src[v0:v1].
func (e *xmlEncoder) appendAttrNameNS(dst, an []byte, v0, v1 int) []byte {
	start := len(dst)
	dst = appendXMLName(dst, an, true)
	name := dst[start:]
	c := bytes.IndexByte(name, ':')
	if c < 0 {
		if string(name) == "xmlns" && reservedNS(e.nsValue(v0, v1)) {
			return append(dst[:start], "_x0078_mlns"...)
		}
		return dst
	}
	ok := false
	if string(name[:c]) == "xmlns" {
		ok = validDecl(name[c+1:], e.nsValue(v0, v1))
	} else if uri, bound := e.ns.lookup(name[:c]); bound {
		// The namespace-expanded name must be new in this element.
		e.extra = append(e.extra[:0], uri...)
		e.extra = append(e.extra, 0)
		e.extra = append(e.extra, name[c+1:]...)
		ok = !e.exp.add(e.extra)
	}
	if ok {
		return dst
	}
	e.extra = append(e.extra[:0], name[c+1:]...)
	dst = append(dst[:start+c], "_x003A_"...)
	return append(dst, e.extra...)
}

// xmlByteSet is a set of byte strings: a list while small, a map past
// xmlIndexAfter.
type xmlByteSet struct {
	buf  []byte
	offs []int
	m    map[string]struct{}
}

func (s *xmlByteSet) reset() {
	s.buf, s.offs, s.m = s.buf[:0], s.offs[:0], nil
}

// add adds k and reports whether it was in the set already.
func (s *xmlByteSet) add(k []byte) bool {
	if s.m != nil {
		if _, ok := s.m[string(k)]; ok {
			return true
		}
		s.m[string(k)] = struct{}{}
		return false
	}
	for i := 0; i < len(s.offs); i += 2 {
		if bytes.Equal(s.buf[s.offs[i]:s.offs[i+1]], k) {
			return true
		}
	}
	s.offs = append(s.offs, len(s.buf))
	s.buf = append(s.buf, k...)
	s.offs = append(s.offs, len(s.buf))
	if len(s.offs) > 2*xmlIndexAfter {
		s.m = make(map[string]struct{}, 4*xmlIndexAfter)
		for i := 0; i < len(s.offs); i += 2 {
			s.m[string(s.buf[s.offs[i]:s.offs[i+1]])] = struct{}{}
		}
	}
	return false
}

package engine

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the JSON type of a Node.
type Kind uint8

const (
	KindNull Kind = iota
	KindBool
	KindNumber
	KindString
	KindArray
	KindObject
)

var kindNames = [...]string{"null", "boolean", "number", "string", "array", "object"}

func (k Kind) String() string { return kindNames[k] }

// Pos is a place in a spec file: 1-based line and byte column, and the byte
// offset.
type Pos struct {
	Line, Col, Off int
}

// Node is a parsed JSON value that remembers where it was written, so every
// load error can name file:line:col, and objects keep their key order.
type Node struct {
	Kind    Kind
	Pos     Pos
	Bool    bool
	Str     string // string value, or the number as written
	Members []Member
	Elems   []*Node
	raw     string // for strings: the source between the quotes
}

// Member is one key of an object.
type Member struct {
	Key    string
	KeyPos Pos
	Value  *Node
}

// Get returns the member named key, or nil.
func (n *Node) Get(key string) *Node {
	for i := range n.Members {
		if n.Members[i].Key == key {
			return n.Members[i].Value
		}
	}
	return nil
}

// Float returns a number node's value.
func (n *Node) Float() (float64, error) { return strconv.ParseFloat(n.Str, 64) }

// PosAt returns the position of byte i of a string node's decoded value,
// mapping back through escape sequences.
func (n *Node) PosAt(i int) Pos {
	p := n.Pos
	p.Col++ // opening quote
	p.Off++
	raw := n.raw
	dec := 0
	r := 0
	for r < len(raw) && dec < i {
		if raw[r] == '\\' && r+1 < len(raw) {
			if raw[r+1] == 'u' && r+6 <= len(raw) {
				v, _ := strconv.ParseUint(raw[r+2:r+6], 16, 32)
				dec += utf8.RuneLen(rune(v))
				r += 6
			} else {
				dec++
				r += 2
			}
			continue
		}
		dec++
		r++
	}
	p.Col += r
	p.Off += r
	return p
}

// SyntaxError is malformed JSON in a spec file.
type SyntaxError struct {
	Pos Pos
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg) }

// Parse limits: spec files are written by people, so these are generous.
const (
	maxSpecDepth = 64
	maxSpecSize  = 4 << 20
)

// ParseJSON parses one JSON document into a Node tree. Duplicate keys are an
// error, since JSON decoders disagree about which one wins.
func ParseJSON(src []byte) (*Node, error) {
	if len(src) > maxSpecSize {
		return nil, &SyntaxError{Pos{1, 1, 0}, fmt.Sprintf("file is larger than %d bytes", maxSpecSize)}
	}
	p := &parser{src: src, line: 1, lineStart: 0}
	if len(src) >= 3 && src[0] == 0xEF && src[1] == 0xBB && src[2] == 0xBF {
		p.i = 3
		p.lineStart = 3
	}
	p.skip()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skip()
	if p.i < len(p.src) {
		return nil, p.errf("unexpected %s after the document", p.show())
	}
	return n, nil
}

type parser struct {
	src       []byte
	i         int
	line      int
	lineStart int
}

func (p *parser) pos() Pos { return Pos{p.line, p.i - p.lineStart + 1, p.i} }

func (p *parser) errf(format string, args ...any) error {
	return &SyntaxError{p.pos(), fmt.Sprintf(format, args...)}
}

func (p *parser) show() string {
	if p.i >= len(p.src) {
		return "end of file"
	}
	r, _ := utf8.DecodeRune(p.src[p.i:])
	return strconv.QuoteRune(r)
}

func (p *parser) skip() {
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case '\n':
			p.line++
			p.i++
			p.lineStart = p.i
		case ' ', '\t', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (*Node, error) {
	if depth > maxSpecDepth {
		return nil, p.errf("nested more than %d levels", maxSpecDepth)
	}
	if p.i >= len(p.src) {
		return nil, p.errf("unexpected end of file, expected a value")
	}
	start := p.pos()
	switch c := p.src[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, raw, err := p.str()
		if err != nil {
			return nil, err
		}
		return &Node{Kind: KindString, Pos: start, Str: s, raw: raw}, nil
	case c == 't' || c == 'f' || c == 'n':
		for _, w := range []string{"true", "false", "null"} {
			if strings.HasPrefix(string(p.src[p.i:min(len(p.src), p.i+5)]), w) {
				p.i += len(w)
				if w == "null" {
					return &Node{Kind: KindNull, Pos: start}, nil
				}
				return &Node{Kind: KindBool, Pos: start, Bool: w == "true"}, nil
			}
		}
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number(start)
	}
	return nil, p.errf("unexpected %s, expected a value", p.show())
}

func (p *parser) number(start Pos) (*Node, error) {
	b := p.i
	if p.src[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.src) && p.src[p.i] >= '0' && p.src[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.src) && p.src[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, p.errf("malformed number")
	}
	if p.i < len(p.src) && p.src[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.errf("malformed number")
		}
	}
	if p.i < len(p.src) && (p.src[p.i] == 'e' || p.src[p.i] == 'E') {
		p.i++
		if p.i < len(p.src) && (p.src[p.i] == '+' || p.src[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.errf("malformed number")
		}
	}
	return &Node{Kind: KindNumber, Pos: start, Str: string(p.src[b:p.i])}, nil
}

func (p *parser) str() (string, string, error) {
	p.i++ // opening quote
	b := p.i
	var sb strings.Builder
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch {
		case c == '"':
			raw := string(p.src[b:p.i])
			p.i++
			return sb.String(), raw, nil
		case c == '\\':
			if p.i+1 >= len(p.src) {
				return "", "", p.errf("unterminated string")
			}
			e := p.src[p.i+1]
			switch e {
			case '"', '\\', '/':
				sb.WriteByte(e)
			case 'b':
				sb.WriteByte('\b')
			case 'f':
				sb.WriteByte('\f')
			case 'n':
				sb.WriteByte('\n')
			case 'r':
				sb.WriteByte('\r')
			case 't':
				sb.WriteByte('\t')
			case 'u':
				r, n, ok := p.unicode(p.i)
				if !ok {
					return "", "", p.errf("malformed \\u escape")
				}
				sb.WriteRune(r)
				p.i += n
				continue
			default:
				return "", "", p.errf("unknown escape \\%c", e)
			}
			p.i += 2
		case c < 0x20:
			return "", "", p.errf("control character in string (newlines must be written \\n)")
		default:
			sb.WriteByte(c)
			p.i++
		}
	}
	return "", "", p.errf("unterminated string")
}

func (p *parser) unicode(i int) (rune, int, bool) {
	hex := func(j int) (rune, bool) {
		if j+6 > len(p.src) || p.src[j] != '\\' || p.src[j+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(p.src[j+2:j+6]), 16, 32)
		return rune(v), err == nil
	}
	r, ok := hex(i)
	if !ok {
		return 0, 0, false
	}
	if utf16.IsSurrogate(r) {
		if r2, ok := hex(i + 6); ok {
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				return d, 12, true
			}
		}
		return utf8.RuneError, 6, true
	}
	return r, 6, true
}

func (p *parser) object(depth int) (*Node, error) {
	n := &Node{Kind: KindObject, Pos: p.pos()}
	p.i++
	p.skip()
	if p.i < len(p.src) && p.src[p.i] == '}' {
		p.i++
		return n, nil
	}
	seen := map[string]bool{}
	for {
		p.skip()
		if p.i >= len(p.src) || p.src[p.i] != '"' {
			return nil, p.errf("unexpected %s, expected a key in quotes", p.show())
		}
		kp := p.pos()
		k, _, err := p.str()
		if err != nil {
			return nil, err
		}
		if seen[k] {
			return nil, &SyntaxError{kp, fmt.Sprintf("duplicate key %q", k)}
		}
		seen[k] = true
		p.skip()
		if p.i >= len(p.src) || p.src[p.i] != ':' {
			return nil, p.errf("unexpected %s, expected ':' after key %q", p.show(), k)
		}
		p.i++
		p.skip()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Members = append(n.Members, Member{Key: k, KeyPos: kp, Value: v})
		p.skip()
		if p.i < len(p.src) && p.src[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.src) && p.src[p.i] == '}' {
			p.i++
			return n, nil
		}
		return nil, p.errf("unexpected %s, expected ',' or '}'", p.show())
	}
}

func (p *parser) array(depth int) (*Node, error) {
	n := &Node{Kind: KindArray, Pos: p.pos()}
	p.i++
	p.skip()
	if p.i < len(p.src) && p.src[p.i] == ']' {
		p.i++
		return n, nil
	}
	for {
		p.skip()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Elems = append(n.Elems, v)
		p.skip()
		if p.i < len(p.src) && p.src[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.src) && p.src[p.i] == ']' {
			p.i++
			return n, nil
		}
		return nil, p.errf("unexpected %s, expected ',' or ']'", p.show())
	}
}

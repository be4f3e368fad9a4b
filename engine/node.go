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
	esc := &parser{src: []byte(raw)}
	dec := 0
	r := 0
	for r < len(raw) && dec < i {
		if raw[r] == '\\' && r+1 < len(raw) {
			if raw[r+1] == 'u' && r+6 <= len(raw) {
				// Decode as the parser did: a surrogate pair is one rune
				// from 12 bytes, a lone surrogate is U+FFFD.
				v, size, ok := esc.unicode(r)
				if !ok {
					v, size = utf8.RuneError, 6
				}
				dec += utf8.RuneLen(v)
				r += size
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

// unexpected reports the byte at p.i where want was expected, naming the
// usual non-JSON habits (comments, single quotes) outright.
func (p *parser) unexpected(want string) error {
	if p.i < len(p.src) {
		switch c := p.src[p.i]; {
		case c == '/' && p.i+1 < len(p.src) && (p.src[p.i+1] == '/' || p.src[p.i+1] == '*'):
			return p.errf("comments are not allowed in JSON")
		case c == '\'':
			return p.errf("strings and keys are written in double quotes in JSON, not single quotes")
		}
	}
	return p.errf("unexpected %s, expected %s", p.show(), want)
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
	return nil, p.unexpected("a value")
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
		if p.i < len(p.src) && p.src[p.i] >= '0' && p.src[p.i] <= '9' {
			return nil, p.errf("malformed number: JSON numbers have no leading zeros (write \"01234\" as a string)")
		}
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
	open := p.pos()
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
		case c == '\n' || c == '\r':
			return "", "", &SyntaxError{open, "string is not closed before the end of the line (a closing '\"' is missing; a newline inside a string is written \\n)"}
		case c < 0x20:
			return "", "", p.errf("control character in string (write a tab as \\t, a newline as \\n)")
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
	seen := map[string]Pos{}
	var comma Pos
	for {
		p.skip()
		if p.i < len(p.src) && p.src[p.i] == '}' && comma.Line > 0 {
			return nil, &SyntaxError{comma, "trailing comma before '}'; JSON allows none after the last member"}
		}
		if p.i >= len(p.src) || p.src[p.i] != '"' {
			return nil, p.unexpected("a key in quotes")
		}
		kp := p.pos()
		k, _, err := p.str()
		if err != nil {
			return nil, err
		}
		if first, dup := seen[k]; dup {
			return nil, &SyntaxError{kp, fmt.Sprintf("duplicate key %q (first at line %d, column %d)", k, first.Line, first.Col)}
		}
		seen[k] = kp
		p.skip()
		if p.i >= len(p.src) || p.src[p.i] != ':' {
			return nil, p.unexpected(fmt.Sprintf("':' after key %q", k))
		}
		p.i++
		p.skip()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Members = append(n.Members, Member{Key: k, KeyPos: kp, Value: v})
		end := p.pos()
		p.skip()
		if p.i < len(p.src) && p.src[p.i] == ',' {
			comma = p.pos()
			p.i++
			continue
		}
		if p.i < len(p.src) && p.src[p.i] == '}' {
			p.i++
			return n, nil
		}
		if p.i >= len(p.src) {
			return nil, p.errf("unexpected end of file: the object opened at line %d, column %d is missing its '}'", n.Pos.Line, n.Pos.Col)
		}
		if p.src[p.i] == '"' {
			return nil, &SyntaxError{end, fmt.Sprintf("missing ',' after the value of %q", k)}
		}
		return nil, p.unexpected(fmt.Sprintf("',' or '}' after the value of %q", k))
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
	var comma Pos
	for {
		p.skip()
		if p.i < len(p.src) && p.src[p.i] == ']' && comma.Line > 0 {
			return nil, &SyntaxError{comma, "trailing comma before ']'; JSON allows none after the last element"}
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Elems = append(n.Elems, v)
		end := p.pos()
		p.skip()
		if p.i < len(p.src) && p.src[p.i] == ',' {
			comma = p.pos()
			p.i++
			continue
		}
		if p.i < len(p.src) && p.src[p.i] == ']' {
			p.i++
			return n, nil
		}
		if p.i >= len(p.src) {
			return nil, p.errf("unexpected end of file: the array opened at line %d, column %d is missing its ']'", n.Pos.Line, n.Pos.Col)
		}
		if c := p.src[p.i]; c == '"' || c == '{' || c == '[' {
			return nil, &SyntaxError{end, fmt.Sprintf("missing ',' after element %d of the array", len(n.Elems)-1)}
		}
		return nil, p.unexpected("',' or ']'")
	}
}

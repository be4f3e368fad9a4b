package engine

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// decoder turns Node trees into spec structs strictly: unknown keys, wrong
// types and bad values become LoadErrors with positions. It never stops at
// the first problem.
type decoder struct {
	file string
	errs LoadErrors
	// envFailed holds the strings whose ${VAR} could not be expanded: the
	// missing-env error is their one problem, so their values are not
	// validated further.
	envFailed map[*Node]bool
	// fromEnv holds the strings that took a value from ${VAR}.
	fromEnv map[*Node]bool
}

func (d *decoder) add(pos Pos, sev, rule, field, format string, args ...any) {
	d.errs = append(d.errs, &LoadError{
		File: d.file, Line: pos.Line, Column: pos.Col, Severity: sev, Rule: rule,
		Field: field, Message: fmt.Sprintf(format, args...),
	})
}

func (d *decoder) errorf(pos Pos, rule, field, format string, args ...any) {
	d.add(pos, SevError, rule, field, format, args...)
}

func (d *decoder) want(n *Node, k Kind, field string) bool {
	if n.Kind == k {
		return true
	}
	d.errorf(n.Pos, RuleSchema, field, "%s must be %s, not %s", field, k.article(), n.Kind.article())
	return false
}

// article names a kind with its indefinite article: "an object", "null".
func (k Kind) article() string {
	switch k {
	case KindNull:
		return "null"
	case KindArray, KindObject:
		return "an " + k.String()
	}
	return "a " + k.String()
}

// object checks that n is an object holding only keys from known (a "$schema"
// key is always allowed) and reports each unknown key with a suggestion.
func (d *decoder) object(n *Node, field string, known ...string) bool {
	if !d.want(n, KindObject, field) {
		return false
	}
	for _, m := range n.Members {
		if m.Key == "$schema" {
			continue
		}
		ok := false
		for _, k := range known {
			if k == m.Key {
				ok = true
				break
			}
		}
		if !ok {
			d.errorf(m.KeyPos, RuleUnknownKey, field, "unknown key %q in %s%s", m.Key, field, didYouMean(m.Key, known))
		}
	}
	return true
}

func (d *decoder) str(n *Node, field string) string {
	if n == nil || !d.want(n, KindString, field) {
		return ""
	}
	return n.Str
}

func (d *decoder) boolean(n *Node, field string) bool {
	if n == nil || !d.want(n, KindBool, field) {
		return false
	}
	return n.Bool
}

func (d *decoder) integer(n *Node, field string, lo, hi int) int {
	if n == nil || !d.want(n, KindNumber, field) {
		return 0
	}
	f, err := n.Float()
	if err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		d.errorf(n.Pos, RuleSchema, field, "%s must be a whole number from %d to %d, not %s", field, lo, hi, n.Str)
		return 0
	}
	return int(f)
}

func (d *decoder) strList(n *Node, field string) []string {
	if n == nil || !d.want(n, KindArray, field) {
		return nil
	}
	out := make([]string, 0, len(n.Elems))
	for i, e := range n.Elems {
		if d.want(e, KindString, fmt.Sprintf("%s[%d]", field, i)) {
			out = append(out, e.Str)
		}
	}
	return out
}

// duration parses a positive Go duration such as "300ms".
func (d *decoder) duration(n *Node, field string) time.Duration {
	if d.envFailed[n] {
		return 0
	}
	s := d.str(n, field)
	if s == "" {
		if n != nil && n.Kind == KindString {
			d.errorf(n.Pos, RuleDuration, field, "%s is empty; write a duration such as \"300ms\"", field)
		}
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		d.errorf(n.Pos, RuleDuration, field, "%s: %q is not a positive duration such as \"300ms\" or \"2s\"", field, s)
		return 0
	}
	return v
}

var sizeRE = regexp.MustCompile(`^([0-9]+)\s*(B|KB|MB|GB)$`)

// size parses "512KB"-style sizes, 1024-based.
// MaxBodySize is the largest body limit the code can hold: byte offsets
// into a body are 32-bit, and rewriting a body (U+FFFD for each invalid
// byte triples it) or converting XML to JSON can make it several times
// larger; a gateway that buffers more than this per body is misconfigured
// anyway.
const MaxBodySize = 256 << 20

// size reads a size such as "8MB", at most limit bytes.
func (d *decoder) size(n *Node, field string, limit int64) int64 {
	if d.envFailed[n] {
		return 0
	}
	s := d.str(n, field)
	if s == "" {
		return 0
	}
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		d.errorf(n.Pos, RuleSize, field, "%s: %q is not a size such as \"1MB\" (units B, KB, MB, GB)", field, s)
		return 0
	}
	v, err := strconv.ParseInt(m[1], 10, 64)
	mult := map[string]int64{"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[m[2]]
	if err != nil || v <= 0 || v > math.MaxInt64/mult {
		d.errorf(n.Pos, RuleSize, field, "%s: %q is out of range", field, s)
		return 0
	}
	if v*mult > limit {
		d.errorf(n.Pos, RuleSize, field, "%s: %q is more than the largest allowed, %s", field, s, formatSize(limit))
		return 0
	}
	return v * mult
}

// formatSize writes n in the largest unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}} {
		if n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

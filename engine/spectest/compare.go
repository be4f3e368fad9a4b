package spectest

import (
	"math/big"
	"strconv"
	"unicode/utf8"

	"frontdesk/engine"
)

// maxDiffs bounds the difference lines reported for one body.
const maxDiffs = 40

// Diff compares a response body got with the expected want and returns one
// line per difference, each starting with its JSON path ("$.items[0].qty:
// want 2, got 0", "$.greeting: missing", "$.extra: unexpected").
//
// Exact: got must equal want (numbers compare as numbers, so 1, 1.0 and
// 1e0 are equal; object key order does not matter). Subset: every member
// written in want must be in got and match it recursively, and members of
// got that want does not name are ignored; arrays still match element by
// element and must have the same length.
func Diff(want, got *engine.Node, subset bool) []string {
	d := &differ{subset: subset}
	d.diff("$", want, got)
	if d.more > 0 {
		d.out = append(d.out, "... and "+strconv.Itoa(d.more)+" more differences")
	}
	return d.out
}

type differ struct {
	subset bool
	out    []string
	more   int
}

func (d *differ) add(line string) {
	if len(d.out) >= maxDiffs {
		d.more++
		return
	}
	d.out = append(d.out, line)
}

func (d *differ) diff(path string, want, got *engine.Node) {
	if want.Kind != got.Kind {
		d.add(path + ": want " + show(want) + ", got " + show(got))
		return
	}
	switch want.Kind {
	case engine.KindNull:
	case engine.KindBool:
		if want.Bool != got.Bool {
			d.add(path + ": want " + show(want) + ", got " + show(got))
		}
	case engine.KindString:
		if want.Str != got.Str {
			d.add(path + ": want " + show(want) + ", got " + show(got))
		}
	case engine.KindNumber:
		if !sameNumber(want.Str, got.Str) {
			d.add(path + ": want " + show(want) + ", got " + show(got))
		}
	case engine.KindArray:
		n := min(len(want.Elems), len(got.Elems))
		for i := 0; i < n; i++ {
			d.diff(path+"["+strconv.Itoa(i)+"]", want.Elems[i], got.Elems[i])
		}
		for i := n; i < len(want.Elems); i++ {
			d.add(path + "[" + strconv.Itoa(i) + "]: missing")
		}
		for i := n; i < len(got.Elems); i++ {
			d.add(path + "[" + strconv.Itoa(i) + "]: unexpected")
		}
	case engine.KindObject:
		for _, m := range want.Members {
			g := got.Get(m.Key)
			if g == nil {
				d.add(memberPath(path, m.Key) + ": missing")
				continue
			}
			d.diff(memberPath(path, m.Key), m.Value, g)
		}
		if d.subset {
			return
		}
		for _, m := range got.Members {
			if want.Get(m.Key) == nil {
				d.add(memberPath(path, m.Key) + ": unexpected")
			}
		}
	}
}

// memberPath is path.key, or path["key"] when key is not a plain name.
func memberPath(path, key string) string {
	plain := key != ""
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return path + "." + key
	}
	return path + "[" + string(appendString(nil, key)) + "]"
}

// sameNumber compares two JSON numbers by value, exactly.
func sameNumber(a, b string) bool {
	if a == b {
		return true
	}
	x, okx := new(big.Rat).SetString(a)
	y, oky := new(big.Rat).SetString(b)
	return okx && oky && x.Cmp(y) == 0
}

// maxShown bounds a value shown in a difference line.
const maxShown = 120

// show is n as compact JSON, cut short when long.
func show(n *engine.Node) string {
	return clip(string(compact(nil, n)), maxShown)
}

func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

package transform

// Walking raw JSON in its own order, for the XML encoder and EncodeForm: the
// members of an object and the items of a list, on the package's one JSON
// tokenizer (scanString and skipValue) and its whitespace table.

// jsonWalk steps through the members or items of one object or list of a
// document that ScanJSON accepted. Input it would have refused ends the
// walk (ok false) rather than panicking.
type jsonWalk struct {
	b []byte
	i int
}

// walkJSON starts a walk of the object or list that opens at b[open].
func walkJSON(b []byte, open int) jsonWalk {
	return jsonWalk{b: b, i: open + 1}
}

// member reads the next object member: the key's content b[k0:k1] (between
// its quotes, escapes not decoded) and the value b[v0:v1]. ok is false at
// the closing brace.
func (w *jsonWalk) member() (k0, k1, v0, v1 int, ok bool) {
	b := w.b
	q := skipSpace(b, w.i)
	if q >= len(b) || b[q] != '"' {
		return 0, 0, 0, 0, false
	}
	end := scanString(b, q)
	if end < 0 {
		return 0, 0, 0, 0, false
	}
	colon := skipSpace(b, end)
	if colon >= len(b) || b[colon] != ':' {
		return 0, 0, 0, 0, false
	}
	v0 = skipSpace(b, colon+1)
	if v1 = skipValue(b, v0); v1 < 0 {
		return 0, 0, 0, 0, false
	}
	w.i = w.after(v1)
	return q + 1, end - 1, v0, v1, true
}

// item reads the next list item b[v0:v1]; ok is false at the closing
// bracket.
func (w *jsonWalk) item() (v0, v1 int, ok bool) {
	b := w.b
	v0 = skipSpace(b, w.i)
	if v0 >= len(b) || b[v0] == ']' {
		return 0, 0, false
	}
	if v1 = skipValue(b, v0); v1 < 0 {
		return 0, 0, false
	}
	w.i = w.after(v1)
	return v0, v1, true
}

// after returns the index past the comma that follows a value ending at i,
// or that of the closing bracket.
func (w *jsonWalk) after(i int) int {
	i = skipSpace(w.b, i)
	if i < len(w.b) && w.b[i] == ',' {
		i++
	}
	return i
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && space[b[i]] {
		i++
	}
	return i
}

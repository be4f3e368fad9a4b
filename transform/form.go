package transform

// application/x-www-form-urlencoded bodies, for `encode: form`.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
)

// EncodeForm writes v as an application/x-www-form-urlencoded body, for
// `encode: form`. v must be an object (a Go map or raw JSON as JSONToXML
// takes) whose values are strings, numbers, booleans, null or lists of
// those:
//   - fields are written in the object's order (sorted keys for Go maps);
//   - a string is sent as is, a number in shortest decimal form as in XML
//     (1e8 -> 100000000), a boolean as true/false;
//   - null leaves the field out, and so do null list items;
//   - a list repeats the field, one per item (tags=a&tags=b); an empty list
//     sends nothing;
//   - a nested object, or a list holding an object or a list, is an error:
//     there is no standard for nesting in forms. Spell out bracket names in
//     the spec instead, e.g. {"metadata[order]": "..."};
//   - keys and values are escaped as url.QueryEscape does (space is "+").
//
// nil (or JSON null) gives "". Anything other than an object is an error.
func EncodeForm(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	raw, err := asJSON(nil, v)
	if err != nil {
		return "", err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return "", nil
	}
	if err := CheckJSON(raw, 3); err != nil {
		if errors.Is(err, ErrTooDeep) {
			return "", errors.New("form encoding takes a flat object: nested objects and lists of lists cannot be sent as a form")
		}
		return "", err
	}
	i := skipSpace(raw, 0)
	switch raw[i] {
	case 'n':
		return "", nil
	case '{':
	default:
		return "", errors.New("form encoding takes an object")
	}
	var out, key, val []byte
	add := func(v0, v1 int) error {
		switch raw[v0] {
		case 'n':
			return nil
		case '{', '[':
			return fmt.Errorf("form encoding: field %q holds an object or a nested list; only strings, numbers, booleans and lists of them can be sent", key)
		case '"':
			val = appendUnescaped(val[:0], raw[v0+1:v1-1])
		case 't', 'f':
			val = append(val[:0], raw[v0:v1]...)
		default:
			var err error
			if val, err = appendXMLNumber(val[:0], raw[v0:v1]); err != nil {
				return err
			}
		}
		if len(out) > 0 {
			out = append(out, '&')
		}
		out = append(out, url.QueryEscape(string(key))...)
		out = append(out, '=')
		out = append(out, url.QueryEscape(string(val))...)
		return nil
	}
	it := walkJSON(raw, i)
	for {
		k0, k1, v0, v1, ok := it.member()
		if !ok {
			break
		}
		key = appendUnescaped(key[:0], raw[k0:k1])
		if raw[v0] != '[' {
			if err := add(v0, v1); err != nil {
				return "", err
			}
			continue
		}
		arr := walkJSON(raw, v0)
		for {
			a0, a1, ok := arr.item()
			if !ok {
				break
			}
			if err := add(a0, a1); err != nil {
				return "", err
			}
		}
	}
	return string(out), nil
}

// asJSON is v as JSON bytes: as they are when v already is JSON (RawJSON,
// json.RawMessage, []byte), else encoded by AppendJSON into buf.
func asJSON(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case RawJSON:
		return x, nil
	case json.RawMessage:
		return x, nil
	case []byte:
		return x, nil
	}
	return AppendJSON(buf, v)
}

// isRaw reports whether asJSON hands v back as it is.
func isRaw(v any) bool {
	switch v.(type) {
	case RawJSON, json.RawMessage, []byte:
		return true
	}
	return false
}

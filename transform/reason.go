package transform

import (
	"errors"
	"strings"
)

// Reason says in a fixed phrase why an expression failed, for the detail
// of a problem document. It never holds a value from a backend or a
// client, the expression's source, or a Go type name: those go to the log
// with the full error.
func Reason(err error) string {
	if _, ok := errors.AsType[*NonFiniteError](err); ok {
		return "it gave NaN or an infinity, which JSON cannot hold"
	}
	msg := err.Error()
	if re, ok := errors.AsType[*RunError](err); ok {
		msg = re.Err.Error()
	}
	for _, fn := range functionNames {
		if strings.HasPrefix(msg, fn+":") || strings.HasPrefix(msg, fn+" needs") {
			return fn + " was given arguments of kinds it does not take"
		}
	}
	for _, r := range reasons {
		if strings.Contains(msg, r.says) {
			return r.means
		}
	}
	return "it could not be evaluated on the values it read"
}

// functionNames are the gateway's own functions, whose errors start with
// their name.
var functionNames = []string{"merge", "pick", "omit", "rename", "coalesce", "to_number", "to_string", "index_by"}

// reasons map what expr's run-time errors say to what a client is told,
// first match first.
var reasons = []struct{ says, means string }{
	{"memory budget exceeded", "it needed more memory than an expression may use"},
	{"divide by zero", "a division by zero"},
	{"index out of range", "a list index was out of range"},
	{"invalid date", "a value is not a date it can read"},
	{"invalid duration", "a value is not a duration it can read"},
	{"parsing time", "a value is not a date it can read"},
	{"looking for beginning of value", "a value is not valid JSON"},
	{"invalid character", "a value is not valid JSON"},
	{"invalid operation", "a value was of a kind the operation does not take"},
	{"interface conversion", "a value was of a kind the operation does not take"},
	{"invalid argument", "a value was of a kind the operation does not take"},
	{"cannot use", "a value was of a kind the operation does not take"},
	{"mismatched types", "a value was of a kind the operation does not take"},
	{"cannot fetch", "a value has no member of that name"},
}

// Kind names the JSON kind of v for messages: "a string", "a list", "null".
func Kind(v any) string { return kindName(v) }

// BodyReason says in a fixed phrase why a body could not be read as JSON
// or XML, for a problem detail: never the body's bytes or names.
func BodyReason(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, ErrTooDeep):
		return "it nests deeper than the gateway's limit"
	case strings.HasPrefix(msg, "invalid JSON"):
		return "it is not valid JSON"
	case strings.Contains(msg, "UTF-16") || strings.Contains(msg, "UTF-32"):
		return "it is UTF-16 or UTF-32; only UTF-8 (or US-ASCII) XML is read"
	case strings.Contains(msg, "XML declaration: encoding"):
		return "it declares an encoding other than UTF-8 or US-ASCII"
	case strings.Contains(msg, "XML declaration: XML version"):
		return "it declares an XML version other than 1.x"
	case strings.Contains(msg, "DTD") || strings.Contains(msg, "DOCTYPE"):
		return "XML with a DOCTYPE declaration is not accepted"
	case strings.Contains(msg, "XML") || strings.Contains(msg, "xml"):
		return "it is not well-formed XML"
	}
	return "it could not be read"
}

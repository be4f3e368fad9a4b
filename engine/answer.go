package engine

import (
	"errors"
	"fmt"
	"strings"

	"frontdesk/transform"
)

// decode validates a backend body and keeps it as JSON bytes (XML is
// converted here, once) or as text. Nothing is decoded into Go values until
// an expression reads it. An empty body is null; a body of only
// whitespace is not JSON.
func (x *exchange) decode(c *Call, ct string, b []byte, res *result) error {
	mode := c.decode
	if len(b) == 0 && mode != decodeText {
		res.body = nil
		return nil
	}
	if mode == decodeAuto {
		mode = sniff(ct, b, x.p.limits.MaxJSONDepth)
	}
	switch mode {
	case decodeJSON:
		spaced, err := transform.ScanJSON(b, x.p.limits.MaxJSONDepth)
		if err != nil {
			if isSpace(b) {
				return errOnlySpace
			}
			return err
		}
		if spaced {
			b = transform.Compact(make([]byte, 0, len(b)), b)
		}
		res.body = b // compact: the response splices it as it is
	case decodeXML:
		j, err := c.codec.XMLToJSON(nil, b)
		if err != nil {
			return err
		}
		res.body = j
	case decodeText:
		res.body = b
		res.isText = true
	}
	return nil
}

// sniff is decode auto's choice, by Content-Type: JSON for application/json
// and +json, XML for application/xml, text/xml and +xml, text for other
// text/ types, and for anything else JSON when the body is JSON, else text.
func sniff(ct string, b []byte, maxDepth int) decodeMode {
	mt := mediaType(ct)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return decodeJSON
	case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		return decodeXML
	case strings.HasPrefix(mt, "text/"):
		return decodeText
	}
	if transform.CheckJSON(b, maxDepth) == nil {
		return decodeJSON
	}
	return decodeText
}

var errOnlySpace = errors.New("the body is only whitespace, which is not JSON")

func isSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// bodyReason is what a client is told about a backend body the gateway
// could not use: the kind of fault, never the body's bytes.
func bodyReason(err error, maxDepth int) string {
	switch {
	case errors.Is(err, errOnlySpace):
		return "it is only whitespace, which is not JSON"
	case errors.Is(err, transform.ErrTooDeep):
		return fmt.Sprintf("it nests deeper than %d levels", maxDepth)
	}
	return transform.BodyReason(err)
}

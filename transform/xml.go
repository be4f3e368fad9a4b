package transform

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/clbanning/mxj/v2"
)

var mxjOnce sync.Once

// mxjSetup sets mxj's process-wide options once: attributes as "@name",
// element text beside attributes as "#text".
func mxjSetup() {
	mxjOnce.Do(func() {
		mxj.SetAttrPrefix("@")
	})
}

// ErrDTD is returned for XML that declares a document type: DTDs and
// entities are never processed.
var ErrDTD = errors.New("XML with a DOCTYPE declaration is not accepted")

// CheckXML bounds the element nesting of b and rejects DTDs before any parser
// sees it. It over-counts rather than under-counts: "<" inside comments or
// CDATA may count as an element.
func CheckXML(b []byte, maxDepth int) error {
	depth := 0
	for i := 0; i < len(b); i++ {
		if b[i] != '<' || i+1 >= len(b) {
			continue
		}
		switch b[i+1] {
		case '/':
			depth--
		case '?':
		case '!':
			if bytes.HasPrefix(b[i+2:], []byte("DOCTYPE")) || bytes.HasPrefix(b[i+2:], []byte("ENTITY")) {
				return ErrDTD
			}
		default:
			j := bytes.IndexByte(b[i:], '>')
			if j > 0 && b[i+j-1] == '/' {
				continue
			}
			depth++
			if depth > maxDepth {
				return fmt.Errorf("%w: more than %d levels at byte %d", ErrTooDeep, maxDepth, i)
			}
		}
	}
	return nil
}

// XMLToJSON converts an XML document to JSON bytes. Element text stays a
// string; attributes are "@name"; text beside attributes or children is
// "#text"; repeated elements become lists.
func XMLToJSON(b []byte, maxDepth int) ([]byte, error) {
	if err := CheckXML(b, maxDepth); err != nil {
		return nil, err
	}
	mxjSetup()
	m, err := mxj.NewMapXml(b, false)
	if err != nil {
		return nil, fmt.Errorf("invalid XML: %w", err)
	}
	return AppendJSON(nil, map[string]any(m))
}

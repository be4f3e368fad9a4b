package schemas

import (
	"embed"
	"path"
	"strings"
)

// FS holds the schema files, by their names below.
//
//go:embed *.json
var FS embed.FS

// The schema files in FS.
const (
	Gateway  = "gateway.schema.json"  // gateway.json
	Endpoint = "endpoint.schema.json" // one endpoint spec
	Test     = "test.schema.json"     // NAME.test.json spec tests
	Keys     = "keys.schema.json"     // the API key file (keys.json, or NAME.keys.json)
)

// Names lists every schema file in FS.
func Names() []string { return []string{Gateway, Endpoint, Test, Keys} }

// For names the schema that applies to the file at p, by its name alone:
// Test for "*.test.json", Gateway for "gateway.json", Keys for "keys.json"
// and "*.keys.json", Endpoint for any other ".json" file, and "" for
// everything else.
func For(p string) string {
	base := path.Base(strings.ReplaceAll(p, `\`, "/"))
	switch {
	case !strings.HasSuffix(base, ".json"):
		return ""
	case strings.HasSuffix(base, ".test.json"):
		return Test
	case base == "gateway.json":
		return Gateway
	case base == "keys.json" || strings.HasSuffix(base, ".keys.json"):
		return Keys
	default:
		return Endpoint
	}
}

// Read returns the bytes of the named schema file.
func Read(name string) ([]byte, error) { return FS.ReadFile(name) }

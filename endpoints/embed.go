// Package endpoints holds the example spec files, owned by the mobile and web
// teams, and embeds them so `frontdesk serve --demo` works from the binary
// alone.
package endpoints

import "embed"

// FS holds gateway.json, its API key file (hashes only) and every spec
// and spec test below this folder.
//
//go:embed gateway.json keys.json mobile web partner
var FS embed.FS

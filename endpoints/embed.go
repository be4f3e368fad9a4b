// Package endpoints holds the example spec files, owned by the mobile and web
// teams, and embeds them so `frontdesk serve --demo` works from the binary
// alone.
package endpoints

import "embed"

// FS holds gateway.json and every spec and spec test below this folder.
//
//go:embed gateway.json mobile web
var FS embed.FS

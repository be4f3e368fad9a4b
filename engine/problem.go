package engine

import (
	"fmt"
	"sort"
	"strings"
)

// Severity of a load problem.
const (
	SevError   = "error"
	SevWarning = "warning"
)

// LoadError is one problem found while loading: where, which spec field,
// which rule, and what. Lint prints it as
// "file:line:col: severity: message (rule)".
type LoadError struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Severity string `json:"severity"`
	Rule     string `json:"rule"`
	Field    string `json:"field,omitempty"`
	Message  string `json:"message"`
	Snippet  string `json:"snippet,omitempty"`
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s (%s)", e.File, e.Line, e.Column, e.Severity, e.Message, e.Rule)
}

// LoadErrors is every problem of one load, sorted by file and position. It
// is returned as an error when at least one has severity error.
type LoadErrors []*LoadError

func (l LoadErrors) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// HasErrors reports whether any problem is an error rather than a warning.
func (l LoadErrors) HasErrors() bool {
	for _, e := range l {
		if e.Severity == SevError {
			return true
		}
	}
	return false
}

func (l LoadErrors) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Message < b.Message
	})
}

// Rule ids, stable: editors and CI filter on them.
const (
	RuleSyntax          = "json-syntax"
	RuleSchema          = "schema"
	RuleUnknownKey      = "unknown-key"
	RuleDuration        = "bad-duration"
	RuleSize            = "bad-size"
	RuleExprSyntax      = "expr-syntax"
	RuleUnknownName     = "unknown-name"
	RuleReservedName    = "reserved-name"
	RuleUnknownSvc      = "unknown-service"
	RuleCycle           = "cycle"
	RuleRouteClash      = "route-clash"
	RulePath            = "bad-path"
	RuleEnv             = "missing-env"
	RuleIO              = "io"
	RuleUnsupported     = "unsupported"
	RuleTimeoutBudget   = "timeout-exceeds-endpoint"
	RuleUnusedCall      = "unused-call"
	RuleForEach         = "for-each-not-list"
	RuleMergeCollision  = "merge-collision"
	RuleReservedHeader  = "reserved-header"
	RuleClearSecret     = "secret-in-clear"
	RulePlainOrigin     = "plain-http-origin"
	RuleNoAudience      = "jwt-no-audience"
	RuleAuthMissing     = "auth-not-configured"
	RuleAllowNotBool    = "allow-not-boolean"
	RuleAuthOnPublic    = "auth-on-public"
	RuleSharedCacheAuth = "shared-cache-reads-auth"
	RuleCacheMethod     = "cache-not-get"
	RulePlainJWKS       = "plain-http-jwks"
)

// didYouMean returns ` (did you mean "x"?)` when one of known is close to s.
func didYouMean(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(s, k); d < bestD && d <= max(1, len(k)/3) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(`; did you mean %q?`, best)
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of two neighbours ("crat" for "cart")
// cost one each.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

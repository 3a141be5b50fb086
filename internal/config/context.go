package config

import (
	"fmt"
	"regexp"
	"slices"
)

// Defaults of an agent's context policy beyond recent_turns, max_tokens
// and summary_tokens (which applyDefaults sets with the other agent
// defaults).
const (
	defaultContextLimit    = 128_000
	defaultReplyTokens     = 4096
	defaultMaxPendingTurns = 50
	defaultMaxFacts        = 64
)

// defaultContext fills the zero fields of an agent's context policy.
// Builtins and ToolFields stay nil when absent: nil means the built-in
// set, which the engine owns.
func defaultContext(cp *ContextPolicy) {
	if cp.ContextLimit == 0 {
		cp.ContextLimit = defaultContextLimit
	}
	if cp.ReplyTokens == 0 {
		cp.ReplyTokens = min(defaultReplyTokens, cp.ContextLimit/4)
	}
	if cp.MaxPendingTurns == 0 {
		cp.MaxPendingTurns = max(defaultMaxPendingTurns, cp.RecentTurns)
	}
	if cp.Facts.Max == 0 {
		cp.Facts.Max = defaultMaxFacts
	}
}

// factKindRE is what a fact kind may look like.
var factKindRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// validateContext checks what the engine would refuse in a context
// policy, naming the key at fault.
func validateContext(p string, cp *ContextPolicy, bad func(path, format string, args ...any)) {
	switch {
	case cp.ContextLimit < 1 || cp.ReplyTokens < 1 || cp.MaxPendingTurns < 1 || cp.Facts.Max < 1:
		bad(p, "context_limit, reply_tokens, max_pending_turns and facts.max must be positive")
	case cp.ReplyTokens >= cp.ContextLimit:
		bad(p+".reply_tokens", "%d leaves nothing of context_limit %d", cp.ReplyTokens, cp.ContextLimit)
	case cp.MaxPendingTurns < cp.RecentTurns:
		bad(p+".max_pending_turns", "%d is below recent_turns %d", cp.MaxPendingTurns, cp.RecentTurns)
	case cp.SummaryTokens > min(cp.MaxTokens, cp.ContextLimit-cp.ReplyTokens):
		bad(p+".summary_tokens", "%d is above the prompt budget", cp.SummaryTokens)
	}
	for i, k := range cp.Facts.Builtins {
		if !slices.Contains(BuiltinFacts, k) {
			bad(fmt.Sprintf("%s.facts.builtins[%d]", p, i), "unknown fact kind %q; want one of %v", k, BuiltinFacts)
		}
	}
	for i, pt := range cp.Facts.Patterns {
		pp := fmt.Sprintf("%s.facts.patterns[%d]", p, i)
		if !factKindRE.MatchString(pt.Kind) {
			bad(pp+".kind", "%q: want [a-z][a-z0-9_]{0,31}", pt.Kind)
		}
		re, err := regexp.Compile(pt.Regexp)
		switch {
		case err != nil:
			bad(pp+".regexp", "%v", err)
		case re.MatchString(""):
			bad(pp+".regexp", "%q matches the empty string", pt.Regexp)
		}
	}
	for i, f := range cp.Facts.ToolFields {
		fp := fmt.Sprintf("%s.facts.tool_fields[%d]", p, i)
		if f.Field == "" {
			bad(fp+".field", "no field")
		}
		if !factKindRE.MatchString(f.Kind) {
			bad(fp+".kind", "%q: want [a-z][a-z0-9_]{0,31}", f.Kind)
		}
	}
}

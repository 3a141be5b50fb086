package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/ctxwindow"
)

const contextDoc = minimal + `
agents:
  - name: a
    instructions: help
    model: large
    context:
      recent_turns: 8
      facts:
        builtins: [order_number, amount]
        patterns: [{kind: member_id, regexp: 'M-\d{6}'}]
        tool_fields: [{field: refund_amount, kind: amount}]
`

func TestContextPolicy(t *testing.T) {
	c, err := Parse([]byte(contextDoc), env(nil))
	require.NoError(t, err)
	cp := c.Agents[0].Context
	assert.Equal(t, ContextPolicy{RecentTurns: 8, MaxTokens: 3000, SummaryTokens: 500, ContextLimit: 128000,
		ReplyTokens: 4096, MaxPendingTurns: 50, Facts: FactsPolicy{Max: 64, Builtins: []string{"order_number", "amount"},
			Patterns:   []FactPattern{{Kind: "member_id", Regexp: `M-\d{6}`}},
			ToolFields: []FactField{{Field: "refund_amount", Kind: "amount"}}}}, cp)

	assertEditsFail(t, contextDoc, []docEdit{
		{"unknown builtin", "[order_number, amount]", "[order_number, money]", `agents[0].context.facts.builtins[1]: unknown fact kind "money"`},
		{"bad regexp", `'M-\d{6}'`, `'M-(\d'`, "agents[0].context.facts.patterns[0].regexp"},
		{"empty match", `'M-\d{6}'`, `'x*'`, "matches the empty string"},
		{"bad kind", "kind: member_id", "kind: Member", "agents[0].context.facts.patterns[0].kind"},
		{"field without kind", "kind: amount}", "kind: ''}", "agents[0].context.facts.tool_fields[0].kind"},
		{"pending below recent", "recent_turns: 8", "recent_turns: 8\n      max_pending_turns: 4", "agents[0].context.max_pending_turns"},
		{"reply over limit", "recent_turns: 8", "recent_turns: 8\n      context_limit: 1000\n      reply_tokens: 1000", "agents[0].context.reply_tokens"},
		{"summary over budget", "recent_turns: 8", "recent_turns: 8\n      max_tokens: 400", "agents[0].context.summary_tokens"},
		{"unknown key", "recent_turns: 8", "recent_turn: 8", "recent_turn"},
	})
}

// TestContextPolicyMatchesEngine keeps config's view of the context
// policy in step with ctxwindow's: the built-in kinds, and a valid config
// policy is a valid ctxwindow policy with the same defaults.
func TestContextPolicyMatchesEngine(t *testing.T) {
	assert.ElementsMatch(t, ctxwindow.BuiltinKinds(), BuiltinFacts)
	c, err := Parse([]byte(contextDoc), env(nil))
	require.NoError(t, err)
	cp := c.Agents[0].Context
	p := ctxwindow.Policy{RecentTurns: cp.RecentTurns, MaxTokens: cp.MaxTokens, SummaryTokens: cp.SummaryTokens,
		ContextLimit: cp.ContextLimit, ReplyTokens: cp.ReplyTokens, MaxPendingTurns: cp.MaxPendingTurns,
		Facts: ctxwindow.FactsPolicy{Max: cp.Facts.Max, Builtins: cp.Facts.Builtins}}
	n, err := p.Normalize()
	require.NoError(t, err)
	assert.Equal(t, p.ContextLimit, n.ContextLimit)
	zero, err := ctxwindow.Policy{}.Normalize()
	require.NoError(t, err)
	d, err := Parse([]byte(minimal+"\nagents: [{name: a, instructions: help, model: large}]\n"), env(nil))
	require.NoError(t, err)
	dc := d.Agents[0].Context
	assert.Equal(t, []int{zero.RecentTurns, zero.MaxTokens, zero.SummaryTokens, zero.ContextLimit, zero.ReplyTokens, zero.MaxPendingTurns, zero.Facts.Max},
		[]int{dc.RecentTurns, dc.MaxTokens, dc.SummaryTokens, dc.ContextLimit, dc.ReplyTokens, dc.MaxPendingTurns, dc.Facts.Max},
		"the same defaults")
}

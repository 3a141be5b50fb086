package engine

import "github.com/floodgate-dev/floodgate/internal/llm"

// WithoutToolCalls is a Config.HandoffFilter that hides tool calls and
// their results from the receiving agent, as the OpenAI Agents SDK's
// remove_all_tools does: tool messages are dropped, and assistant messages
// keep their text without their calls (or are dropped when they had
// none). It returns a new slice; msgs is not modified.
func WithoutToolCalls(_, _ string, msgs []llm.Message) []llm.Message {
	out := make([]llm.Message, 0, len(msgs))
	for _, m := range msgs {
		switch {
		case m.Role == llm.RoleTool:
			continue
		case m.Role == llm.RoleAssistant && len(m.ToolCalls) > 0:
			if m.Content.String() == "" {
				continue
			}
			m.ToolCalls = nil
		}
		out = append(out, m)
	}
	return out
}

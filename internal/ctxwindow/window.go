package ctxwindow

import (
	"errors"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// ErrTooLarge: the system prompt, the tools, the user's message and the
// newest tool results of the turn do not fit the model's context window
// even with no history. Nothing was sent.
var ErrTooLarge = errors.New("ctxwindow: the prompt does not fit the model's context window")

// Input is what one model call's prompt is made of.
type Input struct {
	// System is the whole system prompt: the agent's instructions, the
	// facts block, the summary and any notes. It always goes in whole.
	System string
	// Tools are the tools offered; their declarations count.
	Tools []llm.Tool
	// History are the stored turns after the summary, oldest first.
	History []store.Turn
	// Current is this turn so far: the user's message, then each
	// assistant message with tool calls followed by their results.
	Current []llm.Message
}

// Window is a prompt built by Build.
type Window struct {
	// Messages are the request's messages: the system message, the
	// history kept (oldest first) and the turn so far.
	Messages []llm.Message
	// Tokens are the prompt tokens of Messages plus the tool declarations,
	// as the model bills them.
	Tokens int
	// Turns is how many history turns were kept; Compact how many of them
	// without their tool calls and results.
	Turns, Compact int
	// FirstSeq is the seq of the oldest history turn kept, 0 when none.
	FirstSeq int64
	// Current is how many of Messages, at the end, are the turn so far.
	Current int
	// Trimmed is how many tool-call groups of the turn so far were left out
	// to fit the context limit (0 but in extreme turns).
	Trimmed int
}

// unit is a run of messages that is kept or dropped whole: a user
// message, an assistant text, or an assistant message with tool calls and
// exactly one result for each call.
type unit struct {
	from, to int // msgs[from:to]
	tokens   int
	tools    bool
	user     bool
}

// splitUnits appends the valid units of msgs to out. Tool results that
// answer no call of the assistant message right before them, and
// assistant tool calls missing a result, are left out with their group:
// a provider rejects both.
func splitUnits(c Counter, msgs []llm.Message, out []unit) []unit {
	for i := 0; i < len(msgs); {
		m := &msgs[i]
		switch {
		case m.Role == llm.RoleUser:
			out = append(out, unit{from: i, to: i + 1, tokens: c.CountMessage(m), user: true})
			i++
		case m.Role == llm.RoleAssistant && len(m.ToolCalls) == 0:
			out = append(out, unit{from: i, to: i + 1, tokens: c.CountMessage(m)})
			i++
		case m.Role == llm.RoleAssistant:
			j := i + 1
			for j < len(msgs) && msgs[j].Role == llm.RoleTool {
				j++
			}
			if answered(m.ToolCalls, msgs[i+1:j]) {
				u := unit{from: i, to: j, tools: true}
				for k := i; k < j; k++ {
					u.tokens += c.CountMessage(&msgs[k])
				}
				out = append(out, u)
			}
			i = j
		default:
			// A tool result without its call, or a system message inside
			// a conversation: never sent.
			i++
		}
	}
	return out
}

// answered reports whether results answer each of calls exactly once and
// nothing else.
func answered(calls []llm.ToolCall, results []llm.Message) bool {
	if len(results) != len(calls) {
		return false
	}
	for i := range calls {
		id := calls[i].ID
		if id == "" {
			return false
		}
		n := 0
		for j := range results {
			if results[j].ToolCallID == id {
				n++
			}
		}
		if n != 1 {
			return false
		}
		for k := range i {
			if calls[k].ID == id {
				return false
			}
		}
	}
	return true
}

// Sanitize returns msgs without the messages a provider would reject as
// orphans (see splitUnits), in a new slice; system messages are kept
// where they are.
func Sanitize(msgs []llm.Message) []llm.Message {
	out := make([]llm.Message, 0, len(msgs))
	for i := 0; i < len(msgs); {
		m := &msgs[i]
		switch {
		case m.Role == llm.RoleAssistant && len(m.ToolCalls) > 0:
			j := i + 1
			for j < len(msgs) && msgs[j].Role == llm.RoleTool {
				j++
			}
			if answered(m.ToolCalls, msgs[i+1:j]) {
				out = append(out, msgs[i:j]...)
			}
			i = j
		case m.Role == llm.RoleTool:
			i++
		default:
			out = append(out, *m)
			i++
		}
	}
	return out
}

// turnPlan is how one candidate history turn would go in.
type turnPlan struct {
	turn          *store.Turn
	units         []unit
	full, compact int
	mode          int8 // 0 full, 1 compact, 2 dropped
}

const (
	modeFull int8 = iota
	modeCompact
	modeDropped
)

// build lays out a prompt within p (normalised): the system message, the
// tools and the user's message first; then the newest history turns, at
// most RecentTurns, within MaxTokens: when they do not all fit, the oldest
// lose their tool calls and results first (keeping what the customer said
// and what the agent answered), and then the oldest are dropped. Nothing
// goes over ContextLimit-ReplyTokens: the turn so far loses its oldest
// tool-call groups when it alone would, and ErrTooLarge is returned when
// even its newest does not fit. dst's array is reused.
func build(c Counter, p *Policy, in *Input, dst []llm.Message) (Window, error) {
	var w Window
	hard, budget := p.hardLimit(), p.MaxTokens
	sys := llm.Message{Role: llm.RoleSystem, Content: llm.Text(in.System)}
	base := primingTokens + c.CountMessage(&sys)
	if len(in.Tools) > 0 {
		base += c.CountTools(in.Tools)
	}

	cur := splitUnits(c, in.Current, nil)
	curTok, tools := 0, 0
	for _, u := range cur {
		curTok += u.tokens
		if u.tools {
			tools++
		}
	}
	// The turn so far alone over the hard limit: leave out its oldest
	// tool-call groups, keeping the newest, which the model is answering.
	keep := make([]bool, len(cur))
	for i := range keep {
		keep[i] = true
	}
	for i := range cur {
		if base+curTok <= hard || tools <= 1 {
			break
		}
		if cur[i].tools {
			keep[i] = false
			curTok -= cur[i].tokens
			tools--
			w.Trimmed++
		}
	}
	if base+curTok > hard {
		return w, ErrTooLarge
	}

	// Candidates: the newest RecentTurns turns that have anything to send.
	var plans []turnPlan
	if n := len(in.History); n > 0 {
		plans = make([]turnPlan, 0, min(n, p.RecentTurns))
		scratch := make([]unit, 0, 4*min(n, p.RecentTurns))
		for i := n - 1; i >= 0 && len(plans) < p.RecentTurns; i-- {
			t := &in.History[i]
			start := len(scratch)
			scratch = splitUnits(c, t.Messages, scratch)
			us := scratch[start:len(scratch):len(scratch)]
			if len(us) == 0 {
				continue
			}
			tp := turnPlan{turn: t, units: us}
			for _, u := range us {
				tp.full += u.tokens
				if !u.tools {
					tp.compact += u.tokens
				}
			}
			plans = append(plans, tp)
		}
	}
	total := base + curTok
	for i := range plans {
		total += plans[i].full
	}
	// plans are newest first: shorten, then drop, from the end.
	for i := len(plans) - 1; i >= 0 && total > budget; i-- {
		if plans[i].compact < plans[i].full {
			total -= plans[i].full - plans[i].compact
			plans[i].mode = modeCompact
		}
	}
	for i := len(plans) - 1; i >= 0 && total > budget; i-- {
		total -= plans[i].compact
		plans[i].mode = modeDropped
	}

	out := append(dst[:0], sys)
	for i := len(plans) - 1; i >= 0; i-- {
		tp := &plans[i]
		if tp.mode == modeDropped || (tp.mode == modeCompact && tp.compact == 0) {
			continue
		}
		w.Turns++
		if w.FirstSeq == 0 {
			w.FirstSeq = tp.turn.Seq
		}
		if tp.mode == modeCompact {
			w.Compact++
		}
		for _, u := range tp.units {
			if u.tools && tp.mode == modeCompact {
				continue
			}
			out = append(out, tp.turn.Messages[u.from:u.to]...)
		}
	}
	n := len(out)
	for i, u := range cur {
		if keep[i] {
			out = append(out, in.Current[u.from:u.to]...)
		}
	}
	w.Current = len(out) - n
	w.Messages, w.Tokens = out, total
	return w, nil
}

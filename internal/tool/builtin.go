package tool

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// EscalateName is the name of the built-in escalate_to_human tool. The
// engine recognises a call of it that ended with OutcomeOK (its arguments
// were valid) and ends the run as handed off to a human.
const EscalateName = "escalate_to_human"

// HandoffPrefix starts the name of every handoff declaration:
// transfer_to_<agent>, as the OpenAI Agents SDK names them.
const HandoffPrefix = "transfer_to_"

const escalateParams = `{"type":"object","properties":{` +
	`"reason":{"type":"string","minLength":1,"description":"Why a human is needed, in one sentence."},` +
	`"priority":{"type":"string","enum":["low","normal","high"],"description":"How urgent it is; normal when unsure."}},` +
	`"required":["reason"],"additionalProperties":false}`

const handoffParams = `{"type":"object","properties":{` +
	`"reason":{"type":"string","description":"Why the conversation is handed over, in one sentence."}},` +
	`"additionalProperties":false}`

type escalateTool struct {
	decl   llm.Tool
	schema *schema
}

// NewEscalate returns the built-in escalate_to_human tool: arguments reason
// (required) and priority (low, normal or high; normal when absent). Its
// Call only acknowledges the escalation; the engine, which recognises
// EscalateName, files the ticket and ends the run. Every Registry holds
// one.
func NewEscalate() Tool {
	s, err := compileSchema(EscalateName, json.RawMessage(escalateParams))
	if err != nil {
		panic("tool: built-in escalate schema: " + err.Error()) // a constant; tests compile it
	}
	return &escalateTool{
		decl: decl(EscalateName,
			"Hand the conversation to a human support agent. Use it when the customer asks for a human, "+
				"when the request needs a decision you cannot make, or when the tools cannot resolve it.",
			json.RawMessage(escalateParams)),
		schema: s,
	}
}

// Decl implements Tool.
func (t *escalateTool) Decl() llm.Tool { return t.decl }

// Call implements Tool: it validates the arguments and acknowledges.
func (t *escalateTool) Call(_ context.Context, args json.RawMessage) (Result, error) {
	m, err := t.schema.parse(args)
	if err != nil {
		return Result{}, err
	}
	priority, _ := m["priority"].(string)
	if priority == "" {
		priority = "normal"
	}
	reason, _ := m["reason"].(string)
	b := append([]byte(nil), `{"escalated":true,"priority":`...)
	b = appendString(b, priority)
	b = append(b, `,"reason":`...)
	b = appendString(b, reason)
	b = append(b, `,"message":"A human agent will take over this conversation."}`...)
	return Result{Content: b}, nil
}

// HandoffDecl returns the declaration of the handoff to agent:
// transfer_to_<agent>, with an optional reason argument. description, when
// empty, becomes "Hand the conversation to the <agent> agent.". Agent names
// should be of [A-Za-z0-9_-] so that the tool name is valid for every
// provider. The engine intercepts these calls; a Runner does not execute
// them.
func HandoffDecl(agent, description string) llm.Tool {
	if description == "" {
		description = "Hand the conversation to the " + agent + " agent."
	}
	return decl(HandoffPrefix+agent, description, json.RawMessage(handoffParams))
}

// HandoffTarget returns the agent a handoff tool name transfers to, and
// whether toolName is a handoff at all.
func HandoffTarget(toolName string) (agent string, ok bool) {
	agent, ok = strings.CutPrefix(toolName, HandoffPrefix)
	if !ok || agent == "" {
		return "", false
	}
	return agent, true
}

package engine

import (
	"encoding/json"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// Statuses of a run's Result; they equal the store's run statuses.
const (
	// StatusCompleted: the agent answered.
	StatusCompleted = store.RunCompleted
	// StatusPartial: the agent answered from what it had after a limit cut
	// its work short (Reason says which).
	StatusPartial = store.RunPartial
	// StatusDegraded: an answer from a lower rung of the degradation
	// ladder than the agent's model: DegradedReason says why, Rung which
	// rung answered.
	StatusDegraded = store.RunDegraded
	// StatusHandedOff: the conversation was handed to a person (the
	// model's escalate_to_human, the ladder's handoff rung, or a message
	// of a session a person holds); Ticket names the ticket.
	StatusHandedOff = store.RunHandedOff
	// StatusFailed: no answer; Error says why and nothing was stored, so
	// the client may retry with the same RunID.
	StatusFailed = store.RunFailed
)

// Reasons of a partial, handed-off or failed Result.
const (
	ReasonToolBudget = "tool_budget_exhausted"
	ReasonMaxTurns   = "max_turns"
	ReasonEscalated  = "escalated"
	ReasonModel      = "model_error"
	ReasonDeadline   = "deadline"
	// ReasonHeld: the session is held by a person (an active handoff
	// ticket); the message went to the ticket.
	ReasonHeld = "held_by_person"
)

// Result is the outcome of one run; it is the run API's response body.
type Result struct {
	RunID     string `json:"run_id"`
	SessionID string `json:"session_id"`
	// Agent is the agent that answered (after handoffs).
	Agent string `json:"agent"`
	// Seq is the turn's position in the session (1 for the first turn); 0
	// when nothing was stored.
	Seq    int64  `json:"seq"`
	Output string `json:"output"`
	// Status is one of the Status* constants.
	Status string `json:"status"`
	// Reason says why a run is partial, degraded, handed off or failed.
	Reason string `json:"reason,omitempty"`
	// DegradedReason is the trigger that sent the run down the
	// degradation ladder (one of degrade.Triggers), and Rung the kind of
	// rung that answered (model, rules, handoff or message).
	DegradedReason string `json:"degraded_reason,omitempty"`
	Rung           string `json:"rung,omitempty"`
	// Ticket is the handoff ticket of a handed-off run.
	Ticket    string           `json:"ticket_id,omitempty"`
	ToolCalls []ToolCallRecord `json:"tool_calls"`
	Handoffs  []Handoff        `json:"handoffs,omitempty"`
	// Usage and Cost (USD, at the router's prices) sum every model call.
	Usage      llm.Usage `json:"usage"`
	Cost       float64   `json:"cost"`
	ModelCalls int       `json:"model_calls"`
	// Models are the models that answered, in order of first use.
	Models []string `json:"models"`
	// ModelChoice is how the model of the turn was chosen for the agent
	// that answered (the model.chosen events tell every choice of a run
	// with handoffs); nil for a replayed run.
	ModelChoice *ModelChoice `json:"model_choice,omitempty"`
	DurationMS  int64        `json:"duration_ms"`
	// Replayed reports that the session already had this RunID's turn: the
	// output is the stored answer (status completed) and nothing ran.
	Replayed bool       `json:"replayed,omitempty"`
	Error    *ErrorInfo `json:"error,omitempty"`
	// Webhook is how the completion webhook of an async run went.
	Webhook *WebhookStatus `json:"webhook,omitempty"`
}

// ToolCallRecord is one tool call of a run.
type ToolCallRecord struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Arguments are the call's arguments: the JSON the model wrote, or a
	// JSON string holding it when it was not valid JSON.
	Arguments json.RawMessage `json:"arguments"`
	// Outcome is one of tool.Outcome's values, or "handoff" for a
	// transfer.
	Outcome    string  `json:"outcome"`
	DurationMS float64 `json:"duration_ms"`
}

// Handoff is one transfer of the conversation between agents.
type Handoff struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason,omitempty"`
}

// ErrorInfo is why a run failed, in the OpenAI error vocabulary.
type ErrorInfo struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    string `json:"code,omitempty"`
	// Status is the HTTP status the failure maps to (the gateway's choice
	// to use); not part of the body.
	Status int `json:"-"`
}

// WebhookStatus is how delivering an async run's webhook went.
type WebhookStatus struct {
	Delivered bool   `json:"delivered"`
	Attempts  int    `json:"attempts"`
	Status    int    `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
}

// errorInfo describes err for a client.
func errorInfo(err error) *ErrorInfo {
	e := llm.AsError(err)
	msg := e.Message
	if msg == "" {
		msg = e.Kind.String()
	}
	return &ErrorInfo{Message: msg, Type: e.ErrorType(), Code: e.Code, Status: e.HTTPStatus()}
}

// Event types, in the order a run emits them: run.started, model.chosen
// (EventModelChosen), then any of message.delta, tool.call, tool.result
// and handoff (followed by a model.chosen for the agent taking over), then
// run.completed (a run that produced a Result, whatever its status) or
// error (Run returned an error).
const (
	EventRunStarted   = "run.started"
	EventMessageDelta = "message.delta"
	EventToolCall     = "tool.call"
	EventToolResult   = "tool.result"
	EventHandoff      = "handoff"
	EventRunCompleted = "run.completed"
	EventError        = "error"
)

// Event is one step of a run, streamed to the client as an SSE event named
// Type whose data is Data as JSON. Data is *RunStarted, *ModelChoice,
// *MessageDelta, *ToolCallEvent, *ToolResultEvent, *Handoff, *Result or
// *ErrorInfo, by Type; it is the receiver's to keep.
type Event struct {
	Type string
	Data any
}

// RunStarted is the data of run.started.
type RunStarted struct {
	RunID     string `json:"run_id"`
	SessionID string `json:"session_id"`
	Agent     string `json:"agent"`
}

// MessageDelta is the data of message.delta: a piece of the answer being
// written by Agent (streamed runs only).
type MessageDelta struct {
	Agent   string `json:"agent"`
	Content string `json:"content"`
}

// ToolCallEvent is the data of tool.call: a tool call about to run.
type ToolCallEvent struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// ToolResultEvent is the data of tool.result: how a tool call ended and
// what it answered (capped).
type ToolResultEvent struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Outcome    string          `json:"outcome"`
	DurationMS float64         `json:"duration_ms"`
	Result     json.RawMessage `json:"result,omitempty"`
}

// ms converts d to milliseconds with microsecond resolution.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rawArgs returns arguments as a JSON value: as written when valid, else
// as a JSON string.
func rawArgs(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("{}")
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

// addUsage adds u to sum.
func addUsage(sum *llm.Usage, u *llm.Usage) {
	if u == nil {
		return
	}
	sum.PromptTokens += u.PromptTokens
	sum.CompletionTokens += u.CompletionTokens
	sum.TotalTokens += u.TotalTokens
	if c := u.CachedTokens(); c > 0 {
		if sum.PromptTokensDetails == nil {
			sum.PromptTokensDetails = &llm.PromptTokensDetails{}
		}
		sum.PromptTokensDetails.CachedTokens += c
	}
	if d := u.CompletionTokensDetails; d != nil && d.ReasoningTokens > 0 {
		if sum.CompletionTokensDetails == nil {
			sum.CompletionTokensDetails = &llm.CompletionTokensDetails{}
		}
		sum.CompletionTokensDetails.ReasoningTokens += d.ReasoningTokens
	}
}

package degrade

import (
	"context"
	"errors"
	"net/http"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/provider"
)

// Trigger is why a run left the normal path: the degraded_reason of its
// Result and the reason label of the rung metric. Its values are fixed
// here, so the label is bounded.
type Trigger string

// Triggers, in the order of the issue.
const (
	// NoHealthyEndpoint: the router had no endpoint that could serve the
	// model (every one ejected, down, or at capacity).
	NoHealthyEndpoint Trigger = "no_healthy_endpoint"
	// Deadline: the run's deadline is about to pass (or passed) before the
	// model answered.
	Deadline Trigger = "deadline"
	// BudgetExhausted: the tenant's spend budget is used up; no model call
	// may be paid for.
	BudgetExhausted Trigger = "budget_exhausted"
	// ToolBreakerOpen: a tool the answer needs has its circuit breaker
	// open.
	ToolBreakerOpen Trigger = "tool_breaker_open"
	// ToolBudgetSpent: the run spent its tool-call budget without an
	// answer.
	ToolBudgetSpent Trigger = "tool_budget_spent"
	// Shed: admission shed the request (or it waited past its queue
	// deadline) and no model may run for it.
	Shed Trigger = "shed"
	// PromptFilterBlock: the prompt filter blocked the user's message.
	PromptFilterBlock Trigger = "prompt_filter_block"
	// ModelError: the model failed after the router's retries and
	// failovers.
	ModelError Trigger = "model_error"
	// OutputCheckFailed: the model's final answer failed an output check
	// (see Checker).
	OutputCheckFailed Trigger = "output_check_failed"
)

// Triggers lists every trigger, in a fixed order.
var Triggers = []Trigger{
	NoHealthyEndpoint, Deadline, BudgetExhausted, ToolBreakerOpen, ToolBudgetSpent,
	Shed, PromptFilterBlock, ModelError, OutputCheckFailed,
}

// Valid reports whether t is one of Triggers.
func (t Trigger) Valid() bool { return triggerIndex(t) >= 0 }

func triggerIndex(t Trigger) int {
	for i, x := range Triggers {
		if x == t {
			return i
		}
	}
	return -1
}

// TriggerOf names the trigger of a failed model call (a router error):
// Deadline when the context's deadline is in its chain,
// NoHealthyEndpoint for llm.KindRateLimited (every endpoint answered
// 429) and llm.KindUnavailable (no endpoint could serve the model)
// unless its last failure was a server error (the endpoints are up and
// the model fails: ModelError), ModelError for any other failure. ok is false for nil and for a
// cancelled context (the client went away: nobody is left to answer).
func TriggerOf(err error) (t Trigger, ok bool) {
	if err == nil || errors.Is(err, context.Canceled) {
		return "", false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Deadline, true
	}
	e := llm.AsError(err)
	switch e.Kind {
	case llm.KindCanceled:
		return "", false
	case llm.KindRateLimited:
		return NoHealthyEndpoint, true
	case llm.KindUnavailable:
		// The router's "no endpoint could serve" wraps the last failure:
		// endpoints that answered with a server error are up but failing
		// (a model error); down (503 Service Unavailable), unreachable,
		// cut or ejected ones are not healthy.
		var last *llm.Error
		var status *provider.StatusError
		if errors.As(e.Err, &last) && last.Kind == llm.KindServer &&
			!(errors.As(last, &status) && status.StatusCode == http.StatusServiceUnavailable) {
			return ModelError, true
		}
		return NoHealthyEndpoint, true
	}
	return ModelError, true
}

// Kind is the kind of a rung: what answers on it.
type Kind string

// Kinds of rungs.
const (
	// KindModel asks another (usually smaller) model.
	KindModel Kind = "model"
	// KindRules answers with the rules engine (internal/rules).
	KindRules Kind = "rules"
	// KindHandoff files a human-handoff ticket (internal/handoff) and
	// answers with its acknowledgement.
	KindHandoff Kind = "handoff"
	// KindMessage answers with a fixed friendly message in the user's
	// language. It cannot fail.
	KindMessage Kind = "message"
)

// Kinds lists every kind, in a fixed order.
var Kinds = []Kind{KindModel, KindRules, KindHandoff, KindMessage}

func kindIndex(k Kind) int {
	for i, x := range Kinds {
		if x == k {
			return i
		}
	}
	return -1
}

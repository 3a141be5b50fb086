package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

// ToolCaller calls a tool by name with its arguments, a JSON object, and
// returns its result, JSON. A domain error of the tool (the request cannot
// be served: "order not found") is returned as a *ToolError carrying the
// error body; any other error is a failure of the tool. Implementations
// must be safe for concurrent use when the Rules are shared by concurrent
// callers.
type ToolCaller interface {
	Call(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error)
}

// ToolFunc adapts a function to ToolCaller.
type ToolFunc func(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error)

// Call implements ToolCaller.
func (f ToolFunc) Call(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	return f(ctx, name, args)
}

// ToolError is a domain error a tool answered with: the tool works, the
// request cannot be served. Body is the tool's answer (JSON, or a JSON
// string holding its text).
type ToolError struct {
	Tool string
	Body json.RawMessage
}

// Error implements error.
func (e *ToolError) Error() string {
	return fmt.Sprintf("tool %s answered with an error: %s", e.Tool, truncate(string(e.Body), 200))
}

// errNoResult is the failure of a call whose runner reported no outcome.
var errNoResult = errors.New("the tool call produced no result")

// RunnerTools returns a ToolCaller that calls tools through ru, so that a
// rule's calls are governed like a model's: they count against the run's
// budget, go through the tools' circuit breakers, are answered from the
// run's cache when repeated, and their results are capped. The runner
// must offer the tools the rules call. Outcomes other than a result
// (OutcomeOK, OutcomeCached) or a domain error (OutcomeError, returned as
// a *ToolError) are failures naming the outcome.
func RunnerTools(ru *tool.Runner) ToolCaller {
	return ToolFunc(func(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
		var fin tool.CallFinished
		got := false
		ru.Execute(ctx, []llm.ToolCall{{
			ID:       "rules_" + name,
			Type:     "function",
			Function: llm.FunctionCall{Name: name, Arguments: string(args)},
		}}, func(ev tool.Event) {
			if f, ok := ev.(tool.CallFinished); ok {
				fin, got = f, true
			}
		})
		if !got {
			return nil, fmt.Errorf("tool %s: %w", name, errNoResult)
		}
		// fin.Result is shared with the run's cache: copy it.
		res := json.RawMessage(append([]byte(nil), fin.Result...))
		switch fin.Outcome {
		case tool.OutcomeOK, tool.OutcomeCached:
			return res, nil
		case tool.OutcomeError:
			return nil, &ToolError{Tool: name, Body: res}
		}
		return nil, fmt.Errorf("tool %s: %s: %s", name, fin.Outcome, truncate(string(res), 200))
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

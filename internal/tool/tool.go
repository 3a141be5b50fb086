package tool

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Tool is one callable tool. Implementations are safe for concurrent use.
type Tool interface {
	// Decl returns the declaration offered to the model: name,
	// description and the JSON Schema of the arguments.
	Decl() llm.Tool
	// Call calls the tool with its arguments, a JSON object. A non-nil
	// error is a failure of the tool (transport error, time-out, 5xx, MCP
	// transport or protocol error); it counts against the tool's circuit
	// breaker, and the model is told the tool failed. An error matching
	// ErrInvalidArguments says no call was made because the arguments are
	// wrong; it does not count against the breaker.
	Call(ctx context.Context, args json.RawMessage) (Result, error)
}

// Result is what a tool answered.
type Result struct {
	// Content is the tool's answer: JSON when the tool returned JSON,
	// else text.
	Content []byte
	// IsError marks a domain error the model should see and act on (an
	// HTTP 404 "order not found", an MCP result with isError); it is NOT a
	// failure of the tool and does not count against its breaker.
	IsError bool
	// Truncated reports that the tool cut Content at its own size cap
	// (HTTPConfig.MaxResponseBytes); the Runner marks such results as
	// truncated in their envelope.
	Truncated bool
}

// Sentinel errors callers branch on.
var (
	// ErrInvalidArguments is matched by the errors of calls refused
	// because the arguments are not valid JSON, do not fit the tool's
	// schema, or lack a value a URL template needs. The error's text says
	// what is wrong, for the model to fix.
	ErrInvalidArguments = errors.New("invalid arguments")
	// ErrTimeout is matched by the errors of calls that ran out of the
	// tool's own time-out.
	ErrTimeout = errors.New("the tool timed out")
	// ErrUnavailable is matched by the errors of calls to an MCP server
	// that cannot be reached now (connecting failed; the next attempt
	// waits for a back-off).
	ErrUnavailable = errors.New("the tool's server is unavailable")
	// ErrClosed is returned by MCP tools after the MCP manager's Run has
	// ended.
	ErrClosed = errors.New("tool: MCP manager closed")
)

// ArgumentsError is the error of a call refused for its arguments. It
// matches ErrInvalidArguments.
type ArgumentsError struct {
	// Msg says what is wrong with the arguments, in words the model can
	// act on.
	Msg string
}

// Error implements error.
func (e *ArgumentsError) Error() string { return "invalid arguments: " + e.Msg }

// Is reports whether target is ErrInvalidArguments.
func (e *ArgumentsError) Is(target error) bool { return target == ErrInvalidArguments }

func argsErr(msg string) error { return &ArgumentsError{Msg: msg} }

// Outcome is how one tool call of a run ended; its string is a metric
// label.
type Outcome string

// Outcomes of a tool call.
const (
	OutcomeOK          Outcome = "ok"           // the tool answered
	OutcomeError       Outcome = "error"        // the tool answered with a domain error (Result.IsError)
	OutcomeFailed      Outcome = "failed"       // the tool failed (transport, 5xx, protocol, panic, unavailable)
	OutcomeInvalid     Outcome = "invalid"      // the arguments were invalid; nothing was called
	OutcomeUnknown     Outcome = "unknown"      // the run has no tool of that name
	OutcomeBreakerOpen Outcome = "breaker_open" // the tool's breaker refused the call
	OutcomeTimeout     Outcome = "timeout"      // the tool or the run ran out of time
	OutcomeBudget      Outcome = "budget"       // refused: the run's call budget was spent
	OutcomeCached      Outcome = "cached"       // answered from the run-local cache
)

// Observer is told about tool calls and breaker state changes, for
// metrics. Implementations must be safe for concurrent use and must not
// block: BreakerState is called while the breaker holds its lock.
type Observer interface {
	// ToolCall reports one call of a run: the tool's name, its outcome
	// and how long the tool took (0 when it was not called).
	ToolCall(tool, outcome string, d time.Duration)
	// BreakerState reports that the tool's breaker moved to state
	// (StateClosed, StateOpen or StateHalfOpen).
	BreakerState(tool, state string)
}

// Breaker states, as reported to an Observer and by Registry.BreakerState.
const (
	StateClosed   = "closed"
	StateOpen     = "open"
	StateHalfOpen = "half_open"
)

type nopObserver struct{}

func (nopObserver) ToolCall(string, string, time.Duration) {}
func (nopObserver) BreakerState(string, string)            {}

// decl builds a function declaration.
func decl(name, description string, params json.RawMessage) llm.Tool {
	return llm.Tool{Type: "function", Function: llm.FunctionDecl{Name: name, Description: description, Parameters: params}}
}

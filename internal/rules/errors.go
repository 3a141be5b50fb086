package rules

import (
	"errors"
	"strings"
)

// ErrNoAnswer is matched by every *NoAnswer: the rules engine has no
// answer to the message, and the ladder moves to its next rung.
var ErrNoAnswer = errors.New("rules: no answer")

// Reason says why the rules engine gave no answer; its string is a metric
// label.
type Reason string

// Reasons for a NoAnswer.
const (
	// ReasonNoMatch: no rule matched the message, or none whose When held.
	ReasonNoMatch Reason = "no_match"
	// ReasonMissingArg: a required argument was missing and the rule has
	// no Missing text.
	ReasonMissingArg Reason = "missing_argument"
	// ReasonToolFailed: the tool failed (transport, time-out, open
	// breaker, spent budget, unknown tool) or answered what is not JSON.
	ReasonToolFailed Reason = "tool_failed"
	// ReasonToolError: the tool answered with a domain error and no
	// ToolError answer of the rule applies.
	ReasonToolError Reason = "tool_error"
	// ReasonNoVariant: no answer of the rule had a When that held.
	ReasonNoVariant Reason = "no_variant"
	// ReasonEval: an expression failed at run time.
	ReasonEval Reason = "eval_failed"
	// ReasonRender: a template failed (a missing key, say) or rendered an
	// empty or oversized answer.
	ReasonRender Reason = "render_failed"
)

// NoAnswer is the error of a message the rules engine does not answer. It
// matches ErrNoAnswer.
type NoAnswer struct {
	Reason Reason
	// Rule is the rule that was chosen; "" for ReasonNoMatch.
	Rule string
	// Args are the arguments extracted before the failure, if any.
	Args map[string]string
	// Missing names the required arguments that were missing.
	Missing []string
	// Err is the cause, if any (the tool's error, the expression's).
	Err error
}

// Error implements error.
func (e *NoAnswer) Error() string {
	var b strings.Builder
	b.WriteString("rules: no answer: ")
	b.WriteString(string(e.Reason))
	if e.Rule != "" {
		b.WriteString(" (rule ")
		b.WriteString(e.Rule)
		b.WriteString(")")
	}
	if len(e.Missing) > 0 {
		b.WriteString(": missing ")
		b.WriteString(strings.Join(e.Missing, ", "))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is ErrNoAnswer.
func (e *NoAnswer) Is(target error) bool { return target == ErrNoAnswer }

// Unwrap returns the cause.
func (e *NoAnswer) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of a *NoAnswer in err's chain, or "".
func ReasonOf(err error) Reason {
	var na *NoAnswer
	if errors.As(err, &na) {
		return na.Reason
	}
	return ""
}

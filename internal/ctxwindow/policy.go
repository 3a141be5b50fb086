package ctxwindow

import (
	"errors"
	"fmt"
	"regexp"
)

// Defaults of a Policy, applied by Policy.Normalize to zero fields.
const (
	// DefaultRecentTurns is how many of the newest turns a window holds:
	// the post-mortem's "last 10 turns in full".
	DefaultRecentTurns = 10
	// DefaultMaxTokens is the prompt budget of one model call.
	DefaultMaxTokens = 3000
	// DefaultSummaryTokens caps the running summary.
	DefaultSummaryTokens = 500
	// DefaultContextLimit is the model's context window: 128k tokens, as
	// gpt-4o, gpt-4o-mini and floodgate's simulated models have.
	DefaultContextLimit = 128_000
	// DefaultReplyTokens is the part of the context window kept free for
	// the reply.
	DefaultReplyTokens = 4096
	// DefaultMaxPendingTurns bounds the un-summarised turns a request
	// loads when summaries lag behind.
	DefaultMaxPendingTurns = 50
	// DefaultMaxFacts bounds a session's pinned facts.
	DefaultMaxFacts = 64
)

// ErrInvalidPolicy is wrapped by the errors of Policy.Normalize and New.
var ErrInvalidPolicy = errors.New("ctxwindow: invalid policy")

// Policy is an agent's context-window policy. Zero values mean the
// documented defaults; Normalize fills them in and validates the rest.
type Policy struct {
	// RecentTurns is the most stored turns a model call sees, newest
	// first. Zero means DefaultRecentTurns (10).
	RecentTurns int
	// MaxTokens is the soft prompt budget of one model call: system prompt,
	// facts, summary, tools, history and the turn so far. History turns
	// are shortened (their tool calls left out) and then dropped, oldest
	// first, to stay within it. Zero means DefaultMaxTokens (3000); it is
	// lowered to ContextLimit-ReplyTokens when above.
	MaxTokens int
	// SummaryTokens caps the running summary. Zero means
	// DefaultSummaryTokens (500).
	SummaryTokens int
	// ContextLimit is the model's context window in tokens. No request is
	// built over ContextLimit-ReplyTokens, whatever it holds: the turn so
	// far loses its oldest tool calls first, and a turn that cannot fit
	// fails with ErrTooLarge. Zero means DefaultContextLimit (128,000).
	ContextLimit int
	// ReplyTokens is kept free for the reply. Zero means
	// DefaultReplyTokens (4096).
	ReplyTokens int
	// MaxPendingTurns bounds the turns after the summary that a request
	// loads: all of them while summaries keep up, the newest
	// MaxPendingTurns when they lag. At least RecentTurns. Zero means
	// DefaultMaxPendingTurns (50).
	MaxPendingTurns int
	// Facts configures pinned facts.
	Facts FactsPolicy
}

// FactsPolicy says which facts a session pins and how many.
type FactsPolicy struct {
	// Max bounds the pinned facts; the least recently mentioned go first.
	// Zero means DefaultMaxFacts (64).
	Max int
	// Builtins are the built-in extractors run over user messages, by
	// kind (see BuiltinKinds). Nil means all of them; an empty, non-nil
	// slice none.
	Builtins []string
	// Patterns are the agent's own extractors, run over user messages
	// before the built-ins, so that their matches are not also taken for,
	// say, order numbers.
	Patterns []Pattern
	// ToolFields are the fields of tool results whose values are pinned.
	// Nil means DefaultToolFields; an empty, non-nil slice none.
	ToolFields []ToolField
}

// Pattern extracts facts of one kind with a regular expression (RE2
// syntax). The fact is the first capturing group when the expression has
// one, else the whole match.
type Pattern struct {
	Kind   string
	Regexp string
}

// ToolField pins the values of a field of tool results. Field is a JSON
// object key, matched at any depth of the result's data; string and
// number values are pinned, and a number of an amount kind (KindAmount or
// a kind ending in "_amount") whose object also has a string "currency" is
// pinned as "<number> <currency>".
type ToolField struct {
	Field string
	Kind  string
}

// Built-in fact kinds.
const (
	KindOrder    = "order_number"
	KindTracking = "tracking_number"
	KindAmount   = "amount"
	KindDate     = "date"
	KindEmail    = "email"
	KindPhone    = "phone"
	KindSKU      = "sku"
	KindReturn   = "return_number"
)

// BuiltinKinds returns the kinds of the built-in extractors, in the order
// they claim text: a span taken by one is not seen by the next.
func BuiltinKinds() []string {
	return []string{KindEmail, KindDate, KindAmount, KindSKU, KindTracking, KindPhone, KindOrder}
}

// DefaultToolFields are the tool-result fields pinned by default: the
// identifiers and the refund a customer may ask about later.
func DefaultToolFields() []ToolField {
	return []ToolField{
		{Field: "order_id", Kind: KindOrder},
		{Field: "order_number", Kind: KindOrder},
		{Field: "tracking_number", Kind: KindTracking},
		{Field: "return_id", Kind: KindReturn},
		{Field: "refund_amount", Kind: KindAmount},
	}
}

// kindRE is what a fact kind may look like.
var kindRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Normalize returns p with its defaults filled in, or an error wrapping
// ErrInvalidPolicy.
func (p Policy) Normalize() (Policy, error) {
	switch {
	case p.RecentTurns < 0, p.MaxTokens < 0, p.SummaryTokens < 0, p.ContextLimit < 0,
		p.ReplyTokens < 0, p.MaxPendingTurns < 0, p.Facts.Max < 0:
		return p, fmt.Errorf("%w: negative setting", ErrInvalidPolicy)
	}
	def(&p.RecentTurns, DefaultRecentTurns)
	def(&p.MaxTokens, DefaultMaxTokens)
	def(&p.SummaryTokens, DefaultSummaryTokens)
	def(&p.ContextLimit, DefaultContextLimit)
	def(&p.ReplyTokens, min(DefaultReplyTokens, p.ContextLimit/4))
	def(&p.MaxPendingTurns, max(DefaultMaxPendingTurns, p.RecentTurns))
	def(&p.Facts.Max, DefaultMaxFacts)
	if p.ReplyTokens >= p.ContextLimit {
		return p, fmt.Errorf("%w: reply_tokens (%d) leave nothing of context_limit (%d)", ErrInvalidPolicy, p.ReplyTokens, p.ContextLimit)
	}
	p.MaxTokens = min(p.MaxTokens, p.hardLimit())
	if p.MaxPendingTurns < p.RecentTurns {
		return p, fmt.Errorf("%w: max_pending_turns (%d) below recent_turns (%d)", ErrInvalidPolicy, p.MaxPendingTurns, p.RecentTurns)
	}
	if p.SummaryTokens > p.MaxTokens {
		return p, fmt.Errorf("%w: summary_tokens (%d) above the prompt budget (%d)", ErrInvalidPolicy, p.SummaryTokens, p.MaxTokens)
	}
	if p.Facts.Builtins != nil {
		p.Facts.Builtins = append([]string{}, p.Facts.Builtins...)
	}
	for _, k := range p.Facts.Builtins {
		if !isBuiltin(k) {
			return p, fmt.Errorf("%w: unknown built-in fact kind %q", ErrInvalidPolicy, k)
		}
	}
	if p.Facts.Patterns != nil {
		p.Facts.Patterns = append([]Pattern{}, p.Facts.Patterns...)
	}
	for i, pt := range p.Facts.Patterns {
		if !kindRE.MatchString(pt.Kind) {
			return p, fmt.Errorf("%w: patterns[%d]: kind %q: want [a-z][a-z0-9_]{0,31}", ErrInvalidPolicy, i, pt.Kind)
		}
		re, err := regexp.Compile(pt.Regexp)
		if err != nil {
			return p, fmt.Errorf("%w: patterns[%d]: %w", ErrInvalidPolicy, i, err)
		}
		if re.MatchString("") {
			return p, fmt.Errorf("%w: patterns[%d]: %q matches the empty string", ErrInvalidPolicy, i, pt.Regexp)
		}
	}
	if p.Facts.ToolFields == nil {
		p.Facts.ToolFields = DefaultToolFields()
	} else {
		p.Facts.ToolFields = append([]ToolField{}, p.Facts.ToolFields...)
	}
	for i, f := range p.Facts.ToolFields {
		if f.Field == "" || !kindRE.MatchString(f.Kind) {
			return p, fmt.Errorf("%w: tool_fields[%d]: want a field and a kind of [a-z][a-z0-9_]{0,31}", ErrInvalidPolicy, i)
		}
	}
	return p, nil
}

// hardLimit is the most prompt tokens a request may carry.
func (p *Policy) hardLimit() int { return p.ContextLimit - p.ReplyTokens }

func isBuiltin(k string) bool {
	for _, b := range BuiltinKinds() {
		if b == k {
			return true
		}
	}
	return false
}

func def(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

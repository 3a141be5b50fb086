package ctxwindow

import (
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/tokenizer"
)

// Counter counts prompt tokens; *tokenizer.Counter satisfies it. Its
// counts must be those the model bills: the window is only as exact as
// they are.
type Counter interface {
	// Count returns the tokens of a text.
	Count(text string) int
	// CountMessage returns one message's tokens, framing included.
	CountMessage(m *llm.Message) int
	// CountTools returns what tool declarations add to a prompt.
	CountTools(tools []llm.Tool) int
}

// primingTokens prime every reply (OpenAI's counting recipe, as
// tokenizer.CountMessages counts them).
const primingTokens = 3

// CounterFor returns the token counter for a model: tiktoken's o200k_base
// or cl100k_base for OpenAI families (and the sim's models), cl100k_base
// as a documented approximation for other families (see package
// tokenizer). Counts are cached per text process-wide, so a message seen
// before costs a hash of its bytes, not a tokenisation: a turn costs
// O(new tokens), not O(history).
func CounterFor(model string) Counter { return tokenizer.For(model) }

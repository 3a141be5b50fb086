package llm

import (
	"bytes"
	"encoding/json"
	"reflect"
)

var (
	contentType    = reflect.TypeFor[Content]()
	stopType       = reflect.TypeFor[Stop]()
	toolChoiceType = reflect.TypeFor[ToolChoice]()
)

// Request is a chat-completion request in the OpenAI wire format. The
// gateway decodes it from the client (dropping unknown fields), normalises
// it, and the same value travels through the router to a provider, which
// rewrites Model to the endpoint's own model name and encodes it upstream.
//
// Optional numbers are pointers so that "not set" is distinguishable from 0
// and an unset field is not sent upstream.
type Request struct {
	Model    string    `json:"model"`
	Messages []Message `json:"messages"`

	Tools             []Tool     `json:"tools,omitempty"`
	ToolChoice        ToolChoice `json:"tool_choice,omitzero"`
	ParallelToolCalls *bool      `json:"parallel_tool_calls,omitempty"`

	// MaxTokens is the cap on generated tokens. The gateway folds the
	// deprecated max_tokens into max_completion_tokens, which is what is sent.
	MaxTokens           *int `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int `json:"max_completion_tokens,omitempty"`

	Temperature      *float64           `json:"temperature,omitempty"`
	TopP             *float64           `json:"top_p,omitempty"`
	N                *int               `json:"n,omitempty"`
	Stop             Stop               `json:"stop,omitzero"`
	PresencePenalty  *float64           `json:"presence_penalty,omitempty"`
	FrequencyPenalty *float64           `json:"frequency_penalty,omitempty"`
	LogitBias        map[string]float64 `json:"logit_bias,omitempty"`
	Logprobs         *bool              `json:"logprobs,omitempty"`
	TopLogprobs      *int               `json:"top_logprobs,omitempty"`
	Seed             *int64             `json:"seed,omitempty"`
	ResponseFormat   json.RawMessage    `json:"response_format,omitempty"`
	ReasoningEffort  string             `json:"reasoning_effort,omitempty"`
	ServiceTier      string             `json:"service_tier,omitempty"`
	User             string             `json:"user,omitempty"`
	Metadata         map[string]string  `json:"metadata,omitempty"`
	Store            *bool              `json:"store,omitempty"`

	Stream        bool           `json:"stream,omitempty"`
	StreamOptions *StreamOptions `json:"stream_options,omitempty"`
}

// StreamOptions are the options of a streamed request.
type StreamOptions struct {
	// IncludeUsage asks for a last chunk, with no choices, carrying usage.
	IncludeUsage bool `json:"include_usage"`
}

// WantsUsageChunk reports whether a streamed request asked for usage.
func (r *Request) WantsUsageChunk() bool {
	return r.StreamOptions != nil && r.StreamOptions.IncludeUsage
}

// MaxOutputTokens returns the effective cap on generated tokens, or 0 when
// none was set.
func (r *Request) MaxOutputTokens() int {
	switch {
	case r.MaxCompletionTokens != nil:
		return *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		return *r.MaxTokens
	}
	return 0
}

// LastUserText returns the text of the last user message, or "".
func (r *Request) LastUserText() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == RoleUser {
			return r.Messages[i].Content.String()
		}
	}
	return ""
}

// Clone returns a copy of r that can be modified (model, messages slice,
// parameters) without affecting r. Messages themselves are shared, not
// deep-copied: callers replace elements rather than mutate them.
func (r *Request) Clone() *Request {
	c := *r
	c.Messages = append([]Message(nil), r.Messages...)
	return &c
}

// Stop is the stop sequences: a single string or a list on the wire.
type Stop struct {
	Seqs []string
	// single records that the wire value was a string.
	single bool
}

// IsZero reports whether no stop sequence was given.
func (s Stop) IsZero() bool { return s.Seqs == nil }

// MarshalJSON writes the shape it was decoded from.
func (s Stop) MarshalJSON() ([]byte, error) {
	if s.single && len(s.Seqs) == 1 {
		return json.Marshal(s.Seqs[0])
	}
	return json.Marshal(s.Seqs)
}

// UnmarshalJSON accepts a string, a list of strings, or null.
func (s *Stop) UnmarshalJSON(b []byte) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return &json.UnmarshalTypeError{Value: "empty", Type: stopType}
	}
	switch b[0] {
	case 'n':
		*s = Stop{}
		return nil
	case '"':
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = Stop{Seqs: []string{one}, single: true}
		return nil
	case '[':
		var many []string
		if err := json.Unmarshal(b, &many); err != nil {
			return err
		}
		if many == nil {
			many = []string{}
		}
		*s = Stop{Seqs: many}
		return nil
	}
	return &json.UnmarshalTypeError{Value: "stop", Type: stopType}
}

// Tool choice modes.
const (
	ToolChoiceNone     = "none"
	ToolChoiceAuto     = "auto"
	ToolChoiceRequired = "required"
)

// ToolChoice says whether and which tool the model must call: a mode
// ("none", "auto", "required") or a named function.
type ToolChoice struct {
	Mode     string // set when the wire value was a string
	Function string // set when the wire value named a function
}

// IsZero reports whether no tool choice was given.
func (t ToolChoice) IsZero() bool { return t.Mode == "" && t.Function == "" }

type namedToolChoice struct {
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

// MarshalJSON writes a mode string or a named-function object.
func (t ToolChoice) MarshalJSON() ([]byte, error) {
	if t.Function != "" {
		var n namedToolChoice
		n.Type = "function"
		n.Function.Name = t.Function
		return json.Marshal(n)
	}
	return json.Marshal(t.Mode)
}

// UnmarshalJSON accepts a mode string, a named-function object, or null.
func (t *ToolChoice) UnmarshalJSON(b []byte) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return &json.UnmarshalTypeError{Value: "empty", Type: toolChoiceType}
	}
	switch b[0] {
	case 'n':
		*t = ToolChoice{}
		return nil
	case '"':
		var mode string
		if err := json.Unmarshal(b, &mode); err != nil {
			return err
		}
		*t = ToolChoice{Mode: mode}
		return nil
	case '{':
		var n namedToolChoice
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*t = ToolChoice{Function: n.Function.Name}
		return nil
	}
	return &json.UnmarshalTypeError{Value: "tool_choice", Type: toolChoiceType}
}

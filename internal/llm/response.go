package llm

import (
	"encoding/json"
	"io"
)

// Object names on the wire.
const (
	ObjectChatCompletion      = "chat.completion"
	ObjectChatCompletionChunk = "chat.completion.chunk"
)

// Finish reasons.
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishToolCalls     = "tool_calls"
	FinishContentFilter = "content_filter"
)

// Response is a complete (non-streamed) chat completion.
type Response struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`
	ServiceTier       string   `json:"service_tier,omitempty"`
}

// Choice is one generated alternative of a Response.
type Choice struct {
	Index        int             `json:"index"`
	Message      Message         `json:"message"`
	FinishReason string          `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
}

// Usage counts the tokens of one completion.
type Usage struct {
	PromptTokens            int                      `json:"prompt_tokens"`
	CompletionTokens        int                      `json:"completion_tokens"`
	TotalTokens             int                      `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

// PromptTokensDetails breaks prompt tokens down.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
	AudioTokens  int `json:"audio_tokens,omitempty"`
}

// CompletionTokensDetails breaks completion tokens down.
type CompletionTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
	AudioTokens     int `json:"audio_tokens,omitempty"`
}

// CachedTokens returns the cached prompt tokens, or 0.
func (u *Usage) CachedTokens() int {
	if u == nil || u.PromptTokensDetails == nil {
		return 0
	}
	return u.PromptTokensDetails.CachedTokens
}

// Chunk is one server-sent event of a streamed completion. The last chunk
// of a stream that asked for usage has no choices and a Usage.
type Chunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	Choices           []ChunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`
	SystemFingerprint string        `json:"system_fingerprint,omitempty"`
	ServiceTier       string        `json:"service_tier,omitempty"`
}

// ChunkChoice is the delta of one alternative in a Chunk.
type ChunkChoice struct {
	Index        int             `json:"index"`
	Delta        Delta           `json:"delta"`
	FinishReason FinishReason    `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
}

// FinishReason is a chunk's finish reason; empty is written as null, as the
// OpenAI API does until the last chunk of a choice.
type FinishReason string

// MarshalJSON writes null for the empty reason.
func (f FinishReason) MarshalJSON() ([]byte, error) {
	if f == "" {
		return jsonNull, nil
	}
	return json.Marshal(string(f))
}

// UnmarshalJSON accepts a string or null.
func (f *FinishReason) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*f = FinishReason(s)
	return nil
}

// Delta is the increment of a message carried by a chunk.
type Delta struct {
	Role      string          `json:"role,omitempty"`
	Content   string          `json:"content,omitempty"`
	Refusal   string          `json:"refusal,omitempty"`
	ToolCalls []ToolCallDelta `json:"tool_calls,omitempty"`
}

// ToolCallDelta is the increment of one tool call: the first delta of a call
// carries its ID, type and name; later ones append to the arguments.
type ToolCallDelta struct {
	Index    int               `json:"index"`
	ID       string            `json:"id,omitempty"`
	Type     string            `json:"type,omitempty"`
	Function FunctionCallDelta `json:"function"`
}

// FunctionCallDelta is the increment of a function call.
type FunctionCallDelta struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Stream is a streamed completion being received. Recv returns the next
// chunk, io.EOF after the last one, or an error (an *Error when the stream
// broke). Close releases the connection and may be called at any time, more
// than once, from the goroutine that calls Recv. A Stream is not safe for
// concurrent use.
type Stream interface {
	Recv() (*Chunk, error)
	Close() error
}

// Accumulate collects a stream into the Response it stands for, closing the
// stream. It is how a caller that needs the whole answer consumes a stream.
func Accumulate(s Stream) (*Response, error) {
	defer s.Close()
	var acc Accumulator
	for {
		c, err := s.Recv()
		if err == io.EOF {
			return acc.Response(), nil
		}
		if err != nil {
			return nil, err
		}
		acc.Add(c)
	}
}

// Accumulator folds chunks into a Response. The zero value is ready to use.
type Accumulator struct {
	resp    Response
	started bool
}

// Add folds one chunk in.
func (a *Accumulator) Add(c *Chunk) {
	if !a.started {
		a.started = true
		a.resp.ID, a.resp.Created, a.resp.Model = c.ID, c.Created, c.Model
		a.resp.Object = ObjectChatCompletion
		a.resp.SystemFingerprint = c.SystemFingerprint
		a.resp.ServiceTier = c.ServiceTier
	}
	if c.Usage != nil {
		u := *c.Usage
		a.resp.Usage = &u
	}
	for _, cc := range c.Choices {
		for len(a.resp.Choices) <= cc.Index {
			a.resp.Choices = append(a.resp.Choices, Choice{Index: len(a.resp.Choices), Message: Message{Role: RoleAssistant}})
		}
		ch := &a.resp.Choices[cc.Index]
		if cc.Delta.Role != "" {
			ch.Message.Role = cc.Delta.Role
		}
		if cc.Delta.Content != "" {
			ch.Message.Content = Text(ch.Message.Content.Text + cc.Delta.Content)
		}
		ch.Message.Refusal += cc.Delta.Refusal
		for _, td := range cc.Delta.ToolCalls {
			for len(ch.Message.ToolCalls) <= td.Index {
				ch.Message.ToolCalls = append(ch.Message.ToolCalls, ToolCall{Type: "function"})
			}
			tc := &ch.Message.ToolCalls[td.Index]
			if td.ID != "" {
				tc.ID = td.ID
			}
			if td.Type != "" {
				tc.Type = td.Type
			}
			tc.Function.Name += td.Function.Name
			tc.Function.Arguments += td.Function.Arguments
		}
		if cc.FinishReason != "" {
			ch.FinishReason = string(cc.FinishReason)
		}
	}
}

// Response returns the response accumulated so far. It shares memory with
// the Accumulator.
func (a *Accumulator) Response() *Response {
	if a.resp.Choices == nil {
		a.resp.Choices = []Choice{}
	}
	return &a.resp
}

package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// Roles of a chat message.
const (
	RoleSystem    = "system"
	RoleDeveloper = "developer"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Message is one chat message. Content is absent (JSON null or missing) on an
// assistant message that only calls tools.
type Message struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content,omitzero"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	Refusal    string     `json:"refusal,omitempty"`
}

// Content is a message's content: either plain text or a list of parts
// (text, images, audio, files). It marshals back to the shape it was decoded
// from: a string when Parts is nil, an array otherwise, and it is omitted when
// it was absent or null on the wire.
type Content struct {
	// Text is the content when it was given as a string.
	Text string
	// Parts is the content when it was given as an array of parts.
	Parts []ContentPart
	// present records that the content was given, even as "" or [].
	present bool
}

// Text returns content holding s, present on the wire even when s is empty.
func Text(s string) Content { return Content{Text: s, present: true} }

// PartsContent returns content holding parts, written as an array.
func PartsContent(parts ...ContentPart) Content {
	if parts == nil {
		parts = []ContentPart{}
	}
	return Content{Parts: parts, present: true}
}

// IsZero reports whether the content is absent; absent content is omitted
// when marshalled.
func (c Content) IsZero() bool { return !c.present && c.Text == "" && c.Parts == nil }

// String returns the text of the content: Text, or the text parts joined
// with newlines.
func (c Content) String() string {
	if c.Parts == nil {
		return c.Text
	}
	var b strings.Builder
	for _, p := range c.Parts {
		if p.Type != PartText || p.Text == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.Text)
	}
	return b.String()
}

var jsonNull = []byte("null")

// MarshalJSON writes a string or an array of parts.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.Parts != nil {
		return json.Marshal(c.Parts)
	}
	return json.Marshal(c.Text)
}

// UnmarshalJSON accepts a string, an array of parts, or null.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	switch {
	case len(b) == 0:
		return errors.New("empty content")
	case b[0] == 'n':
		*c = Content{}
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = Text(s)
		return nil
	case b[0] == '[':
		var parts []ContentPart
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		*c = PartsContent(parts...)
		return nil
	default:
		return &json.UnmarshalTypeError{Value: "content", Type: contentType}
	}
}

// Content part types.
const (
	PartText       = "text"
	PartImageURL   = "image_url"
	PartInputAudio = "input_audio"
	PartFile       = "file"
	PartRefusal    = "refusal"
)

// ContentPart is one element of array content.
type ContentPart struct {
	Type       string      `json:"type"`
	Text       string      `json:"text,omitempty"`
	ImageURL   *ImageURL   `json:"image_url,omitempty"`
	InputAudio *InputAudio `json:"input_audio,omitempty"`
	File       *File       `json:"file,omitempty"`
	Refusal    string      `json:"refusal,omitempty"`
}

// ImageURL is an image given by URL or data URL.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// InputAudio is base64 audio input.
type InputAudio struct {
	Data   string `json:"data"`
	Format string `json:"format"`
}

// File is a file input, by id or inline data.
type File struct {
	FileID   string `json:"file_id,omitempty"`
	FileData string `json:"file_data,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// ToolCall is a call of a function tool made by the model.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"` // always "function"
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function and carries its arguments as a JSON text,
// exactly as the model produced them (they may be invalid JSON).
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Tool is a tool offered to the model.
type Tool struct {
	Type     string       `json:"type"` // always "function"
	Function FunctionDecl `json:"function"`
}

// MaxFunctionNameLen is OpenAI's limit on a function tool's name.
const MaxFunctionNameLen = 64

// ValidFunctionName reports whether s can name a function tool: OpenAI's
// rule, 1 to MaxFunctionNameLen of [A-Za-z0-9_-].
func ValidFunctionName(s string) bool {
	if len(s) == 0 || len(s) > MaxFunctionNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !FunctionNameByte(s[i]) {
			return false
		}
	}
	return true
}

// FunctionNameByte reports whether c may appear in a function tool's
// name.
func FunctionNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// FunctionDecl declares a function tool: its name, what it does and the
// JSON Schema of its arguments.
type FunctionDecl struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

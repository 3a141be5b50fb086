package gateway

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// This file encodes what the gateway writes per token: stream chunks, and
// whole responses. encoding/json spends ~60% of a streamed request's CPU in
// reflection over a Chunk; these appenders write the same bytes (the
// differential FuzzEncode checks it) several times faster and without
// allocating. The one quirk kept for byte-equality: llm.Content and
// llm.FinishReason marshal through json.Marshal, which escapes <, > and &,
// while plain strings are written as the gateway's encoder writes them,
// without that escaping.

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes written as they are inside a JSON string;
// htmlSafe further excludes <, > and &.
var jsonSafe, htmlSafe = func() (safe, html [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		safe[b] = b != '"' && b != '\\'
		html[b] = safe[b] && b != '<' && b != '>' && b != '&'
	}
	return safe, html
}()

// appendString appends s as a JSON string, as encoding/json does.
func appendString(dst []byte, s string, escapeHTML bool) []byte {
	safe := &jsonSafe
	if escapeHTML {
		safe = &htmlSafe
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			// Valid JSON, but they end lines in JavaScript.
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendKey appends ,"name": (or "name": first in an object).
func appendKey(dst []byte, name string) []byte {
	if c := dst[len(dst)-1]; c != '{' && c != '[' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

func appendStringField(dst []byte, name, v string) []byte {
	return appendString(appendKey(dst, name), v, false)
}

func appendOptString(dst []byte, name, v string) []byte {
	if v == "" {
		return dst
	}
	return appendStringField(dst, name, v)
}

func appendIntField(dst []byte, name string, v int64) []byte {
	return strconv.AppendInt(appendKey(dst, name), v, 10)
}

// appendRaw appends a json.RawMessage as encoding/json does: compacted, and
// refused when it is not valid JSON.
func appendRaw(dst []byte, name string, raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 {
		return dst, nil
	}
	buf := bytes.NewBuffer(appendKey(dst, name))
	if err := json.Compact(buf, raw); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

// appendChunk appends c as encoding/json would.
func appendChunk(dst []byte, c *llm.Chunk) ([]byte, error) {
	dst = append(dst, '{')
	dst = appendStringField(dst, "id", c.ID)
	dst = appendStringField(dst, "object", c.Object)
	dst = appendIntField(dst, "created", c.Created)
	dst = appendStringField(dst, "model", c.Model)
	dst = appendKey(dst, "choices")
	if c.Choices == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range c.Choices {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendChunkChoice(dst, &c.Choices[i]); err != nil {
				return dst, err
			}
		}
		dst = append(dst, ']')
	}
	if c.Usage != nil {
		dst = appendUsage(appendKey(dst, "usage"), c.Usage)
	}
	dst = appendOptString(dst, "system_fingerprint", c.SystemFingerprint)
	dst = appendOptString(dst, "service_tier", c.ServiceTier)
	return append(dst, '}'), nil
}

func appendChunkChoice(dst []byte, cc *llm.ChunkChoice) ([]byte, error) {
	dst = append(dst, '{')
	dst = appendIntField(dst, "index", int64(cc.Index))
	dst = appendKey(dst, "delta")
	dst = append(dst, '{')
	d := &cc.Delta
	dst = appendOptString(dst, "role", d.Role)
	dst = appendOptString(dst, "content", d.Content)
	dst = appendOptString(dst, "refusal", d.Refusal)
	if len(d.ToolCalls) > 0 {
		dst = appendKey(dst, "tool_calls")
		dst = append(dst, '[')
		for i := range d.ToolCalls {
			tc := &d.ToolCalls[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '{')
			dst = appendIntField(dst, "index", int64(tc.Index))
			dst = appendOptString(dst, "id", tc.ID)
			dst = appendOptString(dst, "type", tc.Type)
			dst = appendKey(dst, "function")
			dst = append(dst, '{')
			dst = appendOptString(dst, "name", tc.Function.Name)
			dst = appendStringField(dst, "arguments", tc.Function.Arguments)
			dst = append(dst, '}', '}')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, '}')
	dst = appendKey(dst, "finish_reason")
	if cc.FinishReason == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendString(dst, string(cc.FinishReason), true)
	}
	dst, err := appendRaw(dst, "logprobs", cc.Logprobs)
	return append(dst, '}'), err
}

func appendUsage(dst []byte, u *llm.Usage) []byte {
	dst = append(dst, '{')
	dst = appendIntField(dst, "prompt_tokens", int64(u.PromptTokens))
	dst = appendIntField(dst, "completion_tokens", int64(u.CompletionTokens))
	dst = appendIntField(dst, "total_tokens", int64(u.TotalTokens))
	if p := u.PromptTokensDetails; p != nil {
		dst = appendKey(dst, "prompt_tokens_details")
		dst = append(dst, '{')
		dst = appendIntField(dst, "cached_tokens", int64(p.CachedTokens))
		if p.AudioTokens != 0 {
			dst = appendIntField(dst, "audio_tokens", int64(p.AudioTokens))
		}
		dst = append(dst, '}')
	}
	if c := u.CompletionTokensDetails; c != nil {
		dst = appendKey(dst, "completion_tokens_details")
		dst = append(dst, '{')
		dst = appendIntField(dst, "reasoning_tokens", int64(c.ReasoningTokens))
		if c.AudioTokens != 0 {
			dst = appendIntField(dst, "audio_tokens", int64(c.AudioTokens))
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendResponse appends r as encoding/json would.
func appendResponse(dst []byte, r *llm.Response) ([]byte, error) {
	dst = append(dst, '{')
	dst = appendStringField(dst, "id", r.ID)
	dst = appendStringField(dst, "object", r.Object)
	dst = appendIntField(dst, "created", r.Created)
	dst = appendStringField(dst, "model", r.Model)
	dst = appendKey(dst, "choices")
	if r.Choices == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range r.Choices {
			ch := &r.Choices[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '{')
			dst = appendIntField(dst, "index", int64(ch.Index))
			var err error
			if dst, err = appendMessage(appendKey(dst, "message"), &ch.Message); err != nil {
				return dst, err
			}
			dst = appendStringField(dst, "finish_reason", ch.FinishReason)
			if dst, err = appendRaw(dst, "logprobs", ch.Logprobs); err != nil {
				return dst, err
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if r.Usage != nil {
		dst = appendUsage(appendKey(dst, "usage"), r.Usage)
	}
	dst = appendOptString(dst, "system_fingerprint", r.SystemFingerprint)
	dst = appendOptString(dst, "service_tier", r.ServiceTier)
	return append(dst, '}'), nil
}

func appendMessage(dst []byte, m *llm.Message) ([]byte, error) {
	dst = append(dst, '{')
	dst = appendStringField(dst, "role", m.Role)
	if !m.Content.IsZero() {
		dst = appendKey(dst, "content")
		if m.Content.Parts != nil {
			// Parts are rare in answers; reflection is fine there.
			b, err := json.Marshal(m.Content.Parts)
			if err != nil {
				return dst, err
			}
			dst = append(dst, b...)
		} else {
			dst = appendString(dst, m.Content.Text, true)
		}
	}
	dst = appendOptString(dst, "name", m.Name)
	if len(m.ToolCalls) > 0 {
		dst = appendKey(dst, "tool_calls")
		dst = append(dst, '[')
		for i := range m.ToolCalls {
			tc := &m.ToolCalls[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '{')
			dst = appendStringField(dst, "id", tc.ID)
			dst = appendStringField(dst, "type", tc.Type)
			dst = appendKey(dst, "function")
			dst = append(dst, '{')
			dst = appendStringField(dst, "name", tc.Function.Name)
			dst = appendStringField(dst, "arguments", tc.Function.Arguments)
			dst = append(dst, '}', '}')
		}
		dst = append(dst, ']')
	}
	dst = appendOptString(dst, "tool_call_id", m.ToolCallID)
	dst = appendOptString(dst, "refusal", m.Refusal)
	return append(dst, '}'), nil
}

// appendErrorBody appends OpenAI's error shape as encoding/json would.
func appendErrorBody(dst []byte, b llm.ErrorBody) []byte {
	dst = append(dst, `{"error":{`...)
	d := &b.Error
	dst = appendStringField(dst, "message", d.Message)
	dst = appendStringField(dst, "type", d.Type)
	for _, f := range [...]struct {
		name string
		v    *string
	}{{"param", d.Param}, {"code", d.Code}} {
		dst = appendKey(dst, f.name)
		if f.v == nil {
			dst = append(dst, "null"...)
		} else {
			dst = appendString(dst, *f.v, false)
		}
	}
	return append(dst, '}', '}')
}

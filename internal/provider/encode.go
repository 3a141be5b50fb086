package provider

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// appendRequest appends req as encoding/json's Encoder (HTML escaping off)
// writes a streamWire or completeWire, newline included, without
// reflection: encoding/json spends ~650 ns and 3 allocations per message
// (each message's content goes through its own json.Marshal), which for
// agent conversations of 20 messages is the provider's largest cost.
//
// The output is byte-identical to encoding/json's (FuzzAppendRequest checks
// this). It declines (false) what it does not reproduce exactly — content
// given as parts, logit_bias and metadata maps, NaN and infinite numbers,
// invalid raw JSON — and the caller encodes with encoding/json, which also
// produces the error for an unencodable request.
func appendRequest(b []byte, req *llm.Request, stream bool) ([]byte, bool) {
	if len(req.LogitBias) > 0 || len(req.Metadata) > 0 {
		return b, false
	}
	ok := true
	b = append(b, `{"model":`...)
	b = appendString(b, req.Model, false)
	b = append(b, `,"messages":`...)
	if req.Messages == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range req.Messages {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendMessage(b, &req.Messages[i]); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	if len(req.Tools) > 0 {
		b = append(b, `,"tools":[`...)
		for i := range req.Tools {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendTool(b, &req.Tools[i]); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	if !req.ToolChoice.IsZero() {
		b = append(b, `,"tool_choice":`...)
		if req.ToolChoice.Function != "" {
			b = append(b, `{"type":"function","function":{"name":`...)
			b = appendString(b, req.ToolChoice.Function, true)
			b = append(b, "}}"...)
		} else {
			b = appendString(b, req.ToolChoice.Mode, true)
		}
	}
	b = appendBool(b, `,"parallel_tool_calls":`, req.ParallelToolCalls)
	b = appendInt(b, `,"max_tokens":`, req.MaxTokens)
	b = appendInt(b, `,"max_completion_tokens":`, req.MaxCompletionTokens)
	if b, ok = appendFloat(b, `,"temperature":`, req.Temperature); !ok {
		return b, false
	}
	if b, ok = appendFloat(b, `,"top_p":`, req.TopP); !ok {
		return b, false
	}
	b = appendInt(b, `,"n":`, req.N)
	if !req.Stop.IsZero() {
		stop, err := req.Stop.MarshalJSON() // its single/list shape is unexported
		if err != nil {
			return b, false
		}
		b = append(b, `,"stop":`...)
		b = append(b, stop...)
	}
	if b, ok = appendFloat(b, `,"presence_penalty":`, req.PresencePenalty); !ok {
		return b, false
	}
	if b, ok = appendFloat(b, `,"frequency_penalty":`, req.FrequencyPenalty); !ok {
		return b, false
	}
	b = appendBool(b, `,"logprobs":`, req.Logprobs)
	b = appendInt(b, `,"top_logprobs":`, req.TopLogprobs)
	if req.Seed != nil {
		b = append(b, `,"seed":`...)
		b = strconv.AppendInt(b, *req.Seed, 10)
	}
	if len(req.ResponseFormat) > 0 {
		b = append(b, `,"response_format":`...)
		if b, ok = appendRaw(b, req.ResponseFormat); !ok {
			return b, false
		}
	}
	b = appendNonEmpty(b, `,"reasoning_effort":`, req.ReasoningEffort)
	b = appendNonEmpty(b, `,"service_tier":`, req.ServiceTier)
	b = appendNonEmpty(b, `,"user":`, req.User)
	b = appendBool(b, `,"store":`, req.Store)
	if stream {
		b = append(b, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	return append(b, "}\n"...), true
}

func appendMessage(b []byte, m *llm.Message) ([]byte, bool) {
	b = append(b, `{"role":`...)
	b = appendString(b, m.Role, false)
	if !m.Content.IsZero() {
		if m.Content.Parts != nil {
			return b, false
		}
		// Content marshals itself with json.Marshal, which escapes HTML.
		b = append(b, `,"content":`...)
		b = appendString(b, m.Content.Text, true)
	}
	b = appendNonEmpty(b, `,"name":`, m.Name)
	if len(m.ToolCalls) > 0 {
		b = append(b, `,"tool_calls":[`...)
		for i := range m.ToolCalls {
			tc := &m.ToolCalls[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendString(b, tc.ID, false)
			b = append(b, `,"type":`...)
			b = appendString(b, tc.Type, false)
			b = append(b, `,"function":{"name":`...)
			b = appendString(b, tc.Function.Name, false)
			b = append(b, `,"arguments":`...)
			b = appendString(b, tc.Function.Arguments, false)
			b = append(b, "}}"...)
		}
		b = append(b, ']')
	}
	b = appendNonEmpty(b, `,"tool_call_id":`, m.ToolCallID)
	b = appendNonEmpty(b, `,"refusal":`, m.Refusal)
	return append(b, '}'), true
}

func appendTool(b []byte, t *llm.Tool) ([]byte, bool) {
	b = append(b, `{"type":`...)
	b = appendString(b, t.Type, false)
	b = append(b, `,"function":{"name":`...)
	b = appendString(b, t.Function.Name, false)
	b = appendNonEmpty(b, `,"description":`, t.Function.Description)
	if len(t.Function.Parameters) > 0 {
		var ok bool
		b = append(b, `,"parameters":`...)
		if b, ok = appendRaw(b, t.Function.Parameters); !ok {
			return b, false
		}
	}
	b = appendBool(b, `,"strict":`, t.Function.Strict)
	return append(b, "}}"...), true
}

func appendNonEmpty(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s, false)
}

func appendBool(b []byte, key string, v *bool) []byte {
	if v == nil {
		return b
	}
	return strconv.AppendBool(append(b, key...), *v)
}

func appendInt(b []byte, key string, v *int) []byte {
	if v == nil {
		return b
	}
	return strconv.AppendInt(append(b, key...), int64(*v), 10)
}

// appendFloat writes a float64 as encoding/json does: %f-style, or
// exponent form (with a one-digit negative exponent cleaned up) outside
// [1e-6, 1e21).
func appendFloat(b []byte, key string, v *float64) ([]byte, bool) {
	if v == nil {
		return b, true
	}
	f := *v
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	b = append(b, key...)
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendRaw writes raw JSON compacted, as encoding/json does with a
// json.RawMessage; invalid JSON is declined.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, bool) {
	if isCompactJSON(raw) { // the common case: copy without re-validating twice
		return append(b, raw...), true
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return b, false
	}
	return append(b, buf.Bytes()...), true
}

// isCompactJSON reports whether raw is valid JSON with no whitespace
// outside strings, which json.Compact would leave as is.
func isCompactJSON(raw []byte) bool {
	if !json.Valid(raw) {
		return false
	}
	inString, escaped := false, false
	for _, c := range raw {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// jsonSafe and htmlSafe mark the ASCII bytes a JSON string holds as they
// are, without and with HTML escaping.
var jsonSafe, htmlSafe = func() (j, h [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		j[c] = c != '"' && c != '\\'
		h[c] = j[c] && c != '<' && c != '>' && c != '&'
	}
	return j, h
}()

// appendString writes s as a JSON string exactly as encoding/json does:
// invalid UTF-8 becomes \ufffd, U+2028 and U+2029 are escaped, and with
// html so are <, > and &.
func appendString(b []byte, s string, html bool) []byte {
	b = append(b, '"')
	safe := &jsonSafe
	if html {
		safe = &htmlSafe
	}
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

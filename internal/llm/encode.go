package llm

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// This file writes the wire types as encoding/json writes them through an
// Encoder with HTML escaping turned off (prompts hold <, > and & often, and
// escaping only grows them), without the Encoder's trailing newline. The
// output is byte-identical (FuzzAppendRequest and FuzzAppendChunk check
// it), quirks included: Content, Stop, ToolChoice and a non-empty
// FinishReason marshal themselves through json.Marshal, which does escape
// <, > and &, and the Encoder keeps those escapes; raw JSON values are
// compacted. The appenders only read their value and are safe for
// concurrent use; they allocate nothing but dst's growth (and a sorted key
// list for the rare logit_bias and metadata maps).

// errInvalidRaw is a json.RawMessage that is not valid JSON, which
// encoding/json refuses to write.
var errInvalidRaw = errors.New("raw value is not valid JSON")

// AppendString appends s as a JSON string, as encoding/json writes it with
// HTML escaping off: invalid UTF-8 becomes \ufffd, and U+2028 and U+2029 are
// escaped so that the output is also valid JavaScript. It is for writers of
// shapes of their own, such as the simulated provider's OpenAI-exact
// answers.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s, false) }

const hexDigits = "0123456789abcdef"

// htmlSafe is strPlain without <, > and &: the bytes written as they are
// inside a JSON string when HTML escaping is on.
var htmlSafe = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// appendString appends s as a JSON string, escaping <, > and & when html.
func appendString(dst []byte, s string, html bool) []byte {
	safe := &strPlain
	if html {
		safe = &htmlSafe
	}
	dst = append(dst, '"')
	start, i := 0, 0
	for {
		for i < len(s) && safe[s[i]] {
			i++
		}
		if i >= len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
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

// appendOpt appends key and s unless s is empty (an omitempty string).
func appendOpt(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s, false)
}

func appendOptBool(b []byte, key string, v *bool) []byte {
	if v == nil {
		return b
	}
	return strconv.AppendBool(append(b, key...), *v)
}

func appendOptInt(b []byte, key string, v *int) []byte {
	if v == nil {
		return b
	}
	return strconv.AppendInt(append(b, key...), int64(*v), 10)
}

func appendOptFloat(b []byte, key string, v *float64) ([]byte, error) {
	if v == nil {
		return b, nil
	}
	return appendFloat(append(b, key...), *v)
}

// appendFloat writes a float64 as encoding/json does: %f-style, or the
// exponent form (with a one-digit negative exponent cleaned up) outside
// [1e-6, 1e21). NaN and the infinities have no JSON form.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
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
	return b, nil
}

// appendOptRaw appends key and raw unless raw is empty (an omitempty
// json.RawMessage).
func appendOptRaw(b []byte, key string, raw []byte) ([]byte, error) {
	if len(raw) == 0 {
		return b, nil
	}
	return appendCompact(append(b, key...), raw)
}

// rawMaxDepth is encoding/json's nesting limit, which its validation of a
// raw value applies.
const rawMaxDepth = 10000

// appendCompact appends raw without the whitespace between tokens, as
// encoding/json writes a json.RawMessage, and refuses what is not one valid
// JSON value. Strings are copied as they are, invalid UTF-8 included.
func appendCompact(b, raw []byte) ([]byte, error) {
	d := scanner{data: raw, maxDepth: rawMaxDepth}
	if d.skip() != nil || d.end() != nil {
		return b, errInvalidRaw
	}
	start, inString := 0, false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case inString:
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			b = append(b, raw[start:i]...)
			start = i + 1
		}
	}
	return append(b, raw[start:]...), nil
}

// appendMap appends m with its keys sorted, as encoding/json writes a map.
func appendMap[V any](b []byte, m map[string]V, value func([]byte, V) ([]byte, error)) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, k, false), ':')
		var err error
		if b, err = value(b, m[k]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

func appendStringValue(b []byte, s string) ([]byte, error) { return appendString(b, s, false), nil }

// AppendRequest appends r as JSON. The output is byte-identical to what
// encoding/json writes for r (see the file comment); it fails where
// encoding/json fails, on NaN or infinite numbers and on raw values
// (ResponseFormat, tool parameters) that are not valid JSON, and then
// returns dst unchanged. It only reads r.
func AppendRequest(dst []byte, r *Request) ([]byte, error) {
	b, err := appendRequest(dst, r)
	if err != nil {
		return dst, err
	}
	return b, nil
}

func appendRequest(b []byte, r *Request) ([]byte, error) {
	var err error
	b = append(b, `{"model":`...)
	b = appendString(b, r.Model, false)
	b = append(b, `,"messages":`...)
	if r.Messages == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Messages {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendMessage(b, &r.Messages[i])
		}
		b = append(b, ']')
	}
	if len(r.Tools) > 0 {
		b = append(b, `,"tools":[`...)
		for i := range r.Tools {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendTool(b, &r.Tools[i]); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	if !r.ToolChoice.IsZero() {
		b = append(b, `,"tool_choice":`...)
		if r.ToolChoice.Function != "" {
			b = append(b, `{"type":"function","function":{"name":`...)
			b = appendString(b, r.ToolChoice.Function, true)
			b = append(b, "}}"...)
		} else {
			b = appendString(b, r.ToolChoice.Mode, true)
		}
	}
	b = appendOptBool(b, `,"parallel_tool_calls":`, r.ParallelToolCalls)
	b = appendOptInt(b, `,"max_tokens":`, r.MaxTokens)
	b = appendOptInt(b, `,"max_completion_tokens":`, r.MaxCompletionTokens)
	if b, err = appendOptFloat(b, `,"temperature":`, r.Temperature); err != nil {
		return b, err
	}
	if b, err = appendOptFloat(b, `,"top_p":`, r.TopP); err != nil {
		return b, err
	}
	b = appendOptInt(b, `,"n":`, r.N)
	if !r.Stop.IsZero() {
		b = append(b, `,"stop":`...)
		if r.Stop.single && len(r.Stop.Seqs) == 1 {
			b = appendString(b, r.Stop.Seqs[0], true)
		} else {
			b = append(b, '[')
			for i, s := range r.Stop.Seqs {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, s, true)
			}
			b = append(b, ']')
		}
	}
	if b, err = appendOptFloat(b, `,"presence_penalty":`, r.PresencePenalty); err != nil {
		return b, err
	}
	if b, err = appendOptFloat(b, `,"frequency_penalty":`, r.FrequencyPenalty); err != nil {
		return b, err
	}
	if len(r.LogitBias) > 0 {
		if b, err = appendMap(append(b, `,"logit_bias":`...), r.LogitBias, appendFloat); err != nil {
			return b, err
		}
	}
	b = appendOptBool(b, `,"logprobs":`, r.Logprobs)
	b = appendOptInt(b, `,"top_logprobs":`, r.TopLogprobs)
	if r.Seed != nil {
		b = strconv.AppendInt(append(b, `,"seed":`...), *r.Seed, 10)
	}
	if b, err = appendOptRaw(b, `,"response_format":`, r.ResponseFormat); err != nil {
		return b, err
	}
	b = appendOpt(b, `,"reasoning_effort":`, r.ReasoningEffort)
	b = appendOpt(b, `,"service_tier":`, r.ServiceTier)
	b = appendOpt(b, `,"user":`, r.User)
	if len(r.Metadata) > 0 {
		if b, err = appendMap(append(b, `,"metadata":`...), r.Metadata, appendStringValue); err != nil {
			return b, err
		}
	}
	b = appendOptBool(b, `,"store":`, r.Store)
	if r.Stream {
		b = append(b, `,"stream":true`...)
	}
	if o := r.StreamOptions; o != nil {
		b = strconv.AppendBool(append(b, `,"stream_options":{"include_usage":`...), o.IncludeUsage)
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

func appendMessage(b []byte, m *Message) []byte {
	b = append(b, `{"role":`...)
	b = appendString(b, m.Role, false)
	if !m.Content.IsZero() {
		b = appendContent(append(b, `,"content":`...), &m.Content)
	}
	b = appendOpt(b, `,"name":`, m.Name)
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
	b = appendOpt(b, `,"tool_call_id":`, m.ToolCallID)
	b = appendOpt(b, `,"refusal":`, m.Refusal)
	return append(b, '}')
}

// appendContent writes content as its MarshalJSON does, through
// json.Marshal: every string HTML-escaped.
func appendContent(b []byte, c *Content) []byte {
	if c.Parts == nil {
		return appendString(b, c.Text, true)
	}
	b = append(b, '[')
	for i := range c.Parts {
		p := &c.Parts[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":`...)
		b = appendString(b, p.Type, true)
		b = appendOptHTML(b, `,"text":`, p.Text)
		if u := p.ImageURL; u != nil {
			b = append(b, `,"image_url":{"url":`...)
			b = appendString(b, u.URL, true)
			b = append(appendOptHTML(b, `,"detail":`, u.Detail), '}')
		}
		if a := p.InputAudio; a != nil {
			b = append(b, `,"input_audio":{"data":`...)
			b = appendString(b, a.Data, true)
			b = append(b, `,"format":`...)
			b = append(appendString(b, a.Format, true), '}')
		}
		if f := p.File; f != nil {
			b = append(b, `,"file":{`...)
			b = appendMember(b, `"file_id":`, f.FileID, true)
			b = appendMember(b, `"file_data":`, f.FileData, true)
			b = appendMember(b, `"filename":`, f.Filename, true)
			b = append(b, '}')
		}
		b = appendOptHTML(b, `,"refusal":`, p.Refusal)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendMember appends key and s unless s is empty, after a comma unless
// it is the first member of its object.
func appendMember(b []byte, key, s string, html bool) []byte {
	if s == "" {
		return b
	}
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	return appendString(append(b, key...), s, html)
}

func appendOptHTML(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s, true)
}

func appendTool(b []byte, t *Tool) ([]byte, error) {
	b = append(b, `{"type":`...)
	b = appendString(b, t.Type, false)
	b = append(b, `,"function":{"name":`...)
	b = appendString(b, t.Function.Name, false)
	b = appendOpt(b, `,"description":`, t.Function.Description)
	b, err := appendOptRaw(b, `,"parameters":`, t.Function.Parameters)
	if err != nil {
		return b, err
	}
	b = appendOptBool(b, `,"strict":`, t.Function.Strict)
	return append(b, "}}"...), nil
}

// AppendChunk appends c as JSON, byte-identical to what encoding/json
// writes for c (see the file comment). It fails where encoding/json fails,
// on a Logprobs value that is not valid JSON, and then returns dst
// unchanged. It only reads c.
func AppendChunk(dst []byte, c *Chunk) ([]byte, error) {
	b := append(dst, `{"id":`...)
	b = appendString(b, c.ID, false)
	b = append(b, `,"object":`...)
	b = appendString(b, c.Object, false)
	b = strconv.AppendInt(append(b, `,"created":`...), c.Created, 10)
	b = append(b, `,"model":`...)
	b = appendString(b, c.Model, false)
	b = append(b, `,"choices":`...)
	if c.Choices == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range c.Choices {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendChunkChoice(b, &c.Choices[i]); err != nil {
				return dst, err
			}
		}
		b = append(b, ']')
	}
	if c.Usage != nil {
		b = appendUsage(append(b, `,"usage":`...), c.Usage)
	}
	b = appendOpt(b, `,"system_fingerprint":`, c.SystemFingerprint)
	b = appendOpt(b, `,"service_tier":`, c.ServiceTier)
	return append(b, '}'), nil
}

func appendChunkChoice(b []byte, cc *ChunkChoice) ([]byte, error) {
	b = strconv.AppendInt(append(b, `{"index":`...), int64(cc.Index), 10)
	b = append(b, `,"delta":{`...)
	d := &cc.Delta
	b = appendMember(b, `"role":`, d.Role, false)
	b = appendMember(b, `"content":`, d.Content, false)
	b = appendMember(b, `"refusal":`, d.Refusal, false)
	if len(d.ToolCalls) > 0 {
		if b[len(b)-1] != '{' {
			b = append(b, ',')
		}
		b = append(b, `"tool_calls":[`...)
		for i := range d.ToolCalls {
			tc := &d.ToolCalls[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(append(b, `{"index":`...), int64(tc.Index), 10)
			b = appendOpt(b, `,"id":`, tc.ID)
			b = appendOpt(b, `,"type":`, tc.Type)
			b = append(b, `,"function":{`...)
			if tc.Function.Name != "" {
				b = append(appendString(append(b, `"name":`...), tc.Function.Name, false), ',')
			}
			b = append(b, `"arguments":`...)
			b = appendString(b, tc.Function.Arguments, false)
			b = append(b, "}}"...)
		}
		b = append(b, ']')
	}
	b = append(b, `},"finish_reason":`...)
	if cc.FinishReason == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, string(cc.FinishReason), true)
	}
	b, err := appendOptRaw(b, `,"logprobs":`, cc.Logprobs)
	return append(b, '}'), err
}

func appendUsage(b []byte, u *Usage) []byte {
	b = strconv.AppendInt(append(b, `{"prompt_tokens":`...), int64(u.PromptTokens), 10)
	b = strconv.AppendInt(append(b, `,"completion_tokens":`...), int64(u.CompletionTokens), 10)
	b = strconv.AppendInt(append(b, `,"total_tokens":`...), int64(u.TotalTokens), 10)
	if p := u.PromptTokensDetails; p != nil {
		b = strconv.AppendInt(append(b, `,"prompt_tokens_details":{"cached_tokens":`...), int64(p.CachedTokens), 10)
		if p.AudioTokens != 0 {
			b = strconv.AppendInt(append(b, `,"audio_tokens":`...), int64(p.AudioTokens), 10)
		}
		b = append(b, '}')
	}
	if c := u.CompletionTokensDetails; c != nil {
		b = strconv.AppendInt(append(b, `,"completion_tokens_details":{"reasoning_tokens":`...), int64(c.ReasoningTokens), 10)
		if c.AudioTokens != 0 {
			b = strconv.AppendInt(append(b, `,"audio_tokens":`...), int64(c.AudioTokens), 10)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// AppendResponse appends r as JSON, byte-identical to what encoding/json
// writes for r (see the file comment). It fails where encoding/json fails,
// on a Logprobs value that is not valid JSON, and then returns dst
// unchanged. It only reads r.
func AppendResponse(dst []byte, r *Response) ([]byte, error) {
	b := append(dst, `{"id":`...)
	b = appendString(b, r.ID, false)
	b = append(b, `,"object":`...)
	b = appendString(b, r.Object, false)
	b = strconv.AppendInt(append(b, `,"created":`...), r.Created, 10)
	b = append(b, `,"model":`...)
	b = appendString(b, r.Model, false)
	b = append(b, `,"choices":`...)
	if r.Choices == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Choices {
			ch := &r.Choices[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(append(b, `{"index":`...), int64(ch.Index), 10)
			b = appendMessage(append(b, `,"message":`...), &ch.Message)
			b = append(b, `,"finish_reason":`...)
			b = appendString(b, ch.FinishReason, false)
			var err error
			if b, err = appendOptRaw(b, `,"logprobs":`, ch.Logprobs); err != nil {
				return dst, err
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if r.Usage != nil {
		b = appendUsage(append(b, `,"usage":`...), r.Usage)
	}
	b = appendOpt(b, `,"system_fingerprint":`, r.SystemFingerprint)
	b = appendOpt(b, `,"service_tier":`, r.ServiceTier)
	return append(b, '}'), nil
}

// AppendErrorBody appends e as JSON, byte-identical to what encoding/json
// writes for e: OpenAI's error shape, with a nil Param or Code as null.
func AppendErrorBody(dst []byte, e ErrorBody) []byte {
	d := &e.Error
	b := append(dst, `{"error":{"message":`...)
	b = appendString(b, d.Message, false)
	b = append(b, `,"type":`...)
	b = appendString(b, d.Type, false)
	b = append(b, `,"param":`...)
	if d.Param == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *d.Param, false)
	}
	b = append(b, `,"code":`...)
	if d.Code == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *d.Code, false)
	}
	return append(b, "}}"...)
}

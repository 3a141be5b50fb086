package provider

import (
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// This file decodes stream chunks and answers without reflection.
// encoding/json costs about 2.5 µs and 13 allocations per chunk, which at
// 10k streams/s of ten chunks each is a good part of a core; chunks and
// answers come in one fixed shape.
//
// The fast path is exact or it declines: for every input it accepts, the
// result equals what encoding/json would decode into a chunkWire or
// responseWire with no error (FuzzFastChunk and FuzzFastResponse in decode_test.go check
// this). Anything it does not handle exactly as encoding/json does — an
// "error" key, duplicate keys, keys that match a field only
// case-insensitively, non-integer numbers for int fields, content given as
// parts, lone surrogates, invalid UTF-8, deep nesting, trailing bytes —
// makes it decline, and the caller decodes with encoding/json, which also
// produces the error for bad input.

// chunkDecoder decodes the chunks of one stream. It keeps the last id,
// model and fingerprint so that the copies every chunk repeats share one
// string. The zero value is ready; it is not safe for concurrent use.
type chunkDecoder struct {
	id, model, fingerprint string
}

// decode returns the chunk in data, a JSON object.
func (d *chunkDecoder) decode(data []byte) (*llm.Chunk, error) {
	if c, ok := d.fast(data); ok {
		return c, nil
	}
	w := new(chunkWire)
	if err := json.Unmarshal(data, w); err != nil {
		return nil, err
	}
	if present(w.Error) {
		return nil, errIsErrorObject
	}
	return &w.Chunk, nil
}

// errIsErrorObject says the object decoded is an error report, not a chunk
// or an answer.
var errIsErrorObject = errors.New("error object")

func (d *chunkDecoder) fast(data []byte) (*llm.Chunk, bool) {
	r := jreader{b: data}
	c := new(llm.Chunk)
	var seen uint16
	ok := r.object(func(key []byte) bool {
		f, ok := chunkFields.index(key)
		if !ok || !once(&seen, f) {
			return false
		}
		switch f {
		case -1:
			return r.skip(0)
		case 0:
			return r.intern(&c.ID, &d.id)
		case 1:
			return r.object1(&c.Object, llm.ObjectChatCompletionChunk)
		case 2:
			return r.int64(&c.Created)
		case 3:
			return r.intern(&c.Model, &d.model)
		case 4:
			return r.nullOr(func() bool { c.Choices = nil; return true }, func() bool { return r.choices(&c.Choices) })
		case 5:
			return r.nullOr(func() bool { c.Usage = nil; return true }, func() bool { c.Usage = new(llm.Usage); return r.usage(c.Usage) })
		case 6:
			return r.intern(&c.SystemFingerprint, &d.fingerprint)
		case 7:
			return r.str(&c.ServiceTier)
		}
		return false // "error": the slow path reports it
	})
	if !ok || !r.end() {
		return nil, false
	}
	return c, true
}

// decodeResponse returns the answer in data.
func decodeResponse(data []byte) (*llm.Response, error) {
	if resp, ok := fastResponse(data); ok {
		return resp, nil
	}
	w := new(responseWire)
	if err := json.Unmarshal(data, w); err != nil {
		return nil, err
	}
	if present(w.Error) {
		return nil, errIsErrorObject
	}
	return &w.Response, nil
}

func fastResponse(data []byte) (*llm.Response, bool) {
	r := jreader{b: data}
	resp := new(llm.Response)
	var seen uint16
	ok := r.object(func(key []byte) bool {
		f, ok := responseFields.index(key)
		if !ok || !once(&seen, f) {
			return false
		}
		switch f {
		case -1:
			return r.skip(0)
		case 0:
			return r.str(&resp.ID)
		case 1:
			return r.object1(&resp.Object, llm.ObjectChatCompletion)
		case 2:
			return r.int64(&resp.Created)
		case 3:
			return r.str(&resp.Model)
		case 4:
			return r.nullOr(func() bool { resp.Choices = nil; return true }, func() bool { return r.answers(&resp.Choices) })
		case 5:
			return r.nullOr(func() bool { resp.Usage = nil; return true }, func() bool { resp.Usage = new(llm.Usage); return r.usage(resp.Usage) })
		case 6:
			return r.str(&resp.SystemFingerprint)
		case 7:
			return r.str(&resp.ServiceTier)
		}
		return false
	})
	if !ok || !r.end() {
		return nil, false
	}
	return resp, true
}

func (r *jreader) answers(out *[]llm.Choice) bool {
	cs := []llm.Choice{}
	ok := r.array(func() bool {
		cs = append(cs, llm.Choice{})
		ch := &cs[len(cs)-1]
		var seen uint16
		return r.nullOr(noop, func() bool {
			return r.object(func(key []byte) bool {
				f, ok := answerFields.index(key)
				if !ok || !once(&seen, f) {
					return false
				}
				switch f {
				case 0:
					return r.int(&ch.Index)
				case 1:
					return r.nullOr(noop, func() bool { return r.message(&ch.Message) })
				case 2:
					return r.str(&ch.FinishReason)
				case 3:
					return r.raw(&ch.Logprobs)
				}
				return r.skip(0)
			})
		})
	})
	*out = cs
	return ok
}

func (r *jreader) message(m *llm.Message) bool {
	var seen uint16
	return r.object(func(key []byte) bool {
		f, ok := messageFields.index(key)
		if !ok || !once(&seen, f) {
			return false
		}
		switch f {
		case 0:
			return r.str(&m.Role)
		case 1:
			// Content is text or null here; parts go to encoding/json.
			s, isNull, ok := r.strBytes()
			switch {
			case !ok:
				return false
			case isNull:
				m.Content = llm.Content{}
			default:
				m.Content = llm.Text(string(s))
			}
			return true
		case 2:
			return r.str(&m.Name)
		case 3:
			return r.nullOr(func() bool { m.ToolCalls = nil; return true }, func() bool { return r.toolCallList(&m.ToolCalls) })
		case 4:
			return r.str(&m.ToolCallID)
		case 5:
			return r.str(&m.Refusal)
		}
		return r.skip(0)
	})
}

func (r *jreader) toolCallList(out *[]llm.ToolCall) bool {
	tcs := []llm.ToolCall{}
	ok := r.array(func() bool {
		tcs = append(tcs, llm.ToolCall{})
		tc := &tcs[len(tcs)-1]
		var seen uint16
		return r.nullOr(noop, func() bool {
			return r.object(func(key []byte) bool {
				f, ok := toolCallListFields.index(key)
				if !ok || !once(&seen, f) {
					return false
				}
				switch f {
				case 0:
					return r.str(&tc.ID)
				case 1:
					return r.str(&tc.Type)
				case 2:
					var fseen uint16
					return r.nullOr(noop, func() bool {
						return r.object(func(key []byte) bool {
							f, ok := functionFields.index(key)
							if !ok || !once(&fseen, f) {
								return false
							}
							switch f {
							case 0:
								return r.str(&tc.Function.Name)
							case 1:
								return r.str(&tc.Function.Arguments)
							}
							return r.skip(0)
						})
					})
				}
				return r.skip(0)
			})
		})
	})
	*out = tcs
	return ok
}

// fields names an object's keys; index returns a key's position, -1 for a
// key to skip, or false for a key the fast path must not guess about.
type fields []string

var (
	responseFields     = fields{"id", "object", "created", "model", "choices", "usage", "system_fingerprint", "service_tier", "error"}
	answerFields       = fields{"index", "message", "finish_reason", "logprobs"}
	messageFields      = fields{"role", "content", "name", "tool_calls", "tool_call_id", "refusal"}
	toolCallListFields = fields{"id", "type", "function"}
	chunkFields        = fields{"id", "object", "created", "model", "choices", "usage", "system_fingerprint", "service_tier", "error"}
	choiceFields       = fields{"index", "delta", "finish_reason", "logprobs"}
	deltaFields        = fields{"role", "content", "refusal", "tool_calls"}
	toolCallFields     = fields{"index", "id", "type", "function"}
	functionFields     = fields{"name", "arguments"}
	usageFields        = fields{"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details", "completion_tokens_details"}
	promptFields       = fields{"cached_tokens", "audio_tokens"}
	complFields        = fields{"reasoning_tokens", "audio_tokens"}
)

func (fs fields) index(key []byte) (int, bool) {
	for i, f := range fs {
		if string(key) == f {
			return i, true
		}
	}
	// encoding/json matches keys case-insensitively, with Unicode folding;
	// such a key, or any non-ASCII one, is left to it.
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return 0, false
		}
	}
	for _, f := range fs {
		if asciiEqualFold(key, f) {
			return 0, false
		}
	}
	return -1, true
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// once records field f as seen, failing on a duplicate (encoding/json
// merges duplicates in ways not worth copying). Skipped keys may repeat.
func once(seen *uint16, f int) bool {
	if f < 0 {
		return true
	}
	bit := uint16(1) << f
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

func (r *jreader) choices(out *[]llm.ChunkChoice) bool {
	cs := []llm.ChunkChoice{} // "[]" decodes to an empty, non-nil slice
	ok := r.array(func() bool {
		cs = append(cs, llm.ChunkChoice{})
		ch := &cs[len(cs)-1]
		var seen uint16
		return r.nullOr(noop, func() bool {
			return r.object(func(key []byte) bool {
				f, ok := choiceFields.index(key)
				if !ok || !once(&seen, f) {
					return false
				}
				switch f {
				case 0:
					return r.int(&ch.Index)
				case 1:
					return r.nullOr(noop, func() bool { return r.delta(&ch.Delta) })
				case 2:
					return r.nullOr(func() bool { ch.FinishReason = ""; return true }, func() bool {
						var s string
						ok := r.str(&s)
						ch.FinishReason = llm.FinishReason(s)
						return ok
					})
				case 3:
					return r.raw(&ch.Logprobs)
				}
				return r.skip(0)
			})
		})
	})
	*out = cs
	return ok
}

func (r *jreader) delta(d *llm.Delta) bool {
	var seen uint16
	return r.object(func(key []byte) bool {
		f, ok := deltaFields.index(key)
		if !ok || !once(&seen, f) {
			return false
		}
		switch f {
		case 0:
			return r.str(&d.Role)
		case 1:
			return r.str(&d.Content)
		case 2:
			return r.str(&d.Refusal)
		case 3:
			return r.nullOr(func() bool { d.ToolCalls = nil; return true }, func() bool { return r.toolCalls(&d.ToolCalls) })
		}
		return r.skip(0)
	})
}

func (r *jreader) toolCalls(out *[]llm.ToolCallDelta) bool {
	tcs := []llm.ToolCallDelta{}
	ok := r.array(func() bool {
		tcs = append(tcs, llm.ToolCallDelta{})
		tc := &tcs[len(tcs)-1]
		var seen uint16
		return r.nullOr(noop, func() bool {
			return r.object(func(key []byte) bool {
				f, ok := toolCallFields.index(key)
				if !ok || !once(&seen, f) {
					return false
				}
				switch f {
				case 0:
					return r.int(&tc.Index)
				case 1:
					return r.str(&tc.ID)
				case 2:
					return r.str(&tc.Type)
				case 3:
					var fseen uint16
					return r.nullOr(noop, func() bool {
						return r.object(func(key []byte) bool {
							f, ok := functionFields.index(key)
							if !ok || !once(&fseen, f) {
								return false
							}
							switch f {
							case 0:
								return r.str(&tc.Function.Name)
							case 1:
								return r.str(&tc.Function.Arguments)
							}
							return r.skip(0)
						})
					})
				}
				return r.skip(0)
			})
		})
	})
	*out = tcs
	return ok
}

func (r *jreader) usage(u *llm.Usage) bool {
	var seen uint16
	return r.object(func(key []byte) bool {
		f, ok := usageFields.index(key)
		if !ok || !once(&seen, f) {
			return false
		}
		switch f {
		case 0:
			return r.int(&u.PromptTokens)
		case 1:
			return r.int(&u.CompletionTokens)
		case 2:
			return r.int(&u.TotalTokens)
		case 3:
			return r.nullOr(func() bool { u.PromptTokensDetails = nil; return true }, func() bool {
				p := new(llm.PromptTokensDetails)
				u.PromptTokensDetails = p
				return r.ints(promptFields, &p.CachedTokens, &p.AudioTokens)
			})
		case 4:
			return r.nullOr(func() bool { u.CompletionTokensDetails = nil; return true }, func() bool {
				p := new(llm.CompletionTokensDetails)
				u.CompletionTokensDetails = p
				return r.ints(complFields, &p.ReasoningTokens, &p.AudioTokens)
			})
		}
		return r.skip(0)
	})
}

// ints reads an object of int fields named fs into dst, in order.
func (r *jreader) ints(fs fields, dst ...*int) bool {
	var seen uint16
	return r.object(func(key []byte) bool {
		f, ok := fs.index(key)
		if !ok || !once(&seen, f) {
			return false
		}
		if f < 0 {
			return r.skip(0)
		}
		return r.int(dst[f])
	})
}

// noop is the null handler of a value whose null changes nothing.
func noop() bool { return true }

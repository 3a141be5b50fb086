package sim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// bufPool holds response and body buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 1<<20 {
		return // let huge buffers go
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// completion is everything written about one answered request.
type completion struct {
	id          string
	created     int64
	model       string // as the client named it
	fingerprint string
	rep         *reply
	pieces      []string // content in word-sized pieces
	usage       llm.Usage
}

func appendUsage(b []byte, u *llm.Usage) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(u.PromptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CompletionTokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(u.TotalTokens), 10)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CachedTokens()), 10)
	b = append(b, `,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`...)
	return b
}

func appendToolCall(b []byte, c *llm.ToolCall) []byte {
	b = append(b, `{"id":`...)
	b = llm.AppendString(b, c.ID)
	b = append(b, `,"type":"function","function":{"name":`...)
	b = llm.AppendString(b, c.Function.Name)
	b = append(b, `,"arguments":`...)
	b = llm.AppendString(b, c.Function.Arguments)
	return append(b, `}}`...)
}

// appendResponse appends the non-streamed chat.completion body.
func appendResponse(b []byte, c *completion) []byte {
	b = append(b, `{"id":`...)
	b = llm.AppendString(b, c.id)
	b = append(b, `,"object":"chat.completion","created":`...)
	b = strconv.AppendInt(b, c.created, 10)
	b = append(b, `,"model":`...)
	b = llm.AppendString(b, c.model)
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	if len(c.rep.calls) > 0 {
		b = append(b, `null,"tool_calls":[`...)
		for i := range c.rep.calls {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendToolCall(b, &c.rep.calls[i])
		}
		b = append(b, ']')
	} else {
		b = llm.AppendString(b, c.rep.content)
	}
	b = append(b, `,"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":`...)
	b = llm.AppendString(b, c.rep.finish)
	b = append(b, `}],"usage":`...)
	b = appendUsage(b, &c.usage)
	b = append(b, `,"service_tier":"default","system_fingerprint":`...)
	b = llm.AppendString(b, c.fingerprint)
	return append(b, "}\n"...)
}

// chunkWriter appends SSE chunks of one stream; head is the part of every
// chunk before the choices, computed once.
type chunkWriter struct {
	head []byte
}

func newChunkWriter(c *completion) chunkWriter {
	h := make([]byte, 0, 160)
	h = append(h, `data: {"id":`...)
	h = llm.AppendString(h, c.id)
	h = append(h, `,"object":"chat.completion.chunk","created":`...)
	h = strconv.AppendInt(h, c.created, 10)
	h = append(h, `,"model":`...)
	h = llm.AppendString(h, c.model)
	h = append(h, `,"service_tier":"default","system_fingerprint":`...)
	h = llm.AppendString(h, c.fingerprint)
	return chunkWriter{head: h}
}

const chunkTail = `,"logprobs":null,"finish_reason":null}]}` + "\n\n"

func (cw *chunkWriter) role(b []byte, toolCalls bool) []byte {
	b = append(b, cw.head...)
	if toolCalls {
		b = append(b, `,"choices":[{"index":0,"delta":{"role":"assistant","content":null,"refusal":null}`...)
	} else {
		b = append(b, `,"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null}`...)
	}
	return append(b, chunkTail...)
}

func (cw *chunkWriter) content(b []byte, piece string) []byte {
	b = append(b, cw.head...)
	b = append(b, `,"choices":[{"index":0,"delta":{"content":`...)
	b = llm.AppendString(b, piece)
	b = append(b, '}')
	return append(b, chunkTail...)
}

// toolStart opens call i: id, type, name and empty arguments.
func (cw *chunkWriter) toolStart(b []byte, i int, c *llm.ToolCall) []byte {
	b = append(b, cw.head...)
	b = append(b, `,"choices":[{"index":0,"delta":{"tool_calls":[{"index":`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `,"id":`...)
	b = llm.AppendString(b, c.ID)
	b = append(b, `,"type":"function","function":{"name":`...)
	b = llm.AppendString(b, c.Function.Name)
	b = append(b, `,"arguments":""}}]}`...)
	return append(b, chunkTail...)
}

func (cw *chunkWriter) toolArgs(b []byte, i int, frag string) []byte {
	b = append(b, cw.head...)
	b = append(b, `,"choices":[{"index":0,"delta":{"tool_calls":[{"index":`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `,"function":{"arguments":`...)
	b = llm.AppendString(b, frag)
	b = append(b, `}}]}`...)
	return append(b, chunkTail...)
}

func (cw *chunkWriter) finish(b []byte, reason string) []byte {
	b = append(b, cw.head...)
	b = append(b, `,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":`...)
	b = llm.AppendString(b, reason)
	return append(b, "}]}\n\n"...)
}

func (cw *chunkWriter) usage(b []byte, u *llm.Usage) []byte {
	b = append(b, cw.head...)
	b = append(b, `,"choices":[],"usage":`...)
	b = appendUsage(b, u)
	return append(b, "}\n\n"...)
}

const doneEvent = "data: [DONE]\n\n"

// splitPieces splits text into word-sized pieces, each but the first
// starting with its space, as models stream them.
func splitPieces(dst []string, s string) []string {
	start := 0
	for i := 1; i < len(s); i++ {
		if s[i] == ' ' && s[i-1] != ' ' {
			dst = append(dst, s[start:i])
			start = i
		}
	}
	if start < len(s) {
		dst = append(dst, s[start:])
	}
	return dst
}

// argFragments splits tool arguments into the small fragments a model's
// tokens make, at rune boundaries.
func argFragments(dst []string, s string) []string {
	const size = 6
	for len(s) > 0 {
		n := min(size, len(s))
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n++
		}
		dst = append(dst, s[:n])
		s = s[n:]
	}
	return dst
}

// writeJSON writes v as an indented JSON body; it is for the sim's small
// control endpoints, not the request path.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

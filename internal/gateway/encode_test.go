package gateway

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// stdEncode is what the appenders must reproduce: encoding/json without
// HTML escaping, as the gateway's encoder was configured.
func stdEncode(t testing.TB, v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// encodeCases builds chunks and responses around s and n, covering every
// field and optional shape.
func encodeCases(s string, n int) (chunks []*llm.Chunk, resps []*llm.Response) {
	u := &llm.Usage{PromptTokens: n, CompletionTokens: n + 1, TotalTokens: 2*n + 1,
		PromptTokensDetails: &llm.PromptTokensDetails{CachedTokens: n, AudioTokens: n % 3}, CompletionTokensDetails: &llm.CompletionTokensDetails{ReasoningTokens: n}}
	chunks = []*llm.Chunk{
		{ID: s, Object: llm.ObjectChatCompletionChunk, Created: int64(n) * -7, Model: s},
		{ID: "c", Choices: []llm.ChunkChoice{}, Usage: u, SystemFingerprint: s, ServiceTier: s},
		{ID: "c", Choices: []llm.ChunkChoice{
			{Index: n, Delta: llm.Delta{Role: s, Content: s, Refusal: s}, FinishReason: llm.FinishReason(s)},
			{Delta: llm.Delta{ToolCalls: []llm.ToolCallDelta{{Index: n, ID: s, Type: s, Function: llm.FunctionCallDelta{Name: s, Arguments: s}}, {}}}},
			{Logprobs: json.RawMessage(` { "content" : [ ] } `)},
		}, Usage: &llm.Usage{}},
	}
	resps = []*llm.Response{
		{ID: s, Object: llm.ObjectChatCompletion, Created: int64(n), Model: s},
		{ID: "r", Choices: []llm.Choice{
			{Index: n, Message: llm.Message{Role: s, Content: llm.Text(s), Name: s, ToolCallID: s, Refusal: s}, FinishReason: s},
			{Message: llm.Message{Role: "assistant", Content: llm.Text(""), ToolCalls: []llm.ToolCall{{ID: s, Type: "function", Function: llm.FunctionCall{Name: s, Arguments: s}}}}},
			{Message: llm.Message{Content: llm.PartsContent(llm.ContentPart{Type: "text", Text: s}, llm.ContentPart{Type: "image_url", ImageURL: &llm.ImageURL{URL: s}})}, Logprobs: json.RawMessage(`null`)},
			{Message: llm.Message{Content: llm.PartsContent()}},
		}, Usage: u, SystemFingerprint: s, ServiceTier: s},
		{ID: "r", Choices: []llm.Choice{}},
	}
	return chunks, resps
}

var encodeStrings = []string{
	"", "plain", `quote " backslash \ slash /`, "<b>&amp;</b>", "ctl \x00\x01\x08\x0c\n\r\t\x1f\x7f",
	"caf\u00e9 \U0001F600", "line\u2028para\u2029", "bad \xff\xfe utf8 \xe2\x82", "\xed\xa0\x80 surrogate",
}

func TestEncodeMatchesEncodingJSON(t *testing.T) {
	for _, s := range encodeStrings {
		chunks, resps := encodeCases(s, 42)
		for _, c := range chunks {
			got, err := appendChunk(nil, c)
			require.NoError(t, err)
			assert.Equal(t, string(stdEncode(t, c)), string(got))
		}
		for _, r := range resps {
			got, err := appendResponse(nil, r)
			require.NoError(t, err)
			assert.Equal(t, string(stdEncode(t, r)), string(got))
		}
	}
}

func TestEncodeErrorBody(t *testing.T) {
	for _, s := range encodeStrings {
		for _, e := range []*llm.Error{
			{Kind: llm.KindRateLimited, Message: s},
			{Kind: llm.KindInvalidRequest, Message: s, Param: s, Code: s, Type: s},
			{Kind: llm.KindServer},
		} {
			assert.Equal(t, string(stdEncode(t, e.Body())), string(appendErrorBody(nil, e.Body())))
		}
	}
}

func TestEncodeRefusesInvalidRaw(t *testing.T) {
	_, err := appendChunk(nil, &llm.Chunk{Choices: []llm.ChunkChoice{{Logprobs: json.RawMessage(`{bad`)}}})
	assert.Error(t, err)
	_, err = appendResponse(nil, &llm.Response{Choices: []llm.Choice{{Logprobs: json.RawMessage(`[`)}}})
	assert.Error(t, err)
}

// FuzzEncode checks the appenders against encoding/json for any string and
// number in any field.
func FuzzEncode(f *testing.F) {
	for i, s := range encodeStrings {
		f.Add(s, i)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		chunks, resps := encodeCases(s, n)
		for _, c := range chunks {
			got, err := appendChunk(nil, c)
			if err != nil {
				t.Fatal(err)
			}
			if want := stdEncode(t, c); !bytes.Equal(got, want) {
				t.Fatalf("chunk:\ngot  %s\nwant %s", got, want)
			}
		}
		for _, r := range resps {
			got, err := appendResponse(nil, r)
			if err != nil {
				t.Fatal(err)
			}
			if want := stdEncode(t, r); !bytes.Equal(got, want) {
				t.Fatalf("response:\ngot  %s\nwant %s", got, want)
			}
		}
	})
}

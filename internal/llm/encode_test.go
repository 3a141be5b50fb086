package llm

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stdEncode is what the appenders must reproduce: encoding/json's Encoder
// with HTML escaping off, without its newline.
func stdEncode(t testing.TB, v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

// encodeStrings are strings that meet every branch of the string writer.
var encodeStrings = []string{
	"", "plain", `quote " backslash \ slash /`, "<b>&amp;</b>", "ctl \x00\x01\x08\x0c\n\r\t\x1f\x7f",
	"caf\u00e9 \U0001F600", "line\u2028para\u2029", "bad \xff\xfe utf8 \xe2\x82", "\xed\xa0\x80 surrogate",
	"a long run of plain text, longer than a word <at> a time & then some\n",
}

// encodeCases builds chunks and responses around s and n, covering every
// field and optional shape.
func encodeCases(s string, n int) (chunks []*Chunk, resps []*Response) {
	u := &Usage{PromptTokens: n, CompletionTokens: n + 1, TotalTokens: 2*n + 1,
		PromptTokensDetails: &PromptTokensDetails{CachedTokens: n, AudioTokens: n % 3}, CompletionTokensDetails: &CompletionTokensDetails{ReasoningTokens: n, AudioTokens: n % 2}}
	chunks = []*Chunk{
		{ID: s, Object: ObjectChatCompletionChunk, Created: int64(n) * -7, Model: s},
		{ID: "c", Choices: []ChunkChoice{}, Usage: u, SystemFingerprint: s, ServiceTier: s},
		{ID: "c", Choices: []ChunkChoice{
			{Index: n, Delta: Delta{Role: s, Content: s, Refusal: s}, FinishReason: FinishReason(s)},
			{Delta: Delta{Content: s}},
			{Delta: Delta{Refusal: s, ToolCalls: []ToolCallDelta{{Index: n, ID: s, Type: s, Function: FunctionCallDelta{Name: s, Arguments: s}}, {}}}},
			{Delta: Delta{ToolCalls: []ToolCallDelta{{Function: FunctionCallDelta{Arguments: s}}}}},
			{Logprobs: json.RawMessage(` { "content" : [ ] , "s" : "a b\t\"" } `)},
		}, Usage: &Usage{}},
	}
	resps = []*Response{
		{ID: s, Object: ObjectChatCompletion, Created: int64(n), Model: s},
		{ID: "r", Choices: []Choice{
			{Index: n, Message: Message{Role: s, Content: Text(s), Name: s, ToolCallID: s, Refusal: s}, FinishReason: s},
			{Message: Message{Role: "assistant", Content: Text(""), ToolCalls: []ToolCall{{ID: s, Type: "function", Function: FunctionCall{Name: s, Arguments: s}}}}},
			{Message: Message{Content: PartsContent(
				ContentPart{Type: PartText, Text: s},
				ContentPart{Type: PartImageURL, ImageURL: &ImageURL{URL: s, Detail: s}},
				ContentPart{Type: PartInputAudio, InputAudio: &InputAudio{Data: s, Format: s}},
				ContentPart{Type: PartFile, File: &File{FileID: s, FileData: s, Filename: s}},
				ContentPart{Type: PartFile, File: &File{Filename: s}},
				ContentPart{Type: PartFile, File: &File{}},
				ContentPart{Type: PartRefusal, Refusal: s},
			)}, Logprobs: json.RawMessage(`null`)},
			{Message: Message{Content: PartsContent()}},
			{Message: Message{Content: Content{Text: s}}},
		}, Usage: u, SystemFingerprint: s, ServiceTier: s},
		{ID: "r", Choices: []Choice{}},
	}
	return chunks, resps
}

// checkAppend compares an appender's output with encoding/json's.
func checkAppend(t *testing.T, v any, got []byte, err error) {
	t.Helper()
	want, errStd := stdEncode(t, v)
	if errStd != nil {
		require.Error(t, err, "appended what encoding/json refuses (%v)", errStd)
		return
	}
	require.NoError(t, err, "refused what encoding/json writes as %s", want)
	if !bytes.Equal(got, want) {
		t.Fatalf("differs from encoding/json:\n got %q\nwant %q", got, want)
	}
}

func checkAppendCases(t *testing.T, s string, n int) {
	chunks, resps := encodeCases(s, n)
	for _, c := range chunks {
		got, err := AppendChunk(nil, c)
		checkAppend(t, c, got, err)
	}
	for _, r := range resps {
		got, err := AppendResponse(nil, r)
		checkAppend(t, r, got, err)
	}
	for _, e := range []*Error{
		{Kind: KindRateLimited, Message: s},
		{Kind: KindInvalidRequest, Message: s, Param: s, Code: s, Type: s},
		{Kind: KindServer},
	} {
		checkAppend(t, e.Body(), AppendErrorBody(nil, e.Body()), nil)
	}
	got := AppendString(nil, s)
	checkAppend(t, s, got, nil)
}

func TestAppendMatchesEncodingJSON(t *testing.T) {
	for _, s := range encodeStrings {
		checkAppendCases(t, s, 42)
	}
}

// FuzzAppendChunk checks AppendChunk, AppendResponse, AppendErrorBody and
// AppendString against encoding/json for any string and number in any
// field.
func FuzzAppendChunk(f *testing.F) {
	for i, s := range encodeStrings {
		f.Add(s, i)
	}
	f.Fuzz(checkAppendCases)
}

func TestAppendRefusesInvalidRaw(t *testing.T) {
	dst := []byte("kept")
	got, err := AppendChunk(dst, &Chunk{Choices: []ChunkChoice{{Logprobs: json.RawMessage(`{bad`)}}})
	assert.Error(t, err)
	assert.Equal(t, "kept", string(got))
	got, err = AppendResponse(dst, &Response{Choices: []Choice{{Logprobs: json.RawMessage(`[`)}}})
	assert.Error(t, err)
	assert.Equal(t, "kept", string(got))
}

// requestSamples are request shapes the gateway produces and clients send.
var requestSamples = []string{
	`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
	typicalBody,
	`{"model":"m","messages":[{"role":"system","content":"Be <brief> & kind \u2028 \u2029 \"q\" \\ \n\t\r\b\f \u0001 é 😀"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_order","arguments":"{\"id\":\"<1>\"}"}}]},` +
		`{"role":"tool","content":"","tool_call_id":"call_1","name":"get_order"},{"role":"assistant","refusal":"no"}],` +
		`"tools":[{"type":"function","function":{"name":"get_order","description":"Look an order up & return it","parameters":{ "type" : "object", "properties":{"id":{"type":"string"}}},"strict":true}},` +
		`{"type":"function","function":{"name":"noop"}}],` +
		`"tool_choice":{"type":"function","function":{"name":"get<order>"}},"parallel_tool_calls":false,` +
		`"max_tokens":10,"max_completion_tokens":20,"temperature":0.7,"top_p":1,"n":1,"stop":["a<",">b"],` +
		`"presence_penalty":-0.5,"frequency_penalty":1e-7,"logprobs":true,"top_logprobs":3,"seed":-42,` +
		`"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}},"reasoning_effort":"low",` +
		`"service_tier":"auto","user":"u<1>","store":false,"stream":true,"stream_options":{"include_usage":false}}`,
	`{"model":"m","messages":[],"tool_choice":"auto","stop":"END","temperature":0,"frequency_penalty":1e21}`,
	`{"model":"","messages":null}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x<y"},{"type":"image_url","image_url":{"url":"data:&"}},{"type":"file","file":{}}]}],` +
		`"logit_bias":{"50256":-100,"1":0.5,"<":1e-9},"metadata":{"b":"2","a":"<1>","":""},"stop":[],"stream_options":{"include_usage":true}}`,
}

func TestAppendRequest(t *testing.T) {
	for _, s := range requestSamples {
		t.Run(s[:min(len(s), 40)], func(t *testing.T) {
			var req Request
			require.NoError(t, json.Unmarshal([]byte(s), &req))
			got, err := AppendRequest(nil, &req)
			checkAppend(t, &req, got, err)
		})
	}
}

func TestAppendRequestErrors(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(-1)
	tests := []struct {
		name string
		give func(*Request)
	}{
		{"nan", func(r *Request) { r.Temperature = &nan }},
		{"infinity", func(r *Request) { r.FrequencyPenalty = &inf }},
		{"nan in logit bias", func(r *Request) { r.LogitBias = map[string]float64{"1": nan} }},
		{"bad raw json", func(r *Request) { r.ResponseFormat = json.RawMessage(`{"type":`) }},
		{"two raw values", func(r *Request) { r.ResponseFormat = json.RawMessage(`{} {}`) }},
		{"bad tool schema", func(r *Request) {
			r.Tools = []Tool{{Type: "function", Function: FunctionDecl{Name: "f", Parameters: json.RawMessage(`nope`)}}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &Request{Model: "m", Messages: []Message{{Role: RoleUser, Content: Text("hi")}}}
			tt.give(req)
			got, err := AppendRequest([]byte("kept"), req)
			assert.Error(t, err)
			assert.Equal(t, "kept", string(got), "dst comes back unchanged")
			_, errStd := stdEncode(t, req)
			assert.Error(t, errStd, "encoding/json refuses it too")
		})
	}
}

// FuzzAppendRequest checks AppendRequest against encoding/json on any
// request encoding/json can decode, with raw strings (invalid UTF-8
// included, as the engine may build them) in every string field and the
// fuzzed bytes as a raw JSON value.
func FuzzAppendRequest(f *testing.F) {
	for _, s := range requestSamples {
		f.Add([]byte(s), "plain")
	}
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`), "\xff\u2028<&>")
	f.Add([]byte(`{"model":"m","response_format":{ "a" : [ 1 , 2.5e10 , "x y" ] }}`), "\x00\x1f\"\\")
	f.Fuzz(func(t *testing.T, data []byte, s string) {
		var req Request
		if json.Unmarshal(data, &req) == nil {
			req.Messages = append(req.Messages, Message{
				Role: s, Content: Text(s), Name: s,
				ToolCalls: []ToolCall{{ID: s, Type: "function", Function: FunctionCall{Name: s, Arguments: s}}},
			}, Message{Content: PartsContent(ContentPart{Type: s, Text: s, ImageURL: &ImageURL{URL: s}})})
			req.User = s
			req.Stop = Stop{Seqs: []string{s}, single: len(s)%2 == 0}
			req.ToolChoice = ToolChoice{Function: s}
			got, err := AppendRequest(nil, &req)
			checkAppend(t, &req, got, err)
		}
		// The bytes as a raw value: compacted as encoding/json compacts
		// them, or refused as it refuses them.
		raw := &Request{Model: s, ResponseFormat: data}
		got, err := AppendRequest(nil, raw)
		checkAppend(t, raw, got, err)
	})
}

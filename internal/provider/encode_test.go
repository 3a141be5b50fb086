package provider

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// encodingJSON is what appendRequest must reproduce byte for byte.
func encodingJSON(t testing.TB, req *llm.Request, stream bool) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var err error
	if stream {
		err = enc.Encode(streamWire{Request: req, Stream: true, StreamOptions: includeUsage})
	} else {
		err = enc.Encode(completeWire{Request: req})
	}
	return buf.Bytes(), err
}

// requestSamples are request shapes the gateway produces; the fast path
// must take them.
var requestSamples = []string{
	`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
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
}

func TestAppendRequest(t *testing.T) {
	for _, s := range requestSamples {
		for _, stream := range []bool{false, true} {
			t.Run(s[:min(len(s), 40)], func(t *testing.T) {
				var req llm.Request
				require.NoError(t, json.Unmarshal([]byte(s), &req))
				want, err := encodingJSON(t, &req, stream)
				require.NoError(t, err)
				got, ok := appendRequest(nil, &req, stream)
				require.True(t, ok, "the fast path declined a common request")
				assert.Equal(t, string(want), string(got))
			})
		}
	}
}

func TestAppendRequestDeclines(t *testing.T) {
	nan, one := math.NaN(), 1.0
	tests := []struct {
		name string
		give func(*llm.Request)
	}{
		{"content parts", func(r *llm.Request) {
			r.Messages[0].Content = llm.PartsContent(llm.ContentPart{Type: llm.PartText, Text: "a"})
		}},
		{"logit bias", func(r *llm.Request) { r.LogitBias = map[string]float64{"1": one} }},
		{"metadata", func(r *llm.Request) { r.Metadata = map[string]string{"k": "v"} }},
		{"nan", func(r *llm.Request) { r.Temperature = &nan }},
		{"bad raw json", func(r *llm.Request) { r.ResponseFormat = json.RawMessage(`{"type":`) }},
		{"bad tool schema", func(r *llm.Request) {
			r.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDecl{Name: "f", Parameters: json.RawMessage(`nope`)}}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := testRequest()
			tt.give(req)
			_, ok := appendRequest(nil, req, false)
			assert.False(t, ok)
		})
	}
}

// TestRequestBodyFallback checks that what the fast path declines still
// goes out, through encoding/json.
func TestRequestBodyFallback(t *testing.T) {
	req := testRequest()
	req.Metadata = map[string]string{"tenant": "acme"}
	b, err := newReqBody(req, true)
	require.NoError(t, err)
	defer b.release()
	want, err := encodingJSON(t, req, true)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(b.data))
}

func FuzzAppendRequest(f *testing.F) {
	for _, s := range requestSamples {
		f.Add([]byte(s), "plain")
	}
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`), "\xff\u2028<&>")
	f.Add([]byte(`{"model":"m","response_format":{ "a" : [ 1 , 2.5e10 , "x y" ] }}`), "\x00\x1f\"\\")
	f.Fuzz(func(t *testing.T, data []byte, s string) {
		var req llm.Request
		if json.Unmarshal(data, &req) != nil {
			return
		}
		// Raw strings reach fields no JSON decoder would fill with invalid
		// UTF-8; the engine builds such messages itself.
		req.Messages = append(req.Messages, llm.Message{
			Role: s, Content: llm.Text(s), Name: s,
			ToolCalls: []llm.ToolCall{{ID: s, Type: "function", Function: llm.FunctionCall{Name: s, Arguments: s}}},
		})
		req.User = s
		for _, stream := range []bool{false, true} {
			got, ok := appendRequest(nil, &req, stream)
			want, err := encodingJSON(t, &req, stream)
			if !ok {
				continue // encoding/json decides
			}
			if err != nil {
				t.Fatalf("fast path encoded what encoding/json rejects (%v)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("fast path differs from encoding/json:\n got %q\nwant %q", got, want)
			}
		}
	})
}

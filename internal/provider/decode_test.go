package provider

import (
	"encoding/json"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// chunkSamples are real-world chunk shapes; the fast path must take them.
var chunkSamples = []string{
	chunkJSON("Hello"),
	usageChunkJSON,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"obfuscation":"x1"}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_order","arguments":""}}]},"finish_reason":null}]}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"order_id\":\"1234\"}"}}]},"finish_reason":null}]}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":null}`,
	`{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false}}}]}`,
	`{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"delta":{"content":" there"},"finish_reason":null,"index":0,"logprobs":null}],"created":1,"id":"c","model":"gpt-4o","object":"chat.completion.chunk","system_fingerprint":"fp"}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"caf\u00e9 \u003cb\u003e \ud83d\ude00 \"q\" \\ \/ \n\t\r\b\f é"},"finish_reason":null}]}`,
	` { "id" : "c" , "choices" : [ { "index" : 0 , "logprobs" : { "content" : [ { "token" : "a" , "logprob" : -0.5e-3 , "bytes" : [ 97 ] } ] } } ] } `,
	`{"id":"c","object":"chat.completion.chunk","created":-1,"model":"m","choices":[{"index":0,"delta":{"content":"x"},"stop_reason":null,"token_ids":null}],"service_tier":"default"}`,
	`{"choices":[null,{"index":1,"delta":null,"logprobs":[]}],"usage":{"prompt_tokens":null,"prompt_tokens_details":null}}`,
	`{"choices":[{"delta":{"tool_calls":[null,{"function":null,"index":-0}]}}],"created":-9223372036854775808}`,
	`{"":1,"id":null,"model":"\u0000\uD83D\uDE00","x":{"y":[true,false,null,-1.5E+3,"\\"]}}`,
}

// chunkDeclined are inputs the fast path must leave to encoding/json.
var chunkDeclined = []string{
	`{"error":{"message":"boom"}}`,
	`{"id":"a","id":"b"}`,
	`{"ID":"a"}`,
	`{"Choices":[]}`,
	`{"choices":[{"index":1.0}]}`,
	`{"created":1e3}`,
	`{"created":99999999999999999999}`,
	`{"id":"\ud83d"}`,
	"{\"id\":\"\xff\"}",
	`{"id":"a"} x`,
	`{"id":"a",}`,
	`{"id":'a'}`,
	`{"id":"a\'"}`,
	"{\"id\":\"a\tb\"}",
	`{"k\u0065y":1}`,
	`{"choices":{"index":0}}`,
	`{"usage":5}`,
}

func TestFastChunk(t *testing.T) {
	for _, s := range chunkSamples {
		t.Run("fast/"+s[:min(len(s), 40)], func(t *testing.T) {
			var dec chunkDecoder
			got, ok := dec.fast([]byte(s))
			require.True(t, ok, "the fast path declined a common chunk")
			var want chunkWire
			require.NoError(t, json.Unmarshal([]byte(s), &want))
			assert.Empty(t, cmp.Diff(&want.Chunk, got))
		})
	}
	for _, s := range chunkDeclined {
		t.Run("declined/"+s, func(t *testing.T) {
			var dec chunkDecoder
			_, ok := dec.fast([]byte(s))
			assert.False(t, ok)
		})
	}
}

func TestChunkDecoderInterns(t *testing.T) {
	var dec chunkDecoder
	a, err := dec.decode([]byte(chunkJSON("a")))
	require.NoError(t, err)
	b, err := dec.decode([]byte(chunkJSON("b")))
	require.NoError(t, err)
	assert.Equal(t, a.ID, b.ID)
	assert.Same(t, unsafe.StringData(a.ID), unsafe.StringData(b.ID), "repeated ids share one string")
	assert.Same(t, unsafe.StringData(a.Object), unsafe.StringData(b.Object))
}

func FuzzFastChunk(f *testing.F) {
	for _, s := range append(append([]string{}, chunkSamples...), chunkDeclined...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var dec chunkDecoder
		got, ok := dec.fast(data)
		var want chunkWire
		err := json.Unmarshal(data, &want)
		if !ok {
			return // encoding/json decides
		}
		if err != nil {
			t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", err, data)
		}
		if present(want.Error) {
			t.Fatalf("fast path accepted an error object: %q", data)
		}
		if d := cmp.Diff(&want.Chunk, got); d != "" {
			t.Fatalf("fast path differs from encoding/json on %q:\n%s", data, d)
		}
	})
}

// responseSamples are real-world answer shapes; the fast path must take them.
var responseSamples = []string{
	completionJSON,
	`{"id":"chatcmpl-B","object":"chat.completion","created":1741569952,"model":"gpt-4.1-2025-04-14","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I assist you today?","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default"}`,
	`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_order","arguments":"{\"order_id\":\"1234\"}"}},{"index":1,"id":"call_2","type":"function","function":{"name":"track","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`,
	`{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"finish_reason":"stop","index":0,"logprobs":null,"message":{"content":"Hi \u00e9\ud83d\ude00","role":"assistant"}}],"created":1,"id":"c","model":"gpt-4o","object":"chat.completion","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}],"system_fingerprint":"fp","usage":{"completion_tokens":1,"prompt_tokens":2,"total_tokens":3}}`,
	`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"","reasoning_content":"think"},"finish_reason":"length","stop_reason":null}],"usage":null}`,
}

// responseDeclined are answers the fast path must leave to encoding/json.
var responseDeclined = []string{
	`{"error":{"message":"boom"}}`,
	`{"choices":[{"message":{"content":[{"type":"text","text":"a"}]}}]}`,
	`{"choices":[{"message":{"content":5}}]}`,
	`{"choices":[{"message":{"Role":"assistant"}}]}`,
	`{"choices":[{"index":0,"index":1}]}`,
	`{"choices":[{"finish_reason":null,"message":{"tool_calls":[{"id":1}]}}]}`,
}

func TestFastResponse(t *testing.T) {
	for _, s := range responseSamples {
		t.Run("fast/"+s[:min(len(s), 40)], func(t *testing.T) {
			got, ok := fastResponse([]byte(s))
			require.True(t, ok, "the fast path declined a common answer")
			var want responseWire
			require.NoError(t, json.Unmarshal([]byte(s), &want))
			assert.Empty(t, cmp.Diff(&want.Response, got, cmp.AllowUnexported(llm.Content{})))
		})
	}
	for _, s := range responseDeclined {
		t.Run("declined/"+s, func(t *testing.T) {
			_, ok := fastResponse([]byte(s))
			assert.False(t, ok)
		})
	}
}

func FuzzFastResponse(f *testing.F) {
	for _, s := range append(append([]string{}, responseSamples...), responseDeclined...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := fastResponse(data)
		var want responseWire
		err := json.Unmarshal(data, &want)
		if !ok {
			return // encoding/json decides
		}
		if err != nil {
			t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", err, data)
		}
		if present(want.Error) {
			t.Fatalf("fast path accepted an error object: %q", data)
		}
		if d := cmp.Diff(&want.Response, got, cmp.AllowUnexported(llm.Content{})); d != "" {
			t.Fatalf("fast path differs from encoding/json on %q:\n%s", data, d)
		}
	})
}

package llm

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
)

// The benchmarks compare the codec with encoding/json on the hot path's
// shapes: a typical 1 KiB agent request, a mid-stream content chunk, a
// complete answer, and the requests a provider sends upstream. Compare runs
// with benchstat.

// benchPair runs the codec and encoding/json doing the same work, and
// reports the time per unit, an operation standing for per units.
func benchPair(b *testing.B, unit string, per, size int, codec, std func() error) {
	for _, v := range []struct {
		name string
		run  func() error
	}{{"codec", codec}, {"encoding_json", std}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			if size > 0 {
				b.SetBytes(int64(size))
			}
			for b.Loop() {
				if err := v.run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), unit)
		})
	}
}

// encodeWith returns an encoding/json run that encodes v as the codec's
// reference does, into a reused buffer.
func encodeWith(v any) func() error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	return func() error {
		buf.Reset()
		return enc.Encode(v)
	}
}

// appendWith returns a codec run that appends with fn into a reused buffer.
func appendWith(fn func([]byte) ([]byte, error)) func() error {
	buf := make([]byte, 0, 8<<10)
	return func() error {
		var err error
		buf, err = fn(buf[:0])
		return err
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	body := []byte(typicalBody)
	benchPair(b, "ns/req", 1, len(body),
		func() error { _, err := DecodeRequest(body, DecodeOptions{}); return err },
		func() error { var r Request; return json.Unmarshal(body, &r) })
}

// benchChunk is a mid-stream content chunk as OpenAI sends it, with the
// members the codec does not keep (obfuscation).
const benchChunk = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" order"},"logprobs":null,"finish_reason":null}],"obfuscation":"x7kQ2"}`

func BenchmarkDecodeChunk(b *testing.B) {
	data := []byte(benchChunk)
	var cd ChunkDecoder
	benchPair(b, "ns/chunk", 1, len(data),
		func() error { _, err := cd.Decode(data); return err },
		func() error { var w chunkWire; return json.Unmarshal(data, &w) })
}

func BenchmarkDecodeResponse(b *testing.B) {
	data := []byte(responseSamples[1])
	benchPair(b, "ns/resp", 1, len(data),
		func() error { _, err := DecodeResponse(data); return err },
		func() error { var w responseWire; return json.Unmarshal(data, &w) })
}

// BenchmarkDecodeLongPrompt is a request dominated by long strings: a 4 KiB
// system prompt and a 2 KiB tool result.
func BenchmarkDecodeLongPrompt(b *testing.B) {
	prompt := bytes.Repeat([]byte("You are a careful support agent; quote order numbers verbatim. "), 64)
	result := bytes.Repeat([]byte(`{\"sku\":\"A-1\",\"qty\":2,\"status\":\"shipped\"},`), 48)
	body := []byte(`{"model":"m","messages":[{"role":"system","content":"` + string(prompt) + `"},{"role":"tool","tool_call_id":"c1","content":"[` + string(result) + `]"}]}`)
	benchPair(b, "ns/req", 1, len(body),
		func() error { _, err := DecodeRequest(body, DecodeOptions{}); return err },
		func() error { var r Request; return json.Unmarshal(body, &r) })
}

// benchRequest is an agent conversation of n messages with a tool, as the
// provider sends it upstream.
func benchRequest(n int) *Request {
	req := &Request{Model: "gpt-4o-mini", Messages: []Message{
		{Role: RoleSystem, Content: Text("You are Acme's support agent. Use the tools; never invent an order status.")},
		{Role: RoleUser, Content: Text("Where is my order 1234?")},
	}, Tools: []Tool{{Type: "function", Function: FunctionDecl{
		Name: "get_order", Description: "Look an order up by its number.",
		Parameters: json.RawMessage(`{"type":"object","properties":{"order_id":{"type":"string"}},"required":["order_id"]}`),
	}}}, Stream: true, StreamOptions: &StreamOptions{IncludeUsage: true}}
	for len(req.Messages) < n {
		req.Messages = append(req.Messages, Message{Role: RoleAssistant, Content: Text("Your order 1234 left our warehouse this morning and arrives Friday.")})
	}
	return req
}

func BenchmarkAppendRequest(b *testing.B) {
	for _, n := range []int{2, 20} {
		req := benchRequest(n)
		b.Run(strconv.Itoa(n)+"msgs", func(b *testing.B) {
			benchPair(b, "ns/msg", n, 0,
				appendWith(func(dst []byte) ([]byte, error) { return AppendRequest(dst, req) }),
				encodeWith(req))
		})
	}
}

// BenchmarkAppendChunk is the per-token cost of a stream at the gateway: one
// mid-stream content chunk.
func BenchmarkAppendChunk(b *testing.B) {
	c := &Chunk{ID: "chatcmpl-1", Object: ObjectChatCompletionChunk, Created: 1700000000, Model: "large",
		Choices: []ChunkChoice{{Delta: Delta{Content: " order"}}}}
	benchPair(b, "ns/chunk", 1, 0,
		appendWith(func(dst []byte) ([]byte, error) { return AppendChunk(dst, c) }),
		encodeWith(c))
}

func BenchmarkAppendResponse(b *testing.B) {
	var r Response
	if err := json.Unmarshal([]byte(responseSamples[1]), &r); err != nil {
		b.Fatal(err)
	}
	benchPair(b, "ns/resp", 1, 0,
		appendWith(func(dst []byte) ([]byte, error) { return AppendResponse(dst, &r) }),
		encodeWith(&r))
}

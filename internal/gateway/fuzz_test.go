package gateway

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// typicalBody is a realistic 1 KiB agent turn: system prompt, a tool call and
// its result, two tools with JSON Schemas.
const typicalBody = `{"model":"gpt-4o","messages":[` +
	`{"role":"system","content":"You are a helpful customer-service agent for Acme Shop. Be concise and polite."},` +
	`{"role":"user","content":"Where is my order 12345? It was supposed to arrive yesterday."},` +
	`{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123","type":"function","function":{"name":"get_order","arguments":"{\"order_id\":\"12345\"}"}}]},` +
	`{"role":"tool","tool_call_id":"call_abc123","content":"{\"status\":\"shipped\",\"eta\":\"2025-01-03\"}"}],` +
	`"tools":[{"type":"function","function":{"name":"get_order","description":"Look up an order by its id","parameters":{"type":"object","properties":{"order_id":{"type":"string","description":"The order id"}},"required":["order_id"]}}},` +
	`{"type":"function","function":{"name":"refund","description":"Refund an order","parameters":{"type":"object","properties":{"order_id":{"type":"string"},"reason":{"type":"string"}},"required":["order_id"]}}}],` +
	`"tool_choice":"auto","temperature":0.2,"max_tokens":512,"stream":false,"user":"u-42"}`

// normalizeSeeds are bodies that meet the policy and the validation: model
// aliases, tier caps and strips, response formats, tool choices, roles. The
// JSON decoding itself is llm's, fuzzed there; testdata/fuzz/FuzzNormalize
// holds the shapes of bodies clients send.
var normalizeSeeds = []string{
	typicalBody,
	`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"n":5,"max_tokens":5000,"logit_bias":{"1":1},"logprobs":true,"top_logprobs":2,"store":true,"service_tier":"flex"}`,
	`{"model":"small","messages":[{"role":"developer","content":"x"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:x"}}]}],"max_completion_tokens":0}`,
	`{"model":"large","messages":[{"role":"user","content":"x"}],"response_format":{"TYPE":"json_schema","json_schema":null}}`,
	`{"model":"large","messages":[{"role":"user","content":"x"}],"response_format":{"type":"text","type":"json_object"}}`,
	`{"model":"other","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":""}],"tools":[{"type":"function","function":{"name":"f","parameters":null}}],"tool_choice":{"type":"function","function":{"name":"g"}}}`,
	`{"model":"m","messages":[{"role":"robot","content":"x"}],"stop":["a","b","c","d","e"],"temperature":2.5,"stream_options":{"include_usage":true}}`,
	`{"model":"nope","messages":[{"role":"user","content":"x"}]}`,
	"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}",
}

func fuzzPolicy() *Policy {
	return &Policy{
		MaxMessages: 64,
		Resolve: func(m string) (string, bool) {
			switch m {
			case "large", "gpt-4o":
				return "large", true
			case "small", "gpt-4o-mini":
				return "small", true
			case "m", "other":
				return m, true
			}
			return "", false
		},
		Tier: Tier{MaxOutputTokens: 1000, DefaultOutputTokens: 100, MaxN: 2, Models: []string{"large", "small", "m"}},
	}
}

// FuzzNormalize: whatever the body, Normalize does not panic and returns
// either a valid request or a 4xx *llm.Error; a request it returns is a
// fixed point (normalising it again changes nothing).
func FuzzNormalize(f *testing.F) {
	for _, s := range normalizeSeeds {
		f.Add([]byte(s))
	}
	p := fuzzPolicy()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, notes, err := Normalize(body, p)
		if err != nil {
			e, ok := err.(*llm.Error)
			if !ok {
				t.Fatalf("error is %T, not *llm.Error: %v", err, err)
			}
			if st := e.HTTPStatus(); st < 400 || st > 499 {
				t.Fatalf("status %d for %q: %v", st, body, err)
			}
			if e.Message == "" {
				t.Fatalf("error without message for %q", body)
			}
			if req != nil || notes != nil {
				t.Fatal("request or notes returned with an error")
			}
			return
		}
		if req.Model == "" || len(req.Messages) == 0 || len(req.Messages) > 64 {
			t.Fatalf("invalid request accepted from %q", body)
		}
		if req.MaxOutputTokens() < 1 || req.MaxOutputTokens() > 1000 || req.N != nil && *req.N > 2 ||
			req.LogitBias != nil || req.Logprobs != nil || req.Store != nil || req.ServiceTier != "" {
			t.Fatalf("tier not applied to %q", body)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		req2, notes2, err := Normalize(again, p)
		if err != nil {
			t.Fatalf("normalised request %s refused: %v", again, err)
		}
		if notes2 != nil {
			t.Fatalf("normalised request %s changed again: %v", again, notes2)
		}
		again2, _ := json.Marshal(req2)
		if !bytes.Equal(again, again2) {
			t.Fatalf("not a fixed point:\n%s\n%s", again, again2)
		}
	})
}

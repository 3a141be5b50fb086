package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// decodeSeeds are request bodies well-formed and not, of every field and
// JSON shape.
var decodeSeeds = []string{
	`{"model":"small","messages":[{"role":"user","content":"hi"}]}`,
	string(benchAnswerBody),
	string(benchStreamBody),
	`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:x","detail":"low"}}]}]}`,
	`{"model":"m","messages":[],"stop":"END","tool_choice":"auto","max_tokens":5,"max_completion_tokens":null}`,
	`{"model":"m","messages":[null,{"role":"tool","content":null}],"stop":["a",null],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
	`{"MODEL":"m","Messages":[{"ROLE":"user","content":"\u00e9\ud83d\ude00\ud800 \"q\" \\ \/ \b\f\n\r\t"}],"model":null,"stream":true,"stream":null}`,
	`{"model":"m","temperature":0.7,"n":1,"logit_bias":{"1":-100},"response_format":{"type":"json_object"},"metadata":{"a":"b"},"seed":-3e10}`,
	`null`,
	`{"model":"a","model":"b","parallel_tool_calls":false,"stream_options":{"include_usage":true}}`,
	`{"model":5}`, `{"messages":{}}`, `{"max_tokens":1.5}`, `{"max_tokens":1e3}`, `[1,2]`, `"x"`, `{"model":"m",}`,
	`{"model":"m"} x`, `{"model":"\x01"}`, `{"model":"\ud800"}`, "{\"model\":\"\xff\xfe\"}", `{"a":[1,2,]}`, `{"a":01}`, `{"a":-}`,
	`{"tools":[{"type":"function","function":{"name":"f","parameters":null,"strict":true}}]}`,
	`{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}},null]}]}`,
	``, ` `, `{`, `{"a"`, `{"a":`, `{"a":1`, `tru`, `nul`,
}

// FuzzChatCompletion posts arbitrary bodies: the handler never panics,
// answers every malformed body with a 4xx in OpenAI's error shape, and
// every accepted one with a well-formed completion.
func FuzzChatCompletion(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"model":"small","messages":[{"role":"user","content":"Where is my order 100123?"}],"tools":` + shopToolsJSON + `}`))
	f.Add([]byte(`{"model":"small","stream":true,"messages":[{"role":"user","content":"summarize"}],"max_tokens":3}`))
	s, err := New(Config{TimeScale: NoDelay, Models: []Model{{Name: "small", ContextWindow: 4096}}})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(string(body))))
		switch {
		case rec.Code == http.StatusOK && strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream"):
			events := strings.Split(strings.TrimSuffix(rec.Body.String(), "\n\n"), "\n\n")
			if events[len(events)-1] != "data: [DONE]" {
				t.Fatalf("stream does not end in [DONE]: %q", rec.Body.String())
			}
			for _, ev := range events[:len(events)-1] {
				var c llm.Chunk
				if err := json.Unmarshal([]byte(strings.TrimPrefix(ev, "data: ")), &c); err != nil {
					t.Fatalf("bad chunk %q: %v", ev, err)
				}
			}
		case rec.Code == http.StatusOK:
			var r llm.Response
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || len(r.Choices) != 1 {
				t.Fatalf("bad response %q: %v", rec.Body.String(), err)
			}
			for _, c := range r.Choices[0].Message.ToolCalls {
				if !json.Valid([]byte(c.Function.Arguments)) {
					t.Fatalf("invalid tool arguments %q", c.Function.Arguments)
				}
			}
		case rec.Code >= 400 && rec.Code < 500:
			var eb llm.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Message == "" {
				t.Fatalf("bad error body %q: %v", rec.Body.String(), err)
			}
			if !json.Valid(body) && rec.Code != http.StatusBadRequest {
				t.Fatalf("malformed body answered %d", rec.Code)
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}

package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// user wraps extra top-level members into a minimal valid request.
func user(extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return `{"model":"m","messages":[{"role":"user","content":"hi"}]` + extra + `}`
}

func TestNormalizeValid(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string // the request as sent on, re-encoded
	}{
		{"minimal", user(""), user("")},
		{"unknown fields dropped", user(`"frobnicate":{"x":[1]}`), user("")},
		{"all roles and parts", `{"model":"m","messages":[` +
			`{"role":"developer","content":"d"},{"role":"system","content":[{"type":"text","text":"s"}]},` +
			`{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},` +
			`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},` +
			`{"role":"tool","tool_call_id":"c1","content":""},{"role":"assistant","refusal":"no"}],` +
			`"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
			`{"model":"m","messages":[` +
				`{"role":"developer","content":"d"},{"role":"system","content":[{"type":"text","text":"s"}]},` +
				`{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},` +
				`{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},` +
				`{"role":"tool","content":"","tool_call_id":"c1"},{"role":"assistant","refusal":"no"}],` +
				`"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`},
		{"null parameters dropped", user(`"tools":[{"type":"function","function":{"name":"f","parameters":null}}]`),
			user(`"tools":[{"type":"function","function":{"name":"f"}}]`)},
		{"null response_format dropped", user(`"response_format":null`), user("")},
		{"bounds inclusive", user(`"temperature":2,"top_p":1,"presence_penalty":-2,"frequency_penalty":2,"n":1,"max_tokens":1,"stop":["a","b","c","d"]`),
			user(`"max_tokens":1,"temperature":2,"top_p":1,"n":1,"stop":["a","b","c","d"],"presence_penalty":-2,"frequency_penalty":2`)},
		{"stream with options", user(`"stream":true,"stream_options":{"include_usage":true}`), user(`"stream":true,"stream_options":{"include_usage":true}`)},
		{"json schema", user(`"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}}`),
			user(`"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}}`)},
		{"false store and logprobs dropped quietly", user(`"store":false,"logprobs":false`), user("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, notes, err := Normalize([]byte(tt.give), &Policy{Tier: Tier{MaxN: 1}})
			require.NoError(t, err)
			assert.Empty(t, notes)
			b, err := json.Marshal(got)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(b))
		})
	}
}

func TestNormalizeInvalid(t *testing.T) {
	tests := []struct {
		name      string
		give      string
		wantParam string
		wantCode  string
	}{
		{"empty body", ``, "", ""},
		{"whitespace body", " \n", "", ""},
		{"null", `null`, "", ""},
		{"array", `[{"model":"m"}]`, "", ""},
		{"string", `"hello"`, "", ""},
		{"non-UTF-8", "{\"model\":\"m\xff\"}", "", ""},
		{"truncated", user("")[:30], "", "invalid_json"},
		{"trailing data", user("") + `{}`, "", "invalid_json"},
		{"too deep", `{"x":` + strings.Repeat("[", 10000), "", "invalid_json"},
		{"no model", `{"messages":[{"role":"user","content":"x"}]}`, "model", "missing_required_parameter"},
		{"no messages", `{"model":"m"}`, "messages", "missing_required_parameter"},
		{"empty messages", `{"model":"m","messages":[]}`, "messages", "empty_array"},
		{"too many messages", `{"model":"m","messages":[` + strings.Repeat(`{"role":"user","content":"x"},`, 4096) + `{"role":"user","content":"x"}]}`, "messages", "array_above_max_length"},
		{"null message", `{"model":"m","messages":[null]}`, "messages[0].role", "missing_required_parameter"},
		{"unknown role", `{"model":"m","messages":[{"role":"robot","content":"x"}]}`, "messages[0].role", "invalid_value"},
		{"user without content", `{"model":"m","messages":[{"role":"user"}]}`, "messages[0].content", "missing_required_parameter"},
		{"system null content", `{"model":"m","messages":[{"role":"system","content":null}]}`, "messages[0].content", "missing_required_parameter"},
		{"user empty parts", `{"model":"m","messages":[{"role":"user","content":[]}]}`, "messages[0].content", "empty_array"},
		{"empty assistant", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant"}]}`, "messages[1].content", "missing_required_parameter"},
		{"tool without call id", `{"model":"m","messages":[{"role":"tool","content":"x"}]}`, "messages[0].tool_call_id", "missing_required_parameter"},
		{"tool call without id", `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f"}}]}]}`, "messages[0].tool_calls[0].id", "missing_required_parameter"},
		{"tool call wrong type", `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"code","function":{"name":"f"}}]}]}`, "messages[0].tool_calls[0].type", "invalid_value"},
		{"tool call without name", `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"arguments":"{}"}}]}]}`, "messages[0].tool_calls[0].function.name", "missing_required_parameter"},
		{"unknown part", `{"model":"m","messages":[{"role":"user","content":[{"type":"video"}]}]}`, "messages[0].content[0].type", "invalid_value"},
		{"part without type", `{"model":"m","messages":[{"role":"user","content":[{"text":"x"}]}]}`, "messages[0].content[0].type", "missing_required_parameter"},
		{"text part without text", `{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}`, "messages[0].content[0].text", "missing_required_parameter"},
		{"image without url", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}`, "messages[0].content[0].image_url.url", "missing_required_parameter"},
		{"wrong-typed content", `{"model":"m","messages":[{"role":"user","content":{"text":"x"}}]}`, "messages[0].content", "invalid_type"},
		{"wrong-typed temperature", user(`"temperature":"0.5"`), "temperature", "invalid_type"},
		{"wrong-typed stream", user(`"stream":"yes"`), "stream", "invalid_type"},
		{"duplicate key", user(`"model":"n"`), "model", "duplicate_key"},
		{"temperature high", user(`"temperature":2.5`), "temperature", "invalid_value"},
		{"temperature negative", user(`"temperature":-0.1`), "temperature", "invalid_value"},
		{"top_p zero", user(`"top_p":0`), "top_p", "invalid_value"},
		{"top_p high", user(`"top_p":1.01`), "top_p", "invalid_value"},
		{"n zero", user(`"n":0`), "n", "invalid_value"},
		{"max_tokens zero", user(`"max_tokens":0`), "max_tokens", "invalid_value"},
		{"max_completion_tokens negative", user(`"max_completion_tokens":-5`), "max_completion_tokens", "invalid_value"},
		{"presence penalty", user(`"presence_penalty":-2.5`), "presence_penalty", "invalid_value"},
		{"frequency penalty", user(`"frequency_penalty":3`), "frequency_penalty", "invalid_value"},
		{"top_logprobs high", user(`"top_logprobs":21`), "top_logprobs", "invalid_value"},
		{"five stops", user(`"stop":["a","b","c","d","e"]`), "stop", "array_above_max_length"},
		{"tool wrong type", user(`"tools":[{"type":"retrieval","function":{"name":"f"}}]`), "tools[0].type", "invalid_value"},
		{"tool without type", user(`"tools":[{"function":{"name":"f"}}]`), "tools[0].type", "missing_required_parameter"},
		{"tool bad name", user(`"tools":[{"type":"function","function":{"name":"get order"}}]`), "tools[0].function.name", "invalid_value"},
		{"tool long name", user(`"tools":[{"type":"function","function":{"name":"` + strings.Repeat("a", 65) + `"}}]`), "tools[0].function.name", "invalid_value"},
		{"tool no name", user(`"tools":[{"type":"function","function":{}}]`), "tools[0].function.name", "missing_required_parameter"},
		{"tool duplicate", user(`"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}]`), "tools[1].function.name", "duplicate_tool_name"},
		{"tool parameters not object", user(`"tools":[{"type":"function","function":{"name":"f","parameters":[]}}]`), "tools[0].function.parameters", "invalid_value"},
		{"too many tools", user(`"tools":[` + manyTools(129) + `]`), "tools", "array_above_max_length"},
		{"tool_choice without tools", user(`"tool_choice":"auto"`), "tool_choice", "invalid_value"},
		{"tool_choice unknown mode", user(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"always"`), "tool_choice", "invalid_value"},
		{"tool_choice unknown tool", user(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}`), "tool_choice", "invalid_value"},
		{"stream_options without stream", user(`"stream_options":{"include_usage":true}`), "stream_options", "invalid_value"},
		{"response_format unknown", user(`"response_format":{"type":"xml"}`), "response_format.type", "invalid_value"},
		{"response_format no type", user(`"response_format":{}`), "response_format.type", "missing_required_parameter"},
		{"response_format string", user(`"response_format":"json"`), "response_format", "invalid_value"},
		{"response_format schema missing", user(`"response_format":{"type":"json_schema"}`), "response_format.json_schema", "missing_required_parameter"},
		{"response_format type wrong", user(`"response_format":{"type":1}`), "response_format.type", "invalid_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := Normalize([]byte(tt.give), &Policy{})
			require.Error(t, err)
			assert.Nil(t, got)
			e := llm.AsError(err)
			assert.Equal(t, http.StatusBadRequest, e.HTTPStatus())
			assert.Equal(t, llm.TypeInvalidRequest, e.ErrorType())
			assert.Equal(t, tt.wantParam, e.Param)
			assert.Equal(t, tt.wantCode, e.Code)
			assert.NotEmpty(t, e.Message)
		})
	}
}

func manyTools(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"type":"function","function":{"name":"f` + strings.Repeat("x", i%60) + string(rune('a'+i%26)) + `"}}`)
	}
	return b.String()
}

func TestNormalizeLimits(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		policy  Policy
		wantErr bool
	}{
		{"messages within configured limit", `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`, Policy{MaxMessages: 2}, false},
		{"messages over configured limit", `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`, Policy{MaxMessages: 1}, true},
		{"depth within configured limit", user(`"x":[[1]]`), Policy{MaxJSONDepth: 5}, false},
		{"depth over configured limit", user(`"x":[[[[[1]]]]]`), Policy{MaxJSONDepth: 5}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Normalize([]byte(tt.give), &tt.policy)
			assert.Equal(t, tt.wantErr, err != nil, "error: %v", err)
		})
	}
}

func TestNormalizeModel(t *testing.T) {
	resolve := func(m string) (string, bool) {
		switch m {
		case "large", "gpt-4o":
			return "large", true
		case "small", "gpt-4o-mini":
			return "small", true
		}
		return "", false
	}
	tests := []struct {
		name       string
		give       string
		tier       Tier
		wantModel  string
		wantNotes  []string
		wantStatus int
		wantCode   string
	}{
		{"canonical", "large", Tier{}, "large", nil, 0, ""},
		{"alias", "gpt-4o", Tier{}, "large", []string{"model gpt-4o resolved to large"}, 0, ""},
		{"unknown", "gpt-5", Tier{}, "", nil, http.StatusNotFound, "model_not_found"},
		{"allowed by tier", "gpt-4o-mini", Tier{Models: []string{"small"}}, "small", []string{"model gpt-4o-mini resolved to small"}, 0, ""},
		{"refused by tier", "gpt-4o", Tier{Models: []string{"small"}}, "", nil, http.StatusForbidden, "model_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"model":"` + tt.give + `","messages":[{"role":"user","content":"hi"}]}`
			got, notes, err := Normalize([]byte(body), &Policy{Resolve: resolve, Tier: tt.tier})
			if tt.wantStatus != 0 {
				require.Error(t, err)
				e := llm.AsError(err)
				assert.Equal(t, tt.wantStatus, e.HTTPStatus())
				assert.Equal(t, tt.wantCode, e.Code)
				assert.Equal(t, "model", e.Param)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantModel, got.Model)
			assert.Equal(t, tt.wantNotes, notes)
		})
	}
	_, _, err := Normalize([]byte(user("")), &Policy{Tier: Tier{Models: []string{"small"}}})
	assert.Equal(t, llm.TypePermission, llm.AsError(err).ErrorType(), "403s are permission errors")
}

func TestNormalizeTier(t *testing.T) {
	tests := []struct {
		name      string
		give      string
		tier      Tier
		want      string
		wantNotes []string
	}{
		{"max_completion_tokens capped", `"max_completion_tokens":10000`, Tier{MaxOutputTokens: 4096},
			`"max_completion_tokens":4096`, []string{"max_completion_tokens capped to 4096"}},
		{"max_tokens capped and kept", `"max_tokens":10000`, Tier{MaxOutputTokens: 4096},
			`"max_tokens":4096`, []string{"max_tokens capped to 4096"}},
		{"under cap untouched", `"max_tokens":100`, Tier{MaxOutputTokens: 4096}, `"max_tokens":100`, nil},
		{"both folded, smaller wins", `"max_tokens":50,"max_completion_tokens":100`, Tier{},
			`"max_completion_tokens":50`, []string{"max_tokens folded into max_completion_tokens"}},
		{"both folded then capped", `"max_tokens":9000,"max_completion_tokens":8000`, Tier{MaxOutputTokens: 1000},
			`"max_completion_tokens":1000`, []string{"max_tokens folded into max_completion_tokens", "max_completion_tokens capped to 1000"}},
		{"default filled", ``, Tier{DefaultOutputTokens: 512},
			`"max_completion_tokens":512`, []string{"max_completion_tokens set to 512"}},
		{"default not over client's", `"max_tokens":20`, Tier{DefaultOutputTokens: 512}, `"max_tokens":20`, nil},
		{"n capped to default 1", `"n":3`, Tier{}, `"n":1`, []string{"n capped to 1"}},
		{"n capped to tier", `"n":9`, Tier{MaxN: 4}, `"n":4`, []string{"n capped to 4"}},
		{"n within tier", `"n":3`, Tier{MaxN: 4}, `"n":3`, nil},
		{"logit_bias removed", `"logit_bias":{"42":10}`, Tier{}, ``, []string{"logit_bias removed"}},
		{"logit_bias allowed", `"logit_bias":{"42":10}`, Tier{AllowLogitBias: true}, `"logit_bias":{"42":10}`, nil},
		{"logprobs removed", `"logprobs":true,"top_logprobs":2`, Tier{}, ``, []string{"logprobs removed"}},
		{"logprobs allowed", `"logprobs":true,"top_logprobs":2`, Tier{AllowLogprobs: true}, `"logprobs":true,"top_logprobs":2`, nil},
		{"service_tier removed", `"service_tier":"priority"`, Tier{}, ``, []string{"service_tier removed"}},
		{"service_tier allowed", `"service_tier":"priority"`, Tier{AllowServiceTier: true}, `"service_tier":"priority"`, nil},
		{"store removed", `"store":true`, Tier{}, ``, []string{"store removed"}},
		{"store allowed", `"store":true`, Tier{AllowStore: true}, `"store":true`, nil},
		{"several at once", `"n":2,"store":true,"logit_bias":{"1":1},"max_tokens":99`, Tier{MaxOutputTokens: 10},
			`"n":1,"max_tokens":10`, []string{"max_tokens capped to 10", "n capped to 1", "logit_bias removed", "store removed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, notes, err := Normalize([]byte(user(tt.give)), &Policy{Tier: tt.tier})
			require.NoError(t, err)
			assert.Equal(t, tt.wantNotes, notes)
			b, err := json.Marshal(got)
			require.NoError(t, err)
			assert.JSONEq(t, user(tt.want), string(b))
		})
	}
}

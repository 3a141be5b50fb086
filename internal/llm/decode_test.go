package llm

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// requestSeeds are bodies that exercise every field and shape of the
// request decoder, well-formed and not.
var requestSeeds = []string{
	typicalBody,
	`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a\n\"b\"\u00e9\ud83d\ude00"},{"type":"image_url","image_url":{"url":"data:x","detail":"low"}},{"type":"input_audio","input_audio":{"data":"AAA","format":"wav"}},{"type":"file","file":{"file_id":"f1","filename":"x.pdf"}}]}]}`,
	`{"model":"m","messages":[null,{"role":"assistant","content":null,"refusal":"no","name":"bot"}],"stop":"END","tool_choice":{"type":"function","function":{"name":"f"}},"tools":[{"type":"function","function":{"name":"f","strict":true,"parameters":null}}]}`,
	`{"model":"m","messages":[],"stop":["a","b"],"logit_bias":{"50256":-100,"1":null},"metadata":{"k":"v","e":null},"seed":-9223372036854775808,"n":2,"top_p":1e-3,"presence_penalty":-2,"frequency_penalty":2.0,"logprobs":true,"top_logprobs":3}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true},"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"}}},"reasoning_effort":"low","service_tier":"auto","store":false,"parallel_tool_calls":false,"max_completion_tokens":100}`,
	` { "MODEL" : "m" , "Messages" : [ ] , "ſtream" : true , "unknown" : {"a":[1,2,{"b":null}],"c":"\\"} } `,
	`{"mod\u0065l":"m","messages":null,"tools":null,"stream_options":null,"temperature":null,"stop":null,"tool_choice":null}`,
	`{"model":"m","messages":[{"role":"user","content":1}]}`,
	`{"model":"m","max_tokens":1.5}`,
	`{"model":"m","max_tokens":99999999999999999999}`,
	`{"temperature":1e400}`,
	`{"model":"m","model":"n"}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}]} x`,
	`{"model":"m",}`,
	`{"model":"m"`,
	`[1,2]`,
	`null`,
	``,
	`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	`{"model":"m","messages":[],"stop":"END","tool_choice":"auto","max_tokens":5,"max_completion_tokens":null}`,
	`{"model":"m","messages":[null,{"role":"tool","content":null}],"stop":["a",null],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
	`{"MODEL":"m","Messages":[{"ROLE":"user","content":"\u00e9\ud83d\ude00\ud800 \"q\" \\ \/ \b\f\n\r\t"}],"stream":true}`,
	`{"model":"\x01"}`, `{"model":"\ud800"}`, "{\"model\":\"\xff\xfe caf\xc3\xa9\"}", "{\"mod\xffel\":\"m\"}", `{"a":[1,2,]}`, `{"a":01}`, `{"a":-}`,
	`{"stop":[1]}`, `{"stop":["a",1,"b"]}`, `{"stop":["a",1,"b"`, `{"stop":true}`, `{"stop":[]}`, `{"stop":""}`,
	`{"tool_choice":{"type":"function","function":{"name":"a"},"function":{}}}`, `{"tool_choice":{"function":{"name":5}}}`,
	`{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}},null]}]}`,
	` `, `{`, `{"a"`, `{"a":`, `{"a":1`, `tru`, `nul`,
	"{\"max_to\u212Aens\":5,\"\u017Ftop\":\"x\",\"model\":\"m\",\"messages\":[]}", // Kelvin sign and long s fold to k and s
}

// checkDecodeRequest compares DecodeRequest with encoding/json on data,
// and with AllowDuplicateKeys with itself: the option changes nothing for a
// body without duplicates.
func checkDecodeRequest(t *testing.T, data []byte) {
	got, err := DecodeRequest(data, DecodeOptions{MaxDepth: 10000})
	lax, errLax := DecodeRequest(data, DecodeOptions{MaxDepth: 10000, AllowDuplicateKeys: true})
	if e, ok := err.(*Error); !ok || e.Code != "duplicate_key" {
		require.Equal(t, err, errLax, "AllowDuplicateKeys changed the outcome without a duplicate")
		require.Empty(t, cmp.Diff(got, lax, cmp.AllowUnexported(Content{}, Stop{})))
	} else if errLax != nil {
		require.NotEqual(t, "duplicate_key", errLax.(*Error).Code)
	}
	var std Request
	errStd := json.Unmarshal(data, &std)
	if err != nil {
		var e *Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, KindInvalidRequest, e.Kind)
		require.NotEmpty(t, e.Message)
		require.Nil(t, got)
		if e.Code == "duplicate_key" || errStd == nil && bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
			return // the deliberate refusals
		}
		require.Error(t, errStd, "DecodeRequest refused what encoding/json accepts: %v", err)
		return
	}
	require.NoError(t, errStd, "DecodeRequest accepted what encoding/json refuses")
	if d := cmp.Diff(&std, got, cmp.AllowUnexported(Content{}, Stop{})); d != "" {
		t.Fatalf("decoded %q differently (-encoding/json +DecodeRequest):\n%s", data, d)
	}
}

func TestDecodeRequestMatchesEncodingJSON(t *testing.T) {
	for _, s := range requestSeeds {
		t.Run(s[:min(len(s), 40)], func(t *testing.T) { checkDecodeRequest(t, []byte(s)) })
	}
}

// FuzzDecodeRequest checks that DecodeRequest accepts what encoding/json
// accepts into a Request and produces the same value, unexported shape
// included, apart from its deliberate refusals (duplicate keys, a bare
// null body).
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkDecodeRequest)
}

func TestDecodeRequestErrors(t *testing.T) {
	tests := []struct {
		name      string
		give      string
		wantParam string
		wantCode  string
		wantMsg   string
	}{
		{"content number", `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":1}]}`,
			"messages[1].content", "invalid_type", "Invalid type for 'messages[1].content': expected a string or an array of content parts, but got a number instead."},
		{"part type", `{"messages":[{"content":[{"type":"text","text":"a"},{"type":5}]}]}`,
			"messages[0].content[1].type", "invalid_type", "Invalid type for 'messages[0].content[1].type': expected a string, but got a number instead."},
		{"temperature string", `{"temperature":"hot"}`,
			"temperature", "invalid_type", "Invalid type for 'temperature': expected a number, but got a string instead."},
		{"max tokens decimal", `{"max_tokens":1.5}`,
			"max_tokens", "invalid_type", "Invalid type for 'max_tokens': expected an integer, but got a decimal number instead."},
		{"max tokens huge", `{"max_tokens":99999999999999999999}`,
			"max_tokens", "invalid_value", "Invalid value for 'max_tokens': integer 99999999999999999999 is out of range."},
		{"float overflow", `{"top_p":1e400}`,
			"top_p", "invalid_value", "Invalid value for 'top_p': number 1e400 is out of range."},
		{"tool parameters path", `{"tools":[{"type":"function","function":{"name":"f","strict":"yes"}}]}`,
			"tools[0].function.strict", "invalid_type", "Invalid type for 'tools[0].function.strict': expected a boolean, but got a string instead."},
		{"tool call arguments", `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"arguments":{}}}]}]}`,
			"messages[0].tool_calls[0].function.arguments", "invalid_type", "Invalid type for 'messages[0].tool_calls[0].function.arguments': expected a string, but got an object instead."},
		{"messages object", `{"messages":{}}`,
			"messages", "invalid_type", "Invalid type for 'messages': expected an array of messages, but got an object instead."},
		{"stop numbers", `{"stop":[1]}`, "stop", "invalid_value", "Invalid value for 'stop': expected a string or an array of strings."},
		{"stop boolean", `{"stop":true}`, "stop", "invalid_value", "Invalid value for 'stop': expected a string or an array of strings."},
		{"tool choice number", `{"tool_choice":1}`, "tool_choice", "invalid_value", "Invalid value for 'tool_choice': expected a string or an object."},
		{"logit bias value", `{"logit_bias":{"42":"x"}}`, "logit_bias.42", "invalid_type", "Invalid type for 'logit_bias.42': expected a number, but got a string instead."},
		{"duplicate key", `{"model":"a","Model":"b"}`, "model", "duplicate_key", "Duplicate key 'model' in the JSON body."},
		{"nested duplicate", `{"messages":[{"role":"user","role":"user"}]}`, "messages[0].role", "duplicate_key", "Duplicate key 'messages[0].role' in the JSON body."},
		{"case-insensitive name", `{"MESSAGES":[{"Content":true}]}`, "messages[0].content", "invalid_type",
			"Invalid type for 'messages[0].content': expected a string or an array of content parts, but got a boolean instead."},
		{"empty body", ` `, "", "", "The request body is empty; it must be a JSON object."},
		{"null body", `null`, "", "", "The request body must be a JSON object, not null."},
		{"array body", ` [1]`, "", "", "The request body must be a JSON object, not an array."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRequest([]byte(tt.give), DecodeOptions{})
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, KindInvalidRequest, e.Kind)
			assert.Equal(t, tt.wantParam, e.Param)
			assert.Equal(t, tt.wantCode, e.Code)
			assert.Equal(t, tt.wantMsg, e.Message)
		})
	}
}

func TestDecodeRequestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{"truncated", `{"model":"m"`, "invalid JSON at offset 12: unexpected end of JSON input"},
		{"truncated string", `{"model":"m`, "invalid JSON at offset 11: unexpected end of JSON input"},
		{"trailing comma", `{"model":"m",}`, "invalid JSON at offset 13: invalid character '}' looking for beginning of object key string"},
		{"trailing data", `{"model":"m"} {}`, "invalid JSON at offset 14: unexpected data after the top-level JSON object"},
		{"bad literal", `{"stream":tru}`, "invalid JSON at offset 13: invalid character '}' in literal true (expecting 'e')"},
		{"control char", "{\"model\":\"a\tb\"}", `invalid JSON at offset 11: invalid character '\t' in string literal`},
		{"bad escape", `{"model":"\x"}`, "invalid JSON at offset 11: invalid character 'x' in string escape code"},
		{"bad unicode escape", `{"model":"\u12g4"}`, "invalid JSON at offset 14: invalid character 'g' in \\u hexadecimal character escape"},
		{"leading zero", `{"n":01}`, "invalid JSON at offset 6: invalid character '1' after object key:value pair"},
		{"bare minus", `{"n":-}`, "invalid JSON at offset 6: invalid character '}' in numeric literal"},
		{"missing colon", `{"model" "m"}`, "invalid JSON at offset 9: invalid character '\"' after object key"},
		{"unknown field syntax checked", `{"x":[1 2]}`, "invalid JSON at offset 8: invalid character '2' after array element"},
		{"stop syntax before type", `{"stop":["a",1,"b"`, "invalid JSON at offset 18: unexpected end of JSON input"},
		{"long plain string cut", `{"model":"` + strings.Repeat("abcdefgh", 5), "invalid JSON at offset 50: unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRequest([]byte(tt.give), DecodeOptions{})
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "invalid_json", e.Code)
			assert.Equal(t, "We could not parse the JSON body of your request: "+tt.want+".", e.Message)
			var std Request
			assert.Error(t, json.Unmarshal([]byte(tt.give), &std), "encoding/json must refuse it too")
		})
	}
}

func TestDecodeRequestDepth(t *testing.T) {
	deep := func(n int) string {
		return `{"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
	}
	tests := []struct {
		name    string
		give    string
		opt     DecodeOptions
		wantErr bool
	}{
		{"at default limit", deep(63), DecodeOptions{}, false},
		{"over default limit", deep(64), DecodeOptions{}, true},
		{"at set limit", deep(9), DecodeOptions{MaxDepth: 10}, false},
		{"over set limit", deep(10), DecodeOptions{MaxDepth: 10}, true},
		{"10000 brackets unclosed", `{"x":` + strings.Repeat("[", 10000), DecodeOptions{}, true},
		{"deep in a known field", `{"messages":[{"content":[` + strings.Repeat("{\"a\":", 70) + `1` + strings.Repeat("}", 70) + `]}]}`, DecodeOptions{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRequest([]byte(tt.give), tt.opt)
			if !tt.wantErr {
				assert.NoError(t, err)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "invalid_json", e.Code)
			assert.Contains(t, e.Message, "nested too deeply")
		})
	}
}

func TestDecodeRequestDuplicateKeys(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string // re-encoded
	}{
		{"last scalar wins", `{"model":"a","Model":"b","messages":[]}`, `{"model":"b","messages":[]}`},
		{"last list wins", `{"model":"m","messages":[{"role":"user","content":"a"}],"messages":[{"role":"tool"}]}`, `{"model":"m","messages":[{"role":"tool"}]}`},
		{"last object wins whole", `{"model":"m","messages":[],"stream_options":{"include_usage":true},"stream_options":{}}`, `{"model":"m","messages":[],"stream_options":{"include_usage":false}}`},
		{"nested", `{"model":"m","messages":[{"role":"user","role":"system","content":"x"}]}`, `{"model":"m","messages":[{"role":"system","content":"x"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeRequest([]byte(tt.give), DecodeOptions{AllowDuplicateKeys: true})
			require.NoError(t, err)
			got, err := AppendRequest(nil, r)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
			_, err = DecodeRequest([]byte(tt.give), DecodeOptions{})
			assert.ErrorContains(t, err, "Duplicate key")
		})
	}
}

func TestDecodeRequestShapes(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string // re-encoded
	}{
		{"stop string stays a string", `{"model":"m","messages":[],"stop":"END"}`, `{"model":"m","messages":[],"stop":"END"}`},
		{"stop list of one stays a list", `{"model":"m","messages":[],"stop":["END"]}`, `{"model":"m","messages":[],"stop":["END"]}`},
		{"empty content kept", `{"model":"m","messages":[{"role":"tool","content":""}]}`, `{"model":"m","messages":[{"role":"tool","content":""}]}`},
		{"null content omitted", `{"model":"m","messages":[{"role":"assistant","content":null}]}`, `{"model":"m","messages":[{"role":"assistant"}]}`},
		{"empty parts kept", `{"model":"m","messages":[{"role":"user","content":[]}]}`, `{"model":"m","messages":[{"role":"user","content":[]}]}`},
		{"invalid UTF-8 replaced", "{\"model\":\"a\xffb\",\"messages\":[]}", `{"model":"a` + "\uFFFD" + `b","messages":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeRequest([]byte(tt.give), DecodeOptions{})
			require.NoError(t, err)
			got, err := AppendRequest(nil, r)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}

// jsonGen writes random request-shaped JSON: members named after the
// fields the decoder knows (sometimes in another case, sometimes unknown),
// holding values of every type, so that each field meets each shape.
type jsonGen struct {
	rng   *rand.Rand
	names []string
	b     strings.Builder
}

var genStrings = []string{
	`""`, `"user"`, `"assistant"`, `"tool"`, `"function"`, `"auto"`, `"text"`, `"a\"b\\c\/d\n"`,
	`"\u00e9\ud83d\ude00"`, `"\ud800"`, `"ſ"`, `"<&>"`, `"12"`, "\"\xff\"", `"stop"`,
}

var genNumbers = []string{`0`, `-0`, `1`, `-1`, `2.5`, `1e3`, `1E-2`, `-9223372036854775808`, `9223372036854775808`, `1e400`, `0.0`}

func (g *jsonGen) value(depth int) {
	k := g.rng.IntN(10)
	if depth > 4 && k >= 7 {
		k = g.rng.IntN(7)
	}
	switch k {
	case 0:
		g.b.WriteString("null")
	case 1:
		g.b.WriteString([]string{"true", "false"}[g.rng.IntN(2)])
	case 2, 3:
		g.b.WriteString(genNumbers[g.rng.IntN(len(genNumbers))])
	case 4, 5, 6:
		g.b.WriteString(genStrings[g.rng.IntN(len(genStrings))])
	case 7:
		g.b.WriteByte('[')
		for i := range g.rng.IntN(4) {
			if i > 0 {
				g.b.WriteByte(',')
			}
			g.value(depth + 1)
		}
		g.b.WriteByte(']')
	default:
		g.object(depth + 1)
	}
}

func (g *jsonGen) object(depth int) {
	g.b.WriteString("{ ")
	n := g.rng.IntN(5)
	used := map[string]bool{}
	for i := 0; i < n; i++ {
		name := g.names[g.rng.IntN(len(g.names))]
		switch g.rng.IntN(8) {
		case 0:
			name = strings.ToUpper(name)
		case 1:
			name = "x_" + name
		}
		if used[strings.ToLower(name)] {
			continue
		}
		used[strings.ToLower(name)] = true
		if len(used) > 1 {
			g.b.WriteString(" ,")
		}
		g.b.WriteString(`"` + name + `" : `)
		g.value(depth)
	}
	g.b.WriteString("}")
}

func genNames(sets ...*fields) []string {
	var names []string
	for _, set := range sets {
		names = append(names, set.names...)
	}
	return names
}

// TestDecodeDifferentialRandom compares the decoders with encoding/json on
// thousands of generated documents (deterministic: a fixed seed), so that
// every field meets every JSON type without waiting for the fuzzer.
func TestDecodeDifferentialRandom(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	tests := []struct {
		name  string
		names []string
		check func(*testing.T, []byte) bool // reports whether the decode succeeded
	}{
		{"request", genNames(requestFields, messageFields, partFields, imageFields, audioFields, fileFields,
			toolCallFields, functionCallFields, toolFields, functionDeclFields, streamOptionsFields), func(t *testing.T, data []byte) bool {
			checkDecodeRequest(t, data)
			_, err := DecodeRequest(data, DecodeOptions{MaxDepth: 10000})
			return err == nil
		}},
		{"chunk", genNames(chunkFields, chunkChoiceFields, deltaFields, toolCallDeltaFields, functionCallFields,
			usageFields, promptDetailsFields, completionDetailsFields), func(t *testing.T, data []byte) bool {
			return checkDecodeChunk(t, data)
		}},
		{"response", genNames(responseFields, choiceFields, messageFields, partFields, imageFields, toolCallFields,
			functionCallFields, usageFields, promptDetailsFields), func(t *testing.T, data []byte) bool {
			return checkDecodeResponse(t, data)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &jsonGen{rng: rand.New(rand.NewPCG(1, 2)), names: tt.names}
			ok := 0
			for range n {
				g.b.Reset()
				g.object(0)
				if tt.check(t, []byte(g.b.String())) {
					ok++
				}
			}
			// Both outcomes must be well represented for the test to mean anything.
			assert.Greater(t, ok, n/20)
			assert.Less(t, ok, n-n/20)
		})
	}
}

// chunkSamples are real-world chunk shapes; the one-pass decoder must take
// them.
var chunkSamples = []string{
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":8,"total_tokens":17}}`,
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
	// Shapes the provider's old fast path left to encoding/json.
	`{"ID":"a","Choices":[]}`,
	"{\"id\":\"\\ud83d\",\"model\":\"\xff\"}",
	`{"k\u0065y":1,"\u0069d":"x"}`,
	`{"error":null,"id":"x","choices":[]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}`,
}

// chunkDeclined are chunks the one-pass decoder leaves to encoding/json.
var chunkDeclined = []string{
	`{"id":"a","id":"b"}`,
	`{"choices":[{"index":1.0}]}`,
	`{"created":1e3}`,
	`{"created":99999999999999999999}`,
	`{"id":"a"} x`,
	`{"id":"a",}`,
	`{"id":'a'}`,
	`{"id":"a\'"}`,
	"{\"id\":\"a\tb\"}",
	`{"choices":{"index":0}}`,
	`{"usage":5}`,
	`null`,
	`[]`,
}

// checkDecoder compares a decoder of chunks or answers with encoding/json
// on data, the one-pass path (fast) on its own and the whole decoder
// (decode) with its fallback, and reports whether data decoded to a value.
// wire gives the value and the "error" member encoding/json decoded.
func checkDecoder[T, W any](t *testing.T, data []byte, fast func([]byte) (*T, bool, bool), decode func([]byte) (*T, error),
	wire func(*W) (*T, json.RawMessage), opts ...cmp.Option) bool {
	var w W
	errStd := json.Unmarshal(data, &w)
	want, errMember := wire(&w)
	if v, errObj, ok := fast(data); ok {
		require.NoError(t, errStd, "one-pass decoder accepted what encoding/json refuses: %q", data)
		require.Equal(t, present(errMember), errObj, "error member of %q", data)
		if !errObj {
			require.Empty(t, cmp.Diff(want, v, opts...), "one-pass decoder differs from encoding/json on %q", data)
		}
	}
	got, err := decode(data)
	switch {
	case errStd != nil:
		require.Error(t, err)
		require.NotErrorIs(t, err, ErrErrorObject)
	case present(errMember):
		require.ErrorIs(t, err, ErrErrorObject)
	default:
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(want, got, opts...))
		return true
	}
	return false
}

func checkDecodeChunk(t *testing.T, data []byte) bool {
	var cd ChunkDecoder
	return checkDecoder(t, data, cd.fast, DecodeChunk, func(w *chunkWire) (*Chunk, json.RawMessage) { return &w.Chunk, w.Error })
}

func checkDecodeResponse(t *testing.T, data []byte) bool {
	return checkDecoder(t, data, fastResponse, DecodeResponse,
		func(w *responseWire) (*Response, json.RawMessage) { return &w.Response, w.Error }, cmp.AllowUnexported(Content{}))
}

// TestDecodeOnePass checks that the one-pass decoders take the common
// shapes and leave the odd ones to encoding/json, with the same results.
func TestDecodeOnePass(t *testing.T) {
	var cd ChunkDecoder
	tests := []struct {
		name              string
		samples, declined []string
		fast              func([]byte) bool
		check             func(*testing.T, []byte) bool
	}{
		{"chunk", chunkSamples, chunkDeclined, func(b []byte) bool { _, _, ok := cd.fast(b); return ok }, checkDecodeChunk},
		{"response", responseSamples, responseDeclined, func(b []byte) bool { _, _, ok := fastResponse(b); return ok }, checkDecodeResponse},
	}
	for _, tt := range tests {
		for _, s := range tt.samples {
			t.Run(tt.name+"/one-pass/"+s[:min(len(s), 40)], func(t *testing.T) {
				require.True(t, tt.fast([]byte(s)), "the one-pass decoder declined a common shape")
				tt.check(t, []byte(s))
			})
		}
		for _, s := range tt.declined {
			t.Run(tt.name+"/declined/"+s, func(t *testing.T) {
				assert.False(t, tt.fast([]byte(s)))
				tt.check(t, []byte(s))
			})
		}
	}
}

func TestDecodeErrorObject(t *testing.T) {
	tests := []struct {
		name string
		give string
		want error
	}{
		{"error object", `{"error":{"message":"boom"}}`, ErrErrorObject},
		{"error string", `{"ERROR":"boom","id":"x"}`, ErrErrorObject},
		{"error null is a value", `{"error":null,"choices":[]}`, nil},
		{"malformed with error", `{"error":{"message":"boom"},"created":"x"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errChunk := DecodeChunk([]byte(tt.give))
			_, errResp := DecodeResponse([]byte(tt.give))
			if tt.want == nil {
				assert.NotErrorIs(t, errChunk, ErrErrorObject)
				assert.NotErrorIs(t, errResp, ErrErrorObject)
				return
			}
			assert.ErrorIs(t, errChunk, tt.want)
			assert.ErrorIs(t, errResp, tt.want)
		})
	}
}

func TestChunkDecoderShares(t *testing.T) {
	var cd ChunkDecoder
	a, err := cd.Decode([]byte(chunkSamples[0]))
	require.NoError(t, err)
	b, err := cd.Decode([]byte(strings.Replace(chunkSamples[0], "Hello", "there", 1)))
	require.NoError(t, err)
	assert.Equal(t, a.ID, b.ID)
	assert.Same(t, unsafe.StringData(a.ID), unsafe.StringData(b.ID), "repeated ids share one string")
	assert.Same(t, unsafe.StringData(a.Model), unsafe.StringData(b.Model))
	assert.Same(t, unsafe.StringData(a.Object), unsafe.StringData(b.Object))
	assert.Equal(t, "Hello", a.Choices[0].Delta.Content, "a chunk does not share the input's memory")
}

// FuzzDecodeChunk checks the chunk decoder against encoding/json: what the
// one-pass decoder accepts, encoding/json decodes to the same value, and
// with the fallback the results are equal on every input.
func FuzzDecodeChunk(f *testing.F) {
	for _, s := range append(append([]string{}, chunkSamples...), chunkDeclined...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkDecodeChunk(t, data) })
}

// responseSamples are real-world answer shapes; the one-pass decoder must
// take them.
var responseSamples = []string{
	`{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Your order shipped."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}`,
	`{"id":"chatcmpl-B","object":"chat.completion","created":1741569952,"model":"gpt-4.1-2025-04-14","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I assist you today?","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default"}`,
	`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_order","arguments":"{\"order_id\":\"1234\"}"}},{"index":1,"id":"call_2","type":"function","function":{"name":"track","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`,
	`{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"finish_reason":"stop","index":0,"logprobs":null,"message":{"content":"Hi \u00e9\ud83d\ude00","role":"assistant"}}],"created":1,"id":"c","model":"gpt-4o","object":"chat.completion","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}],"system_fingerprint":"fp","usage":{"completion_tokens":1,"prompt_tokens":2,"total_tokens":3}}`,
	`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"","reasoning_content":"think"},"finish_reason":"length","stop_reason":null}],"usage":null}`,
	// Shapes the provider's old fast path left to encoding/json.
	`{"choices":[{"message":{"content":[{"type":"text","text":"a"}]}}]}`,
	`{"choices":[{"message":{"Role":"assistant"}}]}`,
	`{"choices":[{"message":{"content":"\ud800"}},null,{"message":null}]}`,
}

// responseDeclined are answers the one-pass decoder leaves to encoding/json.
var responseDeclined = []string{
	`{"choices":[{"message":{"content":5}}]}`,
	`{"choices":[{"index":0,"index":1}]}`,
	`{"choices":[{"finish_reason":null,"message":{"tool_calls":[{"id":1}]}}]}`,
	`{"choices":[{"message":{"content":[{"type":"text","type":"text"}]}}]}`,
}

// FuzzDecodeResponse is FuzzDecodeChunk for answers.
func FuzzDecodeResponse(f *testing.F) {
	for _, s := range append(append([]string{}, responseSamples...), responseDeclined...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkDecodeResponse(t, data) })
}

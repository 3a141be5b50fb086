package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

// decodeSeeds are bodies that exercise every field and shape of the decoder.
var decodeSeeds = []string{
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
}

// FuzzDecodeDifferential checks that the specialised decoder accepts what
// encoding/json accepts into an llm.Request and produces the same value,
// apart from its deliberate refusals (duplicate keys, a bare null body).
func FuzzDecodeDifferential(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return // Normalize refuses it before decoding
		}
		var mine, std llm.Request
		errMine := decodeRequest(data, 10000, &mine)
		errStd := json.Unmarshal(data, &std)
		var fe *fieldError
		if errors.As(errMine, &fe) && fe.dup {
			return
		}
		if errMine != nil && errStd == nil && bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
			return
		}
		if (errMine == nil) != (errStd == nil) {
			t.Fatalf("decoder disagrees with encoding/json on %q:\nmine: %v\nstd:  %v", data, errMine, errStd)
		}
		if errMine != nil {
			return
		}
		gotMine, err := json.Marshal(&mine)
		require.NoError(t, err)
		gotStd, err := json.Marshal(&std)
		require.NoError(t, err)
		if !bytes.Equal(gotMine, gotStd) {
			t.Fatalf("decoded differently from %q:\nmine: %s\nstd:  %s", data, gotMine, gotStd)
		}
	})
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name      string
		give      string
		wantParam string
		wantMsg   string
	}{
		{"content number", `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":1}]}`,
			"messages[1].content", "Invalid type for 'messages[1].content': expected a string or an array of content parts, but got a number instead."},
		{"part type", `{"messages":[{"content":[{"type":"text","text":"a"},{"type":5}]}]}`,
			"messages[0].content[1].type", "Invalid type for 'messages[0].content[1].type': expected a string, but got a number instead."},
		{"temperature string", `{"temperature":"hot"}`,
			"temperature", "Invalid type for 'temperature': expected a number, but got a string instead."},
		{"max tokens decimal", `{"max_tokens":1.5}`,
			"max_tokens", "Invalid type for 'max_tokens': expected an integer, but got a decimal number instead."},
		{"max tokens huge", `{"max_tokens":99999999999999999999}`,
			"max_tokens", "Invalid value for 'max_tokens': integer 99999999999999999999 is out of range."},
		{"float overflow", `{"top_p":1e400}`,
			"top_p", "Invalid value for 'top_p': number 1e400 is out of range."},
		{"tool parameters path", `{"tools":[{"type":"function","function":{"name":"f","strict":"yes"}}]}`,
			"tools[0].function.strict", "Invalid type for 'tools[0].function.strict': expected a boolean, but got a string instead."},
		{"tool call arguments", `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"arguments":{}}}]}]}`,
			"messages[0].tool_calls[0].function.arguments", "Invalid type for 'messages[0].tool_calls[0].function.arguments': expected a string, but got an object instead."},
		{"messages object", `{"messages":{}}`,
			"messages", "Invalid type for 'messages': expected an array of messages, but got an object instead."},
		{"stop numbers", `{"stop":[1]}`, "stop", "Invalid value for 'stop': expected a string or an array of strings."},
		{"tool choice number", `{"tool_choice":1}`, "tool_choice", "Invalid value for 'tool_choice': expected a string or an object."},
		{"logit bias value", `{"logit_bias":{"42":"x"}}`, "logit_bias.42", "Invalid type for 'logit_bias.42': expected a number, but got a string instead."},
		{"duplicate key", `{"model":"a","Model":"b"}`, "model", "Duplicate key 'model' in the JSON body."},
		{"nested duplicate", `{"messages":[{"role":"user","role":"user"}]}`, "messages[0].role", "Duplicate key 'messages[0].role' in the JSON body."},
		{"case-insensitive name", `{"MESSAGES":[{"Content":true}]}`, "messages[0].content",
			"Invalid type for 'messages[0].content': expected a string or an array of content parts, but got a boolean instead."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r llm.Request
			err := decodeRequest([]byte(tt.give), 64, &r)
			var fe *fieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.wantParam, fe.path)
			assert.Equal(t, tt.wantMsg, fe.Error())
		})
	}
}

func TestDecodeSyntaxErrors(t *testing.T) {
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r llm.Request
			err := decodeRequest([]byte(tt.give), 64, &r)
			var se *syntaxError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.want, se.Error())
			var std llm.Request
			assert.Error(t, json.Unmarshal([]byte(tt.give), &std), "encoding/json must refuse it too")
		})
	}
}

func TestDecodeDepth(t *testing.T) {
	deep := func(n int) string {
		return `{"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
	}
	tests := []struct {
		name    string
		give    string
		wantErr bool
	}{
		{"at limit", deep(63), false},
		{"over limit", deep(64), true},
		{"10000 brackets unclosed", `{"x":` + strings.Repeat("[", 10000), true},
		{"deep in a known field", `{"messages":[{"content":[` + strings.Repeat("{\"a\":", 70) + `1` + strings.Repeat("}", 70) + `]}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r llm.Request
			err := decodeRequest([]byte(tt.give), 64, &r)
			if !tt.wantErr {
				assert.NoError(t, err)
				return
			}
			var de *depthError
			assert.ErrorAs(t, err, &de)
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
	`"\u00e9\ud83d\ude00"`, `"\ud800"`, `"ſ"`, `"<&>"`, `"12"`,
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

// TestDecodeDifferentialRandom compares the decoder with encoding/json on
// thousands of generated documents (deterministic: a fixed seed).
func TestDecodeDifferentialRandom(t *testing.T) {
	var names []string
	for _, set := range [][]string{requestFields, messageFields, partFields, imageFields, audioFields, fileFields,
		toolCallFields, functionCallFields, toolFields, functionDeclFields, streamOptionsFields} {
		names = append(names, set...)
	}
	g := &jsonGen{rng: rand.New(rand.NewPCG(1, 2)), names: names}
	n := 3000
	if testing.Short() {
		n = 300
	}
	agreeOK, agreeErr := 0, 0
	for range n {
		g.b.Reset()
		g.object(0)
		data := []byte(g.b.String())
		var mine, std llm.Request
		errMine := decodeRequest(data, 10000, &mine)
		errStd := json.Unmarshal(data, &std)
		require.Equal(t, errStd == nil, errMine == nil, "on %s\nmine: %v\nstd:  %v", data, errMine, errStd)
		if errMine != nil {
			agreeErr++
			continue
		}
		agreeOK++
		gotMine, err := json.Marshal(&mine)
		require.NoError(t, err)
		gotStd, err := json.Marshal(&std)
		require.NoError(t, err)
		require.Equal(t, string(gotStd), string(gotMine), "on %s", data)
	}
	// Both outcomes must be well represented for the test to mean anything.
	assert.Greater(t, agreeOK, n/10)
	assert.Greater(t, agreeErr, n/10)
}

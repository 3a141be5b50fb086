package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{
			name: "string content",
			give: `{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		},
		{
			name: "empty string content kept",
			give: `{"model":"m","messages":[{"role":"tool","content":"","tool_call_id":"c1"}]}`,
			want: `{"model":"m","messages":[{"role":"tool","content":"","tool_call_id":"c1"}]}`,
		},
		{
			name: "null content omitted",
			give: `{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`,
			want: `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`,
		},
		{
			name: "parts content",
			give: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:x"}}]}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:x"}}]}]}`,
		},
		{
			name: "stop string and tool choice mode",
			give: `{"model":"m","messages":[],"stop":"END","tool_choice":"auto"}`,
			want: `{"model":"m","messages":[],"tool_choice":"auto","stop":"END"}`,
		},
		{
			name: "stop list and named tool choice",
			give: `{"model":"m","messages":[],"stop":["a","b"],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
			want: `{"model":"m","messages":[],"tool_choice":{"type":"function","function":{"name":"f"}},"stop":["a","b"]}`,
		},
		{
			name: "unknown fields dropped, nulls omitted",
			give: `{"model":"m","messages":[],"bogus":1,"stop":null,"tool_choice":null,"temperature":0}`,
			want: `{"model":"m","messages":[],"temperature":0}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Request
			require.NoError(t, json.Unmarshal([]byte(tt.give), &r))
			got, err := json.Marshal(&r)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
		})
	}
}

func TestWrongShapesFail(t *testing.T) {
	tests := []struct {
		name string
		give string
	}{
		{"content number", `{"messages":[{"role":"user","content":1}]}`},
		{"stop number", `{"stop":3}`},
		{"tool choice number", `{"tool_choice":3}`},
		{"stop list of numbers", `{"stop":[1]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Request
			assert.Error(t, json.Unmarshal([]byte(tt.give), &r))
		})
	}
}

func TestContentString(t *testing.T) {
	c := PartsContent(ContentPart{Type: PartText, Text: "a"}, ContentPart{Type: PartImageURL}, ContentPart{Type: PartText, Text: "b"})
	assert.Equal(t, "a\nb", c.String())
	assert.Equal(t, "x", Text("x").String())
	assert.True(t, Content{}.IsZero())
	assert.False(t, Text("").IsZero())
}

func TestChunkFinishReasonNull(t *testing.T) {
	b, err := json.Marshal(Chunk{ID: "c", Object: ObjectChatCompletionChunk, Choices: []ChunkChoice{{Delta: Delta{Content: "x"}}}})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"finish_reason":null`)
	var c Chunk
	require.NoError(t, json.Unmarshal(b, &c))
	assert.Equal(t, FinishReason(""), c.Choices[0].FinishReason)
}

type sliceStream struct {
	chunks []*Chunk
	err    error
	closed bool
}

func (s *sliceStream) Recv() (*Chunk, error) {
	if len(s.chunks) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		return nil, io.EOF
	}
	c := s.chunks[0]
	s.chunks = s.chunks[1:]
	return c, nil
}

func (s *sliceStream) Close() error { s.closed = true; return nil }

func TestAccumulate(t *testing.T) {
	s := &sliceStream{chunks: []*Chunk{
		{ID: "id1", Model: "m", Choices: []ChunkChoice{{Delta: Delta{Role: RoleAssistant, Content: "Hel"}}}},
		{ID: "id1", Model: "m", Choices: []ChunkChoice{{Delta: Delta{Content: "lo"}}}},
		{ID: "id1", Model: "m", Choices: []ChunkChoice{{Delta: Delta{ToolCalls: []ToolCallDelta{{Index: 0, ID: "t1", Type: "function", Function: FunctionCallDelta{Name: "get", Arguments: `{"a"`}}}}}}},
		{ID: "id1", Model: "m", Choices: []ChunkChoice{{Delta: Delta{ToolCalls: []ToolCallDelta{{Index: 0, Function: FunctionCallDelta{Arguments: `:1}`}}}}, FinishReason: FinishToolCalls}}},
		{ID: "id1", Model: "m", Choices: []ChunkChoice{}, Usage: &Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}},
	}}
	r, err := Accumulate(s)
	require.NoError(t, err)
	assert.True(t, s.closed)
	require.Len(t, r.Choices, 1)
	assert.Equal(t, "Hello", r.Choices[0].Message.Content.Text)
	assert.Equal(t, FinishToolCalls, r.Choices[0].FinishReason)
	require.Len(t, r.Choices[0].Message.ToolCalls, 1)
	assert.Equal(t, `{"a":1}`, r.Choices[0].Message.ToolCalls[0].Function.Arguments)
	assert.Equal(t, 7, r.Usage.TotalTokens)

	broken := &sliceStream{err: &Error{Kind: KindStreamCut}}
	_, err = Accumulate(broken)
	assert.Equal(t, KindStreamCut, AsError(err).Kind)
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		give       error
		wantStatus int
		wantType   string
	}{
		{Errorf(KindInvalidRequest, "bad"), http.StatusBadRequest, TypeInvalidRequest},
		{Errorf(KindAuth, "no"), http.StatusUnauthorized, TypeAuthentication},
		{Errorf(KindNotFound, "no"), http.StatusNotFound, TypeInvalidRequest},
		{Errorf(KindTooLarge, "big"), http.StatusRequestEntityTooLarge, TypeInvalidRequest},
		{Errorf(KindRateLimited, "slow"), http.StatusTooManyRequests, TypeRateLimit},
		{Errorf(KindUnavailable, "down"), http.StatusServiceUnavailable, TypeUnavailable},
		{fmt.Errorf("wrapped: %w", &Error{Kind: KindServer, Status: 500}), http.StatusInternalServerError, TypeServer},
		{context.DeadlineExceeded, http.StatusGatewayTimeout, TypeTimeout},
		{errors.New("boom"), http.StatusServiceUnavailable, TypeServer},
	}
	for _, tt := range tests {
		t.Run(tt.give.Error(), func(t *testing.T) {
			e := AsError(tt.give)
			assert.Equal(t, tt.wantStatus, e.HTTPStatus())
			assert.Equal(t, tt.wantType, e.ErrorType())
		})
	}
}

func TestErrorBodyShape(t *testing.T) {
	b, err := json.Marshal(InvalidParam("messages[0].role", "unknown role %q", "x").Body())
	require.NoError(t, err)
	assert.JSONEq(t, `{"error":{"message":"unknown role \"x\"","type":"invalid_request_error","param":"messages[0].role","code":"invalid_value"}}`, string(b))
	b, err = json.Marshal(Errorf(KindUnavailable, "down").Body())
	require.NoError(t, err)
	assert.JSONEq(t, `{"error":{"message":"down","type":"service_unavailable","param":null,"code":null}}`, string(b))
}

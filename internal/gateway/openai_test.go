package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// These tests run the official OpenAI Go SDK, unchanged, against the
// gateway: the promise is that any OpenAI client works.

func sdkClient(t *testing.T, b Backend) openai.Client {
	t.Helper()
	srv := httptest.NewServer(newServer(t, testConfig(), b).Handler())
	t.Cleanup(srv.Close)
	return openai.NewClient(
		option.WithBaseURL(srv.URL+"/v1/"),
		option.WithAPIKey(keyStandard),
		option.WithHTTPClient(srv.Client()),
		option.WithMaxRetries(0),
	)
}

func TestSDKComplete(t *testing.T) {
	b := &fakeBackend{}
	client := sdkClient(t, b)
	got, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hi")},
	})
	require.NoError(t, err)
	assert.Equal(t, "Hello!", got.Choices[0].Message.Content)
	assert.Equal(t, int64(7), got.Usage.TotalTokens)
	_, req := b.last()
	assert.Equal(t, "large", req.Model)
	assert.Equal(t, "be brief", req.Messages[0].Content.String())
}

func TestSDKStreamWithAccumulator(t *testing.T) {
	client := sdkClient(t, &fakeBackend{})
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "large",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	n := 0
	for stream.Next() {
		require.True(t, acc.AddChunk(stream.Current()))
		n++
	}
	require.NoError(t, stream.Err())
	assert.Equal(t, 4, n)
	require.Len(t, acc.Choices, 1)
	assert.Equal(t, "Hello", acc.Choices[0].Message.Content)
	assert.Equal(t, "stop", acc.Choices[0].FinishReason)
	assert.Equal(t, int64(7), acc.Usage.TotalTokens)
}

// toolParams are what the SDK sends for a conversation that already went
// through one tool call, offering the tool again.
func toolParams() openai.ChatCompletionNewParams {
	assistant := openai.ChatCompletionAssistantMessageParam{
		ToolCalls: []openai.ChatCompletionMessageToolCallUnionParam{{OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
			ID:       "call_1",
			Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: "get_order", Arguments: `{"order_id":"12345"}`},
		}}},
	}
	return openai.ChatCompletionNewParams{
		Model: "large",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.UserMessage("where is order 12345?"),
			{OfAssistant: &assistant},
			openai.ToolMessage(`{"status":"shipped"}`, "call_1"),
		},
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
			Name:        "get_order",
			Description: openai.String("Look up an order"),
			Parameters: openai.FunctionParameters{
				"type":       "object",
				"properties": map[string]any{"order_id": map[string]any{"type": "string"}},
				"required":   []string{"order_id"},
			},
		})},
		ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("auto")},
	}
}

// checkToolRequest asserts the tools and tool history reached the backend.
func checkToolRequest(t *testing.T, req *llm.Request) {
	t.Helper()
	require.Len(t, req.Tools, 1)
	assert.Equal(t, "get_order", req.Tools[0].Function.Name)
	assert.JSONEq(t, `{"type":"object","properties":{"order_id":{"type":"string"}},"required":["order_id"]}`, string(req.Tools[0].Function.Parameters))
	assert.Equal(t, llm.ToolChoiceAuto, req.ToolChoice.Mode)
	require.Len(t, req.Messages, 3)
	require.Len(t, req.Messages[1].ToolCalls, 1)
	assert.Equal(t, llm.ToolCall{ID: "call_1", Type: "function", Function: llm.FunctionCall{Name: "get_order", Arguments: `{"order_id":"12345"}`}}, req.Messages[1].ToolCalls[0])
	assert.Equal(t, "call_1", req.Messages[2].ToolCallID)
}

func toolCallResponse() *llm.Response {
	return &llm.Response{ID: "chatcmpl-2", Object: llm.ObjectChatCompletion, Created: 1700000000, Model: "large",
		Choices: []llm.Choice{{Message: llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{
			ID: "call_2", Type: "function", Function: llm.FunctionCall{Name: "get_order", Arguments: `{"order_id":"999"}`},
		}}}, FinishReason: llm.FinishToolCalls}}}
}

func TestSDKToolCalls(t *testing.T) {
	b := &fakeBackend{complete: func(context.Context, *llm.Request) (*llm.Response, error) { return toolCallResponse(), nil }}
	client := sdkClient(t, b)
	got, err := client.Chat.Completions.New(context.Background(), toolParams())
	require.NoError(t, err)
	_, req := b.last()
	checkToolRequest(t, req)
	require.Len(t, got.Choices[0].Message.ToolCalls, 1)
	tc := got.Choices[0].Message.ToolCalls[0]
	assert.Equal(t, "call_2", tc.ID)
	assert.Equal(t, "get_order", tc.Function.Name)
	assert.Equal(t, `{"order_id":"999"}`, tc.Function.Arguments)
	assert.Equal(t, "tool_calls", got.Choices[0].FinishReason)
}

func TestSDKStreamToolCalls(t *testing.T) {
	chunk := func(d llm.Delta, finish llm.FinishReason) *llm.Chunk {
		return &llm.Chunk{ID: "chatcmpl-3", Object: llm.ObjectChatCompletionChunk, Created: 1700000000, Model: "large",
			Choices: []llm.ChunkChoice{{Delta: d, FinishReason: finish}}}
	}
	b := &fakeBackend{stream: func(context.Context, *llm.Request) (llm.Stream, error) {
		return &scriptStream{chunks: []*llm.Chunk{
			chunk(llm.Delta{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCallDelta{{ID: "call_3", Type: "function", Function: llm.FunctionCallDelta{Name: "get_order"}}}}, ""),
			chunk(llm.Delta{ToolCalls: []llm.ToolCallDelta{{Function: llm.FunctionCallDelta{Arguments: `{"order_id":`}}}}, ""),
			chunk(llm.Delta{ToolCalls: []llm.ToolCallDelta{{Function: llm.FunctionCallDelta{Arguments: `"7"}`}}}}, ""),
			chunk(llm.Delta{}, llm.FinishToolCalls),
		}}, nil
	}}
	client := sdkClient(t, b)
	stream := client.Chat.Completions.NewStreaming(context.Background(), toolParams())
	var acc openai.ChatCompletionAccumulator
	var finished []openai.FinishedChatCompletionToolCall
	for stream.Next() {
		acc.AddChunk(stream.Current())
		if tc, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, tc)
		}
	}
	require.NoError(t, stream.Err())
	_, req := b.last()
	checkToolRequest(t, req)
	require.Len(t, finished, 1)
	assert.Equal(t, "get_order", finished[0].Name)
	assert.Equal(t, `{"order_id":"7"}`, finished[0].Arguments)
	assert.Equal(t, "call_3", acc.Choices[0].Message.ToolCalls[0].ID)
}

func TestSDKErrors(t *testing.T) {
	tests := []struct {
		name       string
		backendErr error
		params     func(*openai.ChatCompletionNewParams)
		wantStatus int
		wantType   string
		wantCode   string
		wantParam  string
	}{
		{"rate limited", &llm.Error{Kind: llm.KindRateLimited, Message: "slow down", Code: "rate_limit_exceeded", RetryAfter: time.Second}, nil,
			http.StatusTooManyRequests, llm.TypeRateLimit, "rate_limit_exceeded", ""},
		{"unavailable", &llm.Error{Kind: llm.KindUnavailable, Message: "no endpoint"}, nil,
			http.StatusServiceUnavailable, llm.TypeUnavailable, "", ""},
		{"invalid temperature", nil, func(p *openai.ChatCompletionNewParams) { p.Temperature = openai.Float(3) },
			http.StatusBadRequest, llm.TypeInvalidRequest, "invalid_value", "temperature"},
		{"unknown model", nil, func(p *openai.ChatCompletionNewParams) { p.Model = "gpt-9" },
			http.StatusNotFound, llm.TypeInvalidRequest, "model_not_found", "model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBackend{complete: func(_ context.Context, req *llm.Request) (*llm.Response, error) {
				if tt.backendErr != nil {
					return nil, tt.backendErr
				}
				return textResponse(req.Model, "ok"), nil
			}}
			params := openai.ChatCompletionNewParams{Model: "large", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
			if tt.params != nil {
				tt.params(&params)
			}
			client := sdkClient(t, b)
			_, err := client.Chat.Completions.New(context.Background(), params)
			var apiErr *openai.Error
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.wantStatus, apiErr.StatusCode)
			assert.Equal(t, tt.wantType, apiErr.Type)
			assert.Equal(t, tt.wantCode, apiErr.Code)
			assert.Equal(t, tt.wantParam, apiErr.Param)
			assert.NotEmpty(t, apiErr.Message)
		})
	}
}

func TestSDKStreamErrorAfterStart(t *testing.T) {
	b := &fakeBackend{stream: func(context.Context, *llm.Request) (llm.Stream, error) {
		return &scriptStream{chunks: textChunks("large", "Hel")[:1], err: &llm.Error{Kind: llm.KindStreamCut, Message: "endpoint died"}}, nil
	}}
	client := sdkClient(t, b)
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "large", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	n := 0
	for stream.Next() {
		n++
	}
	assert.Equal(t, 1, n)
	var se *ssestream.StreamError
	require.ErrorAs(t, stream.Err(), &se, "the SDK raises instead of returning a truncated answer")
	var body llm.ErrorBody
	require.NoError(t, json.Unmarshal(se.Event.Data, &body))
	assert.Equal(t, "endpoint died", body.Error.Message)
	assert.False(t, errors.Is(stream.Err(), context.Canceled))
}

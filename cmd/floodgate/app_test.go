package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/gateway"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testKey = "fg-test-key"

// testConfig is the embedded default with both sims at timeScale (0: no
// delays), a tenant holding testKey, and the session store and queue in
// the test's temporary directory. Its tools point at a shop that does not
// run: tests that need the demo shop start one.
func testConfig(t testing.TB, timeScale float64) *config.Config {
	c := config.Default("http://127.0.0.1:9")
	dir := t.TempDir()
	c.Sessions.Path = filepath.Join(dir, "floodgate.db")
	c.Queue.DataDir = filepath.Join(dir, "nats")
	c.Usage.Path = filepath.Join(dir, "usage.db")
	c.Handoff.Path = filepath.Join(dir, "handoffs.db")
	for i := range c.Endpoints {
		ts := timeScale
		c.Endpoints[i].Sim.TimeScale = &ts
	}
	c.Tenants = []config.Tenant{{ID: "test", Tier: config.DefaultTier, Keys: []string{gateway.HashKey(testKey)}}}
	return c
}

// startApp assembles and serves cfg on a loopback port until the test ends,
// and returns the API's base URL.
func startApp(t testing.TB, cfg *config.Config) (string, *app) {
	t.Helper()
	base, a, stop := serveApp(t, cfg)
	t.Cleanup(func() { require.NoError(t, stop()) })
	return base, a
}

// serveApp assembles and serves cfg on a loopback port until stop is called.
func serveApp(t testing.TB, cfg *config.Config) (base string, a *app, stop func() error) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	a, err := newApp(cfg, slog.New(slog.DiscardHandler), nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx, ln) }()
	return "http://" + ln.Addr().String() + "/v1/", a, func() error {
		cancel()
		return <-done
	}
}

func sdk(base, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(base), option.WithAPIKey(key), option.WithMaxRetries(0))
}

func orderTool() openai.ChatCompletionToolUnionParam {
	return openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name:        "get_order_status",
		Description: openai.String("Look up the status and delivery date of an order"),
		Parameters: openai.FunctionParameters{
			"type":       "object",
			"properties": map[string]any{"order_id": map[string]any{"type": "string"}},
			"required":   []string{"order_id"},
		},
	})
}

// TestOpenAISDK drives the assembled gateway, router, providers and sims with
// the official OpenAI Go SDK, unchanged.
func TestOpenAISDK(t *testing.T) {
	base, _ := startApp(t, testConfig(t, 0))
	client := sdk(base, testKey)
	ctx := context.Background()

	t.Run("completion", func(t *testing.T) {
		got, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "gpt-4o", // an alias of large
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Where is my order 100123?")},
		})
		require.NoError(t, err)
		require.Len(t, got.Choices, 1)
		assert.Contains(t, got.Choices[0].Message.Content, "100123")
		assert.Positive(t, got.Usage.PromptTokens)
		assert.Positive(t, got.Usage.CompletionTokens)
	})

	t.Run("stream", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:         "small",
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello! Thanks for your help.")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		var acc openai.ChatCompletionAccumulator
		chunks := 0
		for stream.Next() {
			acc.AddChunk(stream.Current())
			chunks++
		}
		require.NoError(t, stream.Err())
		assert.Greater(t, chunks, 2)
		require.Len(t, acc.Choices, 1)
		assert.NotEmpty(t, acc.Choices[0].Message.Content)
		assert.Positive(t, acc.Usage.TotalTokens)
	})

	t.Run("tool round trip", func(t *testing.T) {
		params := openai.ChatCompletionNewParams{
			Model:    "large",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Where is my order 100123?")},
			Tools:    []openai.ChatCompletionToolUnionParam{orderTool()},
		}
		first, err := client.Chat.Completions.New(ctx, params)
		require.NoError(t, err)
		msg := first.Choices[0].Message
		require.Len(t, msg.ToolCalls, 1, "the sim calls the order tool")
		call := msg.ToolCalls[0]
		assert.Equal(t, "get_order_status", call.Function.Name)
		assert.JSONEq(t, `{"order_id":"100123"}`, call.Function.Arguments)

		params.Messages = append(params.Messages, msg.ToParam(),
			openai.ToolMessage(`{"order_id":"100123","status":"shipped","carrier":"DHL","eta":"2026-12-08"}`, call.ID))
		second, err := client.Chat.Completions.New(ctx, params)
		require.NoError(t, err)
		answer := second.Choices[0].Message.Content
		assert.Contains(t, answer, "shipped")
		assert.Contains(t, answer, "2026-12-08")
	})

	t.Run("streamed tool call", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:    "large",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the status of order 100456?")},
			Tools:    []openai.ChatCompletionToolUnionParam{orderTool()},
		})
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		require.NoError(t, stream.Err())
		require.Len(t, acc.Choices[0].Message.ToolCalls, 1)
		assert.JSONEq(t, `{"order_id":"100456"}`, acc.Choices[0].Message.ToolCalls[0].Function.Arguments)
	})

	t.Run("models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		require.NoError(t, err)
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		assert.Subset(t, ids, []string{"large", "small", "gpt-4o", "gpt-4o-mini"})
	})

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name   string
			client openai.Client
			model  string
			want   int
		}{
			{"bad key", sdk(base, "fg-wrong"), "large", 401},
			{"unknown model", client, "gpt-9", 404},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := tt.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
					Model:    tt.model,
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
				})
				var apiErr *openai.Error
				require.True(t, errors.As(err, &apiErr), "got %v", err)
				assert.Equal(t, tt.want, apiErr.StatusCode)
			})
		}
	})
}

// TestServeCommand runs `floodgate serve` as a newcomer does: no config, a
// demo key printed on a line of its own, and a request that works.
func TestServeCommand(t *testing.T) {
	t.Chdir(t.TempDir()) // serve keeps its sessions and queue under ./floodgate-data
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := newLines()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0"}, stdout, discard{})
	}()
	keyLine := stdout.waitFor(t, "demo key: ")
	key := strings.TrimPrefix(keyLine, "demo key: ")
	assert.True(t, strings.HasPrefix(key, "fg-"), "key %q", key)
	try := stdout.waitFor(t, "try: curl -s ")
	base := strings.Fields(strings.TrimPrefix(try, "try: curl -s "))[0]
	base = strings.TrimSuffix(base, "chat/completions")

	client := sdk(base, key)
	got, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "small",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	require.NoError(t, err)
	assert.NotEmpty(t, got.Choices[0].Message.Content)

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

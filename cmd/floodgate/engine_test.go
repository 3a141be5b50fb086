package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/gateway"
)

// demoApp serves the embedded configuration, demo shop included, with its
// sims at timeScale and never wandering (so that answers are the ones a
// test expects), and its store and queue under dir, until stop.
func demoApp(t testing.TB, dir string, timeScale float64, edit func(*config.Config)) (base string, stop func() error) {
	t.Helper()
	base, _, stop = demoAppOf(t, dir, timeScale, edit)
	return base, stop
}

// demoAppOf is demoApp that also returns the app, for tests that reach
// into it.
func demoAppOf(t testing.TB, dir string, timeScale float64, edit func(*config.Config)) (base string, a *app, stop func() error) {
	t.Helper()
	cfg, shopLn, err := demoConfig()
	require.NoError(t, err)
	never := 0.0
	for i := range cfg.Endpoints {
		ts := timeScale
		cfg.Endpoints[i].Sim.TimeScale = &ts
		cfg.Endpoints[i].Sim.WanderRate = &never
	}
	cfg.Tenants = []config.Tenant{{ID: "test", Keys: []string{gateway.HashKey(testKey)}}}
	cfg.Sessions.Path = filepath.Join(dir, "floodgate.db")
	cfg.Queue.DataDir = filepath.Join(dir, "nats")
	cfg.Usage.Path = filepath.Join(dir, "usage.db")
	cfg.Handoff.Path = filepath.Join(dir, "handoffs.db")
	if edit != nil {
		edit(cfg)
	}
	a, err = newApp(cfg, slog.New(slog.DiscardHandler), shopLn)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- a.run(ctx, ln) }()
	return "http://" + ln.Addr().String(), a, func() error {
		cancel()
		return <-done
	}
}

// runTurn sends one turn to agent through the run API and returns the
// decoded result.
func runTurn(t *testing.T, base, agent, session, input string) map[string]any {
	t.Helper()
	body := fmt.Sprintf(`{"session_id":%q,"user_id":"u-1","input":%q}`, session, input)
	req, err := http.NewRequest("POST", base+"/v1/agents/"+agent+"/runs", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", out)
	require.Equal(t, "completed", out["status"], "%v", out)
	return out
}

// sessionTurns returns the seqs and the user messages of a session's turns.
func sessionTurns(t *testing.T, base, session string) []string {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/v1/sessions/"+session, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var v struct {
		Turns []struct {
			Seq      int64 `json:"seq"`
			Messages []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"messages"`
		} `json:"turns"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	var out []string
	for _, turn := range v.Turns {
		out = append(out, fmt.Sprintf("%d %s", turn.Seq, turn.Messages[0].Content))
	}
	return out
}

// TestConversationSurvivesRestart: issue 3's bar, with the SQLite store:
// turns taken before `floodgate serve` restarts are there after it, and
// the conversation continues where it was.
func TestConversationSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	base, stop := demoApp(t, dir, 0, nil)
	runTurn(t, base, "support", "conv-1", "Where is my order 100123?")
	runTurn(t, base, "support", "conv-1", "And can you track order 100200?")
	require.NoError(t, stop())

	base, stop = demoApp(t, dir, 0, nil)
	defer func() { require.NoError(t, stop()) }()
	third := runTurn(t, base, "support", "conv-1", "Thanks! What was the first order I asked about?")
	assert.EqualValues(t, 3, third["seq"], "the third turn follows the two before the restart")
	assert.Contains(t, third["output"], "100123", "the history reached the model after the restart")
	assert.Equal(t, []string{
		"1 Where is my order 100123?",
		"2 And can you track order 100200?",
		"3 Thanks! What was the first order I asked about?",
	}, sessionTurns(t, base, "conv-1"))
}

// TestConversationAcrossNodes: issue 3's bar, with the Redis store: a
// conversation started on one process is continued by another sharing
// Redis, and both see one history.
func TestConversationAcrossNodes(t *testing.T) {
	redisURL := requireService(t, "127.0.0.1:6379", "Redis", "redis://127.0.0.1:6379/0")
	useRedis := func(c *config.Config) {
		c.Sessions.Backend = config.StoreRedis
		c.Sessions.RedisURL = redisURL
	}
	session := "conv-" + rand.Text()
	baseA, stopA := demoApp(t, t.TempDir(), 0, useRedis)
	defer func() { require.NoError(t, stopA()) }()
	baseB, stopB := demoApp(t, t.TempDir(), 0, useRedis)
	defer func() { require.NoError(t, stopB()) }()

	runTurn(t, baseA, "support", session, "Where is my order 100123?")
	second := runTurn(t, baseB, "support", session, "What was the order number I gave you first?")
	assert.EqualValues(t, 2, second["seq"])
	assert.Contains(t, second["output"], "100123")
	runTurn(t, baseA, "support", session, "Thanks, bye!")
	assert.Equal(t, sessionTurns(t, baseA, session), sessionTurns(t, baseB, session))
	assert.Len(t, sessionTurns(t, baseB, session), 3)
}

// requireService returns value when addr accepts connections, else skips
// the test, or fails it under CI=true, where every service must be up.
func requireService(t *testing.T, addr, name, value string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return value
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not reachable at %s (CI requires it): %v", name, addr, err)
	}
	t.Skipf("%s is not reachable at %s; skipping (start it, or run .ci/run): %v", name, addr, err)
	return ""
}

// TestAgentThroughOpenAISDK: an agent is reachable from any OpenAI client
// as model "agent:<name>", the conversation kept by the session header.
func TestAgentThroughOpenAISDK(t *testing.T) {
	base, stop := demoApp(t, t.TempDir(), 0, nil)
	defer func() { require.NoError(t, stop()) }()
	session := option.WithHeader("X-Session-Id", "sdk-1")
	client := sdk(base+"/v1/", testKey)
	ctx := context.Background()

	first, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "agent:support",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Where is my order 100123?")},
	}, session)
	require.NoError(t, err)
	assert.Contains(t, first.Choices[0].Message.Content, "100123")

	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    "agent:support",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What was the order number I gave you first?")},
	}, session)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	require.NoError(t, stream.Err())
	assert.Contains(t, acc.Choices[0].Message.Content, "100123", "the agent kept the conversation")
	assert.Len(t, sessionTurns(t, base, "sdk-1"), 2)
}

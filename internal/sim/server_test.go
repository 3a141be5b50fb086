package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// sseEvents splits an SSE body into its data payloads.
func sseEvents(t testing.TB, body string) []string {
	t.Helper()
	var out []string
	for _, ev := range strings.Split(body, "\n\n") {
		if ev == "" {
			continue
		}
		require.True(t, strings.HasPrefix(ev, "data: "), "event %q", ev)
		out = append(out, strings.TrimPrefix(ev, "data: "))
	}
	return out
}

func TestStreamingFormat(t *testing.T) {
	s := newSim(t, Config{})
	tests := []struct {
		name      string
		body      string
		wantUsage bool
		wantTools bool
	}{
		{"content without usage", `{"model":"small","stream":true,"messages":[{"role":"user","content":"hello"}]}`, false, false},
		{"content with usage", `{"model":"small","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello"}]}`, true, false},
		{"tool calls", `{"model":"small","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Where are orders 100123 and 100456?"}],"tools":` + shopToolsJSON + `}`, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, s, http.MethodPost, "/v1/chat/completions", tt.body)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, "text/event-stream; charset=utf-8", rec.Header().Get("Content-Type"))
			events := sseEvents(t, rec.Body.String())
			require.Greater(t, len(events), 3)
			assert.Equal(t, "[DONE]", events[len(events)-1])
			var acc llm.Accumulator
			var chunks []llm.Chunk
			for _, ev := range events[:len(events)-1] {
				var c llm.Chunk
				require.NoError(t, json.Unmarshal([]byte(ev), &c), ev)
				assert.Equal(t, llm.ObjectChatCompletionChunk, c.Object)
				assert.True(t, strings.HasPrefix(c.ID, "chatcmpl-"))
				assert.Equal(t, "small", c.Model)
				assert.NotEmpty(t, c.SystemFingerprint)
				chunks = append(chunks, c)
				acc.Add(&c)
			}
			assert.Equal(t, llm.RoleAssistant, chunks[0].Choices[0].Delta.Role, "role chunk first")
			last := chunks[len(chunks)-1]
			if tt.wantUsage {
				assert.Empty(t, last.Choices, "usage chunk has no choices")
				require.NotNil(t, last.Usage)
				last = chunks[len(chunks)-2]
			}
			for _, c := range chunks {
				if c.Usage != nil {
					assert.True(t, tt.wantUsage, "usage only when asked")
				}
			}
			require.Len(t, last.Choices, 1)
			assert.NotEmpty(t, last.Choices[0].FinishReason, "last choice chunk has finish_reason")

			// The stream says what the non-streamed answer says.
			plain := strings.Replace(tt.body, `"stream":true,`, "", 1)
			var want llm.Response
			rec = do(t, s, http.MethodPost, "/v1/chat/completions", plain)
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &want))
			got := acc.Response()
			assert.Equal(t, want.Choices[0].Message.Content.Text, got.Choices[0].Message.Content.Text)
			assert.Equal(t, want.Choices[0].Message.ToolCalls, got.Choices[0].Message.ToolCalls)
			assert.Equal(t, want.Choices[0].FinishReason, got.Choices[0].FinishReason)
			if tt.wantTools {
				assert.Len(t, got.Choices[0].Message.ToolCalls, 2)
			}
			if tt.wantUsage {
				assert.Equal(t, want.Usage.TotalTokens, got.Usage.TotalTokens)
			}
		})
	}
}

func TestUsageCountsTokens(t *testing.T) {
	s := newSim(t, Config{})
	req := &llm.Request{Model: "large", Messages: []llm.Message{system("Be brief."), user("Where is my order 100123?")}, Tools: shopTools(t)}
	resp := chat(t, s, req)
	c := s.byName["large"].counter
	assert.Equal(t, c.CountMessages(req.Messages)+c.CountTools(req.Tools), resp.Usage.PromptTokens)
	call := resp.Choices[0].Message.ToolCalls[0].Function
	assert.Equal(t, c.Count(call.Name)+c.Count(call.Arguments), resp.Usage.CompletionTokens)
	assert.Equal(t, resp.Usage.PromptTokens+resp.Usage.CompletionTokens, resp.Usage.TotalTokens)
	assert.Equal(t, "large", resp.Model)
	assert.True(t, strings.HasPrefix(resp.ID, "chatcmpl-"))

	long := strings.Repeat("We discussed many things about the order and the weather. ", 200)
	resp = chat(t, s, &llm.Request{Model: "large", Messages: []llm.Message{system(long), user("hello")}})
	assert.Positive(t, resp.Usage.CachedTokens(), "a long prefix counts as cached")
	assert.Zero(t, resp.Usage.CachedTokens()%128)
}

func TestModelsEndpoint(t *testing.T) {
	s := newSim(t, Config{Models: append(DefaultModels(), Model{Name: "x", Aliases: []string{"gpt-4o-mini"}})})
	rec := do(t, s, http.MethodGet, "/v1/models", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID          string  `json:"id"`
			Object      string  `json:"object"`
			OwnedBy     string  `json:"owned_by"`
			InputPrice  float64 `json:"input_price"`
			OutputPrice float64 `json:"output_price"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	assert.Equal(t, "list", list.Object)
	require.Len(t, list.Data, 3)
	assert.Equal(t, "large", list.Data[0].ID)
	assert.Equal(t, "model", list.Data[0].Object)
	assert.InDelta(t, 2.50, list.Data[0].InputPrice, 1e-9)
	assert.InDelta(t, 0.60, list.Data[1].OutputPrice, 1e-9)

	rec = do(t, s, http.MethodGet, "/v1/models/gpt-4o-mini", "")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"id": "gpt-4o-mini"`)
	// An alias answers in the name the client used.
	resp := chat(t, s, &llm.Request{Model: "gpt-4o-mini", Messages: []llm.Message{user("hi")}})
	assert.Equal(t, "gpt-4o-mini", resp.Model)
	assert.Equal(t, int64(1), s.Stats().Models["x"].Requests)
}

func TestErrors(t *testing.T) {
	s := newSim(t, Config{MaxBodyBytes: 4096, Models: []Model{{Name: "tiny", ContextWindow: 50}}})
	keyed := newSim(t, Config{APIKey: "sk-test"})
	ok := `{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name       string
		sim        *Sim
		method     string
		path       string
		body       string
		hdr        []string
		wantStatus int
		wantCode   string
		wantType   string
	}{
		{"malformed json", s, "POST", "/v1/chat/completions", `{"model":`, nil, 400, "", llm.TypeInvalidRequest},
		{"wrong type", s, "POST", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":5}]}`, nil, 400, "", llm.TypeInvalidRequest},
		{"no model", s, "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "missing_required_parameter", llm.TypeInvalidRequest},
		{"no messages", s, "POST", "/v1/chat/completions", `{"model":"tiny","messages":[]}`, nil, 400, "empty_array", llm.TypeInvalidRequest},
		{"bad role", s, "POST", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"robot","content":"hi"}]}`, nil, 400, "invalid_value", llm.TypeInvalidRequest},
		{"unknown model", s, "POST", "/v1/chat/completions", `{"model":"gpt-9","messages":[{"role":"user","content":"hi"}]}`, nil, 404, "model_not_found", llm.TypeInvalidRequest},
		{"context length", s, "POST", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"` + strings.Repeat("word ", 100) + `"}]}`, nil, 400, "context_length_exceeded", llm.TypeInvalidRequest},
		{"output counts toward context", s, "POST", "/v1/chat/completions", `{"model":"tiny","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "context_length_exceeded", llm.TypeInvalidRequest},
		{"too large", s, "POST", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"` + strings.Repeat("x", 5000) + `"}]}`, nil, 413, "", llm.TypeInvalidRequest},
		{"wrong method", s, "GET", "/v1/chat/completions", "", nil, 405, "method_not_allowed", llm.TypeInvalidRequest},
		{"unknown path", s, "POST", "/v1/completions", ok, nil, 404, "unknown_url", llm.TypeInvalidRequest},
		{"unknown model info", s, "GET", "/v1/models/nope", "", nil, 404, "model_not_found", llm.TypeInvalidRequest},
		{"missing key", keyed, "POST", "/v1/chat/completions", ok, nil, 401, "invalid_api_key", llm.TypeInvalidRequest},
		{"wrong key", keyed, "POST", "/v1/chat/completions", ok, []string{"Authorization", "Bearer sk-nope"}, 401, "invalid_api_key", llm.TypeInvalidRequest},
		{"key on models", keyed, "GET", "/v1/models", "", nil, 401, "invalid_api_key", llm.TypeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, tt.sim, tt.method, tt.path, tt.body, tt.hdr...)
			assert.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var body llm.ErrorBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
			assert.NotEmpty(t, body.Error.Message)
			assert.Equal(t, tt.wantType, body.Error.Type)
			if tt.wantCode == "" {
				assert.Nil(t, body.Error.Code)
			} else {
				require.NotNil(t, body.Error.Code)
				assert.Equal(t, tt.wantCode, *body.Error.Code)
			}
		})
	}
	for _, hdr := range [][]string{{"Authorization", "Bearer sk-test"}, {"api-key", "sk-test"}} {
		rec := do(t, keyed, "POST", "/v1/chat/completions", `{"model":"small","messages":[{"role":"user","content":"hi"}]}`, hdr...)
		assert.Equal(t, http.StatusOK, rec.Code, hdr[0])
	}
	assert.Equal(t, int64(2), keyed.Stats().Unattributed.Status["401"], "refused chat requests are counted")
	assert.Equal(t, int64(2), keyed.Stats().Models["small"].Status["200"])
}

func TestRateLimits(t *testing.T) {
	clk := newFakeClock()
	s := newSim(t, Config{Clock: clk, Models: []Model{{Name: "rpm", RPM: 2}, {Name: "tpm", TPM: 150}}})
	body := func(m string) string { return `{"model":"` + m + `","messages":[{"role":"user","content":"hi"}]}` }

	for i := range 2 {
		rec := do(t, s, "POST", "/v1/chat/completions", body("rpm"))
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, "2", rec.Header().Get("x-ratelimit-limit-requests"))
		assert.Equal(t, fmt.Sprint(1-i), rec.Header().Get("x-ratelimit-remaining-requests"))
		assert.Equal(t, "1m0s", rec.Header().Get("x-ratelimit-reset-requests"))
		clk.Advance(10 * time.Second)
	}
	rec := do(t, s, "POST", "/v1/chat/completions", body("rpm"))
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "40", rec.Header().Get("Retry-After"), "the first request leaves the window 40 s from now")
	assert.Equal(t, "40000", rec.Header().Get("retry-after-ms"))
	assert.Equal(t, "0", rec.Header().Get("x-ratelimit-remaining-requests"))
	var eb llm.ErrorBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &eb))
	assert.Equal(t, "requests", eb.Error.Type)
	assert.Equal(t, "rate_limit_exceeded", *eb.Error.Code)
	assert.Contains(t, eb.Error.Message, "Rate limit reached for requests")

	clk.Advance(41 * time.Second)
	assert.Equal(t, http.StatusOK, do(t, s, "POST", "/v1/chat/completions", body("rpm")).Code, "the window slid")

	// Tokens: each "hi" request costs its prompt plus its answer, about 40.
	codes := map[int]int{}
	for range 6 {
		rec = do(t, s, "POST", "/v1/chat/completions", body("tpm"))
		codes[rec.Code]++
	}
	assert.Positive(t, codes[http.StatusOK])
	assert.Positive(t, codes[http.StatusTooManyRequests])
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &eb))
	assert.Equal(t, "tokens", eb.Error.Type)
	assert.Equal(t, "150", rec.Header().Get("x-ratelimit-limit-tokens"))
	assert.Equal(t, int64(codes[http.StatusTooManyRequests]), s.Stats().Models["tpm"].Status["429"])
}

func TestWindowConcurrentTakes(t *testing.T) {
	w := window{limit: 100}
	now := time.Unix(1_700_000_000, 0)
	done := make(chan int)
	for range 8 {
		go func() {
			n := 0
			for range 50 {
				if w.take(now, 1) {
					n++
				}
			}
			done <- n
		}()
	}
	total := 0
	for range 8 {
		total += <-done
	}
	assert.LessOrEqual(t, total, 100)
	assert.Equal(t, int64(total), w.used(now.Unix()))
	assert.Zero(t, w.used(now.Unix()+60), "a minute later the window is empty")
}

func TestLatencyAndTimeScale(t *testing.T) {
	m := Model{Name: "m", TTFT: 400 * time.Millisecond, TokensPerSecond: 100}
	tests := []struct {
		name   string
		scale  float64
		faults Faults
		want   func(completion int) time.Duration
	}{
		{"real time", 1, Faults{}, func(n int) time.Duration { return 400*time.Millisecond + time.Duration(n)*10*time.Millisecond }},
		{"half speed", 2, Faults{}, func(n int) time.Duration { return 2 * (400*time.Millisecond + time.Duration(n)*10*time.Millisecond) }},
		{"latency fault", 1, Faults{Latency: time.Second}, func(n int) time.Duration { return 1400*time.Millisecond + time.Duration(n)*10*time.Millisecond }},
		{"spikes on every call", 0.5, Faults{SpikeRate: 1, SpikeLatency: 2 * time.Second}, func(n int) time.Duration {
			return (2400*time.Millisecond + time.Duration(n)*10*time.Millisecond) / 2
		}},
		{"no delay", NoDelay, Faults{Latency: time.Second}, func(int) time.Duration { return 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			s := newSim(t, Config{Clock: clk, TimeScale: tt.scale, Models: []Model{m}, Faults: tt.faults})
			resp := chat(t, s, &llm.Request{Model: "m", Messages: []llm.Message{user("Where is my order 100123?")}})
			assert.InDelta(t, float64(tt.want(resp.Usage.CompletionTokens)), float64(clk.Slept()), float64(time.Millisecond))
			// A stream spends the same time, the first part before the first byte.
			clk2 := newFakeClock()
			s2 := newSim(t, Config{Clock: clk2, TimeScale: tt.scale, Models: []Model{m}, Faults: tt.faults})
			rec := do(t, s2, "POST", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"Where is my order 100123?"}]}`)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.InDelta(t, float64(tt.want(resp.Usage.CompletionTokens)), float64(clk2.Slept()), float64(2*time.Millisecond))
		})
	}
}

func TestErrorFaults(t *testing.T) {
	body := `{"model":"small","messages":[{"role":"user","content":"hi"}]}`
	statuses := func(s *Sim, n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = do(t, s, "POST", "/v1/chat/completions", body).Code
		}
		return out
	}
	all := newSim(t, Config{Faults: Faults{ErrorRate: 1, ErrorStatus: 503}})
	for _, c := range statuses(all, 5) {
		assert.Equal(t, http.StatusServiceUnavailable, c)
	}
	rec := do(t, all, "POST", "/v1/chat/completions", body)
	var eb llm.ErrorBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &eb))
	assert.Equal(t, llm.TypeServer, eb.Error.Type)

	half := Faults{ErrorRate: 0.3}
	a, b := newSim(t, Config{Seed: 5, Faults: half}), newSim(t, Config{Seed: 5, Faults: half})
	sa, sb := statuses(a, 200), statuses(b, 200)
	assert.Equal(t, sa, sb, "same seed, same arrival order, same faults")
	fails := 0
	for _, c := range sa {
		if c == http.StatusInternalServerError {
			fails++
		}
	}
	assert.InDelta(t, 0.3, float64(fails)/200, 0.1)
	assert.Equal(t, int64(fails), a.Stats().Models["small"].Status["500"])
	assert.Equal(t, int64(200), a.Stats().Requests)

	// Faults for one model leave the other alone.
	only := newSim(t, Config{Faults: Faults{Model: "large", ErrorRate: 1}})
	assert.Equal(t, http.StatusOK, do(t, only, "POST", "/v1/chat/completions", body).Code)
	assert.Equal(t, http.StatusInternalServerError, do(t, only, "POST", "/v1/chat/completions", strings.Replace(body, "small", "large", 1)).Code)
}

func TestHangHonoursContext(t *testing.T) {
	s := newSim(t, Config{Faults: Faults{HangRate: 1}})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"small","messages":[{"role":"user","content":"hi"}]}`)).WithContext(ctx)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Handler().ServeHTTP(rec, req)
	}()
	require.Eventually(t, func() bool { return s.Stats().InFlight == 1 }, 5*time.Second, time.Millisecond)
	select {
	case <-done:
		t.Fatal("a hung request returned before its client gave up")
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("hung request ignored its context")
	}
	assert.Zero(t, rec.Body.Len(), "no byte was sent")
	assert.Equal(t, int64(1), s.Stats().Models["small"].Status["hang"])
	assert.Zero(t, s.Stats().InFlight)
}

func TestCloseReleasesHungRequests(t *testing.T) {
	s, err := New(Config{TimeScale: NoDelay, Faults: Faults{HangRate: 1}})
	require.NoError(t, err)
	done := make(chan int)
	go func() {
		done <- do(t, s, "POST", "/v1/chat/completions", `{"model":"small","messages":[{"role":"user","content":"hi"}]}`).Body.Len()
	}()
	require.Eventually(t, func() bool { return s.Stats().InFlight == 1 }, 5*time.Second, time.Millisecond)
	s.Close()
	select {
	case n := <-done:
		assert.Zero(t, n)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release a hung request")
	}
	assert.Equal(t, http.StatusServiceUnavailable, do(t, s, "POST", "/v1/chat/completions", `{"model":"small","messages":[{"role":"user","content":"hi"}]}`).Code)
}

// openaiClient returns an official OpenAI client for srv.
func openaiClient(srv *httptest.Server) openai.Client {
	return openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
}

func TestCutMidStream(t *testing.T) {
	s := newSim(t, Config{Faults: Faults{CutRate: 1}})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	client := openaiClient(srv)
	stream := client.Chat.Completions.NewStreaming(ctxTimeout(t, 10*time.Second), openai.ChatCompletionNewParams{
		Model:    "small",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Where is my order 100123?")},
	})
	chunks := 0
	for stream.Next() {
		chunks++
	}
	require.Error(t, stream.Err(), "the client sees the cut")
	_ = stream.Close()
	assert.Positive(t, chunks, "some chunks arrived before the cut")
	assert.Equal(t, int64(1), s.Stats().Models["small"].Status["cut"])

	// A cut non-stream gets no response at all.
	_, err := client.Chat.Completions.New(ctxTimeout(t, 10*time.Second), openai.ChatCompletionNewParams{
		Model: "small", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	require.Error(t, err)
	var apiErr *openai.Error
	assert.False(t, errors.As(err, &apiErr), "not an HTTP error: the connection was dropped")
	srv.CloseClientConnections()
}

func TestOutage(t *testing.T) {
	clk := newFakeClock()
	s := newSim(t, Config{Clock: clk})
	body := `{"model":"small","messages":[{"role":"user","content":"hi"}]}`
	require.NoError(t, s.SetFaults(Faults{Outage: 2 * time.Minute}))
	for range 3 {
		rec := do(t, s, "POST", "/v1/chat/completions", body)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Contains(t, rec.Body.String(), "outage")
	}
	assert.Equal(t, 2*time.Minute, s.OutageRemaining())
	clk.Advance(90 * time.Second)
	assert.Equal(t, 30*time.Second, s.OutageRemaining())
	assert.Equal(t, http.StatusServiceUnavailable, do(t, s, "POST", "/v1/chat/completions", body).Code)
	clk.Advance(31 * time.Second)
	assert.Zero(t, s.OutageRemaining())
	assert.Equal(t, http.StatusOK, do(t, s, "POST", "/v1/chat/completions", body).Code, "the outage expired")
	st := s.Stats().Models["small"]
	assert.Equal(t, int64(5), st.Requests)
	assert.Equal(t, int64(4), st.Status["503"])
}

func TestOutageReset(t *testing.T) {
	s := newSim(t, Config{})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	require.NoError(t, s.SetFaults(Faults{Outage: time.Minute, OutageMode: OutageModeReset}))
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"small","messages":[{"role":"user","content":"hi"}]}`))
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err, "the connection is dropped without a response")
	assert.Equal(t, int64(1), s.Stats().Models["small"].Status["reset"])
	srv.CloseClientConnections()
}

func TestResetOutageCutsStreamsInFlight(t *testing.T) {
	// Real time, but a slow model: the answer takes about a second to stream.
	s := newSim(t, Config{TimeScale: 1, Models: []Model{{Name: "slow", TokensPerSecond: 40}}})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"slow","stream":true,"messages":[{"role":"user","content":"Where is my order 100123?"}]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	_, err = rd.ReadString('\n')
	require.NoError(t, err, "the stream started")
	require.NoError(t, s.SetFaults(Faults{Outage: time.Minute, OutageMode: OutageModeReset}))
	_, err = io.ReadAll(rd)
	require.Error(t, err, "the stream in flight was cut")
	assert.Equal(t, int64(1), s.Stats().Models["slow"].Status["cut"])
	srv.CloseClientConnections()
}

func TestFaultsAPI(t *testing.T) {
	clk := newFakeClock()
	s := newSim(t, Config{Clock: clk})
	rec := do(t, s, "POST", "/sim/faults", `{"model":"large","latency":"200ms","spike_rate":0.1,"spike_latency":"2s","error_rate":0.05,"error_status":503,"hang_rate":0.01,"cut_rate":0.02,"outage":"5m","outage_mode":"reset"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	want := Faults{Model: "large", Latency: 200 * time.Millisecond, SpikeRate: 0.1, SpikeLatency: 2 * time.Second,
		ErrorRate: 0.05, ErrorStatus: 503, HangRate: 0.01, CutRate: 0.02, Outage: 5 * time.Minute, OutageMode: "reset"}
	assert.Equal(t, want, s.Faults())
	clk.Advance(time.Minute)
	rec = do(t, s, "GET", "/sim/faults", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"outage_remaining": "4m0s"`)
	assert.Contains(t, rec.Body.String(), `"latency": "200ms"`)

	rec = do(t, s, "DELETE", "/sim/faults", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, Faults{}, s.Faults())

	tests := []struct {
		name string
		give string
	}{
		{"unknown key", `{"latency":"1s","bogus":1}`},
		{"bad duration", `{"latency":"soon"}`},
		{"number duration", `{"latency":5}`},
		{"rate above one", `{"error_rate":1.5}`},
		{"bad status", `{"error_rate":0.1,"error_status":418}`},
		{"bad mode", `{"outage":"1m","outage_mode":"flood"}`},
		{"unknown model", `{"model":"gpt-9"}`},
		{"not json", `{`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, s, "POST", "/sim/faults", tt.give)
			assert.Equal(t, http.StatusBadRequest, rec.Code)
			var eb llm.ErrorBody
			assert.NoError(t, json.Unmarshal(rec.Body.Bytes(), &eb))
			assert.Equal(t, Faults{}, s.Faults(), "a refused body changes nothing")
		})
	}
}

func TestStatsAPI(t *testing.T) {
	s := newSim(t, Config{})
	do(t, s, "POST", "/v1/chat/completions", `{"model":"small","messages":[{"role":"user","content":"Where is my order 100123?"}],"tools":`+shopToolsJSON+`}`)
	do(t, s, "POST", "/v1/chat/completions", `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`)
	do(t, s, "POST", "/v1/chat/completions", `{`)
	rec := do(t, s, "GET", "/sim/stats", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var st Stats
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &st))
	assert.Equal(t, int64(3), st.Requests)
	assert.Equal(t, int64(1), st.Models["small"].Status["200"])
	assert.Equal(t, int64(1), st.Models["small"].ToolCalls)
	assert.Equal(t, int64(1), st.ToolCalls)
	assert.Positive(t, st.Models["small"].PromptTokens)
	assert.Equal(t, int64(1), st.Unattributed.Status["404"])
	assert.Equal(t, int64(1), st.Unattributed.Status["400"])

	rec = do(t, s, "DELETE", "/sim/stats", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Zero(t, s.Stats().Requests)
}

func TestOpenAIClientToolRoundTrip(t *testing.T) {
	s := newSim(t, Config{Models: []Model{exact}, WanderRate: -1, APIKey: "sk-test"})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	client := openaiClient(srv)
	ctx := ctxTimeout(t, 10*time.Second)
	tools := []openai.ChatCompletionToolUnionParam{
		openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:        "get_order_status",
			Description: openai.String("Get the status of an order"),
			Parameters: openai.FunctionParameters{
				"type":       "object",
				"properties": map[string]any{"order_id": map[string]any{"type": "string"}},
				"required":   []string{"order_id"},
			},
		}),
	}
	params := openai.ChatCompletionNewParams{
		Model:    "exact",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Where is my order 100123?")},
		Tools:    tools,
	}
	resp, err := client.Chat.Completions.New(ctx, params)
	require.NoError(t, err)
	require.Len(t, resp.Choices[0].Message.ToolCalls, 1)
	call := resp.Choices[0].Message.ToolCalls[0]
	assert.Equal(t, "get_order_status", call.Function.Name)
	assert.JSONEq(t, `{"order_id":"100123"}`, call.Function.Arguments)
	assert.Equal(t, "tool_calls", resp.Choices[0].FinishReason)

	params.Messages = append(params.Messages, resp.Choices[0].Message.ToParam(),
		openai.ToolMessage(`{"order_id":"100123","status":"out_for_delivery","estimated_delivery":"2025-05-02"}`, call.ID))
	resp, err = client.Chat.Completions.New(ctx, params)
	require.NoError(t, err)
	answer := resp.Choices[0].Message.Content
	assert.Contains(t, answer, "out_for_delivery")
	assert.Contains(t, answer, "2025-05-02")
	assert.Positive(t, resp.Usage.PromptTokens)
}

func TestOpenAIClientStreaming(t *testing.T) {
	s := newSim(t, Config{})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	client := openaiClient(srv)
	params := openai.ChatCompletionNewParams{
		Model:         "small",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello there!")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	stream := client.Chat.Completions.NewStreaming(ctxTimeout(t, 10*time.Second), params)
	var acc openai.ChatCompletionAccumulator
	n := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		n++
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())
	assert.Greater(t, n, 5)
	require.Len(t, acc.Choices, 1)
	assert.NotEmpty(t, acc.Choices[0].Message.Content)
	assert.Equal(t, "stop", acc.Choices[0].FinishReason)
	assert.Positive(t, acc.Usage.CompletionTokens)

	// The same request without streaming says the same.
	resp, err := client.Chat.Completions.New(ctxTimeout(t, 10*time.Second), params)
	require.NoError(t, err)
	assert.Equal(t, resp.Choices[0].Message.Content, acc.Choices[0].Message.Content)
	assert.Equal(t, resp.Usage.TotalTokens, acc.Usage.TotalTokens)
}

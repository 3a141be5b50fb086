package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/engine"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// fakeAgents plays the engine: it records requests and answers from
// scripts. Sessions and runs are keyed by tenant, as the engine's are.
type fakeAgents struct {
	mu       sync.Mutex
	reqs     []engine.RunRequest
	feedback []engine.Feedback
	run      func(ctx context.Context, req engine.RunRequest, events func(engine.Event)) (*engine.Result, error)
	sessions map[string]*store.Session // tenant/id
	runs     map[string]*store.Run     // tenant/id
}

func (f *fakeAgents) Agents() []string { return []string{"support"} }

func (f *fakeAgents) Run(ctx context.Context, req engine.RunRequest, events func(engine.Event)) (*engine.Result, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	if f.run != nil {
		return f.run(ctx, req, events)
	}
	res := &engine.Result{RunID: "run_1", SessionID: "sess_1", Agent: req.Agent, Output: "Order " + req.Input, Status: engine.StatusCompleted}
	if events != nil {
		events(engine.Event{Type: engine.EventRunStarted, Data: &engine.RunStarted{RunID: res.RunID, SessionID: res.SessionID, Agent: res.Agent}})
		events(engine.Event{Type: engine.EventMessageDelta, Data: &engine.MessageDelta{Agent: res.Agent, Content: "Order "}})
		events(engine.Event{Type: engine.EventRunCompleted, Data: res})
	}
	return res, nil
}

func (f *fakeAgents) Submit(_ context.Context, req engine.RunRequest) (*store.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	r := &store.Run{Tenant: req.Tenant, ID: "run_async", Agent: req.Agent, Status: store.RunQueued, CreatedAt: time.Unix(100, 0), UpdatedAt: time.Unix(100, 0)}
	if f.runs == nil {
		f.runs = map[string]*store.Run{}
	}
	f.runs[req.Tenant+"/"+r.ID] = r
	return r, nil
}

func (f *fakeAgents) GetRun(_ context.Context, tenant, id string) (*store.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.runs[tenant+"/"+id]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("get run: %w", store.ErrNotFound)
}

func (f *fakeAgents) Session(_ context.Context, tenant, id string) (*store.Session, error) {
	if s, ok := f.sessions[tenant+"/"+id]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("load session: %w", store.ErrNotFound)
}

func (f *fakeAgents) DeleteSession(_ context.Context, tenant, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.sessions[tenant+"/"+id]; !ok {
		return fmt.Errorf("delete session: %w", store.ErrNotFound)
	}
	delete(f.sessions, tenant+"/"+id)
	return nil
}

func (f *fakeAgents) Feedback(_ context.Context, tenant, sid string, fb engine.Feedback) error {
	if _, ok := f.sessions[tenant+"/"+sid]; !ok {
		return fmt.Errorf("load session: %w", store.ErrNotFound)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.feedback = append(f.feedback, fb)
	return nil
}

func runServer(t *testing.T, a *fakeAgents) http.Handler {
	t.Helper()
	cfg := testConfig()
	cfg.Agents = a
	return newServer(t, cfg, &fakeBackend{}).Handler()
}

func TestAgentRunSync(t *testing.T) {
	a := &fakeAgents{}
	h := runServer(t, a)
	w := call(h, "POST", "/v1/agents/support/runs", keyStandard,
		`{"session_id":"s1","user_id":"u1","input":"100123"}`, "Idempotency-Key: key-1")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var res engine.Result
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &res))
	assert.Equal(t, "Order 100123", res.Output)
	require.Len(t, a.reqs, 1)
	assert.Equal(t, engine.RunRequest{Tenant: "acme", Tier: StandardTier, Agent: "support", SessionID: "s1", UserID: "u1", Input: "100123", RunID: "key-1"}, a.reqs[0],
		"tenant from the key, run id from Idempotency-Key")
}

func TestAgentRunStream(t *testing.T) {
	h := runServer(t, &fakeAgents{})
	w := call(h, "POST", "/v1/agents/support/runs", keyStandard, `{"input":"100123","stream":true}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "text/event-stream", w.Header().Get("Content-Type"))
	body := w.Body.String()
	var types []string
	for _, block := range strings.Split(strings.TrimSpace(body), "\n\n") {
		lines := strings.Split(block, "\n")
		require.Len(t, lines, 2, block)
		types = append(types, strings.TrimPrefix(lines[0], "event: "))
		assert.True(t, json.Valid([]byte(strings.TrimPrefix(lines[1], "data: "))), lines[1])
	}
	assert.Equal(t, []string{"run.started", "message.delta", "run.completed"}, types)
}

func TestAgentRunStreamErrors(t *testing.T) {
	busy := func(_ context.Context, _ engine.RunRequest, events func(engine.Event)) (*engine.Result, error) {
		err := fmt.Errorf("acquire: %w", engine.ErrSessionBusy)
		events(engine.Event{Type: engine.EventError, Data: engine.Describe(err)})
		return nil, err
	}
	lost := func(_ context.Context, _ engine.RunRequest, events func(engine.Event)) (*engine.Result, error) {
		events(engine.Event{Type: engine.EventRunStarted, Data: &engine.RunStarted{RunID: "r"}})
		err := fmt.Errorf("append: %w", store.ErrLeaseLost)
		events(engine.Event{Type: engine.EventError, Data: engine.Describe(err)})
		return nil, err
	}
	t.Run("refused before it began is an error response", func(t *testing.T) {
		w := call(runServer(t, &fakeAgents{run: busy}), "POST", "/v1/agents/support/runs", keyStandard, `{"input":"x","stream":true}`)
		assert.Equal(t, http.StatusConflict, w.Code)
		assert.Contains(t, w.Body.String(), `"code":"session_busy"`)
	})
	t.Run("failing after it began ends with an error event", func(t *testing.T) {
		w := call(runServer(t, &fakeAgents{run: lost}), "POST", "/v1/agents/support/runs", keyStandard, `{"input":"x","stream":true}`)
		assert.Equal(t, http.StatusOK, w.Code)
		assert.Contains(t, w.Body.String(), "event: run.started\n")
		assert.Contains(t, w.Body.String(), "event: error\ndata: {\"message\"")
	})
}

func TestAgentRunAsyncAndGetRun(t *testing.T) {
	a := &fakeAgents{}
	h := runServer(t, a)
	w := call(h, "POST", "/v1/agents/support/runs", keyStandard, `{"input":"x","async":true,"webhook":"https://example.com/hook"}`)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	assert.Equal(t, "/v1/runs/run_async", w.Header().Get("Location"))
	assert.JSONEq(t, `{"id":"run_async","object":"agent.run","agent":"support","status":"queued","attempts":0,"created_at":100,"updated_at":100}`, w.Body.String())
	assert.Equal(t, "https://example.com/hook", a.reqs[0].Webhook)

	w = call(h, "GET", "/v1/runs/run_async", keyStandard, "")
	assert.Equal(t, http.StatusOK, w.Code)
	w = call(h, "GET", "/v1/runs/run_async", keyPro, "")
	assert.Equal(t, http.StatusNotFound, w.Code, "another tenant's run is not found")
}

func TestSessionRoutes(t *testing.T) {
	sess := &store.Session{Tenant: "acme", ID: "s1", Agent: "support", Version: 2, TurnCount: 1,
		Turns: []store.Turn{{ID: "run_1", Seq: 1, Agent: "support", Messages: []llm.Message{{Role: llm.RoleUser, Content: llm.Text("hi")}}}}}
	a := &fakeAgents{sessions: map[string]*store.Session{"acme/s1": sess}}
	h := runServer(t, a)

	w := call(h, "GET", "/v1/sessions/s1", keyStandard, "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var v map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v))
	assert.Equal(t, "agent.session", v["object"])
	assert.Len(t, v["turns"], 1)

	assert.Equal(t, http.StatusNotFound, call(h, "GET", "/v1/sessions/s1", keyPro, "").Code, "tenant isolation")
	assert.Equal(t, http.StatusNotFound, call(h, "DELETE", "/v1/sessions/s1", keyPro, "").Code, "tenant isolation")
	assert.Equal(t, http.StatusNotFound, call(h, "POST", "/v1/sessions/s1/feedback", keyPro, `{"rating":"up"}`).Code)

	w = call(h, "POST", "/v1/sessions/s1/feedback", keyStandard, `{"rating":"down","score":2,"comment":"slow"}`)
	assert.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	assert.Equal(t, []engine.Feedback{{Rating: "down", Score: 2, Comment: "slow"}}, a.feedback)

	w = call(h, "DELETE", "/v1/sessions/s1", keyStandard, "")
	assert.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `{"id":"s1","object":"agent.session.deleted","deleted":true}`, w.Body.String())
	assert.Equal(t, http.StatusNotFound, call(h, "GET", "/v1/sessions/s1", keyStandard, "").Code)
}

func TestRunAPIBadRequests(t *testing.T) {
	h := runServer(t, &fakeAgents{})
	tests := []struct {
		name, method, path, key, body string
		want                          int
		wantIn                        string
	}{
		{"no key", "POST", "/v1/agents/support/runs", "", `{"input":"x"}`, 401, "API key"},
		{"unknown field", "POST", "/v1/agents/support/runs", keyStandard, `{"inptu":"x"}`, 400, `unknown field \"inptu\"`},
		{"wrong type", "POST", "/v1/agents/support/runs", keyStandard, `{"input":5}`, 400, "invalid_body"},
		{"not json", "POST", "/v1/agents/support/runs", keyStandard, `{`, 400, "invalid_body"},
		{"trailing data", "POST", "/v1/agents/support/runs", keyStandard, `{"input":"x"} {}`, 400, "data after"},
		{"not utf-8", "POST", "/v1/agents/support/runs", keyStandard, "{\"input\":\"\xff\"}", 400, "UTF-8"},
		{"async stream", "POST", "/v1/agents/support/runs", keyStandard, `{"input":"x","async":true,"stream":true}`, 400, "cannot be streamed"},
		{"get on runs", "GET", "/v1/agents/support/runs", keyStandard, "", 405, "method_not_allowed"},
		{"post on a run", "POST", "/v1/runs/r1", keyStandard, "", 405, "method_not_allowed"},
		{"put on a session", "PUT", "/v1/sessions/s1", keyStandard, "", 405, "method_not_allowed"},
		{"nested path", "GET", "/v1/sessions/s1/turns", keyStandard, "", 404, "unknown_url"},
		{"no agent", "POST", "/v1/agents//runs", keyStandard, `{"input":"x"}`, 404, "unknown_url"},
		{"bad feedback", "POST", "/v1/sessions/s1/feedback", keyStandard, `{"rating":1}`, 400, "invalid_body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(h, tt.method, tt.path, tt.key, tt.body)
			assert.Equal(t, tt.want, w.Code, w.Body.String())
			assert.Contains(t, w.Body.String(), tt.wantIn)
			var e llm.ErrorBody
			assert.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), "OpenAI's error shape")
		})
	}
}

func TestRunAPIWithoutAgents(t *testing.T) {
	h := newServer(t, testConfig(), &fakeBackend{}).Handler()
	w := call(h, "POST", "/v1/agents/support/runs", keyStandard, `{"input":"x"}`)
	assert.Equal(t, http.StatusNotFound, w.Code)
	assert.Contains(t, w.Body.String(), "No agents are configured")
}

func TestAgentAsModel(t *testing.T) {
	a := &fakeAgents{}
	h := runServer(t, a)
	body := `{"model":"agent:support","user":"u-9","messages":[{"role":"system","content":"ignored: the agent has its own"},{"role":"user","content":"100123"}]}`

	w := call(h, "POST", "/v1/chat/completions", keyStandard, body, "X-Session-Id: s-7")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var resp llm.Response
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &resp))
	assert.Equal(t, "agent:support", resp.Model)
	assert.Equal(t, "Order 100123", resp.Choices[0].Message.Content.String())
	assert.Equal(t, "sess_1", w.Header().Get("X-Session-Id"))
	assert.Equal(t, "completed", w.Header().Get("X-Floodgate-Run-Status"))
	assert.Equal(t, engine.RunRequest{Tenant: "acme", Tier: StandardTier, Agent: "support", SessionID: "s-7", UserID: "u-9", Input: "100123"}, a.reqs[0])

	// Without the header the user field names the session.
	call(h, "POST", "/v1/chat/completions", keyStandard, body)
	assert.Equal(t, "u-9", a.reqs[1].SessionID)

	// A tier limited to some models may still talk to agents.
	w = call(h, "POST", "/v1/chat/completions", keyLimited, body)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())

	w = call(h, "POST", "/v1/chat/completions", keyStandard, strings.Replace(body, "agent:support", "agent:nobody", 1))
	assert.Equal(t, http.StatusNotFound, w.Code)
	assert.Contains(t, w.Body.String(), "model_not_found")

	w = call(h, "POST", "/v1/chat/completions", keyStandard, `{"model":"agent:support","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}`)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), "must end with a user message")
}

func TestAgentAsModelStream(t *testing.T) {
	h := runServer(t, &fakeAgents{})
	w := call(h, "POST", "/v1/chat/completions", keyStandard,
		`{"model":"agent:support","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"100123"}]}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var acc llm.Accumulator
	lines := strings.Split(strings.TrimSpace(w.Body.String()), "\n\n")
	require.Equal(t, "data: [DONE]", lines[len(lines)-1])
	for _, l := range lines[:len(lines)-1] {
		var c llm.Chunk
		require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(l, "data: ")), &c), l)
		acc.Add(&c)
	}
	got := acc.Response()
	assert.Equal(t, "Order ", got.Choices[0].Message.Content.String())
	assert.Equal(t, llm.FinishStop, got.Choices[0].FinishReason)
	assert.NotNil(t, got.Usage)
}

func TestAgentAsModelFailedRun(t *testing.T) {
	failed := func(_ context.Context, req engine.RunRequest, _ func(engine.Event)) (*engine.Result, error) {
		return &engine.Result{RunID: "r", SessionID: "s", Agent: req.Agent, Status: engine.StatusFailed,
			Error: &engine.ErrorInfo{Message: "no endpoint could serve the request", Type: llm.TypeUnavailable, Status: http.StatusServiceUnavailable}}, nil
	}
	w := call(runServer(t, &fakeAgents{run: failed}), "POST", "/v1/chat/completions", keyStandard,
		`{"model":"agent:support","messages":[{"role":"user","content":"hi"}]}`)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "an OpenAI client sees a failed run as an error")
	assert.Contains(t, w.Body.String(), "no endpoint could serve")
	assert.Equal(t, "failed", w.Header().Get("X-Floodgate-Run-Status"))
}

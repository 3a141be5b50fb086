package sim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a clock whose waits return at once, moving its time on by
// the wait; Slept totals them.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept += d
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

func newSim(t testing.TB, cfg Config) *Sim {
	t.Helper()
	if cfg.TimeScale == 0 {
		cfg.TimeScale = NoDelay
	}
	s, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// do sends body to path through the handler and returns the recorder.
func do(t testing.TB, s *Sim, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

// chat sends a chat request and decodes the (non-streamed) response.
func chat(t testing.TB, s *Sim, req *llm.Request) *llm.Response {
	t.Helper()
	b, err := json.Marshal(req)
	require.NoError(t, err)
	rec := do(t, s, http.MethodPost, "/v1/chat/completions", string(b))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var resp llm.Response
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp), rec.Body.String())
	require.Len(t, resp.Choices, 1)
	return &resp
}

// shopTools is shopToolsJSON decoded.
func shopTools(t testing.TB) []llm.Tool {
	t.Helper()
	var tools []llm.Tool
	require.NoError(t, json.Unmarshal([]byte(shopToolsJSON), &tools))
	return tools
}

func user(text string) llm.Message { return llm.Message{Role: llm.RoleUser, Content: llm.Text(text)} }
func system(text string) llm.Message {
	return llm.Message{Role: llm.RoleSystem, Content: llm.Text(text)}
}
func assistant(text string) llm.Message {
	return llm.Message{Role: llm.RoleAssistant, Content: llm.Text(text)}
}
func toolMsg(id, content string) llm.Message {
	return llm.Message{Role: llm.RoleTool, ToolCallID: id, Content: llm.Text(content)}
}
func calls(c ...llm.ToolCall) llm.Message { return llm.Message{Role: llm.RoleAssistant, ToolCalls: c} }

// callsOf returns the calls of a response as "name args" strings.
func callsOf(resp *llm.Response) []string {
	var out []string
	for _, c := range resp.Choices[0].Message.ToolCalls {
		out = append(out, c.Function.Name+" "+c.Function.Arguments)
	}
	return out
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

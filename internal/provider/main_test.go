package provider

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// seen is what the upstream received in one call.
type seen struct {
	Method, Path, Query string
	Header              http.Header
	Body                map[string]any
}

// upstream is an httptest server playing a model endpoint. It records the
// last call and counts the TCP connections it accepted.
type upstream struct {
	*httptest.Server
	conns atomic.Int32
	mu    sync.Mutex
	last  seen
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		u.mu.Lock()
		u.last = seen{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
		u.mu.Unlock()
		h(w, r)
	}))
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) lastCall() seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

const completionJSON = `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"Your order ships today."},"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}`

func chunkJSON(content string) string {
	return `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini",` +
		`"choices":[{"index":0,"delta":{"content":` + quote(content) + `},"finish_reason":null}]}`
}

const usageChunkJSON = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini",` +
	`"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}`

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// sseBody is a stream of the given contents, a usage chunk and [DONE].
func sseBody(contents ...string) string {
	var b strings.Builder
	for _, c := range contents {
		b.WriteString("data: " + chunkJSON(c) + "\n\n")
	}
	b.WriteString("data: " + usageChunkJSON + "\n\ndata: [DONE]\n\n")
	return b.String()
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func writeSSE(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, body)
}

// startSSE sends the headers of a stream and flushes them.
func startSSE(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

func sendEvent(w http.ResponseWriter, s string) {
	_, _ = io.WriteString(w, s)
	w.(http.Flusher).Flush()
}

func testRequest() *llm.Request {
	return &llm.Request{
		Model: "gpt-4o-mini",
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: llm.Text("You are a helpful support agent.")},
			{Role: llm.RoleUser, Content: llm.Text("Where is my order 1234?")},
		},
	}
}

// asError returns err as *llm.Error, failing the test otherwise.
func asError(t *testing.T, err error) *llm.Error {
	t.Helper()
	require.Error(t, err)
	var e *llm.Error
	require.ErrorAs(t, err, &e)
	return e
}

var testCtx = context.Background()

// callKinds runs a call through Complete or Stream (consuming the stream),
// so that one table checks both.
var callKinds = []struct {
	name string
	call func(context.Context, *Client, *llm.Request) error
}{
	{"complete", func(ctx context.Context, c *Client, r *llm.Request) error {
		_, err := c.Complete(ctx, r)
		return err
	}},
	{"stream", func(ctx context.Context, c *Client, r *llm.Request) error {
		s, err := c.Stream(ctx, r)
		if err != nil {
			return err
		}
		_, err = llm.Accumulate(s)
		return err
	}},
}

// firstChunk opens a stream and receives its first chunk, as the router
// does; opened says whether Stream itself succeeded.
func firstChunk(ctx context.Context, c *Client) (opened bool, err error) {
	s, err := c.Stream(ctx, testRequest())
	if err != nil {
		return false, err
	}
	defer s.Close()
	_, err = s.Recv()
	return true, err
}

// kindOf returns err's kind, KindUnknown for nil.
func kindOf(err error) llm.Kind {
	if e := llm.AsError(err); e != nil {
		return e.Kind
	}
	return llm.KindUnknown
}

// errText returns err's text, "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

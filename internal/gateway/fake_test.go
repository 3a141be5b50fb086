package gateway

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// API keys of the test tenants.
const (
	keyStandard = "sk-standard-0123456789"
	keyPro      = "sk-pro-0123456789"
	keyLimited  = "sk-limited-0123456789"
)

func testConfig() Config {
	return Config{
		Tenants: []Tenant{
			{ID: "acme", KeyHashes: []string{HashKey(keyStandard)}},
			{ID: "bigco", Tier: "pro", KeyHashes: []string{"sha256:" + HashKey(keyPro)}},
			{ID: "tiny", Tier: "limited", KeyHashes: []string{strings.ToUpper(HashKey(keyLimited))}},
		},
		Tiers: map[string]Tier{
			"pro":     {MaxOutputTokens: 8192, MaxN: 4, AllowLogprobs: true},
			"limited": {MaxOutputTokens: 256, Models: []string{"small"}},
		},
		Models: []Model{{Name: "large", Aliases: []string{"gpt-4o"}}, {Name: "small", Aliases: []string{"gpt-4o-mini"}}},
		Logger: slog.New(slog.DiscardHandler),
	}
}

// fakeBackend plays the router: scripted answers, and a record of what it
// was asked.
type fakeBackend struct {
	complete func(ctx context.Context, req *llm.Request) (*llm.Response, error)
	stream   func(ctx context.Context, req *llm.Request) (llm.Stream, error)
	models   []string

	mu   sync.Mutex
	reqs []*llm.Request
	ctxs []context.Context
}

func (b *fakeBackend) record(ctx context.Context, req *llm.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reqs = append(b.reqs, req)
	b.ctxs = append(b.ctxs, ctx)
}

func (b *fakeBackend) last() (context.Context, *llm.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.reqs) == 0 {
		return nil, nil
	}
	return b.ctxs[len(b.ctxs)-1], b.reqs[len(b.reqs)-1]
}

func (b *fakeBackend) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	b.record(ctx, req)
	if b.complete != nil {
		return b.complete(ctx, req)
	}
	return textResponse(req.Model, "Hello!"), nil
}

func (b *fakeBackend) Stream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	b.record(ctx, req)
	if b.stream != nil {
		return b.stream(ctx, req)
	}
	return &scriptStream{chunks: textChunks("large", "Hel", "lo")}, nil
}

func (b *fakeBackend) Models() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.models...)
}

// readyBackend adds the optional Ready capability.
type readyBackend struct {
	*fakeBackend
	ready bool
}

func (b *readyBackend) Ready() bool { return b.ready }

func textResponse(model, text string) *llm.Response {
	return &llm.Response{
		ID: "chatcmpl-1", Object: llm.ObjectChatCompletion, Created: 1700000000, Model: model,
		Choices: []llm.Choice{{Index: 0, Message: llm.Message{Role: llm.RoleAssistant, Content: llm.Text(text)}, FinishReason: llm.FinishStop}},
		Usage:   &llm.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7},
	}
}

// textChunks streams the pieces as one assistant message, then a finish
// chunk and a usage-only chunk.
func textChunks(model string, pieces ...string) []*llm.Chunk {
	mk := func(cc []llm.ChunkChoice, u *llm.Usage) *llm.Chunk {
		return &llm.Chunk{ID: "chatcmpl-1", Object: llm.ObjectChatCompletionChunk, Created: 1700000000, Model: model, Choices: cc, Usage: u}
	}
	var out []*llm.Chunk
	for i, p := range pieces {
		d := llm.Delta{Content: p}
		if i == 0 {
			d.Role = llm.RoleAssistant
		}
		out = append(out, mk([]llm.ChunkChoice{{Delta: d}}, nil))
	}
	out = append(out,
		mk([]llm.ChunkChoice{{Delta: llm.Delta{}, FinishReason: llm.FinishStop}}, nil),
		mk([]llm.ChunkChoice{}, &llm.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}))
	return out
}

// scriptStream replays chunks, then ends with err (io.EOF when nil). With
// hold set, it waits on hold before the chunk at index holdAt; with ctx set,
// that wait (and a stream with block set, once its chunks are out) ends with
// the context's error, as a real stream does when its request is cancelled.
type scriptStream struct {
	ctx     context.Context
	chunks  []*llm.Chunk
	err     error
	block   bool
	hold    <-chan struct{}
	holdAt  int
	panicAt int // 1-based: panic instead of returning chunk panicAt

	n      int
	closed chan struct{} // closed by Close when non-nil
	once   sync.Once
}

func (s *scriptStream) Recv() (*llm.Chunk, error) {
	s.n++
	if s.panicAt == s.n {
		panic("stream exploded")
	}
	if s.hold != nil && s.n-1 == s.holdAt {
		select {
		case <-s.hold:
		case <-s.done():
			return nil, llm.AsError(s.ctx.Err())
		}
	}
	if len(s.chunks) > 0 {
		c := s.chunks[0]
		s.chunks = s.chunks[1:]
		return c, nil
	}
	if s.block {
		<-s.done()
		return nil, llm.AsError(s.ctx.Err())
	}
	if s.err != nil {
		return nil, s.err
	}
	return nil, io.EOF
}

func (s *scriptStream) done() <-chan struct{} {
	if s.ctx == nil {
		return nil
	}
	return s.ctx.Done()
}

func (s *scriptStream) Close() error {
	if s.closed != nil {
		s.once.Do(func() { close(s.closed) })
	}
	return nil
}

// observed is one Observer call.
type observed struct {
	route, model, tier string
	status             int
	d, overhead        time.Duration
}

type recordingObserver struct {
	mu    sync.Mutex
	calls []observed
}

func (o *recordingObserver) Request(route, model, tier string, status int, d, overhead time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, observed{route, model, tier, status, d, overhead})
}

func (o *recordingObserver) all() []observed {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]observed(nil), o.calls...)
}

// syncBuffer is a log sink safe for the handler's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newServer(t testing.TB, cfg Config, b Backend) *Server {
	t.Helper()
	s, err := New(cfg, b)
	require.NoError(t, err)
	return s
}

// call serves one request through h; headers are "Name: value" strings.
func call(h http.Handler, method, path, key, body string, headers ...string) *httptest.ResponseRecorder {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
	}
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// errorBody decodes an OpenAI error body, failing the test if w's body is
// not one.
func errorBody(t *testing.T, w *httptest.ResponseRecorder) llm.ErrorDetail {
	t.Helper()
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var eb struct {
		Error *llm.ErrorDetail `json:"error"`
	}
	require.NoError(t, jsonUnmarshalStrict(w.Body.Bytes(), &eb), "body: %s", w.Body.String())
	require.NotNil(t, eb.Error, "body: %s", w.Body.String())
	require.NotEmpty(t, eb.Error.Message)
	require.NotEmpty(t, eb.Error.Type)
	return *eb.Error
}

// chatBody is a minimal valid request for the test catalog's "large" model,
// with extra top-level members.
func chatBody(extra string) string {
	return strings.Replace(user(extra), `"model":"m"`, `"model":"large"`, 1)
}

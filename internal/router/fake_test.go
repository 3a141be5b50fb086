package router

import (
	"context"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is an injectable clock that moves only when told.
type fakeClock struct{ ns atomic.Int64 }

func newClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// fakeClient is a scripted Client. Its complete and stream functions get
// the 1-based call number; nil ones succeed at once.
type fakeClient struct {
	name     string
	complete func(ctx context.Context, n int64, req *llm.Request) (*llm.Response, error)
	stream   func(ctx context.Context, n int64, req *llm.Request) (llm.Stream, error)

	calls     atomic.Int64
	lastModel atomic.Pointer[string]
}

func (f *fakeClient) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	n := f.calls.Add(1)
	f.lastModel.Store(&req.Model)
	if f.complete != nil {
		return f.complete(ctx, n, req)
	}
	return okResponse(f.name), nil
}

func (f *fakeClient) Stream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	n := f.calls.Add(1)
	f.lastModel.Store(&req.Model)
	if f.stream != nil {
		return f.stream(ctx, n, req)
	}
	return newFakeStream(f.name, 3, nil), nil
}

func (f *fakeClient) model() string {
	if p := f.lastModel.Load(); p != nil {
		return *p
	}
	return ""
}

// headroomClient is a fakeClient that also reports remaining requests.
type headroomClient struct {
	fakeClient
	remaining atomic.Int64
}

func (h *headroomClient) RemainingRequests() (int64, bool) { return h.remaining.Load(), true }

func okResponse(model string) *llm.Response {
	return &llm.Response{
		ID:      "chatcmpl-1",
		Object:  llm.ObjectChatCompletion,
		Model:   model,
		Choices: []llm.Choice{{Message: llm.Message{Role: llm.RoleAssistant, Content: llm.Text("ok")}, FinishReason: llm.FinishStop}},
		Usage:   &llm.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15},
	}
}

// failWith returns a complete function failing every call with kind.
func failWith(kind llm.Kind, retryable bool) func(context.Context, int64, *llm.Request) (*llm.Response, error) {
	return func(context.Context, int64, *llm.Request) (*llm.Response, error) {
		return nil, &llm.Error{Kind: kind, Retryable: retryable, Message: kind.String()}
	}
}

// fakeStream yields n content chunks and a usage chunk, then err (io.EOF
// when nil). It counts Close calls.
type fakeStream struct {
	model  string
	n      int
	sent   int
	err    error
	closes atomic.Int64
}

func newFakeStream(model string, n int, err error) *fakeStream {
	return &fakeStream{model: model, n: n, err: err}
}

func (s *fakeStream) Recv() (*llm.Chunk, error) {
	if s.sent < s.n {
		s.sent++
		return &llm.Chunk{Model: s.model, Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: "x"}}}}, nil
	}
	if s.err != nil {
		return nil, s.err
	}
	if s.sent == s.n {
		s.sent++
		return &llm.Chunk{Model: s.model, Choices: []llm.ChunkChoice{}, Usage: &llm.Usage{PromptTokens: 7, CompletionTokens: 3, TotalTokens: 10}}, nil
	}
	return nil, io.EOF
}

func (s *fakeStream) Close() error {
	s.closes.Add(1)
	return nil
}

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu        sync.Mutex
	attempts  []recAttempt
	failovers []recFailover
	ejected   []time.Duration
	restored  int
}

type recAttempt struct {
	endpoint string
	d, ttft  time.Duration
	usage    *llm.Usage
	err      error
}

type recFailover struct {
	model, from string
	kind        llm.Kind
}

func (o *recorder) Attempt(endpoint, _ string, d, ttft time.Duration, usage *llm.Usage, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.attempts = append(o.attempts, recAttempt{endpoint, d, ttft, usage, err})
}

func (o *recorder) Failover(model, from string, kind llm.Kind) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failovers = append(o.failovers, recFailover{model, from, kind})
}

func (o *recorder) Ejected(_, _ string, cd time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ejected = append(o.ejected, cd)
}

func (o *recorder) Restored(_, _ string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.restored++
}

func (o *recorder) ejections() []time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]time.Duration(nil), o.ejected...)
}

// endpoints builds one endpoint per client, all serving model "m".
func endpoints(clients ...Client) []Endpoint {
	eps := make([]Endpoint, len(clients))
	for i, c := range clients {
		name := string(rune('a' + i))
		if f, ok := c.(*fakeClient); ok && f.name != "" {
			name = f.name
		}
		if h, ok := c.(*headroomClient); ok && h.name != "" {
			name = h.name
		}
		eps[i] = Endpoint{Name: name, Client: c, Models: []Route{{Model: "m"}}}
	}
	return eps
}

// newTestRouter returns a router over cfg with a fixed seed, the clock and
// a recorder unless cfg sets its own.
func newTestRouter(t *testing.T, cfg Config, clock *fakeClock) (*Router, *recorder) {
	t.Helper()
	rec := &recorder{}
	if cfg.Observer == nil {
		cfg.Observer = rec
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	if cfg.Now == nil && clock != nil {
		cfg.Now = clock.Now
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, rec
}

func req(model string) *llm.Request {
	return &llm.Request{Model: model, Messages: []llm.Message{{Role: llm.RoleUser, Content: llm.Text("hi")}}}
}

func status(r *Router, endpoint string) RouteStatus {
	for _, st := range r.Snapshot() {
		if st.Endpoint == endpoint {
			return st
		}
	}
	return RouteStatus{}
}

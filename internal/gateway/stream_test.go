package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

const (
	wantEventHel    = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"large","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}` + "\n\n"
	wantEventLo     = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"large","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}` + "\n\n"
	wantEventFinish = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"large","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
	wantEventUsage  = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"large","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}` + "\n\n"
	wantDone        = "data: [DONE]\n\n"
)

func TestStreamFormat(t *testing.T) {
	usageOnFinish := func() []*llm.Chunk {
		cs := textChunks("large", "Hel", "lo")
		cs[2].Usage = &llm.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}
		return cs[:3]
	}
	tests := []struct {
		name   string
		give   string
		chunks []*llm.Chunk
		want   string
	}{
		{"usage dropped when not asked", `"stream":true`, textChunks("large", "Hel", "lo"),
			wantEventHel + wantEventLo + wantEventFinish + wantDone},
		{"usage kept when asked", `"stream":true,"stream_options":{"include_usage":true}`, textChunks("large", "Hel", "lo"),
			wantEventHel + wantEventLo + wantEventFinish + wantEventUsage + wantDone},
		{"usage dropped when declined", `"stream":true,"stream_options":{"include_usage":false}`, textChunks("large", "Hel", "lo"),
			wantEventHel + wantEventLo + wantEventFinish + wantDone},
		{"usage cleared from a content chunk", `"stream":true`, usageOnFinish(),
			wantEventHel + wantEventLo + wantEventFinish + wantDone},
		{"empty stream", `"stream":true`, nil, wantDone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &scriptStream{chunks: tt.chunks, closed: make(chan struct{})}
			b := &fakeBackend{stream: func(context.Context, *llm.Request) (llm.Stream, error) { return st, nil }}
			s := newServer(t, testConfig(), b)
			w := call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, chatBody(tt.give))
			require.Equal(t, 200, w.Code)
			assert.Equal(t, "text/event-stream", w.Header().Get("Content-Type"))
			assert.Equal(t, "no-cache", w.Header().Get("Cache-Control"))
			assert.Equal(t, "no", w.Header().Get("X-Accel-Buffering"))
			assert.Empty(t, w.Header().Get("Content-Length"))
			assert.Equal(t, tt.want, w.Body.String())
			assert.True(t, w.Flushed)
			assert.True(t, isClosed(st.closed), "the backend stream is closed")
		})
	}
	// The backend's chunks are not modified when usage is cleared: the
	// router may still be reading them for its ledger.
	cs := usageOnFinish()
	b := &fakeBackend{stream: func(context.Context, *llm.Request) (llm.Stream, error) { return &scriptStream{chunks: cs}, nil }}
	call(newServer(t, testConfig(), b).Handler(), "POST", "/v1/chat/completions", keyStandard, chatBody(`"stream":true`))
	assert.NotNil(t, cs[2].Usage)
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestStreamFailsAfterStart(t *testing.T) {
	tests := []struct {
		name       string
		give       error
		wantEvent  string
		wantStatus int
	}{
		{"stream cut", &llm.Error{Kind: llm.KindStreamCut, Message: "upstream closed the stream"},
			`data: {"error":{"message":"upstream closed the stream","type":"server_error","param":null,"code":null}}` + "\n\n", 502},
		{"timeout", &llm.Error{Kind: llm.KindTimeout, Message: "no token for 30s"},
			`data: {"error":{"message":"no token for 30s","type":"timeout","param":null,"code":null}}` + "\n\n", 504},
		{"plain error", errors.New("hidden"),
			`data: {"error":{"message":"internal error","type":"server_error","param":null,"code":null}}` + "\n\n", 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &recordingObserver{}
			cfg := testConfig()
			cfg.Observer = obs
			st := &scriptStream{chunks: textChunks("large", "Hel")[:1], err: tt.give, closed: make(chan struct{})}
			b := &fakeBackend{stream: func(context.Context, *llm.Request) (llm.Stream, error) { return st, nil }}
			s := newServer(t, cfg, b)
			w := call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, chatBody(`"stream":true`))
			require.Equal(t, 200, w.Code, "the status was sent with the first chunk")
			assert.Equal(t, wantEventHel+tt.wantEvent, w.Body.String())
			assert.NotContains(t, w.Body.String(), "[DONE]")
			assert.True(t, isClosed(st.closed))
			require.Len(t, obs.all(), 1)
			assert.Equal(t, tt.wantStatus, obs.all()[0].status, "the observer sees the failure")
		})
	}
}

func TestStreamPanicAfterStart(t *testing.T) {
	st := &scriptStream{chunks: textChunks("large", "Hel", "lo"), panicAt: 2, closed: make(chan struct{})}
	b := &fakeBackend{stream: func(context.Context, *llm.Request) (llm.Stream, error) { return st, nil }}
	s := newServer(t, testConfig(), b)
	w := call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, chatBody(`"stream":true`))
	assert.Equal(t, wantEventHel+`data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`+"\n\n", w.Body.String())
	assert.True(t, isClosed(st.closed), "deferred Close still runs")
}

// TestStreamClientDisconnect checks that a client going away mid-stream
// cancels the request and closes the backend's stream at once.
func TestStreamClientDisconnect(t *testing.T) {
	obs := &recordingObserver{}
	cfg := testConfig()
	cfg.Observer = obs
	var st *scriptStream
	streamCtx := make(chan context.Context, 1)
	b := &fakeBackend{stream: func(ctx context.Context, _ *llm.Request) (llm.Stream, error) {
		st = &scriptStream{ctx: ctx, chunks: textChunks("large", "Hel")[:1], block: true, closed: make(chan struct{})}
		streamCtx <- ctx
		return st, nil
	}}
	s := newServer(t, cfg, b)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/chat/completions", strings.NewReader(chatBody(`"stream":true`)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+keyStandard)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	assert.Contains(t, first, `"content":"Hel"`)

	cancel() // the client hangs up
	bctx := <-streamCtx
	select {
	case <-bctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("backend context not cancelled after the client left")
	}
	select {
	case <-st.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("backend stream not closed after the client left")
	}
	srv.Close() // waits for the handler, so the observer has been called
	require.Len(t, obs.all(), 1)
	assert.Equal(t, 499, obs.all()[0].status)
}

// startRun serves s on a fresh listener and returns its address and Run's
// result.
func startRun(t *testing.T, ctx context.Context, s *Server) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	return ln.Addr().String(), done
}

func streamRequest(t *testing.T, client *http.Client, addr string) (*http.Response, *bufio.Reader) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions", strings.NewReader(chatBody(`"stream":true`)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+keyStandard)
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	return resp, bufio.NewReader(resp.Body)
}

func waitRefused(t *testing.T, addr string) {
	t.Helper()
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return true
		}
		c.Close()
		return false
	}, 5*time.Second, 5*time.Millisecond, "listener still accepting")
}

// TestRunDrainsStreams: on shutdown, new connections are refused while an
// in-flight stream runs to its end; Run then returns nil.
func TestRunDrainsStreams(t *testing.T) {
	release := make(chan struct{})
	b := &readyBackend{ready: true, fakeBackend: &fakeBackend{stream: func(ctx context.Context, _ *llm.Request) (llm.Stream, error) {
		return &scriptStream{ctx: ctx, chunks: textChunks("large", "Hel", "lo"), hold: release, holdAt: 1}, nil
	}}}
	s := newServer(t, testConfig(), b)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	addr, done := startRun(t, ctx, s)

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, rd := streamRequest(t, client, addr)
	defer resp.Body.Close()
	first, err := rd.ReadString('\n')
	require.NoError(t, err)
	assert.Contains(t, first, `"content":"Hel"`)

	stop()
	waitRefused(t, addr)
	assert.Equal(t, 503, call(s.Handler(), "GET", "/readyz", "", "").Code, "not ready while draining")
	select {
	case err := <-done:
		t.Fatalf("Run returned while a stream was in flight: %v", err)
	default:
	}

	close(release)
	rest, err := io.ReadAll(rd)
	require.NoError(t, err)
	assert.Equal(t, "\n"+wantEventLo+wantEventFinish+wantDone, string(rest), "the stream completes")
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
}

// TestRunCutsAfterDrainTimeout: a stream that outlives DrainTimeout is cut,
// its context cancelled, and Run reports it.
func TestRunCutsAfterDrainTimeout(t *testing.T) {
	closed := make(chan struct{})
	b := &fakeBackend{stream: func(ctx context.Context, _ *llm.Request) (llm.Stream, error) {
		return &scriptStream{ctx: ctx, chunks: textChunks("large", "Hel")[:1], block: true, closed: closed}, nil
	}}
	cfg := testConfig()
	cfg.DrainTimeout = 50 * time.Millisecond
	s := newServer(t, cfg, b)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	addr, done := startRun(t, ctx, s)

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, rd := streamRequest(t, client, addr)
	defer resp.Body.Close()
	_, err := rd.ReadString('\n')
	require.NoError(t, err)

	stop()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "cut 1 requests")
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the drain timeout")
	}
	assert.True(t, isClosed(closed), "the cut stream was closed before Run returned")
	rest, _ := io.ReadAll(rd)
	assert.NotContains(t, string(rest), "[DONE]")
	assert.Zero(t, s.inflight.Load())
}

func TestRunServesAndRefusesSecondRun(t *testing.T) {
	s := newServer(t, testConfig(), &fakeBackend{})
	ctx, stop := context.WithCancel(context.Background())
	addr, done := startRun(t, ctx, s)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)

	assert.Error(t, s.Run(context.Background(), nil), "Run may be called once")
	stop()
	assert.NoError(t, <-done)
}

func TestRunListenerFailure(t *testing.T) {
	s := newServer(t, testConfig(), &fakeBackend{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln.Close()
	err = s.Run(context.Background(), ln)
	assert.ErrorIs(t, err, net.ErrClosed)
}
